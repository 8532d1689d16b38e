package provider

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/attach-labs/terraform-provider-attach/internal/stack"
)

// ImportState takes a stack into state, by name or by ids (see
// parseStackImportID):
//
//   - by name, `terraform import attach_inference_stack.x ml-prod`: a stack
//     this provider made, found by its tags (stack.ImportByName). Every
//     object carrying its name tag must carry one identity, the same on all;
//     the state takes that identity (owner_id).
//   - by ids, `terraform import attach_inference_stack.x
//     'ml-prod,cluster=<id>,database.vectors=<id>'`: objects made elsewhere
//     (the DigitalOcean provider, doctl, the control panel), adopted as they
//     are with no tag needed beforehand (stack.ImportByIDs). The state has no
//     identity yet (owner_id ""): the first apply makes one and writes it on
//     every object in place.
//
// Databases come in with deletion_protection on. Nothing is written.
func (r *inferenceStackResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	ctx = r.client.LogContext(ctx)
	id, err := parseStackImportID(req.ID)
	if err != nil {
		resp.Diagnostics.AddError("Invalid import id", err.Error())
		return
	}
	e := stack.New(r.client.Godo)
	var spec stack.Spec
	var st *stack.Status
	if id.IDs == nil {
		spec, st, err = e.ImportByName(ctx, id.Name)
	} else {
		spec, st, err = e.ImportByIDs(ctx, id.Name, *id.IDs)
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot import stack "+id.Name, err.Error())
		return
	}
	if id.IDs != nil {
		if notes := adoptionWrites(spec, st); len(notes) > 0 {
			resp.Diagnostics.AddWarning("Adopted by id: the first apply marks the objects as this stack's",
				"Nothing was written by the import. The first apply gives the stack its identity (owner_id) and, in place, without "+
					"replacing anything:\n  - "+strings.Join(notes, "\n  - "))
		}
	}
	m := modelFromSpec(spec, st)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
	resp.Diagnostics.Append(savePrivateStatus(ctx, resp.Private, st, false)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), id.Name)...)
}

// adoptionWrites lists what the first apply after an import by ids writes
// on the adopted objects besides the identity tag: the stack's tags where
// a part lacks them (they go on every part), and the cluster's k8s rule on
// a database that does not trust the cluster by it.
func adoptionWrites(spec stack.Spec, st *stack.Status) []string {
	var out []string
	missing := func(have []string) []string {
		var m []string
		for _, t := range append([]string{spec.StackTag()}, spec.Tags...) {
			if !slices.Contains(have, t) {
				m = append(m, t)
			}
		}
		return m
	}
	if c := st.Cluster; c != nil {
		if m := missing(c.Tags); len(m) > 0 {
			out = append(out, fmt.Sprintf("cluster %s gets the tags %s", c.Name, strings.Join(m, ", ")))
		}
		for _, key := range sortedKeys(c.Pools) {
			p := c.Pools[key]
			tags := missing(p.Tags)
			switch {
			case !p.Marked:
				out = append(out, fmt.Sprintf("node pool %s (pool %s) gets the tags %s and its nodes the label %s=%s (its DOKS name stays)",
					p.Name, key, strings.Join(append([]string{stack.PoolTag(key)}, tags...), ", "), stack.PoolLabel, key))
			case len(tags) > 0:
				out = append(out, fmt.Sprintf("node pool %s (pool %s) gets the tags %s", p.Name, key, strings.Join(tags, ", ")))
			}
		}
	}
	for _, key := range sortedKeys(st.Databases) {
		d := st.Databases[key]
		if m := missing(d.Tags); len(m) > 0 {
			out = append(out, fmt.Sprintf("database %s (%s) gets the tags %s", key, d.Name, strings.Join(m, ", ")))
		}
		if st.Cluster != nil && d.AttachedClusterID == "" {
			out = append(out, fmt.Sprintf("database %s (%s) gets the trusted source k8s %s (the stack's cluster; attached_cluster_id shows it in the plan)", key, d.Name, st.Cluster.ID))
		}
	}
	return out
}

// stackImportGrammar is the import id's shape, for messages.
const stackImportGrammar = "<name>,cluster=<cluster id>[,database.<key>=<database id>]...[,vpc=<vpc id>][,system_pool=<pool id or name>][,gpu_pool.<key>=<pool id or name>]..." +
	" (cluster= may be left out to adopt databases or a VPC only: the next apply creates the cluster; system_pool= and gpu_pool.<key>= need cluster=)"

