package provider

import (
	"context"
	"maps"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/attach-labs/terraform-provider-attach/internal/stack"
)

// The Terraform model of attach_inference_stack and its mapping onto the
// engine's Spec (what to build) and from its Status (what exists). The
// engine's full Status (ids of every part, pool names, passwords...) lives
// in the resource's private state; the schema exposes what users need.

type stackModel struct {
	ID                  types.String                `tfsdk:"id"`
	OwnerID             types.String                `tfsdk:"owner_id"`
	Name                types.String                `tfsdk:"name"`
	Region              types.String                `tfsdk:"region"`
	ProjectID           types.String                `tfsdk:"project_id"`
	Tags                []types.String              `tfsdk:"tags"`
	VPCID               types.String                `tfsdk:"vpc_id"`
	VPCIPRange          types.String                `tfsdk:"vpc_ip_range"`
	StoreSecrets        types.Bool                  `tfsdk:"store_secrets"`
	Cluster             *clusterModel               `tfsdk:"cluster"`
	Databases           map[string]*databaseModel   `tfsdk:"databases"`
	KubernetesSecrets   map[string]*kubeSecretModel `tfsdk:"kubernetes_secrets"`
	Timeouts            timeouts.Value              `tfsdk:"timeouts"`
	ClusterID           types.String                `tfsdk:"cluster_id"`
	ClusterURN          types.String                `tfsdk:"cluster_urn"`
	ClusterEndpoint     types.String                `tfsdk:"cluster_endpoint"`
	ClusterVersion      types.String                `tfsdk:"cluster_version"`
	Kubeconfig          types.String                `tfsdk:"kubeconfig"`
	KubeconfigExpiresAt types.String                `tfsdk:"kubeconfig_expires_at"`
	ConnectionEnv       types.Map                   `tfsdk:"connection_env"`
	Pending             types.String                `tfsdk:"pending"`
}

type clusterModel struct {
	Version           types.String              `tfsdk:"version"`
	HA                types.Bool                `tfsdk:"ha"`
	AutoUpgrade       types.Bool                `tfsdk:"auto_upgrade"`
	SurgeUpgrade      types.Bool                `tfsdk:"surge_upgrade"`
	MaintenanceWindow *clusterWindowModel       `tfsdk:"maintenance_window"`
	ClusterSubnet     types.String              `tfsdk:"cluster_subnet"`
	KeepAssociated    types.Bool                `tfsdk:"keep_associated_resources"`
	ServiceSubnet     types.String              `tfsdk:"service_subnet"`
	SystemPool        *nodePoolModel            `tfsdk:"system_pool"`
	GPUPools          map[string]*nodePoolModel `tfsdk:"gpu_pools"`

	ControlPlaneFirewall *controlPlaneFirewallModel `tfsdk:"control_plane_firewall"`
	Autoscaler           *autoscalerModel           `tfsdk:"cluster_autoscaler_configuration"`
	KubeconfigExpiry     types.Int64                `tfsdk:"kubeconfig_expiry_seconds"`

	// The GPU device plugins and the routing agent (cluster_plugins.go).
	clusterPluginsModel
}

type clusterWindowModel struct {
	Day       types.String `tfsdk:"day"`
	StartTime types.String `tfsdk:"start_time"`
}

type nodePoolModel struct {
	Size      types.String      `tfsdk:"size"`
	NodeCount types.Int64       `tfsdk:"node_count"`
	MinNodes  types.Int64       `tfsdk:"min_nodes"`
	MaxNodes  types.Int64       `tfsdk:"max_nodes"`
	Labels    map[string]string `tfsdk:"labels"`
	// Taints is a types.List: GPU pools compute a default, unknown until
	// planned.
	Taints types.List `tfsdk:"taints"`

	Tags []types.String `tfsdk:"tags"`
}

type taintModel struct {
	Key    types.String `tfsdk:"key"`
	Value  types.String `tfsdk:"value"`
	Effect types.String `tfsdk:"effect"`
}

