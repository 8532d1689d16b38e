package emulator

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/digitalocean/godo"
)

// Managed Databases as DigitalOcean really behaves (issue 9): new clusters
// and replicas answer 404 for a while, replicas wait for the primary's first
// backup (412), deleted names are held (422), and promotion is
// asynchronous. Each test moves the emulator's clock by hand (time scale 1,
// so the clock runs in DigitalOcean time exactly): windows are checked to
// the second without racing the wall clock. Each behaviour also has a test
// that Ideal, or its window set negative, turns it off.

// wantNotFound checks err is DigitalOcean's 404 body.
func wantNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: answered, want 404", what)
	}
	if er := wantStatus(t, err, http.StatusNotFound); er.Message == "" {
		t.Fatalf("%s: 404 without DigitalOcean's error body", what)
	}
}

func dbIDs(t *testing.T, c *godo.Client, tag string) []string {
	t.Helper()
	var dbs []godo.Database
	if tag == "" {
		got, _, err := c.Databases.List(ctx, &godo.ListOptions{PerPage: 200})
		if err != nil {
			t.Fatal(err)
		}
		dbs = got
	} else {
		var root struct {
			Databases []godo.Database `json:"databases"`
		}
		r, _ := c.NewRequest(ctx, http.MethodGet, "/v2/databases?tag_name="+tag, nil)
		if _, err := c.Do(ctx, r, &root); err != nil {
			t.Fatal(err)
		}
		dbs = root.Databases
	}
	var ids []string
	for _, db := range dbs {
		ids = append(ids, db.ID)
	}
	return ids
}

