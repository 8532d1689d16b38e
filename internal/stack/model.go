// Package stack is the engine behind attach_inference_stack: a model of the
// desired stack (Spec) and of what exists (Status), and the orchestration
// that converges one onto the other as a graph of steps run concurrently
// where independent. Each part of the stack has its own file with its
// find/create/update/delete/wait helpers:
//
//	vpc.go                the VPC (created, or an existing one attached)
//	cluster.go            the DOKS cluster and its replacement
//	node_pools.go         the system pool and the GPU pools
//	database.go           managed database clusters (owned or attached)
//	database_firewall.go  trusted sources: the cluster's k8s rule and extras
//	database_objects.go   dbs, users, PgBouncer pools, eviction policy
//	replicas.go           read replicas
//	project.go            project assignment
//	kubeconfig.go         kubeconfig fetch and refresh
//	kubernetes_secrets.go connection Secrets written into the cluster
//
// The engine knows nothing of Terraform: the provider maps its schema onto
// Spec and Status.
package stack

import (
	"maps"
	"slices"
	"sort"
	"time"
)

// StackTagPrefix marks every part of a stack so the stack can be found
// again (import, the attach_inference_stack data source).
const StackTagPrefix = "attach-stack:"

// Spec is the desired stack, defaults applied and the Kubernetes version
// resolved to a slug.
type Spec struct {
	Name string
	// Owner is the identity of the state applying the stack (ownership.go):
	// "" takes the status's, or a new one when the status has none.
	Owner     string
	Region    string
	ProjectID string
	Tags      []string
	VPC       VPCSpec
	Cluster   ClusterSpec
	Databases map[string]DatabaseSpec
	// OmitSecrets keeps secrets out of the provider's state
	// (store_secrets = false): no kubeconfig is fetched, and the provider
	// saves the Status through WithoutSecrets.
	OmitSecrets bool
	// KubernetesSecrets are the connection Secrets kept in the stack's
	// cluster, by a key of the user's choice (kubernetes_secrets.go).
	KubernetesSecrets map[string]KubernetesSecretSpec
}

// VPCSpec either names an existing VPC (ID) or describes one to create.
type VPCSpec struct {
	ID      string
	IPRange string
}

// ClusterSpec is the DOKS cluster.
type ClusterSpec struct {
	// VersionPrefix is what the user asked for ("1.33", a full slug, or ""
	// for the newest); Version is the newest slug matching it.
	VersionPrefix    string
	Version          string
	HA               bool
	AutoUpgrade      bool
	SurgeUpgrade     bool
	MaintenanceDay   string
	MaintenanceStart string
	ClusterSubnet    string
	ServiceSubnet    string
	// KeepAssociatedResources keeps the load balancers and volumes the
	// cluster's workloads created when the cluster is deleted.
	KeepAssociatedResources bool
	SystemPool              NodePoolSpec
	GPUPools                map[string]NodePoolSpec

	// ControlPlaneFirewall limits who reaches the Kubernetes API; nil is
	// no firewall (DigitalOcean's default: the API is public, credentials
	// still required).
	ControlPlaneFirewall *ControlPlaneFirewall
	// Autoscaler tunes DOKS's cluster autoscaler; nil leaves DigitalOcean's
	// configuration as it is.
	Autoscaler *AutoscalerConfig
	// Plugins are the GPU device plugins, AMD's metrics exporter and the
	// routing agent; a nil one is left to DigitalOcean.
	Plugins ClusterPlugins
	// KubeconfigLifetime is how long the kubeconfig's token lasts
	// (DigitalOcean's expiry_seconds); 0 is KubeconfigLifetime.
	KubeconfigLifetime time.Duration
}

// AutoscalerConfig is DOKS's cluster_autoscaler_configuration: what decides
// how long an idle node keeps running. Zero fields are not managed (sent as
// null: DigitalOcean's default).
type AutoscalerConfig struct {
	// ScaleDownUtilizationThreshold: a node whose requested share of
	// capacity stays below it is a scale-down candidate (0-1).
	ScaleDownUtilizationThreshold *float64
	// ScaleDownUnneededTime: how long a candidate stays idle before it is
	// removed, a duration such as "5m".
	ScaleDownUnneededTime string
	// Expanders choose the pool to grow: random, priority, least_waste.
	Expanders []string
}

