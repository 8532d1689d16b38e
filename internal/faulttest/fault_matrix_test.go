package faulttest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
	"github.com/attach-labs/terraform-provider-attach/internal/provider"
	"github.com/attach-labs/terraform-provider-attach/internal/stack"
)

// The fault matrix. A recording run of the quickstart-shaped stack lists
// every distinct API call (method and route) that create, update and
// destroy make; each call then gets each fault kind, alone, in a fresh
// emulator, so an API call the engine starts making is covered without
// touching this file. Every scenario checks the same invariants:
//
//  1. a fault the client can absorb (a burst of 429s, one dropped
//     connection) leaves no trace; one it cannot fails with a StepError
//     naming the step;
//  2. every object in the emulator is in the returned status (no leak);
//  3. a provisioned database with deletion protection still exists;
//  4. after the fault is gone, refresh + apply (or destroy) converges, and a
//     second apply makes no write request;
//  5. destroy leaves the emulator empty.

const (
	matrixTimeScale = 6000
	// phaseTimeout bounds every faulted phase, as Terraform's timeouts do
	// (a database whose create failed stays "creating" for ever): far above
	// what a phase takes at this time scale (three 429s cost up to 2s each:
	// the client waits until the reset time), far below the injected latency.
	phaseTimeout   = 10 * time.Second
	injectedLag    = time.Minute
	recoverTimeout = time.Minute
	// matrixParallelism scenarios run at once.
	matrixParallelism = 24
)

var fastPoll = stack.PollConfig{Min: 3 * time.Millisecond, Max: 30 * time.Millisecond, Fraction: 0.04}

type phase string

const (
	phaseCreate  phase = "create"
	phaseUpdate  phase = "update"
	phaseDestroy phase = "destroy"
)

var phases = []phase{phaseCreate, phaseUpdate, phaseDestroy}

// quickstart is the quickstart shape (examples/quickstart): HA cluster, a
// system pool, an autoscaled GPU pool, a protected pg with a db, a user and
// a PgBouncer pool, and a valkey cache.
func quickstart() stack.Spec {
	return stack.Spec{
		Name:   "qs",
		Region: "tor1",
		Tags:   []string{"team-ml"},
		Cluster: stack.ClusterSpec{
			VersionPrefix: "1.33", Version: "1.33.1-do.0", HA: true, AutoUpgrade: true, SurgeUpgrade: true,
			MaintenanceDay: "sunday", MaintenanceStart: "04:00",
			SystemPool: stack.NodePoolSpec{Size: "s-2vcpu-4gb", NodeCount: 2},
			GPUPools: map[string]stack.NodePoolSpec{
				"h100": {Size: "gpu-h100x1-80gb", AutoScale: true, MinNodes: 0, MaxNodes: 2,
					Taints: []stack.Taint{{Key: "nvidia.com/gpu", Effect: "NoSchedule"}}},
			},
		},
		Databases: map[string]stack.DatabaseSpec{
			"vectors": {Engine: "pg", Version: "17", Size: "db-s-2vcpu-4gb", NodeCount: 2, DeletionProtection: true,
				DBs: []string{"app"}, Users: []string{"app"},
				Pools: map[string]stack.PoolSpec{"app": {Mode: "transaction", Size: 10, DB: "app", User: "app"}}},
			"cache": {Engine: "valkey", Version: "8", Size: "db-s-1vcpu-2gb", NodeCount: 2, EvictionPolicy: "allkeys_lru"},
		},
	}
}

// updated is the in-place update: the GPU pool's ceiling rises, a second
// GPU pool and a read replica are added.
func updated() stack.Spec {
	s := quickstart()
	h100 := s.Cluster.GPUPools["h100"]
	h100.MaxNodes = 3
	s.Cluster.GPUPools["h100"] = h100
	s.Cluster.GPUPools["l40s"] = stack.NodePoolSpec{Size: "gpu-l40sx1-48gb", AutoScale: true, MinNodes: 1, MaxNodes: 2}
	vec := s.Databases["vectors"]
	vec.Replicas = map[string]stack.ReplicaSpec{"r1": {}}
	s.Databases["vectors"] = vec
	return s
}

