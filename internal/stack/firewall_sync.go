package stack

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/digitalocean/godo"
)

// Safe concurrent edits of a database firewall. DigitalOcean only offers
// "replace the whole rule set" (PUT), so two writers that read the same set
// and each add a rule lose one of the rules: the failure of the official
// provider's whole-set firewall resource. Writers here:
//
//  1. serialize within a process on a per-database lock (all resources of
//     one Terraform run share the provider process), and
//  2. across processes (other workspaces, other tools), verify after a
//     settle delay that their change is still there, and re-apply it when a
//     concurrent writer's stale PUT removed it. The settle delay outlasts any
//     writer's read-to-write window, so a lost update is always noticed by
//     the writer that lost it.

// FirewallLocks serializes firewall edits per database within a process.
type FirewallLocks struct {
	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

func (l *FirewallLocks) lock(dbID string) func() {
	l.mu.Lock()
	if l.locks == nil {
		l.locks = map[string]*sync.Mutex{}
	}
	m := l.locks[dbID]
	if m == nil {
		m = &sync.Mutex{}
		l.locks[dbID] = m
	}
	l.mu.Unlock()
	m.Lock()
	return m.Unlock
}

// FirewallEdit adds and removes rules on one database's firewall, keeping
// every other rule.
type FirewallEdit struct {
	DatabaseID string
	Add        []Rule
	Remove     []Rule
	// Fallback is what the firewall keeps when the edit would leave it with
	// no rule at all: DigitalOcean accepts connections from anywhere to a
	// database without trusted sources, so an edit never writes an empty
	// set. Nil means an ip_addr rule for the range of the database's VPC
	// (looked up when needed).
	Fallback []Rule
}

// FirewallResult is what an edit did.
type FirewallResult struct {
	// Added lists which of edit.Add were absent before (what the caller
	// added and may remove later).
	Added []Rule
	// Kept lists the fallback rules the firewall keeps because the edit
	// would have left it empty (nil when it did not).
	Kept []Rule
}

// maxFirewallAttempts bounds how often an edit is re-applied while other
// writers keep overwriting it.
const maxFirewallAttempts = 6

// Adaptive settle: a concurrent writer's read-to-write window is about one
// GET and one PUT on the same API, so waiting several times what ours took
// covers it, whether the API answers in a millisecond (the emulator) or in
// hundreds (DigitalOcean).
const (
	settleFactor = 5
	minSettle    = 20 * time.Millisecond
	maxSettle    = 5 * time.Second
)

// SyncFirewall applies edit safely against concurrent writers. It returns
// which of edit.Add were absent before (what the caller added and may
// remove later). settle 0 adapts the verification delay to the API's
// latency.
func SyncFirewall(ctx context.Context, api *godo.Client, locks *FirewallLocks, settle time.Duration, edit FirewallEdit) (added []Rule, err error) {
	res, err := EditFirewall(ctx, api, locks, settle, edit)
	return res.Added, err
}

// EditFirewall is SyncFirewall reporting also the rules kept so that the
// database is not left open to the internet.
func EditFirewall(ctx context.Context, api *godo.Client, locks *FirewallLocks, settle time.Duration, edit FirewallEdit) (res FirewallResult, err error) {
	if locks != nil {
		unlock := locks.lock(edit.DatabaseID)
		defer unlock()
	}
	first := true
	var last []godo.DatabaseFirewallRule
	dead := map[Rule]bool{}
	for attempt := 1; attempt <= maxFirewallAttempts; attempt++ {
		started := time.Now()
		current, _, err := api.Databases.GetFirewallRules(ctx, edit.DatabaseID)
		if err != nil {
			return FirewallResult{}, apiErr("reading the firewall of database "+edit.DatabaseID, err)
		}
		if first {
			present := ruleSet(current)
			for _, r := range edit.Add {
				if !present[r] {
					res.Added = append(res.Added, r)
				}
			}
			first = false
		}
		// What this attempt writes: the edit, or, when that would empty the
		// firewall, the fallback in place of the rules removed.
		next := withoutRules(mergeRules(current, edit.Remove, edit.Add), dead)
		effective := edit
		res.Kept = nil
		if len(next) == 0 {
			if edit.Fallback == nil {
				if edit.Fallback, err = vpcRangeFallback(ctx, api, edit.DatabaseID); err != nil {
					return FirewallResult{}, err
				}
			}
			effective = FirewallEdit{DatabaseID: edit.DatabaseID, Add: edit.Fallback, Remove: withoutRuleList(edit.Remove, edit.Fallback)}
			next = withoutRules(mergeRules(current, effective.Remove, effective.Add), dead)
			res.Kept = edit.Fallback
			logf(ctx, "the edit would leave the database with no trusted source; keeping the fallback", map[string]any{"database_id": edit.DatabaseID, "rules": edit.Fallback})
		}
		if satisfied(current, effective) {
			return res, nil // nothing (more) to write
		}
		if _, err := api.Databases.UpdateFirewallRules(ctx, edit.DatabaseID, &godo.DatabaseUpdateFirewallRulesRequest{Rules: next}); err != nil {
			if statusOf(err) == http.StatusUnprocessableEntity {
				found, checkErr := deadClusterRules(ctx, api, next, effective.Add)
				if checkErr != nil {
					return FirewallResult{}, checkErr
				}
				if len(found) > 0 {
					for _, r := range found {
						dead[r] = true
					}
					logf(ctx, "dropping firewall rules that name deleted clusters", map[string]any{"database_id": edit.DatabaseID, "rules": found})
					continue // re-read and write without them
				}
			}
			return FirewallResult{}, apiErr("updating the firewall of database "+edit.DatabaseID, err)
		}
		// Let concurrent writers that read before our write finish theirs,
		// then check that ours survived.
		wait := settle
		if wait <= 0 {
			wait = min(max(settleFactor*time.Since(started), minSettle), maxSettle)
		}
		if err := sleepCtx(ctx, wait+time.Duration(rand.Int64N(int64(wait)/2+1))); err != nil {
			return FirewallResult{}, err
		}
		after, _, err := api.Databases.GetFirewallRules(ctx, edit.DatabaseID)
		if err != nil {
			return FirewallResult{}, apiErr("reading the firewall of database "+edit.DatabaseID, err)
		}
		if satisfied(after, effective) {
			return res, nil
		}
		last = after
	}
	return FirewallResult{}, fmt.Errorf("the firewall of database %s kept being rewritten by another writer: after %d attempts to add %v and remove %v it holds %v; apply again",
		edit.DatabaseID, maxFirewallAttempts, edit.Add, edit.Remove, describeRules(last))
}

// VPCRangeRule is the trusted source for every address of a VPC.
func VPCRangeRule(ipRange string) Rule { return Rule{Type: "ip_addr", Value: ipRange} }

// vpcRangeFallback is the rule a firewall keeps instead of becoming empty:
// the range of the database's VPC.
func vpcRangeFallback(ctx context.Context, api *godo.Client, dbID string) ([]Rule, error) {
	const refuse = "refusing to leave database %s with no trusted source (DigitalOcean would accept connections from anywhere): %w"
	db, _, err := api.Databases.Get(ctx, dbID)
	if err != nil {
		return nil, fmt.Errorf(refuse, dbID, apiErr("reading the database to find its VPC", err))
	}
	if db.PrivateNetworkUUID == "" {
		return nil, fmt.Errorf(refuse, dbID, fmt.Errorf("it is on no VPC whose range could stay trusted; add a trusted source to it first"))
	}
	v, _, err := api.VPCs.Get(ctx, db.PrivateNetworkUUID)
	if err != nil {
		return nil, fmt.Errorf(refuse, dbID, apiErr("reading its VPC "+db.PrivateNetworkUUID, err))
	}
	return []Rule{VPCRangeRule(v.IPRange)}, nil
}

func withoutRuleList(rules, drop []Rule) []Rule {
	var out []Rule
	for _, r := range rules {
		if !containsRule(drop, r) {
			out = append(out, r)
		}
	}
	return out
}

// deadClusterRules lists the k8s rules of next, other than the ones being
// added, whose cluster no longer exists. DigitalOcean refuses a rule set
// naming a deleted cluster, and such a rule can linger (the cluster was
// deleted without detaching it) or come back in a concurrent writer's set
// read just before the cluster went. Nobody can write it any more, so
// keeping it would block every edit of the firewall for good.
func deadClusterRules(ctx context.Context, api *godo.Client, next []*godo.DatabaseFirewallRule, adding []Rule) ([]Rule, error) {
	var out []Rule
	for _, n := range next {
		r := Rule{Type: n.Type, Value: n.Value}
		if r.Type != "k8s" || containsRule(adding, r) {
			continue
		}
		_, _, err := api.Kubernetes.Get(ctx, r.Value)
		switch {
		case isNotFound(err):
			out = append(out, r)
		case err != nil:
			return nil, apiErr("reading cluster "+r.Value+" named by a firewall rule", err)
		}
	}
	return out, nil
}

func withoutRules(rules []*godo.DatabaseFirewallRule, drop map[Rule]bool) []*godo.DatabaseFirewallRule {
	if len(drop) == 0 {
		return rules
	}
	out := rules[:0:0]
	for _, r := range rules {
		if !drop[Rule{Type: r.Type, Value: r.Value}] {
			out = append(out, r)
		}
	}
	return out
}

func ruleSet(rules []godo.DatabaseFirewallRule) map[Rule]bool {
	out := map[Rule]bool{}
	for _, r := range rules {
		out[Rule{Type: r.Type, Value: r.Value}] = true
	}
	return out
}

func satisfied(current []godo.DatabaseFirewallRule, edit FirewallEdit) bool {
	present := ruleSet(current)
	for _, r := range edit.Add {
		if !present[r] {
			return false
		}
	}
	for _, r := range edit.Remove {
		if present[r] && !containsRule(edit.Add, r) {
			return false
		}
	}
	return true
}

func containsRule(rules []Rule, r Rule) bool {
	for _, x := range rules {
		if x == r {
			return true
		}
	}
	return false
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func describeRules(rules []godo.DatabaseFirewallRule) []string {
	out := make([]string, 0, len(rules))
	for _, r := range rules {
		out = append(out, r.Type+":"+r.Value)
	}
	return out
}
