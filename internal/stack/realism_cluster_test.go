package stack

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/digitalocean/godo"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
)

// Tests of how the engine survives DigitalOcean's Kubernetes and VPC rough
// edges: VPC deletes refused while members linger, held cluster names,
// nodes that never finish provisioning, GPU labels and taints the pool
// object may or may not show, project assignment without the VPC. Where
// the emulator does not (yet) behave so on its own, a rewrite in front of
// it makes the answers DigitalOcean's.

// rewrite changes an emulator answer: it gets the request and the answer
// (status, body) and returns the answer to send.
type rewrite func(r *http.Request, status int, body []byte) (int, []byte)

// intercept answers a request in the emulator's place (DigitalOcean
// refusing before acting); it returns false to let the emulator answer.
type intercept func(w http.ResponseWriter, r *http.Request) bool

// startEngineVia runs an emulator behind intercept and rewrite (nil: none)
// and returns an engine talking to it.
func startEngineVia(t *testing.T, cfg emulator.Config, rw rewrite) (*emulator.Emulator, *Engine) {
	return startEngineVia2(t, cfg, nil, rw)
}

func startEngineVia2(t *testing.T, cfg emulator.Config, pre intercept, rw rewrite) (*emulator.Emulator, *Engine) {
	t.Helper()
	if cfg.TimeScale == 0 {
		cfg.TimeScale = 6000
	}
	cfg.RateLimitPerMinute, cfg.RateLimitPerHour = -1, -1
	emu := emulator.New(cfg)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if pre != nil && pre(w, r) {
			return
		}
		if rw == nil {
			emu.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		emu.ServeHTTP(rec, r)
		status, body := rw(r, rec.Code, rec.Body.Bytes())
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	c, err := godo.New(&http.Client{Transport: bearer(emulator.DefaultToken)}, godo.SetBaseURL(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	e := New(c)
	e.Poll = PollConfig{Min: 5 * time.Millisecond, Max: 50 * time.Millisecond, Fraction: 0.04,
		Scale: func() float64 { return cfg.TimeScale }}
	return emu, e
}

// smallSpec is a stack with a cluster and no database (fast to build).
func smallSpec(name string) Spec {
	return Spec{
		Name:   name,
		Region: "tor1",
		Cluster: ClusterSpec{
			VersionPrefix: "1.33", Version: "1.33.1-do.0",
			SystemPool: NodePoolSpec{Size: "s-2vcpu-4gb", NodeCount: 2},
		},
		Databases: map[string]DatabaseSpec{},
	}
}

func mustApply(t *testing.T, e *Engine, spec Spec, st *Status) *Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := e.Apply(ctx, spec, st)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	return res.Status
}

func errorBody(id, msg string) []byte {
	b, _ := json.Marshal(map[string]string{"id": id, "message": msg})
	return b
}

func waitInventoryEmpty(t *testing.T, emu *emulator.Emulator) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if emu.Inventory().Empty() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("inventory not empty:\n%s", emu.Inventory())
}

const vpcDeleteRoute = "/v2/vpcs/{vpc_id}"

// ---- 3. VPC deletes refused while members linger ----

// DigitalOcean answers 403 while the VPC has live members and 409 while
// deleted ones linger; destroy waits both out.
func TestDestroyWaitsOutVPCRefusals(t *testing.T) {
	emu, e := startEngineVia(t, emulator.Config{}, nil)
	spec := smallSpec("vpcwait")
	st := mustApply(t, e, spec, nil)
	for _, f := range []emulator.Fault{
		{Method: http.MethodDelete, Route: vpcDeleteRoute, Kind: emulator.FaultStatus, Status: http.StatusForbidden, Count: 2},
		{Method: http.MethodDelete, Route: vpcDeleteRoute, Kind: emulator.FaultStatus, Status: http.StatusConflict, Count: 3},
	} {
		if _, err := emu.InjectFault(f); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := e.Delete(ctx, spec, st, DeleteOptions{})
	if err != nil {
		t.Fatalf("destroy through 403 and 409 answers: %v", err)
	}
	if len(res.Warnings) > 0 || !res.Status.Empty() {
		t.Fatalf("destroy left %+v, warnings %v", res.Status, res.Warnings)
	}
	if n := emu.StatusCounts()["DELETE "+vpcDeleteRoute+" 403"]; n != 2 {
		t.Errorf("the VPC delete was refused %d times with 403, want the 2 injected", n)
	}
	waitInventoryEmpty(t, emu)
}

// A 403 that names no member, time and again, will not clear (a token
// without the scope, not members): destroy says so instead of waiting out
// its timeout.
func TestDestroyFailsOnForbiddenVPCWithoutMembers(t *testing.T) {
	emu, e := startEngineVia(t, emulator.Config{}, nil)
	spec := smallSpec("vpcforbid")
	st := mustApply(t, e, spec, nil)
	if _, err := emu.InjectFault(emulator.Fault{Method: http.MethodDelete, Route: vpcDeleteRoute, Kind: emulator.FaultStatus, Status: http.StatusForbidden}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := e.Delete(ctx, spec, st, DeleteOptions{})
	if err == nil || ctx.Err() != nil {
		t.Fatalf("destroy against a VPC delete always forbidden: err %v (ctx %v)", err, ctx.Err())
	}
	if !strings.Contains(err.Error(), "deleting VPC "+st.VPCID) || !strings.Contains(err.Error(), "403") {
		t.Errorf("the error does not name the VPC and the answer: %v", err)
	}
	if res.Status.VPCID != st.VPCID {
		t.Errorf("the VPC that could not be deleted left the status: %+v", res.Status)
	}
	emu.ClearFaults()
	if _, err := e.Delete(context.Background(), spec, res.Status, DeleteOptions{}); err != nil {
		t.Fatalf("destroy again: %v", err)
	}
	waitInventoryEmpty(t, emu)
}

// Destroy reads each cluster or database member once: one already seen
// gone (404) is not read again on the next round.
func TestDestroyDoesNotRereadGoneMembers(t *testing.T) {
	// A slower clock keeps the deleted cluster a member for 100 ms.
	emu, e := startEngineVia(t, emulator.Config{TimeScale: 600}, nil)
	spec := smallSpec("reread")
	st := mustApply(t, e, spec, nil)
	if _, err := emu.InjectFault(emulator.Fault{Method: http.MethodDelete, Route: vpcDeleteRoute, Kind: emulator.FaultStatus, Status: http.StatusConflict, Count: 4}); err != nil {
		t.Fatal(err)
	}
	emu.ResetRequestCounts()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := e.Delete(ctx, spec, st, DeleteOptions{}); err != nil {
		t.Fatalf("destroy: %v", err)
	}
	counts := emu.RequestCounts()
	if counts["DELETE "+vpcDeleteRoute] < 3 || counts["GET /v2/vpcs/{vpc_id}/members"] < 2 {
		t.Fatalf("expected several rounds of VPC delete and member listing: %v", counts)
	}
	// Once before deleting it (for its nodes), once as a member seen gone.
	if n := counts["GET /v2/kubernetes/clusters/{cluster_id}"]; n != 2 {
		t.Errorf("the deleted cluster was read %d times over %d rounds, want twice (before its delete, then once as a member)", n, counts["GET /v2/vpcs/{vpc_id}/members"])
	}
	waitInventoryEmpty(t, emu)
}

// droplets makes the VPC's member list and delete answers DigitalOcean's
// for Droplets: extra() members are appended to every member list, and
// while any is listed DELETE is refused, 409 when all linger, 403 when one
// is live (live(urn)).
func droplets(extra func() []godo.VPCMember, live func(urn string) bool) (intercept, rewrite) {
	members := regexp.MustCompile(`^/v2/vpcs/[^/]+/members$`)
	vpc := regexp.MustCompile(`^/v2/vpcs/[^/]+$`)
	pre := func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodDelete || !vpc.MatchString(r.URL.Path) {
			return false
		}
		ms := extra()
		if len(ms) == 0 {
			return false
		}
		status, body := http.StatusConflict, errorBody("conflict", "Can not delete VPC with members")
		if slices.ContainsFunc(ms, func(m godo.VPCMember) bool { return live(m.URN) }) {
			status, body = http.StatusForbidden, errorBody("forbidden", "Can not delete VPC with members")
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
		return true
	}
	rw := func(r *http.Request, status int, body []byte) (int, []byte) {
		if r.Method != http.MethodGet || !members.MatchString(r.URL.Path) || status != http.StatusOK {
			return status, body
		}
		var page map[string]json.RawMessage
		if json.Unmarshal(body, &page) != nil {
			return status, body
		}
		var list []godo.VPCMember
		_ = json.Unmarshal(page["members"], &list)
		list = append(list, extra()...)
		page["members"], _ = json.Marshal(list)
		page["meta"], _ = json.Marshal(map[string]int{"total": len(list)})
		out, _ := json.Marshal(page)
		return status, out
	}
	return pre, rw
}

// A deleted cluster's worker nodes stay Droplet members of the VPC for a
// while: destroy recognises them by the Droplet ids it recorded and waits
// them out.
func TestDestroyWaitsOutLingeringWorkerDroplets(t *testing.T) {
	var mu sync.Mutex
	var workers []godo.VPCMember
	var until time.Time
	extra := func() []godo.VPCMember {
		mu.Lock()
		defer mu.Unlock()
		if time.Now().After(until) {
			return nil
		}
		return workers
	}
	pre, rw := droplets(extra, func(string) bool { return false })
	emu, e := startEngineVia2(t, emulator.Config{}, pre, rw)
	spec := smallSpec("linger")
	st := mustApply(t, e, spec, nil)
	if len(st.Cluster.Droplets) != 2 {
		t.Fatalf("the status records %d worker Droplets, want the 2 system nodes: %v", len(st.Cluster.Droplets), st.Cluster.Droplets)
	}
	mu.Lock()
	for id := range st.Cluster.Droplets {
		workers = append(workers, godo.VPCMember{Name: "system-" + id, URN: "do:droplet:" + id})
	}
	until = time.Now().Add(300 * time.Millisecond)
	mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := e.Delete(ctx, spec, st, DeleteOptions{})
	if err != nil {
		t.Fatalf("destroy: %v", err)
	}
	if len(res.Warnings) > 0 {
		t.Fatalf("the stack's own lingering worker Droplets were taken for foreign ones: %v", res.Warnings)
	}
	if time.Now().Before(until) {
		t.Errorf("destroy finished while the worker Droplets still lingered")
	}
	if n := emu.StatusCounts()["DELETE "+vpcDeleteRoute+" 204"]; n != 1 {
		t.Errorf("the VPC was not deleted (%d successful deletes)", n)
	}
	waitInventoryEmpty(t, emu)
}

// The Droplets of an old cluster a replacement retired linger too, and a
// destroy soon after waits them out.
func TestDestroyAfterReplacementWaitsOutRetiredWorkers(t *testing.T) {
	var mu sync.Mutex
	var workers []godo.VPCMember
	extra := func() []godo.VPCMember {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(workers)
	}
	pre, rw := droplets(extra, func(string) bool { return false })
	emu, e := startEngineVia2(t, emulator.Config{}, pre, rw)
	spec := smallSpec("retire")
	st := mustApply(t, e, spec, nil)
	old := st.Cluster.clone()
	if len(old.Droplets) != 2 {
		t.Fatalf("the status records %d worker Droplets, want the 2 system nodes", len(old.Droplets))
	}
	spec.Cluster.ServiceSubnet = "10.246.0.0/16"
	st = mustApply(t, e, spec, st)
	if st.Cluster.ID == old.ID || st.RetiringCluster != nil {
		t.Fatalf("the cluster was not replaced: %+v", st.Cluster)
	}
	for id := range old.Droplets {
		if _, ok := st.RetiredDroplets[id]; !ok {
			t.Fatalf("retired cluster's Droplet %s is not remembered: %v", id, st.RetiredDroplets)
		}
	}
	mu.Lock()
	for id := range old.Droplets {
		workers = append(workers, godo.VPCMember{Name: "system-" + id, URN: "do:droplet:" + id})
	}
	mu.Unlock()
	go func() {
		time.Sleep(300 * time.Millisecond)
		mu.Lock()
		workers = nil
		mu.Unlock()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := e.Delete(ctx, spec, st, DeleteOptions{})
	if err != nil || len(res.Warnings) > 0 {
		t.Fatalf("destroy: %v, warnings %v", err, res.Warnings)
	}
	waitInventoryEmpty(t, emu)
}

// A Droplet that is not one of the stack's nodes never leaves: the VPC is
// kept with a warning naming it, as before.
func TestDestroyKeepsVPCWithForeignDroplet(t *testing.T) {
	foreign := []godo.VPCMember{{Name: "bastion", URN: "do:droplet:123"}}
	var mu sync.Mutex
	on := true
	extra := func() []godo.VPCMember {
		mu.Lock()
		defer mu.Unlock()
		if on {
			return foreign
		}
		return nil
	}
	pre, rw := droplets(extra, func(string) bool { return true })
	emu, e := startEngineVia2(t, emulator.Config{}, pre, rw)
	spec := smallSpec("foreign")
	st := mustApply(t, e, spec, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := e.Delete(ctx, spec, st, DeleteOptions{})
	if err != nil {
		t.Fatalf("destroy: %v", err)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0].Detail, "do:droplet:123 (bastion)") || !strings.Contains(res.Warnings[0].Detail, st.VPCID) {
		t.Fatalf("want one warning naming the VPC and the foreign Droplet, got %v", res.Warnings)
	}
	if !res.Status.Empty() {
		t.Errorf("status after destroy: %+v", res.Status)
	}
	if n := emu.StatusCounts()["DELETE "+vpcDeleteRoute+" 204"]; n != 0 {
		t.Errorf("the VPC holding a foreign Droplet was deleted")
	}
	mu.Lock()
	on = false
	mu.Unlock()
}

// ---- 4. held cluster names ----

// A cluster name DigitalOcean still holds (the cluster of that name was
// deleted moments ago) is refused with 422 "is not available": the create
// is retried until the name is released, and nothing is adopted.
func TestHeldClusterNameIsWaitedOut(t *testing.T) {
	var mu sync.Mutex
	refusals := 3
	// Refuse before the emulator sees the request, as a held name is.
	emu := emulator.New(emulator.Config{TimeScale: 6000, RateLimitPerMinute: -1, RateLimitPerHour: -1})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v2/kubernetes/clusters" {
			mu.Lock()
			held := refusals > 0
			refusals--
			mu.Unlock()
			if held {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnprocessableEntity)
				_, _ = w.Write(errorBody("unprocessable_entity", `name "held" is not available: a Kubernetes cluster with this name was deleted recently`))
				return
			}
		}
		emu.ServeHTTP(w, r)
	}))
	defer srv.Close()
	c, err := godo.New(&http.Client{Transport: bearer(emulator.DefaultToken)}, godo.SetBaseURL(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	e := New(c)
	e.Poll = PollConfig{Min: 5 * time.Millisecond, Max: 50 * time.Millisecond, Fraction: 0.04}
	spec := smallSpec("held")
	st := mustApply(t, e, spec, nil)
	if st.Cluster == nil || st.Cluster.Name != "held" || st.Cluster.State != "running" {
		t.Fatalf("cluster after the name was released: %+v", st.Cluster)
	}
	if n := emu.RequestCounts()["POST /v2/kubernetes/clusters"]; n != 1 {
		t.Errorf("the emulator saw %d creates, want 1 (after 3 refusals)", n)
	}
	mu.Lock()
	if refusals > 0 {
		t.Errorf("the create succeeded before the name was released")
	}
	mu.Unlock()
}

// Out of time while the name is held: the error says why and what to do.
func TestHeldClusterNameTimesOutClearly(t *testing.T) {
	emu := emulator.New(emulator.Config{TimeScale: 6000, RateLimitPerMinute: -1, RateLimitPerHour: -1})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v2/kubernetes/clusters" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnprocessableEntity)
			_, _ = w.Write(errorBody("unprocessable_entity", `name "stuck" is not available`))
			return
		}
		emu.ServeHTTP(w, r)
	}))
	defer srv.Close()
	c, _ := godo.New(&http.Client{Transport: bearer(emulator.DefaultToken)}, godo.SetBaseURL(srv.URL))
	e := New(c)
	e.Poll = PollConfig{Min: 5 * time.Millisecond, Max: 20 * time.Millisecond, Fraction: 0.04}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	res, err := e.Apply(ctx, smallSpec("stuck"), nil)
	if err == nil || !strings.Contains(err.Error(), "creating cluster stuck") || !strings.Contains(err.Error(), "holds the name") {
		t.Fatalf("want a clear held-name error, got %v", err)
	}
	if res.Status.Cluster != nil {
		t.Errorf("a cluster was recorded although none was created: %+v", res.Status.Cluster)
	}
}