func replicaNames(t *testing.T, c *godo.Client, id string) []string {
	t.Helper()
	reps, _, err := c.Databases.ListReplicas(ctx, id, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, rp := range reps {
		names = append(names, rp.Name)
	}
	return names
}

func vpcMemberURNs(t *testing.T, c *godo.Client, vpcID string) []string {
	t.Helper()
	members, _, err := c.VPCs.ListMembers(ctx, vpcID, nil, &godo.ListOptions{PerPage: 200})
	if err != nil {
		t.Fatal(err)
	}
	var urns []string
	for _, m := range members {
		urns = append(urns, m.URN)
	}
	return urns
}

func inInventory(srv *Server, kind, id string) bool {
	for _, it := range srv.Inventory().Items {
		if it.Kind == kind && it.ID == id {
			return true
		}
	}
	return false
}

// onlinePrimary creates a PostgreSQL cluster and moves the clock until it
// is online and takes replicas (create, then first backup).
func onlinePrimary(t *testing.T, c *godo.Client, clk *handClock, name string) *godo.Database {
	t.Helper()
	req := dbRequest(name, "pg")
	req.SizeSlug = "db-s-1vcpu-2gb"
	db := createDB(t, c, req)
	clk.advance(DatabaseCreateDuration)
	clk.advance(DefaultRealism.FirstBackup)
	got, _, err := c.Databases.Get(ctx, db.ID)
	if err != nil || got.Status != "online" {
		t.Fatalf("primary %s: %v %+v", name, err, got)
	}
	return got
}

// onlineReplica creates a replica of primary and moves the clock until it
// is readable and online.
func onlineReplica(t *testing.T, c *godo.Client, clk *handClock, primary, name string) *godo.DatabaseReplica {
	t.Helper()
	rp, _, err := c.Databases.CreateReplica(ctx, primary, &godo.DatabaseCreateReplicaRequest{Name: name, Size: "db-s-1vcpu-2gb"})
	if err != nil {
		t.Fatalf("create replica %s: %v", name, err)
	}
	clk.advance(ReplicaCreateDuration)
	got, _, err := c.Databases.GetReplica(ctx, primary, name)
	if err != nil || got.Status != "online" || got.ID != rp.ID {
		t.Fatalf("replica %s: %v %+v", name, err, got)
	}
	return got
}

func TestDatabaseReadAfterCreate(t *testing.T) {
	srv, c := startTest(t, Config{TimeScale: 1})
	clk := newHandClock(srv)
	req := dbRequest("fresh-pg", "pg")
	req.SizeSlug, req.Tags = "db-s-1vcpu-2gb", []string{"fresh"}
	db, resp, err := c.Databases.Create(ctx, req)
	if err != nil || resp.StatusCode != http.StatusCreated || db.ID == "" || db.Name != "fresh-pg" || db.Status != "creating" || db.Connection == nil {
		t.Fatalf("create answers 201 with the cluster: %v %+v", err, db)
	}

	// Every route under the cluster answers 404 while it is new.
	hidden := func(when string) {
		t.Helper()
		_, _, err := c.Databases.Get(ctx, db.ID)
		wantNotFound(t, when+": GET cluster", err)
		_, _, err = c.Databases.GetFirewallRules(ctx, db.ID)
		wantNotFound(t, when+": GET firewall", err)
		_, _, err = c.Databases.ListUsers(ctx, db.ID, nil)
		wantNotFound(t, when+": GET users", err)
		_, _, err = c.Databases.ListDBs(ctx, db.ID, nil)
		wantNotFound(t, when+": GET dbs", err)
		_, _, err = c.Databases.ListPools(ctx, db.ID, nil)
		wantNotFound(t, when+": GET pools", err)
		_, _, err = c.Databases.ListReplicas(ctx, db.ID, nil)
		wantNotFound(t, when+": GET replicas", err)
		_, _, err = c.Databases.GetCA(ctx, db.ID)
		wantNotFound(t, when+": GET ca", err)
		_, err = c.Databases.UpdateMaintenance(ctx, db.ID, &godo.DatabaseUpdateMaintenanceRequest{Day: "monday", Hour: "03:00"})
		wantNotFound(t, when+": PUT maintenance", err)
		_, _, err = c.Databases.CreateUser(ctx, db.ID, &godo.DatabaseCreateUserRequest{Name: "early"})
		wantNotFound(t, when+": POST users", err)
		if ids := dbIDs(t, c, ""); slices.Contains(ids, db.ID) {
			t.Fatalf("%s: new cluster listed: %v", when, ids)
		}
		if ids := dbIDs(t, c, "fresh"); slices.Contains(ids, db.ID) {
			t.Fatalf("%s: new cluster listed by tag: %v", when, ids)
		}
	}
	hidden("at once")
	// The emulator's truth still has it, and so does its VPC.
	if !inInventory(srv, "database_cluster", db.ID) {
		t.Fatalf("inventory lacks the new cluster:\n%s", srv.Inventory())
	}
	if urns := vpcMemberURNs(t, c, db.PrivateNetworkUUID); !slices.Contains(urns, "do:dbaas:"+db.ID) {
		t.Fatalf("VPC members %v lack the new cluster", urns)
	}
	// Its name is taken all the same.
	_, _, err = c.Databases.Create(ctx, dbRequest("fresh-pg", "mysql"))
	wantDBError(t, err, http.StatusUnprocessableEntity, "fresh-pg", "already taken")

	clk.advance(DefaultRealism.ReadAfterCreate - time.Second)
	hidden("a second before the window ends")
	clk.advance(time.Second)
	got, _, err := c.Databases.Get(ctx, db.ID)
	if err != nil || got.ID != db.ID || got.Status != "creating" {
		t.Fatalf("after the window: %v %+v", err, got)
	}
	if !slices.Contains(dbIDs(t, c, ""), db.ID) || !slices.Contains(dbIDs(t, c, "fresh"), db.ID) {
		t.Fatal("the cluster is not listed after the window")
	}
	// Still provisioning: operations that need it online answer 409.
	_, _, err = c.Databases.CreateUser(ctx, db.ID, &godo.DatabaseCreateUserRequest{Name: "early"})
	wantDBError(t, err, http.StatusConflict, "online")

	// A replica: 404 and missing from the list after its create.
	clk.advance(DatabaseCreateDuration + DefaultRealism.FirstBackup)
	rp, resp, err := c.Databases.CreateReplica(ctx, db.ID, &godo.DatabaseCreateReplicaRequest{Name: "fresh-replica", Size: "db-s-1vcpu-2gb"})
	if err != nil || resp.StatusCode != http.StatusCreated || rp.Name != "fresh-replica" || rp.Status != "creating" {
		t.Fatalf("create replica answers 201 with the replica: %v %+v", err, rp)
	}
	replicaHidden := func(when string) {
		t.Helper()
		_, _, err := c.Databases.GetReplica(ctx, db.ID, "fresh-replica")
		wantNotFound(t, when+": GET replica", err)
		if names := replicaNames(t, c, db.ID); slices.Contains(names, "fresh-replica") {
			t.Fatalf("%s: new replica listed: %v", when, names)
		}
		_, err = c.Databases.DeleteReplica(ctx, db.ID, "fresh-replica")
		wantNotFound(t, when+": DELETE replica", err)
	}
	replicaHidden("at once")
	if !inInventory(srv, "database_replica", rp.ID) {
		t.Fatalf("inventory lacks the new replica:\n%s", srv.Inventory())
	}
	if urns := vpcMemberURNs(t, c, rp.PrivateNetworkUUID); !slices.Contains(urns, "do:dbaas:"+rp.ID) {
		t.Fatalf("VPC members %v lack the new replica", urns)
	}
	clk.advance(DefaultRealism.ReadAfterCreate - time.Second)
	replicaHidden("a second before the window ends")
	clk.advance(time.Second)
	if got, _, err := c.Databases.GetReplica(ctx, db.ID, "fresh-replica"); err != nil || got.ID != rp.ID {
		t.Fatalf("replica after the window: %v %+v", err, got)
	}
	if names := replicaNames(t, c, db.ID); !slices.Equal(names, []string{"fresh-replica"}) {
		t.Fatalf("replicas after the window: %v", names)
	}
}

func TestDatabaseReadAfterCreateOff(t *testing.T) {
	for name, r := range map[string]Realism{"ideal": {Ideal: true}, "window off": {ReadAfterCreate: -1}} {
		t.Run(name, func(t *testing.T) {
			srv, c := startTest(t, Config{TimeScale: 1, Realism: r})
			clk := newHandClock(srv)
			db := createDB(t, c, dbRequest("at-once", "pg"))
			if got, _, err := c.Databases.Get(ctx, db.ID); err != nil || got.ID != db.ID {
				t.Fatalf("GET right after create: %v", err)
			}
			if !slices.Contains(dbIDs(t, c, ""), db.ID) {
				t.Fatal("not listed right after create")
			}
			clk.advance(DatabaseCreateDuration + DefaultRealism.FirstBackup)
			if _, _, err := c.Databases.CreateReplica(ctx, db.ID, &godo.DatabaseCreateReplicaRequest{Name: "at-once-r", Size: "db-s-1vcpu-1gb"}); err != nil {
				t.Fatal(err)
			}
			if _, _, err := c.Databases.GetReplica(ctx, db.ID, "at-once-r"); err != nil {
				t.Fatalf("GET replica right after create: %v", err)
			}
		})
	}
}

func TestDatabaseReplicaWaitsForFirstBackup(t *testing.T) {
	srv, c := startTest(t, Config{TimeScale: 1})
	clk := newHandClock(srv)
	req := dbRequest("backup-pg", "pg")
	req.SizeSlug = "db-s-1vcpu-2gb"
	db := createDB(t, c, req)
	replica := &godo.DatabaseCreateReplicaRequest{Name: "backup-replica", Size: "db-s-1vcpu-2gb"}

	clk.advance(DefaultRealism.ReadAfterCreate)
	_, _, err := c.Databases.CreateReplica(ctx, db.ID, replica)
	wantDBError(t, err, http.StatusConflict, "online") // still creating
	clk.advance(DatabaseCreateDuration - DefaultRealism.ReadAfterCreate)
	if got, _, err := c.Databases.Get(ctx, db.ID); err != nil || got.Status != "online" {
		t.Fatalf("primary: %v %+v", err, got)
	}
	wantPrecondition := func(when string) {
		t.Helper()
		_, _, err := c.Databases.CreateReplica(ctx, db.ID, replica)
		wantDBError(t, err, http.StatusPreconditionFailed, "backup-pg", "first backup")
		if er := rawError(t, c, http.MethodPost, "/v2/databases/"+db.ID+"/replicas", replica); er.ID != "precondition_failed" {
			t.Fatalf("%s: error id %q, want precondition_failed", when, er.ID)
		}
	}
	wantPrecondition("as the primary comes online")
	// An invalid request is refused as such at once, not with 412.
	_, _, err = c.Databases.CreateReplica(ctx, db.ID, &godo.DatabaseCreateReplicaRequest{Name: "backup-small", Size: "db-s-1vcpu-1gb"})
	wantDBError(t, err, http.StatusUnprocessableEntity, "smaller")
	clk.advance(DefaultRealism.FirstBackup - time.Second)
	wantPrecondition("a second before the first backup")
	clk.advance(time.Second)
	if _, resp, err := c.Databases.CreateReplica(ctx, db.ID, replica); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create replica after the first backup: %v", err)
	}
	// The window counts from when the primary FIRST came online: coming
	// back online after a resize does not restart it.
	if _, err := c.Databases.Resize(ctx, db.ID, &godo.DatabaseResizeRequest{SizeSlug: "db-s-2vcpu-4gb", NumNodes: 1}); err != nil {
		t.Fatal(err)
	}
	clk.advance(DatabaseResizeDuration)
	if got, _, err := c.Databases.Get(ctx, db.ID); err != nil || got.Status != "online" {
		t.Fatalf("after the resize: %v %+v", err, got)
	}
	if _, _, err := c.Databases.CreateReplica(ctx, db.ID, &godo.DatabaseCreateReplicaRequest{Name: "backup-replica-2", Size: "db-s-2vcpu-4gb"}); err != nil {
		t.Fatalf("create replica right after a resize: %v", err)
	}
	if n := srv.Inventory().Count("database_replica"); n != 2 {
		t.Fatalf("inventory has %d replicas, want 2:\n%s", n, srv.Inventory())
	}
}

