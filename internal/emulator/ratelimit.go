package emulator

import (
	"net/http"
	"strconv"
	"sync"
	"time"
)

// rateLimiter enforces DigitalOcean's per-token limits: a number of requests
// per minute and per hour, each window scaled by the time scale so limits
// keep their real proportion to provisioning times. Headers follow the API:
// ratelimit-limit and ratelimit-remaining describe the hourly budget,
// ratelimit-reset is the Unix time (seconds) when the exhausted window, or
// else the hourly one, starts over.
type rateLimiter struct {
	perMinute, perHour int
	scaled             func(time.Duration) time.Duration

	mu      sync.Mutex
	windows map[string]*tokenWindows
}

type tokenWindows struct {
	minuteStart, hourStart time.Time
	minuteCount, hourCount int
}

func newRateLimiter(perMinute, perHour int, scaled func(time.Duration) time.Duration) *rateLimiter {
	return &rateLimiter{perMinute: perMinute, perHour: perHour, scaled: scaled, windows: map[string]*tokenWindows{}}
}

func (l *rateLimiter) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.windows = map[string]*tokenWindows{}
}

func (l *rateLimiter) window(token string, now time.Time) *tokenWindows {
	w := l.windows[token]
	if w == nil {
		w = &tokenWindows{minuteStart: now, hourStart: now}
		l.windows[token] = w
	}
	if now.Sub(w.minuteStart) >= l.scaled(time.Minute) {
		w.minuteStart, w.minuteCount = now, 0
	}
	if now.Sub(w.hourStart) >= l.scaled(time.Hour) {
		w.hourStart, w.hourCount = now, 0
	}
	return w
}

// allow counts one request for token and sets the rate-limit headers. It
// returns false (with Retry-After set) when a limit is exhausted.
func (l *rateLimiter) allow(h http.Header, token string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.window(token, now)
	minuteFull := l.perMinute > 0 && w.minuteCount >= l.perMinute
	hourFull := l.perHour > 0 && w.hourCount >= l.perHour
	if minuteFull || hourFull {
		reset := w.hourStart.Add(l.scaled(time.Hour))
		if !hourFull {
			reset = w.minuteStart.Add(l.scaled(time.Minute))
		}
		l.writeHeaders(h, w, reset)
		wait := max(reset.Sub(now), 0)
		h.Set("Retry-After", strconv.FormatInt(int64((wait+time.Second-1)/time.Second), 10))
		return false
	}
	w.minuteCount++
	w.hourCount++
	l.writeHeaders(h, w, w.hourStart.Add(l.scaled(time.Hour)))
	return true
}

// setHeaders writes the headers without counting a request (used for 401s).
func (l *rateLimiter) setHeaders(h http.Header, token string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.window(token, now)
	l.writeHeaders(h, w, w.hourStart.Add(l.scaled(time.Hour)))
}

func (l *rateLimiter) writeHeaders(h http.Header, w *tokenWindows, reset time.Time) {
	limit := l.perHour
	remaining := l.perHour - w.hourCount
	if l.perHour <= 0 { // hourly limit disabled: report the minute budget
		limit, remaining = l.perMinute, l.perMinute-w.minuteCount
	}
	if limit <= 0 {
		limit, remaining = 0, 0
	}
	// Round up so a client sleeping until the reset second never wakes early.
	resetUnix := reset.Unix()
	if reset.Nanosecond() > 0 {
		resetUnix++
	}
	h.Set("Ratelimit-Limit", strconv.Itoa(limit))
	h.Set("Ratelimit-Remaining", strconv.Itoa(max(remaining, 0)))
	h.Set("Ratelimit-Reset", strconv.FormatInt(resetUnix, 10))
}
