package stack

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/digitalocean/godo"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
)

// The engine against DigitalOcean's rough edges on the database side:
// read-after-create 404s, 412 before a primary's first backup, held names,
// MongoDB's parallel user creates, and never leaving a database open to the
// internet. Each is provoked with injected faults answering exactly what
// DigitalOcean answers.

const (
	routeDatabase      = "/v2/databases/{database_cluster_uuid}"
	routeReplicas      = "/v2/databases/{database_cluster_uuid}/replicas"
	routeReplica       = "/v2/databases/{database_cluster_uuid}/replicas/{replica_name}"
	routeDatabaseUsers = "/v2/databases/{database_cluster_uuid}/users"
)

// oneDatabaseSpec is a small stack with one pg database.
func oneDatabaseSpec() Spec {
	spec := quickstartSpec()
	spec.Cluster.GPUPools = nil
	spec.Cluster.SystemPool.NodeCount = 1
	spec.Databases = map[string]DatabaseSpec{
		"vectors": {Engine: "pg", Version: "17", Size: "db-s-2vcpu-4gb", NodeCount: 1, DBs: []string{"app"}, Users: []string{"app"}},
	}
	return spec
}

func inject(t *testing.T, srv *emulator.Server, f emulator.Fault) {
	t.Helper()
	if _, err := srv.InjectFault(f); err != nil {
		t.Fatal(err)
	}
}

// A new database answers 404 for a while after its create: the apply
// waits it out instead of failing.
func TestApplyWaitsOutDatabaseNotVisibleAfterCreate(t *testing.T) {
	srv, e := startEngine(t)
	faults := countFaults(srv)
	inject(t, srv, emulator.Fault{Method: "GET", Route: routeDatabase, Kind: emulator.FaultStatus, Status: 404, Count: 4})
	res, err := e.Apply(context.Background(), oneDatabaseSpec(), nil)
	if err != nil {
		t.Fatalf("apply failed on the 404s after the create: %v", err)
	}
	d := res.Status.Databases["vectors"]
	if d == nil || d.State != "online" || d.CreatedAt.IsZero() {
		t.Fatalf("database not recorded online with its create time: %+v", d)
	}
	if n := faults(); n < 4 {
		t.Fatalf("only %d of the 4 injected 404s were seen: the test proves nothing", n)
	}
}

// A 404 for a database that was online before is real drift: refresh
// drops it, and an apply does not wait for it.
func TestNotFoundOfASeenDatabaseIsDrift(t *testing.T) {
	srv, e := startEngine(t)
	ctx := context.Background()
	spec := oneDatabaseSpec()
	res, err := e.Apply(ctx, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	inject(t, srv, emulator.Fault{Method: "GET", Route: routeDatabase, Kind: emulator.FaultStatus, Status: 404, Count: 1})
	ref, err := e.Refresh(ctx, spec, res.Status)
	if err != nil {
		t.Fatal(err)
	}
	if _, kept := ref.Status.Databases["vectors"]; kept {
		t.Fatal("a database seen online that now answers 404 was kept in state")
	}
}

// A database whose create was answered, but which the apply never saw
// (it gave up while DigitalOcean still answered 404), is not forgotten:
// refresh keeps it, and destroy deletes it even though its delete answers
// 404 at first.
func TestDatabaseNotVisibleAfterCreateIsNeverForgotten(t *testing.T) {
	srv, e := startEngine(t)
	spec := oneDatabaseSpec()
	inject(t, srv, emulator.Fault{Method: "GET", Route: routeDatabase, Kind: emulator.FaultStatus, Status: 404})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	res, err := e.Apply(ctx, spec, nil)
	cancel()
	if err == nil {
		t.Fatal("apply succeeded while the database answered 404")
	}
	d := res.Status.Databases["vectors"]
	if d == nil || d.ID == "" {
		t.Fatalf("the created database is not in state after the failed apply: %+v", res.Status.Databases)
	}

	ref, err := e.Refresh(context.Background(), spec, res.Status)
	if err != nil {
		t.Fatal(err)
	}
	if ref.Status.Databases["vectors"] == nil {
		t.Fatal("refresh forgot a database created moments ago that is not visible yet: it would leak")
	}

	srv.ClearFaults()
	inject(t, srv, emulator.Fault{Method: "DELETE", Route: routeDatabase, Kind: emulator.FaultStatus, Status: 404, Count: 3})
	spec.Databases["vectors"] = func(d DatabaseSpec) DatabaseSpec { d.DeletionProtection = false; return d }(spec.Databases["vectors"])
	del, err := e.Delete(context.Background(), spec, ref.Status, DeleteOptions{})
	if err != nil {
		t.Fatalf("destroy: %v", err)
	}
	if len(del.Status.Databases) != 0 {
		t.Fatalf("databases in status after destroy: %+v", del.Status.Databases)
	}
	waitNoDatabases(t, srv)
}

// waitNoDatabases waits until the emulator holds no database cluster (the
// VPC's fate is not this file's subject).
func waitNoDatabases(t *testing.T, srv *emulator.Server) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if srv.Inventory().Count("database_cluster") == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("databases left behind:\n%s", srv.Inventory())
}

