package emulator

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Kubernetes (DOKS): /v2/kubernetes/clusters and their node pools.
//
// Lifecycles follow DigitalOcean: a cluster is "provisioning" until its
// control plane is up (ClusterProvisionDuration), then "running" (or "error"
// when a transition failure was injected). Nodes are "provisioning" until
// their Droplets join (NodePoolProvisionDuration, GPUPoolProvisionDuration
// for GPU sizes, never before the control plane); GPU nodes added to a pool
// that already exists wait Realism.GPUCapacityWait longer. Node states are
// only provisioning, running, draining and deleting: an injected node pool
// failure leaves the pool's nodes "provisioning" for ever (the cluster stays
// "running"), until they are deleted or replaced. An autoscaled pool moves by
// one node every Realism.AutoscaleInterval on its own (see autoscale). An
// upgrade keeps the cluster "upgrading" for ClusterUpgradeDuration. Deleted
// clusters and pools vanish from the API at once; a deleted cluster stays a
// VPC member (and in the inventory, as "deleting") for DeleteDuration, and
// every worker node is a Droplet member of the VPC while it exists and for
// Realism.DropletLinger after it goes. A deleted cluster's name is held for
// Realism.NameHold.
//
// DigitalOcean tags: every cluster carries "k8s" and "k8s:<cluster-id>", and
// every node pool also "k8s:worker", besides the user's tags. A node pool
// object carries exactly the labels and taints the user set: the GPU labels
// and taints DOKS puts on GPU nodes live on the Kubernetes Node objects, not
// in the API (see gpuSpec).

const (
	k8sMaxNodesPerPool         = 100
	k8sDefaultClusterSubnet    = "10.244.0.0/16"
	k8sDefaultServiceSubnet    = "10.245.0.0/16"
	k8sDefaultCredentialExpiry = 7 * 24 * time.Hour
	k8sMaintenanceWindow       = "4h0m0s"
	// k8sMaxCredentialExpirySeconds bounds expiry_seconds (ten years).
	k8sMaxCredentialExpirySeconds = 10 * 365 * 24 * 3600
)

// Cluster states (only those godo can decode).
const (
	k8sProvisioning = "provisioning"
	k8sRunning      = "running"
	k8sError        = "error"
	k8sUpgrading    = "upgrading"
)

// Node states: spec kubernetes/models/node.yml enumerates provisioning, running, draining, deleting (no error state).
const (
	k8sNodeProvisioning = "provisioning"
	k8sNodeRunning      = "running"
	k8sNodeDraining     = "draining"
	k8sNodeDeleting     = "deleting"
)

type k8sCluster struct {
	id, name, region, version string
	clusterSubnet, serviceSub string
	vpcID, ipv4, secret       string
	userTags                  []string
	pools                     []*k8sPool
	deletingPools             []*k8sPool
	maint                     k8sMaintenancePolicyJSON
	autoUpgrade, surgeUpgrade bool
	ha, isolatedWorkers       bool
	gpuOperatorReady          bool
	controlPlaneFirewall      *k8sControlPlaneFirewallJSON
	autoscalerConfig          *k8sAutoscalerConfigJSON
	sso                       *k8sSSOJSON
	plugins                   map[string]bool // plugins the user set explicitly
	state, message            string
	createdAt, updatedAt      time.Time
	readyAt                   time.Time // end of provisioning
	fails                     bool      // provisioning ends in "error"
	upgradeTo                 string
	upgradeDoneAt             time.Time
	messages                  []k8sStatusMessageJSON
	deleteAt                  time.Time // set once deleted: gone for good then
}

type k8sPool struct {
	id, name, size   string
	count            int
	userTags         []string
	userLabels       map[string]string
	userTaints       []k8sTaintJSON
	autoScale        bool
	minNodes         int
	maxNodes         int
	gpuPartitionMode string
	nodes            []*k8sNode
	fails            bool // the nodes created with the pool never finish provisioning
	createdAt        time.Time
	deleteAt         time.Time
	// nextAutoscale is the autoscaler's next step (zero: none planned);
	// scaleDown is the direction of that step (see autoscale).
	nextAutoscale time.Time
	scaleDown     bool
}

type k8sNode struct {
	id, name, dropletID  string
	state                string
	createdAt, updatedAt time.Time
	readyAt              time.Time // end of provisioning
	drainUntil           time.Time // draining -> deleting
	removeAt             time.Time // deleting -> gone
	fails                bool      // never finishes provisioning
}

// k8sGoneDroplet is a worker node's Droplet after the node went (its
// cluster, pool or itself deleted): still a member of its VPC until until.
type k8sGoneDroplet struct {
	vpcID, name, dropletID string
	createdAt, until       time.Time
}

type kubernetesStore struct {
	e        *Emulator
	clusters map[string]*k8sCluster
	// deleting holds deleted clusters until their teardown completes.
	deleting map[string]*k8sCluster
	// goneDroplets are the Droplets of nodes that went, lingering in their
	// VPC for Realism.DropletLinger.
	goneDroplets []k8sGoneDroplet
}

func newKubernetesStore(e *Emulator) *kubernetesStore {
	s := &kubernetesStore{e: e}
	s.reset()
	return s
}

func (s *kubernetesStore) reset() {
	s.clusters = map[string]*k8sCluster{}
	s.deleting = map[string]*k8sCluster{}
	s.goneDroplets = nil
}

// clusterExists reports whether id names a live (not deleted) cluster; the
// database firewall uses it to validate k8s rules.
func (s *kubernetesStore) clusterExists(id string) bool {
	_, ok := s.clusters[id]
	return ok
}

func (s *kubernetesStore) register(r *router) {
	const cluster = "/v2/kubernetes/clusters/{cluster_id}"
	const pool = cluster + "/node_pools/{node_pool_id}"
	r.handle(http.MethodGet, "/v2/kubernetes/clusters", s.list)
	r.handle(http.MethodPost, "/v2/kubernetes/clusters", s.create)
	r.handle(http.MethodGet, cluster, s.get)
	r.handle(http.MethodPut, cluster, s.update)
	r.handle(http.MethodDelete, cluster, s.delete)
	r.handle(http.MethodGet, cluster+"/destroy_with_associated_resources", s.associatedResources)
	r.handle(http.MethodDelete, cluster+"/destroy_with_associated_resources/selective", s.deleteSelective)
	r.handle(http.MethodDelete, cluster+"/destroy_with_associated_resources/dangerous", s.deleteDangerous)
	r.handle(http.MethodGet, cluster+"/kubeconfig", s.kubeconfig)
	r.handle(http.MethodGet, cluster+"/credentials", s.credentials)
	r.handle(http.MethodGet, cluster+"/upgrades", s.upgrades)
	r.handle(http.MethodPost, cluster+"/upgrade", s.upgrade)
	r.handle(http.MethodGet, cluster+"/user", s.user)
	r.handle(http.MethodGet, cluster+"/status_messages", s.statusMessages)
	r.handle(http.MethodGet, cluster+"/node_pools", s.listPools)
	r.handle(http.MethodPost, cluster+"/node_pools", s.createPool)
	r.handle(http.MethodGet, pool, s.getPool)
	r.handle(http.MethodPut, pool, s.updatePool)
	r.handle(http.MethodDelete, pool, s.deletePool)
	r.handle(http.MethodDelete, pool+"/nodes/{node_id}", s.deleteNode)
	k8sCatalog{}.register(r)
}

// ---- time ----

func (s *kubernetesStore) advance(now time.Time) {
	for _, cl := range s.clusters {
		s.advanceCluster(cl, now)
	}
	for id, cl := range s.deleting {
		if !now.Before(cl.deleteAt) {
			delete(s.deleting, id)
		}
	}
	s.goneDroplets = slices.DeleteFunc(s.goneDroplets, func(d k8sGoneDroplet) bool { return !now.Before(d.until) })
}

func (s *kubernetesStore) advanceCluster(cl *k8sCluster, now time.Time) {
	if cl.state == k8sProvisioning && !now.Before(cl.readyAt) {
		cl.updatedAt = cl.readyAt
		if cl.fails {
			cl.state = k8sError
			cl.message = "the control plane failed to become healthy (emulated provisioning failure); delete the cluster and create it again"
			cl.addMessage(cl.readyAt, "Cluster provisioning failed: the control plane did not become healthy")
		} else {
			cl.state, cl.message = k8sRunning, ""
			cl.addMessage(cl.readyAt, "Cluster is running")
		}
	}
	if cl.state == k8sUpgrading && !now.Before(cl.upgradeDoneAt) {
		cl.version, cl.upgradeTo = cl.upgradeTo, ""
		cl.state, cl.message = k8sRunning, ""
		cl.updatedAt = cl.upgradeDoneAt
		cl.addMessage(cl.upgradeDoneAt, "Cluster upgraded to "+cl.version)
	}
	for _, p := range cl.pools {
		s.autoscale(cl, p, now)
		s.advanceNodes(cl, p, now)
	}
	cl.deletingPools = slices.DeleteFunc(cl.deletingPools, func(p *k8sPool) bool { return !now.Before(p.deleteAt) })
}

// advanceNodes applies the due transitions of p's nodes; a node that goes
// leaves its Droplet lingering in the VPC.
func (s *kubernetesStore) advanceNodes(cl *k8sCluster, p *k8sPool, now time.Time) {
	kept := p.nodes[:0]
	for _, n := range p.nodes {
		if k8sAdvanceNode(n, now, cl.state != k8sError) {
			kept = append(kept, n)
		} else {
			s.dropletGone(cl, n, n.removeAt)
		}
	}
	clear(p.nodes[len(kept):])
	p.nodes = kept
}