type databaseModel struct {
	ExistingID         types.String             `tfsdk:"existing_id"`
	Engine             types.String             `tfsdk:"engine"`
	Version            types.String             `tfsdk:"version"`
	Size               types.String             `tfsdk:"size"`
	NodeCount          types.Int64              `tfsdk:"node_count"`
	StorageSizeMiB     types.Int64              `tfsdk:"storage_size_mib"`
	MaintenanceWindow  *databaseWindowModel     `tfsdk:"maintenance_window"`
	DBs                []types.String           `tfsdk:"dbs"`
	Users              []types.String           `tfsdk:"users"`
	RotatePasswords    map[string]types.Int64   `tfsdk:"rotate_passwords"`
	Pools              map[string]*poolModel    `tfsdk:"pools"`
	Replicas           map[string]*replicaModel `tfsdk:"replicas"`
	EvictionPolicy     types.String             `tfsdk:"eviction_policy"`
	TrustedSources     []ruleModel              `tfsdk:"trusted_sources"`
	DeletionProtection types.Bool               `tfsdk:"deletion_protection"`
	RetainOnDestroy    types.Bool               `tfsdk:"retain_on_destroy"`

	ID                types.String `tfsdk:"id"`
	URN               types.String `tfsdk:"urn"`
	PrivateHost       types.String `tfsdk:"private_host"`
	Port              types.Int64  `tfsdk:"port"`
	User              types.String `tfsdk:"user"`
	Password          types.String `tfsdk:"password"`
	Database          types.String `tfsdk:"database"`
	PrivateURI        types.String `tfsdk:"private_uri"`
	AttachedClusterID types.String `tfsdk:"attached_cluster_id"`

	StorageAutoscale *storageAutoscaleModel `tfsdk:"storage_autoscale"`
	Config           types.Map              `tfsdk:"config"`

	UserSettings map[string]*userSettingsModel `tfsdk:"user_settings"`
	Topics       map[string]*topicModel        `tfsdk:"topics"`
	RestoreFrom  *restoreFromModel             `tfsdk:"restore_from"`
}

type storageAutoscaleModel struct {
	Enabled          types.Bool  `tfsdk:"enabled"`
	ThresholdPercent types.Int64 `tfsdk:"threshold_percent"`
	IncrementGiB     types.Int64 `tfsdk:"increment_gib"`
}

func (a *storageAutoscaleModel) toSpec() *stack.StorageAutoscale {
	if a == nil {
		return nil
	}
	return &stack.StorageAutoscale{Enabled: a.Enabled.ValueBool(), ThresholdPercent: int(a.ThresholdPercent.ValueInt64()), IncrementGiB: int(a.IncrementGiB.ValueInt64())}
}

func storageAutoscaleOf(a *stack.StorageAutoscale) *storageAutoscaleModel {
	if a == nil {
		return nil
	}
	return &storageAutoscaleModel{Enabled: types.BoolValue(a.Enabled), ThresholdPercent: types.Int64Value(int64(a.ThresholdPercent)), IncrementGiB: types.Int64Value(int64(a.IncrementGiB))}
}

type databaseWindowModel struct {
	Day  types.String `tfsdk:"day"`
	Hour types.String `tfsdk:"hour"`
}

type poolModel struct {
	Mode        types.String `tfsdk:"mode"`
	Size        types.Int64  `tfsdk:"size"`
	DB          types.String `tfsdk:"db"`
	User        types.String `tfsdk:"user"`
	PrivateHost types.String `tfsdk:"private_host"`
	Port        types.Int64  `tfsdk:"port"`
	PrivateURI  types.String `tfsdk:"private_uri"`
}

type replicaModel struct {
	Region      types.String `tfsdk:"region"`
	Size        types.String `tfsdk:"size"`
	ID          types.String `tfsdk:"id"`
	PrivateHost types.String `tfsdk:"private_host"`
}

type ruleModel struct {
	Type  types.String `tfsdk:"type"`
	Value types.String `tfsdk:"value"`
}

