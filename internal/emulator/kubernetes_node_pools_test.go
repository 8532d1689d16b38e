package emulator

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/digitalocean/godo"
)

func TestKubernetesAMDPoolPluginsWithoutGPULabels(t *testing.T) {
	_, c := startTest(t, Config{})
	cl, _, err := c.Kubernetes.Create(ctx, &godo.KubernetesClusterCreateRequest{
		Name: "amd", RegionSlug: "atl1", VersionSlug: "latest",
		NodePools: []*godo.KubernetesNodePoolCreateRequest{{Name: "mi300x", Size: "gpu-mi300x8-1536gb", Count: 1}},
	})
	if err != nil {
		t.Fatal(err)
	}
	p := cl.NodePools[0]
	if len(p.Labels) != 0 || len(p.Taints) != 0 {
		t.Fatalf("an AMD pool without user labels or taints shows labels %v taints %v; DOKS's GPU ones are not in the API", p.Labels, p.Taints)
	}
	if cl.AmdGpuDevicePlugin == nil || !*cl.AmdGpuDevicePlugin.Enabled || cl.RdmaSharedDevicePlugin == nil || !*cl.RdmaSharedDevicePlugin.Enabled {
		t.Fatalf("AMD 8-GPU pools enable the AMD device plugin and RDMA: %+v %+v", cl.AmdGpuDevicePlugin, cl.RdmaSharedDevicePlugin)
	}
}

