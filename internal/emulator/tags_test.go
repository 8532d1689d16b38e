package emulator

import (
	"net/http"
	"slices"
	"testing"

	"github.com/digitalocean/godo"
)

func dbTags(t *testing.T, c *godo.Client, id string) []string {
	t.Helper()
	db, _, err := c.Databases.Get(ctx, id)
	if err != nil {
		t.Fatalf("get database %s: %v", id, err)
	}
	return db.Tags
}

func TestTagsOnDatabases(t *testing.T) {
	_, c := startTest(t, Config{})
	req := dbRequest("vectors", "pg")
	req.Tags = []string{"stack:a"}
	db := createVisibleDB(t, c, req)
	other := createVisibleDB(t, c, dbRequest("other", "mysql"))

	tag, resp, err := c.Tags.Create(ctx, &godo.TagCreateRequest{Name: "team-ml"})
	if err != nil || resp.StatusCode != http.StatusCreated || tag.Name != "team-ml" || tag.Resources == nil || tag.Resources.Count != 0 {
		t.Fatalf("create tag: %v %+v", err, tag)
	}
	// Names are case stable: the first capitalization is canonical.
	if again, resp, err := c.Tags.Create(ctx, &godo.TagCreateRequest{Name: "TEAM-ML"}); err != nil || resp.StatusCode != http.StatusCreated || again.Name != "team-ml" {
		t.Fatalf("create existing tag: %v %+v", err, again)
	}
	_, _, err = c.Tags.Create(ctx, &godo.TagCreateRequest{Name: "two words"})
	wantDBError(t, err, http.StatusBadRequest, "two words", "invalid characters")
	_, _, err = c.Tags.Create(ctx, &godo.TagCreateRequest{})
	wantDBError(t, err, http.StatusBadRequest, "name is required")

	// Tagging a database: GET shows the tag, the tag counts it, the list
	// filter finds it; tagging twice changes nothing.
	tagDB := func(tag string, ids ...string) error {
		var rs []godo.Resource
		for _, id := range ids {
			rs = append(rs, godo.Resource{ID: id, Type: godo.DatabaseResourceType})
		}
		_, err := c.Tags.TagResources(ctx, tag, &godo.TagResourcesRequest{Resources: rs})
		return err
	}
	for range 2 {
		if err := tagDB("team-ml", db.ID); err != nil {
			t.Fatal(err)
		}
	}
	if got := dbTags(t, c, db.ID); !slices.Equal(got, []string{"stack:a", "team-ml"}) {
		t.Fatalf("tags after tagging: %v", got)
	}
	got, _, err := c.Tags.Get(ctx, "team-ml")
	if err != nil || got.Resources.Count != 1 || got.Resources.Databases == nil || got.Resources.Databases.Count != 1 ||
		got.Resources.Databases.LastTaggedURI != "https://api.digitalocean.com/v2/databases/"+db.ID {
		t.Fatalf("tag after tagging: %v %+v %+v", err, got, got.Resources.Databases)
	}
	var root struct {
		Databases []godo.Database `json:"databases"`
	}
	r, _ := c.NewRequest(ctx, http.MethodGet, "/v2/databases?tag_name=team-ml", nil)
	if _, err := c.Do(ctx, r, &root); err != nil || len(root.Databases) != 1 || root.Databases[0].ID != db.ID {
		t.Fatalf("list by tag: %v %+v", err, root.Databases)
	}

	// Refusals leave everything as it was: an unknown tag, an unknown
	// database (even next to a real one), a type /v2/tags cannot tag.
	wantDBError(t, tagDB("nope", db.ID), http.StatusNotFound)
	_, _, err = c.Tags.Get(ctx, "nope")
	wantStatus(t, err, http.StatusNotFound)
	wantDBError(t, tagDB("team-ml", other.ID, newID()), http.StatusNotFound, "resources[1]", "database cluster")
	if got := dbTags(t, c, other.ID); len(got) != 0 {
		t.Fatalf("a refused request tagged %v", got)
	}
	_, err = c.Tags.TagResources(ctx, "team-ml", &godo.TagResourcesRequest{Resources: []godo.Resource{{ID: newID(), Type: "kubernetes"}}})
	wantDBError(t, err, http.StatusUnprocessableEntity, "resources[0].resource_type", "kubernetes", "database")
	_, err = c.Tags.TagResources(ctx, "team-ml", &godo.TagResourcesRequest{Resources: []godo.Resource{{ID: "12345", Type: godo.DropletResourceType}}})
	wantDBError(t, err, http.StatusNotFound, "droplet", "12345")
	_, err = c.Tags.TagResources(ctx, "team-ml", &godo.TagResourcesRequest{})
	wantDBError(t, err, http.StatusUnprocessableEntity, "at least one")

	// Paths use the canonical capitalization.
	wantStatus(t, tagDB("TEAM-ML", other.ID), http.StatusNotFound)

	// A tag a database was created with exists without POST /v2/tags.
	if st, _, err := c.Tags.Get(ctx, "stack:a"); err != nil || st.Resources.Databases.Count != 1 {
		t.Fatalf("creation tag: %v %+v", err, st)
	}
	tags, _, err := c.Tags.List(ctx, nil)
	if err != nil || len(tags) != 2 || tags[0].Name != "stack:a" || tags[1].Name != "team-ml" {
		t.Fatalf("tag list: %v %+v", err, tags)
	}

	// Untagging removes the tag from the database; the tag stays.
	if _, err := c.Tags.UntagResources(ctx, "team-ml", &godo.UntagResourcesRequest{Resources: []godo.Resource{{ID: db.ID, Type: godo.DatabaseResourceType}}}); err != nil {
		t.Fatal(err)
	}
	if got := dbTags(t, c, db.ID); !slices.Equal(got, []string{"stack:a"}) {
		t.Fatalf("tags after untagging: %v", got)
	}
	if got, _, err := c.Tags.Get(ctx, "team-ml"); err != nil || got.Resources.Count != 0 {
		t.Fatalf("tag after untagging: %v %+v", err, got)
	}
	_, err = c.Tags.UntagResources(ctx, "team-ml", &godo.UntagResourcesRequest{Resources: []godo.Resource{{ID: newID(), Type: godo.DatabaseResourceType}}})
	wantStatus(t, err, http.StatusNotFound)

	// Deleting a tag untags everything that carries it.
	if err := tagDB("team-ml", db.ID, other.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Tags.Delete(ctx, "team-ml"); err != nil {
		t.Fatal(err)
	}
	if a, b := dbTags(t, c, db.ID), dbTags(t, c, other.ID); !slices.Equal(a, []string{"stack:a"}) || len(b) != 0 {
		t.Fatalf("tags after deleting the tag: %v %v", a, b)
	}
	_, _, err = c.Tags.Get(ctx, "team-ml")
	wantStatus(t, err, http.StatusNotFound)
	_, err = c.Tags.Delete(ctx, "team-ml")
	wantStatus(t, err, http.StatusNotFound)
}

// A deleted database cannot be tagged, and its tags no longer count.
func TestTagsDeletedDatabase(t *testing.T) {
	_, c := startTest(t, Config{})
	db := createVisibleDB(t, c, dbRequest("short-lived", "pg"))
	if _, _, err := c.Tags.Create(ctx, &godo.TagCreateRequest{Name: "keep"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Tags.TagResources(ctx, "keep", &godo.TagResourcesRequest{Resources: []godo.Resource{{ID: db.ID, Type: godo.DatabaseResourceType}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Databases.Delete(ctx, db.ID); err != nil {
		t.Fatal(err)
	}
	_, err := c.Tags.TagResources(ctx, "keep", &godo.TagResourcesRequest{Resources: []godo.Resource{{ID: db.ID, Type: godo.DatabaseResourceType}}})
	wantDBError(t, err, http.StatusNotFound, db.ID)
	if got, _, err := c.Tags.Get(ctx, "keep"); err != nil || got.Resources.Count != 0 {
		t.Fatalf("tag of a deleted database: %v %+v", err, got)
	}
}