// ---- 5. nodes ----

// stuckNodes shows the nodes an injected failure left in "error" as
// DigitalOcean does, "provisioning" (it has no error node state).
func stuckNodes(r *http.Request, status int, body []byte) (int, []byte) {
	if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v2/kubernetes/clusters") {
		body = bytes.ReplaceAll(body, []byte(`"state":"error"`), []byte(`"state":"provisioning"`))
		body = bytes.ReplaceAll(body, []byte(`"state":"degraded"`), []byte(`"state":"running"`))
	}
	return status, body
}

// A pool whose nodes never come up fails the apply naming the pool, how
// many nodes are provisioning and for how long, and the next apply
// continues the wait; once the nodes are stuck far longer than
// DigitalOcean takes, an apply replaces them (DELETE node, replace=1).
func TestStuckPoolNodesFailClearlyThenAreReplaced(t *testing.T) {
	emu, e := startEngineVia(t, emulator.Config{TimeScale: 4000}, stuckNodes)
	spec := smallSpec("stuck")
	st := mustApply(t, e, spec, nil)

	spec.Cluster.GPUPools = map[string]NodePoolSpec{"l40s": {Size: "gpu-l40sx1-48gb", NodeCount: 1,
		Taints: []Taint{{Key: "nvidia.com/gpu", Effect: "NoSchedule"}}}}
	if err := emu.FailNextTransitions(emulator.TransitionNodePool, 1); err != nil {
		t.Fatal(err)
	}
	created := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	res, err := e.Apply(ctx, spec, st)
	cancel()
	if err == nil {
		t.Fatal("an apply whose pool never came up succeeded")
	}
	for _, want := range []string{"node pool l40s has 0 of the 1 nodes it needs running, 1 still provisioning (the longest for",
		"GPU capacity in tor1 is the likely cause", "the next apply continues the wait"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error lacks %q: %v", want, err)
		}
	}
	st = res.Status
	if p := st.Cluster.Pools["l40s"]; p == nil || p.WaitingSince.IsZero() {
		t.Fatalf("the pool is not marked for the next apply to wait for: %+v", p)
	}
	if !st.Cluster.Pools[SystemPoolName].WaitingSince.IsZero() {
		t.Errorf("the system pool, which this apply did not touch, is marked waiting")
	}

	// The next apply, nothing to change, still waits for the pool (and
	// still fails while it is stuck and not yet due for replacement).
	ref, err := e.Refresh(context.Background(), spec, st)
	if err != nil {
		t.Fatal(err)
	}
	if ref.Status.Cluster.Pools["l40s"].WaitingSince.IsZero() {
		t.Fatal("refresh forgot that the pool is being waited for")
	}
	ctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
	_, err = e.Apply(ctx, spec, ref.Status)
	cancel()
	if time.Since(created) >= 1800*time.Millisecond {
		t.Skip("too slow a machine to see the wait before the node is due for replacement")
	}
	if err == nil || !strings.Contains(err.Error(), "node pool l40s") {
		t.Fatalf("the next apply did not continue waiting for the pool: %v", err)
	}

	// Past the two hours after which a GPU node is taken as stuck rather than
	// waiting for capacity (1.8 s here), it is replaced and the apply converges.
	time.Sleep(time.Until(created.Add(1900 * time.Millisecond)))
	ref, err = e.Refresh(context.Background(), spec, ref.Status)
	if err != nil {
		t.Fatal(err)
	}
	emu.ResetRequestCounts()
	st = mustApply(t, e, spec, ref.Status)
	if n := emu.RequestCounts()["DELETE /v2/kubernetes/clusters/{cluster_id}/node_pools/{node_pool_id}/nodes/{node_id}"]; n != 1 {
		t.Errorf("the stuck node was replaced %d times, want once", n)
	}
	if p := st.Cluster.Pools["l40s"]; p.Ready != 1 || !p.WaitingSince.IsZero() {
		t.Errorf("after the replacement the pool is %+v", p)
	}
}