func TestKubernetesAutoscaleMinZero(t *testing.T) {
	_, c := startTest(t, Config{})
	cl, _, err := c.Kubernetes.Create(ctx, &godo.KubernetesClusterCreateRequest{
		Name: "scale", RegionSlug: "nyc2", VersionSlug: "1.32.5-do.0",
		NodePools: []*godo.KubernetesNodePoolCreateRequest{
			{Name: "cpu", Size: "s-1vcpu-2gb", Count: 1},
			// godo omits count=0 and min_nodes=0: the pool starts empty.
			{Name: "gpu", Size: "gpu-h100x8-640gb", AutoScale: true, MinNodes: 0, MaxNodes: 2},
			{Name: "burst", Size: "c-4", AutoScale: true, MinNodes: 1, MaxNodes: 5},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	gpu, burst := poolNamed(t, cl, "gpu"), poolNamed(t, cl, "burst")
	if !gpu.AutoScale || gpu.MinNodes != 0 || gpu.MaxNodes != 2 || gpu.Count != 0 || len(gpu.Nodes) != 0 {
		t.Fatalf("gpu pool %+v", gpu)
	}
	if burst.Count != 1 || len(burst.Nodes) != 1 {
		t.Fatalf("an autoscaled pool without count starts at min_nodes: %+v", burst)
	}
	// Scale the empty GPU pool up within its bounds.
	one := 1
	p, resp, err := c.Kubernetes.UpdateNodePool(ctx, cl.ID, gpu.ID, &godo.KubernetesNodePoolUpdateRequest{Name: "gpu", Count: &one})
	if err != nil || resp.StatusCode != http.StatusAccepted || p.Count != 1 || len(p.Nodes) != 1 || !p.AutoScale {
		t.Fatalf("scale up: %v %+v", err, p)
	}
	three := 3
	_, _, err = c.Kubernetes.UpdateNodePool(ctx, cl.ID, gpu.ID, &godo.KubernetesNodePoolUpdateRequest{Name: "gpu", Count: &three})
	if er := wantStatus(t, err, http.StatusUnprocessableEntity); !strings.Contains(er.Message, "max_nodes") {
		t.Fatalf("count above max_nodes: %s", er.Message)
	}
}

func TestKubernetesUpdateAndScale(t *testing.T) {
	srv, c := startTest(t, Config{})
	clk := newHandClock(srv)
	cl, _, err := c.Kubernetes.Create(ctx, simpleCluster("web", "fra1"))
	if err != nil {
		t.Fatal(err)
	}
	clk.advance(ClusterProvisionDuration)

	on := true
	upd, resp, err := c.Kubernetes.Update(ctx, cl.ID, &godo.KubernetesClusterUpdateRequest{
		Name: "web-2", Tags: []string{"prod"}, HA: &on, AutoUpgrade: &on, SurgeUpgrade: true,
		MaintenancePolicy: &godo.KubernetesMaintenancePolicy{StartTime: "22:30", Day: godo.KubernetesMaintenanceDayFriday},
	})
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("update: %v", err)
	}
	if upd.Name != "web-2" || !upd.HA || !upd.AutoUpgrade || !upd.SurgeUpgrade || !slices.Contains(upd.Tags, "prod") ||
		!slices.Contains(upd.Tags, "k8s:"+cl.ID) || upd.MaintenancePolicy.StartTime != "22:30" || upd.MaintenancePolicy.Day != godo.KubernetesMaintenanceDayFriday {
		t.Fatalf("updated cluster %+v", upd)
	}
	off := false
	_, _, err = c.Kubernetes.Update(ctx, cl.ID, &godo.KubernetesClusterUpdateRequest{Name: "web-2", HA: &off})
	if er := wantStatus(t, err, http.StatusUnprocessableEntity); !strings.Contains(er.Message, "high availability cannot be disabled") {
		t.Fatalf("disable HA: %s", er.Message)
	}
	_, _, err = c.Kubernetes.Update(ctx, cl.ID, &godo.KubernetesClusterUpdateRequest{Tags: []string{"x"}})
	if er := wantStatus(t, err, http.StatusUnprocessableEntity); !strings.Contains(er.Message, "name is required") {
		t.Fatalf("update without name: %s", er.Message)
	}

	pool := cl.NodePools[0]
	// The last pool cannot go.
	_, err = c.Kubernetes.DeleteNodePool(ctx, cl.ID, pool.ID)
	if er := wantStatus(t, err, http.StatusUnprocessableEntity); !strings.Contains(er.Message, "last node pool") {
		t.Fatalf("delete last pool: %s", er.Message)
	}
	// Scale up: new nodes provision.
	four := 4
	p, _, err := c.Kubernetes.UpdateNodePool(ctx, cl.ID, pool.ID, &godo.KubernetesNodePoolUpdateRequest{Name: "default", Count: &four, Labels: map[string]string{"tier": "web"}})
	if err != nil || p.Count != 4 || len(p.Nodes) != 4 || p.Labels["tier"] != "web" {
		t.Fatalf("scale up: %v %+v", err, p)
	}
	if got := nodeStates(p); got[0] != "running" || got[3] != "provisioning" {
		t.Fatalf("node states after scale up: %v", got)
	}
	// Size is immutable.
	req, _ := c.NewRequest(ctx, http.MethodPut, "/v2/kubernetes/clusters/"+cl.ID+"/node_pools/"+pool.ID, map[string]any{"name": "default", "count": 4, "size": "c-8"})
	_, err = c.Do(ctx, req, nil)
	if er := wantStatus(t, err, http.StatusUnprocessableEntity); !strings.Contains(er.Message, "size cannot be changed") {
		t.Fatalf("size change: %s", er.Message)
	}
	// Scale down: surplus nodes drain, then go.
	one := 1
	p, _, err = c.Kubernetes.UpdateNodePool(ctx, cl.ID, pool.ID, &godo.KubernetesNodePoolUpdateRequest{Name: "default", Count: &one})
	if err != nil || p.Count != 1 {
		t.Fatalf("scale down: %v %+v", err, p)
	}
	if got := nodeStates(p); len(got) != 4 || slices.Index(got, "running") < 0 || !slices.Contains(got, "draining") {
		t.Fatalf("node states after scale down: %v", got)
	}
	clk.advance(3 * DeleteDuration)
	p, _, err = c.Kubernetes.GetNodePool(ctx, cl.ID, pool.ID)
	if err != nil || len(p.Nodes) != 1 || p.Nodes[0].Status.State != "running" {
		t.Fatalf("after draining: %v %v", err, nodeStates(p))
	}

	// Add a pool, then delete and replace single nodes.
	extra, resp, err := c.Kubernetes.CreateNodePool(ctx, cl.ID, &godo.KubernetesNodePoolCreateRequest{Name: "extra", Size: "s-1vcpu-2gb", Count: 2})
	if err != nil || resp.StatusCode != http.StatusCreated || len(extra.Nodes) != 2 {
		t.Fatalf("create pool: %v %+v", err, extra)
	}
	_, _, err = c.Kubernetes.CreateNodePool(ctx, cl.ID, &godo.KubernetesNodePoolCreateRequest{Name: "extra", Size: "s-1vcpu-2gb", Count: 1})
	if er := wantStatus(t, err, http.StatusUnprocessableEntity); !strings.Contains(er.Message, "unique") {
		t.Fatalf("duplicate pool: %s", er.Message)
	}
	_, _, err = c.Kubernetes.CreateNodePool(ctx, cl.ID, &godo.KubernetesNodePoolCreateRequest{Name: "h100", Size: "gpu-h100x1-80gb", Count: 1})
	if er := wantStatus(t, err, http.StatusUnprocessableEntity); !strings.Contains(er.Message, `not offered in region "fra1"`) {
		t.Fatalf("gpu pool in fra1: %s", er.Message)
	}
	resp, err = c.Kubernetes.DeleteNode(ctx, cl.ID, extra.ID, extra.Nodes[0].ID, &godo.KubernetesNodeDeleteRequest{Replace: true})
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("replace node: %v", err)
	}
	p, _, _ = c.Kubernetes.GetNodePool(ctx, cl.ID, extra.ID)
	if p.Count != 2 || len(p.Nodes) != 3 || p.Nodes[0].Status.State != "draining" || p.Nodes[2].Status.State != "provisioning" {
		t.Fatalf("after replace: count %d nodes %v", p.Count, nodeStates(p))
	}
	if _, err := c.Kubernetes.DeleteNode(ctx, cl.ID, extra.ID, extra.Nodes[1].ID, &godo.KubernetesNodeDeleteRequest{SkipDrain: true}); err != nil {
		t.Fatal(err)
	}
	p, _, _ = c.Kubernetes.GetNodePool(ctx, cl.ID, extra.ID)
	if p.Count != 1 || p.Nodes[1].Status.State != "deleting" {
		t.Fatalf("after delete without replace: count %d nodes %v", p.Count, nodeStates(p))
	}
	_, err = c.Kubernetes.DeleteNode(ctx, cl.ID, extra.ID, p.Nodes[2].ID, nil)
	if er := wantStatus(t, err, http.StatusUnprocessableEntity); !strings.Contains(er.Message, "replace=1") {
		t.Fatalf("deleting the only node: %s", er.Message)
	}
	_, err = c.Kubernetes.DeleteNode(ctx, cl.ID, extra.ID, newID(), nil)
	wantStatus(t, err, http.StatusNotFound)

	if _, err := c.Kubernetes.DeleteNodePool(ctx, cl.ID, extra.ID); err != nil {
		t.Fatal(err)
	}
	// Readable, its nodes deleting, until the teardown ends (see
	// TestKubernetesDeletedPoolReadableUntilTornDown); gone from the list.
	if pools, _, err := c.Kubernetes.ListNodePools(ctx, cl.ID, nil); err != nil || len(pools) != 1 {
		t.Fatalf("pools listed after the delete: %d (err %v)", len(pools), err)
	}
	if inv := srv.Inventory(); inv.Count("kubernetes_node_pool") != 2 {
		t.Fatalf("a deleted pool stays in the inventory while its nodes go:\n%s", inv)
	}
	clk.advance(DeleteDuration)
	if inv := srv.Inventory(); inv.Count("kubernetes_node_pool") != 1 {
		t.Fatalf("inventory after teardown:\n%s", inv)
	}
}

// A deleted pool reads with its nodes "deleting" until its teardown ends,
// then 404, as the official provider's wait after a pool delete expects.
func TestKubernetesDeletedPoolReadableUntilTornDown(t *testing.T) {
	srv, c := startTest(t, Config{})
	clk := newHandClock(srv)
	cl, _, err := c.Kubernetes.Create(ctx, simpleCluster("teardown", "ams3"))
	if err != nil {
		t.Fatal(err)
	}
	clk.advance(ClusterProvisionDuration + NodePoolProvisionDuration)
	pool, _, err := c.Kubernetes.CreateNodePool(ctx, cl.ID, &godo.KubernetesNodePoolCreateRequest{Name: "extra", Size: "s-1vcpu-2gb", Count: 2})
	if err != nil {
		t.Fatal(err)
	}
	clk.advance(NodePoolProvisionDuration)
	if _, err := c.Kubernetes.DeleteNodePool(ctx, cl.ID, pool.ID); err != nil {
		t.Fatal(err)
	}
	got, _, err := c.Kubernetes.GetNodePool(ctx, cl.ID, pool.ID)
	if err != nil {
		t.Fatalf("a pool being torn down must still read: %v", err)
	}
	for _, n := range got.Nodes {
		if n.Status == nil || n.Status.State != "deleting" {
			t.Fatalf("node %s of a deleted pool is %+v, want deleting", n.Name, n.Status)
		}
	}
	if all, _, err := c.Kubernetes.ListNodePools(ctx, cl.ID, nil); err != nil || len(all) != 1 {
		t.Fatalf("the pool list still shows the deleted pool (%d pools, err %v)", len(all), err)
	}
	clk.advance(DeleteDuration)
	if _, _, err := c.Kubernetes.GetNodePool(ctx, cl.ID, pool.ID); apiStatus(err) != http.StatusNotFound {
		t.Fatalf("after the teardown: %v, want 404", err)
	}
}