func (a *AutoscalerConfig) clone() *AutoscalerConfig {
	if a == nil {
		return nil
	}
	out := *a
	if a.ScaleDownUtilizationThreshold != nil {
		out.ScaleDownUtilizationThreshold = new(float64)
		*out.ScaleDownUtilizationThreshold = *a.ScaleDownUtilizationThreshold
	}
	out.Expanders = slices.Clone(a.Expanders)
	return &out
}

// ControlPlaneFirewall is DOKS's control plane firewall: when Enabled, only
// AllowedAddresses (IP addresses and CIDR blocks) reach the Kubernetes API;
// the cluster's own nodes always do.
type ControlPlaneFirewall struct {
	Enabled          bool
	AllowedAddresses []string
}

func (f *ControlPlaneFirewall) clone() *ControlPlaneFirewall {
	if f == nil {
		return nil
	}
	out := *f
	out.AllowedAddresses = slices.Clone(f.AllowedAddresses)
	return &out
}

// SystemPoolName is the DOKS name of the CPU pool that runs system workloads.
const SystemPoolName = "system"

// NodePoolSpec is a node pool: a fixed NodeCount, or autoscaled between
// MinNodes (which may be 0) and MaxNodes.
type NodePoolSpec struct {
	Size      string
	NodeCount int
	AutoScale bool
	MinNodes  int
	MaxNodes  int
	Labels    map[string]string
	Taints    []Taint
	// Tags are the pool's own tags, on top of the stack's (Spec.AllTags)
	// and its identity tag. In a status: the pool's tags other than those,
	// plus any of them the spec lists.
	Tags []string
}

// Taint is a Kubernetes taint on a node pool.
type Taint struct {
	Key    string
	Value  string
	Effect string
}

// DatabaseSpec is one managed database, owned by the stack or, with
// ExistingID, attached to it.
type DatabaseSpec struct {
	ExistingID      string
	Engine          string
	Version         string
	Size            string
	NodeCount       int
	StorageMiB      int
	MaintenanceDay  string
	MaintenanceHour string
	DBs             []string
	Users           []string
	// Rotations are the password versions asked for, by user name (the
	// admin under AdminUser): a version above the one recorded in
	// DatabaseStatus.Rotated resets that user's password (reset_auth).
	Rotations      map[string]int
	Pools          map[string]PoolSpec
	Replicas       map[string]ReplicaSpec
	EvictionPolicy string
	TrustedSources []Rule
	// DeletionProtection refuses to delete the database (removal from the
	// stack, replacement, destroy) once it has held data.
	DeletionProtection bool
	// RetainOnDestroy leaves the database running, detached from the
	// cluster, when the stack is destroyed or the database removed from it.
	RetainOnDestroy bool
	// StorageAutoscale is the storage autoscaling wanted (nil: left as it is).
	StorageAutoscale *StorageAutoscale
	// Config holds engine settings by name, each value as the configuration
	// writes it ("100", "true", JSON for arrays and objects); settings left
	// out keep DigitalOcean's values (database_config.go).
	Config map[string]string
	// UserSettings are the settings of users in Users, by name (see
	// database_user_settings.go); users without an entry are left as they are.
	UserSettings map[string]UserSettings
	// Topics are the Kafka topics wanted, by name (database_topics.go).
	Topics map[string]TopicSpec
	// RestoreFrom, when set, creates the database from another cluster's
	// backups (database_restore.go); it applies only at creation.
	RestoreFrom *RestoreFrom
}

// Owned reports whether the stack created (and may delete) the database.
func (d DatabaseSpec) Owned() bool { return d.ExistingID == "" }

// PoolSpec is a PgBouncer connection pool.
type PoolSpec struct {
	Mode string
	Size int
	DB   string
	User string
}

// ReplicaSpec is a read replica; Region defaults to the stack's.
type ReplicaSpec struct {
	Region string
	Size   string
}

// Rule is a database firewall trusted source.
type Rule struct {
	Type  string
	Value string
}

// StackTag is the tag that identifies the stack's parts.
func (s Spec) StackTag() string { return StackTagPrefix + s.Name }

