package emulator

import (
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// adminPrefix is the control API, under a path DigitalOcean does not use.
//
//	GET    /_emulator/inventory           live objects, and the databases ever open to the internet
//	GET    /_emulator/requests            request counts by route
//	GET    /_emulator/faults              active faults
//	POST   /_emulator/faults              inject a Fault (JSON)
//	DELETE /_emulator/faults[/{id}]       clear all faults, or one
//	POST   /_emulator/transitions/fail    {"kind":"database","count":1}
//	POST   /_emulator/kubernetes/clusters/{id}/workload_resources
//	                                      {"load_balancers":["web"],"volumes":["pvc-1"]}: what a workload would create
//	POST   /_emulator/reset               drop all state
const adminPrefix = "/_emulator/"

// Item is one live object in the emulator.
type Item struct {
	Kind   string `json:"kind"`
	ID     string `json:"id"`
	Name   string `json:"name,omitempty"`
	Status string `json:"status,omitempty"`
	// Parent is the id of the owning object for nested kinds (node pools,
	// database users, pools, replicas...).
	Parent string `json:"parent,omitempty"`
}

// Inventory lists the live objects the emulator holds, excluding what
// DigitalOcean itself provides to every account (the default project).
type Inventory struct {
	Items []Item `json:"items"`
}

// Empty reports whether no object exists.
func (inv Inventory) Empty() bool { return len(inv.Items) == 0 }

// Count returns the number of objects of kind.
func (inv Inventory) Count(kind string) int {
	n := 0
	for _, it := range inv.Items {
		if it.Kind == kind {
			n++
		}
	}
	return n
}

// String renders the inventory one object per line, for test failures.
func (inv Inventory) String() string {
	if inv.Empty() {
		return "(empty)"
	}
	var b strings.Builder
	for _, it := range inv.Items {
		b.WriteString(it.Kind + " " + it.ID)
		if it.Name != "" {
			b.WriteString(" name=" + it.Name)
		}
		if it.Status != "" {
			b.WriteString(" status=" + it.Status)
		}
		if it.Parent != "" {
			b.WriteString(" parent=" + it.Parent)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// requestLog counts API requests by route key, and answers by route key
// and status.
type requestLog struct {
	mu       sync.Mutex
	counts   map[string]int
	statuses map[string]int
}

func newRequestLog() *requestLog {
	return &requestLog{counts: map[string]int{}, statuses: map[string]int{}}
}

func (l *requestLog) countStatus(key string, status int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.statuses[key+" "+strconv.Itoa(status)]++
}

func (l *requestLog) count(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.counts[key]++
}

func (l *requestLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.counts = map[string]int{}
	l.statuses = map[string]int{}
}

// resetCounts zeroes the per-route counts and keeps the answers by status.
func (l *requestLog) resetCounts() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.counts = map[string]int{}
}

func (l *requestLog) snapshot() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]int, len(l.counts))
	for k, v := range l.counts {
		out[k] = v
	}
	return out
}

// RequestCounts returns how many API requests each route received, keyed
// like "GET /v2/kubernetes/clusters/{cluster_id}" (unmatched paths use the
// literal path).
func (e *Emulator) RequestCounts() map[string]int { return e.requests.snapshot() }

// StatusCounts returns how many answers of each status each route gave,
// keyed like "GET /v2/databases/{database_cluster_uuid} 404": tests use it
// to prove that a realistic behaviour was met (and survived).
func (e *Emulator) StatusCounts() map[string]int {
	e.requests.mu.Lock()
	defer e.requests.mu.Unlock()
	out := make(map[string]int, len(e.requests.statuses))
	for k, v := range e.requests.statuses {
		out[k] = v
	}
	return out
}

// ResetRequestCounts zeroes the request counts only (StatusCounts keeps
// counting until Reset).
func (e *Emulator) ResetRequestCounts() { e.requests.resetCounts() }

// TotalRequests sums RequestCounts.
func (e *Emulator) TotalRequests() int {
	n := 0
	for _, v := range e.requests.snapshot() {
		n += v
	}
	return n
}

func (e *Emulator) serveAdmin(w http.ResponseWriter, r *http.Request, body []byte) {
	path := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, adminPrefix), "/")
	switch {
	case path == "inventory" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, struct {
			Inventory
			EverOpenDatabases []string `json:"ever_open_databases"`
		}{e.Inventory(), e.EverOpenDatabases()})
	case path == "requests" && r.Method == http.MethodGet:
		counts := e.RequestCounts()
		keys := make([]string, 0, len(counts))
		for k := range counts {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		type routeCount struct {
			Route string `json:"route"`
			Count int    `json:"count"`
		}
		out := make([]routeCount, 0, len(keys))
		for _, k := range keys {
			out = append(out, routeCount{k, counts[k]})
		}
		writeJSON(w, http.StatusOK, map[string]any{"requests": out})
	case path == "requests" && r.Method == http.MethodDelete:
		e.ResetRequestCounts()
		w.WriteHeader(http.StatusNoContent)
	case path == "faults" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]any{"faults": e.Faults()})
	case path == "faults" && r.Method == http.MethodPost:
		var f Fault
		if err := json.Unmarshal(body, &f); err != nil {
			writeError(w, http.StatusBadRequest, "bad_request", "fault: "+err.Error(), "")
			return
		}
		stored, err := e.InjectFault(f)
		if err != nil {
			writeError(w, http.StatusUnprocessableEntity, "unprocessable_entity", err.Error(), "")
			return
		}
		writeJSON(w, http.StatusCreated, map[string]any{"fault": stored})
	case path == "faults" && r.Method == http.MethodDelete:
		e.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	case strings.HasPrefix(path, "faults/") && r.Method == http.MethodDelete:
		if !e.RemoveFault(strings.TrimPrefix(path, "faults/")) {
			writeError(w, http.StatusNotFound, "not_found", "no such fault", "")
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case path == "transitions/fail" && r.Method == http.MethodPost:
		var req struct {
			Kind  TransitionKind `json:"kind"`
			Count int            `json:"count"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			writeError(w, http.StatusBadRequest, "bad_request", "transition: "+err.Error(), "")
			return
		}
		if req.Count <= 0 {
			req.Count = 1
		}
		if err := e.FailNextTransitions(req.Kind, req.Count); err != nil {
			writeError(w, http.StatusUnprocessableEntity, "unprocessable_entity", err.Error(), "")
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodPost && e.serveWorkloadResourcesAdmin(w, path, body):
	case path == "reset" && r.Method == http.MethodPost:
		e.Reset()
		w.WriteHeader(http.StatusNoContent)
	default:
		writeError(w, http.StatusNotFound, "not_found", "unknown emulator control endpoint "+r.Method+" "+r.URL.Path, "")
	}
}