// k8sAdvanceNode applies a node's due transitions; it returns false once the
// node is gone. Nodes never come up in a cluster whose control plane failed.
func k8sAdvanceNode(n *k8sNode, now time.Time, controlPlaneOK bool) bool {
	// A failed node stays "provisioning" (spec kubernetes/models/node.yml has no error state).
	if n.state == k8sNodeProvisioning && !n.fails && controlPlaneOK && !now.Before(n.readyAt) {
		n.state, n.updatedAt = k8sNodeRunning, n.readyAt
	}
	if n.state == k8sNodeDraining && !now.Before(n.drainUntil) {
		n.state, n.updatedAt = k8sNodeDeleting, n.drainUntil
	}
	return !(n.state == k8sNodeDeleting && !now.Before(n.removeAt))
}

// autoscale plays the cluster autoscaler of an autoscaled pool with room to
// move (max_nodes > min_nodes): every Realism.AutoscaleInterval from the
// pool's creation (or from when autoscaling was turned on) its count moves
// by one node, alternately up and down starting with up; a step that would
// leave [min_nodes, max_nodes] goes the other way. Steps fall only while
// the control plane runs and the bounds leave room; others are skipped. New
// nodes provision (GPU ones with the capacity wait), surplus ones drain, as
// resize does.
func (s *kubernetesStore) autoscale(cl *k8sCluster, p *k8sPool, now time.Time) {
	interval := s.e.realism().AutoscaleInterval
	if interval <= 0 || !p.autoScale || p.nextAutoscale.IsZero() {
		return
	}
	for !now.Before(p.nextAutoscale) {
		at := p.nextAutoscale
		p.nextAutoscale = at.Add(interval)
		// No room (bounds equal), or no control plane: the step is skipped,
		// and a later change of bounds does not replay the missed ones.
		if p.maxNodes <= p.minNodes || cl.state != k8sRunning && cl.state != k8sUpgrading {
			continue
		}
		// The autoscaler resizes auto_scale pools "within the given min/max range" on its own (official provider docs/resources/kubernetes_node_pool.md; hence its actual_node_count).
		s.advanceNodes(cl, p, at)
		count := p.count
		if p.scaleDown && count-1 < p.minNodes || !p.scaleDown && count+1 > p.maxNodes {
			p.scaleDown = !p.scaleDown
		}
		if p.scaleDown {
			count--
		} else {
			count++
		}
		p.scaleDown = !p.scaleDown
		s.resize(cl, p, min(max(count, p.minNodes), p.maxNodes), at)
		cl.addMessage(at, fmt.Sprintf("Cluster autoscaler resized node pool %q to %d node(s)", p.name, p.count))
	}
}

// planAutoscale (re)starts the autoscaler's steps of p from now, or stops
// them when the pool is not autoscaled.
func (s *kubernetesStore) planAutoscale(p *k8sPool, now time.Time) {
	interval := s.e.realism().AutoscaleInterval
	if interval <= 0 || !p.autoScale {
		p.nextAutoscale = time.Time{}
		return
	}
	p.nextAutoscale, p.scaleDown = now.Add(interval), false
}

// dropletGone records that node n of cl went at goneAt: its Droplet stays a
// member of the cluster's VPC for Realism.DropletLinger.
func (s *kubernetesStore) dropletGone(cl *k8sCluster, n *k8sNode, goneAt time.Time) {
	linger := s.e.realism().DropletLinger
	if linger <= 0 {
		return
	}
	s.goneDroplets = append(s.goneDroplets, k8sGoneDroplet{
		vpcID: cl.vpcID, name: n.name, dropletID: n.dropletID, createdAt: n.createdAt, until: goneAt.Add(linger),
	})
}

func (cl *k8sCluster) addMessage(at time.Time, msg string) {
	cl.messages = append(cl.messages, k8sStatusMessageJSON{Message: msg, Timestamp: at.UTC()})
}

// ---- inventory, VPC members, URNs ----

func (s *kubernetesStore) inventory() []Item {
	var items []Item
	add := func(cl *k8sCluster, deleting bool) {
		status := cl.state
		if deleting {
			status = "deleting"
		}
		items = append(items, Item{Kind: "kubernetes_cluster", ID: cl.id, Name: cl.name, Status: status})
		for _, p := range cl.pools {
			ps := p.status(s.e.now())
			if deleting {
				ps = "deleting"
			}
			items = append(items, Item{Kind: "kubernetes_node_pool", ID: p.id, Name: p.name, Status: ps, Parent: cl.id})
		}
		for _, p := range cl.deletingPools {
			items = append(items, Item{Kind: "kubernetes_node_pool", ID: p.id, Name: p.name, Status: "deleting", Parent: cl.id})
		}
	}
	for _, cl := range k8sSortedClusters(s.clusters) {
		add(cl, false)
	}
	for _, cl := range k8sSortedClusters(s.deleting) {
		add(cl, true)
	}
	return items
}

// status summarises a pool's nodes for the inventory: "failed" when a node
// failed to provision (the API shows it "provisioning" for ever).
func (p *k8sPool) status(now time.Time) string {
	st := "running"
	for _, n := range p.nodes {
		if n.state != k8sNodeProvisioning {
			continue
		}
		if n.fails && !now.Before(n.readyAt) {
			return "failed"
		}
		st = "provisioning"
	}
	return st
}

func k8sSortedClusters(m map[string]*k8sCluster) []*k8sCluster {
	out := make([]*k8sCluster, 0, len(m))
	for _, cl := range m {
		out = append(out, cl)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].createdAt.Equal(out[j].createdAt) {
			return out[i].createdAt.Before(out[j].createdAt)
		}
		return out[i].id < out[j].id
	})
	return out
}

func (cl *k8sCluster) urn() string { return "do:kubernetes:" + cl.id }

func k8sDropletURN(dropletID string) string { return "do:droplet:" + dropletID }

// vpcMembers lists the clusters in the VPC and their worker nodes' Droplets
// (named after the nodes), plus the lingering members of deleted objects: a
// deleted cluster until its teardown ends (DeleteDuration) and the Droplets
// of gone nodes for Realism.DropletLinger.
func (s *kubernetesStore) vpcMembers(vpcID string) []vpcMember {
	var out []vpcMember
	for _, cl := range k8sSortedClusters(s.clusters) {
		if cl.vpcID != vpcID {
			continue
		}
		out = append(out, vpcMember{Name: cl.name, URN: cl.urn(), CreatedAt: cl.createdAt})
		for _, p := range cl.pools {
			for _, n := range p.nodes {
				out = append(out, vpcMember{Name: n.name, URN: k8sDropletURN(n.dropletID), CreatedAt: n.createdAt})
			}
		}
	}
	for _, cl := range k8sSortedClusters(s.deleting) {
		if cl.vpcID == vpcID {
			out = append(out, vpcMember{Name: cl.name, URN: cl.urn(), CreatedAt: cl.createdAt, lingering: true})
		}
	}
	// Deleted clusters' worker Droplets stay VPC members a while (maintainer comment, terraform-provider-digitalocean #488).
	for _, d := range s.goneDroplets {
		if d.vpcID == vpcID {
			out = append(out, vpcMember{Name: d.name, URN: k8sDropletURN(d.dropletID), CreatedAt: d.createdAt, lingering: true})
		}
	}
	return out
}

func (s *kubernetesStore) resolveURN(urn string) bool {
	id, ok := strings.CutPrefix(urn, "do:kubernetes:")
	return ok && s.clusterExists(id)
}

func (s *kubernetesStore) urns() []string {
	out := make([]string, 0, len(s.clusters))
	for _, cl := range s.clusters {
		out = append(out, cl.urn())
	}
	return out
}

// ---- JSON shapes ----

type k8sMaintenancePolicyJSON struct {
	StartTime string `json:"start_time"`
	Duration  string `json:"duration"`
	Day       string `json:"day"`
}

type k8sControlPlaneFirewallJSON struct {
	Enabled          *bool    `json:"enabled"`
	AllowedAddresses []string `json:"allowed_addresses"`
}

type k8sAutoscalerConfigJSON struct {
	ScaleDownUtilizationThreshold *float64 `json:"scale_down_utilization_threshold,omitempty"`
	ScaleDownUnneededTime         *string  `json:"scale_down_unneeded_time,omitempty"`
	Expanders                     []string `json:"expanders,omitempty"`
}

