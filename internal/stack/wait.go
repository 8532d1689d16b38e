package stack

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-log/tflog"
)

// PollConfig shapes how the engine waits for asynchronous parts, in API
// time: the time of the API being called, which is DigitalOcean's own or an
// emulator's, compressed by its time scale (Scale).
//
// The interval grows with the time already waited (Fraction of it),
// between Min and Max: a part that becomes ready is noticed within a few
// percent of its provisioning time, so waits never add a fixed tail, while
// a six-minute wait costs a few requests per minute.
type PollConfig struct {
	Min      time.Duration
	Max      time.Duration
	Fraction float64
	// Scale reports how much faster than real time the API runs (an
	// emulator says so in a response header); nil means 1.
	Scale func() float64
	// Expect lets a wait whose typical DigitalOcean duration is known (a
	// cluster's six minutes, a database's five) poll on that expectation:
	// sparse early, dense near it, then sparser again the longer it
	// overruns (see expectInterval). It needs the API's time (Scale, or
	// DigitalOcean itself); a config without it polls as above.
	Expect bool
}

// DefaultPoll suits DigitalOcean's minutes-long provisioning: a first
// look after 10 s, then every 3% of the time waited, at most every 30 s;
// waits of a known typical duration poll on it.
var DefaultPoll = PollConfig{Min: 10 * time.Second, Max: 30 * time.Second, Fraction: 0.03, Expect: true}

// Typical DigitalOcean durations, which waits poll around (PollConfig.Expect).
// They are the provisioning times this project's emulator reproduces
// (internal/emulator/emulator.go, "Real DigitalOcean durations"), not a
// promise: a wait that ends sooner is seen late by at most 60% of the time
// left at its last look, and one that overruns keeps polling, ever
// sparser, until its timeout.
const (
	TypicalClusterCreate  = 6 * time.Minute
	TypicalNodePoolCreate = 4 * time.Minute // new nodes in a running cluster
	TypicalGPUPoolCreate  = 8 * time.Minute // GPU Droplets come up slower
	TypicalDatabaseCreate = 5 * time.Minute
	TypicalReplicaCreate  = 5 * time.Minute
	TypicalDatabaseResize = 3 * time.Minute
	TypicalClusterUpgrade = 5 * time.Minute
	// A deleted cluster is gone within about a minute; its worker Droplets
	// stay VPC members a couple of minutes more (maintainer comment in
	// terraform-provider-digitalocean #488).
	TypicalClusterDrain = 3 * time.Minute
)

// expectInterval is the API-time wait before the next look, waited (API
// time) into an operation that typically takes typical. Before typical it
// covers 60% of the time left (a six-minute cluster is first looked at
// after 3.6 minutes, then at 5.0 and 5.6), and once little is left (three
// times the near interval, 1% of typical) it aims just past typical, so an
// operation done on time is seen within 1% of it. Past typical it looks
// every Fraction of the overrun, at least every 1% of typical (dense just
// after it) and at most every Max.
func (p PollConfig) expectInterval(waited, typical time.Duration) time.Duration {
	near := max(typical/100, time.Second)
	if left := typical - waited; left > 0 {
		if left <= 3*near {
			return left + near/4
		}
		return time.Duration(float64(left) * 0.6)
	}
	d := time.Duration(float64(waited-typical) * p.Fraction)
	return min(max(d, near), max(p.Max, near))
}

// WaitExpecting is waitExpecting for callers outside the engine (the
// standalone resources).
func (p PollConfig) WaitExpecting(ctx context.Context, what string, since time.Time, typical time.Duration, check func(ctx context.Context) (bool, error)) error {
	return p.waitExpecting(ctx, what, since, typical, check)
}

// waitExpecting is waitUntil for an operation that started at since and
// typically takes typical (API time): with Expect it first looks once 60%
// of typical has passed (at once when typical has already passed), then
// per expectInterval. Without Expect, or with typical 0, it is waitUntil.
func (p PollConfig) waitExpecting(ctx context.Context, what string, since time.Time, typical time.Duration, check func(ctx context.Context) (bool, error)) error {
	if !p.Expect || typical <= 0 {
		return p.waitUntil(ctx, what, check)
	}
	start := time.Now()
	for first := true; ; first = false {
		waited := time.Duration(float64(time.Since(since)) * p.scale())
		if !first || waited < typical {
			timer := time.NewTimer(p.wall(p.expectInterval(waited, typical)))
			select {
			case <-ctx.Done():
				timer.Stop()
				return fmt.Errorf("gave up waiting for %s after %s: %w", what, time.Since(start).Round(time.Second), ctx.Err())
			case <-timer.C:
			}
		}
		done, err := check(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("gave up waiting for %s after %s: %w", what, time.Since(start).Round(time.Second), err)
			}
			return err
		}
		if done {
			return nil
		}
	}
}

// listMaxAge is how old a shared status list may be for a look, waited
// since started, at an operation that typically takes typical: half the
// interval the look ends (so a list never delays a look by more than half
// its interval), at most Min, and only a quarter of the near interval
// once typical has passed. Early looks, minutes apart, thus take any
// list of the last Min (fifty stacks waiting share a list per kind), while
// looks near typical take only lists a fraction of a second old.
func (p PollConfig) listMaxAge(started time.Time, typical time.Duration) time.Duration {
	if !p.Expect || typical <= 0 {
		return p.MinWall()
	}
	waited := time.Duration(float64(time.Since(started)) * p.scale())
	if waited >= typical {
		// The look just past typical, and those after: only a list
		// fetched after typical sees an operation done on time.
		return p.wall(max(typical/100, time.Second) / 4)
	}
	return p.wall(min(p.expectInterval(waited, typical)/2, p.Min))
}

