package stack

import (
	"context"
	"slices"
	"testing"
	"time"
)

// A replica's size and the stack's tags change in place: the same replica
// (same id) is resized and retagged through its uuid, never replaced.
func TestReplicaResizedAndRetaggedInPlace(t *testing.T) {
	_, e := startEngine(t)
	ctx := context.Background()
	spec := oneDatabaseSpec()
	db := spec.Databases["vectors"]
	db.Replicas = map[string]ReplicaSpec{"dr": {Size: "db-s-2vcpu-4gb"}}
	spec.Databases["vectors"] = db
	res, err := e.Apply(ctx, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	before := *res.Status.Databases["vectors"].Replicas["dr"]
	db.Replicas = map[string]ReplicaSpec{"dr": {Size: "db-s-4vcpu-8gb"}}
	spec.Databases["vectors"] = db
	spec.Tags = []string{"team-b"}
	res, err = e.Apply(ctx, spec, res.Status)
	if err != nil {
		t.Fatalf("resizing apply: %v", err)
	}
	after := res.Status.Databases["vectors"].Replicas["dr"]
	spec.Owner = res.Status.Owner // the identity the first apply gave the stack
	rep, _, err := e.API.Databases.GetReplica(ctx, res.Status.Databases["vectors"].ID, before.Name)
	if err != nil {
		t.Fatal(err)
	}
	if after.ID != before.ID || rep.ID != before.ID || rep.Size != "db-s-4vcpu-8gb" || rep.Status != "online" {
		t.Fatalf("replica after the resize: status %+v, API %s %s %s (was %s)", after, rep.ID, rep.Size, rep.Status, before.ID)
	}
	if !sameStrings(rep.Tags, spec.AllTags()) || !slices.Equal(after.Tags, spec.AllTags()) {
		t.Fatalf("replica tags %v (status %v), want %v", rep.Tags, after.Tags, spec.AllTags())
	}
}

// restore_from becomes the create's backup_restore; without a point in
// time DigitalOcean takes the latest backup.
func TestRestoreFromRequest(t *testing.T) {
	var none *RestoreFrom
	if none.request() != nil || none.describe() != "" {
		t.Fatal("no restore_from, yet a backup_restore")
	}
	latest := (&RestoreFrom{DatabaseName: "ml-vectors"}).request()
	if latest.DatabaseName != "ml-vectors" || latest.BackupCreatedAt != "" {
		t.Fatalf("latest: %+v", latest)
	}
	at := time.Date(2026, 3, 2, 9, 15, 0, 0, time.FixedZone("CET", 3600))
	point := (&RestoreFrom{DatabaseName: "ml-vectors", PointInTime: at}).request()
	if point.BackupCreatedAt != "2026-03-02T08:15:00Z" {
		t.Fatalf("point in time: %+v", point)
	}
}
