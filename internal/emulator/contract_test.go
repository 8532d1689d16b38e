package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/digitalocean/godo"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/hashicorp/go-retryablehttp"
)

// The contract tests validate every request the emulator accepts and every
// response it sends against DigitalOcean's published OpenAPI spec, kept
// outside the repository in ../shared (ATTACH_DO_OPENAPI_SPEC overrides).

const specServer = "https://api.digitalocean.com"

func specPath() string {
	if p := os.Getenv("ATTACH_DO_OPENAPI_SPEC"); p != "" {
		return p
	}
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "..", "shared", "do-openapi", "digitalocean-v2.yaml")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

var (
	specOnce   sync.Once
	specDoc    *openapi3.T
	specRouter routers.Router
	specErr    error
)

// loadSpec parses the spec once per test binary, or skips the test with the
// path it looked for when the spec is absent.
func loadSpec(t *testing.T) (*openapi3.T, routers.Router) {
	t.Helper()
	path := specPath()
	if _, err := os.Stat(path); err != nil {
		t.Skipf("DigitalOcean OpenAPI spec not found at %q (expected ../shared/do-openapi/digitalocean-v2.yaml beside the repository, or set ATTACH_DO_OPENAPI_SPEC): skipping contract validation", path)
	}
	specOnce.Do(func() {
		loader := openapi3.NewLoader()
		specDoc, specErr = loader.LoadFromFile(path)
		if specErr != nil {
			return
		}
		if specErr = specDoc.Validate(context.Background(), openapi3.DisableExamplesValidation()); specErr != nil {
			specErr = fmt.Errorf("spec does not validate: %w", specErr)
			return
		}
		if specErr = specErrata(specDoc); specErr != nil {
			return
		}
		specRouter, specErr = gorillamux.NewRouter(specDoc)
	})
	if specErr != nil {
		t.Fatalf("loading %s: %v", path, specErr)
	}
	return specDoc, specRouter
}

// specErrata corrects the spec where its schemas contradict its own text.
// tags_resource's resource_type enum omits "database", though
// tags_assign_resources and tags_unassign_resources say "`resource_type` is
// expected to be the string `droplet`, `database`, `image`, `volume` or
// `volume_snapshot`" (and godo has DatabaseResourceType).
func specErrata(doc *openapi3.T) error {
	res := doc.Components.Schemas["tags_resource"]
	if res == nil || res.Value == nil || res.Value.Properties["resources"] == nil {
		return fmt.Errorf("spec errata: schema tags_resource.resources not found")
	}
	items := res.Value.Properties["resources"].Value.Items
	if items == nil || items.Value == nil || items.Value.Properties["resource_type"] == nil {
		return fmt.Errorf("spec errata: tags_resource.resources[].resource_type not found")
	}
	typ := items.Value.Properties["resource_type"].Value
	for _, v := range typ.Enum {
		if v == "database" {
			return nil // the spec was fixed
		}
	}
	typ.Enum = append(typ.Enum, "database")
	return nil
}

// contractRecorder keeps every exchange for validation after the tour.
type contractRecorder struct {
	mu        sync.Mutex
	exchanges []Exchange
}

func (r *contractRecorder) record(ex Exchange) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.exchanges = append(r.exchanges, ex)
}

func (r *contractRecorder) all() []Exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Exchange(nil), r.exchanges...)
}

var contractOptions = &openapi3filter.Options{
	IncludeResponseStatus: true,
	MultiError:            true,
	AuthenticationFunc: func(_ context.Context, in *openapi3filter.AuthenticationInput) error {
		if !strings.HasPrefix(strings.ToLower(in.RequestValidationInput.Request.Header.Get("Authorization")), "bearer ") {
			return fmt.Errorf("no bearer token")
		}
		return nil
	},
}