// AllTags is the user's tags plus the stack tag and the identity tag (once
// the stack has an identity), sorted and unique.
func (s Spec) AllTags() []string {
	tags := append(slices.Clone(s.Tags), s.StackTag())
	if s.Owner != "" {
		tags = append(tags, s.OwnerTag())
	}
	sort.Strings(tags)
	return slices.Compact(tags)
}

// Status is what exists: every id the stack has created or attached, and
// what Read last observed of each part.
type Status struct {
	// Owner is the stack's identity (ownership.go): "" for a stack made
	// before identities existed, or imported, until its next apply.
	Owner string `json:",omitempty"`
	// ImportedByID marks a status imported by ids: its objects were adopted
	// on purpose, so the next apply writes this state's identity on them
	// whatever identity they carry (another state's is replaced).
	ImportedByID bool `json:",omitempty"`
	VPCID        string
	VPCOwned     bool
	// VPCOwner is the identity the description of the stack's own VPC
	// carried when last read.
	VPCOwner string `json:",omitempty"`
	// VPCIPRange is the VPC's CIDR as DigitalOcean reports it.
	VPCIPRange string
	// Cluster is nil when the stack has no cluster (never created, or gone).
	Cluster *ClusterStatus
	// RetiringCluster is a cluster being replaced: it is deleted once every
	// database trusts Cluster. Kept in state if a replacement fails midway.
	RetiringCluster *ClusterStatus
	Databases       map[string]*DatabaseStatus
	// RetiredDroplets are the worker nodes (Droplet ids) of clusters the
	// stack deleted, with when it deleted them: they stay members of the
	// VPC for a while, and destroy waits them out rather than taking them
	// for someone else's Droplets.
	RetiredDroplets map[string]time.Time `json:",omitempty"`
	// RetiredPools are the DOKS pool names of clusters the stack deleted,
	// with when: DOKS names a node "<pool>-<5 characters>", so a lingering
	// worker the autoscaler added after the last read is still recognised.
	RetiredPools map[string]time.Time `json:",omitempty"`
	// KubernetesSecrets are the connection Secrets delivered into the
	// cluster, by key (kubernetes_secrets.go); they hold no values.
	KubernetesSecrets map[string]*KubernetesSecretStatus `json:",omitempty"`
}

// ClusterStatus is the observed DOKS cluster.
type ClusterStatus struct {
	ID               string
	Name             string
	URN              string
	Endpoint         string
	Region           string
	VPCID            string
	Version          string
	State            string
	HA               bool
	AutoUpgrade      bool
	SurgeUpgrade     bool
	MaintenanceDay   string
	MaintenanceStart string
	ClusterSubnet    string
	ServiceSubnet    string
	Tags             []string
	// Pools by stack name: SystemPoolName and the GPU pool keys.
	Pools map[string]*NodePoolStatus
	// Generation counts replacements; it names the next cluster.
	Generation int
	// Droplets are the cluster's worker nodes by Droplet id, with when they
	// were last seen in it (nodes of deleted pools and replaced nodes are
	// remembered for a while: they linger as VPC members).
	Droplets map[string]time.Time `json:",omitempty"`

	Kubeconfig          string
	KubeconfigExpiresAt time.Time

	// ControlPlaneFirewall is the cluster's, as read back (nil when
	// DigitalOcean reports none).
	ControlPlaneFirewall *ControlPlaneFirewall `json:",omitempty"`
	// Autoscaler is the cluster's autoscaler configuration, as read back.
	Autoscaler *AutoscalerConfig `json:",omitempty"`
	// Plugins are the cluster's plugins as read back.
	Plugins ClusterPlugins
	// KubeconfigLifetime is the lifetime Kubeconfig was fetched with (0:
	// KubeconfigLifetime, as before it was recorded).
	KubeconfigLifetime time.Duration `json:",omitempty"`
}

