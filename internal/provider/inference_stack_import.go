package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/attach-labs/terraform-provider-attach/internal/stack"
)

// ImportState adopts a stack by name: `terraform import attach_inference_stack.x <name>`.
// Every part is found by its tag (see stack.Discover); databases come in
// with deletion_protection on.
func (r *inferenceStackResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	ctx = r.client.LogContext(ctx)
	name := req.ID
	if err := validStackName(name); err != nil {
		resp.Diagnostics.AddError("Invalid import id",
			fmt.Sprintf("%v. Import a stack by its name, e.g. terraform import attach_inference_stack.main ml-prod", err))
		return
	}
	spec, st, err := stack.New(r.client.Godo).Discover(ctx, name)
	if err != nil {
		resp.Diagnostics.AddError("Cannot import stack "+name, err.Error())
		return
	}
	m := modelFromSpec(spec, st)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
	resp.Diagnostics.Append(savePrivateStatus(ctx, resp.Private, st, false)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), name)...)
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