// toSpec maps a planned (fully known for configuration values) model onto
// the engine's Spec. vpcGiven says the configuration names an existing VPC
// (vpc_id alone cannot tell a configured id from a computed one).
func (m *stackModel) toSpec(vpcGiven bool) stack.Spec {
	s := stack.Spec{
		Name:      m.Name.ValueString(),
		Owner:     m.OwnerID.ValueString(),
		Region:    m.Region.ValueString(),
		ProjectID: m.ProjectID.ValueString(),
		Tags:      valueStrings(m.Tags),
		Databases: map[string]stack.DatabaseSpec{},
	}
	if vpcGiven && !m.VPCID.IsUnknown() {
		s.VPC.ID = m.VPCID.ValueString()
	}
	s.VPC.IPRange = m.VPCIPRange.ValueString()
	if c := m.Cluster; c != nil {
		s.Cluster = stack.ClusterSpec{
			VersionPrefix: c.Version.ValueString(),
			Version:       m.ClusterVersion.ValueString(),
			HA:            c.HA.ValueBool(),
			AutoUpgrade:   c.AutoUpgrade.ValueBool(),
			SurgeUpgrade:  c.SurgeUpgrade.ValueBool(),
			ClusterSubnet: c.ClusterSubnet.ValueString(),
			ServiceSubnet: c.ServiceSubnet.ValueString(),
			GPUPools:      map[string]stack.NodePoolSpec{},

			KeepAssociatedResources: c.KeepAssociated.ValueBool(),
		}
		if w := c.MaintenanceWindow; w != nil {
			s.Cluster.MaintenanceDay, s.Cluster.MaintenanceStart = w.Day.ValueString(), w.StartTime.ValueString()
		}
		if c.SystemPool != nil {
			s.Cluster.SystemPool = c.SystemPool.toSpec()
		}
		for k, p := range c.GPUPools {
			s.Cluster.GPUPools[k] = p.toSpec()
		}
		s.Cluster.ControlPlaneFirewall = c.ControlPlaneFirewall.toSpec()
		s.Cluster.Autoscaler = c.Autoscaler.toSpec()
		s.Cluster.Plugins = c.clusterPluginsModel.toSpec()
		if e := c.KubeconfigExpiry; !e.IsNull() && !e.IsUnknown() {
			s.Cluster.KubeconfigLifetime = time.Duration(e.ValueInt64()) * time.Second
		}
	}
	for k, d := range m.Databases {
		s.Databases[k] = d.toSpec()
	}
	s.OmitSecrets = m.secretsOmitted()
	s.KubernetesSecrets = m.kubernetesSecretsSpec()
	return s
}

// secretsOmitted reports store_secrets = false (unset, as after an import,
// is the default: true).
func (m *stackModel) secretsOmitted() bool {
	return !m.StoreSecrets.IsNull() && !m.StoreSecrets.IsUnknown() && !m.StoreSecrets.ValueBool()
}

// dropSecrets nulls every credential attribute (store_secrets = false).
func (m *stackModel) dropSecrets() {
	m.Kubeconfig, m.KubeconfigExpiresAt = types.StringNull(), types.StringNull()
	m.ConnectionEnv = types.MapNull(types.StringType)
	for _, d := range m.Databases {
		d.Password, d.PrivateURI = types.StringNull(), types.StringNull()
		for _, p := range d.Pools {
			p.PrivateURI = types.StringNull()
		}
	}
}

func (p *nodePoolModel) toSpec() stack.NodePoolSpec {
	s := stack.NodePoolSpec{
		Size:   p.Size.ValueString(),
		Labels: maps.Clone(p.Labels),
	}
	if !p.MaxNodes.IsNull() && !p.MaxNodes.IsUnknown() {
		s.AutoScale, s.MinNodes, s.MaxNodes = true, int(p.MinNodes.ValueInt64()), int(p.MaxNodes.ValueInt64())
	} else {
		s.NodeCount = int(p.NodeCount.ValueInt64())
	}
	for _, t := range taintsOf(p.Taints) {
		s.Taints = append(s.Taints, stack.Taint{Key: t.Key.ValueString(), Value: t.Value.ValueString(), Effect: t.Effect.ValueString()})
	}
	s.Tags = valueStrings(p.Tags)
	return s
}

var taintObjectType = types.ObjectType{AttrTypes: map[string]attr.Type{"key": types.StringType, "value": types.StringType, "effect": types.StringType}}

// taintsOf reads a taint list (nil when null or unknown).
func taintsOf(l types.List) []taintModel {
	if l.IsNull() || l.IsUnknown() {
		return nil
	}
	var out []taintModel
	_ = l.ElementsAs(context.Background(), &out, false)
	return out
}

// taintList builds a taint list; nil gives null.
func taintList(ts []taintModel) types.List {
	if ts == nil {
		return types.ListNull(taintObjectType)
	}
	l, _ := types.ListValueFrom(context.Background(), taintObjectType, ts)
	return l
}

