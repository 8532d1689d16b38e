package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/digitalocean/godo"
)

func TestBadTokenIs401(t *testing.T) {
	srv, _ := startTest(t, Config{})
	c := newGodo(t, srv, "not-the-token")
	_, _, err := c.VPCs.List(ctx, nil)
	er := wantStatus(t, err, http.StatusUnauthorized)
	if er.Message != "Unable to authenticate you" {
		t.Fatalf("message %q", er.Message)
	}
	if er.Response.Header.Get("Ratelimit-Limit") == "" {
		t.Fatal("401 lacks rate-limit headers")
	}
}

func TestExtraTokensAreAccepted(t *testing.T) {
	srv, _ := startTest(t, Config{ExtraTokens: []string{"second"}})
	if _, _, err := newGodo(t, srv, "second").VPCs.List(ctx, nil); err != nil {
		t.Fatal(err)
	}
}

func TestUnknownRouteAndMethod(t *testing.T) {
	srv, c := startTest(t, Config{})
	req, _ := c.NewRequest(ctx, http.MethodGet, "/v2/nothing-here", nil)
	_, err := c.Do(ctx, req, nil)
	wantStatus(t, err, http.StatusNotFound)
	req, _ = c.NewRequest(ctx, http.MethodPost, "/v2/vpcs/"+newID()+"/members", nil)
	_, err = c.Do(ctx, req, nil)
	wantStatus(t, err, http.StatusMethodNotAllowed)
	if srv.RequestCounts()["GET /v2/nothing-here"] != 1 {
		t.Fatalf("unmatched path not counted: %v", srv.RequestCounts())
	}
}

