package faulttest

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
	"github.com/attach-labs/terraform-provider-attach/internal/stack"
)

// A workspace of many stacks under DigitalOcean's per-token limits (the
// emulator's defaults, 250/minute and 5,000/hour, in scaled windows): one
// provider process (one client, so one pacer and one watcher) applies,
// refreshes and destroys them all at once. Every operation must succeed,
// 429s must stay rare (after one, the pacer holds every request until the
// reset), and no request may follow a 429 before the time it named.

const (
	workspaceStacks = 20
	// At this scale an hour's budget lasts 6 s and a minute's 100 ms: the
	// stacks' requests exceed the minute budget when sent at once.
	workspaceTimeScale = 600
)

func smallStack(i int) stack.Spec {
	return stack.Spec{
		Name:   fmt.Sprintf("ws%02d", i),
		Region: "tor1",
		Cluster: stack.ClusterSpec{
			Version:    "1.33.1-do.0",
			SystemPool: stack.NodePoolSpec{Size: "s-2vcpu-4gb", NodeCount: 1},
		},
		Databases: map[string]stack.DatabaseSpec{
			"app": {Engine: "pg", Version: "17", Size: "db-s-1vcpu-2gb", NodeCount: 1, DBs: []string{"app"}, Users: []string{"app"}},
		},
	}
}

type exchangeLog struct {
	mu   sync.Mutex
	seen []timedExchange
}

type timedExchange struct {
	at         time.Time
	status     int
	retryAfter time.Duration
	path       string
}

func (l *exchangeLog) record(ex emulator.Exchange) {
	te := timedExchange{at: time.Now(), status: ex.Status, path: ex.Method + " " + ex.Path}
	if s, err := strconv.Atoi(ex.ResponseHeader.Get("Retry-After")); err == nil {
		te.retryAfter = time.Duration(s) * time.Second
	}
	l.mu.Lock()
	l.seen = append(l.seen, te)
	l.mu.Unlock()
}

func TestWorkspaceUnderRateLimits(t *testing.T) {
	srv, err := emulator.Start(emulator.Config{TimeScale: workspaceTimeScale})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	log := &exchangeLog{}
	srv.SetRecorder(log.record)
	shared := newEngine(t, srv.URL, srv.Token)
	shared.Poll = stack.PollConfig{Min: 5 * time.Millisecond, Max: 100 * time.Millisecond, Fraction: 0.05}
	// Production retries: a 429 is retried after the time it names.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	statuses := make([]*stack.Status, workspaceStacks)
	each := func(phase string, op func(i int) (*stack.Status, error)) {
		start := time.Now()
		var wg sync.WaitGroup
		errs := make([]error, workspaceStacks)
		for i := range workspaceStacks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i], errs[i] = op(i)
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("%s of stack %d: %v", phase, i, err)
			}
		}
		t.Logf("%s of %d stacks: %s", phase, workspaceStacks, time.Since(start).Round(time.Millisecond))
	}
	each("apply", func(i int) (*stack.Status, error) {
		res, err := shared.Apply(ctx, smallStack(i), nil)
		return res.Status, err
	})
	each("refresh (plan)", func(i int) (*stack.Status, error) {
		res, err := shared.Refresh(ctx, smallStack(i), statuses[i])
		return res.Status, err
	})
	each("destroy", func(i int) (*stack.Status, error) {
		res, err := shared.Delete(ctx, smallStack(i), statuses[i], stack.DeleteOptions{})
		return res.Status, err
	})
	srv.SetRecorder(nil)

	log.mu.Lock()
	defer log.mu.Unlock()
	var limited []timedExchange
	for _, ex := range log.seen {
		if ex.status == 429 {
			limited = append(limited, ex)
		}
	}
	// A burst of 429s is the requests already in flight when the budget
	// ran out: at most two per stack (its cluster and its database are
	// worked on at once); after it the pacer holds everyone until the
	// reset, so bursts are few.
	bursts, largest, size := 0, 0, 0
	var last time.Time
	for _, l := range limited {
		if l.at.Sub(last) > 100*time.Millisecond {
			bursts, size = bursts+1, 0
		}
		size++
		largest = max(largest, size)
		last = l.at
	}
	t.Logf("requests: %d, 429s: %d in %d bursts (largest %d)", len(log.seen), len(limited), bursts, largest)
	if largest > 2*workspaceStacks || bursts > 3 {
		t.Errorf("%d 429s in %d bursts (largest %d) for %d stacks: the pacer should hold every request after a 429", len(limited), bursts, largest, workspaceStacks)
	}
	// After a 429 the whole process waits: nothing but requests already in
	// flight may be answered before the time the 429 named. (A lower bound
	// only; how much later is the machine's business.)
	const inFlight = 100 * time.Millisecond
	for _, l := range limited {
		for _, ex := range log.seen {
			if ex.at.After(l.at.Add(inFlight)) && ex.at.Before(l.at.Add(l.retryAfter-inFlight)) {
				t.Errorf("%s answered %s after a 429 that asked for %s", ex.path, ex.at.Sub(l.at).Round(time.Millisecond), l.retryAfter)
				break
			}
		}
	}
	waitEmpty(t, srv)
}