func (d *databaseModel) toSpec() stack.DatabaseSpec {
	s := stack.DatabaseSpec{
		ExistingID:         d.ExistingID.ValueString(),
		Engine:             d.Engine.ValueString(),
		Version:            d.Version.ValueString(),
		Size:               d.Size.ValueString(),
		NodeCount:          int(d.NodeCount.ValueInt64()),
		StorageMiB:         int(d.StorageSizeMiB.ValueInt64()),
		DBs:                valueStrings(d.DBs),
		Users:              valueStrings(d.Users),
		Pools:              map[string]stack.PoolSpec{},
		Replicas:           map[string]stack.ReplicaSpec{},
		EvictionPolicy:     d.EvictionPolicy.ValueString(),
		DeletionProtection: d.DeletionProtection.ValueBool(),
		RetainOnDestroy:    d.RetainOnDestroy.ValueBool(),
	}
	if w := d.MaintenanceWindow; w != nil {
		s.MaintenanceDay, s.MaintenanceHour = w.Day.ValueString(), w.Hour.ValueString()
	}
	for name, v := range d.RotatePasswords {
		if !v.IsNull() && !v.IsUnknown() {
			if s.Rotations == nil {
				s.Rotations = map[string]int{}
			}
			s.Rotations[name] = int(v.ValueInt64())
		}
	}
	for k, p := range d.Pools {
		s.Pools[k] = stack.PoolSpec{Mode: p.Mode.ValueString(), Size: int(p.Size.ValueInt64()), DB: p.DB.ValueString(), User: p.User.ValueString()}
	}
	for k, r := range d.Replicas {
		s.Replicas[k] = stack.ReplicaSpec{Region: r.Region.ValueString(), Size: r.Size.ValueString()}
	}
	for _, r := range d.TrustedSources {
		s.TrustedSources = append(s.TrustedSources, stack.Rule{Type: r.Type.ValueString(), Value: r.Value.ValueString()})
	}
	s.StorageAutoscale = d.StorageAutoscale.toSpec()
	s.Config = d.configSpec()
	s.UserSettings = userSettingsSpec(d.UserSettings)
	s.Topics = topicsSpec(d.Topics)
	s.RestoreFrom = d.RestoreFrom.toSpec()
	return s
}

// setComputed fills every computed attribute from what exists.
func (m *stackModel) setComputed(st *stack.Status) {
	m.ID = m.Name
	m.OwnerID = types.StringValue(st.Owner)
	m.Pending = types.StringValue(strings.Join(st.Pending(), "; "))
	m.VPCID = types.StringValue(st.VPCID)
	if c := st.Cluster; c != nil {
		m.ClusterID, m.ClusterURN, m.ClusterEndpoint = types.StringValue(c.ID), types.StringValue(c.URN), types.StringValue(c.Endpoint)
		m.ClusterVersion = types.StringValue(c.Version)
		m.Kubeconfig = types.StringValue(c.Kubeconfig)
		m.KubeconfigExpiresAt = types.StringValue("")
		if !c.KubeconfigExpiresAt.IsZero() {
			m.KubeconfigExpiresAt = types.StringValue(c.KubeconfigExpiresAt.UTC().Format(time.RFC3339))
		}
	} else {
		for _, v := range []*types.String{&m.ClusterID, &m.ClusterURN, &m.ClusterEndpoint, &m.Kubeconfig, &m.KubeconfigExpiresAt} {
			*v = types.StringValue("")
		}
		if m.ClusterVersion.IsUnknown() {
			m.ClusterVersion = types.StringValue("")
		}
	}
	for key, d := range m.Databases {
		ds := st.Databases[key]
		if ds == nil {
			d.clearComputed()
			continue
		}
		d.ID, d.URN = types.StringValue(ds.ID), types.StringValue(ds.URN)
		d.PrivateHost, d.Port = types.StringValue(ds.PrivateHost), types.Int64Value(int64(ds.Port))
		d.User, d.Password, d.Database = types.StringValue(ds.User), types.StringValue(ds.Password), types.StringValue(ds.Database)
		d.PrivateURI = types.StringValue(ds.PrivateURI)
		d.AttachedClusterID = types.StringValue(ds.AttachedClusterID)
		if d.Engine.IsUnknown() || d.Engine.IsNull() {
			d.Engine = types.StringValue(ds.Engine)
		}
		if d.Version.IsUnknown() || d.Version.IsNull() {
			d.Version = types.StringValue(ds.Version)
		}
		if d.Size.IsUnknown() || d.Size.IsNull() {
			d.Size = types.StringValue(ds.Size)
		}
		if d.NodeCount.IsUnknown() || d.NodeCount.IsNull() {
			d.NodeCount = types.Int64Value(int64(ds.NodeCount))
		}
		if d.StorageSizeMiB.IsUnknown() || d.StorageSizeMiB.IsNull() {
			d.StorageSizeMiB = types.Int64Value(int64(ds.StorageMiB))
		}
		for name, p := range d.Pools {
			ps := ds.Pools[name]
			if ps == nil {
				p.PrivateHost, p.Port, p.PrivateURI = types.StringValue(""), types.Int64Value(0), types.StringValue("")
				continue
			}
			p.PrivateHost, p.Port, p.PrivateURI = types.StringValue(ps.PrivateHost), types.Int64Value(int64(ps.Port)), types.StringValue(ps.PrivateURI)
		}
		for name, r := range d.Replicas {
			rs := ds.Replicas[name]
			if rs == nil {
				r.ID, r.PrivateHost = types.StringValue(""), types.StringValue("")
				if r.Region.IsUnknown() {
					r.Region = types.StringValue("")
				}
				if r.Size.IsUnknown() {
					r.Size = types.StringValue("")
				}
				continue
			}
			r.ID, r.PrivateHost = types.StringValue(rs.ID), types.StringValue(rs.PrivateHost)
			if r.Region.IsUnknown() || r.Region.IsNull() {
				r.Region = types.StringValue(rs.Region)
			}
			if r.Size.IsUnknown() || r.Size.IsNull() {
				r.Size = types.StringValue(rs.Size)
			}
		}
	}
	m.ConnectionEnv = connectionEnv(m.Databases, st)
	m.setKubernetesSecrets(st)
	if m.StoreSecrets.IsNull() || m.StoreSecrets.IsUnknown() {
		m.StoreSecrets = types.BoolValue(true) // the default (an imported stack)
	}
	if m.secretsOmitted() {
		m.dropSecrets()
	}
}

