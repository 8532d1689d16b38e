package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// FuzzServeHTTP sends arbitrary requests (method, path and query, body,
// credentials, content type) through the emulator's decoding and routing,
// against a world that holds one of everything (VPC, cluster, node pool,
// databases with a user, db, pool and replica, project, tag), and checks:
//   - the emulator never panics;
//   - every answer has a status from the set DigitalOcean uses, and a body
//     that is JSON: a DigitalOcean error object (id, message, request_id on
//     API routes) for errors, a JSON object for successes;
//   - whatever the request did, the world stays consistent: after every
//     pending transition runs, every list and every fixture still renders,
//     and the inventory is well formed.
//
// Path and body may name the fixtures with the route placeholders
// ({vpc_id}, {cluster_id}, {database_cluster_uuid}...), so inputs reach
// the handlers behind the ids, not only the 404s.
func FuzzServeHTTP(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s.method, s.target, []byte(s.body), uint8(0), "application/json")
	}
	// Malformed and hostile shapes.
	f.Add("POST", "/v2/databases", []byte(`{"name":`), uint8(0), "application/json")
	f.Add("POST", "/v2/databases", []byte(`[]`), uint8(0), "application/json")
	f.Add("POST", "/v2/kubernetes/clusters", []byte(`{"node_pools":[null,{}]}`), uint8(0), "")
	f.Add("PUT", "/v2/databases/{database_cluster_uuid}/firewall", []byte(`{"rules":[{"type":"k8s","value":null}]}`), uint8(0), "")
	f.Add("GET", "/v2/vpcs?page=-1&per_page=0", []byte(nil), uint8(0), "")
	f.Add("GET", "/v2/vpcs?page=99999999999999999999", []byte(nil), uint8(0), "")
	f.Add("GET", "/v2/vpcs", []byte(nil), uint8(1), "")
	f.Add("DELETE", "/v2/vpcs/{vpc_id}", []byte(nil), uint8(2), "")
	f.Add("BREW", "/v2/vpcs", []byte(nil), uint8(0), "")
	f.Add("GET", "//v2///vpcs/", []byte(nil), uint8(0), "")
	f.Add("POST", "/_emulator/faults", []byte(`{"kind":"latency","latency":-1}`), uint8(0), "")
	f.Add("POST", "/_emulator/transitions/fail", []byte(`{"kind":"database","count":1000000}`), uint8(0), "")
	f.Add("POST", "/_emulator/reset", []byte(nil), uint8(0), "")

	f.Fuzz(func(t *testing.T, method, target string, body []byte, auth uint8, contentType string) {
		w := newFuzzWorld(t)
		req, ok := w.request(method, target, body, auth, contentType)
		if !ok {
			return // not a request net/http would ever hand to a handler
		}
		rec := w.serve(t, req)
		checkFuzzResponse(t, req, rec)

		// Faults the input may have injected through the control API would
		// hit the checks below; what they do is tested elsewhere.
		w.e.ClearFaults()
		w.checkConsistent(t)
	})
}

type fuzzSeed struct{ method, target, body string }