// rawError sends a request and decodes DigitalOcean's error body.
func rawError(t *testing.T, c *godo.Client, method, path string, body any) apiError {
	t.Helper()
	r, err := c.NewRequest(ctx, method, path, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.HTTPClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out apiError
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s %s: error body: %v", method, path, err)
	}
	return out
}

func TestDatabaseReplicaFirstBackupOff(t *testing.T) {
	for name, r := range map[string]Realism{"ideal": {Ideal: true}, "window off": {FirstBackup: -1}} {
		t.Run(name, func(t *testing.T) {
			srv, c := startTest(t, Config{TimeScale: 1, Realism: r})
			clk := newHandClock(srv)
			db := createDB(t, c, dbRequest("nobackup-pg", "pg"))
			clk.advance(DatabaseCreateDuration)
			if _, _, err := c.Databases.CreateReplica(ctx, db.ID, &godo.DatabaseCreateReplicaRequest{Name: "nobackup-r", Size: "db-s-1vcpu-1gb"}); err != nil {
				t.Fatalf("replica as the primary comes online: %v", err)
			}
		})
	}
}

func TestDatabaseNamesHeldAfterDelete(t *testing.T) {
	srv, c := startTest(t, Config{TimeScale: 1})
	clk := newHandClock(srv)
	pg := onlinePrimary(t, c, clk, "held-pg")
	onlineReplica(t, c, clk, pg.ID, "held-lone")
	onlineReplica(t, c, clk, pg.ID, "held-child")

	wantHeld := func(when, name string) {
		t.Helper()
		_, _, err := c.Databases.Create(ctx, dbRequest(name, "mysql"))
		wantDBError(t, err, http.StatusUnprocessableEntity, name, "is not available")
		if er := rawError(t, c, http.MethodPost, "/v2/databases", dbRequest(name, "mysql")); er.ID != "unprocessable_entity" {
			t.Fatalf("%s: error id %q", when, er.ID)
		}
	}
	// A deleted replica's name: neither a cluster nor a replica may take it.
	if _, err := c.Databases.DeleteReplica(ctx, pg.ID, "held-lone"); err != nil {
		t.Fatal(err)
	}
	wantHeld("after the replica delete", "held-lone")
	_, _, err := c.Databases.CreateReplica(ctx, pg.ID, &godo.DatabaseCreateReplicaRequest{Name: "held-lone", Size: "db-s-1vcpu-2gb"})
	wantDBError(t, err, http.StatusUnprocessableEntity, "held-lone", "is not available")

	// A deleted cluster's name, and its replicas'.
	clk.advance(DeleteDuration) // held-lone is gone, its name still held
	if _, err := c.Databases.Delete(ctx, pg.ID); err != nil {
		t.Fatal(err)
	}
	wantHeld("after the cluster delete", "held-pg")
	wantHeld("after the cluster delete", "held-child")

	clk.advance(DefaultRealism.NameHold - DeleteDuration - time.Second)
	wantHeld("a second before the replica's name is released", "held-lone")
	clk.advance(time.Second)
	if _, _, err := c.Databases.Create(ctx, dbRequest("held-lone", "mysql")); err != nil {
		t.Fatalf("name released after NameHold: %v", err)
	}
	wantHeld("the cluster's name, deleted later", "held-pg")
	clk.advance(DeleteDuration)
	for _, name := range []string{"held-pg", "held-child"} {
		if _, _, err := c.Databases.Create(ctx, dbRequest(name, "mysql")); err != nil {
			t.Fatalf("%s released after NameHold: %v", name, err)
		}
	}
}