func (d *databaseModel) clearComputed() {
	for _, v := range []*types.String{&d.ID, &d.URN, &d.PrivateHost, &d.User, &d.Password, &d.Database, &d.PrivateURI, &d.AttachedClusterID} {
		*v = types.StringValue("")
	}
	d.Port = types.Int64Value(0)
	for _, v := range []*types.String{&d.Engine, &d.Version, &d.Size} {
		if v.IsUnknown() {
			*v = types.StringValue("")
		}
	}
	for _, v := range []*types.Int64{&d.NodeCount, &d.StorageSizeMiB} {
		if v.IsUnknown() {
			*v = types.Int64Value(0)
		}
	}
	for _, p := range d.Pools {
		p.PrivateHost, p.Port, p.PrivateURI = types.StringValue(""), types.Int64Value(0), types.StringValue("")
	}
	for _, r := range d.Replicas {
		r.ID, r.PrivateHost = types.StringValue(""), types.StringValue("")
		if r.Region.IsUnknown() {
			r.Region = types.StringValue("")
		}
		if r.Size.IsUnknown() {
			r.Size = types.StringValue("")
		}
	}
}

// connectionEnv is the ready-to-use environment for a Kubernetes Secret:
// per database <KEY>_DATABASE_URL, _HOST, _PORT, _USER, _PASSWORD,
// _DATABASE; per pool <KEY>_<POOL>_POOL_URL; per user <KEY>_<USER>_PASSWORD.
// A workload reads <KEY>_DATABASE_URL, so when the database has users it
// connects as the app user (see appUser), never as the admin; the admin's
// URL is <KEY>_ADMIN_DATABASE_URL, named so that nothing reads it by default.
func connectionEnv(dbs map[string]*databaseModel, st *stack.Status) types.Map {
	env := map[string]string{}
	for key := range dbs {
		ds := st.Databases[key]
		if ds == nil {
			continue
		}
		p := stack.EnvPrefix(key)
		env[p+"_ADMIN_DATABASE_URL"] = ds.PrivateURI
		env[p+"_DATABASE_URL"] = ds.PrivateURI
		env[p+"_HOST"] = ds.PrivateHost
		env[p+"_PORT"] = itoa(ds.Port)
		env[p+"_USER"] = ds.User
		env[p+"_PASSWORD"] = ds.Password
		database := ds.Database
		if user, db, ok := appUser(ds); ok {
			pw := ds.Users[user]
			env[p+"_USER"], env[p+"_PASSWORD"] = user, pw
			if db != "" {
				database = db
			}
			env[p+"_DATABASE_URL"] = withCredentials(ds.PrivateURI, user, pw, db)
		}
		if database != "" {
			env[p+"_DATABASE"] = database
		}
		for name, pool := range ds.Pools {
			env[p+"_"+stack.EnvPrefix(name)+"_POOL_URL"] = pool.PrivateURI
		}
		for name, pw := range ds.Users {
			env[p+"_"+stack.EnvPrefix(name)+"_PASSWORD"] = pw
		}
	}
	vals := map[string]types.String{}
	for k, v := range env {
		vals[k] = types.StringValue(v)
	}
	out, _ := types.MapValueFrom(context.Background(), types.StringType, vals)
	return out
}