// An apply waits for the nodes it asked for, not for more: an autoscaled
// pool at min_nodes 0 is not waited on, and an apply that changes nothing
// does not wait for nodes provisioning in a pool it did not touch.
func TestApplyDoesNotWaitForNodesItDidNotAskFor(t *testing.T) {
	emu, e := startEngineVia(t, emulator.Config{}, nil)
	spec := smallSpec("nowait")
	spec.Cluster.GPUPools = map[string]NodePoolSpec{"h100": {Size: "gpu-h100x1-80gb", AutoScale: true, MinNodes: 0, MaxNodes: 3,
		Taints: []Taint{{Key: "nvidia.com/gpu", Effect: "NoSchedule"}}}}
	st := mustApply(t, e, spec, nil)

	// Nodes added outside this apply (the autoscaler, someone else's
	// resize) provision while the next apply runs.
	h100 := st.Cluster.Pools["h100"]
	if _, _, err := e.API.Kubernetes.UpdateNodePool(context.Background(), st.Cluster.ID, h100.ID,
		&godo.KubernetesNodePoolUpdateRequest{Name: h100.Name, AutoScale: godo.PtrTo(true), MinNodes: godo.PtrTo(0), MaxNodes: godo.PtrTo(3), Count: godo.PtrTo(2)}); err != nil {
		t.Fatal(err)
	}
	ref, err := e.Refresh(context.Background(), spec, st)
	if err != nil {
		t.Fatal(err)
	}
	if !SamePoolConfig(ref.Status.Cluster.Pools["h100"].Spec, spec.Cluster.GPUPools["h100"]) {
		t.Fatalf("the autoscaled pool's count shows as a change: %+v", ref.Status.Cluster.Pools["h100"].Spec)
	}
	emu.ResetRequestCounts()
	st = mustApply(t, e, spec, ref.Status)
	for route, n := range emu.RequestCounts() {
		if !strings.HasPrefix(route, "GET ") {
			t.Errorf("an apply with nothing to change wrote: %s x%d", route, n)
		}
	}
	cl, _, err := e.API.Kubernetes.Get(context.Background(), st.Cluster.ID)
	if err != nil {
		t.Fatal(err)
	}
	provisioning := 0
	for _, p := range cl.NodePools {
		for _, n := range p.Nodes {
			if n.Status != nil && n.Status.State == "provisioning" {
				provisioning++
			}
		}
	}
	if provisioning == 0 {
		t.Errorf("the apply waited for the autoscaler's GPU nodes to come up")
	}
}