// destroyOptions lifts the protection: the user allowed the destroy.
var destroyOptions = stack.DeleteOptions{Protected: map[string]bool{"vectors": false, "cache": false}}

type env struct {
	srv *emulator.Server
	eng *stack.Engine
}

// newEnv starts an emulator and an engine on a client built by the
// provider's NewClient (godo's retries, the backoff honouring rate-limit
// headers, the pacer), with short waits.
func newEnv(t *testing.T) *env {
	t.Helper()
	srv, err := emulator.Start(emulator.Config{TimeScale: matrixTimeScale, RateLimitPerMinute: -1, RateLimitPerHour: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return &env{srv: srv, eng: newEngine(t, srv.URL, srv.Token)}
}

func newEngine(t *testing.T, url, token string) *stack.Engine {
	t.Helper()
	c, err := provider.NewClient(provider.ClientConfig{
		Token: token, APIEndpoint: url,
		RetryMax: 3, RetryWaitMin: time.Millisecond, RetryWaitMax: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &stack.Engine{API: c.Godo, Poll: fastPoll, Locks: &stack.FirewallLocks{}, Watch: &stack.Watcher{}, FirewallSettle: 5 * time.Millisecond}
}

// runPhase runs one phase of the lifecycle from st.
func (e *env) runPhase(ctx context.Context, p phase, st *stack.Status) (stack.Result, error) {
	switch p {
	case phaseCreate:
		return e.eng.Apply(ctx, quickstart(), nil)
	case phaseUpdate:
		return e.eng.Apply(ctx, updated(), st)
	default:
		return e.eng.Delete(ctx, updated(), st, destroyOptions)
	}
}

// specOf is the configuration in force during (and after) a phase.
func specOf(p phase) stack.Spec {
	if p == phaseCreate {
		return quickstart()
	}
	return updated()
}

// prepare brings a fresh emulator to the start of phase p.
func (e *env) prepare(t *testing.T, p phase) *stack.Status {
	t.Helper()
	ctx := context.Background()
	var st *stack.Status
	for _, before := range phases {
		if before == p {
			return st
		}
		res, err := e.runPhase(ctx, before, st)
		if err != nil {
			t.Fatalf("preparing %s: %s failed without a fault: %v", p, before, err)
		}
		st = res.Status
	}
	return st
}

// call is one API call of a phase.
type call struct {
	phase  phase
	method string
	route  string // the route pattern, "/v2/kubernetes/clusters/{cluster_id}"
}

func (c call) String() string { return fmt.Sprintf("%s %s %s", c.phase, c.method, c.route) }

// recordCalls runs the lifecycle once and lists each phase's distinct calls.
func recordCalls(t *testing.T) []call {
	t.Helper()
	e := newEnv(t)
	var (
		mu   sync.Mutex
		cur  phase
		seen = map[call]bool{}
	)
	e.srv.SetRecorder(func(ex emulator.Exchange) {
		if ex.Route == "" {
			return
		}
		method, route, _ := strings.Cut(ex.Route, " ")
		mu.Lock()
		seen[call{phase: cur, method: method, route: route}] = true
		mu.Unlock()
	})
	var st *stack.Status
	for _, p := range phases {
		mu.Lock()
		cur = p
		mu.Unlock()
		res, err := e.runPhase(context.Background(), p, st)
		if err != nil {
			t.Fatalf("recording run: %s: %v", p, err)
		}
		st = res.Status
	}
	e.srv.SetRecorder(nil)
	calls := make([]call, 0, len(seen))
	for c := range seen {
		calls = append(calls, c)
	}
	sort.Slice(calls, func(i, j int) bool { return calls[i].String() < calls[j].String() })
	return calls
}

// faultKind is one way a call fails.
type faultKind struct {
	name string
	// absorbable faults must leave the phase successful.
	absorbable bool
	inject     func(srv *emulator.Server, c call) error
}

var faultKinds = []faultKind{
	{name: "500 persistent", inject: status(http.StatusInternalServerError)},
	{name: "503 persistent", inject: status(http.StatusServiceUnavailable)},
	{name: "429 burst x3", absorbable: true, inject: func(srv *emulator.Server, c call) error {
		_, err := srv.InjectFault(emulator.Fault{Method: c.method, Route: c.route, Kind: emulator.FaultRateLimit, Count: 3})
		return err
	}},
	{name: "drop once", absorbable: true, inject: func(srv *emulator.Server, c call) error {
		_, err := srv.InjectFault(emulator.Fault{Method: c.method, Route: c.route, Kind: emulator.FaultDrop, Count: 1})
		return err
	}},
	{name: "drop persistent", inject: func(srv *emulator.Server, c call) error {
		_, err := srv.InjectFault(emulator.Fault{Method: c.method, Route: c.route, Kind: emulator.FaultDrop})
		return err
	}},
	{name: "latency past deadline", inject: func(srv *emulator.Server, c call) error {
		_, err := srv.InjectFault(emulator.Fault{Method: c.method, Route: c.route, Kind: emulator.FaultLatency, Latency: injectedLag})
		return err
	}},
}

func status(code int) func(*emulator.Server, call) error {
	return func(srv *emulator.Server, c call) error {
		_, err := srv.InjectFault(emulator.Fault{Method: c.method, Route: c.route, Kind: emulator.FaultStatus, Status: code})
		return err
	}
}

// transitionsCreatedBy names the asynchronous lifecycles a create call
// starts, for the failed-transition scenarios.
func transitionsCreatedBy(c call) []emulator.TransitionKind {
	if c.method != http.MethodPost {
		return nil
	}
	switch c.route {
	case "/v2/kubernetes/clusters":
		return []emulator.TransitionKind{emulator.TransitionCluster, emulator.TransitionNodePool}
	case "/v2/kubernetes/clusters/{cluster_id}/node_pools":
		return []emulator.TransitionKind{emulator.TransitionNodePool}
	case "/v2/databases":
		return []emulator.TransitionKind{emulator.TransitionDatabase}
	case "/v2/databases/{database_cluster_uuid}/replicas":
		return []emulator.TransitionKind{emulator.TransitionReplica}
	}
	return nil
}

type scenario struct {
	call       call
	name       string
	absorbable bool
	inject     func(srv *emulator.Server) error
}

func scenarios(calls []call) []scenario {
	var out []scenario
	for _, c := range calls {
		for _, k := range faultKinds {
			out = append(out, scenario{call: c, name: k.name, absorbable: k.absorbable,
				inject: func(srv *emulator.Server) error { return k.inject(srv, c) }})
		}
		for _, tk := range transitionsCreatedBy(c) {
			out = append(out, scenario{call: c, name: "failed transition " + string(tk),
				inject: func(srv *emulator.Server) error { return srv.FailNextTransitions(tk, 1) }})
		}
	}
	return out
}

func TestFaultMatrix(t *testing.T) {
	calls := recordCalls(t)
	if len(calls) < 20 {
		t.Fatalf("the recording run saw only %d distinct calls: %v", len(calls), calls)
	}
	all := scenarios(calls)
	var passed, ran atomic.Int32
	start := time.Now()
	// Scenarios mostly wait (on retries, rate-limit gates, deadlines), so
	// many run at once whatever -parallel says; t.Run is safe from
	// several goroutines.
	sem := make(chan struct{}, matrixParallelism)
	var wg sync.WaitGroup
	for _, sc := range all {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			// One level per scenario: "/" in routes would nest names.
			t.Run(strings.ReplaceAll(sc.call.String(), "/", ".")+"/"+sc.name, func(t *testing.T) {
				ran.Add(1)
				runScenario(t, sc)
				if !t.Failed() {
					passed.Add(1)
				}
			})
		}()
	}
	wg.Wait()
	t.Logf("fault matrix: %d/%d scenarios passed (%d generated from %d distinct calls over create, update, destroy; %s)",
		passed.Load(), ran.Load(), len(all), len(calls), time.Since(start).Round(time.Millisecond))
	if passed.Load() != ran.Load() {
		t.Errorf("%d scenarios failed", ran.Load()-passed.Load())
	}
}

func runScenario(t *testing.T, sc scenario) {
	e := newEnv(t)
	p := sc.call.phase
	st := e.prepare(t, p)
	before := e.srv.Inventory()

	if err := sc.inject(e.srv); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), phaseTimeout)
	res, err := e.runPhase(ctx, p, st)
	cancel()
	e.srv.ClearFaults()

	// (1) absorbed, or a clear error naming the step.
	if sc.absorbable && err != nil {
		t.Errorf("an absorbable fault failed the %s: %v", p, err)
	}
	if err != nil {
		var se *stack.StepError
		if !errors.As(err, &se) || len(se.Failed) == 0 || !strings.Contains(err.Error(), "could not finish ") {
			t.Errorf("the error does not name the failed step: %v", err)
		}
		// Steps are named in words ("the database vectors"), never by the
		// engine's internal names ("database:vectors", "retire-old-cluster").
		for name := range se.Failed {
			if strings.ContainsAny(name, ":-") && strings.Contains(err.Error(), name) {
				t.Errorf("the error shows the internal step name %s: %v", name, err)
			}
		}
	}
	if res.Status == nil {
		t.Fatalf("no status returned (err %v)", err)
	}
	// (2) no leak, (3) nothing deleted that the user did not allow.
	if leaks := untracked(e.srv.Inventory(), res.Status); len(leaks) > 0 {
		t.Errorf("objects in the emulator missing from the status after the %s (err %v):\n  %s", p, err, strings.Join(leaks, "\n  "))
	}
	if p != phaseDestroy {
		checkProtectedKept(t, before, e.srv.Inventory())
	}
	// (4) recovery converges; a second apply writes nothing.
	st = res.Status
	rctx, cancel := context.WithTimeout(context.Background(), recoverTimeout)
	defer cancel()
	if p == phaseDestroy {
		if err != nil {
			res, err := e.eng.Delete(rctx, updated(), st, destroyOptions)
			if err != nil {
				t.Fatalf("destroy again after the fault: %v", err)
			}
			st = res.Status
		}
	} else {
		st = e.recover(rctx, t, p, st, err)
		if t.Failed() {
			return
		}
	}

	// (5) destroy leaves nothing.
	if p != phaseDestroy {
		res, err := e.eng.Delete(rctx, specOf(p), st, destroyOptions)
		if err != nil {
			t.Fatalf("destroy after recovery: %v", err)
		}
		st = res.Status
	}
	if !st.Empty() {
		t.Errorf("status after destroy not empty: %+v", st)
	}
	waitEmpty(t, e.srv)
}

// recover is what the user does next: Terraform refreshes, then applies.
// A resource whose create failed is tainted, so that apply replaces it
// (destroy, then create) unless a provisioned protected database refuses
// the destroy; the error then says to untaint, and the apply updates.
func (e *env) recover(ctx context.Context, t *testing.T, p phase, st *stack.Status, faultErr error) *stack.Status {
	t.Helper()
	spec := specOf(p)
	if faultErr != nil {
		ref, err := e.eng.Refresh(ctx, spec, st)
		if err != nil {
			t.Fatalf("refresh after the fault: %v", err)
		}
		st = ref.Status
		if p == phaseCreate {
			// Terraform replaces the tainted stack: the destroy half hands
			// the status over (databases and VPC kept, the cluster
			// retiring), the create half applies onto it.
			handed, err := e.eng.HandOver(ctx, spec, st)
			if err != nil {
				t.Fatalf("replacing the tainted stack (destroy half): %v", err)
			}
			st = handed.Status
		}
		res, err := e.eng.Apply(ctx, spec, st)
		if err != nil {
			t.Fatalf("apply after the fault: %v", err)
		}
		st = res.Status
	}
	ref, err := e.eng.Refresh(ctx, spec, st)
	if err != nil {
		t.Fatalf("refresh before the second apply: %v", err)
	}
	e.srv.ResetRequestCounts()
	res, err := e.eng.Apply(ctx, spec, ref.Status)
	if err != nil {
		t.Fatalf("second apply: %v", err)
	}
	for route, n := range e.srv.RequestCounts() {
		if !strings.HasPrefix(route, "GET ") {
			t.Errorf("the apply after convergence wrote: %s x%d", route, n)
		}
	}
	if leaks := untracked(e.srv.Inventory(), res.Status); len(leaks) > 0 {
		t.Errorf("after recovery, objects missing from the status:\n  %s", strings.Join(leaks, "\n  "))
	}
	return res.Status
}

// untracked lists the live objects the status does not record.
func untracked(inv emulator.Inventory, st *stack.Status) []string {
	known := map[string]bool{}
	names := map[string]bool{} // parent/name for objects inside databases
	if st.VPCID != "" {
		known[st.VPCID] = true
	}
	for _, c := range []*stack.ClusterStatus{st.Cluster, st.RetiringCluster} {
		if c == nil {
			continue
		}
		known[c.ID] = true
		for _, p := range c.Pools {
			known[p.ID] = true
		}
	}
	for _, d := range st.Databases {
		known[d.ID] = true
		for _, r := range d.Replicas {
			known[r.ID] = true
		}
		for u := range d.Users {
			names[d.ID+"/users/"+u] = true
		}
		for _, n := range d.DBs {
			names[d.ID+"/dbs/"+n] = true
		}
		for p := range d.Pools {
			names[d.ID+"/pools/"+p] = true
		}
	}
	deleting := map[string]bool{}
	for _, it := range inv.Items {
		if it.Status == "deleting" || it.Status == "deleted" {
			deleting[it.ID] = true
		}
	}
	var out []string
	for _, it := range inv.Items {
		if deleting[it.ID] || deleting[it.Parent] || it.Kind == "project" {
			continue
		}
		switch it.Kind {
		case "database_user", "database_db", "database_pool":
			if !names[it.ID] {
				out = append(out, fmt.Sprintf("%s %s (%s)", it.Kind, it.ID, it.Status))
			}
		default:
			if !known[it.ID] {
				out = append(out, fmt.Sprintf("%s %s %s (%s)", it.Kind, it.Name, it.ID, it.Status))
			}
		}
	}
	sort.Strings(out)
	return out
}

// checkProtectedKept fails if a database that was provisioned with
// deletion protection before the phase is gone after it.
func checkProtectedKept(t *testing.T, before, after emulator.Inventory) {
	t.Helper()
	protected := stack.DatabaseName("qs", "vectors")
	had := false
	for _, it := range before.Items {
		if it.Kind == "database_cluster" && it.Name == protected {
			had = true
		}
	}
	if !had {
		return
	}
	for _, it := range after.Items {
		if it.Kind == "database_cluster" && it.Name == protected && it.Status != "deleting" {
			return
		}
	}
	t.Errorf("the protected database %s was deleted:\n%s", protected, after)
}

func waitEmpty(t *testing.T, srv *emulator.Server) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if srv.Inventory().Empty() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("inventory not empty after destroy:\n%s", srv.Inventory())
}
