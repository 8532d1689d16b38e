package provider

import (
	"bytes"
	"context"
	"io"
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/terraform-plugin-log/tflog"
)

// pacer keeps one provider process (every resource of a workspace shares
// it) under DigitalOcean's per-token limits instead of hammering into 429s:
//
//   - after a 429, every request waits until the time the API named
//     (Retry-After, else RateLimit-Reset): one gate for all goroutines, so
//     fifty waiting stacks do not each probe the limit;
//   - when the hourly budget in RateLimit-Remaining runs low (under a fifth
//     of RateLimit-Limit), requests are spread evenly over the time left
//     until RateLimit-Reset rather than spent at once.
type pacer struct {
	clock     *apiClock
	mu        sync.Mutex
	gate      time.Time // no request before this
	next      time.Time // the next paced slot
	limit     int
	remaining int
	reset     time.Time
}

// lowBudget is the share of the hourly budget under which requests are paced.
const lowBudget = 5

// wait blocks until the request may go.
func (p *pacer) wait(ctx context.Context) error {
	p.mu.Lock()
	now := time.Now()
	at := now
	if p.gate.After(at) {
		at = p.gate
	}
	if p.limit > 0 && p.remaining*lowBudget < p.limit && p.reset.After(now) {
		spacing := p.reset.Sub(now) / time.Duration(max(p.remaining, 1))
		if p.next.After(at) {
			at = p.next
		}
		p.next = at.Add(spacing)
	}
	p.mu.Unlock()
	if d := time.Until(at); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// observe records what the response says of the budget.
func (p *pacer) observe(resp *http.Response) {
	if resp == nil {
		return
	}
	if p.clock != nil {
		p.clock.observe(resp.Header)
	}
	h := resp.Header
	p.mu.Lock()
	defer p.mu.Unlock()
	if limit, err := strconv.Atoi(h.Get("Ratelimit-Limit")); err == nil {
		p.limit = limit
	}
	if rem, err := strconv.Atoi(h.Get("Ratelimit-Remaining")); err == nil {
		p.remaining = rem
	}
	if reset, err := strconv.ParseInt(h.Get("Ratelimit-Reset"), 10, 64); err == nil {
		p.reset = time.Unix(reset, 0)
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		if d, ok := rateLimitWait(h, time.Now()); ok {
			if until := time.Now().Add(d); until.After(p.gate) {
				p.gate = until
			}
		}
	}
}

// pacingTransport applies a pacer to every attempt (it sits below the
// retry layer, so retries are paced too).
//
// With waitOut set (retries on), a 429 that says when to come back
// (Retry-After or RateLimit-Reset) is waited out here and the request sent
// again, as often as it takes within the request's context (the resource
// timeout, and the client's per-request timeout): it is the API pacing a
// token that other processes share, not a failure, so it does not use up
// the retry layer's attempts. N workspaces on one token, none of which can
// see the others' pacers, would otherwise fail applies once the limit is
// busy for a few windows. A 429 whose wait would outlast the context goes
// up to the retry layer as before.
type pacingTransport struct {
	base    http.RoundTripper
	pacer   *pacer
	waitOut bool
	// waitMax caps one wait (http_retry_wait_max); the pacer's gate still
	// holds every request until the time the API named.
	waitMax time.Duration
}

func (t pacingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	var body []byte
	if t.waitOut && req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	for limited := 0; ; limited++ {
		if err := t.pacer.wait(ctx); err != nil {
			return nil, err
		}
		attempt := req
		if body != nil {
			attempt = req.Clone(ctx)
			attempt.Body = io.NopCloser(bytes.NewReader(body))
			attempt.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		}
		resp, err := t.base.RoundTrip(attempt)
		t.pacer.observe(resp)
		if !t.waitOut || err != nil || resp.StatusCode != http.StatusTooManyRequests {
			return resp, err
		}
		wait, ok := rateLimitWait(resp.Header, time.Now())
		if !ok {
			return resp, nil // says nothing of when: the retry layer's backoff
		}
		if t.waitMax > 0 {
			wait = min(wait, t.waitMax)
		}
		if deadline, ok := ctx.Deadline(); ok && time.Now().Add(wait).After(deadline) {
			return resp, nil
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		_ = resp.Body.Close()
		tflog.Info(ctx, "DigitalOcean's rate limit for this token is reached (other workspaces may share it): waiting as the API asks, then sending the request again",
			map[string]any{"method": req.Method, "path": req.URL.Path, "wait_ms": wait.Milliseconds(), "times_limited": limited + 1})
		if wait > 0 {
			timer := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				timer.Stop()
				return nil, ctx.Err()
			case <-timer.C:
			}
		}
	}
}

// TimeScaleHeader is how the emulator says how much faster than real time
// it runs; DigitalOcean never sends it.
const TimeScaleHeader = "X-Attach-Emulator-Time-Scale"

// apiClock remembers the API's time scale, so waits poll in the API's time:
// every few seconds of DigitalOcean time, whether that is seconds of wall
// time (DigitalOcean) or milliseconds (an emulator at scale 1000).
type apiClock struct{ bits atomic.Uint64 }

func (c *apiClock) observe(h http.Header) {
	if v := h.Get(TimeScaleHeader); v != "" {
		if f, err := strconv.ParseFloat(v, 64); err == nil && f > 0 && !math.IsInf(f, 0) {
			c.bits.Store(math.Float64bits(f))
		}
	}
}

// scale is 1 until an emulator says otherwise.
func (c *apiClock) scale() float64 {
	if b := c.bits.Load(); b != 0 {
		return math.Float64frombits(b)
	}
	return 1
}