type k8sSSOJSON struct {
	Enabled   bool   `json:"enabled"`
	Required  bool   `json:"required"`
	IssuerURL string `json:"issuer_url,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
}

type k8sPluginJSON struct {
	Enabled *bool `json:"enabled"`
}

// k8sClusterPlugins are the optional cluster add-ons, each {"enabled": bool}.
type k8sClusterPlugins struct {
	RoutingAgent                      *k8sPluginJSON `json:"routing_agent,omitempty"`
	AmdGpuDevicePlugin                *k8sPluginJSON `json:"amd_gpu_device_plugin,omitempty"`
	AmdGpuDeviceMetricsExporterPlugin *k8sPluginJSON `json:"amd_gpu_device_metrics_exporter_plugin,omitempty"`
	NvidiaGpuDevicePlugin             *k8sPluginJSON `json:"nvidia_gpu_device_plugin,omitempty"`
	NvidiaGpuDraDriver                *k8sPluginJSON `json:"nvidia_gpu_dra_driver,omitempty"`
	AmdGpuDraDriver                   *k8sPluginJSON `json:"amd_gpu_dra_driver,omitempty"`
	RdmaSharedDevicePlugin            *k8sPluginJSON `json:"rdma_shared_dev_plugin,omitempty"`
	CorednsAutoscaler                 *k8sPluginJSON `json:"coredns_autoscaler,omitempty"`
	P2pOciRegistryPlugin              *k8sPluginJSON `json:"p2p_oci_registry_plugin,omitempty"`
	NfsCsiPlugin                      *k8sPluginJSON `json:"nfs_csi_plugin,omitempty"`
}

// fields maps plugin names to the struct's fields, for generic handling.
func (p *k8sClusterPlugins) fields() map[string]**k8sPluginJSON {
	return map[string]**k8sPluginJSON{
		"routing_agent":                          &p.RoutingAgent,
		"amd_gpu_device_plugin":                  &p.AmdGpuDevicePlugin,
		"amd_gpu_device_metrics_exporter_plugin": &p.AmdGpuDeviceMetricsExporterPlugin,
		"nvidia_gpu_device_plugin":               &p.NvidiaGpuDevicePlugin,
		"nvidia_gpu_dra_driver":                  &p.NvidiaGpuDraDriver,
		"amd_gpu_dra_driver":                     &p.AmdGpuDraDriver,
		"rdma_shared_dev_plugin":                 &p.RdmaSharedDevicePlugin,
		"coredns_autoscaler":                     &p.CorednsAutoscaler,
		"p2p_oci_registry_plugin":                &p.P2pOciRegistryPlugin,
		"nfs_csi_plugin":                         &p.NfsCsiPlugin,
	}
}

type k8sClusterStatusJSON struct {
	State   string `json:"state"`
	Message string `json:"message,omitempty"`
}

type k8sClusterJSON struct {
	ID                             string                       `json:"id"`
	Name                           string                       `json:"name"`
	Region                         string                       `json:"region"`
	Version                        string                       `json:"version"`
	ClusterSubnet                  string                       `json:"cluster_subnet"`
	ServiceSubnet                  string                       `json:"service_subnet"`
	VPCUUID                        string                       `json:"vpc_uuid"`
	IPv4                           string                       `json:"ipv4"`
	Endpoint                       string                       `json:"endpoint"`
	Tags                           []string                     `json:"tags"`
	NodePools                      []k8sNodePoolJSON            `json:"node_pools"`
	MaintenancePolicy              *k8sMaintenancePolicyJSON    `json:"maintenance_policy"`
	AutoUpgrade                    bool                         `json:"auto_upgrade"`
	SurgeUpgrade                   bool                         `json:"surge_upgrade"`
	HA                             bool                         `json:"ha"`
	RegistryEnabled                bool                         `json:"registry_enabled"`
	IsolatedWorkers                bool                         `json:"isolated_workers"`
	GPUOperatorReady               bool                         `json:"gpu_operator_ready"`
	ControlPlaneFirewall           *k8sControlPlaneFirewallJSON `json:"control_plane_firewall,omitempty"`
	ClusterAutoscalerConfiguration *k8sAutoscalerConfigJSON     `json:"cluster_autoscaler_configuration,omitempty"`
	SSO                            *k8sSSOJSON                  `json:"sso,omitempty"`
	k8sClusterPlugins
	Status    k8sClusterStatusJSON `json:"status"`
	CreatedAt time.Time            `json:"created_at"`
	UpdatedAt time.Time            `json:"updated_at"`
}

type k8sTaintJSON struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Effect string `json:"effect"`
}

// k8sNodeStatusJSON has only a state, as in spec kubernetes/models/node.yml.
type k8sNodeStatusJSON struct {
	State string `json:"state"`
}

type k8sNodeJSON struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	Status    k8sNodeStatusJSON `json:"status"`
	DropletID string            `json:"droplet_id"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
}

type k8sNodePoolJSON struct {
	ID               string            `json:"id"`
	Name             string            `json:"name"`
	Size             string            `json:"size"`
	Count            int               `json:"count"`
	Tags             []string          `json:"tags"`
	Labels           map[string]string `json:"labels"`
	Taints           []k8sTaintJSON    `json:"taints"`
	AutoScale        bool              `json:"auto_scale"`
	MinNodes         int               `json:"min_nodes"`
	MaxNodes         int               `json:"max_nodes"`
	GPUPartitionMode string            `json:"gpu_partition_mode,omitempty"`
	Nodes            []k8sNodeJSON     `json:"nodes"`
}

type k8sStatusMessageJSON struct {
	Message   string    `json:"message"`
	Timestamp time.Time `json:"timestamp"`
}

func (cl *k8sCluster) endpoint() string { return "https://" + cl.id + ".k8s.ondigitalocean.com" }

// systemTags are the tags DOKS adds to a cluster (and, with "k8s:worker",
// to its node pools).
func (cl *k8sCluster) systemTags() []string { return []string{"k8s", "k8s:" + cl.id} }

func k8sMergeTags(system, user []string) []string {
	out := append([]string(nil), system...)
	for _, t := range user {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

func (cl *k8sCluster) toJSON() k8sClusterJSON {
	out := k8sClusterJSON{
		ID: cl.id, Name: cl.name, Region: cl.region, Version: cl.version,
		ClusterSubnet: cl.clusterSubnet, ServiceSubnet: cl.serviceSub, VPCUUID: cl.vpcID,
		IPv4: cl.ipv4, Endpoint: cl.endpoint(), Tags: k8sMergeTags(cl.systemTags(), cl.userTags),
		NodePools:   make([]k8sNodePoolJSON, 0, len(cl.pools)),
		AutoUpgrade: cl.autoUpgrade, SurgeUpgrade: cl.surgeUpgrade, HA: cl.ha,
		IsolatedWorkers: cl.isolatedWorkers, GPUOperatorReady: cl.gpuOperatorReady,
		ControlPlaneFirewall: cl.controlPlaneFirewall, ClusterAutoscalerConfiguration: cl.autoscalerConfig,
		SSO:       cl.sso,
		Status:    k8sClusterStatusJSON{State: cl.state, Message: cl.message},
		CreatedAt: cl.createdAt.UTC(), UpdatedAt: cl.updatedAt.UTC(),
	}
	m := cl.maint
	out.MaintenancePolicy = &m
	for _, p := range cl.pools {
		out.NodePools = append(out.NodePools, cl.poolJSON(p))
	}
	fields := out.k8sClusterPlugins.fields()
	for name, enabled := range cl.effectivePlugins() {
		*fields[name] = &k8sPluginJSON{Enabled: &enabled}
	}
	return out
}

// effectivePlugins is what the user set plus DOKS's defaults: the NVIDIA and
// AMD device plugins are on when a pool has such GPUs, and the RDMA shared
// device plugin when a pool has 8-GPU machines.
func (cl *k8sCluster) effectivePlugins() map[string]bool {
	out := map[string]bool{}
	for _, p := range cl.pools {
		size, _ := nodeSizeBySlug(p.size)
		if size.GPU == nil {
			continue
		}
		if size.GPU.Brand == "amd" {
			out["amd_gpu_device_plugin"] = true
		} else {
			out["nvidia_gpu_device_plugin"] = true
		}
		if size.multiNodeGPU() {
			out["rdma_shared_dev_plugin"] = true
		}
	}
	for name, v := range cl.plugins {
		out[name] = v
	}
	// A DRA driver replaces the matching device plugin.
	if out["nvidia_gpu_dra_driver"] {
		delete(out, "nvidia_gpu_device_plugin")
	}
	if out["amd_gpu_dra_driver"] {
		delete(out, "amd_gpu_device_plugin")
	}
	return out
}

func (cl *k8sCluster) poolJSON(p *k8sPool) k8sNodePoolJSON {
	// Spec kubernetes/models/node_pool.yml: labels and taints are what the user asks "to apply to all nodes in a pool" (DOKS's own GPU ones are not).
	out := k8sNodePoolJSON{
		ID: p.id, Name: p.name, Size: p.size, Count: p.count,
		Tags:      k8sMergeTags(append(cl.systemTags(), "k8s:worker"), p.userTags),
		Taints:    append([]k8sTaintJSON{}, p.userTaints...),
		AutoScale: p.autoScale, MinNodes: p.minNodes, MaxNodes: p.maxNodes,
		GPUPartitionMode: p.gpuPartitionMode,
		Nodes:            make([]k8sNodeJSON, 0, len(p.nodes)),
	}
	if len(p.userLabels) > 0 {
		out.Labels = maps.Clone(p.userLabels)
	}
	for _, n := range p.nodes {
		out.Nodes = append(out.Nodes, k8sNodeJSON{
			ID: n.id, Name: n.name, Status: k8sNodeStatusJSON{State: n.state},
			DropletID: n.dropletID, CreatedAt: n.createdAt.UTC(), UpdatedAt: n.updatedAt.UTC(),
		})
	}
	return out
}

// ---- requests and validation ----

type k8sNodePoolRequest struct {
	Name             string            `json:"name"`
	Size             string            `json:"size"`
	Count            *int              `json:"count"`
	Tags             []string          `json:"tags"`
	Labels           map[string]string `json:"labels"`
	Taints           []k8sTaintJSON    `json:"taints"`
	AutoScale        bool              `json:"auto_scale"`
	MinNodes         *int              `json:"min_nodes"`
	MaxNodes         *int              `json:"max_nodes"`
	GPUPartitionMode string            `json:"gpu_partition_mode"`
}

type k8sMaintenancePolicyRequest struct {
	StartTime string `json:"start_time"`
	Day       string `json:"day"`
}

type k8sClusterCreateRequest struct {
	Name                           string                       `json:"name"`
	Region                         string                       `json:"region"`
	Version                        string                       `json:"version"`
	Tags                           []string                     `json:"tags"`
	VPCUUID                        string                       `json:"vpc_uuid"`
	WorkerSubnetUUID               string                       `json:"worker_subnet_uuid"`
	ClusterSubnet                  string                       `json:"cluster_subnet"`
	ServiceSubnet                  string                       `json:"service_subnet"`
	HA                             *bool                        `json:"ha"`
	NodePools                      []k8sNodePoolRequest         `json:"node_pools"`
	MaintenancePolicy              *k8sMaintenancePolicyRequest `json:"maintenance_policy"`
	AutoUpgrade                    bool                         `json:"auto_upgrade"`
	SurgeUpgrade                   bool                         `json:"surge_upgrade"`
	ControlPlaneFirewall           *k8sControlPlaneFirewallJSON `json:"control_plane_firewall"`
	ClusterAutoscalerConfiguration *k8sAutoscalerConfigJSON     `json:"cluster_autoscaler_configuration"`
	SSO                            *k8sSSOJSON                  `json:"sso"`
	IsolatedWorkers                bool                         `json:"isolated_workers"`
	GPUOperatorReady               bool                         `json:"gpu_operator_ready"`
	k8sClusterPlugins
}

type k8sClusterUpdateRequest struct {
	Name                           *string                      `json:"name"`
	Tags                           []string                     `json:"tags"`
	MaintenancePolicy              *k8sMaintenancePolicyRequest `json:"maintenance_policy"`
	AutoUpgrade                    *bool                        `json:"auto_upgrade"`
	SurgeUpgrade                   bool                         `json:"surge_upgrade"`
	HA                             *bool                        `json:"ha"`
	ControlPlaneFirewall           *k8sControlPlaneFirewallJSON `json:"control_plane_firewall"`
	ClusterAutoscalerConfiguration *k8sAutoscalerConfigJSON     `json:"cluster_autoscaler_configuration"`
	SSO                            *k8sSSOJSON                  `json:"sso"`
	GPUOperatorReady               *bool                        `json:"gpu_operator_ready"`
	k8sClusterPlugins
}

var (
	k8sClusterNamePattern = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9.\-]*[a-zA-Z0-9])?$`)
	// Pool names become node (host) names: DNS labels, lowercase.
	k8sPoolNamePattern  = regexp.MustCompile(`^[a-z0-9]([a-z0-9\-]*[a-z0-9])?$`)
	k8sTagPattern       = regexp.MustCompile(`^[a-zA-Z0-9_\-:]+$`)
	k8sLabelNamePattern = regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9_.\-]*[A-Za-z0-9])?)?$`)
	k8sDnsSubdomain     = regexp.MustCompile(`^[a-z0-9]([a-z0-9\-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9\-]*[a-z0-9])?)*$`)
	k8sStartTimePattern = regexp.MustCompile(`^([01]?[0-9]|2[0-3]):([0-5][0-9])$`)
)