// A resize waits for the nodes it asked for.
func TestResizeWaitsForTheNodesItAsked(t *testing.T) {
	_, e := startEngineVia(t, emulator.Config{}, nil)
	spec := smallSpec("resize")
	st := mustApply(t, e, spec, nil)
	spec.Cluster.SystemPool.NodeCount = 3
	st = mustApply(t, e, spec, st)
	if p := st.Cluster.Pools[SystemPoolName]; p.Ready < 3 {
		t.Errorf("the resize returned with %d of 3 nodes running", p.Ready)
	}
}

// ---- 9. GPU labels and taints ----

// The pool object may show only what the user set (DigitalOcean) or also
// the labels and taint DOKS puts on GPU nodes: both compare equal to the
// spec, whatever the spec says of the GPU taint.
func TestGPUPoolLabelsAndTaintsBothShapes(t *testing.T) {
	doksLabels := map[string]string{"doks.digitalocean.com/gpu-brand": "nvidia", "doks.digitalocean.com/gpu-model": "h100"}
	doksTaint := godo.Taint{Key: "nvidia.com/gpu", Effect: "NoSchedule"}
	cases := []struct {
		name string
		want NodePoolSpec
		// user is what the user set through the API.
		userLabels map[string]string
		userTaints []godo.Taint
	}{
		{name: "default GPU taint", want: NodePoolSpec{Taints: []Taint{{Key: "nvidia.com/gpu", Effect: "NoSchedule"}}},
			userTaints: []godo.Taint{doksTaint}},
		{name: "no taints", want: NodePoolSpec{}},
		{name: "own taint on the GPU key", want: NodePoolSpec{Taints: []Taint{{Key: "nvidia.com/gpu", Effect: "NoExecute"}}},
			userTaints: []godo.Taint{{Key: "nvidia.com/gpu", Effect: "NoExecute"}}},
		{name: "own taint and labels", want: NodePoolSpec{Labels: map[string]string{"team": "ml"},
			Taints: []Taint{{Key: "nvidia.com/gpu", Effect: "NoSchedule"}, {Key: "dedicated", Value: "infer", Effect: "NoSchedule"}}},
			userLabels: map[string]string{"team": "ml"},
			userTaints: []godo.Taint{doksTaint, {Key: "dedicated", Value: "infer", Effect: "NoSchedule"}}},
		{name: "a DOKS label set by the user", want: NodePoolSpec{Labels: map[string]string{"doks.digitalocean.com/gpu-model": "h100"}},
			userLabels: map[string]string{"doks.digitalocean.com/gpu-model": "h100"}},
		{name: "default taint, pool made elsewhere", want: NodePoolSpec{Taints: []Taint{{Key: "nvidia.com/gpu", Effect: "NoSchedule"}}}},
	}
	for _, tc := range cases {
		tc.want.Size, tc.want.NodeCount = "gpu-h100x1-80gb", 1
		realistic := &godo.KubernetesNodePool{Name: "h100", Size: "gpu-h100x1-80gb", Count: 1,
			Labels: tc.userLabels, Taints: tc.userTaints}
		ideal := &godo.KubernetesNodePool{Name: "h100", Size: "gpu-h100x1-80gb", Count: 1, Labels: map[string]string{}}
		for k, v := range doksLabels {
			ideal.Labels[k] = v
		}
		for k, v := range tc.userLabels {
			ideal.Labels[k] = v
		}
		ideal.Taints = []godo.Taint{doksTaint}
		for _, ut := range tc.userTaints {
			ideal.Taints = slices.DeleteFunc(ideal.Taints, func(t godo.Taint) bool { return t.Key == ut.Key && t.Effect == ut.Effect })
			ideal.Taints = append(ideal.Taints, ut)
		}
		for shape, p := range map[string]*godo.KubernetesNodePool{"realistic": realistic, "ideal": ideal} {
			got := poolStatusFrom(p, p.Name, tc.want).Spec
			if !SamePoolConfig(got, tc.want) {
				t.Errorf("%s, %s shape: pool maps to %+v, want %+v", tc.name, shape, got, tc.want)
			}
		}
	}
}

