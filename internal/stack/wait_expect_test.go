package stack

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// A six-minute cluster is looked at sparsely early, densely near six
// minutes (completion then seen within 1% of it), and ever more sparsely,
// but at most every Max, when it overruns.
func TestExpectIntervalSparseEarlyDenseNear(t *testing.T) {
	p := DefaultPoll
	typical := TypicalClusterCreate
	var looks []time.Duration
	for w := time.Duration(0); w < typical; w += p.expectInterval(w, typical) {
		looks = append(looks, w)
	}
	// Looks at 0 (the create), 3.6, 5.04, 5.62 and 5.85 minutes; the
	// next lands just past six.
	if n := len(looks); n > 5 {
		t.Errorf("%d looks before the typical six minutes, want at most 5: %v", n, looks)
	}
	if last := looks[len(looks)-1]; last+p.expectInterval(last, typical) > typical+typical/100 {
		t.Errorf("the look after %s lands more than 1%% past the typical time", last)
	}
	if first := p.expectInterval(0, typical); first != typical*6/10 {
		t.Errorf("first look after %s, want at 60%% (%s)", first, typical*6/10)
	}
	if near := p.expectInterval(typical-time.Second, typical); near > typical/100 {
		t.Errorf("interval near the typical time %s, want at most 1%% of it", near)
	}
	if over := p.expectInterval(typical+time.Minute, typical); over > typical/100 {
		t.Errorf("interval a minute past the typical time %s, want still dense", over)
	}
	if long := p.expectInterval(typical+time.Hour, typical); long != p.Max {
		t.Errorf("interval an hour past the typical time %s, want Max %s", long, p.Max)
	}
	// Shared lists: early looks take one up to Min old, looks near the
	// typical time only one at most half their interval old.
	if early := p.listMaxAge(time.Now(), typical); early != p.Min {
		t.Errorf("list age for the first look %s, want Min %s", early, p.Min)
	}
	if near := p.listMaxAge(time.Now().Add(-typical+time.Second), typical); near > typical/200+time.Second {
		t.Errorf("list age near the typical time %s, want about half of 1%% of it", near)
	}
}

// Polling configs without Expect (the fast test configs) keep waitUntil's
// schedule and list age.
func TestWaitExpectingWithoutExpectIsWaitUntil(t *testing.T) {
	p := PollConfig{Min: 5 * time.Millisecond, Max: 50 * time.Millisecond, Fraction: 0.04}
	if got := p.listMaxAge(time.Now(), TypicalClusterCreate); got != p.MinWall() {
		t.Errorf("listMaxAge without Expect = %s, want MinWall %s", got, p.MinWall())
	}
	start := time.Now()
	err := p.waitExpecting(t.Context(), "x", time.Now(), TypicalClusterCreate, func(context.Context) (bool, error) { return true, nil })
	if err != nil || time.Since(start) > time.Second {
		t.Errorf("without Expect the first look must be at once: err %v after %s", err, time.Since(start))
	}
	// With Expect, a wait already past its typical time looks at once too.
	p.Expect = true
	start = time.Now()
	err = p.waitExpecting(t.Context(), "x", time.Now().Add(-time.Hour), TypicalClusterCreate, func(context.Context) (bool, error) { return true, nil })
	if err != nil || time.Since(start) > time.Second {
		t.Errorf("a wait past its typical time must look at once: err %v after %s", err, time.Since(start))
	}
}

// When the deadline cuts an attempt short, Retry reports the refusal it was
// waiting out (the reason the operation never finished), not the cut.
func TestRetryNamesTheRefusalWhenTheDeadlineCutsAnAttempt(t *testing.T) {
	p := PollConfig{Min: 5 * time.Millisecond, Max: 50 * time.Millisecond, Fraction: 0.04}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	refused := errors.New("DigitalOcean answered 404")
	attempts := 0
	err := p.Retry(ctx, "deleting database vectors", func(ctx context.Context) error {
		attempts++
		if attempts == 1 {
			return refused
		}
		<-ctx.Done() // the next attempt is still in flight at the deadline
		return ctx.Err()
	}, func(err error) string {
		if errors.Is(err, refused) {
			return "not visible yet"
		}
		return ""
	})
	var gaveUp *gaveUpError
	if !errors.As(err, &gaveUp) || !errors.Is(err, refused) || !strings.Contains(err.Error(), "still not visible yet after") {
		t.Fatalf("Retry after the deadline cut an attempt: %v", err)
	}
}