// NodePoolStatus is an observed node pool.
type NodePoolStatus struct {
	ID string
	// Name is the DOKS pool name: the stack's key, or a suffixed name
	// after the pool was replaced to change its size (ReplacementPoolName).
	// The key, not the name, is the pool's identity.
	Name  string
	Spec  NodePoolSpec
	Nodes int
	Ready int
	// Tags are the pool's tags without the ones DOKS adds and the stack's
	// identity tag (PoolTagPrefix).
	Tags []string
	// Marked is set when the pool carries its key's identity tag and node
	// label (PoolTagPrefix, PoolLabel); an apply adds them where missing.
	Marked bool `json:",omitempty"`
	// WaitingSince is set when an apply gave up waiting for the nodes it
	// asked of the pool (GPU capacity, typically): the next apply
	// continues the wait.
	WaitingSince time.Time `json:",omitempty"`
}

// DatabaseStatus is an observed database cluster and the objects the stack
// manages in it.
type DatabaseStatus struct {
	ID              string
	Name            string
	URN             string
	Owned           bool
	Engine          string
	Version         string
	Size            string
	NodeCount       int
	StorageMiB      int
	Region          string
	VPCID           string
	State           string
	MaintenanceDay  string
	MaintenanceHour string
	Tags            []string

	PrivateHost string
	Port        int
	User        string
	Password    string
	Database    string
	PrivateURI  string
	// Stalled is set when an apply gave up waiting for the database to come
	// online after creating it; the next apply replaces it if it still is
	// not (it never held data, and a create stuck like this never finishes).
	Stalled bool
	// DeletionProtection and RetainOnDestroy as last applied: they decide
	// what may happen to a database that is no longer in the configuration.
	DeletionProtection bool
	RetainOnDestroy    bool
	// Provisioned is set once the database and everything in it the stack
	// manages reached a ready state: before that it never held data, so a
	// failed create can be cleaned up despite deletion protection.
	Provisioned bool
	// CreatedAt is when this provider's create of the database was
	// answered (the local clock); zero for databases it did not create.
	// DigitalOcean answers 404 for a while after a create, which only
	// means "not visible yet" for a recent create (see notVisibleYet).
	CreatedAt time.Time `json:",omitzero"`
	// VPCRangeRule is the ip_addr trusted source (the VPC's range) the
	// stack created the database with, so that it was never open to the
	// internet; the firewall step replaces it with the cluster's rule.
	VPCRangeRule string `json:",omitempty"`

	DBs   []string
	Users map[string]string // name -> password ("" when kept out of state)
	// Rotated is the password version each user (the admin under
	// AdminUser) was last given: set when a user is created, and when
	// reset_auth issued a new password.
	Rotated        map[string]int `json:",omitempty"`
	Pools          map[string]*PoolStatus
	Replicas       map[string]*ReplicaStatus
	EvictionPolicy string

	// AttachedClusterID is the cluster the stack's k8s rule trusts ("" when
	// the rule is missing); TrustedSources are the stack's extra rules found.
	AttachedClusterID string
	TrustedSources    []Rule
	// FirewallClusters are the clusters the firewall's k8s rules trust (the
	// stack's own among them), as the last refresh read them at
	// FirewallReadAt: a destroy planned right after that refresh names the
	// other clusters still attached without reading the firewall again.
	FirewallClusters []string  `json:",omitempty"`
	FirewallReadAt   time.Time `json:",omitzero"`
	// StorageAutoscale as DigitalOcean reports it (nil: not managed).
	StorageAutoscale *StorageAutoscale `json:",omitempty"`
	// Config holds the engine settings the stack manages, as DigitalOcean
	// reports them (engineconfig.Format).
	Config map[string]string `json:",omitempty"`
	// UserSettings as DigitalOcean reports them, for the users whose
	// settings the stack manages.
	UserSettings map[string]UserSettings `json:",omitempty"`
	// Topics as DigitalOcean reports them, for the topics the stack
	// created; Config holds the settings the stack manages only.
	Topics map[string]TopicSpec `json:",omitempty"`
}

// StorageAutoscale is a database's storage autoscaling: when Enabled,
// DigitalOcean adds IncrementGiB of storage whenever usage crosses
// ThresholdPercent.
type StorageAutoscale struct {
	Enabled          bool
	ThresholdPercent int
	IncrementGiB     int
}

// PoolStatus is an observed PgBouncer pool.
type PoolStatus struct {
	Spec        PoolSpec
	PrivateHost string
	Port        int
	PrivateURI  string
}

