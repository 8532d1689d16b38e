package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxBodyBytes bounds request bodies; DigitalOcean rejects far smaller ones
// than this, and the bound keeps a fuzzer or a runaway client from eating memory.
const maxBodyBytes = 1 << 20

// handlerFunc serves one API operation. It runs with the emulator's mutex
// held and all due transitions applied.
type handlerFunc func(c *call)

type route struct {
	method   string
	pattern  string
	segments []string
	handler  handlerFunc
}

// key names the route the way request counts and faults refer to it, e.g.
// "GET /v2/kubernetes/clusters/{cluster_id}".
func (rt *route) key() string { return rt.method + " " + rt.pattern }

// router matches DigitalOcean-style paths with {param} segments.
type router struct {
	routes []*route
}

func newRouter() *router { return &router{} }

func (r *router) handle(method, pattern string, h handlerFunc) {
	r.routes = append(r.routes, &route{
		method:   method,
		pattern:  pattern,
		segments: splitPath(pattern),
		handler:  h,
	})
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// match finds the route for method and path. When the path matches a route
// under another method only, pathMatched is true (the caller answers 405).
func (r *router) match(method, path string) (rt *route, params map[string]string, pathMatched bool) {
	segs := splitPath(path)
	for _, candidate := range r.routes {
		p, ok := matchSegments(candidate.segments, segs)
		if !ok {
			continue
		}
		if candidate.method == method {
			return candidate, p, true
		}
		pathMatched = true
	}
	return nil, nil, pathMatched
}

func matchSegments(pattern, segs []string) (map[string]string, bool) {
	if len(pattern) != len(segs) {
		return nil, false
	}
	var params map[string]string
	for i, p := range pattern {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			if segs[i] == "" {
				return nil, false
			}
			if params == nil {
				params = map[string]string{}
			}
			params[p[1:len(p)-1]] = segs[i]
			continue
		}
		if p != segs[i] {
			return nil, false
		}
	}
	return params, true
}

// call is one API request in flight.
type call struct {
	e         *Emulator
	w         http.ResponseWriter
	r         *http.Request
	body      []byte
	params    map[string]string
	now       time.Time
	requestID string
	token     string
}

func (c *call) param(name string) string { return c.params[name] }

func (c *call) query(name string) string { return c.r.URL.Query().Get(name) }

// decode parses the JSON body into v. On failure it answers 400 as
// DigitalOcean does and returns false. Field names match case-insensitively
// (encoding/json's rule), which godo relies on: some godo structs, such as
// node pool taints, carry no JSON tags and send "Key"/"Value"/"Effect".
func (c *call) decode(v any) bool {
	if len(bytes.TrimSpace(c.body)) == 0 {
		c.fail(http.StatusBadRequest, "bad_request", "The request body is empty; a JSON object is required.")
		return false
	}
	if err := json.Unmarshal(c.body, v); err != nil {
		c.fail(http.StatusBadRequest, "bad_request", "The request body is not valid JSON: "+err.Error())
		return false
	}
	return true
}

// respond writes v as JSON with status.
func (c *call) respond(status int, v any) {
	writeJSON(c.w, status, v)
}

// noContent answers 204.
func (c *call) noContent() { c.w.WriteHeader(http.StatusNoContent) }

// fail writes a DigitalOcean error body.
func (c *call) fail(status int, id, message string) {
	writeError(c.w, status, id, message, c.requestID)
}

func (c *call) notFound() {
	c.fail(http.StatusNotFound, "not_found", "The resource you were accessing could not be found.")
}

func (c *call) unprocessable(format string, args ...any) {
	c.fail(http.StatusUnprocessableEntity, "unprocessable_entity", fmt.Sprintf(format, args...))
}

func (c *call) conflict(format string, args ...any) {
	c.fail(http.StatusConflict, "conflict", fmt.Sprintf(format, args...))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"id":"server_error","message":"encoding response failed"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// apiError is DigitalOcean's error body.
type apiError struct {
	ID        string `json:"id"`
	Message   string `json:"message"`
	RequestID string `json:"request_id,omitempty"`
}

func writeError(w http.ResponseWriter, status int, id, message, requestID string) {
	writeJSON(w, status, apiError{ID: id, Message: message, RequestID: requestID})
}

// listOptions reads DigitalOcean's page/per_page query (per_page defaults to
// 20 and is capped at 200, as the API does).
func (c *call) listOptions() (page, perPage int, ok bool) {
	page, perPage = 1, 20
	if v := c.query("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			c.fail(http.StatusBadRequest, "bad_request", "page must be a positive integer")
			return 0, 0, false
		}
		page = n
	}
	if v := c.query("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			c.fail(http.StatusBadRequest, "bad_request", "per_page must be a positive integer")
			return 0, 0, false
		}
		perPage = min(n, 200)
	}
	return page, perPage, true
}

// pageLinks is DigitalOcean's "links" object, which godo reads to page.
type pageLinks struct {
	Pages *pageURLs `json:"pages,omitempty"`
}

type pageURLs struct {
	First string `json:"first,omitempty"`
	Prev  string `json:"prev,omitempty"`
	Next  string `json:"next,omitempty"`
	Last  string `json:"last,omitempty"`
}

type listMeta struct {
	Total int `json:"total"`
}

