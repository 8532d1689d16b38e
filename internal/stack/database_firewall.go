package stack

import (
	"context"
	"fmt"
	"slices"

	"github.com/digitalocean/godo"
)

// How database firewalls are managed. The stack owns exactly these trusted
// sources on each database: one k8s rule for its current cluster and the
// database's extra trusted_sources. Every other rule (added by people, other
// tools, other stacks or attachments) is preserved: the stack reads the
// rule set, changes only its own rules, writes it back (nothing when nothing
// changed) and checks that no concurrent writer undid the change.
//
// Re-pointing after a cluster replacement is the same operation: the old
// cluster's rule was the stack's, the new one's is wanted.

// ClusterRule is the k8s trusted source for a cluster.
func ClusterRule(clusterID string) Rule { return Rule{Type: "k8s", Value: clusterID} }

func (r *run) ensureFirewallStep(key string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		d, cluster, retiring := view3(r, func(st *Status) (DatabaseStatus, *ClusterStatus, *ClusterStatus) {
			return *st.Databases[key], st.Cluster.clone(), st.RetiringCluster.clone()
		})
		if cluster == nil {
			return fmt.Errorf("database %s: no cluster to trust", key)
		}
		desired := append([]Rule{ClusterRule(cluster.ID)}, r.spec.Databases[key].TrustedSources...)
		previous := ownedRules(d, retiring)
		if err := r.rewriteRules(ctx, key, d, previous, desired); err != nil {
			return err
		}
		r.update(func(st *Status) {
			st.Databases[key].AttachedClusterID = cluster.ID
			st.Databases[key].TrustedSources = slices.Clone(r.spec.Databases[key].TrustedSources)
		})
		return nil
	}
}

// ownedRules is every rule the stack may have put on the database.
func ownedRules(d DatabaseStatus, retiring *ClusterStatus) []Rule {
	rules := slices.Clone(d.TrustedSources)
	if d.AttachedClusterID != "" {
		rules = append(rules, ClusterRule(d.AttachedClusterID))
	}
	if retiring != nil {
		rules = append(rules, ClusterRule(retiring.ID))
	}
	return rules
}

// removeFirewallRules takes every rule the stack owns off a database it
// leaves running.
func (r *run) removeFirewallRules(ctx context.Context, key string, d DatabaseStatus) error {
	owned := ownedRules(d, view(r, func(st *Status) *ClusterStatus { return st.RetiringCluster.clone() }))
	if c := view(r, func(st *Status) *ClusterStatus { return st.Cluster.clone() }); c != nil {
		owned = append(owned, ClusterRule(c.ID))
	}
	return r.rewriteRules(ctx, key, d, owned, nil)
}

// rewriteRules replaces the rules in previous (the stack's old ones) with
// desired, keeping every other rule, safely against concurrent writers
// (attachments, other stacks, other workspaces: see SyncFirewall).
func (r *run) rewriteRules(ctx context.Context, key string, d DatabaseStatus, previous, desired []Rule) error {
	var remove []Rule
	for _, rule := range previous {
		if !containsRule(desired, rule) {
			remove = append(remove, rule)
		}
	}
	_, err := SyncFirewall(ctx, r.e.API, r.e.Locks, r.e.FirewallSettle, FirewallEdit{DatabaseID: d.ID, Add: desired, Remove: remove})
	if err != nil {
		return fmt.Errorf("database %s: %w", key, err)
	}
	return nil
}

// mergeRules computes (current - (previous - desired)) + desired.
func mergeRules(current []godo.DatabaseFirewallRule, previous, desired []Rule) []*godo.DatabaseFirewallRule {
	want := map[Rule]bool{}
	for _, rule := range desired {
		want[rule] = true
	}
	drop := map[Rule]bool{}
	for _, rule := range previous {
		if !want[rule] {
			drop[rule] = true
		}
	}
	var out []*godo.DatabaseFirewallRule
	have := map[Rule]bool{}
	for _, c := range current {
		rule := Rule{Type: c.Type, Value: c.Value}
		if drop[rule] || have[rule] {
			continue
		}
		have[rule] = true
		// No uuid: a rule is identified by type and value (which keeps its
		// id), and a uuid read before a concurrent writer's change may no
		// longer exist.
		out = append(out, &godo.DatabaseFirewallRule{Type: c.Type, Value: c.Value})
	}
	for _, rule := range desired {
		if !have[rule] {
			have[rule] = true
			out = append(out, &godo.DatabaseFirewallRule{Type: rule.Type, Value: rule.Value})
		}
	}
	return out
}

func sameRuleSet(current []godo.DatabaseFirewallRule, next []*godo.DatabaseFirewallRule) bool {
	a := map[Rule]bool{}
	for _, c := range current {
		a[Rule{Type: c.Type, Value: c.Value}] = true
	}
	b := map[Rule]bool{}
	for _, n := range next {
		b[Rule{Type: n.Type, Value: n.Value}] = true
	}
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

// refreshFirewall records which of the stack's rules are still there.
func (r *run) refreshFirewall(ctx context.Context, key string, prior DatabaseStatus) error {
	current, _, err := r.e.API.Databases.GetFirewallRules(ctx, prior.ID)
	if err != nil {
		return apiErr(fmt.Sprintf("reading the firewall of database %s", key), err)
	}
	present := map[Rule]bool{}
	for _, c := range current {
		present[Rule{Type: c.Type, Value: c.Value}] = true
	}
	attached := ""
	if prior.AttachedClusterID != "" && present[ClusterRule(prior.AttachedClusterID)] {
		attached = prior.AttachedClusterID
	}
	var kept []Rule
	for _, rule := range prior.TrustedSources {
		if present[rule] {
			kept = append(kept, rule)
		}
	}
	r.update(func(st *Status) {
		if d := st.Databases[key]; d != nil {
			d.AttachedClusterID, d.TrustedSources = attached, kept
		}
	})
	return nil
}

func view3[A, B, C any](r *run, fn func(st *Status) (A, B, C)) (A, B, C) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return fn(r.st)
}
