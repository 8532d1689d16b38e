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
			return nil, apiErr("reading the firewall of database "+edit.DatabaseID, err)
		}
		if first {
			present := ruleSet(current)
			for _, r := range edit.Add {
				if !present[r] {
					added = append(added, r)
				}
			}
			first = false
		}
		if satisfied(current, edit) {
			return added, nil // nothing (more) to write
		}
		next := withoutRules(mergeRules(current, edit.Remove, edit.Add), dead)
		if _, err := api.Databases.UpdateFirewallRules(ctx, edit.DatabaseID, &godo.DatabaseUpdateFirewallRulesRequest{Rules: next}); err != nil {
			if statusOf(err) == http.StatusUnprocessableEntity {
				found, checkErr := deadClusterRules(ctx, api, next, edit.Add)
				if checkErr != nil {
					return nil, checkErr
				}
				if len(found) > 0 {
					for _, r := range found {
						dead[r] = true
					}
					logf(ctx, "dropping firewall rules that name deleted clusters", map[string]any{"database_id": edit.DatabaseID, "rules": found})
					continue // re-read and write without them
				}
			}
			return nil, apiErr("updating the firewall of database "+edit.DatabaseID, err)
		}
		// Let concurrent writers that read before our write finish theirs,
		// then check that ours survived.
		wait := settle
		if wait <= 0 {
			wait = min(max(settleFactor*time.Since(started), minSettle), maxSettle)
		}
		if err := sleepCtx(ctx, wait+time.Duration(rand.Int64N(int64(wait)/2+1))); err != nil {
			return nil, err
		}
		after, _, err := api.Databases.GetFirewallRules(ctx, edit.DatabaseID)
		if err != nil {
			return nil, apiErr("reading the firewall of database "+edit.DatabaseID, err)
		}
		if satisfied(after, edit) {
			return added, nil
		}
		last = after
	}
	return nil, fmt.Errorf("the firewall of database %s kept being rewritten by another writer: after %d attempts to add %v and remove %v it holds %v; apply again",
		edit.DatabaseID, maxFirewallAttempts, edit.Add, edit.Remove, describeRules(last))
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
