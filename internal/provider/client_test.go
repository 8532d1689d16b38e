package provider

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-log/tflog"
	"github.com/hashicorp/terraform-plugin-log/tflogtest"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
	"github.com/attach-labs/terraform-provider-attach/internal/stack"
)

// testClient builds the provider's client at srv with fast retries.
func testClient(t *testing.T, srv *emulator.Server, retryMax int, waitMax time.Duration) *Client {
	t.Helper()
	c, err := NewClient(ClientConfig{
		Token: srv.Token, APIEndpoint: srv.URL, RetryMax: retryMax,
		RetryWaitMin: time.Millisecond, RetryWaitMax: waitMax, UserAgent: userAgent("1.2.3", "1.5.7"),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func injectFault(t *testing.T, srv *emulator.Server, f emulator.Fault) {
	t.Helper()
	if _, err := srv.InjectFault(f); err != nil {
		t.Fatal(err)
	}
}

func TestClientRetriesServerErrorsThenSucceeds(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	c := testClient(t, srv, 3, 5*time.Millisecond)
	injectFault(t, srv, emulator.Fault{Route: "/v2/vpcs", Kind: emulator.FaultStatus, Status: http.StatusServiceUnavailable, Count: 2})

	if _, _, err := c.Godo.VPCs.List(context.Background(), nil); err != nil {
		t.Fatalf("list after two 503s: %v", err)
	}
	if got := srv.RequestCounts()["GET /v2/vpcs"]; got != 3 {
		t.Errorf("GET /v2/vpcs was sent %d times; want 3 (two 503s, then success)", got)
	}
}

func TestClientRetriesDroppedConnections(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	c := testClient(t, srv, 3, 5*time.Millisecond)
	injectFault(t, srv, emulator.Fault{Route: "/v2/vpcs", Kind: emulator.FaultDrop, Count: 1})

	if _, _, err := c.Godo.VPCs.List(context.Background(), nil); err != nil {
		t.Fatalf("list after a dropped connection: %v", err)
	}
	if got := srv.RequestCounts()["GET /v2/vpcs"]; got != 2 {
		t.Errorf("GET /v2/vpcs was sent %d times; want 2", got)
	}
}

func TestClientGivesUpAfterRetryMax(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	c := testClient(t, srv, 2, 5*time.Millisecond)
	injectFault(t, srv, emulator.Fault{Route: "/v2/vpcs", Kind: emulator.FaultStatus, Status: http.StatusInternalServerError})

	_, _, err := c.Godo.VPCs.List(context.Background(), nil)
	if err == nil {
		t.Fatal("list succeeded against a permanently failing API")
	}
	if msg := APIError("listing VPCs", err); !strings.Contains(msg, "listing VPCs: DigitalOcean answered 500") || !strings.Contains(msg, "request id") {
		t.Errorf("error does not name the operation, status and request id: %s", msg)
	}
	if got := srv.RequestCounts()["GET /v2/vpcs"]; got != 3 {
		t.Errorf("GET /v2/vpcs was sent %d times; want 3 (1 + http_retry_max 2)", got)
	}
}

func TestClientWithoutRetries(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	c := testClient(t, srv, 0, time.Second)
	injectFault(t, srv, emulator.Fault{Route: "/v2/vpcs", Kind: emulator.FaultStatus, Status: http.StatusBadGateway, Count: 1})
	if _, _, err := c.Godo.VPCs.List(context.Background(), nil); err == nil {
		t.Fatal("http_retry_max = 0 retried anyway")
	}
	if got := srv.RequestCounts()["GET /v2/vpcs"]; got != 1 {
		t.Errorf("GET /v2/vpcs was sent %d times; want 1", got)
	}
}

func TestClientHonoursRetryAfterOn429(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	c := testClient(t, srv, 3, 5*time.Second)
	injectFault(t, srv, emulator.Fault{Route: "/v2/vpcs", Kind: emulator.FaultRateLimit, RetryAfter: 1, Count: 1})

	start := time.Now()
	if _, _, err := c.Godo.VPCs.List(context.Background(), nil); err != nil {
		t.Fatalf("list after a 429: %v", err)
	}
	// A lower bound only: the client must not retry before the server's
	// Retry-After (1s), whatever the configured minimum wait (1ms).
	if waited := time.Since(start); waited < 900*time.Millisecond {
		t.Errorf("retried after %s; the 429 asked for 1s", waited)
	}
}

func TestRetryBackoff(t *testing.T) {
	now := time.Now()
	t.Run("429 Retry-After seconds, capped at max", func(t *testing.T) {
		resp := &http.Response{StatusCode: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"7"}}}
		if got := retryBackoff(time.Second, 30*time.Second, 0, resp); got != 7*time.Second {
			t.Errorf("got %s, want 7s", got)
		}
		if got := retryBackoff(time.Second, 5*time.Second, 0, resp); got != 5*time.Second {
			t.Errorf("got %s, want the 5s cap", got)
		}
	})
	t.Run("429 RateLimit-Reset epoch", func(t *testing.T) {
		reset := now.Add(10 * time.Second).Unix()
		resp := &http.Response{StatusCode: http.StatusTooManyRequests, Header: http.Header{"Ratelimit-Reset": {strconv.FormatInt(reset, 10)}}}
		got := retryBackoff(time.Second, time.Minute, 0, resp)
		if got < 8*time.Second || got > 11*time.Second {
			t.Errorf("got %s, want about 10s until the reset", got)
		}
	})
	t.Run("5xx exponential with jitter", func(t *testing.T) {
		resp := &http.Response{StatusCode: http.StatusServiceUnavailable, Header: http.Header{}}
		seen := map[time.Duration]bool{}
		for attempt := range 6 {
			ceiling := min(time.Second<<attempt, 20*time.Second)
			for range 50 {
				got := retryBackoff(time.Second, 20*time.Second, attempt, resp)
				if got < time.Second || got > ceiling {
					t.Fatalf("attempt %d: %s outside [1s, %s]", attempt, got, ceiling)
				}
				seen[got] = true
			}
		}
		if len(seen) < 20 {
			t.Errorf("only %d distinct waits in 300 draws: backoff is not jittered", len(seen))
		}
	})
}

func TestClientSendsUserAgent(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	var mu sync.Mutex
	var ua string
	srv.SetRecorder(func(x emulator.Exchange) {
		mu.Lock()
		defer mu.Unlock()
		ua = x.RequestHeader.Get("User-Agent")
	})
	c := testClient(t, srv, 1, time.Millisecond)
	if _, _, err := c.Godo.VPCs.List(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, want := range []string{"Terraform/1.5.7", "terraform-provider-attach/1.2.3", "godo/"} {
		if !strings.Contains(ua, want) {
			t.Errorf("User-Agent %q lacks %q", ua, want)
		}
	}
}

func TestLogContextMasksSecrets(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	c := testClient(t, srv, 1, time.Millisecond)
	var buf bytes.Buffer
	ctx := c.LogContext(tflogtest.RootLogger(context.Background(), &buf))

	if _, _, err := c.Godo.VPCs.List(ctx, &godo.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	const password = "s3cr3t-pa55"
	uri := "postgresql://doadmin:" + password + "@private-db.example:25060/defaultdb?sslmode=require"
	tflog.Trace(ctx, "connecting with "+uri+" and Bearer "+srv.Token, map[string]any{
		"password": password, "private_uri": uri, "note": "uri " + uri, "token": srv.Token, "kubeconfig": "apiVersion: v1",
	})

	out := buf.String()
	if !strings.Contains(out, `"path":"/v2/vpcs"`) {
		t.Errorf("API requests are not logged:\n%s", out)
	}
	for _, secret := range []string{srv.Token, password, "apiVersion: v1"} {
		if strings.Contains(out, secret) {
			t.Errorf("log output contains the secret %q:\n%s", secret, out)
		}
	}
}

// After a 429 the whole client waits for the gate: requests from other
// goroutines do not probe the limit meanwhile.
func TestPacerGatesEveryRequestAfter429(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	c := testClient(t, srv, 3, 5*time.Second)
	injectFault(t, srv, emulator.Fault{Route: "/v2/vpcs", Kind: emulator.FaultRateLimit, RetryAfter: 1, Count: 1})
	if _, _, err := c.Godo.VPCs.List(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	// The first 429 set the gate one second ahead; a request on another
	// route right after waits for it too.
	start := time.Now()
	injectFault(t, srv, emulator.Fault{Route: "/v2/projects", Kind: emulator.FaultRateLimit, RetryAfter: 1, Count: 1})
	if _, _, err := c.Godo.Projects.List(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if got := srv.RequestCounts()["GET /v2/projects"]; got != 2 {
		t.Errorf("GET /v2/projects sent %d times; want 2 (one 429, one success)", got)
	}
	if waited := time.Since(start); waited < 900*time.Millisecond {
		t.Errorf("the retry after a 429 went after %s; the gate is 1s", waited)
	}
}

func TestPacerSpreadsALowHourlyBudget(t *testing.T) {
	p := &pacer{}
	// RateLimit-Reset is in whole seconds: at least 3s away.
	reset := time.Now().Unix() + 4
	p.observe(&http.Response{StatusCode: 200, Header: http.Header{
		"Ratelimit-Limit": {"5000"}, "Ratelimit-Remaining": {"4"}, "Ratelimit-Reset": {strconv.FormatInt(reset, 10)},
	}})
	start := time.Now()
	for range 3 {
		if err := p.wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	// 4 requests left for at least 3s: slots at least 0.75s apart, so the
	// third request goes at least 1.5s after the first (a lower bound only).
	if elapsed := time.Since(start); elapsed < 1400*time.Millisecond {
		t.Errorf("3 requests on a nearly spent budget went out in %s; they should be spread", elapsed)
	}
	p2 := &pacer{}
	p2.observe(&http.Response{StatusCode: 200, Header: http.Header{
		"Ratelimit-Limit": {"5000"}, "Ratelimit-Remaining": {"4000"}, "Ratelimit-Reset": {strconv.FormatInt(reset, 10)},
	}})
	start = time.Now()
	for range 50 {
		_ = p2.wait(context.Background())
	}
	if elapsed := time.Since(start); elapsed > 50*time.Millisecond {
		t.Errorf("a healthy budget was paced: %s for 50 requests", elapsed)
	}
}

// Waits poll in the API's time: against an emulator at scale 1000 the
// default first look (10 s of DigitalOcean time) comes after 10 ms.
func TestClientPollsInAPITime(t *testing.T) {
	if TimeScaleHeader != emulator.TimeScaleHeader {
		t.Fatalf("the provider reads %q, the emulator sends %q", TimeScaleHeader, emulator.TimeScaleHeader)
	}
	srv := startEmulator(t, emulator.Config{TimeScale: 1000})
	c := testClient(t, srv, 1, time.Millisecond)
	if got := c.PollConfig().MinWall(); got != stack.DefaultPoll.Min {
		t.Fatalf("before any response the client polls at %s; want DigitalOcean's %s", got, stack.DefaultPoll.Min)
	}
	if _, _, err := c.Godo.VPCs.List(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if got, want := c.PollConfig().MinWall(), stack.DefaultPoll.Min/1000; got != want {
		t.Errorf("after the emulator said scale 1000 the client polls at %s; want %s", got, want)
	}
}

// Issue 13: separate provider processes on one token share no pacer; each
// must still get every request through DigitalOcean's fixed window by
// honouring the 429's Retry-After. Four clients (four processes' worth)
// send 40 requests at once into a window of 8 per (scaled) minute.
func TestClientsOfSeparateProcessesHonourASharedRateLimit(t *testing.T) {
	// Scale 600: the minute window is 100 ms; Retry-After is whole seconds,
	// so each 429 costs a second and the test a few.
	srv := startEmulator(t, emulator.Config{TimeScale: 600, RateLimitPerMinute: 8, RateLimitPerHour: -1})
	var (
		mu                sync.Mutex
		limited, answered int
	)
	srv.SetRecorder(func(x emulator.Exchange) {
		mu.Lock()
		defer mu.Unlock()
		if x.Status == http.StatusTooManyRequests {
			if x.ResponseHeader.Get("Retry-After") == "" || x.ResponseHeader.Get("Ratelimit-Reset") == "" {
				t.Errorf("a 429 without Retry-After or RateLimit-Reset: %v", x.ResponseHeader)
			}
			limited++
			return
		}
		answered++
	})
	const clients, perClient = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, clients*perClient)
	for range clients {
		c := testClient(t, srv, DefaultRetryMax, DefaultRetryWaitMax)
		for range perClient {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, _, err := c.Godo.VPCs.List(context.Background(), nil); err != nil {
					errs <- err
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("a request failed under the shared limit: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d requests answered, %d answered 429", answered, limited)
	if limited == 0 {
		t.Error("no request was answered 429: the limit was never reached, nothing was proven")
	}
	if answered != clients*perClient {
		t.Errorf("%d requests answered, want %d (one each)", answered, clients*perClient)
	}
}