// validateExchange checks one exchange against the spec. Requests the
// emulator rejected as malformed (4xx other than 404/409/422/429) are only
// checked on the response side: the point of sending them was to be wrong.
func validateExchange(router routers.Router, ex Exchange) error {
	u := specServer + ex.Path
	if ex.RawQuery != "" {
		u += "?" + ex.RawQuery
	}
	req, err := http.NewRequest(ex.Method, u, bytes.NewReader(ex.RequestBody))
	if err != nil {
		return err
	}
	req.Header = ex.RequestHeader.Clone()
	route, pathParams, err := router.FindRoute(req)
	if err != nil {
		return fmt.Errorf("%s %s is not in the spec: %v", ex.Method, ex.Path, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: pathParams, Route: route, Options: contractOptions}
	if ex.Status < 400 {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			return fmt.Errorf("request %s %s (answered %d) violates the spec: %v\nbody: %s", ex.Method, ex.Path, ex.Status, err, ex.RequestBody)
		}
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 ex.Status,
		Header:                 ex.ResponseHeader,
		Body:                   io.NopCloser(bytes.NewReader(ex.ResponseBody)),
		Options:                contractOptions,
	}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		return fmt.Errorf("response %d to %s %s violates the spec: %v\nbody: %s", ex.Status, ex.Method, ex.Path, err, truncate(ex.ResponseBody, 2000))
	}
	return nil
}

func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "..."
}

// tour runs every family's scripted tour of its endpoints through godo.
func tour(t *testing.T, c *godo.Client, srv *Server) {
	t.Run("vpcs", func(t *testing.T) { tourVPCs(t, c, srv) })
	t.Run("projects", func(t *testing.T) { tourProjects(t, c, srv) })
	t.Run("kubernetes", func(t *testing.T) { tourKubernetes(t, c, srv) })
	t.Run("databases", func(t *testing.T) { tourDatabases(t, c, srv) })
	t.Run("database-config", func(t *testing.T) { tourDatabaseConfig(t, c, srv) })
	t.Run("tags", func(t *testing.T) { tourTags(t, c, srv) })
}

func TestContractTour(t *testing.T) {
	_, router := loadSpec(t)
	srv, c := startTest(t, Config{})
	rec := &contractRecorder{}
	srv.SetRecorder(rec.record)
	tour(t, c, srv)
	srv.SetRecorder(nil)

	exchanges := rec.all()
	failures := 0
	for _, ex := range exchanges {
		if err := validateExchange(router, ex); err != nil {
			failures++
			if failures <= 25 {
				t.Error(err)
			}
		}
	}
	if failures > 0 {
		t.Fatalf("%d of %d exchanges violate the spec", failures, len(exchanges))
	}

	// Every route the emulator serves must be in the spec and must have
	// answered successfully at least once in the tour.
	succeeded := map[string]bool{}
	for _, ex := range exchanges {
		if ex.Status < 300 {
			succeeded[ex.Route] = true
		}
	}
	var missed []string
	for _, rt := range srv.routes.routes {
		if !succeeded[rt.key()] {
			missed = append(missed, rt.key())
		}
	}
	sort.Strings(missed)
	if len(missed) > 0 {
		t.Errorf("the tour never exercised these routes successfully:\n  %s", strings.Join(missed, "\n  "))
	}
	t.Logf("validated %d exchanges over %d routes", len(exchanges), len(srv.routes.routes))
	if inv := srv.Inventory(); !inv.Empty() {
		t.Errorf("the tour left objects behind:\n%s", inv)
	}
}

// TestContractUnderFaults checks that injected failures still answer in the
// spec's shape: error bodies, status codes and rate-limit headers.
func TestContractUnderFaults(t *testing.T) {
	_, router := loadSpec(t)
	srv, c := startTest(t, Config{})
	rec := &contractRecorder{}
	srv.SetRecorder(rec.record)
	for _, f := range []Fault{
		{Kind: FaultStatus, Status: 500, Count: 1},
		{Kind: FaultStatus, Status: 503, Count: 1},
		{Kind: FaultRateLimit, Count: 1},
	} {
		if _, err := srv.InjectFault(f); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.VPCs.List(ctx, nil); err == nil {
			t.Fatalf("fault %+v did not fire", f)
		}
	}
	bad := newGodo(t, srv, "wrong")
	_, _, _ = bad.VPCs.List(ctx, nil)
	_, _, _ = c.VPCs.Get(ctx, newID())
	srv.SetRecorder(nil)
	exchanges := rec.all()
	if len(exchanges) != 5 {
		t.Fatalf("recorded %d exchanges, want 5", len(exchanges))
	}
	for _, ex := range exchanges {
		if ex.Status < 400 {
			t.Errorf("%s %s answered %d under a fault", ex.Method, ex.Path, ex.Status)
		}
		if err := validateExchange(router, ex); err != nil {
			t.Error(err)
		}
	}
}