var k8sMaintenanceDays = []string{"any", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}

var k8sTaintEffects = []string{"NoSchedule", "PreferNoSchedule", "NoExecute"}

func k8sValidateClusterName(name string) error {
	if name == "" {
		return errors.New("name is required")
	}
	if len(name) > 255 || !k8sClusterNamePattern.MatchString(name) {
		return fmt.Errorf("name %q is invalid: use letters, digits, dashes and dots, starting and ending with a letter or digit (at most 255 characters)", name)
	}
	return nil
}

func (s *kubernetesStore) nameTaken(name, exceptID string) bool {
	for _, cl := range s.clusters {
		if cl.id != exceptID && cl.name == name {
			return true
		}
	}
	return false
}

func k8sValidateTags(field string, tags []string) error {
	for _, t := range tags {
		if t == "" || len(t) > 255 || !k8sTagPattern.MatchString(t) {
			return fmt.Errorf("%s: tag %q is invalid: use letters, digits, colons, dashes and underscores (at most 255 characters)", field, t)
		}
	}
	return nil
}

// k8sValidateLabelKey checks a Kubernetes qualified name: an optional DNS
// subdomain prefix and "/", then a name of at most 63 characters.
func k8sValidateLabelKey(key string) error {
	prefix, name, hasPrefix := strings.Cut(key, "/")
	if !hasPrefix {
		name, prefix = prefix, ""
	}
	if hasPrefix && (prefix == "" || len(prefix) > 253 || !k8sDnsSubdomain.MatchString(prefix)) {
		return fmt.Errorf("key %q has an invalid prefix: it must be a lowercase DNS subdomain", key)
	}
	if name == "" || len(name) > 63 || !k8sLabelNamePattern.MatchString(name) {
		return fmt.Errorf("key %q is invalid: the name part must be 1-63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit", key)
	}
	return nil
}

func k8sValidateLabelValue(key, value string) error {
	if len(value) > 63 || !k8sLabelNamePattern.MatchString(value) {
		return fmt.Errorf("value %q of %q is invalid: at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit", value, key)
	}
	return nil
}

func k8sValidateLabels(field string, labels map[string]string) error {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := k8sValidateLabelKey(k); err != nil {
			return fmt.Errorf("%s: label %v", field, err)
		}
		if err := k8sValidateLabelValue(k, labels[k]); err != nil {
			return fmt.Errorf("%s: label %v", field, err)
		}
	}
	return nil
}

func k8sValidateTaints(field string, taints []k8sTaintJSON) error {
	seen := map[string]bool{}
	for i, t := range taints {
		if err := k8sValidateLabelKey(t.Key); err != nil {
			return fmt.Errorf("%s[%d]: taint %v", field, i, err)
		}
		if t.Value != "" {
			if err := k8sValidateLabelValue(t.Key, t.Value); err != nil {
				return fmt.Errorf("%s[%d]: taint %v", field, i, err)
			}
		}
		if !slices.Contains(k8sTaintEffects, t.Effect) {
			return fmt.Errorf("%s[%d].effect %q is invalid: use one of %s", field, i, t.Effect, strings.Join(k8sTaintEffects, ", "))
		}
		id := t.Key + ":" + t.Effect
		if seen[id] {
			return fmt.Errorf("%s[%d]: duplicate taint %s", field, i, id)
		}
		seen[id] = true
	}
	return nil
}

// k8sPoolScaling resolves count/min/max. godo omits zero values, so an absent
// min_nodes is 0 and an absent count of an autoscaled pool starts at min_nodes.
func k8sPoolScaling(field string, autoScale bool, count, minNodes, maxNodes *int) (c, lo, hi int, err error) {
	if !autoScale {
		if count == nil || *count < 1 || *count > k8sMaxNodesPerPool {
			got := "none"
			if count != nil {
				got = strconv.Itoa(*count)
			}
			return 0, 0, 0, fmt.Errorf("%s.count must be between 1 and %d for a fixed-size pool; got %s (or set auto_scale with min_nodes 0 to allow an empty pool)", field, k8sMaxNodesPerPool, got)
		}
		return *count, 0, 0, nil
	}
	if minNodes != nil {
		lo = *minNodes
	}
	if maxNodes != nil {
		hi = *maxNodes
	}
	if lo < 0 {
		return 0, 0, 0, fmt.Errorf("%s.min_nodes must be 0 or more; got %d", field, lo)
	}
	if hi < max(1, lo) || hi > k8sMaxNodesPerPool {
		return 0, 0, 0, fmt.Errorf("%s.max_nodes must be between %d and %d for an autoscaled pool (at least 1 and at least min_nodes %d); got %d", field, max(1, lo), k8sMaxNodesPerPool, lo, hi)
	}
	c = lo
	if count != nil {
		c = *count
		if c < lo || c > hi {
			return 0, 0, 0, fmt.Errorf("%s.count %d must be between min_nodes %d and max_nodes %d", field, c, lo, hi)
		}
	}
	return c, lo, hi, nil
}

// k8sValidatePool checks one node pool of a create request. taken holds the
// names already used in the cluster.
func k8sValidatePool(field string, req k8sNodePoolRequest, region string, taken map[string]bool) (*k8sPool, error) {
	if req.Name == "" {
		return nil, fmt.Errorf("%s.name is required", field)
	}
	if len(req.Name) > 57 || !k8sPoolNamePattern.MatchString(req.Name) {
		return nil, fmt.Errorf("%s.name %q is invalid: node names derive from it, so use lowercase letters, digits and dashes, starting and ending with a letter or digit (at most 57 characters)", field, req.Name)
	}
	if taken[req.Name] {
		return nil, fmt.Errorf("%s.name %q is already used by another node pool of this cluster; pool names must be unique", field, req.Name)
	}
	if req.Size == "" {
		return nil, fmt.Errorf("%s.size is required; sizes offered in %s: %s", field, region, strings.Join(sizesOfferedIn(region, false), ", "))
	}
	size, ok := nodeSizeBySlug(req.Size)
	if !ok {
		return nil, fmt.Errorf("%s.size %q is not a DOKS node size; sizes offered in %s: %s", field, req.Size, region, strings.Join(sizesOfferedIn(region, false), ", "))
	}
	if !size.offeredIn(region) {
		offered := sizesOfferedIn(region, size.GPU != nil)
		kind := "sizes"
		if size.GPU != nil {
			kind = "GPU sizes"
		}
		list := strings.Join(offered, ", ")
		if list == "" {
			list = "none"
		}
		return nil, fmt.Errorf("%s.size %q is not offered in region %q (it is offered in %s); %s offered there: %s", field, req.Size, region, strings.Join(size.regionSlugs(), ", "), kind, list)
	}
	count, lo, hi, err := k8sPoolScaling(field, req.AutoScale, req.Count, req.MinNodes, req.MaxNodes)
	if err != nil {
		return nil, err
	}
	if err := k8sValidateTags(field+".tags", req.Tags); err != nil {
		return nil, err
	}
	if err := k8sValidateLabels(field+".labels", req.Labels); err != nil {
		return nil, err
	}
	if err := k8sValidateTaints(field+".taints", req.Taints); err != nil {
		return nil, err
	}
	if req.GPUPartitionMode != "" {
		if size.GPU == nil || size.GPU.Brand != "amd" {
			return nil, fmt.Errorf("%s.gpu_partition_mode is only supported for AMD GPU sizes; %q is not one", field, req.Size)
		}
		if !slices.Contains(amdPartitionModes, req.GPUPartitionMode) {
			return nil, fmt.Errorf("%s.gpu_partition_mode %q is invalid: use one of %s", field, req.GPUPartitionMode, strings.Join(amdPartitionModes, ", "))
		}
	}
	return &k8sPool{
		id: newID(), name: req.Name, size: req.Size, count: count,
		userTags: req.Tags, userLabels: req.Labels, userTaints: req.Taints,
		autoScale: req.AutoScale, minNodes: lo, maxNodes: hi, gpuPartitionMode: req.GPUPartitionMode,
	}, nil
}

