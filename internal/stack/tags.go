package stack

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-log/tflog"
)

// How the tags of owned databases follow the stack's tags. DigitalOcean has
// no tags field to update on a database cluster, but its Tags API tags and
// untags databases in place (resource_type "database", the spec's
// tags_assign_resources / tags_unassign_resources; godo
// DatabaseResourceType). So a change of the stack's tags retags its owned
// databases instead of leaving them with the tags of their create.
//
// Read replicas follow too: a replica's uuid is a database id in the
// /v2/databases/{id} routes (the official provider resizes a replica with
// Databases.Resize(replicaUUID, ...), resource_database_replica.go), and
// resource_type "database" takes it (replica_update.go). Attached databases
// (existing_id) are not the stack's and keep theirs.

// ensureDatabaseTags makes the owned database key carry exactly the
// stack's tags (the user's and the stack tag), as recorded by the last read.
func (r *run) ensureDatabaseTags(ctx context.Context, key string) error {
	d := view(r, func(st *Status) DatabaseStatus { return *st.Databases[key] })
	want := r.spec.AllTags()
	if !d.Owned || sameStrings(d.Tags, want) {
		return nil
	}
	if err := r.retag(ctx, fmt.Sprintf("database %s (%s)", key, d.Name), d.ID, d.Tags, want); err != nil {
		return err
	}
	r.update(func(st *Status) {
		if d := st.Databases[key]; d != nil {
			d.Tags = want
		}
	})
	return nil
}

// retag makes the database or read replica id (what names it) carry want
// instead of have, through the Tags API's resource_type "database".
func (r *run) retag(ctx context.Context, what, id string, have, want []string) error {
	var add, remove []string
	for _, t := range want {
		if !slices.Contains(have, t) {
			add = append(add, t)
		}
	}
	for _, t := range have {
		if !slices.Contains(want, t) {
			remove = append(remove, t)
		}
	}
	tflog.Info(ctx, "retagging", map[string]any{"object": what, "id": id, "add": add, "remove": remove})
	target := []godo.Resource{{ID: id, Type: godo.DatabaseResourceType}}
	for _, t := range add {
		// Tagging needs the tag to exist; creating an existing tag is fine.
		if _, _, err := r.e.API.Tags.Create(ctx, &godo.TagCreateRequest{Name: t}); err != nil && !tagExists(err) {
			return apiErr(fmt.Sprintf("creating tag %s for %s", t, what), err)
		}
		if _, err := r.e.API.Tags.TagResources(ctx, t, &godo.TagResourcesRequest{Resources: target}); err != nil {
			return apiErr(fmt.Sprintf("tagging %s with %s", what, t), err)
		}
	}
	for _, t := range remove {
		// A tag that no longer exists tags nothing.
		if _, err := r.e.API.Tags.UntagResources(ctx, t, &godo.UntagResourcesRequest{Resources: target}); err != nil && !isNotFound(err) {
			return apiErr(fmt.Sprintf("removing tag %s from %s", t, what), err)
		}
	}
	return nil
}

// tagExists reports the answer to creating a tag that exists already.
func tagExists(err error) bool {
	s := statusOf(err)
	return s == http.StatusConflict || s == http.StatusUnprocessableEntity && nameUnavailable(err)
}