// Import of a GPU pool whose object does not show DOKS's taint still
// describes it as carrying it (what a configuration leaving taints to
// their default gives).
func TestDiscoverGPUTaintEitherShape(t *testing.T) {
	for _, taints := range [][]godo.Taint{nil, {{Key: "amd.com/gpu", Effect: "NoSchedule"}}} {
		c := &godo.KubernetesCluster{NodePools: []*godo.KubernetesNodePool{{Name: "mi300", Size: "gpu-mi300x1-192gb", Taints: taints}}}
		got := observedGPUTaints(c)["mi300"].Taints
		if len(got) != 1 || got[0] != (Taint{Key: "amd.com/gpu", Effect: "NoSchedule"}) {
			t.Errorf("pool taints %v observed as %v", taints, got)
		}
	}
}

// An apply against the emulator's pools (which show DOKS's labels and
// taint, or not) plans nothing on the next apply.
func TestGPUPoolConvergesWithoutWrites(t *testing.T) {
	emu, e := startEngineVia(t, emulator.Config{}, nil)
	spec := smallSpec("gpuconv")
	spec.Cluster.GPUPools = map[string]NodePoolSpec{
		"h100":   {Size: "gpu-h100x1-80gb", NodeCount: 1, Taints: []Taint{{Key: "nvidia.com/gpu", Effect: "NoSchedule"}}},
		"notain": {Size: "gpu-h100x1-80gb", NodeCount: 1, Labels: map[string]string{"team": "ml"}},
	}
	st := mustApply(t, e, spec, nil)
	ref, err := e.Refresh(context.Background(), spec, st)
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range spec.Cluster.GPUPools {
		if got := ref.Status.Cluster.Pools[key].Spec; !SamePoolConfig(got, want) {
			t.Errorf("pool %s reads back as %+v, want %+v", key, got, want)
		}
	}
	emu.ResetRequestCounts()
	mustApply(t, e, spec, ref.Status)
	for route, n := range emu.RequestCounts() {
		if !strings.HasPrefix(route, "GET ") {
			t.Errorf("a converged GPU stack's apply wrote: %s x%d", route, n)
		}
	}
}

