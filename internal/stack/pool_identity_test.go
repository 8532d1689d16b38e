package stack

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/digitalocean/godo"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
)

// Node pool identity: the key survives a replacement (tag and node label),
// refresh and import map pools by it, and a replacement's apply returns
// only once the old pool is gone.

var nodePoolGetPath = regexp.MustCompile(`^/v2/kubernetes/clusters/([^/]+)/node_pools/([^/]+)$`)

// lingeringPools answers GETs of a deleted node pool with the pool while
// the emulator still tears it down, as DigitalOcean does: the pool answers
// until its nodes are drained and deleted (terraform-provider-digitalocean
// waits for its 404 after a delete). The emulator drops it from the API at
// once and keeps it in its inventory as "deleting" until then.
func lingeringPools(emu **emulator.Emulator) intercept {
	return func(w http.ResponseWriter, r *http.Request) bool {
		m := nodePoolGetPath.FindStringSubmatch(r.URL.Path)
		if r.Method != http.MethodGet || m == nil {
			return false
		}
		for _, it := range (*emu).Inventory().Items {
			if it.Kind == "kubernetes_node_pool" && it.ID == m[2] && it.Parent == m[1] && it.Status == "deleting" {
				w.Header().Set("Content-Type", "application/json")
				_ = json.NewEncoder(w).Encode(map[string]any{"node_pool": map[string]any{"id": it.ID, "name": it.Name, "nodes": []any{}}})
				return true
			}
		}
		return false
	}
}

func gpuSpec(name, size string) Spec {
	spec := smallSpec(name)
	spec.Cluster.GPUPools = map[string]NodePoolSpec{
		"h100": {Size: size, AutoScale: true, MinNodes: 0, MaxNodes: 1, Labels: map[string]string{"workload": "inference"},
			Taints: []Taint{{Key: "nvidia.com/gpu", Effect: "NoSchedule"}}},
	}
	return spec
}

func clusterPools(t *testing.T, e *Engine, id string) []*godo.KubernetesNodePool {
	t.Helper()
	c, _, err := e.API.Kubernetes.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return c.NodePools
}