// appUser is the user <KEY>_DATABASE_URL connects as: the first user, in
// sort order, named like one of the database's dbs (it connects to that db,
// as the inference-stack module's app_databases make them), else the first
// user in sort order (to the default db). ok is false when the database has
// no users of its own (valkey, opensearch, kafka or none configured): then
// the URL is the admin's.
func appUser(ds *stack.DatabaseStatus) (user, db string, ok bool) {
	users := slices.Sorted(maps.Keys(ds.Users))
	if len(users) == 0 {
		return "", "", false
	}
	for _, u := range users {
		if slices.Contains(ds.DBs, u) {
			return u, u, true
		}
	}
	return users[0], "", true
}

// withCredentials is uri with user and password in place of the admin's
// and, when db is set, db as its path (its query, e.g. sslmode, is kept).
func withCredentials(uri, user, password, db string) string {
	u, err := url.Parse(uri)
	if err != nil || uri == "" {
		return uri
	}
	u.User = url.UserPassword(user, password)
	if db != "" {
		u.Path = "/" + db
	}
	return u.String()
}

// observe overlays what exists onto the configuration-shaped attributes, so
// changes made outside Terraform show in the next plan. Values that are
// only defaults or API normalisations are left as they are.
func (m *stackModel) observe(st *stack.Status) {
	// A configured range is compared with the VPC's real one, so a VPC
	// adopted by import (or changed outside) shows its range in the plan.
	if !m.VPCIPRange.IsNull() && st.VPCIPRange != "" && st.VPCOwned {
		m.VPCIPRange = types.StringValue(st.VPCIPRange)
	}
	if c := st.Cluster; c != nil && m.Cluster != nil {
		m.Cluster.HA = types.BoolValue(c.HA)
		m.Cluster.AutoUpgrade = types.BoolValue(c.AutoUpgrade)
		m.Cluster.SurgeUpgrade = types.BoolValue(c.SurgeUpgrade)
		if w := m.Cluster.MaintenanceWindow; w != nil {
			w.Day, w.StartTime = types.StringValue(c.MaintenanceDay), types.StringValue(c.MaintenanceStart)
		}
		if sp := c.Pools[stack.SystemPoolName]; sp != nil {
			m.Cluster.SystemPool = observePool(m.Cluster.SystemPool, sp.Spec)
		} else if m.Cluster.SystemPool != nil {
			m.Cluster.SystemPool.Size = types.StringValue("")
		}
		observed := map[string]*nodePoolModel{}
		for key, prior := range m.Cluster.GPUPools {
			if ps := c.Pools[key]; ps != nil {
				observed[key] = observePool(prior, ps.Spec)
			}
		}
		if len(observed) > 0 || m.Cluster.GPUPools != nil {
			m.Cluster.GPUPools = observed
		}
		m.Cluster.ControlPlaneFirewall = observeFirewall(m.Cluster.ControlPlaneFirewall, c.ControlPlaneFirewall)
		m.Cluster.Autoscaler = observeAutoscaler(m.Cluster.Autoscaler, c.Autoscaler)
		m.Cluster.clusterPluginsModel = observedPlugins(c.Plugins)
		// Null in a state written before the setting existed: the lifetime
		// used, so the upgrade plans no change.
		if m.Cluster.KubeconfigExpiry.IsNull() {
			m.Cluster.KubeconfigExpiry = kubeconfigExpiry(c)
		}
	}
	for key, d := range m.Databases {
		ds := st.Databases[key]
		if ds == nil {
			delete(m.Databases, key)
			continue
		}
		if ds.Owned {
			d.Size, d.NodeCount = types.StringValue(ds.Size), types.Int64Value(int64(ds.NodeCount))
			if !d.StorageSizeMiB.IsNull() {
				d.StorageSizeMiB = types.Int64Value(int64(ds.StorageMiB))
			}
			if w := d.MaintenanceWindow; w != nil {
				w.Day, w.Hour = types.StringValue(ds.MaintenanceDay), types.StringValue(ds.MaintenanceHour)
			}
		}
		d.DBs = keepEmptyForm(d.DBs, ds.DBs)
		d.Users = keepEmptyForm(d.Users, sortedKeys(ds.Users))
		// A rotation the apply did not get to shows the version reached,
		// so the next plan asks for it again.
		for name, v := range d.RotatePasswords {
			if known(v) && int(v.ValueInt64()) > ds.Rotated[name] {
				d.RotatePasswords[name] = types.Int64Value(int64(ds.Rotated[name]))
			}
		}
		pools := map[string]*poolModel{}
		for name, prior := range d.Pools {
			if ps := ds.Pools[name]; ps != nil {
				p := *prior
				p.Mode, p.Size, p.DB, p.User = types.StringValue(ps.Spec.Mode), types.Int64Value(int64(ps.Spec.Size)), types.StringValue(ps.Spec.DB), types.StringValue(ps.Spec.User)
				pools[name] = &p
			}
		}
		if d.Pools != nil || len(pools) > 0 {
			d.Pools = pools
		}
		replicas := map[string]*replicaModel{}
		for name, prior := range d.Replicas {
			if rs := ds.Replicas[name]; rs != nil {
				r := *prior
				r.Region, r.Size = types.StringValue(rs.Region), types.StringValue(rs.Size)
				replicas[name] = &r
			}
		}
		if d.Replicas != nil || len(replicas) > 0 {
			d.Replicas = replicas
		}
		if !d.EvictionPolicy.IsNull() && ds.EvictionPolicy != "" {
			d.EvictionPolicy = types.StringValue(ds.EvictionPolicy)
		}
		if d.StorageAutoscale != nil && ds.StorageAutoscale != nil {
			d.StorageAutoscale = storageAutoscaleOf(ds.StorageAutoscale)
		}
		d.observeConfig(ds)
		d.UserSettings = observeUserSettings(d.UserSettings, ds.UserSettings)
		d.Topics = observeTopics(d.Topics, ds.Topics)
		var rules []ruleModel
		for _, r := range ds.TrustedSources {
			rules = append(rules, ruleModel{Type: types.StringValue(r.Type), Value: types.StringValue(r.Value)})
		}
		if d.TrustedSources != nil || len(rules) > 0 {
			if rules == nil {
				rules = []ruleModel{}
			}
			d.TrustedSources = rules
		}
	}
}