// respondList answers a list request with one page of items under key, plus
// links and meta exactly as godo's pagination expects.
func respondList[T any](c *call, key string, items []T) {
	page, perPage, ok := c.listOptions()
	if !ok {
		return
	}
	total := len(items)
	start := min((page-1)*perPage, total)
	end := min(start+perPage, total)
	pageItems := items[start:end]
	if pageItems == nil {
		pageItems = []T{}
	}
	lastPage := max((total+perPage-1)/perPage, 1)
	links := pageLinks{}
	if lastPage > 1 {
		urls := &pageURLs{}
		if page > 1 {
			urls.First = c.pageURL(1, perPage)
			urls.Prev = c.pageURL(page-1, perPage)
		}
		if page < lastPage {
			urls.Next = c.pageURL(page+1, perPage)
			urls.Last = c.pageURL(lastPage, perPage)
		}
		links.Pages = urls
	}
	c.respond(http.StatusOK, map[string]any{
		key:     pageItems,
		"links": links,
		"meta":  listMeta{Total: total},
	})
}

func (c *call) pageURL(page, perPage int) string {
	q := c.r.URL.Query()
	q.Set("page", strconv.Itoa(page))
	q.Set("per_page", strconv.Itoa(perPage))
	u := url.URL{Scheme: "http", Host: c.r.Host, Path: c.r.URL.Path, RawQuery: q.Encode()}
	return u.String()
}

// captureWriter records what a handler wrote, for request logs and the
// contract tests' recorder.
type captureWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (w *captureWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *captureWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.body.Write(b)
	return w.ResponseWriter.Write(b)
}

// Exchange is one request and its response, as seen by the emulator.
type Exchange struct {
	Method         string
	Path           string
	RawQuery       string
	Route          string // e.g. "GET /v2/vpcs/{vpc_id}"; empty when no route matched
	RequestHeader  http.Header
	RequestBody    []byte
	Status         int
	ResponseHeader http.Header
	ResponseBody   []byte
	Fault          string // the injected fault, if any
}

// ServeHTTP serves the API and the /_emulator/ control API.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "reading request body: "+err.Error(), "")
		return
	}
	if len(body) > maxBodyBytes {
		writeError(w, http.StatusRequestEntityTooLarge, "request_too_large", "The request body is too large.", "")
		return
	}
	if strings.HasPrefix(r.URL.Path, adminPrefix) {
		e.serveAdmin(w, r, body)
		return
	}

	rt, params, pathMatched := e.routes.match(r.Method, r.URL.Path)
	routeKey := r.Method + " " + r.URL.Path
	if rt != nil {
		routeKey = rt.key()
	}
	cw := &captureWriter{ResponseWriter: w}
	c := &call{e: e, w: cw, r: r, body: body, params: params, requestID: newID()}
	cw.Header().Set("X-Request-Id", c.requestID)
	// Clients that poll may pace themselves in API time: a wait of "10 s"
	// is 10 s on DigitalOcean and 10 s / scale here.
	cw.Header().Set(TimeScaleHeader, strconv.FormatFloat(e.cfg.TimeScale, 'g', -1, 64))

	start := time.Now()
	faultName := e.serveAPI(c, rt, routeKey, pathMatched)
	if faultName == faultDropped {
		return
	}
	e.requests.countStatus(routeKey, cw.status)

	if e.cfg.Logf != nil {
		e.cfg.Logf("%s %s -> %d (%s)%s", r.Method, r.URL.RequestURI(), cw.status, time.Since(start).Round(time.Microsecond), faultSuffix(faultName))
	}
	e.mu.Lock()
	rec := e.recorder
	e.mu.Unlock()
	if rec != nil {
		route := ""
		if rt != nil {
			route = rt.key()
		}
		rec(Exchange{
			Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Route: route,
			RequestHeader: r.Header.Clone(), RequestBody: body,
			Status: cw.status, ResponseHeader: cw.Header().Clone(), ResponseBody: cw.body.Bytes(),
			Fault: faultName,
		})
	}
}

func faultSuffix(name string) string {
	if name == "" {
		return ""
	}
	return " [fault: " + name + "]"
}

// serveAPI runs the pipeline: count, faults, auth, rate limit, handler. It
// returns the name of the fault applied, if any (a latency fault delays the
// request and is named too, though the request is then served).
func (e *Emulator) serveAPI(c *call, rt *route, routeKey string, pathMatched bool) string {
	e.requests.count(routeKey)

	fault := ""
	if f := e.faults.take(c.r.Method, routeKey, c.r.URL.Path); f != nil {
		if done := e.applyFault(c, f); done {
			return f.describe()
		}
		fault = f.describe()
	}
	e.serve(c, rt, pathMatched)
	return fault
}

// serve is the rest of the pipeline: auth, rate limit, handler.
func (e *Emulator) serve(c *call, rt *route, pathMatched bool) {
	token, ok := bearerToken(c.r)
	if !ok || !e.tokens[token] {
		e.limiter.setHeaders(c.w.Header(), "", time.Now())
		c.fail(http.StatusUnauthorized, "unauthorized", "Unable to authenticate you")
		return
	}
	c.token = token
	if !e.limiter.allow(c.w.Header(), token, time.Now()) {
		c.fail(http.StatusTooManyRequests, "too_many_requests", "API Rate limit exceeded.")
		return
	}

	if rt == nil {
		if pathMatched {
			c.fail(http.StatusMethodNotAllowed, "method_not_allowed", "The method "+c.r.Method+" is not allowed on "+c.r.URL.Path+".")
			return
		}
		c.notFound()
		return
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	c.now = e.advanceLocked()
	rt.handler(c)
}

func bearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	const prefix = "bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", false
	}
	return strings.TrimSpace(h[len(prefix):]), true
}

// errNotFound is returned by store lookups; handlers turn it into 404.
var errNotFound = errors.New("not found")
