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
// Read replicas cannot follow: the Tags API has no resource type for them
// (godo has none either), so a replica keeps the tags it was created with.
// Attached databases (existing_id) are not the stack's and keep theirs.

// ensureDatabaseTags makes the owned database key carry exactly the
// stack's tags (the user's and the stack tag), as recorded by the last read.
func (r *run) ensureDatabaseTags(ctx context.Context, key string) error {
	d := view(r, func(st *Status) DatabaseStatus { return *st.Databases[key] })
	want := r.spec.AllTags()
	if !d.Owned || sameStrings(d.Tags, want) {
		return nil
	}
	var add, remove []string
	for _, t := range want {
		if !slices.Contains(d.Tags, t) {
			add = append(add, t)
		}
	}
	for _, t := range d.Tags {
		if !slices.Contains(want, t) {
			remove = append(remove, t)
		}
	}
	tflog.Info(ctx, "retagging database", map[string]any{"database": key, "id": d.ID, "add": add, "remove": remove})
	target := []godo.Resource{{ID: d.ID, Type: godo.DatabaseResourceType}}
	for _, t := range add {
		// Tagging needs the tag to exist; creating an existing tag is fine.
		if _, _, err := r.e.API.Tags.Create(ctx, &godo.TagCreateRequest{Name: t}); err != nil && !tagExists(err) {
			return apiErr(fmt.Sprintf("creating tag %s for database %s (%s)", t, key, d.Name), err)
		}
		if _, err := r.e.API.Tags.TagResources(ctx, t, &godo.TagResourcesRequest{Resources: target}); err != nil {
			return apiErr(fmt.Sprintf("tagging database %s (%s) with %s", key, d.Name, t), err)
		}
	}
	for _, t := range remove {
		// A tag that no longer exists tags nothing.
		if _, err := r.e.API.Tags.UntagResources(ctx, t, &godo.UntagResourcesRequest{Resources: target}); err != nil && !isNotFound(err) {
			return apiErr(fmt.Sprintf("removing tag %s from database %s (%s)", t, key, d.Name), err)
		}
	}
	r.update(func(st *Status) {
		if d := st.Databases[key]; d != nil {
			d.Tags = want
		}
	})
	return nil
}

// tagExists reports the answer to creating a tag that exists already.
func tagExists(err error) bool {
	s := statusOf(err)
	return s == http.StatusConflict || s == http.StatusUnprocessableEntity && nameUnavailable(err)
}