func (p PollConfig) scale() float64 {
	if p.Scale == nil {
		return 1
	}
	if s := p.Scale(); s > 0 {
		return s
	}
	return 1
}

// wall converts API time to wall-clock time.
func (p PollConfig) wall(d time.Duration) time.Duration { return time.Duration(float64(d) / p.scale()) }

// MinWall is Min in wall-clock time.
func (p PollConfig) MinWall() time.Duration { return p.wall(p.Min) }

// interval is the wall-clock wait after waited (wall-clock) of waiting.
func (p PollConfig) interval(waited time.Duration) time.Duration {
	waitedAPI := time.Duration(float64(waited) * p.scale())
	d := time.Duration(float64(waitedAPI) * p.Fraction)
	return p.wall(min(max(d, p.Min), p.Max))
}

// WaitUntil polls check until it reports done, fails, or ctx ends. what
// names the wait in the error ("database vectors to be online").
func (p PollConfig) WaitUntil(ctx context.Context, what string, check func(ctx context.Context) (bool, error)) error {
	return p.waitUntil(ctx, what, check)
}

func (p PollConfig) waitUntil(ctx context.Context, what string, check func(ctx context.Context) (bool, error)) error {
	start := time.Now()
	for {
		done, err := check(ctx)
		if err != nil {
			if ctx.Err() != nil {
				// The deadline cut a read short: say what was being waited for.
				return fmt.Errorf("gave up waiting for %s after %s: %w", what, time.Since(start).Round(time.Second), err)
			}
			return err
		}
		if done {
			return nil
		}
		timer := time.NewTimer(p.interval(time.Since(start)))
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("gave up waiting for %s after %s: %w", what, time.Since(start).Round(time.Second), ctx.Err())
		case <-timer.C:
		}
	}
}

// NotVisibleWindow is how long, in API time, after a create this provider
// made a 404 for the new object means "not visible yet" rather than "gone":
// DigitalOcean answers 404 to GETs (and leaves the object out of lists) for
// a while after a database or replica create answered 201
// (terraform-provider-digitalocean #361, #728, #906; digitalocean/api-v2#200).
// It outlasts that lag by far, and is short enough that an object deleted
// out of band right after its create is given up on within a normal apply.
const NotVisibleWindow = 10 * time.Minute

// NotVisibleYet reports whether a 404 for an object this provider created at
// created (zero: not created by it), and whose last observed state is state,
// means it is not visible yet: created within NotVisibleWindow and never seen
// online. An object seen online before that 404s is gone.
func (p PollConfig) NotVisibleYet(created time.Time, state string) bool {
	if created.IsZero() || state != "" && state != "creating" {
		return false
	}
	return time.Since(created) < p.wall(NotVisibleWindow)
}

// Retry calls op until it succeeds. An error for which transient returns a
// reason ("waiting for the primary's first backup") is waited out, logged
// with that reason, and op called again after the poll interval, until ctx
// ends; any other error is returned at once. When ctx ends the last error is
// returned, saying how long the condition lasted. what names the operation
// in logs.
func (p PollConfig) Retry(ctx context.Context, what string, op func(ctx context.Context) error, transient func(err error) string) error {
	start := time.Now()
	logged := ""
	var last *gaveUpError // the last transient refusal, if any
	for {
		err := op(ctx)
		if err == nil {
			return nil
		}
		// The deadline cut an attempt short: what kept the operation
		// waiting is the last refusal, not the cut.
		if ctx.Err() != nil && last != nil {
			last.waited = time.Since(start)
			return last
		}
		reason := transient(err)
		if reason == "" || ctx.Err() != nil {
			return err
		}
		last = &gaveUpError{err: err, reason: reason}
		fields := map[string]any{"operation": what, "reason": reason, "waited": time.Since(start).Round(time.Millisecond).String()}
		if reason != logged {
			tflog.Info(ctx, "retrying until DigitalOcean accepts: "+reason, fields)
			logged = reason
		} else {
			tflog.Debug(ctx, "retrying until DigitalOcean accepts: "+reason, fields)
		}
		timer := time.NewTimer(p.interval(time.Since(start)))
		select {
		case <-ctx.Done():
			timer.Stop()
			return &gaveUpError{err: err, reason: reason, waited: time.Since(start)}
		case <-timer.C:
		}
	}
}

// gaveUpError is the last error of a Retry whose context ended.
type gaveUpError struct {
	err    error
	reason string
	waited time.Duration
}

func (e *gaveUpError) Error() string {
	return fmt.Sprintf("%v; still %s after %s, when the timeout ended", e.err, e.reason, e.waited.Round(time.Second))
}

func (e *gaveUpError) Unwrap() error { return e.err }

// retryWhileNotVisible calls op until it succeeds; a 404 is retried while
// pending reports that the object is not visible yet (see NotVisibleYet).
// Any other error, or a 404 once the object is no longer pending, is
// returned: callers decide what a 404 then means.
func (r *run) retryWhileNotVisible(ctx context.Context, what string, pending func() bool, op func(ctx context.Context) error) error {
	return r.e.Poll.Retry(ctx, what, op, func(err error) string {
		if isNotFound(err) && pending() {
			return "not visible yet after its create (DigitalOcean answers 404 for a while)"
		}
		return ""
	})
}