func tourVPCs(t *testing.T, c *godo.Client, _ *Server) {
	v, _, err := c.VPCs.Create(ctx, &godo.VPCCreateRequest{Name: "tour-vpc", RegionSlug: "nyc3", IPRange: "10.100.0.0/20", Description: "tour"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.VPCs.List(ctx, &godo.ListOptions{PerPage: 1}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.VPCs.Get(ctx, v.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.VPCs.Update(ctx, v.ID, &godo.VPCUpdateRequest{Name: "tour-vpc-2", Description: "renamed"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.VPCs.Set(ctx, v.ID, godo.VPCSetName("tour-vpc-3")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.VPCs.ListMembers(ctx, v.ID, &godo.VPCListMembersRequest{ResourceType: "kubernetes"}, nil); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.VPCs.Create(ctx, &godo.VPCCreateRequest{Name: "tour-bad", RegionSlug: "nyc3", IPRange: "10.100.8.0/24"})
	wantStatus(t, err, http.StatusUnprocessableEntity)
	if _, err := c.VPCs.Delete(ctx, v.ID); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.VPCs.Get(ctx, v.ID)
	wantStatus(t, err, http.StatusNotFound)
}

func tourProjects(t *testing.T, c *godo.Client, _ *Server) {
	def, _, err := c.Projects.GetDefault(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := c.Projects.Create(ctx, &godo.CreateProjectRequest{Name: "tour-project", Purpose: "tour", Environment: "Development"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Projects.List(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Projects.Get(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Projects.Update(ctx, p.ID, &godo.UpdateProjectRequest{Name: "tour-project-2", Description: "d", Purpose: "tour", Environment: "Staging", IsDefault: false}); err != nil {
		t.Fatal(err)
	}
	// godo's Update sends PATCH; PUT (every field) is sent by hand.
	req, _ := c.NewRequest(ctx, http.MethodPut, "/v2/projects/"+p.ID, map[string]any{
		"name": "tour-project-3", "description": "put", "purpose": "tour", "environment": "Production", "is_default": false,
	})
	if _, err := c.Do(ctx, req, nil); err != nil {
		t.Fatal(err)
	}
	req, _ = c.NewRequest(ctx, http.MethodPatch, "/v2/projects/"+p.ID, map[string]any{"description": "patched"})
	if _, err := c.Do(ctx, req, nil); err != nil {
		t.Fatal(err)
	}
	dbReq := dbRequest("tour-project-db", "pg")
	dbReq.Rules = []*godo.DatabaseCreateFirewallRule{{Type: "ip_addr", Value: "203.0.113.0/24"}}
	db := createVisibleDB(t, c, dbReq)
	urn := "do:dbaas:" + db.ID
	if _, _, err := c.Projects.AssignResources(ctx, p.ID, urn); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Projects.ListResources(ctx, p.ID, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Projects.AssignResources(ctx, def.ID, urn); err != nil {
		t.Fatal(err)
	}
	req, _ = c.NewRequest(ctx, http.MethodPost, "/v2/projects/default/resources", map[string]any{"resources": []string{urn}})
	if _, err := c.Do(ctx, req, nil); err != nil {
		t.Fatal(err)
	}
	req, _ = c.NewRequest(ctx, http.MethodGet, "/v2/projects/default/resources", nil)
	if _, err := c.Do(ctx, req, nil); err != nil {
		t.Fatal(err)
	}
	// VPCs are not project resources: refused, in DigitalOcean's error shape.
	v, _, err := c.VPCs.Create(ctx, &godo.VPCCreateRequest{Name: "tour-project-vpc", RegionSlug: "nyc3"})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Projects.AssignResources(ctx, p.ID, v.URN)
	wantStatus(t, err, http.StatusBadRequest)
	if _, err := c.VPCs.Delete(ctx, v.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Databases.Delete(ctx, db.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Projects.Delete(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Projects.Get(ctx, p.ID)
	wantStatus(t, err, http.StatusNotFound)
}

// TestContractValidatorCatchesViolations proves the validation can fail: an
// error body without its required id, a VPC with a non-string name, and a
// path the spec lacks are all reported.
func TestContractValidatorCatchesViolations(t *testing.T) {
	_, router := loadSpec(t)
	auth := http.Header{"Authorization": {"Bearer x"}}
	jsonHeader := http.Header{"Content-Type": {"application/json"}}
	for name, ex := range map[string]Exchange{
		"error without id": {Method: "GET", Path: "/v2/vpcs/" + newID(), RequestHeader: auth, Status: 404,
			ResponseHeader: jsonHeader, ResponseBody: []byte(`{"message":"nope"}`)},
		"vpc name not a string": {Method: "GET", Path: "/v2/vpcs/" + newID(), RequestHeader: auth, Status: 200,
			ResponseHeader: jsonHeader, ResponseBody: []byte(`{"vpc":{"name":42}}`)},
		"unknown path": {Method: "GET", Path: "/v2/teleporters", RequestHeader: auth, Status: 200,
			ResponseHeader: jsonHeader, ResponseBody: []byte(`{}`)},
	} {
		if err := validateExchange(router, ex); err == nil {
			t.Errorf("%s: violation not reported", name)
		}
	}
}

// TestContractTourUnderFaults runs the whole tour with faults on every
// route (a share of 500s, 503s and 429s, plus latency) through a client that
// retries as the provider's does, and validates every exchange, the faulted
// ones included, against the spec; faulted answers must also carry what a
// client needs to recover: DigitalOcean's error body with the request id,
// and on 429 the rate-limit headers and Retry-After.
func TestContractTourUnderFaults(t *testing.T) {
	_, router := loadSpec(t)
	// Slower than fastScale: the tour expects a deleted cluster's nodes to
	// hold its VPC for a (scaled) minute, which retries and latency must
	// not outlast.
	srv, _ := startTest(t, Config{TimeScale: 600})
	c := newRetryingGodo(t, srv)
	rec := &contractRecorder{}
	srv.SetRecorder(rec.record)
	for _, f := range []Fault{
		// About one request in four fails (0.1^11 odds that a call
		// exhausts the 10 retries); each kind fires a dozen times a tour.
		{Kind: FaultStatus, Status: http.StatusInternalServerError, Fraction: 0.08},
		{Kind: FaultStatus, Status: http.StatusServiceUnavailable, Fraction: 0.07},
		{Kind: FaultStatus, Status: http.StatusBadGateway, Fraction: 0.07},
		{Kind: FaultRateLimit, Fraction: 0.08},
		{Kind: FaultLatency, Latency: 5 * time.Millisecond, Fraction: 0.15},
	} {
		if _, err := srv.InjectFault(f); err != nil {
			t.Fatal(err)
		}
	}
	tour(t, c, srv)
	srv.ClearFaults()
	srv.SetRecorder(nil)

	exchanges := rec.all()
	failures := 0
	faulted := map[string]int{}
	faultedRoutes := map[string]bool{}
	for _, ex := range exchanges {
		err := validateExchange(router, ex)
		if err == nil && ex.Fault != "" {
			err = checkFaultAnswer(ex)
		}
		if err != nil {
			failures++
			if failures <= 25 {
				t.Error(err)
			}
		}
		if ex.Fault != "" {
			faulted[ex.Fault]++
			faultedRoutes[ex.Route] = true
		}
	}
	if failures > 0 {
		t.Fatalf("%d of %d exchanges under faults violate the spec", failures, len(exchanges))
	}
	// Each kind of fault must have fired, on many routes, or the test
	// proves little.
	for _, kind := range []string{"status 500", "status 503", "status 502", "rate_limit", "latency 5ms"} {
		if faulted[kind] == 0 {
			t.Errorf("fault %q never fired in %d exchanges", kind, len(exchanges))
		}
	}
	if len(faultedRoutes) < 10 {
		t.Errorf("faults hit only %d routes", len(faultedRoutes))
	}
	t.Logf("validated %d exchanges, faults %v on %d routes", len(exchanges), faulted, len(faultedRoutes))
	if inv := srv.Inventory(); !inv.Empty() {
		t.Errorf("the tour under faults left objects behind:\n%s", inv)
	}
}

// checkFaultAnswer checks what the spec cannot: a faulted answer carries a
// usable error body, the request id, and on 429 how long to wait.
func checkFaultAnswer(ex Exchange) error {
	if !strings.HasPrefix(ex.Fault, "status") && ex.Fault != "rate_limit" {
		return nil // latency: served normally, validated as such
	}
	where := fmt.Sprintf("%s %s under fault %q", ex.Method, ex.Path, ex.Fault)
	var body struct {
		ID, Message string
		RequestID   string `json:"request_id"`
	}
	if err := json.Unmarshal(ex.ResponseBody, &body); err != nil || body.ID == "" || body.Message == "" {
		return fmt.Errorf("%s: error body %s lacks id or message", where, truncate(ex.ResponseBody, 200))
	}
	if rid := ex.ResponseHeader.Get("X-Request-Id"); rid == "" || body.RequestID != rid {
		return fmt.Errorf("%s: request_id %q does not match X-Request-Id %q", where, body.RequestID, rid)
	}
	for _, h := range []string{"Ratelimit-Limit", "Ratelimit-Remaining", "Ratelimit-Reset"} {
		v, err := strconv.ParseInt(ex.ResponseHeader.Get(h), 10, 64)
		if err != nil || v < 0 {
			return fmt.Errorf("%s: header %s = %q, want a non-negative integer", where, h, ex.ResponseHeader.Get(h))
		}
	}
	if ex.Fault == "rate_limit" {
		if ex.Status != http.StatusTooManyRequests || body.ID != "too_many_requests" {
			return fmt.Errorf("%s: answered %d %q", where, ex.Status, body.ID)
		}
		if n, err := strconv.Atoi(ex.ResponseHeader.Get("Retry-After")); err != nil || n < 1 {
			return fmt.Errorf("%s: Retry-After %q", where, ex.ResponseHeader.Get("Retry-After"))
		}
		if ex.ResponseHeader.Get("Ratelimit-Remaining") != "0" {
			return fmt.Errorf("%s: Ratelimit-Remaining %q on a 429", where, ex.ResponseHeader.Get("Ratelimit-Remaining"))
		}
		if l, _ := strconv.Atoi(ex.ResponseHeader.Get("Ratelimit-Limit")); l < 1 {
			return fmt.Errorf("%s: Ratelimit-Limit %q on a 429", where, ex.ResponseHeader.Get("Ratelimit-Limit"))
		}
	}
	return nil
}

// newRetryingGodo is a godo client retrying 429 and 5xx as the provider's
// does (go-retryablehttp underneath), with waits shortened: the test is
// about what the emulator answers, not about waiting out Retry-After.
func newRetryingGodo(t *testing.T, srv *Server) *godo.Client {
	t.Helper()
	rc := retryablehttp.NewClient()
	rc.Logger = nil
	rc.RetryMax = 10
	rc.HTTPClient = &http.Client{Timeout: 30 * time.Second, Transport: bearer{token: srv.Token}}
	rc.Backoff = func(_, _ time.Duration, attempt int, _ *http.Response) time.Duration {
		return time.Duration(attempt+1) * time.Millisecond
	}
	c, err := godo.New(rc.StandardClient(), godo.SetBaseURL(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	c.UserAgent = "emulator-contract-faults"
	return c
}
