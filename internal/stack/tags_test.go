package stack

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// A change of the stack's tags retags its owned databases in place (the
// Tags API tags databases), instead of leaving them with the tags of their
// create; a later apply is then quiet.
func TestDatabaseTagsFollowTheStack(t *testing.T) {
	srv, e := startEngine(t)
	ctx := context.Background()
	spec := oneDatabaseSpec()
	res, err := e.Apply(ctx, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	id := res.Status.Databases["vectors"].ID
	spec.Tags = []string{"team-search", "env:prod"} // team-ml dropped
	res, err = e.Apply(ctx, spec, res.Status)
	if err != nil {
		t.Fatalf("retagging apply: %v", err)
	}
	db, _, err := e.API.Databases.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	spec.Owner = res.Status.Owner // the identity the first apply gave the stack
	want := spec.AllTags()
	if !sameStrings(db.Tags, want) {
		t.Fatalf("database tags %v, want %v", db.Tags, want)
	}
	if !slices.Equal(res.Status.Databases["vectors"].Tags, want) {
		t.Errorf("status records tags %v, want %v", res.Status.Databases["vectors"].Tags, want)
	}
	ref, err := e.Refresh(ctx, spec, res.Status)
	if err != nil {
		t.Fatal(err)
	}
	srv.ResetRequestCounts()
	if _, err := e.Apply(ctx, spec, ref.Status); err != nil {
		t.Fatal(err)
	}
	for route, n := range srv.RequestCounts() {
		if !strings.HasPrefix(route, "GET ") && !strings.Contains(route, "/v2/projects") {
			t.Errorf("a converged stack's apply wrote: %s x%d", route, n)
		}
	}
}