// fuzzSeeds are realistic requests: one per route, with the bodies godo
// sends, plus the control API.
func fuzzSeeds() []fuzzSeed {
	seeds := []fuzzSeed{
		{"POST", "/v2/vpcs", `{"name":"seed-vpc","region":"nyc3","ip_range":"10.130.0.0/20","description":"d"}`},
		{"PUT", "/v2/vpcs/{vpc_id}", `{"name":"renamed","description":"x","default":false}`},
		{"PATCH", "/v2/vpcs/{vpc_id}", `{"name":"patched"}`},
		{"POST", "/v2/kubernetes/clusters", `{"name":"seed","region":"tor1","version":"latest","vpc_uuid":"{vpc_id}","ha":true,` +
			`"maintenance_policy":{"start_time":"04:00","day":"sunday"},"node_pools":[{"name":"gpu","size":"gpu-h100x1-80gb","count":1,` +
			`"auto_scale":true,"min_nodes":0,"max_nodes":2,"taints":[{"key":"nvidia.com/gpu","effect":"NoSchedule"}]}]}`},
		{"PUT", "/v2/kubernetes/clusters/{cluster_id}", `{"name":"renamed","tags":["a"],"auto_upgrade":true,"surge_upgrade":true,"maintenance_policy":{"start_time":"3:00","day":"any"}}`},
		{"POST", "/v2/kubernetes/clusters/{cluster_id}/node_pools", `{"name":"more","size":"s-2vcpu-4gb","count":2,"labels":{"a":"b"},"Taints":[{"Key":"k","Value":"v","Effect":"NoExecute"}]}`},
		{"PUT", "/v2/kubernetes/clusters/{cluster_id}/node_pools/{node_pool_id}", `{"name":"system","count":3,"auto_scale":false}`},
		{"POST", "/v2/kubernetes/clusters/{cluster_id}/upgrade", `{"version":"1.33.1-do.0"}`},
		{"DELETE", "/v2/kubernetes/clusters/{cluster_id}/destroy_with_associated_resources/selective", `{"volumes":[],"volume_snapshots":[],"load_balancers":[]}`},
		{"POST", "/v2/databases", `{"name":"seed-pg","engine":"pg","version":"17","region":"tor1","size":"db-s-1vcpu-1gb","num_nodes":1,` +
			`"private_network_uuid":"{vpc_id}","tags":["x"],"rules":[{"type":"ip_addr","value":"203.0.113.1"}]}`},
		{"PUT", "/v2/databases/{database_cluster_uuid}/resize", `{"size":"db-s-4vcpu-8gb","num_nodes":3,"storage_size_mib":61440}`},
		{"PUT", "/v2/databases/{database_cluster_uuid}/maintenance", `{"day":"monday","hour":"05:00"}`},
		{"PUT", "/v2/databases/{database_cluster_uuid}/firewall", `{"rules":[{"type":"k8s","value":"{cluster_id}"},{"type":"ip_addr","value":"10.0.0.0/8"}]}`},
		{"POST", "/v2/databases/{database_cluster_uuid}/users", `{"name":"svc","mysql_settings":{"auth_plugin":"caching_sha2_password"}}`},
		{"PUT", "/v2/databases/{database_cluster_uuid}/users/{username}", `{"settings":{"pg_allow_replication":true}}`},
		{"POST", "/v2/databases/{database_cluster_uuid}/users/{username}/reset_auth", `{"mysql_settings":{"auth_plugin":"mysql_native_password"}}`},
		{"POST", "/v2/databases/{database_cluster_uuid}/dbs", `{"name":"more"}`},
		{"POST", "/v2/databases/{database_cluster_uuid}/pools", `{"name":"more","mode":"session","size":3,"db":"app","user":"app"}`},
		{"PUT", "/v2/databases/{database_cluster_uuid}/pools/{pool_name}", `{"mode":"statement","size":7,"db":"defaultdb","user":"doadmin"}`},
		{"POST", "/v2/databases/{database_cluster_uuid}/replicas", `{"name":"seed-replica","region":"nyc3","size":"db-s-2vcpu-4gb","tags":["x"]}`},
		{"PUT", "/v2/databases/{database_cluster_uuid}/replicas/{replica_name}/promote", ``},
		{"PUT", "/v2/databases/{valkey_uuid}/eviction_policy", `{"eviction_policy":"allkeys_lru"}`},
		{"POST", "/v2/projects", `{"name":"seed","purpose":"p","environment":"Development","description":"d"}`},
		{"PUT", "/v2/projects/{project_id}", `{"name":"n","description":"d","purpose":"p","environment":"Staging","is_default":false}`},
		{"PATCH", "/v2/projects/{project_id}", `{"is_default":true}`},
		{"POST", "/v2/projects/{project_id}/resources", `{"resources":["do:kubernetes:{cluster_id}","do:dbaas:{database_cluster_uuid}"]}`},
		{"POST", "/v2/projects/{project_id}/resources", `{"resources":["do:vpc:{vpc_id}"]}`},
		{"POST", "/v2/projects/default/resources", `{"resources":["do:kubernetes:{cluster_id}"]}`},
		{"POST", "/v2/tags", `{"name":"seed:tag"}`},
		{"POST", "/v2/tags/{tag_id}/resources", `{"resources":[{"resource_id":"{valkey_uuid}","resource_type":"database"}]}`},
		{"DELETE", "/v2/tags/{tag_id}/resources", `{"resources":[{"resource_id":"{database_cluster_uuid}","resource_type":"database"}]}`},
		{"POST", "/_emulator/faults", `{"kind":"status","status":503,"count":1}`},
		{"DELETE", "/_emulator/faults", ``},
		{"GET", "/_emulator/inventory", ``},
		{"GET", "/_emulator/requests", ``},
	}
	// Every route once with its placeholders, without a body: reads, and
	// writes whose missing body must be a 400, not a crash.
	for _, rt := range New(Config{}).routes.routes {
		seeds = append(seeds, fuzzSeed{rt.method, rt.pattern, ""})
	}
	return seeds
}

