package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/attach-labs/terraform-provider-attach/internal/stack"
)

// warnWorkloadResources says, in a plan that deletes the stack's cluster
// (destroy, a cluster replacement, a whole-stack replacement), what happens
// to the load balancers and volumes its workloads created: deleted with it
// (the default, destroy_with_associated_resources) or left running and
// billed (cluster.keep_associated_resources). It names them, so nobody
// loses a volume by surprise; a cluster whose workloads created nothing
// says nothing.
func warnWorkloadResources(ctx context.Context, api *godo.Client, clusterID, clusterName, event string, keep bool, diags *diag.Diagnostics) {
	if api == nil || clusterID == "" {
		return
	}
	at := path.Root("cluster").AtName("keep_associated_resources")
	res, _, err := api.Kubernetes.ListAssociatedResourcesForDeletion(ctx, clusterID)
	if err != nil {
		tflog.Debug(ctx, "Plan: the cluster's associated resources are not readable", map[string]any{"cluster_id": clusterID, "error": err.Error()})
		if !keep {
			diags.AddAttributeWarning(at, "The cluster's load balancers and volumes go with it",
				fmt.Sprintf("%s deletes cluster %s with every load balancer, volume and volume snapshot its workloads created "+
					"(listing them failed: %v). To keep them, set cluster.keep_associated_resources = true and apply first.", event, clusterName, err))
		}
		return
	}
	var parts []string
	for _, group := range []struct {
		what string
		list []*godo.AssociatedResource
	}{{"load balancers", res.LoadBalancers}, {"volumes", res.Volumes}, {"volume snapshots", res.VolumeSnapshots}} {
		if len(group.list) == 0 {
			continue
		}
		var names []string
		for _, r := range group.list {
			names = append(names, fmt.Sprintf("%s (%s)", r.Name, r.ID))
		}
		parts = append(parts, group.what+" "+strings.Join(names, ", "))
	}
	if len(parts) == 0 {
		return
	}
	listed := strings.Join(parts, "; ")
	if keep {
		diags.AddAttributeWarning(at, "The cluster's load balancers and volumes stay",
			fmt.Sprintf("%s deletes cluster %s but keeps what its workloads created, as cluster.keep_associated_resources = true asks: %s. "+
				"They stay in the account, still billed, outside Terraform; a kept load balancer also keeps the stack's VPC.", event, clusterName, listed))
		return
	}
	diags.AddAttributeWarning(at, "The cluster's load balancers and volumes go with it",
		fmt.Sprintf("%s deletes cluster %s with what its workloads created: %s. Their addresses and data are lost. "+
			"To keep them (still billed), set cluster.keep_associated_resources = true and apply before this change.", event, clusterName, listed))
}

// clusterNameOf names the stack's cluster for a warning.
func clusterNameOf(state *stackModel, status *stack.Status) string {
	if status != nil && status.Cluster != nil && status.Cluster.Name != "" {
		return status.Cluster.Name
	}
	return state.Name.ValueString()
}

// keepsWorkloadResources reports the keep_associated_resources of a model.
func keepsWorkloadResources(m *stackModel) bool {
	return m != nil && m.Cluster != nil && m.Cluster.KeepAssociated.ValueBool()
}
