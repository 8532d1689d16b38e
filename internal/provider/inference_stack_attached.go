package provider

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/attach-labs/terraform-provider-attach/internal/stack"
)

// warnAttachedElsewhere warns, when a stack is being destroyed, about the
// databases it deletes that other clusters still attach to: every k8s rule
// in an owned database's firewall naming a cluster other than the stack's
// own is an attachment from another workspace (attach_database_attachment)
// or trust added outside Terraform, and that cluster loses its database.
// It reads the firewalls (unless the refresh just before this plan did:
// see recentFirewallClusters) and clusters at plan time and never writes; what
// it cannot read it leaves out (the destroy itself does not depend on it).
func warnAttachedElsewhere(ctx context.Context, api *godo.Client, state *stackModel, status *stack.Status, diags *diag.Diagnostics) {
	if state == nil || api == nil {
		return
	}
	own := state.ClusterID.ValueString()
	names := map[string]string{} // cluster id -> "name (id)"
	describe := func(id string) string {
		if d, ok := names[id]; ok {
			return d
		}
		d := id
		if c, _, err := api.Kubernetes.Get(ctx, id); err == nil && c.Name != "" {
			d = fmt.Sprintf("%s (%s)", c.Name, id)
		} else if err != nil {
			tflog.Debug(ctx, "Plan: attached cluster not readable; named by id", map[string]any{"cluster_id": id, "error": err.Error()})
		}
		names[id] = d
		return d
	}
	var lines []string
	for _, key := range sortedKeys(state.Databases) {
		d := state.Databases[key]
		// Databases the stack does not delete keep their attachments: an
		// existing_id database only loses the stack's rule, a retained one
		// is detached and kept running.
		if d == nil || !d.ExistingID.IsNull() || d.RetainOnDestroy.ValueBool() || d.ID.ValueString() == "" {
			continue
		}
		clusters, ok := recentFirewallClusters(status, key, d.ID.ValueString())
		if !ok {
			rules, _, err := api.Databases.GetFirewallRules(ctx, d.ID.ValueString())
			if err != nil {
				tflog.Debug(ctx, "Plan: firewall not readable; its attachments are not listed", map[string]any{"database": key, "error": err.Error()})
				continue
			}
			for _, rule := range rules {
				if rule.Type == "k8s" {
					clusters = append(clusters, rule.Value)
				}
			}
		}
		var attached []string
		for _, id := range clusters {
			if id != own {
				attached = append(attached, describe(id))
			}
		}
		if len(attached) == 0 {
			continue
		}
		sort.Strings(attached)
		lines = append(lines, fmt.Sprintf("  - database %s (%s): cluster %s", key, d.ID.ValueString(), strings.Join(attached, ", cluster ")))
	}
	if len(lines) == 0 {
		return
	}
	diags.AddWarning(fmt.Sprintf("Destroying stack %s deletes databases other clusters still attach to", state.Name.ValueString()),
		"These databases' firewalls trust clusters other than the stack's own: attachments from other workspaces "+
			"(attach_database_attachment) or rules added outside Terraform. Destroy deletes the databases, and those "+
			"clusters lose them:\n"+strings.Join(lines, "\n")+"\n\n"+
			"The app workspaces can still plan and destroy afterwards (an attachment whose database is gone is dropped "+
			"from their state and planned for re-creation). To keep a database for them, set retain_on_destroy = true on it "+
			"and apply before destroying; otherwise destroy the attachments first.")
}

// firewallReadFresh is how recently a refresh must have read a database's
// firewall for a destroy plan to use what it saw: the refresh that
// `terraform destroy` runs just before planning the destroy, not one of an
// earlier command (a plan with -refresh=false reads the firewall itself).
const firewallReadFresh = 30 * time.Second

// recentFirewallClusters returns the clusters database key's firewall
// trusted when the refresh just before this plan read it, if it did.
func recentFirewallClusters(status *stack.Status, key, id string) ([]string, bool) {
	if status == nil || status.Databases[key] == nil {
		return nil, false
	}
	d := status.Databases[key]
	if d.ID != id || d.FirewallReadAt.IsZero() || time.Since(d.FirewallReadAt) > firewallReadFresh {
		return nil, false
	}
	return d.FirewallClusters, true
}
