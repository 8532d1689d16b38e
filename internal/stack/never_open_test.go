package stack

import (
	"context"
	"testing"
)

// No database is open to the internet at any moment, as the emulator
// records it: created with rules, narrowed to the cluster, detached
// (retained) with the VPC range kept.
func TestNoDatabaseEverOpen(t *testing.T) {
	srv, e := startEngine(t)
	// (*Emulator).EverOpenDatabases comes with the emulator's refusals
	// (branch emu-refuse); until that is merged there is nothing to ask.
	recorder, ok := any(srv).(interface{ EverOpenDatabases() []string })
	if !ok {
		t.Skip("this emulator does not record databases open to the internet yet")
	}
	ctx := context.Background()
	spec := oneDatabaseSpec()
	spec.Databases["cache"] = DatabaseSpec{Engine: "valkey", Version: "8", Size: "db-s-1vcpu-2gb", NodeCount: 1, RetainOnDestroy: true}
	res, err := e.Apply(ctx, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	spec.Databases["vectors"] = func(d DatabaseSpec) DatabaseSpec { d.RetainOnDestroy = true; return d }(spec.Databases["vectors"])
	if _, err := e.Delete(ctx, spec, res.Status, DeleteOptions{Retain: map[string]bool{"vectors": true, "cache": true}}); err != nil {
		t.Fatal(err)
	}
	if open := recorder.EverOpenDatabases(); len(open) != 0 {
		t.Fatalf("databases open to the internet at some moment: %v", open)
	}
}
