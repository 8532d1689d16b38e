package emulator

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/digitalocean/godo"
)

// Realism of DOKS and VPCs (issue 9 contract, behaviours 3, 4, 5 and 9).

// tick is a margin, in DigitalOcean time, that keeps clock moves clear of a
// window's exact end (scaled durations are rounded to the nanosecond).
const tick = time.Second

// wantVPCDeleteRefused checks that deleting the VPC answers status with the
// given error id and DigitalOcean's message.
func wantVPCDeleteRefused(t *testing.T, srv *Server, vpcID string, status int, id string) {
	t.Helper()
	got, body := rawDelete(t, srv, "/v2/vpcs/"+vpcID)
	if got != status || body.ID != id || !strings.HasPrefix(body.Message, "Can not delete VPC with members") {
		t.Fatalf("VPC delete answered %d %+v, want %d %q \"Can not delete VPC with members...\"", got, body, status, id)
	}
}

// vpcMemberMap lists the VPC's members (of resourceType, "" for all) as URN -> name.
func vpcMemberMap(t *testing.T, c *godo.Client, vpcID, resourceType string) map[string]string {
	t.Helper()
	var req *godo.VPCListMembersRequest
	if resourceType != "" {
		req = &godo.VPCListMembersRequest{ResourceType: resourceType}
	}
	members, _, err := c.VPCs.ListMembers(ctx, vpcID, req, &godo.ListOptions{PerPage: 200})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, m := range members {
		if m.CreatedAt.IsZero() {
			t.Errorf("member %+v has no created_at", m)
		}
		out[m.URN] = m.Name
	}
	return out
}

func nodeDroplets(pools ...*godo.KubernetesNodePool) map[string]string {
	out := map[string]string{}
	for _, p := range pools {
		for _, n := range p.Nodes {
			out["do:droplet:"+n.DropletID] = n.Name
		}
	}
	return out
}

