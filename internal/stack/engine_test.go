package stack

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/digitalocean/godo"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
)

// Engine tests run against an emulator at a high time scale (a six-minute
// cluster takes 60 ms) with fast polling.

func startEngine(t *testing.T) (*emulator.Server, *Engine) {
	t.Helper()
	srv, err := emulator.Start(emulator.Config{TimeScale: 6000, RateLimitPerMinute: -1, RateLimitPerHour: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	c, err := godo.New(&http.Client{Transport: bearer(srv.Token)}, godo.SetBaseURL(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	e := New(c)
	e.Poll = PollConfig{Min: 5 * time.Millisecond, Max: 50 * time.Millisecond, Fraction: 0.04}
	return srv, e
}

type bearer string

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+string(b))
	return http.DefaultTransport.RoundTrip(r)
}

func quickstartSpec() Spec {
	return Spec{
		Name:   "qs",
		Region: "tor1",
		Tags:   []string{"team-ml"},
		Cluster: ClusterSpec{
			VersionPrefix: "1.33", Version: "1.33.1-do.0", HA: true, AutoUpgrade: true, SurgeUpgrade: true,
			MaintenanceDay: "sunday", MaintenanceStart: "04:00",
			SystemPool: NodePoolSpec{Size: "s-2vcpu-4gb", NodeCount: 2},
			GPUPools: map[string]NodePoolSpec{
				"h100": {Size: "gpu-h100x1-80gb", AutoScale: true, MinNodes: 0, MaxNodes: 2,
					Taints: []Taint{{Key: "nvidia.com/gpu", Effect: "NoSchedule"}}},
			},
		},
		Databases: map[string]DatabaseSpec{
			"vectors": {Engine: "pg", Version: "17", Size: "db-s-2vcpu-4gb", NodeCount: 2, DeletionProtection: true,
				DBs: []string{"app"}, Users: []string{"app"},
				Pools: map[string]PoolSpec{"app": {Mode: "transaction", Size: 10, DB: "app", User: "app"}}},
			"cache": {Engine: "valkey", Version: "8", Size: "db-s-1vcpu-2gb", NodeCount: 2, EvictionPolicy: "allkeys_lru"},
		},
	}
}

func TestEngineLifecycle(t *testing.T) {
	srv, e := startEngine(t)
	ctx := context.Background()
	spec := quickstartSpec()

	res, err := e.Apply(ctx, spec, nil)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	st := res.Status
	if st.Cluster == nil || st.Cluster.State != "running" || st.Cluster.Kubeconfig == "" {
		t.Fatalf("cluster not running with a kubeconfig: %+v", st.Cluster)
	}
	vec := st.Databases["vectors"]
	if vec.AttachedClusterID != st.Cluster.ID || !vec.Provisioned || vec.Pools["app"] == nil || vec.Pools["app"].PrivateURI == "" {
		t.Fatalf("vectors not wired: %+v", vec)
	}
	if !strings.Contains(vec.PrivateHost, "private") {
		t.Errorf("vectors private host %q", vec.PrivateHost)
	}

	// Refresh then apply again: nothing to do, no writes.
	ref, err := e.Refresh(ctx, spec, st)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	srv.ResetRequestCounts()
	if _, err := e.Apply(ctx, spec, ref.Status); err != nil {
		t.Fatalf("second apply: %v", err)
	}
	for route, n := range srv.RequestCounts() {
		if !strings.HasPrefix(route, "GET ") && !strings.Contains(route, "/v2/projects") {
			t.Errorf("a converged stack's apply wrote: %s x%d", route, n)
		}
	}

	// Destroy: protection blocks vectors.
	srv.ResetRequestCounts()
	if _, err := e.Delete(ctx, spec, ref.Status, DeleteOptions{}); err == nil || !strings.Contains(err.Error(), "deletion_protection") {
		t.Fatalf("destroy of a protected database: %v", err)
	}
	if n := srv.TotalRequests(); n != 0 {
		t.Fatalf("a refused destroy sent %d requests: %v", n, srv.RequestCounts())
	}
	spec.Databases["vectors"] = func(d DatabaseSpec) DatabaseSpec { d.DeletionProtection = false; return d }(spec.Databases["vectors"])
	res, err = e.Apply(ctx, spec, ref.Status)
	if err != nil {
		t.Fatal(err)
	}
	res, err = e.Delete(ctx, spec, res.Status, DeleteOptions{})
	if err != nil {
		t.Fatalf("delete: %v (status %+v)", err, res.Status)
	}
	if !res.Status.Empty() {
		t.Errorf("status after delete not empty: %+v", res.Status)
	}
	waitEmpty(t, srv)
}

func waitEmpty(t *testing.T, srv *emulator.Server) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if srv.Inventory().Empty() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("inventory not empty:\n%s", srv.Inventory())
}
