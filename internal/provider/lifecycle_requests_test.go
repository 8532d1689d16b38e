package provider

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
	"github.com/attach-labs/terraform-provider-attach/internal/tfrun"
)

// lifecycleRequestBudget pins the API requests of the quickstart's full
// lifecycle (apply, no-op plan, in-place update, destroy) against the
// realistic emulator: 78 when this test was written (175 before waits
// polled around DigitalOcean's typical durations; the official provider
// needs 160, and the goal is half that, 80). The headroom absorbs a poll
// more or less where timing decides (a loaded machine); a regression of a
// read per wait, or a part read twice, fails.
const lifecycleRequestBudget = 84

// TestAccQuickstartLifecycleRequests runs examples/quickstart through the
// Terraform CLI (its own processes, as users run it) and counts the
// requests each phase makes. Waits poll in the API's time, so the counts
// do not depend on the emulator's time scale (the bench's -compare-scales
// shows it at 30 and 120); 120 keeps the test fast and the provider's own
// latency small against its finest poll interval.
func TestAccQuickstartLifecycleRequests(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1")
	}
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "terraform-provider-attach")
	buildProvider(t, bin)
	srv := startEmulator(t, emulator.Config{TimeScale: 120})
	var mu sync.Mutex
	phase := "init"
	counts := map[string]int{}
	notFound := map[string]int{}
	srv.SetRecorder(func(x emulator.Exchange) {
		mu.Lock()
		defer mu.Unlock()
		counts[phase]++
		if x.Status == 404 {
			notFound[phase]++
		}
	})
	ws, err := tfrun.New(filepath.Join(dir, "ws"), os.Getenv("TF_ACC_TERRAFORM_PATH"), bin, "0.1.0", filepath.Join(root, "examples", "quickstart"))
	if err != nil {
		t.Fatal(err)
	}
	ws.Point(srv.URL, srv.Token)
	// The emulator runs without the data plane (no Kubernetes API server
	// behind the cluster to write the quickstart's connection Secret into);
	// the budget counts DigitalOcean API requests, so the Secret is off.
	ws.Env = append(ws.Env, "TF_VAR_disable_kubernetes_secrets=true")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	steps := []struct {
		phase string
		args  []string
	}{
		{"init", []string{"init", "-input=false", "-no-color"}},
		{"create", []string{"apply", "-auto-approve", "-no-color"}},
		{"refresh", []string{"plan", "-detailed-exitcode", "-no-color"}},
		{"update", []string{"apply", "-auto-approve", "-no-color", "-var", "gpu_max_nodes=4"}},
		{"destroy", []string{"destroy", "-auto-approve", "-no-color", "-var", "gpu_max_nodes=4"}},
	}
	for _, s := range steps {
		mu.Lock()
		phase = s.phase
		mu.Unlock()
		var out bytes.Buffer
		if err := ws.Run(ctx, &out, s.args...); err != nil {
			t.Fatalf("terraform %s: %v\n%s", s.args[0], err, out.String())
		}
	}
	if inv := srv.Inventory(); !inv.Empty() {
		t.Fatalf("destroy left objects:\n%s", inv)
	}
	mu.Lock()
	defer mu.Unlock()
	total := counts["create"] + counts["refresh"] + counts["update"] + counts["destroy"]
	t.Logf("requests: create %d, refresh %d, update %d, destroy %d (404s %d); lifecycle %d",
		counts["create"], counts["refresh"], counts["update"], counts["destroy"], notFound["destroy"], total)
	if total > lifecycleRequestBudget {
		t.Errorf("the quickstart lifecycle made %d API requests, over the budget of %d", total, lifecycleRequestBudget)
	}
	// A no-op plan reads each part once: the VPC, the cluster list, the
	// database list, per database its firewall and (pg) pools or (valkey)
	// eviction policy, and the option/size catalogues the plan checks use.
	if counts["refresh"] > 10 {
		t.Errorf("the no-op plan made %d requests, want at most 10 (each part read once)", counts["refresh"])
	}
	// Destroy does not re-read what it already saw gone.
	if notFound["destroy"] > 2 {
		t.Errorf("destroy got %d 404s: it re-reads objects it already saw gone", notFound["destroy"])
	}
}
