package stack

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/digitalocean/godo"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
)

// Writers in separate "processes" (no shared lock) each add their rule to
// one firewall at the same moment; the emulator's added latency on GET makes
// every writer read before the others write. Every rule must survive, and
// the rule nobody owns too.
func TestSyncFirewallConcurrentWritersLoseNothing(t *testing.T) {
	srv, e := startEngine(t)
	ctx := context.Background()
	db := sharedDatabase(t, e, "nyc3")
	foreign := godo.DatabaseFirewallRule{Type: "ip_addr", Value: "198.51.100.7"}
	if _, err := e.API.Databases.UpdateFirewallRules(ctx, db.ID, &godo.DatabaseUpdateFirewallRulesRequest{Rules: []*godo.DatabaseFirewallRule{&foreign}}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.InjectFault(emulator.Fault{Method: "GET", Route: "/v2/databases/{database_cluster_uuid}/firewall", Kind: emulator.FaultLatency, Latency: 30 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}

	const writers = 6
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _ := godo.New(&http.Client{Transport: bearer(srv.Token)}, godo.SetBaseURL(srv.URL))
			rule := Rule{Type: "ip_addr", Value: fmt.Sprintf("203.0.113.%d", i+1)}
			added, err := SyncFirewall(ctx, c, nil, 50*time.Millisecond, FirewallEdit{DatabaseID: db.ID, Add: []Rule{rule}})
			if err == nil && len(added) != 1 {
				err = fmt.Errorf("writer %d: added = %v, want its rule", i, added)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	rules, _, err := e.API.Databases.GetFirewallRules(ctx, db.ID)
	if err != nil {
		t.Fatal(err)
	}
	present := ruleSet(rules)
	for i := range writers {
		if r := (Rule{Type: "ip_addr", Value: fmt.Sprintf("203.0.113.%d", i+1)}); !present[r] {
			t.Errorf("rule %v was lost; firewall: %v", r, rules)
		}
	}
	if !present[Rule{Type: foreign.Type, Value: foreign.Value}] {
		t.Errorf("the foreign rule was clobbered: %v", rules)
	}
	if puts := srv.RequestCounts()["PUT /v2/databases/{database_cluster_uuid}/firewall"]; puts <= writers {
		t.Logf("PUTs: %d (no lost update needed repair this run)", puts)
	}
}

// The control: the same race with a plain read-modify-write (what a
// whole-set firewall resource does) loses rules, so the test above can fail.
func TestNaiveFirewallWritersLoseRules(t *testing.T) {
	srv, e := startEngine(t)
	ctx := context.Background()
	db := sharedDatabase(t, e, "nyc3")
	if _, err := srv.InjectFault(emulator.Fault{Method: "GET", Route: "/v2/databases/{database_cluster_uuid}/firewall", Kind: emulator.FaultLatency, Latency: 30 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			current, _, err := e.API.Databases.GetFirewallRules(ctx, db.ID)
			if err != nil {
				t.Error(err)
				return
			}
			next := mergeRules(current, nil, []Rule{{Type: "ip_addr", Value: fmt.Sprintf("203.0.113.%d", i+1)}})
			if _, err := e.API.Databases.UpdateFirewallRules(ctx, db.ID, &godo.DatabaseUpdateFirewallRulesRequest{Rules: next}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	rules, _, _ := e.API.Databases.GetFirewallRules(ctx, db.ID)
	if len(rules) == 6 {
		t.Fatalf("no rule was lost: the race setup does not race, so TestSyncFirewallConcurrentWritersLoseNothing proves nothing")
	}
}

func waitOnline(t *testing.T, e *Engine, id string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		db, _, err := e.API.Databases.Get(context.Background(), id)
		if err == nil && db.Status == "online" {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("database never came online")
}

// A k8s rule whose cluster was deleted without being detached lingers on
// the firewall, and DigitalOcean refuses any rule set that names it. An
// edit must drop that dead rule (nobody can write it any more) instead of
// failing every apply that touches the database from then on, and keep
// every live rule.
func TestSyncFirewallDropsRulesOfDeletedClusters(t *testing.T) {
	_, e := startEngine(t)
	ctx := context.Background()
	db, _, err := e.API.Databases.Create(ctx, &godo.DatabaseCreateRequest{Name: "shared", EngineSlug: "pg", SizeSlug: "db-s-1vcpu-2gb", Region: "nyc3", NumNodes: 1})
	if err != nil {
		t.Fatal(err)
	}
	var clusters []string
	for _, name := range []string{"gone", "live"} {
		c, _, err := e.API.Kubernetes.Create(ctx, &godo.KubernetesClusterCreateRequest{Name: name, RegionSlug: "nyc3", VersionSlug: "latest",
			NodePools: []*godo.KubernetesNodePoolCreateRequest{{Name: "p", Size: "s-2vcpu-4gb", Count: 1}}})
		if err != nil {
			t.Fatal(err)
		}
		clusters = append(clusters, c.ID)
	}
	waitOnline(t, e, db.ID)
	foreign := &godo.DatabaseFirewallRule{Type: "ip_addr", Value: "198.51.100.7"}
	gone := &godo.DatabaseFirewallRule{Type: "k8s", Value: clusters[0]}
	live := &godo.DatabaseFirewallRule{Type: "k8s", Value: clusters[1]}
	if _, err := e.API.Databases.UpdateFirewallRules(ctx, db.ID, &godo.DatabaseUpdateFirewallRulesRequest{Rules: []*godo.DatabaseFirewallRule{foreign, gone, live}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.API.Kubernetes.Delete(ctx, clusters[0]); err != nil {
		t.Fatal(err)
	}
	// The precondition: the dead rule is still listed, and a plain
	// read-modify-write carrying it is refused.
	current, _, err := e.API.Databases.GetFirewallRules(ctx, db.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !ruleSet(current)[Rule{Type: "k8s", Value: clusters[0]}] {
		t.Fatalf("the emulator dropped the deleted cluster's rule itself (%v): this test no longer tests anything", current)
	}
	if _, err := e.API.Databases.UpdateFirewallRules(ctx, db.ID, &godo.DatabaseUpdateFirewallRulesRequest{Rules: mergeRules(current, nil, nil)}); statusOf(err) != http.StatusUnprocessableEntity {
		t.Fatalf("writing back a rule naming a deleted cluster: got %v, want 422", err)
	}

	added := Rule{Type: "ip_addr", Value: "203.0.113.1"}
	if _, err := SyncFirewall(ctx, e.API, nil, 5*time.Millisecond, FirewallEdit{DatabaseID: db.ID, Add: []Rule{added}}); err != nil {
		t.Fatalf("an edit next to a dead cluster's rule failed: %v", err)
	}
	after, _, err := e.API.Databases.GetFirewallRules(ctx, db.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := ruleSet(after)
	want := map[Rule]bool{added: true, {Type: foreign.Type, Value: foreign.Value}: true, {Type: "k8s", Value: clusters[1]}: true}
	if len(got) != len(want) {
		t.Errorf("firewall %v, want exactly %v", describeRules(after), want)
	}
	for r := range want {
		if !got[r] {
			t.Errorf("rule %v missing: firewall %v", r, describeRules(after))
		}
	}

	// Adding a rule for a deleted cluster is still an error, not dropped.
	_, err = SyncFirewall(ctx, e.API, nil, 5*time.Millisecond, FirewallEdit{DatabaseID: db.ID, Add: []Rule{ClusterRule(clusters[0])}})
	if statusOf(err) != http.StatusUnprocessableEntity {
		t.Errorf("adding a deleted cluster's rule: got %v, want DigitalOcean's 422", err)
	}
}

// A stack leaving an attached database running takes its rule off the
// firewall before deleting its cluster: otherwise the rule names a deleted
// cluster for a while and every other writer's firewall write that read it
// is refused.
func TestDeleteDetachesBeforeDeletingTheCluster(t *testing.T) {
	srv, e := startEngine(t)
	ctx := context.Background()
	db := sharedDatabase(t, e, "tor1")
	spec := quickstartSpec()
	spec.Cluster.GPUPools = nil
	spec.Databases = map[string]DatabaseSpec{"shared": {ExistingID: db.ID}}
	got, _, err := e.API.Databases.Get(ctx, db.ID)
	if err != nil {
		t.Fatal(err)
	}
	spec.VPC.ID = got.PrivateNetworkUUID
	res, err := e.Apply(ctx, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		calls []string
	)
	srv.SetRecorder(func(ex emulator.Exchange) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, ex.Route)
	})
	del, err := e.Delete(ctx, spec, res.Status, DeleteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(warningText(del.Warnings), "not open to the internet") {
		t.Errorf("no warning that the VPC range stays trusted: %q", del.Warnings)
	}
	srv.SetRecorder(nil)
	mu.Lock()
	defer mu.Unlock()
	lastPut, clusterDelete := -1, -1
	for i, route := range calls {
		switch {
		case route == "PUT /v2/databases/{database_cluster_uuid}/firewall":
			lastPut = i
		case strings.HasPrefix(route, "DELETE /v2/kubernetes/clusters/{cluster_id}") && clusterDelete < 0:
			clusterDelete = i
		}
	}
	if lastPut < 0 || clusterDelete < 0 || clusterDelete < lastPut {
		t.Errorf("want the firewall written (detach) before the cluster is deleted; calls: %v", calls)
	}
	rules, _, err := e.API.Databases.GetFirewallRules(ctx, db.ID)
	if err != nil {
		t.Fatal(err)
	}
	// The stack's rule was the only one: the VPC's range stays trusted
	// instead, since a database without rules accepts connections from
	// anywhere.
	vpc, _, err := e.API.VPCs.Get(ctx, got.PrivateNetworkUUID)
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 1 || rules[0].Type != "ip_addr" || rules[0].Value != vpc.IPRange {
		t.Errorf("after destroy the firewall holds %v, want only ip_addr:%s (the stack's rule gone, never an empty set)", describeRules(rules), vpc.IPRange)
	}
}

// sharedDatabase creates an online pg database named "shared" in region.
func sharedDatabase(t *testing.T, e *Engine, region string) *godo.Database {
	t.Helper()
	db, _, err := e.API.Databases.Create(context.Background(), &godo.DatabaseCreateRequest{Name: "shared", EngineSlug: "pg", SizeSlug: "db-s-1vcpu-2gb", Region: region, NumNodes: 1})
	if err != nil {
		t.Fatal(err)
	}
	waitOnline(t, e, db.ID)
	return db
}