func k8sValidateMaintenance(req *k8sMaintenancePolicyRequest, current k8sMaintenancePolicyJSON) (k8sMaintenancePolicyJSON, error) {
	out := current
	if req == nil {
		return out, nil
	}
	if req.StartTime != "" {
		m := k8sStartTimePattern.FindStringSubmatch(req.StartTime)
		if m == nil {
			return out, fmt.Errorf("maintenance_policy.start_time %q is invalid: use HH:MM in UTC, e.g. \"04:00\"", req.StartTime)
		}
		h, _ := strconv.Atoi(m[1])
		out.StartTime = fmt.Sprintf("%02d:%s", h, m[2])
	}
	if req.Day != "" {
		day := strings.ToLower(req.Day)
		if !slices.Contains(k8sMaintenanceDays, day) {
			return out, fmt.Errorf("maintenance_policy.day %q is invalid: use one of %s", req.Day, strings.Join(k8sMaintenanceDays, ", "))
		}
		out.Day = day
	}
	out.Duration = k8sMaintenanceWindow
	return out, nil
}

func k8sValidateControlPlaneFirewall(f *k8sControlPlaneFirewallJSON) error {
	if f == nil {
		return nil
	}
	for i, a := range f.AllowedAddresses {
		if _, err := netip.ParsePrefix(a); err == nil {
			continue
		}
		if _, err := netip.ParseAddr(a); err == nil {
			continue
		}
		return fmt.Errorf("control_plane_firewall.allowed_addresses[%d] %q is not an IP address or CIDR block", i, a)
	}
	return nil
}

func k8sValidateAutoscalerConfig(a *k8sAutoscalerConfigJSON) error {
	if a == nil {
		return nil
	}
	if t := a.ScaleDownUtilizationThreshold; t != nil && (*t < 0 || *t > 1) {
		return fmt.Errorf("cluster_autoscaler_configuration.scale_down_utilization_threshold must be between 0 and 1; got %v", *t)
	}
	if d := a.ScaleDownUnneededTime; d != nil {
		if _, err := time.ParseDuration(*d); err != nil {
			return fmt.Errorf("cluster_autoscaler_configuration.scale_down_unneeded_time %q is not a duration such as \"10m\"", *d)
		}
	}
	for _, e := range a.Expanders {
		if e != "random" && e != "priority" && e != "least_waste" {
			return fmt.Errorf("cluster_autoscaler_configuration.expanders: %q is invalid; use random, priority or least_waste", e)
		}
	}
	return nil
}

func k8sValidateSSO(s *k8sSSOJSON) error {
	if s == nil || !s.Enabled {
		return nil
	}
	if !strings.HasPrefix(s.IssuerURL, "https://") || s.ClientID == "" {
		return errors.New("sso: when enabled, issuer_url (an https URL) and client_id are required")
	}
	return nil
}

// k8sApplyPlugins records the plugins the request sets and checks the
// exclusions godo documents.
func k8sApplyPlugins(req k8sClusterPlugins, set map[string]bool, gpuOperatorReady bool) error {
	for name, field := range req.fields() {
		if p := *field; p != nil && p.Enabled != nil {
			set[name] = *p.Enabled
		}
	}
	if set["nvidia_gpu_dra_driver"] && set["nvidia_gpu_device_plugin"] {
		return errors.New("nvidia_gpu_dra_driver and nvidia_gpu_device_plugin are mutually exclusive: enable one")
	}
	if set["amd_gpu_dra_driver"] && set["amd_gpu_device_plugin"] {
		return errors.New("amd_gpu_dra_driver and amd_gpu_device_plugin are mutually exclusive: enable one")
	}
	if gpuOperatorReady && (set["nvidia_gpu_dra_driver"] || set["amd_gpu_dra_driver"]) {
		return errors.New("gpu_operator_ready cannot be combined with a GPU DRA driver (nvidia_gpu_dra_driver, amd_gpu_dra_driver)")
	}
	return nil
}

// k8sCheckSubnets validates the pod and service networks against each other and
// the VPC's range.
func k8sCheckSubnets(clusterSubnet, serviceSubnet string, vpcRange netip.Prefix, vpcDesc string) (string, string, error) {
	cs, ss := k8sDefaultClusterSubnet, k8sDefaultServiceSubnet
	if clusterSubnet != "" {
		cs = clusterSubnet
	}
	if serviceSubnet != "" {
		ss = serviceSubnet
	}
	cp, err := parsePrivateCIDR(cs, 8, 20)
	if err != nil {
		return "", "", fmt.Errorf("cluster_subnet: %v", err)
	}
	sp, err := parsePrivateCIDR(ss, 12, 24)
	if err != nil {
		return "", "", fmt.Errorf("service_subnet: %v", err)
	}
	if cp.Overlaps(sp) {
		return "", "", fmt.Errorf("cluster_subnet %s and service_subnet %s overlap; choose disjoint ranges", cp, sp)
	}
	if vpcRange.IsValid() && cp.Overlaps(vpcRange) {
		return "", "", fmt.Errorf("cluster_subnet %s overlaps the range %s of %s; choose a range outside the VPC", cp, vpcRange, vpcDesc)
	}
	if vpcRange.IsValid() && sp.Overlaps(vpcRange) {
		return "", "", fmt.Errorf("service_subnet %s overlaps the range %s of %s; choose a range outside the VPC", sp, vpcRange, vpcDesc)
	}
	return cp.String(), sp.String(), nil
}

func (s *kubernetesStore) existingDefaultVPC(region string) *vpc {
	for _, v := range s.e.vpcs.vpcs {
		if v.Region == region && v.Default {
			return v
		}
	}
	return nil
}

func k8sRegionSlugList() string {
	out := make([]string, len(regions))
	for i, r := range regions {
		out[i] = r.Slug
	}
	return strings.Join(out, ", ")
}

// ---- nodes ----

const k8sNodeNameChars = "abcdefghijklmnopqrstuvwxyz0123456789"

func k8sNodeSuffix() string {
	b := make([]byte, 5)
	for i := range b {
		b[i] = k8sNodeNameChars[rand.IntN(len(k8sNodeNameChars))]
	}
	return string(b)
}

// addNodes starts n new nodes in p. A node cannot be ready before the control
// plane, and GPU Droplets take longer to come up than CPU ones; GPU nodes
// added to a pool that already existed (grown: a scale-up, a replacement)
// wait for capacity on top.
func (s *kubernetesStore) addNodes(cl *k8sCluster, p *k8sPool, n int, fails, grown bool, now time.Time) {
	size, _ := nodeSizeBySlug(p.size)
	d := NodePoolProvisionDuration
	if size.GPU != nil {
		d = GPUPoolProvisionDuration
	}
	ready := now.Add(s.e.scaled(d))
	if size.GPU != nil && grown {
		// No source gives GPU node times; capacity is scarce, so the rougher reading: scale-ups stay "provisioning" long (Realism.GPUCapacityWait).
		ready = ready.Add(s.e.realism().GPUCapacityWait)
	}
	if cl.state == k8sProvisioning && ready.Before(cl.readyAt) {
		ready = cl.readyAt
	}
	for range n {
		p.nodes = append(p.nodes, &k8sNode{
			id: newID(), name: p.name + "-" + k8sNodeSuffix(), dropletID: strconv.Itoa(400000000 + rand.IntN(99999999)),
			state: k8sNodeProvisioning, createdAt: now, updatedAt: now, readyAt: ready, fails: fails,
		})
	}
}

// retireNode starts a node's removal: draining first unless skipDrain.
func (s *kubernetesStore) retireNode(n *k8sNode, skipDrain bool, now time.Time) {
	n.updatedAt = now
	n.fails = false
	if skipDrain {
		n.state = k8sNodeDeleting
		n.removeAt = now.Add(s.e.scaled(DeleteDuration))
		return
	}
	n.state = k8sNodeDraining
	n.drainUntil = now.Add(s.e.scaled(DeleteDuration))
	n.removeAt = n.drainUntil.Add(s.e.scaled(DeleteDuration))
}

// activeNodes are the nodes not being removed.
func (p *k8sPool) activeNodes() []*k8sNode {
	var out []*k8sNode
	for _, n := range p.nodes {
		if n.state != k8sNodeDraining && n.state != k8sNodeDeleting {
			out = append(out, n)
		}
	}
	return out
}