func sameMembers(got, want map[string]string) bool {
	if len(got) != len(want) {
		return false
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

// Behaviour 3: worker nodes are Droplet members of the cluster's VPC while
// they exist and for DropletLinger after they go; the VPC delete answers 403
// while a live member remains and 409 while only lingering ones do.
func TestVPCDeleteForbiddenWithMembersConflictWhileDropletsLinger(t *testing.T) {
	srv, c := startTest(t, Config{})
	clk := newHandClock(srv)
	linger := DefaultRealism.DropletLinger
	v, _, err := c.VPCs.Create(ctx, &godo.VPCCreateRequest{Name: "nodes-net", RegionSlug: "sfo3", IPRange: "10.61.0.0/20"})
	if err != nil {
		t.Fatal(err)
	}
	cl, _, err := c.Kubernetes.Create(ctx, &godo.KubernetesClusterCreateRequest{
		Name: "members", RegionSlug: "sfo3", VersionSlug: "latest", VPCUUID: v.ID,
		NodePools: []*godo.KubernetesNodePoolCreateRequest{
			{Name: "a", Size: "s-2vcpu-4gb", Count: 2},
			{Name: "b", Size: "s-1vcpu-2gb", Count: 1},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	a, b := poolNamed(t, cl, "a"), poolNamed(t, cl, "b")
	droplets := nodeDroplets(a, b)
	if got := vpcMemberMap(t, c, v.ID, "droplet"); len(droplets) != 3 || !sameMembers(got, droplets) {
		t.Fatalf("droplet members %v, want the nodes %v", got, droplets)
	}
	all := vpcMemberMap(t, c, v.ID, "")
	if len(all) != 4 || all[cl.URN()] != "members" {
		t.Fatalf("members %v: want the cluster and its three nodes", all)
	}
	if got := vpcMemberMap(t, c, v.ID, "kubernetes"); len(got) != 1 {
		t.Fatalf("kubernetes members %v", got)
	}
	wantVPCDeleteRefused(t, srv, v.ID, http.StatusForbidden, "forbidden")
	_, err = c.VPCs.Delete(ctx, v.ID)
	wantStatus(t, err, http.StatusForbidden)

	// A deleted pool's Droplet lingers for DropletLinger.
	if _, err := c.Kubernetes.DeleteNodePool(ctx, cl.ID, b.ID); err != nil {
		t.Fatal(err)
	}
	if got := vpcMemberMap(t, c, v.ID, "droplet"); !sameMembers(got, droplets) {
		t.Fatalf("right after the pool delete: droplet members %v, want %v", got, droplets)
	}
	clk.advance(linger - tick)
	if got := vpcMemberMap(t, c, v.ID, "droplet"); len(got) != 3 {
		t.Fatalf("within DropletLinger: droplet members %v", got)
	}
	clk.advance(2 * tick)
	delete(droplets, "do:droplet:"+b.Nodes[0].DropletID)
	if got := vpcMemberMap(t, c, v.ID, "droplet"); !sameMembers(got, droplets) {
		t.Fatalf("after DropletLinger: droplet members %v, want %v", got, droplets)
	}

	// A node removed by a scale-down is a member while it drains and is
	// deleted, then lingers for DropletLinger.
	one := 1
	a, _, err = c.Kubernetes.UpdateNodePool(ctx, cl.ID, a.ID, &godo.KubernetesNodePoolUpdateRequest{Name: "a", Count: &one})
	if err != nil {
		t.Fatal(err)
	}
	var gone *godo.KubernetesNode
	for _, n := range a.Nodes {
		if n.Status.State == "draining" {
			gone = n
		}
	}
	if gone == nil {
		t.Fatalf("no node drains after the scale-down: %v", nodeStates(a))
	}
	clk.advance(2*DeleteDuration + tick)
	if a, _, _ = c.Kubernetes.GetNodePool(ctx, cl.ID, a.ID); len(a.Nodes) != 1 {
		t.Fatalf("the drained node should be gone: %v", nodeStates(a))
	}
	if got := vpcMemberMap(t, c, v.ID, "droplet"); !sameMembers(got, droplets) {
		t.Fatalf("right after the node went: droplet members %v, want %v", got, droplets)
	}
	clk.advance(linger)
	delete(droplets, "do:droplet:"+gone.DropletID)
	if got := vpcMemberMap(t, c, v.ID, "droplet"); !sameMembers(got, droplets) || len(got) != 1 {
		t.Fatalf("after DropletLinger: droplet members %v, want %v", got, droplets)
	}

	// Deleting the cluster leaves only lingering members: 409.
	if _, err := c.Kubernetes.Delete(ctx, cl.ID); err != nil {
		t.Fatal(err)
	}
	wantVPCDeleteRefused(t, srv, v.ID, http.StatusConflict, "conflict")
	if got := vpcMemberMap(t, c, v.ID, ""); len(got) != 2 || got[cl.URN()] != "members" || !sameMembers(vpcMemberMap(t, c, v.ID, "droplet"), droplets) {
		t.Fatalf("members during teardown %v", got)
	}
	clk.advance(DeleteDuration + tick)
	// The cluster is gone (inventory and members); its Droplet is not, and
	// lingering Droplets are not user objects: the inventory holds only the VPC.
	if inv := srv.Inventory(); len(inv.Items) != 1 || inv.Count("vpc") != 1 {
		t.Fatalf("inventory while Droplets linger:\n%s", inv)
	}
	if got := vpcMemberMap(t, c, v.ID, ""); !sameMembers(got, droplets) {
		t.Fatalf("members after the cluster's teardown %v, want %v", got, droplets)
	}
	wantVPCDeleteRefused(t, srv, v.ID, http.StatusConflict, "conflict")
	clk.advance(linger - DeleteDuration)
	if resp, err := c.VPCs.Delete(ctx, v.ID); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("VPC delete after the Droplets went: %v", err)
	}
	if inv := srv.Inventory(); !inv.Empty() {
		t.Fatalf("inventory:\n%s", inv)
	}
}

// Behaviour 3 with databases: a live database is a live member (403); a
// deleted one in its grace period is a lingering one (409).
func TestVPCDeleteForbiddenWithLiveDatabaseConflictWhenDeleted(t *testing.T) {
	// Read-after-create is off: this test is about VPC membership.
	srv, c := startTest(t, Config{Realism: Realism{ReadAfterCreate: -1}})
	v, _, err := c.VPCs.Create(ctx, &godo.VPCCreateRequest{Name: "db-net", RegionSlug: "nyc3"})
	if err != nil {
		t.Fatal(err)
	}
	req := dbRequest("members-db", "pg")
	req.PrivateNetworkUUID = v.ID
	db, _, err := c.Databases.Create(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	wantVPCDeleteRefused(t, srv, v.ID, http.StatusForbidden, "forbidden")
	if _, err := c.Databases.Delete(ctx, db.ID); err != nil {
		t.Fatal(err)
	}
	wantVPCDeleteRefused(t, srv, v.ID, http.StatusConflict, "conflict")
}

// With DropletLinger off (Ideal, or the window set negative), nodes leave
// the VPC with their cluster; the deleted cluster itself still holds the VPC
// (409) until its teardown ends.
func TestVPCDropletLingerOff(t *testing.T) {
	for name, r := range map[string]Realism{"ideal": {Ideal: true}, "droplet linger off": {DropletLinger: -1}} {
		t.Run(name, func(t *testing.T) {
			srv, c := startTest(t, Config{Realism: r})
			clk := newHandClock(srv)
			v, _, err := c.VPCs.Create(ctx, &godo.VPCCreateRequest{Name: "quick-net", RegionSlug: "sfo3", IPRange: "10.62.0.0/20"})
			if err != nil {
				t.Fatal(err)
			}
			req := simpleCluster("quick", "sfo3")
			req.VPCUUID = v.ID
			cl, _, err := c.Kubernetes.Create(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if got := vpcMemberMap(t, c, v.ID, "droplet"); !sameMembers(got, nodeDroplets(cl.NodePools...)) {
				t.Fatalf("droplet members %v", got)
			}
			wantVPCDeleteRefused(t, srv, v.ID, http.StatusForbidden, "forbidden")
			if _, err := c.Kubernetes.Delete(ctx, cl.ID); err != nil {
				t.Fatal(err)
			}
			if got := vpcMemberMap(t, c, v.ID, "droplet"); len(got) != 0 {
				t.Fatalf("droplets linger with the window off: %v", got)
			}
			wantVPCDeleteRefused(t, srv, v.ID, http.StatusConflict, "conflict")
			clk.advance(DeleteDuration)
			if _, err := c.VPCs.Delete(ctx, v.ID); err != nil {
				t.Fatalf("VPC delete after the teardown: %v", err)
			}
		})
	}
}

// Behaviour 4: a deleted cluster's name is held for NameHold.
func TestKubernetesClusterNameHeld(t *testing.T) {
	srv, c := startTest(t, Config{})
	clk := newHandClock(srv)
	cl, _, err := c.Kubernetes.Create(ctx, simpleCluster("held", "ams3"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Kubernetes.Delete(ctx, cl.ID); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Kubernetes.Create(ctx, simpleCluster("held", "ams3"))
	if er := wantStatus(t, err, http.StatusUnprocessableEntity); !strings.Contains(er.Message, "is not available") {
		t.Fatalf("recreate within NameHold: %s", er.Message)
	}
	if _, _, err := c.Kubernetes.Create(ctx, simpleCluster("not-held", "ams3")); err != nil {
		t.Fatalf("another name is free: %v", err)
	}
	clk.advance(DefaultRealism.NameHold - tick)
	_, _, err = c.Kubernetes.Create(ctx, simpleCluster("held", "ams3"))
	wantStatus(t, err, http.StatusUnprocessableEntity)
	clk.advance(2 * tick)
	if _, resp, err := c.Kubernetes.Create(ctx, simpleCluster("held", "ams3")); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("recreate after NameHold: %v", err)
	}
}

func TestKubernetesClusterNameFreeAtOnceWhenIdeal(t *testing.T) {
	_, c := startTest(t, Config{Realism: Realism{Ideal: true}})
	cl, _, err := c.Kubernetes.Create(ctx, simpleCluster("again", "ams3"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Kubernetes.Delete(ctx, cl.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Kubernetes.Create(ctx, simpleCluster("again", "ams3")); err != nil {
		t.Fatalf("with Ideal the name is free at once: %v", err)
	}
}

// Behaviour 5: no "error" node state, in the happy path too (a correction,
// not a window).
func TestKubernetesFailedNodesStayProvisioningWhenIdeal(t *testing.T) {
	srv, c := startTest(t, Config{Realism: Realism{Ideal: true}})
	clk := newHandClock(srv)
	cl, _, err := c.Kubernetes.Create(ctx, simpleCluster("stuck", "blr1"))
	if err != nil {
		t.Fatal(err)
	}
	clk.advance(ClusterProvisionDuration)
	testFailedNodesStayProvisioning(t, srv, c, clk, cl.ID)
}

// Behaviour 5: GPU nodes added to an existing pool (scale-up, replacement)
// wait GPUCapacityWait on top of GPUPoolProvisionDuration; a new pool's
// nodes and CPU nodes do not.
func TestKubernetesGPUCapacityWait(t *testing.T) {
	for name, tc := range map[string]struct {
		r    Realism
		wait time.Duration
	}{
		"default": {Realism{}, DefaultRealism.GPUCapacityWait},
		"ideal":   {Realism{Ideal: true}, 0},
	} {
		t.Run(name, func(t *testing.T) {
			srv, c := startTest(t, Config{Realism: tc.r})
			clk := newHandClock(srv)
			cl, _, err := c.Kubernetes.Create(ctx, &godo.KubernetesClusterCreateRequest{
				Name: "gpus", RegionSlug: "tor1", VersionSlug: "latest",
				NodePools: []*godo.KubernetesNodePoolCreateRequest{
					{Name: "cpu", Size: "s-2vcpu-4gb", Count: 1},
					{Name: "gpu", Size: "gpu-h100x1-80gb", Count: 1},
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			clk.advance(GPUPoolProvisionDuration)
			cl = getCluster(t, c, cl.ID)
			gpu, cpu := poolNamed(t, cl, "gpu"), poolNamed(t, cl, "cpu")
			if !allNodes(gpu, "running") || !allNodes(cpu, "running") {
				t.Fatalf("a new cluster's GPU pool takes GPUPoolProvisionDuration: gpu %v cpu %v", nodeStates(gpu), nodeStates(cpu))
			}
			// A new GPU pool on the running cluster: no capacity wait.
			if _, _, err := c.Kubernetes.CreateNodePool(ctx, cl.ID, &godo.KubernetesNodePoolCreateRequest{Name: "gpu2", Size: "gpu-l40sx1-48gb", Count: 1}); err != nil {
				t.Fatal(err)
			}
			two := 2
			if _, _, err := c.Kubernetes.UpdateNodePool(ctx, cl.ID, gpu.ID, &godo.KubernetesNodePoolUpdateRequest{Name: "gpu", Count: &two}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Kubernetes.DeleteNode(ctx, cl.ID, gpu.ID, gpu.Nodes[0].ID, &godo.KubernetesNodeDeleteRequest{Replace: true, SkipDrain: true}); err != nil {
				t.Fatal(err)
			}
			if _, _, err := c.Kubernetes.UpdateNodePool(ctx, cl.ID, cpu.ID, &godo.KubernetesNodePoolUpdateRequest{Name: "cpu", Count: &two}); err != nil {
				t.Fatal(err)
			}
			clk.advance(GPUPoolProvisionDuration + tick)
			cl = getCluster(t, c, cl.ID)
			if !allNodes(poolNamed(t, cl, "gpu2"), "running") || !allNodes(poolNamed(t, cl, "cpu"), "running") {
				t.Fatalf("a new GPU pool and CPU scale-ups wait no capacity: gpu2 %v cpu %v", nodeStates(poolNamed(t, cl, "gpu2")), nodeStates(poolNamed(t, cl, "cpu")))
			}
			// The scale-up node and the replacement.
			want := "running"
			if tc.wait > 0 {
				want = "provisioning"
			}
			if got := nodeStates(poolNamed(t, cl, "gpu")); !slices.Equal(got, []string{want, want}) {
				t.Fatalf("GPU nodes added to an existing pool after GPUPoolProvisionDuration: %v, want both %s", got, want)
			}
			if tc.wait == 0 {
				return
			}
			clk.advance(tc.wait - 2*tick)
			if got := nodeStates(poolNamed(t, getCluster(t, c, cl.ID), "gpu")); !slices.Equal(got, []string{"provisioning", "provisioning"}) {
				t.Fatalf("within GPUCapacityWait: %v", got)
			}
			clk.advance(2 * tick)
			if got := nodeStates(poolNamed(t, getCluster(t, c, cl.ID), "gpu")); !slices.Equal(got, []string{"running", "running"}) {
				t.Fatalf("after GPUCapacityWait: %v", got)
			}
		})
	}
}

// Behaviour 5: an autoscaled pool with room to move steps by one node every
// AutoscaleInterval, up first, then alternately, within its bounds.
func TestKubernetesAutoscalerMovesPoolsOnItsOwn(t *testing.T) {
	srv, c := startTest(t, Config{})
	clk := newHandClock(srv)
	interval := DefaultRealism.AutoscaleInterval
	cl, _, err := c.Kubernetes.Create(ctx, &godo.KubernetesClusterCreateRequest{
		Name: "scaler", RegionSlug: "nyc3", VersionSlug: "latest",
		NodePools: []*godo.KubernetesNodePoolCreateRequest{
			{Name: "base", Size: "s-1vcpu-2gb", Count: 1},
			{Name: "burst", Size: "s-1vcpu-2gb", AutoScale: true, MinNodes: 1, MaxNodes: 3},
			{Name: "full", Size: "s-1vcpu-2gb", AutoScale: true, MinNodes: 2, MaxNodes: 3, Count: 3},
			{Name: "pinned", Size: "s-1vcpu-2gb", AutoScale: true, MinNodes: 2, MaxNodes: 2, Count: 2},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	counts := func() map[string]int {
		out := map[string]int{}
		for _, p := range getCluster(t, c, cl.ID).NodePools {
			out[p.Name] = p.Count
			if active := len(p.Nodes) - countNodes(p, "draining") - countNodes(p, "deleting"); active != p.Count {
				t.Fatalf("pool %s: count %d but %d active nodes %v", p.Name, p.Count, active, nodeStates(p))
			}
		}
		return out
	}
	expect := func(when string, burst, full int) {
		t.Helper()
		got := counts()
		if got["burst"] != burst || got["full"] != full || got["base"] != 1 || got["pinned"] != 2 {
			t.Fatalf("%s: counts %v, want burst %d full %d base 1 pinned 2", when, got, burst, full)
		}
	}
	clk.advance(interval - tick)
	expect("before the first interval", 1, 3)
	clk.advance(2 * tick)
	// Up first; "full" is at its max, so it goes down instead.
	expect("after one interval", 2, 2)
	burst := poolNamed(t, getCluster(t, c, cl.ID), "burst")
	if countNodes(burst, "provisioning") != 1 {
		t.Fatalf("the autoscaler's new node provisions: %v", nodeStates(burst))
	}
	if full := poolNamed(t, getCluster(t, c, cl.ID), "full"); countNodes(full, "draining") != 1 {
		t.Fatalf("the autoscaler's surplus node drains: %v", nodeStates(full))
	}
	clk.advance(interval)
	expect("after two intervals", 1, 3)
	clk.advance(interval)
	expect("after three intervals", 2, 2)
	msgs, _, err := c.Kubernetes.GetClusterStatusMessages(ctx, cl.ID, nil)
	if err != nil || !slices.ContainsFunc(msgs, func(m *godo.KubernetesClusterStatusMessage) bool {
		return strings.Contains(m.Message, "autoscaler") && strings.Contains(m.Message, `"burst"`)
	}) {
		t.Fatalf("status messages should record the autoscaler's steps: %v %+v", err, msgs)
	}

	// Turning autoscaling off stops the steps.
	off, two := false, 2
	if _, _, err := c.Kubernetes.UpdateNodePool(ctx, cl.ID, burst.ID, &godo.KubernetesNodePoolUpdateRequest{Name: "burst", AutoScale: &off, Count: &two}); err != nil {
		t.Fatal(err)
	}
	clk.advance(3 * interval)
	if got := counts(); got["burst"] != 2 {
		t.Fatalf("a pool no longer autoscaled moved: %v", got)
	}

	// Widening a pinned pool's bounds does not replay the steps it had no
	// room for: the next step comes at its next interval.
	pinned := poolNamed(t, getCluster(t, c, cl.ID), "pinned")
	three := 3
	if _, _, err := c.Kubernetes.UpdateNodePool(ctx, cl.ID, pinned.ID, &godo.KubernetesNodePoolUpdateRequest{Name: "pinned", MaxNodes: &three}); err != nil {
		t.Fatal(err)
	}
	clk.advance(tick)
	if pinned = poolNamed(t, getCluster(t, c, cl.ID), "pinned"); pinned.Count != 2 || !slices.Equal(nodeStates(pinned), []string{"running", "running"}) {
		t.Fatalf("the widened pool replayed missed steps: count %d nodes %v", pinned.Count, nodeStates(pinned))
	}
	clk.advance(interval)
	if pinned = poolNamed(t, getCluster(t, c, cl.ID), "pinned"); pinned.Count != 3 {
		t.Fatalf("the widened pool should step up at its next interval: count %d, want 3", pinned.Count)
	}
}

func countNodes(p *godo.KubernetesNodePool, state string) int {
	n := 0
	for _, node := range p.Nodes {
		if node.Status.State == state {
			n++
		}
	}
	return n
}

func TestKubernetesAutoscalerOff(t *testing.T) {
	for name, r := range map[string]Realism{"ideal": {Ideal: true}, "autoscale interval off": {AutoscaleInterval: -1}} {
		t.Run(name, func(t *testing.T) {
			srv, c := startTest(t, Config{Realism: r})
			clk := newHandClock(srv)
			cl, _, err := c.Kubernetes.Create(ctx, &godo.KubernetesClusterCreateRequest{
				Name: "still", RegionSlug: "nyc3", VersionSlug: "latest",
				NodePools: []*godo.KubernetesNodePoolCreateRequest{{Name: "burst", Size: "s-1vcpu-2gb", AutoScale: true, MinNodes: 1, MaxNodes: 3}},
			})
			if err != nil {
				t.Fatal(err)
			}
			clk.advance(5*DefaultRealism.AutoscaleInterval + tick)
			p := getCluster(t, c, cl.ID).NodePools[0]
			if p.Count != 1 || !slices.Equal(nodeStates(p), []string{"running"}) {
				t.Fatalf("with the autoscaler off the pool moved: count %d nodes %v", p.Count, nodeStates(p))
			}
		})
	}
}
