package stack

import (
	"context"
	"fmt"
	"time"
)

// PollConfig shapes how the engine waits for asynchronous parts.
//
// The interval grows with the time already waited (Fraction of it), between
// Min and Max: a part that becomes ready is noticed within a few percent of
// its provisioning time, so waits never add a fixed tail, while a long wait
// costs only a handful of requests per minute.
type PollConfig struct {
	Min      time.Duration
	Max      time.Duration
	Fraction float64
}

// DefaultPoll suits DigitalOcean (minutes-long provisioning) and the
// emulator (seconds-long) alike.
var DefaultPoll = PollConfig{Min: 200 * time.Millisecond, Max: 20 * time.Second, Fraction: 0.03}

func (p PollConfig) interval(waited time.Duration) time.Duration {
	d := time.Duration(float64(waited) * p.Fraction)
	return min(max(d, p.Min), p.Max)
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