// resize brings the pool's active nodes to count: new nodes provision, and
// surplus nodes (the newest first, failed ones before healthy ones) drain.
func (s *kubernetesStore) resize(cl *k8sCluster, p *k8sPool, count int, now time.Time) {
	p.count = count
	active := p.activeNodes()
	if len(active) < count {
		s.addNodes(cl, p, count-len(active), false, true, now)
		return
	}
	sort.SliceStable(active, func(i, j int) bool {
		ei, ej := active[i].fails, active[j].fails
		if ei != ej {
			return ei
		}
		return active[i].createdAt.After(active[j].createdAt)
	})
	for _, n := range active[:len(active)-count] {
		s.retireNode(n, false, now)
	}
}

// ---- handlers: clusters ----

func (s *kubernetesStore) find(c *call) (*k8sCluster, bool) {
	cl, ok := s.clusters[c.param("cluster_id")]
	if !ok {
		c.notFound()
	}
	return cl, ok
}

func (s *kubernetesStore) list(c *call) {
	all := k8sSortedClusters(s.clusters)
	out := make([]k8sClusterJSON, 0, len(all))
	for _, cl := range all {
		out = append(out, cl.toJSON())
	}
	respondList(c, "kubernetes_clusters", out)
}

func (s *kubernetesStore) get(c *call) {
	if cl, ok := s.find(c); ok {
		c.respond(http.StatusOK, map[string]any{"kubernetes_cluster": cl.toJSON()})
	}
}

func (s *kubernetesStore) create(c *call) {
	var req k8sClusterCreateRequest
	if !c.decode(&req) {
		return
	}
	cl, err := s.newCluster(req, c.now)
	if err != nil {
		c.unprocessable("%v", err)
		return
	}
	s.clusters[cl.id] = cl
	for _, p := range cl.pools {
		s.addNodes(cl, p, p.count, p.fails, false, c.now)
		s.planAutoscale(p, c.now)
	}
	c.respond(http.StatusCreated, map[string]any{"kubernetes_cluster": cl.toJSON()})
}

// newCluster validates a create request and builds the cluster (without
// nodes). Nothing is stored, and no default VPC created, unless it succeeds.
func (s *kubernetesStore) newCluster(req k8sClusterCreateRequest, now time.Time) (*k8sCluster, error) {
	if err := k8sValidateClusterName(req.Name); err != nil {
		return nil, err
	}
	if s.nameTaken(req.Name, "") {
		return nil, fmt.Errorf("name %q is already used by another Kubernetes cluster in this account; choose a unique name", req.Name)
	}
	// Names of deleted clusters are held a while (terraform-provider-digitalocean PR #198 discussion).
	if _, held := s.e.nameHeld(nameSpaceKubernetes, req.Name, now); held {
		return nil, fmt.Errorf("name %q is not available: a Kubernetes cluster with this name was deleted recently and DigitalOcean still holds the name; choose another name or retry in a few minutes", req.Name)
	}
	if req.Region == "" {
		return nil, fmt.Errorf("region is required; regions: %s", k8sRegionSlugList())
	}
	if _, ok := regionBySlug(req.Region); !ok {
		return nil, fmt.Errorf("region %q is not a valid region; regions: %s", req.Region, k8sRegionSlugList())
	}
	if req.Version == "" {
		return nil, fmt.Errorf("version is required: use \"latest\" or one of %s", strings.Join(kubernetesVersionSlugs(), ", "))
	}
	version, ok := kubernetesVersionBySlug(req.Version)
	if !ok {
		return nil, fmt.Errorf("version %q is not offered; use \"latest\" or one of %s", req.Version, strings.Join(kubernetesVersionSlugs(), ", "))
	}
	if len(req.NodePools) == 0 {
		return nil, errors.New("node_pools must contain at least one node pool")
	}
	if err := k8sValidateTags("tags", req.Tags); err != nil {
		return nil, err
	}
	var v *vpc
	if req.VPCUUID != "" {
		found, ok := s.e.vpcs.find(req.VPCUUID)
		if !ok {
			return nil, fmt.Errorf("vpc_uuid %q does not name a VPC in this account", req.VPCUUID)
		}
		if found.Region != req.Region {
			return nil, fmt.Errorf("vpc_uuid %q is a VPC in region %q, but the cluster is in %q; use a VPC in %s", req.VPCUUID, found.Region, req.Region, req.Region)
		}
		v = found
	}
	if req.WorkerSubnetUUID != "" {
		return nil, fmt.Errorf("worker_subnet_uuid %q does not name a subnet of the VPC; omit it to place workers in the VPC itself", req.WorkerSubnetUUID)
	}
	if req.IsolatedWorkers {
		return nil, errors.New("isolated_workers requires the cluster's VPC to have a NAT gateway attached, and it has none; attach a NAT gateway or omit isolated_workers")
	}
	maint, err := k8sValidateMaintenance(req.MaintenancePolicy, k8sMaintenancePolicyJSON{StartTime: "00:00", Day: "any", Duration: k8sMaintenanceWindow})
	if err != nil {
		return nil, err
	}
	if err := k8sValidateControlPlaneFirewall(req.ControlPlaneFirewall); err != nil {
		return nil, err
	}
	if err := k8sValidateAutoscalerConfig(req.ClusterAutoscalerConfiguration); err != nil {
		return nil, err
	}
	if err := k8sValidateSSO(req.SSO); err != nil {
		return nil, err
	}
	plugins := map[string]bool{}
	if err := k8sApplyPlugins(req.k8sClusterPlugins, plugins, req.GPUOperatorReady); err != nil {
		return nil, err
	}
	taken := map[string]bool{}
	var pools []*k8sPool
	for i, pr := range req.NodePools {
		p, err := k8sValidatePool(fmt.Sprintf("node_pools[%d]", i), pr, req.Region, taken)
		if err != nil {
			return nil, err
		}
		taken[p.name] = true
		p.createdAt = now
		pools = append(pools, p)
	}
	// Subnets are checked against the VPC's range. Without a VPC the cluster
	// goes into the region's default VPC, which DigitalOcean creates only
	// when the create succeeds: check against the range it would take.
	vpcRange, vpcDesc := netip.Prefix{}, ""
	if v != nil {
		vpcRange, vpcDesc = v.prefix, fmt.Sprintf("VPC %s (%s)", v.Name, v.ID)
	} else if def := s.existingDefaultVPC(req.Region); def != nil {
		vpcRange, vpcDesc = def.prefix, fmt.Sprintf("the default VPC %s of %s", def.ID, req.Region)
	} else if p, ok := s.e.vpcs.freeRange(20); ok {
		vpcRange, vpcDesc = p, "the default VPC of "+req.Region
	}
	cs, ss, err := k8sCheckSubnets(req.ClusterSubnet, req.ServiceSubnet, vpcRange, vpcDesc)
	if err != nil {
		return nil, err
	}
	if v == nil {
		v = s.e.vpcs.defaultFor(req.Region, now)
	}
	id := newID()
	h := sha256.Sum256([]byte(id))
	cl := &k8sCluster{
		id: id, name: req.Name, region: req.Region, version: version.Slug,
		clusterSubnet: cs, serviceSub: ss, vpcID: v.ID,
		ipv4:     fmt.Sprintf("164.90.%d.%d", h[0], 1+h[1]%254),
		secret:   randomHex(16),
		userTags: req.Tags, pools: pools, maint: maint,
		autoUpgrade: req.AutoUpgrade, surgeUpgrade: req.SurgeUpgrade,
		ha: req.HA != nil && *req.HA, gpuOperatorReady: req.GPUOperatorReady,
		controlPlaneFirewall: req.ControlPlaneFirewall, autoscalerConfig: req.ClusterAutoscalerConfiguration,
		sso: req.SSO, plugins: plugins,
		state: k8sProvisioning, createdAt: now, updatedAt: now,
		readyAt: now.Add(s.e.scaled(ClusterProvisionDuration)),
		fails:   s.e.takeTransitionFailure(TransitionCluster),
	}
	for _, p := range pools {
		p.fails = s.e.takeTransitionFailure(TransitionNodePool)
	}
	cl.addMessage(now, "Cluster provisioning started")
	return cl, nil
}

func (s *kubernetesStore) update(c *call) {
	cl, ok := s.find(c)
	if !ok {
		return
	}
	var req k8sClusterUpdateRequest
	if !c.decode(&req) {
		return
	}
	if req.Name == nil {
		c.unprocessable("name is required: send the cluster's current name (%q) to keep it", cl.name)
		return
	}
	if err := k8sValidateClusterName(*req.Name); err != nil {
		c.unprocessable("%v", err)
		return
	}
	if s.nameTaken(*req.Name, cl.id) {
		c.unprocessable("name %q is already used by another Kubernetes cluster in this account; choose a unique name", *req.Name)
		return
	}
	if err := k8sValidateTags("tags", req.Tags); err != nil {
		c.unprocessable("%v", err)
		return
	}
	maint, err := k8sValidateMaintenance(req.MaintenancePolicy, cl.maint)
	if err != nil {
		c.unprocessable("%v", err)
		return
	}
	if req.HA != nil && !*req.HA && cl.ha {
		c.unprocessable("ha: high availability cannot be disabled once enabled; create a new cluster without it instead")
		return
	}
	for _, check := range []func() error{
		func() error { return k8sValidateControlPlaneFirewall(req.ControlPlaneFirewall) },
		func() error { return k8sValidateAutoscalerConfig(req.ClusterAutoscalerConfiguration) },
		func() error { return k8sValidateSSO(req.SSO) },
	} {
		if err := check(); err != nil {
			c.unprocessable("%v", err)
			return
		}
	}
	gpuReady := cl.gpuOperatorReady
	if req.GPUOperatorReady != nil {
		gpuReady = *req.GPUOperatorReady
	}
	plugins := maps.Clone(cl.plugins)
	if err := k8sApplyPlugins(req.k8sClusterPlugins, plugins, gpuReady); err != nil {
		c.unprocessable("%v", err)
		return
	}
	cl.name = *req.Name
	if req.Tags != nil {
		cl.userTags = req.Tags
	}
	cl.maint = maint
	if req.AutoUpgrade != nil {
		cl.autoUpgrade = *req.AutoUpgrade
	}
	// surge_upgrade defaults to false: godo omits it when false.
	cl.surgeUpgrade = req.SurgeUpgrade
	if req.HA != nil && *req.HA && !cl.ha {
		cl.ha = true
		cl.addMessage(c.now, "Control plane converted to high availability")
	}
	if req.ControlPlaneFirewall != nil {
		cl.controlPlaneFirewall = req.ControlPlaneFirewall
	}
	if req.ClusterAutoscalerConfiguration != nil {
		cl.autoscalerConfig = req.ClusterAutoscalerConfiguration
	}
	if req.SSO != nil {
		cl.sso = req.SSO
	}
	cl.gpuOperatorReady = gpuReady
	cl.plugins = plugins
	cl.updatedAt = c.now
	c.respond(http.StatusAccepted, map[string]any{"kubernetes_cluster": cl.toJSON()})
}

