package provider

import (
	"context"
	"fmt"
	"slices"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"
)

// In-place changes of attach_database_replica. A replica's uuid is a
// database id in /v2/databases/{id} routes: the official provider resizes a
// replica with Databases.Resize(replicaUUID, {size, num_nodes: 1}) and waits
// for it to read online (resource_database_replica.go, update), and the Tags
// API's resource_type "database" takes the same uuid.

// resize resizes the replica (or, once promoted, the database it became)
// to plan's size in place and waits until it reads online again.
func (r *databaseReplicaResource) resize(ctx context.Context, plan, state *replicaResourceModel) diag.Diagnostics {
	var diags diag.Diagnostics
	if !known(plan.Size) || plan.Size.Equal(state.Size) {
		return diags
	}
	api, id, name, size := r.client.Godo, state.ID.ValueString(), state.Name.ValueString(), plan.Size.ValueString()
	nodes := 1 // Official provider resource_database_replica.go: "Read-only replicas only support a single node configuration."
	if state.Promoted.ValueBool() {
		db, _, err := api.Databases.Get(ctx, id)
		if err != nil {
			diags.AddAttributeError(path.Root("size"), "Resizing the promoted replica failed", APIError("reading database "+name+" ("+id+")", err))
			return diags
		}
		nodes = db.NumNodes
	}
	op := fmt.Sprintf("resizing replica %s (%s) from %s to %s", name, id, state.Size.ValueString(), size)
	tflog.Info(ctx, "resizing replica in place", map[string]any{"replica": name, "from": state.Size.ValueString(), "to": size})
	if _, err := api.Databases.Resize(ctx, id, &godo.DatabaseResizeRequest{SizeSlug: size, NumNodes: nodes}); err != nil {
		diags.AddAttributeError(path.Root("size"), "Resizing the replica failed", APIError(op, err))
		return diags
	}
	err := r.client.PollConfig().WaitUntil(ctx, "replica "+name+" to be online after its resize", func(ctx context.Context) (bool, error) {
		if state.Promoted.ValueBool() {
			db, _, err := api.Databases.Get(ctx, id)
			if err != nil {
				return false, fmt.Errorf("%s", APIError("reading database "+name, err))
			}
			return db.Status == "online", nil
		}
		rep, _, err := api.Databases.GetReplica(ctx, state.DatabaseID.ValueString(), name)
		if err != nil {
			return false, fmt.Errorf("%s", APIError("reading replica "+name, err))
		}
		return rep.Status == "online", nil
	})
	if err != nil {
		diags.AddAttributeError(path.Root("size"), "The replica did not come back online after its resize",
			err.Error()+"\n\nDigitalOcean accepted the resize and finishes it on its own; apply again to wait for it.")
	}
	return diags
}

// retag makes the replica carry plan's tags instead of state's, in place.
func (r *databaseReplicaResource) retag(ctx context.Context, plan, state *replicaResourceModel) diag.Diagnostics {
	var diags diag.Diagnostics
	want, have := valueStrings(plan.Tags), valueStrings(state.Tags)
	if stackSame(want, have) {
		return diags
	}
	api, id, name := r.client.Godo, state.ID.ValueString(), state.Name.ValueString()
	target := []godo.Resource{{ID: id, Type: godo.DatabaseResourceType}}
	tflog.Info(ctx, "retagging replica in place", map[string]any{"replica": name, "from": have, "to": want})
	for _, t := range want {
		if slices.Contains(have, t) {
			continue
		}
		// Tagging needs the tag to exist; creating an existing one answers with it.
		if _, _, err := api.Tags.Create(ctx, &godo.TagCreateRequest{Name: t}); err != nil {
			diags.AddAttributeError(path.Root("tags"), "Tagging the replica failed", APIError("creating tag "+t+" for replica "+name, err))
			return diags
		}
		if _, err := api.Tags.TagResources(ctx, t, &godo.TagResourcesRequest{Resources: target}); err != nil {
			diags.AddAttributeError(path.Root("tags"), "Tagging the replica failed", APIError("tagging replica "+name+" with "+t, err))
			return diags
		}
	}
	for _, t := range have {
		if slices.Contains(want, t) {
			continue
		}
		// A tag that no longer exists tags nothing.
		if _, err := api.Tags.UntagResources(ctx, t, &godo.UntagResourcesRequest{Resources: target}); err != nil && !IsNotFound(err) {
			diags.AddAttributeError(path.Root("tags"), "Untagging the replica failed", APIError("removing tag "+t+" from replica "+name, err))
			return diags
		}
	}
	return diags
}

// observeReplicaTags puts the tags DigitalOcean reports into m, keeping the
// configuration's order when they are the same set (and null when none
// were configured and there are none).
func observeReplicaTags(m *replicaResourceModel, tags []string) {
	if stackSame(valueStrings(m.Tags), tags) {
		return
	}
	m.Tags = stringValues(tags)
	if m.Tags == nil {
		m.Tags = []types.String{}
	}
}
