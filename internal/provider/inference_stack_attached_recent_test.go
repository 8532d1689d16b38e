package provider

import (
	"testing"
	"time"

	"github.com/attach-labs/terraform-provider-attach/internal/stack"
)

// A destroy plan uses the firewall the refresh just before it read, and
// reads it itself when that refresh is old, absent, or of another database.
func TestRecentFirewallClustersOnlyFromTheRefreshJustBefore(t *testing.T) {
	st := &stack.Status{Databases: map[string]*stack.DatabaseStatus{
		"fresh": {ID: "db-1", FirewallClusters: []string{"own", "other"}, FirewallReadAt: time.Now()},
		"old":   {ID: "db-2", FirewallClusters: []string{"own"}, FirewallReadAt: time.Now().Add(-time.Hour)},
		"never": {ID: "db-3"},
		"empty": {ID: "db-4", FirewallReadAt: time.Now()},
	}}
	if got, ok := recentFirewallClusters(st, "fresh", "db-1"); !ok || len(got) != 2 {
		t.Errorf("fresh read: got %v, %v; want its two clusters", got, ok)
	}
	if got, ok := recentFirewallClusters(st, "empty", "db-4"); !ok || len(got) != 0 {
		t.Errorf("fresh read of a firewall with no k8s rule: got %v, %v; want none, used", got, ok)
	}
	for _, c := range []struct{ key, id string }{{"old", "db-2"}, {"never", "db-3"}, {"fresh", "db-9"}, {"absent", "db-1"}} {
		if _, ok := recentFirewallClusters(st, c.key, c.id); ok {
			t.Errorf("%s (%s): used the status, want a live read", c.key, c.id)
		}
	}
	if _, ok := recentFirewallClusters(nil, "fresh", "db-1"); ok {
		t.Error("no status: used it, want a live read")
	}
}