// Retrying a 404 is bounded: a destroy whose delete keeps answering 404
// for a database not visible yet keeps it in state when the timeout ends,
// and says why.
func TestDeleteOfInvisibleDatabaseKeepsItWhenTheTimeoutEnds(t *testing.T) {
	srv, e := startEngine(t)
	spec := oneDatabaseSpec()
	inject(t, srv, emulator.Fault{Method: "GET", Route: routeDatabase, Kind: emulator.FaultStatus, Status: 404})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	res, _ := e.Apply(ctx, spec, nil)
	cancel()
	inject(t, srv, emulator.Fault{Method: "DELETE", Route: routeDatabase, Kind: emulator.FaultStatus, Status: 404})
	ctx, cancel = context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	del, err := e.Delete(ctx, spec, res.Status, DeleteOptions{})
	if err == nil || !strings.Contains(err.Error(), "not visible yet") {
		t.Fatalf("destroy of a database whose delete answers 404 right after its create: %v", err)
	}
	if del.Status.Databases["vectors"] == nil {
		t.Fatal("the database was forgotten although it was never deleted")
	}
}

// POST replicas answers 412 until the primary's first backup exists; the
// replica's GET answers 404 right after its create. Both are waited out.
func TestReplicaCreateWaitsForFirstBackupAndVisibility(t *testing.T) {
	srv, e := startEngine(t)
	spec := oneDatabaseSpec()
	vec := spec.Databases["vectors"]
	vec.Replicas = map[string]ReplicaSpec{"dr": {Region: "nyc3"}}
	spec.Databases["vectors"] = vec
	faults := countFaults(srv)
	inject(t, srv, emulator.Fault{Method: "POST", Route: routeReplicas, Kind: emulator.FaultStatus, Status: 412, Count: 3})
	inject(t, srv, emulator.Fault{Method: "GET", Route: routeReplica, Kind: emulator.FaultStatus, Status: 404, Count: 3})
	res, err := e.Apply(context.Background(), spec, nil)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	rep := res.Status.Databases["vectors"].Replicas["dr"]
	if rep == nil || rep.State != "online" {
		t.Fatalf("replica not online: %+v", rep)
	}
	if n := faults(); n < 6 {
		t.Fatalf("only %d of the injected answers were seen", n)
	}
}