// fuzzWorld is a fresh emulator on a manual clock, holding one of
// everything; ids maps each route placeholder to the fixture's value.
type fuzzWorld struct {
	e     *Emulator
	clock time.Time
	mu    sync.Mutex
	ids   map[string]string
}

func newFuzzWorld(t *testing.T) *fuzzWorld {
	t.Helper()
	w := &fuzzWorld{
		e:     New(Config{TimeScale: 1, RateLimitPerMinute: -1, RateLimitPerHour: -1}),
		clock: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		ids:   map[string]string{},
	}
	w.e.clock = w.now
	setup := func(method, path, body string, out func(map[string]any)) {
		t.Helper()
		r := httptest.NewRequest(method, w.expand(path), strings.NewReader(w.expand(body)))
		r.Header.Set("Authorization", "Bearer "+w.e.cfg.Token)
		r.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		w.e.ServeHTTP(rec, r)
		if rec.Code >= 300 {
			t.Fatalf("fixture %s %s: %d %s", method, path, rec.Code, rec.Body)
		}
		if out != nil {
			var v map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
				t.Fatalf("fixture %s %s: %v", method, path, err)
			}
			out(v)
		}
	}
	field := func(key string, obj, name string) func(map[string]any) {
		return func(v map[string]any) {
			o, _ := v[obj].(map[string]any)
			w.ids[key], _ = o[name].(string)
		}
	}
	setup("POST", "/v2/vpcs", `{"name":"fz-vpc","region":"tor1","ip_range":"10.120.0.0/20"}`, field("{vpc_id}", "vpc", "id"))
	setup("POST", "/v2/kubernetes/clusters", `{"name":"fz","region":"tor1","version":"latest","vpc_uuid":"{vpc_id}",`+
		`"node_pools":[{"name":"system","size":"s-2vcpu-4gb","count":1}]}`, func(v map[string]any) {
		cl, _ := v["kubernetes_cluster"].(map[string]any)
		w.ids["{cluster_id}"], _ = cl["id"].(string)
		pools, _ := cl["node_pools"].([]any)
		if len(pools) > 0 {
			p, _ := pools[0].(map[string]any)
			w.ids["{node_pool_id}"], _ = p["id"].(string)
		}
	})
	setup("POST", "/v2/databases", `{"name":"fz-pg","engine":"pg","version":"17","region":"tor1","size":"db-s-2vcpu-4gb","num_nodes":2,"private_network_uuid":"{vpc_id}"}`,
		field("{database_cluster_uuid}", "database", "id"))
	setup("POST", "/v2/databases", `{"name":"fz-kv","engine":"valkey","version":"8","region":"tor1","size":"db-s-1vcpu-2gb","num_nodes":1,"private_network_uuid":"{vpc_id}"}`,
		field("{valkey_uuid}", "database", "id"))
	setup("POST", "/v2/projects", `{"name":"fz","purpose":"fuzzing","environment":"Development"}`, field("{project_id}", "project", "id"))
	w.advance(2 * time.Hour)
	setup("POST", "/v2/databases/{database_cluster_uuid}/users", `{"name":"app"}`, nil)
	setup("POST", "/v2/databases/{database_cluster_uuid}/dbs", `{"name":"app"}`, nil)
	setup("POST", "/v2/databases/{database_cluster_uuid}/pools", `{"name":"app","mode":"transaction","size":5,"db":"app","user":"app"}`, nil)
	setup("POST", "/v2/databases/{database_cluster_uuid}/replicas", `{"name":"fz-pg-dr","region":"tor1","size":"db-s-2vcpu-4gb"}`, nil)
	setup("GET", "/v2/kubernetes/clusters/{cluster_id}/node_pools/{node_pool_id}", ``, func(v map[string]any) {
		p, _ := v["node_pool"].(map[string]any)
		nodes, _ := p["nodes"].([]any)
		if len(nodes) > 0 {
			n, _ := nodes[0].(map[string]any)
			w.ids["{node_id}"], _ = n["id"].(string)
		}
	})
	setup("POST", "/v2/tags", `{"name":"fz:tag"}`, field("{tag_id}", "tag", "name"))
	setup("POST", "/v2/tags/{tag_id}/resources", `{"resources":[{"resource_id":"{database_cluster_uuid}","resource_type":"database"}]}`, nil)
	w.ids["{username}"], w.ids["{database_name}"], w.ids["{pool_name}"], w.ids["{replica_name}"] = "app", "app", "app", "fz-pg-dr"
	w.advance(2 * time.Hour)
	for k, v := range w.ids {
		if v == "" {
			t.Fatalf("fixture %s has no id", k)
		}
	}
	w.e.ResetRequestCounts()
	return w
}