func TestDatabaseNamesHeldOff(t *testing.T) {
	for name, r := range map[string]Realism{"ideal": {Ideal: true}, "window off": {NameHold: -1}} {
		t.Run(name, func(t *testing.T) {
			srv, c := startTest(t, Config{TimeScale: 1, Realism: r})
			clk := newHandClock(srv)
			db := createDB(t, c, dbRequest("reused", "pg"))
			clk.advance(DefaultRealism.ReadAfterCreate)
			if _, err := c.Databases.Delete(ctx, db.ID); err != nil {
				t.Fatal(err)
			}
			if _, _, err := c.Databases.Create(ctx, dbRequest("reused", "pg")); err != nil {
				t.Fatalf("name reused at once: %v", err)
			}
		})
	}
}

func TestDatabasePromotionIsAsynchronous(t *testing.T) {
	srv, c := startTest(t, Config{TimeScale: 1})
	clk := newHandClock(srv)
	pg := onlinePrimary(t, c, clk, "promo-pg")
	rp := onlineReplica(t, c, clk, pg.ID, "promo-replica")

	resp, err := c.Databases.PromoteReplicaToPrimary(ctx, pg.ID, "promo-replica")
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("promote: %v", err)
	}
	promoting := func(when string) {
		t.Helper()
		got, _, err := c.Databases.GetReplica(ctx, pg.ID, "promo-replica")
		if err != nil || got.Status != "online" || got.ID != rp.ID {
			t.Fatalf("%s: replica %v %+v", when, err, got)
		}
		if names := replicaNames(t, c, pg.ID); !slices.Equal(names, []string{"promo-replica"}) {
			t.Fatalf("%s: replicas %v", when, names)
		}
		_, _, err = c.Databases.Get(ctx, rp.ID)
		wantNotFound(t, when+": GET the promoted id", err)
		if slices.Contains(dbIDs(t, c, ""), rp.ID) {
			t.Fatalf("%s: the promoted id is listed as a cluster", when)
		}
	}
	promoting("at once")
	// A second promote during the window answers 204 again (idempotent).
	if resp, err := c.Databases.PromoteReplicaToPrimary(ctx, pg.ID, "promo-replica"); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("second promote: %v", err)
	}
	clk.advance(DefaultRealism.Promotion - time.Second)
	promoting("a second before the promotion completes")
	clk.advance(time.Second)

	got, _, err := c.Databases.Get(ctx, rp.ID)
	if err != nil || got.ID != rp.ID || got.Name != "promo-replica" || got.Status != "online" || got.EngineSlug != "pg" {
		t.Fatalf("promoted cluster: %v %+v", err, got)
	}
	_, _, err = c.Databases.GetReplica(ctx, pg.ID, "promo-replica")
	wantNotFound(t, "GET replica after promotion", err)
	if names := replicaNames(t, c, pg.ID); len(names) != 0 {
		t.Fatalf("replicas after promotion: %v", names)
	}
	if ids := dbIDs(t, c, ""); !slices.Contains(ids, rp.ID) || !slices.Contains(ids, pg.ID) {
		t.Fatalf("clusters after promotion: %v", ids)
	}
	if !inInventory(srv, "database_cluster", rp.ID) || inInventory(srv, "database_replica", rp.ID) {
		t.Fatalf("inventory after promotion:\n%s", srv.Inventory())
	}
	// The new primary came online at the promotion: its first backup is
	// still to come.
	_, _, err = c.Databases.CreateReplica(ctx, rp.ID, &godo.DatabaseCreateReplicaRequest{Name: "promo-child", Size: "db-s-1vcpu-2gb"})
	wantDBError(t, err, http.StatusPreconditionFailed, "first backup")
	clk.advance(DefaultRealism.FirstBackup)
	if _, _, err := c.Databases.CreateReplica(ctx, rp.ID, &godo.DatabaseCreateReplicaRequest{Name: "promo-child", Size: "db-s-1vcpu-2gb"}); err != nil {
		t.Fatalf("replica of the promoted cluster: %v", err)
	}

	// A replica deleted while it is being promoted never becomes a cluster.
	doomed := onlineReplica(t, c, clk, pg.ID, "promo-doomed")
	if _, err := c.Databases.PromoteReplicaToPrimary(ctx, pg.ID, "promo-doomed"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Databases.DeleteReplica(ctx, pg.ID, "promo-doomed"); err != nil {
		t.Fatal(err)
	}
	clk.advance(DefaultRealism.Promotion)
	_, _, err = c.Databases.Get(ctx, doomed.ID)
	wantNotFound(t, "GET a replica deleted during its promotion", err)
}

func TestDatabasePromotionOff(t *testing.T) {
	for name, r := range map[string]Realism{"ideal": {Ideal: true}, "window off": {Promotion: -1}} {
		t.Run(name, func(t *testing.T) {
			srv, c := startTest(t, Config{TimeScale: 1, Realism: r})
			clk := newHandClock(srv)
			pg := onlinePrimary(t, c, clk, "instant-pg")
			rp := onlineReplica(t, c, clk, pg.ID, "instant-replica")
			if _, err := c.Databases.PromoteReplicaToPrimary(ctx, pg.ID, "instant-replica"); err != nil {
				t.Fatal(err)
			}
			if got, _, err := c.Databases.Get(ctx, rp.ID); err != nil || got.Status != "online" {
				t.Fatalf("promoted cluster right after the promote: %v %+v", err, got)
			}
			_, _, err := c.Databases.GetReplica(ctx, pg.ID, "instant-replica")
			wantNotFound(t, "GET replica right after the promote", err)
		})
	}
}