// ReplicaStatus is an observed read replica.
type ReplicaStatus struct {
	ID          string
	Name        string
	Region      string
	Size        string
	State       string
	PrivateHost string
	// Tags are the replica's tags as last read (retagged in place:
	// replica_tags.go).
	Tags []string `json:",omitempty"`
	// Stalled is set when an apply gave up waiting for the replica to come
	// online; the next apply replaces it if it still is not (a replica holds
	// no data of its own, and one stuck creating never finishes).
	Stalled bool
	// CreatedAt is when this provider's create of the replica was answered
	// (the local clock): a 404 soon after means "not visible yet".
	CreatedAt time.Time `json:",omitzero"`
}

// Clone returns a deep enough copy for the engine to mutate.
func (s *Status) Clone() *Status {
	if s == nil {
		return &Status{Databases: map[string]*DatabaseStatus{}}
	}
	out := *s
	out.Cluster = s.Cluster.clone()
	out.RetiringCluster = s.RetiringCluster.clone()
	out.RetiredDroplets = maps.Clone(s.RetiredDroplets)
	out.RetiredPools = maps.Clone(s.RetiredPools)
	if s.KubernetesSecrets != nil {
		out.KubernetesSecrets = map[string]*KubernetesSecretStatus{}
		for k, ks := range s.KubernetesSecrets {
			out.KubernetesSecrets[k] = ks.clone()
		}
	}
	out.Databases = map[string]*DatabaseStatus{}
	for k, d := range s.Databases {
		dc := *d
		dc.Users = maps.Clone(d.Users)
		if dc.Users == nil {
			dc.Users = map[string]string{}
		}
		dc.Rotated = maps.Clone(d.Rotated)
		dc.Config = maps.Clone(d.Config)
		dc.UserSettings = cloneUserSettings(d.UserSettings)
		dc.Topics = cloneTopics(d.Topics)
		dc.DBs = slices.Clone(d.DBs)
		dc.TrustedSources = slices.Clone(d.TrustedSources)
		dc.FirewallClusters = slices.Clone(d.FirewallClusters)
		dc.Pools = map[string]*PoolStatus{}
		for pk, p := range d.Pools {
			pc := *p
			dc.Pools[pk] = &pc
		}
		dc.Replicas = map[string]*ReplicaStatus{}
		for rk, r := range d.Replicas {
			rc := *r
			dc.Replicas[rk] = &rc
		}
		out.Databases[k] = &dc
	}
	return &out
}

func (c *ClusterStatus) clone() *ClusterStatus {
	if c == nil {
		return nil
	}
	out := *c
	out.Tags = slices.Clone(c.Tags)
	out.Droplets = maps.Clone(c.Droplets)
	out.ControlPlaneFirewall = c.ControlPlaneFirewall.clone()
	out.Autoscaler = c.Autoscaler.clone()
	out.Plugins = c.Plugins.clone()
	out.Pools = map[string]*NodePoolStatus{}
	for k, p := range c.Pools {
		pc := *p
		pc.Spec.Labels = maps.Clone(p.Spec.Labels)
		pc.Spec.Tags = slices.Clone(p.Spec.Tags)
		pc.Spec.Taints = slices.Clone(p.Spec.Taints)
		out.Pools[k] = &pc
	}
	return &out
}

// Empty reports whether nothing of the stack exists any more.
func (s *Status) Empty() bool {
	return s == nil || (s.VPCID == "" || !s.VPCOwned) && s.Cluster == nil && s.RetiringCluster == nil && len(s.Databases) == 0
}

// WithoutSecrets is the status with every credential blanked (the admin
// password and URI, user passwords, pool URIs, kubeconfigs): what is saved
// when secrets stay out of state. Everything the engine decides by (ids,
// user names, rotation versions) is kept.
func (s *Status) WithoutSecrets() *Status {
	out := s.Clone()
	for _, c := range []*ClusterStatus{out.Cluster, out.RetiringCluster} {
		if c != nil {
			c.Kubeconfig, c.KubeconfigExpiresAt, c.KubeconfigLifetime = "", time.Time{}, 0
		}
	}
	for _, d := range out.Databases {
		d.Password, d.PrivateURI = "", ""
		for name := range d.Users {
			d.Users[name] = ""
		}
		for _, p := range d.Pools {
			p.PrivateURI = ""
		}
	}
	return out
}