func (w *fuzzWorld) now() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.clock
}

func (w *fuzzWorld) advance(d time.Duration) {
	w.mu.Lock()
	w.clock = w.clock.Add(d)
	w.mu.Unlock()
}

func (w *fuzzWorld) expand(s string) string {
	for k, v := range w.ids {
		s = strings.ReplaceAll(s, k, v)
	}
	return s
}

// request builds the fuzzed request, or reports false when net/http would
// never deliver it (an invalid method or request target).
func (w *fuzzWorld) request(method, target string, body []byte, auth uint8, contentType string) (*http.Request, bool) {
	if method == "" || strings.IndexFunc(method, func(r rune) bool { return r <= ' ' || r >= 0x7f || strings.ContainsRune(`()<>@,;:\"/[]?={}`, r) }) >= 0 {
		return nil, false
	}
	target = w.expand(target)
	u, err := url.ParseRequestURI(target)
	if err != nil || !strings.HasPrefix(target, "/") {
		return nil, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	_ = cancel // released when the deadline passes; the request outlives this function
	r := (&http.Request{
		Method: method, URL: u, RequestURI: target, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{}, Host: "api.digitalocean.test",
		Body: io.NopCloser(bytes.NewReader([]byte(w.expand(string(body))))), ContentLength: int64(len(body)),
	}).WithContext(ctx)
	switch auth % 4 {
	case 0:
		r.Header.Set("Authorization", "Bearer "+w.e.cfg.Token)
	case 1: // none
	case 2:
		r.Header.Set("Authorization", "Bearer wrong-"+w.e.cfg.Token)
	case 3:
		r.Header.Set("Authorization", contentType)
	}
	if contentType != "" && validHeaderValue(contentType) {
		r.Header.Set("Content-Type", contentType)
	}
	return r, true
}

func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// serve runs one request, turning a panic into a test failure (an aborted
// response, http.ErrAbortHandler, is how a drop fault answers in-process).
func (w *fuzzWorld) serve(t *testing.T, r *http.Request) (rec *httptest.ResponseRecorder) {
	t.Helper()
	rec = httptest.NewRecorder()
	defer func() {
		if p := recover(); p != nil {
			if err, ok := p.(error); ok && errors.Is(err, http.ErrAbortHandler) && len(w.e.Faults()) > 0 {
				return
			}
			t.Fatalf("%s %s panicked: %v", r.Method, r.URL, p)
		}
	}()
	w.e.ServeHTTP(rec, r)
	return rec
}

// fuzzStatuses are the statuses DigitalOcean's API (and the emulator's
// control API) answer with; anything else, a 5xx above all, is a bug.
var fuzzStatuses = map[int]bool{
	200: true, 201: true, 202: true, 204: true,
	400: true, 401: true, 403: true, 404: true, 405: true, 409: true, 412: true, 413: true, 422: true, 429: true,
}

func checkFuzzResponse(t *testing.T, r *http.Request, rec *httptest.ResponseRecorder) {
	t.Helper()
	what := fmt.Sprintf("%s %s", r.Method, r.URL)
	if !fuzzStatuses[rec.Code] {
		t.Fatalf("%s answered %d: %s", what, rec.Code, truncate(rec.Body.Bytes(), 500))
	}
	admin := strings.HasPrefix(r.URL.Path, adminPrefix)
	if !admin && rec.Header().Get("X-Request-Id") == "" && rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("%s: no X-Request-Id", what)
	}
	if rec.Code == http.StatusNoContent {
		if rec.Body.Len() != 0 {
			t.Errorf("%s: 204 with a body: %s", what, truncate(rec.Body.Bytes(), 200))
		}
		return
	}
	if rec.Code == http.StatusAccepted && rec.Body.Len() == 0 {
		return // the spec's "accepted" response has no content (resize, upgrade, node delete)
	}
	ct := rec.Header().Get("Content-Type")
	if rec.Code == http.StatusOK && ct == "application/yaml" && strings.HasSuffix(r.URL.Path, "/kubeconfig") {
		if !bytes.HasPrefix(rec.Body.Bytes(), []byte("apiVersion: v1\n")) {
			t.Fatalf("%s: kubeconfig is not a kubeconfig: %s", what, truncate(rec.Body.Bytes(), 200))
		}
		return // DigitalOcean answers the kubeconfig in YAML
	}
	if !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s answered %d with Content-Type %q: %s", what, rec.Code, ct, truncate(rec.Body.Bytes(), 200))
	}
	var v map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("%s answered %d with a body that is not a JSON object (%v): %s", what, rec.Code, err, truncate(rec.Body.Bytes(), 200))
	}
	if rec.Code < 400 {
		return
	}
	id, _ := v["id"].(string)
	msg, _ := v["message"].(string)
	if id == "" || msg == "" {
		t.Fatalf("%s answered %d without DigitalOcean's error body (id, message): %s", what, rec.Code, truncate(rec.Body.Bytes(), 300))
	}
	if reqID, _ := v["request_id"].(string); !admin && rec.Code != http.StatusRequestEntityTooLarge && reqID != rec.Header().Get("X-Request-Id") {
		t.Errorf("%s: error body request_id %q differs from X-Request-Id %q", what, reqID, rec.Header().Get("X-Request-Id"))
	}
}