func TestGPUPoolReplacementKeepsItsIdentityAndWaitsForTheOldPool(t *testing.T) {
	var emu *emulator.Emulator
	// A minute of deletion is 100 ms here: long enough that an apply not
	// waiting for it returns while the old pool is still there.
	emu, e := startEngineVia2(t, emulator.Config{TimeScale: 600}, lingeringPools(&emu), nil)
	spec := gpuSpec("ident", "gpu-h100x1-80gb")
	st := mustApply(t, e, spec, nil)
	oldID := st.Cluster.Pools["h100"].ID

	spec = gpuSpec("ident", "gpu-l40sx1-48gb")
	st = mustApply(t, e, spec, st)

	// The old pool is gone when the apply returns, not merely deleting.
	for _, it := range emu.Inventory().Items {
		if it.ID == oldID {
			t.Fatalf("the replaced pool %s (%s) is still %s after the apply returned", it.Name, it.ID, it.Status)
		}
	}
	// The new DOKS pool carries the key as tag and node label.
	var names []string
	for _, p := range clusterPools(t, e, st.Cluster.ID) {
		names = append(names, p.Name)
		if p.Name != "h100-b" {
			continue
		}
		if !slices.Contains(p.Tags, "attach-pool:h100") || p.Labels["attach.dev/pool"] != "h100" || p.Labels["workload"] != "inference" {
			t.Fatalf("replacement pool h100-b: tags %v, labels %v; want the tag attach-pool:h100 and the label attach.dev/pool=h100", p.Tags, p.Labels)
		}
	}
	if slices.Sort(names); !slices.Equal(names, []string{"h100-b", "system"}) {
		t.Fatalf("pools %v, want h100-b and system", names)
	}
	// The stack's identity never shows as the user's labels or tags.
	if got := st.Cluster.Pools["h100"]; got == nil || got.Name != "h100-b" || len(got.Spec.Labels) != 1 || !got.Marked ||
		slices.ContainsFunc(got.Tags, func(t string) bool { return t == "attach-pool:h100" }) {
		t.Fatalf("status of pool h100 = %+v", got)
	}

	// Import maps the pool by its key, not by its DOKS name.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	found, fst, err := e.Discover(ctx, "ident")
	if err != nil {
		t.Fatal(err)
	}
	if keys := sortedKeys(found.Cluster.GPUPools); !slices.Equal(keys, []string{"h100"}) {
		t.Fatalf("discovered GPU pools %v, want [h100]", keys)
	}
	if p := found.Cluster.GPUPools["h100"]; p.Size != "gpu-l40sx1-48gb" || !SamePoolConfig(p, spec.Cluster.GPUPools["h100"]) {
		t.Fatalf("discovered pool h100 = %+v, want %+v", p, spec.Cluster.GPUPools["h100"])
	}
	if fst.Cluster.Pools["h100"].Name != "h100-b" {
		t.Fatalf("discovered pool h100 has DOKS name %q", fst.Cluster.Pools["h100"].Name)
	}

	// A second size change goes to the other name and back to the first key.
	spec = gpuSpec("ident", "gpu-h100x1-80gb")
	st = mustApply(t, e, spec, fst)
	if got := st.Cluster.Pools["h100"]; got == nil || got.Name != "h100-a" || got.Spec.Size != "gpu-h100x1-80gb" {
		t.Fatalf("after a second replacement pool h100 = %+v", got)
	}
	if _, err := e.Delete(ctx, spec, st, DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitInventoryEmpty(t, emu)
}

// A pool made before pools carried their key (no tag, no label) is still
// matched by its name, and the next apply gives it its identity.
func TestUntaggedPoolGetsItsIdentity(t *testing.T) {
	emu, e := startEngineVia(t, emulator.Config{}, nil)
	spec := gpuSpec("legacy", "gpu-h100x1-80gb")
	st := mustApply(t, e, spec, nil)
	ctx := context.Background()
	p := st.Cluster.Pools["h100"]
	// Strip the identity, as a pool created by an earlier version has none.
	if _, _, err := e.API.Kubernetes.UpdateNodePool(ctx, st.Cluster.ID, p.ID, &godo.KubernetesNodePoolUpdateRequest{
		Name: p.Name, Tags: spec.AllTags(), Labels: map[string]string{"workload": "inference"}}); err != nil {
		t.Fatal(err)
	}
	_, fst, err := e.Discover(ctx, "legacy")
	if err != nil {
		t.Fatal(err)
	}
	if got := fst.Cluster.Pools["h100"]; got == nil || got.Marked {
		t.Fatalf("an untagged pool is matched by name, unmarked: %+v", got)
	}
	st = mustApply(t, e, spec, fst)
	for _, p := range clusterPools(t, e, st.Cluster.ID) {
		if !slices.Contains(p.Tags, PoolTag(keyOrName(p))) || p.Labels[PoolLabel] != p.Name {
			t.Fatalf("pool %s after apply: tags %v, labels %v", p.Name, p.Tags, p.Labels)
		}
	}
	if _, err := e.Delete(ctx, spec, st, DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitInventoryEmpty(t, emu)
}

// Pools map to keys by their tag first; where two claim a key (the old pool
// of a replacement still draining), state's pool, else the live one, wins;
// untagged pools fall back to the name state knows, then their own name.
func TestPoolsByKey(t *testing.T) {
	node := func(state string) *godo.KubernetesNode {
		return &godo.KubernetesNode{Status: &godo.KubernetesNodeStatus{State: state}}
	}
	old := &godo.KubernetesNodePool{ID: "old", Name: "h100", Tags: []string{"attach-pool:h100"}, Nodes: []*godo.KubernetesNode{node("draining")}}
	cur := &godo.KubernetesNodePool{ID: "new", Name: "h100-b", Tags: []string{"attach-pool:h100"}, Nodes: []*godo.KubernetesNode{node("provisioning")}}
	legacy := &godo.KubernetesNodePool{ID: "leg", Name: "a100-b"}
	bare := &godo.KubernetesNodePool{ID: "bare", Name: "system"}
	// A pool named like another key but tagged for its own never shadows it.
	tagged := &godo.KubernetesNodePool{ID: "tag", Name: "l40-b", Tags: []string{"attach-pool:l40"}}

	got := poolsByKey([]*godo.KubernetesNodePool{old, cur, legacy, bare, tagged}, nil)
	ids := map[string]string{}
	for k, p := range got {
		ids[k] = p.ID
	}
	want := map[string]string{"h100": "new", "a100-b": "leg", "system": "bare", "l40": "tag"}
	if !maps.Equal(ids, want) {
		t.Fatalf("without state: %v, want %v", ids, want)
	}

	prior := &ClusterStatus{Pools: map[string]*NodePoolStatus{"h100": {ID: "old", Name: "h100"}, "a100": {ID: "leg", Name: "a100-b"}}}
	ids = map[string]string{}
	for k, p := range poolsByKey([]*godo.KubernetesNodePool{cur, old, legacy, bare}, prior) {
		ids[k] = p.ID
	}
	want = map[string]string{"h100": "old", "a100": "leg", "system": "bare"}
	if !maps.Equal(ids, want) {
		t.Fatalf("with state: %v, want %v", ids, want)
	}
}
