package emulator

import (
	"net/http"
	"strings"
	"testing"

	"github.com/digitalocean/godo"
)

// tourTags calls every /v2/tags route successfully (tagging a database),
// plus rejected calls to check the error shapes, and leaves nothing behind.
func tourTags(t *testing.T, c *godo.Client, srv *Server) {
	req := dbRequest("tour-tagged", "pg")
	req.Rules = []*godo.DatabaseCreateFirewallRule{{Type: "ip_addr", Value: "203.0.113.0/24"}}
	db := createVisibleDB(t, c, req)

	if _, _, err := c.Tags.Create(ctx, &godo.TagCreateRequest{Name: "tour:tag"}); err != nil {
		t.Fatal(err)
	}
	_, _, err := c.Tags.Create(ctx, &godo.TagCreateRequest{Name: "bad tag"})
	wantStatus(t, err, http.StatusBadRequest)
	if _, _, err := c.Tags.List(ctx, &godo.ListOptions{PerPage: 10}); err != nil {
		t.Fatal(err)
	}
	resources := []godo.Resource{{ID: db.ID, Type: godo.DatabaseResourceType}}
	if _, err := c.Tags.TagResources(ctx, "tour:tag", &godo.TagResourcesRequest{Resources: resources}); err != nil {
		t.Fatal(err)
	}
	if tag, _, err := c.Tags.Get(ctx, "tour:tag"); err != nil || tag.Resources.Count != 1 {
		t.Fatalf("tag %v %+v", err, tag)
	}
	_, err = c.Tags.TagResources(ctx, "tour:missing", &godo.TagResourcesRequest{Resources: resources})
	wantStatus(t, err, http.StatusNotFound)
	_, err = c.Tags.TagResources(ctx, "tour:tag", &godo.TagResourcesRequest{Resources: []godo.Resource{{ID: db.ID, Type: "kubernetes"}}})
	wantStatus(t, err, http.StatusUnprocessableEntity)
	if _, err := c.Tags.UntagResources(ctx, "tour:tag", &godo.UntagResourcesRequest{Resources: resources}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Tags.Delete(ctx, "tour:tag"); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Tags.Get(ctx, "tour:tag")
	wantStatus(t, err, http.StatusNotFound)

	if _, err := c.Databases.Delete(ctx, db.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "tour database gone", func() bool {
		for _, it := range srv.Inventory().Items {
			if strings.HasPrefix(it.Kind, "database_") {
				return false
			}
		}
		return true
	})
}