// stackImportHelp ends every refusal of an import id.
const stackImportHelp = "Import a stack this provider made by its name (terraform import attach_inference_stack.main ml-prod), or adopt " +
	"a cluster and databases made elsewhere by their ids: " + stackImportGrammar + ", e.g. " +
	"'ml-prod,cluster=bd5f5959-5e1e-4205-a714-a914373942af,database.vectors=9cc10173-e9ea-4176-9dbc-a4cee4c4ff30'. " +
	"Ids are UUIDs as DigitalOcean writes them (doctl kubernetes cluster list, doctl databases list); a node pool is " +
	"named by its id or its DOKS name; keys are 2-20 lowercase letters, digits and dashes, starting with a letter; no spaces."

// stackImportID is a parsed import id: a name, and the ids to adopt (nil
// for an import by name).
type stackImportID struct {
	Name string
	IDs  *stack.AdoptIDs
}

// poolRefPattern is a node pool named in an import id: its id (a UUID) or
// its DOKS name, both lowercase letters, digits and dashes (a DNS label).
var poolRefPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// parseStackImportID reads `<name>` or
// `<name>,cluster=<id>[,database.<key>=<id>]...[,vpc=<id>][,system_pool=<ref>][,gpu_pool.<key>=<ref>]...`:
// parts after the name in any order, each at most once (a database or GPU
// pool key once, a database id under one key, a pool named once);
// system_pool= and gpu_pool.<key>= need cluster=.
func parseStackImportID(raw string) (stackImportID, error) {
	fail := func(format string, args ...any) (stackImportID, error) {
		return stackImportID{}, fmt.Errorf("%s. %s", fmt.Sprintf(format, args...), stackImportHelp)
	}
	parts := strings.Split(raw, ",")
	name := parts[0]
	if err := validStackName(name); err != nil {
		return fail("%v (the import id starts with the stack's name)", err)
	}
	if len(parts) == 1 {
		return stackImportID{Name: name}, nil
	}
	ids := &stack.AdoptIDs{Databases: map[string]string{}, GPUPools: map[string]string{}}
	given := map[string]bool{}
	dbKeyOf := map[string]string{}  // database id -> key
	poolPart := map[string]string{} // pool ref -> part
	uuid := func(part, what, list, v string) error {
		if !uuidPattern.MatchString(v) {
			return fmt.Errorf("%s=%q: a %s id is a UUID as DigitalOcean writes it, 8-4-4-4-12 lowercase hex digits (%s)", part, v, what, list)
		}
		return nil
	}
	poolRef := func(part, v string) error {
		if !poolRefPattern.MatchString(v) {
			return fmt.Errorf("%s=%q: name a node pool by its id or its DOKS name, 1-63 lowercase letters, digits and dashes (doctl kubernetes cluster node-pool list <cluster>)", part, v)
		}
		if other, dup := poolPart[v]; dup {
			return fmt.Errorf("%s= and %s= name the same node pool %q: map each pool once", other, part, v)
		}
		poolPart[v] = part
		return nil
	}
	for i, p := range parts[1:] {
		if strings.IndexFunc(p, unicode.IsSpace) >= 0 {
			return fail("part %d (%q) contains a space: an import id has none", i+2, p)
		}
		if p == "" {
			return fail("part %d is empty: remove the extra comma", i+2)
		}
		k, v, ok := strings.Cut(p, "=")
		if !ok || v == "" {
			return fail("part %d (%q) is not <part>=<value>: write e.g. cluster=<cluster id>", i+2, p)
		}
		if given[k] {
			return fail("%s= is given twice: give each part once", k)
		}
		given[k] = true
		var err error
		switch {
		case k == "cluster":
			err = uuid(k, "cluster", "doctl kubernetes cluster list", v)
			ids.ClusterID = v
		case k == "vpc":
			err = uuid(k, "VPC", "doctl vpcs list", v)
			ids.VPCID = v
		case k == "system_pool":
			err = poolRef(k, v)
			ids.SystemPool = v
		case strings.HasPrefix(k, "database."):
			key := strings.TrimPrefix(k, "database.")
			switch {
			case !stack.ValidKey(key):
				err = fmt.Errorf("%s: %q is not a database key: it must be 2-20 lowercase letters, digits and dashes, starting with a letter and not ending with a dash (the key of the database in databases)", k, key)
			default:
				err = uuid(k, "database", "doctl databases list", v)
			}
			if other, dup := dbKeyOf[v]; err == nil && dup {
				err = fmt.Errorf("database %s is given under two keys (database.%s= and database.%s=): give it one", v, other, key)
			}
			dbKeyOf[v] = key
			ids.Databases[key] = v
		case strings.HasPrefix(k, "gpu_pool."):
			key := strings.TrimPrefix(k, "gpu_pool.")
			switch {
			case key == stack.SystemPoolName:
				err = fmt.Errorf("%s: %q is the system pool's key: name the system pool with system_pool=<pool id or name>", k, key)
			case !stack.ValidKey(key):
				err = fmt.Errorf("%s: %q is not a GPU pool key: it must be 2-20 lowercase letters, digits and dashes, starting with a letter and not ending with a dash (the key of the pool in cluster.gpu_pools)", k, key)
			default:
				err = poolRef(k, v)
			}
			ids.GPUPools[key] = v
		default:
			err = fmt.Errorf("part %d (%q) is not one of cluster=, database.<key>=, vpc=, system_pool=, gpu_pool.<key>=", i+2, p)
		}
		if err != nil {
			return fail("%v", err)
		}
	}
	if ids.ClusterID == "" && (ids.SystemPool != "" || len(ids.GPUPools) > 0) {
		return fail("system_pool= and gpu_pool.<key>= map the pools of the cluster: add cluster=<cluster id> (doctl kubernetes cluster list)")
	}
	return stackImportID{Name: name, IDs: ids}, nil
}