func TestRateLimitPerMinute(t *testing.T) {
	// 5 requests per (scaled) minute; at scale 60 a minute lasts one second.
	srv, c := startTest(t, Config{TimeScale: 60, RateLimitPerMinute: 5, RateLimitPerHour: 1000})
	for i := range 5 {
		_, resp, err := c.VPCs.List(ctx, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if got := resp.Rate.Remaining; got != 1000-(i+1) {
			t.Fatalf("request %d: remaining %d, want %d", i, got, 1000-(i+1))
		}
		if resp.Rate.Limit != 1000 || resp.Rate.Reset.IsZero() {
			t.Fatalf("rate headers %+v", resp.Rate)
		}
	}
	_, _, err := c.VPCs.List(ctx, nil)
	er := wantStatus(t, err, http.StatusTooManyRequests)
	if body := rawGet(t, srv, "/v2/vpcs"); body.ID != "too_many_requests" {
		t.Fatalf("error id %q, want too_many_requests", body.ID)
	}
	retry, convErr := strconv.Atoi(er.Response.Header.Get("Retry-After"))
	if convErr != nil || retry < 1 || retry > 1 {
		t.Fatalf("Retry-After %q, want 1 (second)", er.Response.Header.Get("Retry-After"))
	}
	reset, _ := strconv.ParseInt(er.Response.Header.Get("Ratelimit-Reset"), 10, 64)
	if wait := time.Until(time.Unix(reset, 0)); wait <= 0 || wait > 2*time.Second {
		t.Fatalf("ratelimit-reset %d is %s away; want within the scaled minute", reset, wait)
	}
	eventually(t, "the minute window to reset", func() bool {
		_, _, err := c.VPCs.List(ctx, nil)
		return err == nil
	})
}

func TestRateLimitIsPerToken(t *testing.T) {
	srv, c := startTest(t, Config{TimeScale: 1, RateLimitPerMinute: 2, RateLimitPerHour: 100, ExtraTokens: []string{"other"}})
	for range 2 {
		if _, _, err := c.VPCs.List(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	_, _, err := c.VPCs.List(ctx, nil)
	wantStatus(t, err, http.StatusTooManyRequests)
	if _, _, err := newGodo(t, srv, "other").VPCs.List(ctx, nil); err != nil {
		t.Fatalf("another token must have its own budget: %v", err)
	}
}

func TestRateLimitPerHour(t *testing.T) {
	_, c := startTest(t, Config{TimeScale: 1, RateLimitPerMinute: 100, RateLimitPerHour: 3})
	for range 3 {
		if _, _, err := c.VPCs.List(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	_, _, err := c.VPCs.List(ctx, nil)
	er := wantStatus(t, err, http.StatusTooManyRequests)
	if er.Response.Header.Get("Ratelimit-Remaining") != "0" {
		t.Fatalf("remaining %q", er.Response.Header.Get("Ratelimit-Remaining"))
	}
	reset, _ := strconv.ParseInt(er.Response.Header.Get("Ratelimit-Reset"), 10, 64)
	if wait := time.Until(time.Unix(reset, 0)); wait < 59*time.Minute {
		t.Fatalf("hourly reset only %s away", wait)
	}
}

func TestFaultStatusForNextCalls(t *testing.T) {
	srv, c := startTest(t, Config{})
	f, err := srv.InjectFault(Fault{Method: "GET", Route: "/v2/vpcs", Kind: FaultStatus, Status: 503, Count: 2})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.VPCs.List(ctx, nil)
	wantStatus(t, err, http.StatusServiceUnavailable)
	if body := rawGet(t, srv, "/v2/vpcs"); body.ID != "service_unavailable" {
		t.Fatalf("error id %q, want service_unavailable", body.ID)
	}
	if _, _, err := c.VPCs.List(ctx, nil); err != nil {
		t.Fatalf("fault %s must be spent after 2 calls: %v", f.ID, err)
	}
	if len(srv.Faults()) != 0 {
		t.Fatalf("spent fault still listed: %+v", srv.Faults())
	}
}

func TestFaultMatchesRoutePatternOnly(t *testing.T) {
	srv, c := startTest(t, Config{})
	v, _, err := c.VPCs.Create(ctx, &godo.VPCCreateRequest{Name: "x", RegionSlug: "nyc1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.InjectFault(Fault{Route: "/v2/vpcs/{vpc_id}", Kind: FaultStatus}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.VPCs.List(ctx, nil); err != nil {
		t.Fatalf("list must not match the item route: %v", err)
	}
	_, _, err = c.VPCs.Get(ctx, v.ID)
	wantStatus(t, err, http.StatusInternalServerError)
	srv.ClearFaults()
	if _, _, err := c.VPCs.Get(ctx, v.ID); err != nil {
		t.Fatal(err)
	}
}

func TestFaultFraction(t *testing.T) {
	srv, c := startTest(t, Config{})
	if _, err := srv.InjectFault(Fault{Route: "/v2/vpcs", Kind: FaultStatus, Fraction: 0.5}); err != nil {
		t.Fatal(err)
	}
	failed := 0
	for range 200 {
		if _, _, err := c.VPCs.List(ctx, nil); err != nil {
			failed++
		}
	}
	// Binomial(200, 0.5): outside [60, 140] has probability below 1e-8.
	if failed < 60 || failed > 140 {
		t.Fatalf("%d of 200 calls failed with fraction 0.5", failed)
	}
}

func TestFaultRateLimit(t *testing.T) {
	srv, c := startTest(t, Config{})
	if _, err := srv.InjectFault(Fault{Route: "/v2/vpcs", Kind: FaultRateLimit, RetryAfter: 7, Count: 1}); err != nil {
		t.Fatal(err)
	}
	_, _, err := c.VPCs.List(ctx, nil)
	er := wantStatus(t, err, http.StatusTooManyRequests)
	if er.Response.Header.Get("Retry-After") != "7" || er.Response.Header.Get("Ratelimit-Remaining") != "0" {
		t.Fatalf("headers %v", er.Response.Header)
	}
}

func TestFaultLatency(t *testing.T) {
	srv, c := startTest(t, Config{})
	if _, err := srv.InjectFault(Fault{Route: "/v2/vpcs", Kind: FaultLatency, Latency: 300 * time.Millisecond, Count: 1}); err != nil {
		t.Fatal(err)
	}
	short, cancel := contextWithTimeout(50 * time.Millisecond)
	defer cancel()
	_, _, err := c.VPCs.List(short, nil)
	if !errors.Is(err, errDeadline) && (err == nil || !strings.Contains(err.Error(), "deadline")) {
		t.Fatalf("want a deadline error past the injected latency, got %v", err)
	}
	if _, _, err := c.VPCs.List(ctx, nil); err != nil {
		t.Fatalf("latency fault was for one call: %v", err)
	}
}

func TestFaultDropConnection(t *testing.T) {
	srv, c := startTest(t, Config{})
	if _, err := srv.InjectFault(Fault{Route: "/v2/vpcs", Kind: FaultDrop, Count: 1}); err != nil {
		t.Fatal(err)
	}
	_, _, err := c.VPCs.List(ctx, nil)
	if err == nil || apiStatus(err) != 0 {
		t.Fatalf("want a transport error (EOF), got %v", err)
	}
	if _, _, err := c.VPCs.List(ctx, nil); err != nil {
		t.Fatal(err)
	}
}

func TestFaultValidation(t *testing.T) {
	srv, _ := startTest(t, Config{})
	for _, f := range []Fault{
		{Kind: "explode"},
		{Kind: FaultStatus, Status: 200},
		{Kind: FaultLatency},
		{Kind: FaultStatus, Fraction: 2},
	} {
		if _, err := srv.InjectFault(f); err == nil {
			t.Errorf("fault %+v accepted", f)
		}
	}
	if err := srv.FailNextTransitions("volcano", 1); err == nil {
		t.Error("unknown transition kind accepted")
	}
}

func TestRequestCountsAndReset(t *testing.T) {
	srv, c := startTest(t, Config{})
	v, _, err := c.VPCs.Create(ctx, &godo.VPCCreateRequest{Name: "x", RegionSlug: "nyc1"})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, _, err := c.VPCs.Get(ctx, v.ID); err != nil {
			t.Fatal(err)
		}
	}
	counts := srv.RequestCounts()
	if counts["POST /v2/vpcs"] != 1 || counts["GET /v2/vpcs/{vpc_id}"] != 3 || srv.TotalRequests() != 4 {
		t.Fatalf("counts %v", counts)
	}
	srv.Reset()
	if !srv.Inventory().Empty() || srv.TotalRequests() != 0 {
		t.Fatalf("reset left %s / %v", srv.Inventory(), srv.RequestCounts())
	}
}

// TestControlAPI drives the /_emulator/ endpoints over HTTP, the way a user
// or a script outside Go would.
func TestControlAPI(t *testing.T) {
	srv, c := startTest(t, Config{})
	post := func(path, body string) *http.Response {
		resp, err := http.Post(srv.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := post("/_emulator/faults", `{"route":"/v2/vpcs","kind":"status","status":502,"count":1}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("inject: %d", resp.StatusCode)
	}
	_, _, err := c.VPCs.List(ctx, nil)
	wantStatus(t, err, http.StatusBadGateway)

	if resp := post("/_emulator/faults", `{"kind":"nope"}`); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("bad fault: %d", resp.StatusCode)
	}
	if resp := post("/_emulator/transitions/fail", `{"kind":"database","count":2}`); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("transition: %d", resp.StatusCode)
	}
	if _, _, err := c.VPCs.Create(ctx, &godo.VPCCreateRequest{Name: "x", RegionSlug: "nyc1"}); err != nil {
		t.Fatal(err)
	}
	var inv Inventory
	getJSON(t, srv.URL+"/_emulator/inventory", &inv)
	if inv.Count("vpc") != 1 {
		t.Fatalf("inventory %s", inv)
	}
	var reqs struct {
		Requests []struct {
			Route string
			Count int
		}
	}
	getJSON(t, srv.URL+"/_emulator/requests", &reqs)
	if len(reqs.Requests) == 0 {
		t.Fatal("no request counts")
	}
	if resp := post("/_emulator/reset", ``); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("reset: %d", resp.StatusCode)
	}
	getJSON(t, srv.URL+"/_emulator/inventory", &inv)
	if !inv.Empty() {
		t.Fatalf("after reset: %s", inv)
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v: %s", url, err, b)
	}
}

func TestBadJSONIs400(t *testing.T) {
	srv, _ := startTest(t, Config{})
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v2/vpcs", bytes.NewReader([]byte("{not json")))
	req.Header.Set("Authorization", "Bearer "+srv.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body apiError
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != http.StatusBadRequest || body.ID != "bad_request" || body.RequestID == "" {
		t.Fatalf("got %d %+v", resp.StatusCode, body)
	}
}
