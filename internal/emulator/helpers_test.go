package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/digitalocean/godo"
)

// fastScale makes async transitions take milliseconds in unit tests.
const fastScale = 6000.0

// startTest runs an emulator for one test and returns it with a godo client
// (no retries, so tests see every status the emulator sends).
func startTest(t *testing.T, cfg Config) (*Server, *godo.Client) {
	t.Helper()
	if cfg.TimeScale == 0 {
		cfg.TimeScale = fastScale
	}
	if cfg.RateLimitPerMinute == 0 {
		cfg.RateLimitPerMinute = -1
		cfg.RateLimitPerHour = -1
	}
	srv, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv, newGodo(t, srv, srv.Token)
}

func newGodo(t *testing.T, srv *Server, token string) *godo.Client {
	t.Helper()
	c, err := godo.New(&http.Client{Timeout: 30 * time.Second}, godo.SetBaseURL(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	c.UserAgent = "emulator-test"
	c.HTTPClient.Transport = bearer{token: token}
	return c
}

type bearer struct{ token string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

// apiStatus returns the HTTP status of a godo error (0 if not an API error).
func apiStatus(err error) int {
	var er *godo.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode
	}
	return 0
}

// wantStatus fails the test unless err is a DigitalOcean API error with
// status code, a non-empty id and message, and a request id.
func wantStatus(t *testing.T, err error, code int) *godo.ErrorResponse {
	t.Helper()
	var er *godo.ErrorResponse
	if !errors.As(err, &er) {
		t.Fatalf("want API error %d, got %v", code, err)
	}
	if er.Response.StatusCode != code {
		t.Fatalf("want status %d, got %d: %s", code, er.Response.StatusCode, er.Message)
	}
	if er.Message == "" || er.RequestID == "" {
		t.Fatalf("error body lacks message or request_id: %+v", er)
	}
	return er
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

var ctx = context.Background()

var errDeadline = context.DeadlineExceeded

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

// handClock replaces the emulator's clock with one the test moves by hand,
// so lifecycle assertions do not race the wall clock.
type handClock struct {
	srv *Server
	now time.Time
}

func newHandClock(srv *Server) *handClock {
	clk := &handClock{srv: srv, now: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
	srv.mu.Lock()
	srv.clock = func() time.Time { return clk.now } // called with srv.mu held
	srv.mu.Unlock()
	return clk
}

// advance moves the clock by the scaled equivalent of a DigitalOcean duration.
func (clk *handClock) advance(do time.Duration) {
	clk.srv.mu.Lock()
	clk.now = clk.now.Add(clk.srv.scaled(do))
	clk.srv.mu.Unlock()
}

// rawRequest sends an authenticated request outside godo and returns the
// status and DigitalOcean's error body (godo's ErrorResponse hides the id).
func rawRequest(t *testing.T, srv *Server, method, path, body string) (int, apiError) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+srv.Token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out apiError
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func rawGet(t *testing.T, srv *Server, path string) apiError {
	t.Helper()
	_, body := rawRequest(t, srv, http.MethodGet, path, "")
	return body
}

func rawPost(t *testing.T, srv *Server, path, body string) (int, apiError) {
	t.Helper()
	return rawRequest(t, srv, http.MethodPost, path, body)
}

func rawDelete(t *testing.T, srv *Server, path string) (int, apiError) {
	t.Helper()
	return rawRequest(t, srv, http.MethodDelete, path, "")
}