func observePool(prior *nodePoolModel, s stack.NodePoolSpec) *nodePoolModel {
	p := &nodePoolModel{Size: types.StringValue(s.Size), MinNodes: types.Int64Value(int64(s.MinNodes))}
	if prior != nil {
		*p = *prior
		p.Size = types.StringValue(s.Size)
	}
	if s.AutoScale {
		p.NodeCount = types.Int64Null()
		p.MinNodes, p.MaxNodes = types.Int64Value(int64(s.MinNodes)), types.Int64Value(int64(s.MaxNodes))
	} else {
		p.NodeCount, p.MaxNodes = types.Int64Value(int64(s.NodeCount)), types.Int64Null()
		p.MinNodes = types.Int64Value(0)
	}
	if len(s.Labels) > 0 || (prior != nil && prior.Labels != nil) {
		p.Labels = maps.Clone(s.Labels)
		if p.Labels == nil {
			p.Labels = map[string]string{}
		}
	} else {
		p.Labels = nil
	}
	// Tags: the pool's own, in the form the configuration has them
	// (null, or a list, empty included).
	p.Tags = nil
	if len(s.Tags) > 0 || prior != nil && prior.Tags != nil {
		p.Tags = stringValues(s.Tags)
	}
	var taints []taintModel
	for _, t := range s.Taints {
		taints = append(taints, taintModel{Key: types.StringValue(t.Key), Value: types.StringValue(t.Value), Effect: types.StringValue(t.Effect)})
	}
	switch {
	case len(taints) > 0:
		var priorTaints []taintModel
		if prior != nil {
			priorTaints = taintsOf(prior.Taints)
		}
		p.Taints = taintList(orderLike(sortTaints(taints), priorTaints))
	case prior != nil && prior.Taints.IsNull():
		p.Taints = taintList(nil)
	default:
		p.Taints = taintList([]taintModel{})
	}
	return p
}

