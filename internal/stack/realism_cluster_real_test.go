package stack

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
)

// The same behaviours against the emulator's own realism (on by default):
// worker Droplets lingering in the VPC, held cluster names, nodes that never
// finish provisioning.

// Destroy right after apply: the deleted cluster's worker Droplets linger
// as VPC members (409) and destroy waits them out.
func TestRealisticDestroyWaitsOutWorkerDroplets(t *testing.T) {
	emu, e := startEngineVia(t, emulator.Config{}, nil)
	spec := smallSpec("realvpc")
	st := mustApply(t, e, spec, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := e.Delete(ctx, spec, st, DeleteOptions{})
	if err != nil || len(res.Warnings) > 0 {
		t.Fatalf("destroy: %v, warnings %v", err, res.Warnings)
	}
	counts := emu.StatusCounts()
	if counts["DELETE "+vpcDeleteRoute+" 409"]+counts["DELETE "+vpcDeleteRoute+" 403"] == 0 {
		t.Errorf("the VPC delete was never refused, so nothing lingered: %v", counts)
	}
	waitInventoryEmpty(t, emu)
}

// Destroy then apply again: the cluster name is held for a while (422) and
// the create waits until it is released.
func TestRealisticHeldNameAfterDestroy(t *testing.T) {
	emu, e := startEngineVia(t, emulator.Config{}, nil)
	spec := smallSpec("realheld")
	st := mustApply(t, e, spec, nil)
	res, err := e.Delete(context.Background(), spec, st, DeleteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st = mustApply(t, e, spec, res.Status)
	if st.Cluster == nil || st.Cluster.Name != "realheld" {
		t.Fatalf("cluster after the name was released: %+v", st.Cluster)
	}
	if emu.StatusCounts()["POST /v2/kubernetes/clusters 422"] == 0 {
		t.Errorf("the name was never held, so nothing was waited out")
	}
}

// An injected node failure leaves the node provisioning forever: the apply
// fails naming the pool, and a later one replaces the stuck node.
func TestRealisticStuckNodeReplaced(t *testing.T) {
	emu, e := startEngineVia(t, emulator.Config{TimeScale: 4000}, nil)
	spec := smallSpec("realstuck")
	st := mustApply(t, e, spec, nil)
	spec.Cluster.SystemPool.NodeCount = 2
	spec.Cluster.GPUPools = map[string]NodePoolSpec{"l40s": {Size: "gpu-l40sx1-48gb", NodeCount: 1,
		Taints: []Taint{{Key: "nvidia.com/gpu", Effect: "NoSchedule"}}}}
	if err := emu.FailNextTransitions(emulator.TransitionNodePool, 1); err != nil {
		t.Fatal(err)
	}
	created := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	res, err := e.Apply(ctx, spec, st)
	cancel()
	if err == nil || !strings.Contains(err.Error(), "node pool l40s has 0 of the 1 nodes it needs running, 1 still provisioning") {
		t.Fatalf("want the stuck pool named, got %v", err)
	}
	time.Sleep(time.Until(created.Add(1900 * time.Millisecond)))
	ref, err := e.Refresh(context.Background(), spec, res.Status)
	if err != nil {
		t.Fatal(err)
	}
	st = mustApply(t, e, spec, ref.Status)
	if emu.StatusCounts()["DELETE /v2/kubernetes/clusters/{cluster_id}/node_pools/{node_pool_id}/nodes/{node_id} 202"]+
		emu.StatusCounts()["DELETE /v2/kubernetes/clusters/{cluster_id}/node_pools/{node_pool_id}/nodes/{node_id} 204"] != 1 {
		t.Errorf("the stuck node was not replaced once: %v", emu.StatusCounts())
	}
	if p := st.Cluster.Pools["l40s"]; p.Ready != 1 {
		t.Errorf("after the replacement the pool is %+v", p)
	}
}
