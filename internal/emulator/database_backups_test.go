package emulator

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/digitalocean/godo"
)

// A cluster has no backup until Realism.FirstBackup after it first reads
// online, then one a day, each kept seven days; a restore needs a source
// of the same engine and a point those backups cover.
func TestDatabaseBackupsAndRestore(t *testing.T) {
	srv, c := startTest(t, Config{TimeScale: 1})
	clk := newHandClock(srv)
	req := dbRequest("bk-pg", "pg")
	req.SizeSlug = "db-s-1vcpu-2gb"
	src := createDB(t, c, req)
	clk.advance(DatabaseCreateDuration)
	if _, _, err := c.Databases.CreateUser(ctx, src.ID, &godo.DatabaseCreateUserRequest{Name: "app"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Databases.CreateDB(ctx, src.ID, &godo.DatabaseCreateDBRequest{Name: "appdb"}); err != nil {
		t.Fatal(err)
	}
	if got, _, err := c.Databases.ListBackups(ctx, src.ID, nil); err != nil || len(got) != 0 {
		t.Fatalf("backups while the first one is being made: %v %+v", err, got)
	}
	restore := func(name string, br *godo.DatabaseBackupRestore) (*godo.Database, error) {
		r := dbRequest(name, "pg")
		r.SizeSlug, r.BackupRestore = "db-s-1vcpu-2gb", br
		db, _, err := c.Databases.Create(ctx, r)
		return db, err
	}
	_, err := restore("bk-early", &godo.DatabaseBackupRestore{DatabaseName: "bk-pg"})
	wantDBError(t, err, http.StatusUnprocessableEntity, "bk-pg", "no backup yet")

	clk.advance(DefaultRealism.FirstBackup)
	first, _, err := c.Databases.ListBackups(ctx, src.ID, nil)
	if err != nil || len(first) != 1 || first[0].SizeGigabytes <= 0 {
		t.Fatalf("backups after the first: %v %+v", err, first)
	}
	clk.advance(24 * time.Hour)
	if got, _, err := c.Databases.ListBackups(ctx, src.ID, nil); err != nil || len(got) != 2 || !got[1].CreatedAt.Equal(first[0].CreatedAt.Add(24*time.Hour)) {
		t.Fatalf("daily backups: %v %+v", err, got)
	}

	// Refusals, each naming the cause.
	_, err = restore("bk-missing", &godo.DatabaseBackupRestore{DatabaseName: "bk-nowhere"})
	wantDBError(t, err, http.StatusNotFound, "bk-nowhere")
	_, err = restore("bk-before", &godo.DatabaseBackupRestore{DatabaseName: "bk-pg", BackupCreatedAt: first[0].CreatedAt.Add(-time.Minute).Format(time.RFC3339)})
	wantDBError(t, err, http.StatusUnprocessableEntity, "before the oldest backup")
	_, err = restore("bk-future", &godo.DatabaseBackupRestore{DatabaseName: "bk-pg", BackupCreatedAt: srv.now().Add(time.Hour).Format(time.RFC3339)})
	wantDBError(t, err, http.StatusUnprocessableEntity, "in the future")
	my := dbRequest("bk-my", "mysql")
	my.BackupRestore = &godo.DatabaseBackupRestore{DatabaseName: "bk-pg"}
	_, _, err = c.Databases.Create(ctx, my)
	wantDBError(t, err, http.StatusUnprocessableEntity, "same engine")

	// A point between backups (point-in-time) restores, with the source's users and databases.
	got, err := restore("bk-restored", &godo.DatabaseBackupRestore{DatabaseName: "bk-pg", BackupCreatedAt: first[0].CreatedAt.Add(time.Hour).Format(time.RFC3339)})
	if err != nil || got.Status != "creating" {
		t.Fatalf("restore: %v %+v", err, got)
	}
	clk.advance(DatabaseCreateDuration + DefaultRealism.ReadAfterCreate)
	restored, _, err := c.Databases.Get(ctx, got.ID)
	if err != nil || restored.Status != "online" || !slices.Contains(restored.DBNames, "appdb") {
		t.Fatalf("restored cluster: %v %+v", err, restored)
	}
	srcUser, _, _ := c.Databases.GetUser(ctx, src.ID, "app")
	if u, _, err := c.Databases.GetUser(ctx, got.ID, "app"); err != nil || u.Password != srcUser.Password {
		t.Fatalf("restored user app: %v %+v", err, u)
	}

	// Seven days on, the first backup is gone: its time can no longer be restored.
	clk.advance(7*24*time.Hour - time.Hour)
	backups, _, err := c.Databases.ListBackups(ctx, src.ID, nil)
	if err != nil || len(backups) != 7 || backups[0].CreatedAt.Equal(first[0].CreatedAt) {
		t.Fatalf("backups after a week: %v %+v", err, backups)
	}
	_, err = restore("bk-expired", &godo.DatabaseBackupRestore{DatabaseName: "bk-pg", BackupCreatedAt: first[0].CreatedAt.Format(time.RFC3339)})
	wantDBError(t, err, http.StatusUnprocessableEntity, "before the oldest backup")

	// Valkey keeps no backups (spec databases_list_backups).
	vk := createDB(t, c, dbRequest("bk-valkey", "valkey"))
	clk.advance(DatabaseCreateDuration + DefaultRealism.ReadAfterCreate)
	_, _, err = c.Databases.ListBackups(ctx, vk.ID, nil)
	wantDBError(t, err, http.StatusUnprocessableEntity, "PostgreSQL and MySQL")
}

// A replica resizes in place through its uuid (resizing, then online; same
// id) and carries tags set through /v2/tags with resource_type database.
func TestReplicaResizeAndTagsInPlace(t *testing.T) {
	srv, c := startTest(t, Config{TimeScale: 1})
	clk := newHandClock(srv)
	primary := onlinePrimary(t, c, clk, "rz-pg")
	rp := onlineReplica(t, c, clk, primary.ID, "rz-replica")

	_, err := c.Databases.Resize(ctx, rp.ID, &godo.DatabaseResizeRequest{SizeSlug: "db-s-1vcpu-1gb", NumNodes: 1})
	wantDBError(t, err, http.StatusUnprocessableEntity, "smaller than the primary")
	_, err = c.Databases.Resize(ctx, rp.ID, &godo.DatabaseResizeRequest{SizeSlug: "db-s-2vcpu-4gb", NumNodes: 3})
	wantDBError(t, err, http.StatusUnprocessableEntity, "single node")
	if resp, err := c.Databases.Resize(ctx, rp.ID, &godo.DatabaseResizeRequest{SizeSlug: "db-s-2vcpu-4gb", NumNodes: 1}); err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("replica resize: %v", err)
	}
	if got, _, err := c.Databases.GetReplica(ctx, primary.ID, "rz-replica"); err != nil || got.Status != "resizing" || got.Size != "db-s-2vcpu-4gb" {
		t.Fatalf("replica while resizing: %v %+v", err, got)
	}
	_, err = c.Databases.Resize(ctx, rp.ID, &godo.DatabaseResizeRequest{SizeSlug: "db-s-4vcpu-8gb", NumNodes: 1})
	wantDBError(t, err, http.StatusConflict, "resizing")
	clk.advance(DatabaseResizeDuration)
	if got, _, err := c.Databases.GetReplica(ctx, primary.ID, "rz-replica"); err != nil || got.Status != "online" || got.ID != rp.ID {
		t.Fatalf("replica after resize: %v %+v", err, got)
	}

	if _, _, err := c.Tags.Create(ctx, &godo.TagCreateRequest{Name: "team-a"}); err != nil {
		t.Fatal(err)
	}
	tag := func(on bool) {
		t.Helper()
		req := &godo.UntagResourcesRequest{Resources: []godo.Resource{{ID: rp.ID, Type: godo.DatabaseResourceType}}}
		var err error
		if on {
			_, err = c.Tags.TagResources(ctx, "team-a", &godo.TagResourcesRequest{Resources: req.Resources})
		} else {
			_, err = c.Tags.UntagResources(ctx, "team-a", req)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	tag(true)
	if got, _, err := c.Databases.GetReplica(ctx, primary.ID, "rz-replica"); err != nil || !slices.Equal(got.Tags, []string{"team-a"}) {
		t.Fatalf("replica tags: %v %+v", err, got)
	}
	if tg, _, err := c.Tags.Get(ctx, "team-a"); err != nil || tg.Resources.Count != 1 {
		t.Fatalf("tag counts the replica: %v %+v", err, tg)
	}
	if p, _, _ := c.Databases.Get(ctx, primary.ID); slices.Contains(p.Tags, "team-a") {
		t.Fatalf("tagging the replica tagged its primary: %v", p.Tags)
	}
	tag(false)
	if got, _, err := c.Databases.GetReplica(ctx, primary.ID, "rz-replica"); err != nil || len(got.Tags) != 0 {
		t.Fatalf("replica tags after untag: %v %+v", err, got)
	}
}