func sortTaints(ts []taintModel) []taintModel {
	sort.Slice(ts, func(i, j int) bool {
		a, b := ts[i], ts[j]
		return a.Key.ValueString()+"\x00"+a.Effect.ValueString()+"\x00"+a.Value.ValueString() <
			b.Key.ValueString()+"\x00"+b.Effect.ValueString()+"\x00"+b.Value.ValueString()
	})
	return ts
}

// orderLike puts taints in the order the prior value (the configuration)
// lists them, so a reordering by the API is not a diff.
func orderLike(observed, prior []taintModel) []taintModel {
	index := func(t taintModel) int {
		for i, p := range prior {
			if p.Key.ValueString() == t.Key.ValueString() && p.Effect.ValueString() == t.Effect.ValueString() && p.Value.ValueString() == t.Value.ValueString() {
				return i
			}
		}
		return len(prior)
	}
	sort.SliceStable(observed, func(i, j int) bool { return index(observed[i]) < index(observed[j]) })
	return observed
}

// keepEmptyForm returns observed names in the prior value's form: a null
// prior stays null when nothing is observed, so "not set" and "empty" never
// flip-flop into a diff.
func keepEmptyForm(prior []types.String, observed []string) []types.String {
	if len(observed) == 0 {
		if prior == nil {
			return nil
		}
		return []types.String{}
	}
	sorted := slices.Clone(observed)
	sort.Strings(sorted)
	return stringValues(sorted)
}

func valueStrings(in []types.String) []string {
	var out []string
	for _, v := range in {
		if !v.IsNull() && !v.IsUnknown() {
			out = append(out, v.ValueString())
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := slices.Collect(maps.Keys(m))
	sort.Strings(keys)
	return keys
}

func itoa(n int) string { return strconv.Itoa(n) }

// keepUnachieved, after a failed apply, puts back the prior value of what
// the apply did not get to, where observe cannot see it: a database, pool,
// replica or GPU pool removed from the configuration whose delete did not
// happen (it still exists, so state must still show it and the next plan
// remove it again), and tags not yet on every part. observe then overlays
// what exists on the rest.
func (m *stackModel) keepUnachieved(prior *stackModel, st *stack.Status) {
	if prior == nil || st == nil {
		return
	}
	for key, ds := range st.Databases {
		was := prior.Databases[key]
		if was == nil {
			continue
		}
		d := m.Databases[key]
		if d == nil {
			if m.Databases == nil {
				m.Databases = map[string]*databaseModel{}
			}
			c := *was
			m.Databases[key] = &c
			continue
		}
		for name := range ds.Pools {
			if pp := was.Pools[name]; pp != nil && d.Pools[name] == nil {
				if d.Pools == nil {
					d.Pools = map[string]*poolModel{}
				}
				c := *pp
				d.Pools[name] = &c
			}
		}
		for name := range ds.Replicas {
			if pr := was.Replicas[name]; pr != nil && d.Replicas[name] == nil {
				if d.Replicas == nil {
					d.Replicas = map[string]*replicaModel{}
				}
				c := *pr
				d.Replicas[name] = &c
			}
		}
	}
	if c := st.Cluster; c != nil && m.Cluster != nil && prior.Cluster != nil {
		for key := range c.Pools {
			if pp := prior.Cluster.GPUPools[key]; key != stack.SystemPoolName && pp != nil && m.Cluster.GPUPools[key] == nil {
				if m.Cluster.GPUPools == nil {
					m.Cluster.GPUPools = map[string]*nodePoolModel{}
				}
				c := *pp
				m.Cluster.GPUPools[key] = &c
			}
		}
	}
	if !tagsApplied(m.toSpec(false), st) {
		m.Tags = prior.Tags
	}
}

// tagsApplied reports whether every part that carries the stack's tags
// (the cluster, the databases it owns) has exactly the ones spec asks for.
func tagsApplied(spec stack.Spec, st *stack.Status) bool {
	want := spec.AllTags()
	if c := st.Cluster; c != nil && !stackSame(c.Tags, want) {
		return false
	}
	for _, d := range st.Databases {
		if d.Owned && !stackSame(d.Tags, want) {
			return false
		}
	}
	return true
}