// String is the import id in its canonical order: the name, cluster=,
// database.<key>= by key, vpc=, system_pool=, gpu_pool.<key>= by key.
func (id stackImportID) String() string {
	if id.IDs == nil {
		return id.Name
	}
	parts := []string{id.Name}
	if id.IDs.ClusterID != "" {
		parts = append(parts, "cluster="+id.IDs.ClusterID)
	}
	for _, k := range sortedKeys(id.IDs.Databases) {
		parts = append(parts, "database."+k+"="+id.IDs.Databases[k])
	}
	if id.IDs.VPCID != "" {
		parts = append(parts, "vpc="+id.IDs.VPCID)
	}
	if id.IDs.SystemPool != "" {
		parts = append(parts, "system_pool="+id.IDs.SystemPool)
	}
	for _, k := range sortedKeys(id.IDs.GPUPools) {
		parts = append(parts, "gpu_pool."+k+"="+id.IDs.GPUPools[k])
	}
	return strings.Join(parts, ",")
}

// modelFromSpec builds the state an imported stack gets: what a
// configuration describing the parts as they are would produce.
func modelFromSpec(spec stack.Spec, st *stack.Status) stackModel {
	m := stackModel{
		Name:       types.StringValue(spec.Name),
		Region:     types.StringValue(spec.Region),
		ProjectID:  types.StringNull(),
		Tags:       nilIfEmpty(spec.Tags),
		VPCID:      types.StringValue(st.VPCID),
		VPCIPRange: types.StringNull(),
		Databases:  map[string]*databaseModel{},
		Timeouts:   timeouts.Value{Object: types.ObjectNull(map[string]attr.Type{"create": types.StringType, "update": types.StringType, "delete": types.StringType})},
	}
	// vpc_ip_range stays null: DigitalOcean cannot tell a range the user
	// chose from the /20 it picked, and null is what the usual configuration
	// (range unset) gives; a range set in configuration then shows as a
	// change (vpc_ip_range replaces the stack, refused while a database is
	// protected, as every imported one is).
	if st.Cluster != nil {
		c := spec.Cluster
		cm := &clusterModel{
			// The minor ("1.33") is how configurations usually pin DOKS (a
			// prefix: the newest patch); cluster_version has the full slug.
			Version:       importedVersion(st.Cluster.Version),
			HA:            types.BoolValue(c.HA),
			AutoUpgrade:   types.BoolValue(c.AutoUpgrade),
			SurgeUpgrade:  types.BoolValue(c.SurgeUpgrade),
			ClusterSubnet: importedSubnet(c.ClusterSubnet, doksDefaultClusterSubnet),
			ServiceSubnet: importedSubnet(c.ServiceSubnet, doksDefaultServiceSubnet),
			// DigitalOcean does not record it: the default.
			KeepAssociated: types.BoolValue(false),
			SystemPool:     observePool(nil, c.SystemPool),
		}
		if len(taintsOf(cm.SystemPool.Taints)) == 0 {
			cm.SystemPool.Taints = taintList(nil)
		}
		if c.MaintenanceDay != "any" || c.MaintenanceStart != "00:00" {
			cm.MaintenanceWindow = &clusterWindowModel{Day: types.StringValue(c.MaintenanceDay), StartTime: types.StringValue(c.MaintenanceStart)}
		}
		if len(c.GPUPools) > 0 {
			cm.GPUPools = map[string]*nodePoolModel{}
			for k, p := range c.GPUPools {
				cm.GPUPools[k] = observePool(nil, p)
			}
		}
		cm.ControlPlaneFirewall = observeFirewall(nil, c.ControlPlaneFirewall)
		cm.Autoscaler = importedAutoscaler(c.Autoscaler)
		cm.clusterPluginsModel = observedPlugins(c.Plugins)
		// DigitalOcean keeps no record of it: the lifetime import fetched
		// the kubeconfig with (the default).
		cm.KubeconfigExpiry = kubeconfigExpiry(st.Cluster)
		m.Cluster = cm
	}
	for key, d := range spec.Databases {
		dm := &databaseModel{
			ExistingID:         types.StringNull(),
			Engine:             types.StringValue(d.Engine),
			Version:            types.StringValue(d.Version),
			Size:               types.StringValue(d.Size),
			NodeCount:          types.Int64Value(int64(d.NodeCount)),
			StorageSizeMiB:     types.Int64Value(int64(d.StorageMiB)),
			DBs:                nilIfEmpty(d.DBs),
			Users:              nilIfEmpty(d.Users),
			EvictionPolicy:     types.StringNull(),
			DeletionProtection: types.BoolValue(true),
			RetainOnDestroy:    types.BoolValue(false),
			Config:             types.MapNull(types.StringType),
		}
		if d.ExistingID != "" {
			dm.ExistingID = types.StringValue(d.ExistingID)
		}
		if d.EvictionPolicy != "" {
			dm.EvictionPolicy = types.StringValue(d.EvictionPolicy)
		}
		dm.StorageAutoscale = storageAutoscaleOf(d.StorageAutoscale)
		if len(d.Pools) > 0 {
			dm.Pools = map[string]*poolModel{}
			for k, p := range d.Pools {
				dm.Pools[k] = &poolModel{Mode: types.StringValue(p.Mode), Size: types.Int64Value(int64(p.Size)), DB: types.StringValue(p.DB), User: types.StringValue(p.User)}
			}
		}
		if len(d.Replicas) > 0 {
			dm.Replicas = map[string]*replicaModel{}
			for k, rep := range d.Replicas {
				dm.Replicas[k] = &replicaModel{Region: types.StringValue(rep.Region), Size: types.StringValue(rep.Size)}
			}
		}
		for _, rule := range d.TrustedSources {
			dm.TrustedSources = append(dm.TrustedSources, ruleModel{Type: types.StringValue(rule.Type), Value: types.StringValue(rule.Value)})
		}
		m.Databases[key] = dm
	}
	if len(m.Databases) == 0 {
		m.Databases = nil
	}
	m.setComputed(st)
	return m
}

// DOKS's default pod and service networks: a configuration leaves them
// unset, so an imported stack that uses them gets null.
const (
	doksDefaultClusterSubnet = "10.244.0.0/16"
	doksDefaultServiceSubnet = "10.245.0.0/16"
)

func importedSubnet(subnet, doksDefault string) types.String {
	if subnet == "" || subnet == doksDefault {
		return types.StringNull()
	}
	return types.StringValue(subnet)
}

// importedVersion is the minor of a DOKS slug: "1.33.1-do.0" -> "1.33".
func importedVersion(slug string) types.String {
	parts := strings.SplitN(slug, ".", 3)
	if len(parts) < 2 {
		return types.StringNull()
	}
	return types.StringValue(parts[0] + "." + parts[1])
}

func nilIfEmpty(in []string) []types.String {
	if len(in) == 0 {
		return nil
	}
	return stringValues(in)
}
