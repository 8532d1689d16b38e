package emulator

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
)

// FaultKind is what an injected fault does to a matching request.
type FaultKind string

const (
	// FaultStatus answers with Status (default 500) and a DigitalOcean error body.
	FaultStatus FaultKind = "status"
	// FaultRateLimit answers 429 with rate-limit headers and Retry-After.
	FaultRateLimit FaultKind = "rate_limit"
	// FaultLatency delays the request by Latency, then serves it normally.
	FaultLatency FaultKind = "latency"
	// FaultDrop closes the connection without answering.
	FaultDrop FaultKind = "drop"
)

const faultDropped = "drop"

// Fault describes an injected failure. A fault matches requests by Method
// (empty: any) and Route, which is either a route key's pattern as in
// RequestCounts ("/v2/kubernetes/clusters/{cluster_id}") or a literal path
// prefix ("/v2/databases"); empty matches every API request.
type Fault struct {
	ID     string    `json:"id,omitempty"`
	Method string    `json:"method,omitempty"`
	Route  string    `json:"route,omitempty"`
	Kind   FaultKind `json:"kind"`
	// Status for FaultStatus; default 500.
	Status int `json:"status,omitempty"`
	// Latency for FaultLatency.
	Latency time.Duration `json:"latency,omitempty"`
	// RetryAfter for FaultRateLimit, in seconds (default 1).
	RetryAfter int `json:"retry_after,omitempty"`
	// Count limits the fault to the next Count matching calls; 0 means
	// unlimited (until cleared).
	Count int `json:"count,omitempty"`
	// Fraction, when in (0,1), applies the fault to that share of matching
	// calls at random; 0 means every matching call.
	Fraction float64 `json:"fraction,omitempty"`
	// Applied counts how many calls the fault has hit so far.
	Applied int `json:"applied"`
}

func (f *Fault) matches(method, routeKey, path string) bool {
	if f.Method != "" && !strings.EqualFold(f.Method, method) {
		return false
	}
	if f.Route == "" {
		return true
	}
	pattern := routeKey[strings.IndexByte(routeKey, ' ')+1:]
	return f.Route == pattern || strings.HasPrefix(path, f.Route)
}

func (f *Fault) describe() string {
	switch f.Kind {
	case FaultStatus:
		return fmt.Sprintf("status %d", f.Status)
	case FaultLatency:
		return "latency " + f.Latency.String()
	default:
		return string(f.Kind)
	}
}

type faultSet struct {
	mu     sync.Mutex
	nextID int
	faults []*Fault
}

func newFaultSet() *faultSet { return &faultSet{} }

func (s *faultSet) add(f Fault) (Fault, error) {
	switch f.Kind {
	case FaultStatus:
		if f.Status == 0 {
			f.Status = http.StatusInternalServerError
		}
		if f.Status < 400 || f.Status > 599 {
			return Fault{}, fmt.Errorf("fault status must be 4xx or 5xx, got %d", f.Status)
		}
	case FaultRateLimit:
		if f.RetryAfter <= 0 {
			f.RetryAfter = 1
		}
	case FaultLatency:
		if f.Latency <= 0 {
			return Fault{}, fmt.Errorf("a latency fault needs a positive latency")
		}
	case FaultDrop:
	default:
		return Fault{}, fmt.Errorf("unknown fault kind %q (want status, rate_limit, latency or drop)", f.Kind)
	}
	if f.Count < 0 || f.Fraction < 0 || f.Fraction > 1 {
		return Fault{}, fmt.Errorf("count must be >= 0 and fraction within [0,1]")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	f.ID = fmt.Sprintf("fault-%d", s.nextID)
	f.Applied = 0
	stored := f
	s.faults = append(s.faults, &stored)
	return stored, nil
}

// take returns the first fault that fires for this request, consuming one of
// its counted uses.
func (s *faultSet) take(method, routeKey, path string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if !f.matches(method, routeKey, path) {
			continue
		}
		if f.Fraction > 0 && f.Fraction < 1 && rand.Float64() >= f.Fraction {
			continue
		}
		f.Applied++
		fired := *f
		if f.Count > 0 && f.Applied >= f.Count {
			s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
		}
		return &fired
	}
	return nil
}

func (s *faultSet) list() []Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Fault, 0, len(s.faults))
	for _, f := range s.faults {
		out = append(out, *f)
	}
	return out
}

func (s *faultSet) remove(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.ID == id {
			s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			return true
		}
	}
	return false
}