// ---- project assignment ----

// VPCs are not project resources: the assignment carries the cluster and
// the databases, never a do:vpc URN.
func TestProjectAssignmentLeavesOutTheVPC(t *testing.T) {
	var mu sync.Mutex
	var assigned []string
	_, e := startEngineVia(t, emulator.Config{}, nil)
	proj, _, err := e.API.Projects.Create(context.Background(), &godo.CreateProjectRequest{Name: "ml", Purpose: "Machine learning / AI / Data processing", Environment: "Production"})
	if err != nil {
		t.Fatal(err)
	}
	// Record what the engine asks to assign (the emulator may accept or
	// refuse a VPC; DigitalOcean refuses it).
	e.API.OnRequestCompleted(func(req *http.Request, _ *http.Response) {
		if req.Method != http.MethodPost || !strings.HasSuffix(req.URL.Path, "/resources") || req.GetBody == nil {
			return
		}
		b, _ := req.GetBody()
		var body struct {
			Resources []string `json:"resources"`
		}
		_ = json.NewDecoder(b).Decode(&body)
		mu.Lock()
		assigned = append(assigned, body.Resources...)
		mu.Unlock()
	})
	spec := smallSpec("proj")
	spec.ProjectID = proj.ID
	st := mustApply(t, e, spec, nil)
	mu.Lock()
	defer mu.Unlock()
	if !slices.Contains(assigned, st.Cluster.URN) {
		t.Fatalf("the cluster was not assigned: %v", assigned)
	}
	for _, urn := range assigned {
		if strings.HasPrefix(urn, "do:vpc:") {
			t.Errorf("the assignment carries the VPC %s", urn)
		}
	}
	res, _, err := e.API.Projects.ListResources(context.Background(), proj.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	var urns []string
	for _, r := range res {
		urns = append(urns, r.URN)
	}
	if !slices.Contains(urns, st.Cluster.URN) || slices.ContainsFunc(urns, func(u string) bool { return strings.HasPrefix(u, "do:vpc:") }) {
		t.Errorf("project resources %v: want the cluster and no VPC", urns)
	}
}
