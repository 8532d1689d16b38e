package stack

import (
	"fmt"
	"strings"
	"time"
)

// stalledDatabaseFormat is how Pending names a database an apply gave up
// waiting for; StalledInPending reads it back (keep the two in step).
const stalledDatabaseFormat = "database %s: not online yet (state %q)"

// Pending describes what an earlier apply left unfinished because it ran out
// of time waiting (GPU nodes still provisioning, a database or replica not
// yet online). The state then matches the configuration, so without a
// marker Terraform would plan nothing and never call the apply that
// continues the wait; the provider shows these in the plan instead.
func (s *Status) Pending() []string {
	if s == nil {
		return nil
	}
	var out []string
	if c := s.Cluster; c != nil {
		for _, key := range sortedKeys(c.Pools) {
			if p := c.Pools[key]; p != nil && !p.WaitingSince.IsZero() {
				out = append(out, fmt.Sprintf("node pool %s: waiting for its nodes since %s", key, p.WaitingSince.UTC().Format(time.RFC3339)))
			}
		}
	}
	for _, key := range sortedKeys(s.Databases) {
		d := s.Databases[key]
		if d.Stalled && d.State != "online" {
			out = append(out, fmt.Sprintf(stalledDatabaseFormat, key, d.State))
		}
		for _, rk := range sortedKeys(d.Replicas) {
			if r := d.Replicas[rk]; r.Stalled && r.State != "online" {
				out = append(out, fmt.Sprintf("replica %s of database %s: not online yet (state %q)", rk, key, r.State))
			}
		}
	}
	return out
}

// StalledInPending reads back the databases a Pending text (joined with
// "; ", as the pending attribute holds it) names as not online yet: the
// destroy half of a stack's replacement has the state's attributes but no
// private state, and must not take such a database for one still creating.
func StalledInPending(pending string) map[string]bool {
	out := map[string]bool{}
	for _, item := range strings.Split(pending, "; ") {
		rest, ok := strings.CutPrefix(item, "database ")
		if key, _, found := strings.Cut(rest, ": not online yet ("); ok && found {
			out[key] = true
		}
	}
	return out
}
