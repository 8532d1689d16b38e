package faulttest

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
	"github.com/attach-labs/terraform-provider-attach/internal/stack"
)

// The realism scenarios: every fault-matrix scenario already runs against
// the emulator's default, realistic DigitalOcean. Here each rough edge gets
// a lifecycle of its own with its window stretched far beyond the default
// (so it spans many polls and every step that can meet it does), and the
// run must meet it, survive it without an error, leave nothing behind, and
// converge to an apply that writes nothing:
//
//	create -> second apply (no writes) -> update -> destroy -> create again
//	(same names, right after the destroy) -> destroy.
type realismScenario struct {
	name    string
	realism emulator.Realism
	// update replaces the matrix's update phase when set.
	update func() stack.Spec
	// answers that the emulator must have given at least once.
	answers []string
}

// stretch is how much longer than DigitalOcean's default each scenario's
// window is.
const stretch = 10

var realismScenarios = []realismScenario{
	{
		name:    "read after create",
		realism: emulator.Realism{ReadAfterCreate: stretch * emulator.DefaultRealism.ReadAfterCreate},
		answers: []string{
			"GET /v2/databases/{database_cluster_uuid} 404",
			"GET /v2/databases/{database_cluster_uuid}/replicas/{replica_name} 404",
		},
	},
	{
		name:    "replica before the first backup",
		realism: emulator.Realism{FirstBackup: stretch * emulator.DefaultRealism.FirstBackup},
		answers: []string{"POST /v2/databases/{database_cluster_uuid}/replicas 412"},
	},
	{
		name:    "names held after a delete",
		realism: emulator.Realism{NameHold: stretch * emulator.DefaultRealism.NameHold},
		answers: []string{"POST /v2/databases 422", "POST /v2/kubernetes/clusters 422"},
	},
	{
		name:    "VPC members linger",
		realism: emulator.Realism{DropletLinger: stretch * emulator.DefaultRealism.DropletLinger},
		answers: []string{"DELETE /v2/vpcs/{vpc_id} 409"},
	},
	{
		name:    "GPU capacity",
		realism: emulator.Realism{GPUCapacityWait: stretch * emulator.DefaultRealism.GPUCapacityWait},
		// The H100 pool's floor rises: its new node waits for capacity.
		update: func() stack.Spec {
			s := updated()
			h100 := s.Cluster.GPUPools["h100"]
			h100.MinNodes = 1
			s.Cluster.GPUPools["h100"] = h100
			return s
		},
	},
	{
		name: "database tags change in place",
		// The update retags the stack: databases take the new tag in place.
		update: func() stack.Spec {
			s := updated()
			s.Tags = []string{"team-ml", "cost-gpu"}
			return s
		},
		answers: []string{"POST /v2/tags/{tag_id}/resources 204"},
	},
	{
		name: "MongoDB users one at a time",
		// The update adds a MongoDB database with three users: DigitalOcean
		// answers 500 to a user create while another is in progress.
		update: func() stack.Spec {
			s := updated()
			s.Databases["docs"] = stack.DatabaseSpec{Engine: "mongodb", Version: "8.0", Size: "db-s-1vcpu-2gb", NodeCount: 1,
				Users: []string{"reader", "writer", "indexer"}}
			return s
		},
		answers: []string{"POST /v2/databases/{database_cluster_uuid}/users 500"},
	},
	{
		name: "autoscaler at work",
		// The autoscaler moves the GPU pools every few seconds of API time.
		realism: emulator.Realism{AutoscaleInterval: 20 * time.Second},
	},
}

func TestRealismScenarios(t *testing.T) {
	for _, sc := range realismScenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			runRealismScenario(t, sc)
		})
	}
}

func runRealismScenario(t *testing.T, sc realismScenario) {
	srv, err := emulator.Start(emulator.Config{TimeScale: matrixTimeScale, RateLimitPerMinute: -1, RateLimitPerHour: -1, Realism: sc.realism})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	eng := newEngine(t, srv.URL, srv.Token)
	upd := updated()
	if sc.update != nil {
		upd = sc.update()
	}
	ctx, cancel := context.WithTimeout(context.Background(), recoverTimeout)
	defer cancel()

	step := func(what string, fn func() (stack.Result, error)) *stack.Status {
		t.Helper()
		res, err := fn()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if leaks := untracked(srv.Inventory(), res.Status); len(leaks) > 0 {
			t.Fatalf("after %s, objects missing from the status:\n  %s", what, strings.Join(leaks, "\n  "))
		}
		return res.Status
	}
	converged := func(spec stack.Spec, st *stack.Status) *stack.Status {
		t.Helper()
		st = step("refresh", func() (stack.Result, error) { return eng.Refresh(ctx, spec, st) })
		srv.ResetRequestCounts()
		st = step("the second apply", func() (stack.Result, error) { return eng.Apply(ctx, spec, st) })
		for route, n := range srv.RequestCounts() {
			if !strings.HasPrefix(route, "GET ") {
				t.Errorf("the apply after convergence wrote: %s x%d", route, n)
			}
		}
		return st
	}

	for round := 1; round <= 2; round++ {
		st := step("create", func() (stack.Result, error) { return eng.Apply(ctx, quickstart(), nil) })
		st = converged(quickstart(), st)
		st = step("update", func() (stack.Result, error) { return eng.Apply(ctx, upd, st) })
		st = converged(upd, st)
		st = step("destroy", func() (stack.Result, error) { return eng.Delete(ctx, upd, st, destroyOptions) })
		if !st.Empty() {
			t.Fatalf("status after destroy (round %d) not empty: %+v", round, st)
		}
		if open := srv.EverOpenDatabases(); len(open) > 0 {
			t.Errorf("databases open to the internet (no trusted sources) at some moment: %v", open)
		}
		// Round 2 re-creates the same names at once: the held-name window
		// (and everything else) is met again.
	}
	waitEmpty(t, srv)

	counts := srv.StatusCounts()
	for _, a := range sc.answers {
		if counts[a] == 0 {
			var seen []string
			for k := range counts {
				seen = append(seen, k)
			}
			sort.Strings(seen)
			t.Errorf("the lifecycle never met %q; answers given:\n%s", a, strings.Join(seen, "\n"))
		}
	}
}
