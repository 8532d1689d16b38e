package stack

import (
	"context"
	"fmt"
	"net/http"
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
	db, _, err := e.API.Databases.Create(ctx, &godo.DatabaseCreateRequest{Name: "shared", EngineSlug: "pg", SizeSlug: "db-s-1vcpu-2gb", Region: "nyc3", NumNodes: 1})
	if err != nil {
		t.Fatal(err)
	}
	waitOnline(t, e, db.ID)
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
	db, _, err := e.API.Databases.Create(ctx, &godo.DatabaseCreateRequest{Name: "shared", EngineSlug: "pg", SizeSlug: "db-s-1vcpu-2gb", Region: "nyc3", NumNodes: 1})
	if err != nil {
		t.Fatal(err)
	}
	waitOnline(t, e, db.ID)
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