// checkConsistent lets every pending transition run, then reads the whole
// world back through the API and the inventory.
func (w *fuzzWorld) checkConsistent(t *testing.T) {
	t.Helper()
	w.advance(3 * time.Hour)
	get := func(path string, allow404 bool) {
		t.Helper()
		r := httptest.NewRequest(http.MethodGet, w.expand(path), nil)
		r.Header.Set("Authorization", "Bearer "+w.e.cfg.Token)
		rec := httptest.NewRecorder()
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("reading %s after the fuzzed request panicked: %v", path, p)
				}
			}()
			w.e.ServeHTTP(rec, r)
		}()
		if rec.Code == http.StatusNotFound && allow404 {
			return
		}
		if rec.Code != http.StatusOK || !strings.HasSuffix(path, "/kubeconfig") && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("reading %s after the fuzzed request: %d %s", path, rec.Code, truncate(rec.Body.Bytes(), 300))
		}
	}
	for _, p := range []string{"/v2/vpcs?per_page=200", "/v2/kubernetes/clusters?per_page=200", "/v2/databases?per_page=200",
		"/v2/projects?per_page=200", "/v2/projects/default", "/v2/projects/default/resources?per_page=200", "/v2/tags?per_page=200"} {
		get(p, false)
	}
	for _, p := range []string{"/v2/vpcs/{vpc_id}", "/v2/vpcs/{vpc_id}/members", "/v2/kubernetes/clusters/{cluster_id}",
		"/v2/kubernetes/clusters/{cluster_id}/node_pools", "/v2/kubernetes/clusters/{cluster_id}/kubeconfig",
		"/v2/databases/{database_cluster_uuid}", "/v2/databases/{database_cluster_uuid}/users", "/v2/databases/{database_cluster_uuid}/pools",
		"/v2/databases/{database_cluster_uuid}/replicas", "/v2/databases/{database_cluster_uuid}/firewall", "/v2/databases/{database_cluster_uuid}/dbs",
		"/v2/databases/{valkey_uuid}/eviction_policy", "/v2/projects/{project_id}/resources", "/v2/tags/{tag_id}"} {
		get(p, true)
	}
	inv := w.e.Inventory()
	seen := map[string]bool{}
	for _, it := range inv.Items {
		if it.Kind == "" || it.ID == "" {
			t.Fatalf("inventory item without kind or id: %+v", it)
		}
		key := it.Kind + " " + it.ID
		if it.Parent != "" {
			key += " " + it.Parent
		}
		if seen[key] {
			t.Fatalf("inventory lists %s twice:\n%s", key, inv)
		}
		seen[key] = true
	}
}
