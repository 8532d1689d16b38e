package stack

import (
	"context"
	"fmt"
	"time"
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
}

// DefaultPoll suits DigitalOcean's minutes-long provisioning: a first
// look after 10 s, then every 3% of the time waited, at most every 30 s.
var DefaultPoll = PollConfig{Min: 10 * time.Second, Max: 30 * time.Second, Fraction: 0.03}

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