func (s *faultSet) clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// applyFault acts on a fired fault. It returns true when the fault answered
// the request (or dropped it) and the normal pipeline must not run.
func (e *Emulator) applyFault(c *call, f *Fault) bool {
	switch f.Kind {
	case FaultLatency:
		select {
		case <-time.After(f.Latency):
		case <-c.r.Context().Done():
		}
		return false
	case FaultDrop:
		if hj, ok := c.w.(*captureWriter).ResponseWriter.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return true
			}
		}
		// No hijackable connection (e.g. an in-process handler): the
		// closest equivalent is aborting the response.
		panic(http.ErrAbortHandler)
	case FaultRateLimit:
		h := c.w.Header()
		reset := time.Now().Add(time.Duration(f.RetryAfter) * time.Second)
		// With the emulator's own limits off (tests), still report
		// DigitalOcean's: a negative limit is nothing the API ever sends.
		limit := e.cfg.RateLimitPerHour
		if limit <= 0 {
			limit = DORateLimitPerHour
		}
		h.Set("Ratelimit-Limit", fmt.Sprint(limit))
		h.Set("Ratelimit-Remaining", "0")
		h.Set("Ratelimit-Reset", fmt.Sprint(reset.Unix()+1))
		h.Set("Retry-After", fmt.Sprint(f.RetryAfter))
		c.fail(http.StatusTooManyRequests, "too_many_requests", "API Rate limit exceeded.")
		return true
	default:
		e.limiter.setHeaders(c.w.Header(), "", time.Now())
		id, msg := "server_error", "Server was unable to give you a response."
		switch f.Status {
		case http.StatusServiceUnavailable:
			id, msg = "service_unavailable", "The service is temporarily unavailable."
		case http.StatusBadGateway, http.StatusGatewayTimeout:
			id = "bad_gateway"
		case http.StatusTooManyRequests:
			id, msg = "too_many_requests", "API Rate limit exceeded."
		case http.StatusNotFound:
			id, msg = "not_found", "The resource you were accessing could not be found."
		case http.StatusConflict:
			id, msg = "conflict", "The request conflicts with the current state of the resource."
		case http.StatusUnprocessableEntity:
			id, msg = "unprocessable_entity", "The request could not be processed (injected fault)."
		}
		c.fail(f.Status, id, msg)
		return true
	}
}

// InjectFault adds a fault and returns it with its id.
func (e *Emulator) InjectFault(f Fault) (Fault, error) { return e.faults.add(f) }

// Faults lists the active faults.
func (e *Emulator) Faults() []Fault { return e.faults.list() }

// RemoveFault removes one fault by id.
func (e *Emulator) RemoveFault(id string) bool { return e.faults.remove(id) }

// ClearFaults removes every fault.
func (e *Emulator) ClearFaults() { e.faults.clear() }

// TransitionKind names an asynchronous lifecycle that can be made to fail.
type TransitionKind string

const (
	// TransitionCluster: a new Kubernetes cluster ends in state "error".
	TransitionCluster TransitionKind = "kubernetes_cluster"
	// TransitionNodePool: a new node pool's nodes never finish
	// provisioning. The API, whose node states have no error value, keeps
	// them "provisioning" (the cluster stays "running"); the inventory
	// shows the pool "failed". Deleting such a node with replace=1 brings a
	// healthy one.
	TransitionNodePool TransitionKind = "node_pool"
	// TransitionDatabase: a new database cluster fails to provision. The
	// inventory shows it "failed"; the API, whose status enum has no failed
	// value, keeps answering "creating" (a create that never completes, as
	// DigitalOcean's stuck creates look), and operations needing an online
	// cluster answer 409.
	TransitionDatabase TransitionKind = "database"
	// TransitionReplica: a new read replica fails the same way.
	TransitionReplica TransitionKind = "replica"
)

func validTransition(k TransitionKind) bool {
	switch k {
	case TransitionCluster, TransitionNodePool, TransitionDatabase, TransitionReplica:
		return true
	}
	return false
}

// FailNextTransitions makes the next n objects of kind that are created end
// their provisioning in a failed state instead of ready.
func (e *Emulator) FailNextTransitions(kind TransitionKind, n int) error {
	if !validTransition(kind) {
		return fmt.Errorf("unknown transition kind %q", kind)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.failures[kind] += n
	return nil
}

// takeTransitionFailure reports whether the object being created now must
// fail its transition. Callers hold e.mu.
func (e *Emulator) takeTransitionFailure(kind TransitionKind) bool {
	if e.failures[kind] > 0 {
		e.failures[kind]--
		return true
	}
	return false
}