// remove deletes a cluster: it answers 404 from now on, while its Droplets
// are torn down for DeleteDuration (VPC member, inventory "deleting"); its
// nodes' Droplets linger in the VPC and its name is held.
func (s *kubernetesStore) remove(cl *k8sCluster, now time.Time) {
	delete(s.clusters, cl.id)
	cl.deleteAt = now.Add(s.e.scaled(DeleteDuration))
	s.deleting[cl.id] = cl
	for _, p := range cl.pools {
		for _, n := range p.nodes {
			s.dropletGone(cl, n, now)
		}
	}
	// A deleted cluster's name stays unavailable a while (terraform-provider-digitalocean PR #198 discussion).
	s.e.holdName(nameSpaceKubernetes, cl.name, now)
}

func (s *kubernetesStore) delete(c *call) {
	if cl, ok := s.find(c); ok {
		s.remove(cl, c.now)
		c.noContent()
	}
}

type k8sAssociatedResourceJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// associatedResources lists the load balancers, volumes and snapshots the
// cluster created. The emulator runs no workloads, so there are none.
func (s *kubernetesStore) associatedResources(c *call) {
	if _, ok := s.find(c); ok {
		c.respond(http.StatusOK, map[string]any{
			"load_balancers":   []k8sAssociatedResourceJSON{},
			"volumes":          []k8sAssociatedResourceJSON{},
			"volume_snapshots": []k8sAssociatedResourceJSON{},
		})
	}
}

func (s *kubernetesStore) deleteSelective(c *call) {
	cl, ok := s.find(c)
	if !ok {
		return
	}
	var req struct {
		LoadBalancers   []string `json:"load_balancers"`
		Volumes         []string `json:"volumes"`
		VolumeSnapshots []string `json:"volume_snapshots"`
	}
	if !c.decode(&req) {
		return
	}
	for field, ids := range map[string][]string{"load_balancers": req.LoadBalancers, "volumes": req.Volumes, "volume_snapshots": req.VolumeSnapshots} {
		if len(ids) > 0 {
			c.unprocessable("%s: %q is not associated with cluster %s; list its associated resources with GET .../destroy_with_associated_resources", field, ids[0], cl.id)
			return
		}
	}
	s.remove(cl, c.now)
	c.noContent()
}

func (s *kubernetesStore) deleteDangerous(c *call) {
	if cl, ok := s.find(c); ok {
		s.remove(cl, c.now)
		c.noContent()
	}
}

// ---- credentials ----

// k8sExpiry reads ?expiry_seconds=; 0 or absent means the default (7 days).
func k8sExpiry(c *call) (time.Duration, bool, bool) {
	v := c.query("expiry_seconds")
	if v == "" {
		return k8sDefaultCredentialExpiry, false, true
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > k8sMaxCredentialExpirySeconds {
		c.fail(http.StatusBadRequest, "bad_request", fmt.Sprintf("expiry_seconds must be an integer from 0 (the default, 7 days) to %d; got %q", k8sMaxCredentialExpirySeconds, v))
		return 0, false, false
	}
	if n == 0 {
		return k8sDefaultCredentialExpiry, false, true
	}
	return time.Duration(n) * time.Second, true, true
}

// token derives the cluster's bearer token. A token with an explicit expiry
// is a distinct token from the cluster's default one.
func (cl *k8sCluster) token(expiresAt time.Time, explicit bool) string {
	seed := cl.secret
	if explicit {
		seed += "|" + strconv.FormatInt(expiresAt.Unix(), 10)
	}
	sum := sha256.Sum256([]byte(seed))
	return "doks_" + hex.EncodeToString(sum[:])
}

// caPEM is a stand-in cluster CA certificate (base64 data, not a real key).
func (cl *k8sCluster) caPEM() string {
	sum := sha256.Sum256([]byte("ca|" + cl.id))
	body := base64.StdEncoding.EncodeToString([]byte(strings.Repeat(string(sum[:]), 8)))
	var b strings.Builder
	b.WriteString("-----BEGIN CERTIFICATE-----\n")
	for len(body) > 64 {
		b.WriteString(body[:64] + "\n")
		body = body[64:]
	}
	b.WriteString(body + "\n-----END CERTIFICATE-----\n")
	return b.String()
}

func (s *kubernetesStore) credentials(c *call) {
	cl, ok := s.find(c)
	if !ok {
		return
	}
	d, explicit, ok := k8sExpiry(c)
	if !ok {
		return
	}
	expiresAt := c.now.Add(d).UTC().Truncate(time.Second)
	c.respond(http.StatusOK, map[string]any{
		"server":                     cl.endpoint(),
		"certificate_authority_data": []byte(cl.caPEM()),
		"client_certificate_data":    nil,
		"client_key_data":            nil,
		"token":                      cl.token(expiresAt, explicit),
		"expires_at":                 expiresAt,
	})
}

func (s *kubernetesStore) kubeconfig(c *call) {
	cl, ok := s.find(c)
	if !ok {
		return
	}
	d, explicit, ok := k8sExpiry(c)
	if !ok {
		return
	}
	kind := c.query("type")
	if kind != "" && kind != "token" && kind != "sso" {
		c.fail(http.StatusBadRequest, "bad_request", fmt.Sprintf("type must be token or sso; got %q", kind))
		return
	}
	name := "do-" + cl.region + "-" + cl.name
	var user string
	if kind == "sso" {
		if cl.sso == nil || !cl.sso.Enabled {
			c.unprocessable("type=sso: single sign-on is not enabled on cluster %s; enable sso or use type=token", cl.id)
			return
		}
		user = fmt.Sprintf(`    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: kubectl
      args:
      - oidc-login
      - get-token
      - --oidc-issuer-url=%s
      - --oidc-client-id=%s
`, cl.sso.IssuerURL, cl.sso.ClientID)
	} else {
		expiresAt := c.now.Add(d).UTC().Truncate(time.Second)
		user = "    token: " + cl.token(expiresAt, explicit) + "\n"
	}
	yaml := "apiVersion: v1\n" +
		"clusters:\n" +
		"- cluster:\n" +
		"    certificate-authority-data: " + base64.StdEncoding.EncodeToString([]byte(cl.caPEM())) + "\n" +
		"    server: " + cl.endpoint() + "\n" +
		"  name: " + name + "\n" +
		"contexts:\n" +
		"- context:\n" +
		"    cluster: " + name + "\n" +
		"    user: " + name + "-admin\n" +
		"  name: " + name + "\n" +
		"current-context: " + name + "\n" +
		"kind: Config\n" +
		"preferences: {}\n" +
		"users:\n" +
		"- name: " + name + "-admin\n" +
		"  user:\n" + user
	c.w.Header().Set("Content-Type", "application/yaml")
	c.w.Header().Set("Content-Length", strconv.Itoa(len(yaml)))
	c.w.WriteHeader(http.StatusOK)
	_, _ = c.w.Write([]byte(yaml))
}

func (s *kubernetesStore) user(c *call) {
	if _, ok := s.find(c); ok {
		c.respond(http.StatusOK, map[string]any{"kubernetes_cluster_user": map[string]any{
			"username": "emulator@example.com",
			"groups":   []string{"k8saas:authenticated"},
		}})
	}
}

// ---- upgrades ----

func (s *kubernetesStore) upgrades(c *call) {
	cl, ok := s.find(c)
	if !ok {
		return
	}
	out := upgradesFrom(cl.version)
	if out == nil {
		out = []kubernetesVersion{}
	}
	c.respond(http.StatusOK, map[string]any{"available_upgrade_versions": out})
}

func (s *kubernetesStore) upgrade(c *call) {
	cl, ok := s.find(c)
	if !ok {
		return
	}
	var req struct {
		Version string `json:"version"`
	}
	if !c.decode(&req) {
		return
	}
	options := upgradesFrom(cl.version)
	slugs := make([]string, len(options))
	for i, v := range options {
		slugs[i] = v.Slug
	}
	available := strings.Join(slugs, ", ")
	if available == "" {
		available = "none (the cluster runs the newest version)"
	}
	if req.Version == "" {
		c.unprocessable("version is required; available upgrades: %s", available)
		return
	}
	target := req.Version
	if target == "latest" && len(options) > 0 {
		target = options[0].Slug
	}
	if !slices.Contains(slugs, target) {
		c.unprocessable("version %q is not an available upgrade for a cluster on %s; available upgrades: %s", req.Version, cl.version, available)
		return
	}
	if cl.state != k8sRunning {
		c.unprocessable("cluster %s is %s; it can be upgraded only when running", cl.id, cl.state)
		return
	}
	cl.state, cl.message = k8sUpgrading, "upgrading to "+target
	cl.upgradeTo = target
	cl.upgradeDoneAt = c.now.Add(s.e.scaled(ClusterUpgradeDuration))
	cl.updatedAt = c.now
	cl.addMessage(c.now, "Cluster upgrade to "+target+" started")
	c.w.WriteHeader(http.StatusAccepted)
}

func (s *kubernetesStore) statusMessages(c *call) {
	cl, ok := s.find(c)
	if !ok {
		return
	}
	var since time.Time
	if v := c.query("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			c.fail(http.StatusBadRequest, "bad_request", fmt.Sprintf("since must be an RFC 3339 date-time; got %q", v))
			return
		}
		since = t
	}
	out := []k8sStatusMessageJSON{}
	for _, m := range cl.messages {
		if !m.Timestamp.Before(since) {
			out = append(out, m)
		}
	}
	c.respond(http.StatusOK, map[string]any{"messages": out})
}

