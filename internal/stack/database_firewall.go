package stack

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-log/tflog"
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
//
// A database is never open to the internet (DigitalOcean accepts
// connections from anywhere while its rule set is empty): an owned one is
// created with the VPC's range as a trusted source (see createDatabase),
// which this step narrows to the cluster's rule, and no edit ever writes an
// empty set (EditFirewall keeps the VPC's range instead).

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
		if _, err := r.rewriteRules(ctx, key, d, previous, desired); err != nil {
			return err
		}
		r.update(func(st *Status) {
			st.Databases[key].AttachedClusterID = cluster.ID
			st.Databases[key].TrustedSources = slices.Clone(r.spec.Databases[key].TrustedSources)
			// The cluster's rule replaced the VPC-range rule of the create
			// (kept as the user's when they configured the same source).
			st.Databases[key].VPCRangeRule = ""
		})
		return nil
	}
}

// ownedRules is every rule the stack may have put on the database.
func ownedRules(d DatabaseStatus, retiring *ClusterStatus) []Rule {
	rules := slices.Clone(d.TrustedSources)
	if d.VPCRangeRule != "" {
		rules = append(rules, VPCRangeRule(d.VPCRangeRule))
	}
	if d.AttachedClusterID != "" {
		rules = append(rules, ClusterRule(d.AttachedClusterID))
	}
	if retiring != nil {
		rules = append(rules, ClusterRule(retiring.ID))
	}
	return rules
}

// removeFirewallRules takes every rule the stack owns off a database it
// leaves running. When no other rule remains, the VPC's range stays
// trusted rather than the database being opened to the internet.
func (r *run) removeFirewallRules(ctx context.Context, key string, d DatabaseStatus) error {
	owned := ownedRules(d, view(r, func(st *Status) *ClusterStatus { return st.RetiringCluster.clone() }))
	if c := view(r, func(st *Status) *ClusterStatus { return st.Cluster.clone() }); c != nil {
		owned = append(owned, ClusterRule(c.ID))
	}
	var res FirewallResult
	err := r.retryWhileNotVisible(ctx, "detaching database "+key, r.databasePending(key), func(ctx context.Context) error {
		var err error
		res, err = r.rewriteRules(ctx, key, d, owned, nil)
		return err
	})
	if isNotFound(err) {
		tflog.Info(ctx, "the database to detach no longer exists", map[string]any{"database": key, "id": d.ID})
		return nil
	}
	if err != nil {
		return err
	}
	if len(res.Kept) > 0 {
		r.warn("A detached database keeps a trusted source", "Database %s (%s) is left running with trusted source %s so that it is not open to the internet: it had no trusted source but the stack's (DigitalOcean accepts connections from anywhere to a database without one). Add the sources that should reach it, then remove that rule if it is no longer wanted.",
			key, d.Name, describeRuleList(res.Kept))
	}
	return nil
}

func describeRuleList(rules []Rule) string {
	out := make([]string, 0, len(rules))
	for _, r := range rules {
		out = append(out, r.Type+" "+r.Value)
	}
	return strings.Join(out, ", ")
}

// rewriteRules replaces the rules in previous (the stack's old ones) with
// desired, keeping every other rule, safely against concurrent writers
// (attachments, other stacks, other workspaces: see SyncFirewall).
func (r *run) rewriteRules(ctx context.Context, key string, d DatabaseStatus, previous, desired []Rule) (FirewallResult, error) {
	var remove []Rule
	for _, rule := range previous {
		if !containsRule(desired, rule) {
			remove = append(remove, rule)
		}
	}
	res, err := EditFirewall(ctx, r.e.API, r.e.Locks, r.e.FirewallSettle, FirewallEdit{DatabaseID: d.ID, Add: desired, Remove: remove})
	if err != nil {
		return res, fmt.Errorf("database %s: %w", key, err)
	}
	return res, nil
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
	readAt := time.Now()
	present := map[Rule]bool{}
	var clusters []string
	for _, c := range current {
		present[Rule{Type: c.Type, Value: c.Value}] = true
		if c.Type == "k8s" {
			clusters = append(clusters, c.Value)
		}
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
			d.FirewallClusters, d.FirewallReadAt = clusters, readAt
		}
	})
	return nil
}

func view3[A, B, C any](r *run, fn func(st *Status) (A, B, C)) (A, B, C) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return fn(r.st)
}