// A 412 that never clears fails when the timeout ends, saying what was
// waited for.
func TestReplica412FailsAtTheTimeoutNamingTheCause(t *testing.T) {
	srv, e := startEngine(t)
	spec := oneDatabaseSpec()
	res, err := e.Apply(context.Background(), spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	vec := spec.Databases["vectors"]
	vec.Replicas = map[string]ReplicaSpec{"dr": {}}
	spec.Databases["vectors"] = vec
	inject(t, srv, emulator.Fault{Method: "POST", Route: routeReplicas, Kind: emulator.FaultStatus, Status: 412})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = e.Apply(ctx, spec, res.Status)
	if err == nil || !strings.Contains(err.Error(), "first backup") || !strings.Contains(err.Error(), "replica dr") {
		t.Fatalf("want a failure naming the replica and the first backup, got %v", err)
	}
}

// A create refused because the name is not available (held after a
// delete, or taken by the stack's own create not visible yet) is retried;
// a name taken by a database that is not the stack's fails at once.
func TestDatabaseCreateRetriesUnavailableName(t *testing.T) {
	srv, e := startEngine(t)
	inject(t, srv, emulator.Fault{Method: "POST", Route: "/v2/databases", Kind: emulator.FaultStatus, Status: 409, Count: 3})
	res, err := e.Apply(context.Background(), oneDatabaseSpec(), nil)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if d := res.Status.Databases["vectors"]; d == nil || d.State != "online" {
		t.Fatalf("database: %+v", d)
	}
}

func TestDatabaseNameTakenByAnotherFailsAtOnce(t *testing.T) {
	_, e := startEngine(t)
	ctx := context.Background()
	spec := oneDatabaseSpec()
	if _, _, err := e.API.Databases.Create(ctx, &godo.DatabaseCreateRequest{Name: DatabaseName(spec.Name, "vectors"), EngineSlug: "pg", SizeSlug: "db-s-1vcpu-2gb", Region: "nyc3", NumNodes: 1}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := e.Apply(ctx, spec, nil)
	var foreign *ForeignObjectsError
	if !errors.As(err, &foreign) || foreign.Objects[0].Kind != "database" || !strings.Contains(err.Error(), "terraform import") {
		t.Fatalf("want a failure naming the foreign database, got %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("a name taken by another database (which does not clear) was retried for %s", time.Since(start))
	}
}

// Replacing a database (engine change) deletes it and creates one of the
// same name: the new one is created (and never the old one adopted) once
// the name is released.
func TestDatabaseReplacementRecreatesTheName(t *testing.T) {
	srv, e := startEngine(t)
	ctx := context.Background()
	spec := oneDatabaseSpec()
	res, err := e.Apply(ctx, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	oldID := res.Status.Databases["vectors"].ID
	vec := spec.Databases["vectors"]
	vec.Engine, vec.Version, vec.Users, vec.DBs = "mysql", "8", nil, nil
	spec.Databases["vectors"] = vec
	inject(t, srv, emulator.Fault{Method: "POST", Route: "/v2/databases", Kind: emulator.FaultStatus, Status: 409, Count: 2})
	res, err = e.Apply(ctx, spec, res.Status)
	if err != nil {
		t.Fatalf("replacement: %v", err)
	}
	d := res.Status.Databases["vectors"]
	if d.ID == oldID || d.Engine != "mysql" || d.State != "online" {
		t.Fatalf("after replacement: id %s (old %s), engine %s, state %s", d.ID, oldID, d.Engine, d.State)
	}
}

// MongoDB answers 500 to a user create while another one on the cluster
// is in progress: the engine retries (and serialises its own).
func TestMongoUserCreatesSurviveServerErrors(t *testing.T) {
	srv, e := startEngine(t)
	e.Locks = &FirewallLocks{}
	spec := oneDatabaseSpec()
	spec.Databases = map[string]DatabaseSpec{
		"docs": {Engine: "mongodb", Version: "8.0", Size: "db-s-1vcpu-2gb", NodeCount: 1, Users: []string{"app", "reports", "etl"}},
	}
	inject(t, srv, emulator.Fault{Method: "POST", Route: routeDatabaseUsers, Kind: emulator.FaultStatus, Status: 500, Count: 2})
	res, err := e.Apply(context.Background(), spec, nil)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if got := len(res.Status.Databases["docs"].Users); got != 3 {
		t.Fatalf("users: %v", res.Status.Databases["docs"].Users)
	}
}

// Owned databases are created with the VPC's range as a trusted source
// (plus the user's), narrowed to the cluster once it exists, and no
// firewall write ever leaves a database without rules.
func TestDatabasesAreNeverOpen(t *testing.T) {
	srv, e := startEngine(t)
	ctx := context.Background()
	spec := oneDatabaseSpec()
	vec := spec.Databases["vectors"]
	vec.TrustedSources = []Rule{{Type: "ip_addr", Value: "203.0.113.9"}}
	vec.RetainOnDestroy = true
	spec.Databases["vectors"] = vec
	var (
		mu      sync.Mutex
		creates [][]Rule
		empty   []string
	)
	srv.SetRecorder(func(ex emulator.Exchange) {
		mu.Lock()
		defer mu.Unlock()
		switch ex.Route {
		case "POST /v2/databases":
			var body struct {
				Rules []Rule `json:"rules"`
			}
			_ = json.Unmarshal(ex.RequestBody, &body)
			creates = append(creates, body.Rules)
		case "PUT /v2/databases/{database_cluster_uuid}/firewall":
			var body struct {
				Rules []Rule `json:"rules"`
			}
			if err := json.Unmarshal(ex.RequestBody, &body); err != nil || len(body.Rules) == 0 {
				empty = append(empty, ex.Path)
			}
		}
	})
	res, err := e.Apply(ctx, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	vpc, _, err := e.API.VPCs.Get(ctx, res.Status.VPCID)
	if err != nil {
		t.Fatal(err)
	}
	d := res.Status.Databases["vectors"]
	mu.Lock()
	if len(creates) != 1 || !containsRule(creates[0], VPCRangeRule(vpc.IPRange)) || !containsRule(creates[0], vec.TrustedSources[0]) {
		t.Errorf("database created with rules %v, want the VPC range %s and the user's source", creates, vpc.IPRange)
	}
	mu.Unlock()
	rules, _, err := e.API.Databases.GetFirewallRules(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := ruleSet(rules)
	if len(got) != 2 || !got[ClusterRule(res.Status.Cluster.ID)] || !got[vec.TrustedSources[0]] {
		t.Errorf("after apply the firewall holds %v, want the cluster's rule and the user's source (the VPC range narrowed away)", describeRules(rules))
	}

	// Destroy retaining it: the user's source stays, nothing is opened.
	del, err := e.Delete(ctx, spec, res.Status, DeleteOptions{Retain: map[string]bool{"vectors": true}})
	if err != nil {
		t.Fatal(err)
	}
	rules, _, err = e.API.Databases.GetFirewallRules(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) == 0 {
		t.Error("the retained database was left with no trusted source")
	}
	_ = del
	mu.Lock()
	defer mu.Unlock()
	if len(empty) > 0 {
		t.Errorf("firewall writes with an empty rule set: %v", empty)
	}
}

// Detaching a retained database whose only trusted sources were the
// stack's keeps the VPC range (and says so) rather than writing an empty
// set.
func TestRetainedDatabaseKeepsTheVPCRangeWhenDetached(t *testing.T) {
	_, e := startEngine(t)
	ctx := context.Background()
	spec := oneDatabaseSpec()
	res, err := e.Apply(ctx, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	vpc, _, err := e.API.VPCs.Get(ctx, res.Status.VPCID)
	if err != nil {
		t.Fatal(err)
	}
	id := res.Status.Databases["vectors"].ID
	// Removed from the configuration while retained.
	res.Status.Databases["vectors"].RetainOnDestroy = true
	spec.Databases = map[string]DatabaseSpec{}
	out, err := e.Apply(ctx, spec, res.Status)
	if err != nil {
		t.Fatal(err)
	}
	rules, _, err := e.API.Databases.GetFirewallRules(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 1 || rules[0].Type != "ip_addr" || rules[0].Value != vpc.IPRange {
		t.Fatalf("detached database holds %v, want only ip_addr:%s", describeRules(rules), vpc.IPRange)
	}
	if !strings.Contains(warningText(out.Warnings), vpc.IPRange) {
		t.Errorf("no warning naming the kept rule: %q", out.Warnings)
	}
}

// countFaults counts the requests answered by an injected fault from now
// on (a counted fault leaves the fault list once used up).
func countFaults(srv *emulator.Server) func() int {
	var n atomic.Int64
	srv.SetRecorder(func(ex emulator.Exchange) {
		if ex.Fault != "" {
			n.Add(1)
		}
	})
	return func() int { return int(n.Load()) }
}

// The same edges as DigitalOcean shows them (the emulator's realistic
// windows, no injected faults): a new database and a new replica answer 404
// for a while, the replica create answers 412 until the primary's first
// backup, and a replaced database's name is held for a while after its
// delete. Every one of them must have been met and survived.
func TestRealisticDatabaseWindows(t *testing.T) {
	srv, e := startEngine(t)
	ctx := context.Background()
	spec := oneDatabaseSpec()
	vec := spec.Databases["vectors"]
	vec.Replicas = map[string]ReplicaSpec{"dr": {}}
	spec.Databases["vectors"] = vec
	res, err := e.Apply(ctx, spec, nil)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if rep := res.Status.Databases["vectors"].Replicas["dr"]; rep == nil || rep.State != "online" {
		t.Fatalf("replica: %+v", rep)
	}
	counts := srv.StatusCounts()
	for _, want := range []string{
		"GET /v2/databases/{database_cluster_uuid} 404",
		"POST /v2/databases/{database_cluster_uuid}/replicas 412",
		"GET /v2/databases/{database_cluster_uuid}/replicas/{replica_name} 404",
	} {
		if counts[want] == 0 {
			t.Errorf("the apply never met %q: the realistic window was not exercised (counts %v)", want, counts)
		}
	}

	// Engine change: the database is replaced by one of the same name,
	// which DigitalOcean holds for a while after the delete.
	oldID := res.Status.Databases["vectors"].ID
	vec.Engine, vec.Version, vec.Users, vec.DBs, vec.Replicas = "mysql", "8", nil, nil, nil
	spec.Databases["vectors"] = vec
	res, err = e.Apply(ctx, spec, res.Status)
	if err != nil {
		t.Fatalf("replacement: %v", err)
	}
	if d := res.Status.Databases["vectors"]; d.ID == oldID || d.Engine != "mysql" || d.State != "online" {
		t.Fatalf("after replacement: %+v", d)
	}
	if srv.StatusCounts()["POST /v2/databases 422"] == 0 {
		t.Error("the replacement never met the held name: the realistic window was not exercised")
	}
}

// The destroy half of a tainted stack's replacement has only the ids in
// Terraform's state: a database created moments before the failed apply
// still reads 404, and must be found (and deleted), not skipped and leaked.
func TestRecoverFindsADatabaseNotVisibleYet(t *testing.T) {
	srv, e := startEngine(t)
	spec := oneDatabaseSpec()
	db, _, err := e.API.Databases.Create(context.Background(), &godo.DatabaseCreateRequest{
		Name: DatabaseName(spec.Name, "vectors"), EngineSlug: "pg", Version: "17", SizeSlug: "db-s-2vcpu-4gb",
		Region: spec.Region, NumNodes: 1, Tags: spec.AllTags(),
		Rules: []*godo.DatabaseCreateFirewallRule{{Type: "ip_addr", Value: "10.10.0.0/16"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Hidden for three more reads, as right after a create.
	inject(t, srv, emulator.Fault{Method: "GET", Route: routeDatabase, Kind: emulator.FaultStatus, Status: 404, Count: 3})
	st, err := e.Recover(context.Background(), spec, RecoverIDs{Databases: map[string]string{"vectors": db.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if d := st.Databases["vectors"]; d == nil || d.ID != db.ID {
		t.Fatalf("Recover skipped the database that still read 404: %+v", st.Databases)
	}
	if _, err := e.Delete(context.Background(), spec, st, DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitNoDatabases(t, srv)
}

// restore_from applies to a database's first creation only: a replacement
// (new engine or version) starts empty instead of restoring again, which
// could bring back another cluster's data or fail once the point left the
// backup window. Here the source is gone, so a second restore would fail.
func TestDatabaseReplacementDoesNotRestoreAgain(t *testing.T) {
	srv, e := startEngine(t)
	ctx := context.Background()
	spec := oneDatabaseSpec()
	res, err := e.Apply(ctx, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	var restores int
	var mu sync.Mutex
	srv.SetRecorder(func(ex emulator.Exchange) {
		if ex.Method == "POST" && ex.Route == "POST /v2/databases" && strings.Contains(string(ex.RequestBody), "backup_restore") {
			mu.Lock()
			restores++
			mu.Unlock()
		}
	})
	vec := spec.Databases["vectors"]
	vec.Engine, vec.Version, vec.Users, vec.DBs = "mysql", "8", nil, nil
	vec.RestoreFrom = &RestoreFrom{DatabaseName: "gone-source"}
	spec.Databases["vectors"] = vec
	res, err = e.Apply(ctx, spec, res.Status)
	if err != nil {
		t.Fatalf("replacement with restore_from still in the spec: %v", err)
	}
	if d := res.Status.Databases["vectors"]; d.Engine != "mysql" || d.State != "online" {
		t.Fatalf("after replacement: engine %s, state %s", d.Engine, d.State)
	}
	mu.Lock()
	defer mu.Unlock()
	if restores != 0 {
		t.Fatalf("the replacement was created with backup_restore %d time(s)", restores)
	}
}

// A setting the stack applied that DigitalOcean's GET .../config leaves
// out (a nullable one, say) keeps its applied value on refresh: dropping
// it would plan the same PATCH on every run.
func TestRefreshKeepsAppliedSettingsTheAPIDoesNotReport(t *testing.T) {
	_, e := startEngine(t)
	ctx := context.Background()
	spec := oneDatabaseSpec()
	vec := spec.Databases["vectors"]
	vec.Config = map[string]string{"work_mem": "16"}
	spec.Databases["vectors"] = vec
	res, err := e.Apply(ctx, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := res.Status.Clone()
	st.Databases["vectors"].Config["unreported_setting"] = "5"
	res, err = e.Refresh(ctx, spec, st)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Status.Databases["vectors"].Config; got["unreported_setting"] != "5" || got["work_mem"] != "16" {
		t.Fatalf("settings after refresh: %v", got)
	}
}