// ---- handlers: node pools ----

func (s *kubernetesStore) findPool(c *call) (*k8sCluster, *k8sPool, bool) {
	cl, ok := s.find(c)
	if !ok {
		return nil, nil, false
	}
	id := c.param("node_pool_id")
	for _, p := range cl.pools {
		if p.id == id {
			return cl, p, true
		}
	}
	c.notFound()
	return nil, nil, false
}

// k8sChangeable answers 422 unless the cluster accepts node pool changes.
func k8sChangeable(c *call, cl *k8sCluster) bool {
	if cl.state == k8sError {
		c.unprocessable("cluster %s is in state error and cannot be changed; delete it and create it again", cl.id)
		return false
	}
	return true
}

func (s *kubernetesStore) listPools(c *call) {
	cl, ok := s.find(c)
	if !ok {
		return
	}
	out := make([]k8sNodePoolJSON, 0, len(cl.pools))
	for _, p := range cl.pools {
		out = append(out, cl.poolJSON(p))
	}
	respondList(c, "node_pools", out)
}

func (s *kubernetesStore) getPool(c *call) {
	if cl, p, ok := s.findPool(c); ok {
		c.respond(http.StatusOK, map[string]any{"node_pool": cl.poolJSON(p)})
	}
}

func (s *kubernetesStore) createPool(c *call) {
	cl, ok := s.find(c)
	if !ok {
		return
	}
	var req k8sNodePoolRequest
	if !c.decode(&req) || !k8sChangeable(c, cl) {
		return
	}
	taken := map[string]bool{}
	for _, p := range cl.pools {
		taken[p.name] = true
	}
	p, err := k8sValidatePool("node_pool", req, cl.region, taken)
	if err != nil {
		c.unprocessable("%v", err)
		return
	}
	p.createdAt = c.now
	p.fails = s.e.takeTransitionFailure(TransitionNodePool)
	cl.pools = append(cl.pools, p)
	s.addNodes(cl, p, p.count, p.fails, false, c.now)
	s.planAutoscale(p, c.now)
	cl.updatedAt = c.now
	c.respond(http.StatusCreated, map[string]any{"node_pool": cl.poolJSON(p)})
}

func (s *kubernetesStore) updatePool(c *call) {
	cl, p, ok := s.findPool(c)
	if !ok {
		return
	}
	var req struct {
		Name      *string           `json:"name"`
		Size      *string           `json:"size"`
		Count     *int              `json:"count"`
		Tags      []string          `json:"tags"`
		Labels    map[string]string `json:"labels"`
		Taints    *[]k8sTaintJSON   `json:"taints"`
		AutoScale *bool             `json:"auto_scale"`
		MinNodes  *int              `json:"min_nodes"`
		MaxNodes  *int              `json:"max_nodes"`
	}
	if !c.decode(&req) || !k8sChangeable(c, cl) {
		return
	}
	if req.Name == nil || *req.Name == "" {
		c.unprocessable("name is required: send the pool's current name (%q) to keep it", p.name)
		return
	}
	if *req.Name != p.name {
		if len(*req.Name) > 57 || !k8sPoolNamePattern.MatchString(*req.Name) {
			c.unprocessable("name %q is invalid: node names derive from it, so use lowercase letters, digits and dashes, starting and ending with a letter or digit (at most 57 characters)", *req.Name)
			return
		}
		for _, o := range cl.pools {
			if o != p && o.name == *req.Name {
				c.unprocessable("name %q is already used by another node pool of this cluster; pool names must be unique", *req.Name)
				return
			}
		}
	}
	if req.Size != nil && *req.Size != p.size {
		c.unprocessable("size cannot be changed (the pool runs %s): create a new node pool with size %s and delete this one", p.size, *req.Size)
		return
	}
	autoScale := p.autoScale
	if req.AutoScale != nil {
		autoScale = *req.AutoScale
	}
	minNodes, maxNodes := req.MinNodes, req.MaxNodes
	if autoScale && req.AutoScale == nil {
		// Bounds not resent keep their values.
		if minNodes == nil {
			minNodes = &p.minNodes
		}
		if maxNodes == nil {
			maxNodes = &p.maxNodes
		}
	}
	count := req.Count
	if count == nil {
		cur := p.count
		if autoScale {
			lo, hi := 0, 0
			if minNodes != nil {
				lo = *minNodes
			}
			if maxNodes != nil {
				hi = *maxNodes
			}
			cur = min(max(cur, lo), max(hi, lo))
		}
		count = &cur
	}
	n, lo, hi, err := k8sPoolScaling("node_pool", autoScale, count, minNodes, maxNodes)
	if err != nil {
		c.unprocessable("%v", err)
		return
	}
	if err := k8sValidateTags("tags", req.Tags); err != nil {
		c.unprocessable("%v", err)
		return
	}
	if err := k8sValidateLabels("labels", req.Labels); err != nil {
		c.unprocessable("%v", err)
		return
	}
	if req.Taints != nil {
		if err := k8sValidateTaints("taints", *req.Taints); err != nil {
			c.unprocessable("%v", err)
			return
		}
	}
	p.name = *req.Name
	if req.Tags != nil {
		p.userTags = req.Tags
	}
	if req.Labels != nil {
		p.userLabels = req.Labels
	}
	if req.Taints != nil {
		p.userTaints = *req.Taints
	}
	wasAutoScaled := p.autoScale
	p.autoScale, p.minNodes, p.maxNodes = autoScale, lo, hi
	if autoScale != wasAutoScaled {
		s.planAutoscale(p, c.now)
	}
	if n != p.count || len(p.activeNodes()) != n {
		s.resize(cl, p, n, c.now)
	}
	cl.updatedAt = c.now
	c.respond(http.StatusAccepted, map[string]any{"node_pool": cl.poolJSON(p)})
}

func (s *kubernetesStore) deletePool(c *call) {
	cl, p, ok := s.findPool(c)
	if !ok {
		return
	}
	if len(cl.pools) == 1 {
		c.unprocessable("node pool %q is the cluster's last node pool; a cluster needs at least one (add another pool first, or delete the cluster)", p.name)
		return
	}
	cl.pools = slices.DeleteFunc(cl.pools, func(o *k8sPool) bool { return o == p })
	for _, n := range p.nodes {
		s.dropletGone(cl, n, c.now)
	}
	p.deleteAt = c.now.Add(s.e.scaled(DeleteDuration))
	cl.deletingPools = append(cl.deletingPools, p)
	cl.updatedAt = c.now
	c.noContent()
}

func k8sQueryFlag(c *call, name string) (bool, bool) {
	switch v := c.query(name); v {
	case "", "0", "false":
		return false, true
	case "1", "true":
		return true, true
	default:
		c.fail(http.StatusBadRequest, "bad_request", fmt.Sprintf("%s must be 0 or 1; got %q", name, v))
		return false, false
	}
}

// deleteNode removes one node, draining it first unless skip_drain=1. With
// replace=1 a new node takes its place; otherwise the pool shrinks by one.
func (s *kubernetesStore) deleteNode(c *call) {
	cl, p, ok := s.findPool(c)
	if !ok {
		return
	}
	skipDrain, ok := k8sQueryFlag(c, "skip_drain")
	if !ok {
		return
	}
	replace, ok := k8sQueryFlag(c, "replace")
	if !ok {
		return
	}
	var node *k8sNode
	for _, n := range p.nodes {
		if n.id == c.param("node_id") {
			node = n
		}
	}
	if node == nil {
		c.notFound()
		return
	}
	if !k8sChangeable(c, cl) {
		return
	}
	if node.state == k8sNodeDraining || node.state == k8sNodeDeleting {
		c.unprocessable("node %s is already being deleted (state %s)", node.name, node.state)
		return
	}
	if !replace {
		floor := 1
		if p.autoScale {
			floor = p.minNodes
		}
		if p.count-1 < floor {
			c.unprocessable("deleting node %s would take pool %q below its minimum of %d node(s); pass replace=1 to replace it instead", node.name, p.name, floor)
			return
		}
		p.count--
	}
	s.retireNode(node, skipDrain, c.now)
	if replace {
		s.addNodes(cl, p, 1, false, true, c.now)
	}
	cl.updatedAt = c.now
	c.w.WriteHeader(http.StatusAccepted)
}
