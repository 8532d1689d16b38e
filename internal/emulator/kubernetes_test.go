package emulator

import (
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/digitalocean/godo"
)

func poolNamed(t *testing.T, cl *godo.KubernetesCluster, name string) *godo.KubernetesNodePool {
	t.Helper()
	for _, p := range cl.NodePools {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("cluster %s has no node pool %q", cl.Name, name)
	return nil
}

func nodeStates(p *godo.KubernetesNodePool) []string {
	var out []string
	for _, n := range p.Nodes {
		out = append(out, n.Status.State)
	}
	return out
}

func allNodes(p *godo.KubernetesNodePool, state string) bool {
	for _, n := range p.Nodes {
		if n.Status.State != state {
			return false
		}
	}
	return len(p.Nodes) > 0
}

func getCluster(t *testing.T, c *godo.Client, id string) *godo.KubernetesCluster {
	t.Helper()
	cl, _, err := c.Kubernetes.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func simpleCluster(name, region string) *godo.KubernetesClusterCreateRequest {
	return &godo.KubernetesClusterCreateRequest{
		Name: name, RegionSlug: region, VersionSlug: "latest",
		NodePools: []*godo.KubernetesNodePoolCreateRequest{{Name: "default", Size: "s-2vcpu-4gb", Count: 1}},
	}
}

func TestKubernetesLifecycleGPUPoolTakesLonger(t *testing.T) {
	srv, c := startTest(t, Config{})
	clk := newHandClock(srv)

	cl, resp, err := c.Kubernetes.Create(ctx, &godo.KubernetesClusterCreateRequest{
		Name: "inference", RegionSlug: "tor1", VersionSlug: "latest", Tags: []string{"team:ml"},
		MaintenancePolicy: &godo.KubernetesMaintenancePolicy{StartTime: "4:00", Day: godo.KubernetesMaintenanceDaySunday},
		NodePools: []*godo.KubernetesNodePoolCreateRequest{
			{Name: "cpu", Size: "s-2vcpu-4gb", Count: 2, Labels: map[string]string{"role": "api"}},
			{Name: "gpu", Size: "gpu-h100x1-80gb", Count: 1,
				Labels: map[string]string{gpuModelLabelForTest: "custom"},
				Taints: []godo.Taint{{Key: "workload", Value: "inference", Effect: "NoSchedule"}}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create answered %d, want 201", resp.StatusCode)
	}
	if cl.Status.State != godo.KubernetesClusterStatusProvisioning || cl.VersionSlug != KubernetesLatestVersion() {
		t.Fatalf("new cluster: state %q version %q", cl.Status.State, cl.VersionSlug)
	}
	if cl.URN() != "do:kubernetes:"+cl.ID || cl.Endpoint != "https://"+cl.ID+".k8s.ondigitalocean.com" || cl.IPv4 == "" {
		t.Fatalf("identity: urn %s endpoint %s ipv4 %q", cl.URN(), cl.Endpoint, cl.IPv4)
	}
	for _, tag := range []string{"k8s", "k8s:" + cl.ID, "team:ml"} {
		if !slices.Contains(cl.Tags, tag) {
			t.Errorf("cluster tags %v lack %q", cl.Tags, tag)
		}
	}
	if cl.ClusterSubnet != "10.244.0.0/16" || cl.ServiceSubnet != "10.245.0.0/16" || cl.VPCUUID == "" {
		t.Errorf("network defaults: %s %s vpc %q", cl.ClusterSubnet, cl.ServiceSubnet, cl.VPCUUID)
	}
	if mp := cl.MaintenancePolicy; mp == nil || mp.StartTime != "04:00" || mp.Day != godo.KubernetesMaintenanceDaySunday || mp.Duration != "4h0m0s" {
		t.Errorf("maintenance policy %+v", cl.MaintenancePolicy)
	}
	def, _, err := c.VPCs.Get(ctx, cl.VPCUUID)
	if err != nil || !def.Default || def.RegionSlug != "tor1" {
		t.Fatalf("cluster should be in tor1's default VPC: %v %+v", err, def)
	}
	cpu, gpu := poolNamed(t, cl, "cpu"), poolNamed(t, cl, "gpu")
	if len(cpu.Nodes) != 2 || !allNodes(cpu, "provisioning") || !allNodes(gpu, "provisioning") {
		t.Fatalf("new nodes: cpu %v gpu %v", nodeStates(cpu), nodeStates(gpu))
	}
	for _, n := range cpu.Nodes {
		if !strings.HasPrefix(n.Name, "cpu-") || len(n.Name) != len("cpu-")+5 || n.DropletID == "" || n.CreatedAt.IsZero() {
			t.Errorf("node %+v", n)
		}
	}
	for _, tag := range []string{"k8s", "k8s:" + cl.ID, "k8s:worker"} {
		if !slices.Contains(cpu.Tags, tag) {
			t.Errorf("pool tags %v lack %q", cpu.Tags, tag)
		}
	}

	// A pool object carries exactly the user's labels and taints: DOKS's GPU
	// labels and taint are on the Kubernetes nodes, not in the API.
	if !maps.Equal(gpu.Labels, map[string]string{gpuModelLabelForTest: "custom"}) {
		t.Errorf("gpu labels %v, want only the user's", gpu.Labels)
	}
	if !slices.Equal(gpu.Taints, []godo.Taint{{Key: "workload", Value: "inference", Effect: "NoSchedule"}}) {
		t.Errorf("gpu taints %v, want only the user's", gpu.Taints)
	}
	if len(cpu.Taints) != 0 || !maps.Equal(cpu.Labels, map[string]string{"role": "api"}) {
		t.Errorf("cpu pool labels %v taints %v", cpu.Labels, cpu.Taints)
	}
	if p := cl.NvidiaGpuDevicePlugin; p == nil || p.Enabled == nil || !*p.Enabled {
		t.Errorf("the NVIDIA device plugin should be on for a cluster with an NVIDIA pool: %+v", p)
	}

	clk.advance(ClusterProvisionDuration)
	cl = getCluster(t, c, cl.ID)
	cpu, gpu = poolNamed(t, cl, "cpu"), poolNamed(t, cl, "gpu")
	if cl.Status.State != godo.KubernetesClusterStatusRunning || !allNodes(cpu, "running") || !allNodes(gpu, "provisioning") {
		t.Fatalf("after %s: cluster %s cpu %v gpu %v", ClusterProvisionDuration, cl.Status.State, nodeStates(cpu), nodeStates(gpu))
	}
	clk.advance(GPUPoolProvisionDuration - ClusterProvisionDuration)
	gpu = poolNamed(t, getCluster(t, c, cl.ID), "gpu")
	if !allNodes(gpu, "running") {
		t.Fatalf("gpu nodes after %s: %v", GPUPoolProvisionDuration, nodeStates(gpu))
	}

	inv := srv.Inventory()
	if inv.Count("kubernetes_cluster") != 1 || inv.Count("kubernetes_node_pool") != 2 {
		t.Fatalf("inventory:\n%s", inv)
	}
	for _, it := range inv.Items {
		if it.Kind == "kubernetes_node_pool" && (it.Parent != cl.ID || it.Status != "running") {
			t.Errorf("pool item %+v", it)
		}
	}
	list, _, err := c.Kubernetes.List(ctx, nil)
	if err != nil || len(list) != 1 {
		t.Fatalf("list: %v %d", err, len(list))
	}
	msgs, _, err := c.Kubernetes.GetClusterStatusMessages(ctx, cl.ID, nil)
	if err != nil || len(msgs) < 2 {
		t.Fatalf("status messages: %v %v", err, msgs)
	}
	if !srv.k8s.clusterExists(cl.ID) || srv.k8s.clusterExists(newID()) {
		t.Error("clusterExists is wrong")
	}
}

const gpuModelLabelForTest = "doks.digitalocean.com/gpu-model"

func TestKubernetesCreateValidation(t *testing.T) {
	_, c := startTest(t, Config{})
	if _, _, err := c.Kubernetes.Create(ctx, simpleCluster("taken", "nyc1")); err != nil {
		t.Fatal(err)
	}
	ams, _, err := c.VPCs.Create(ctx, &godo.VPCCreateRequest{Name: "ams-vpc", RegionSlug: "ams3", IPRange: "10.50.0.0/20"})
	if err != nil {
		t.Fatal(err)
	}
	pool := func(mod func(p *godo.KubernetesNodePoolCreateRequest)) []*godo.KubernetesNodePoolCreateRequest {
		p := &godo.KubernetesNodePoolCreateRequest{Name: "pool", Size: "s-2vcpu-4gb", Count: 1}
		mod(p)
		return []*godo.KubernetesNodePoolCreateRequest{p}
	}
	cases := []struct {
		name string
		mod  func(r *godo.KubernetesClusterCreateRequest)
		want []string // substrings of the message
	}{
		{"missing name", func(r *godo.KubernetesClusterCreateRequest) { r.Name = "" }, []string{"name is required"}},
		{"duplicate name", func(r *godo.KubernetesClusterCreateRequest) { r.Name = "taken" }, []string{"name", "taken", "already used"}},
		{"unknown region", func(r *godo.KubernetesClusterCreateRequest) { r.RegionSlug = "mars1" }, []string{"region", "mars1", "tor1"}},
		{"version not offered", func(r *godo.KubernetesClusterCreateRequest) { r.VersionSlug = "1.20.0-do.0" }, []string{"version", "1.20.0-do.0", "1.33.1-do.0"}},
		{"no node pools", func(r *godo.KubernetesClusterCreateRequest) { r.NodePools = nil }, []string{"node_pools"}},
		{"gpu size not offered in region", func(r *godo.KubernetesClusterCreateRequest) {
			r.RegionSlug = "ams3"
			r.NodePools = pool(func(p *godo.KubernetesNodePoolCreateRequest) { p.Size = "gpu-h100x8-640gb" })
		}, []string{"node_pools[0].size", "gpu-h100x8-640gb", `not offered in region "ams3"`, "gpu-4000adax1-20gb"}},
		{"unknown size", func(r *godo.KubernetesClusterCreateRequest) {
			r.NodePools = pool(func(p *godo.KubernetesNodePoolCreateRequest) { p.Size = "s-99vcpu" })
		}, []string{"node_pools[0].size", "s-99vcpu"}},
		{"count zero", func(r *godo.KubernetesClusterCreateRequest) {
			r.NodePools = pool(func(p *godo.KubernetesNodePoolCreateRequest) { p.Count = 0 })
		}, []string{"node_pools[0].count", "between 1 and 100"}},
		{"count too large", func(r *godo.KubernetesClusterCreateRequest) {
			r.NodePools = pool(func(p *godo.KubernetesNodePoolCreateRequest) { p.Count = 101 })
		}, []string{"node_pools[0].count", "101"}},
		{"max below min", func(r *godo.KubernetesClusterCreateRequest) {
			r.NodePools = pool(func(p *godo.KubernetesNodePoolCreateRequest) { p.AutoScale, p.MinNodes, p.MaxNodes = true, 3, 2 })
		}, []string{"node_pools[0].max_nodes"}},
		{"autoscale without max", func(r *godo.KubernetesClusterCreateRequest) {
			r.NodePools = pool(func(p *godo.KubernetesNodePoolCreateRequest) { p.AutoScale, p.Count = true, 0 })
		}, []string{"node_pools[0].max_nodes"}},
		{"count outside bounds", func(r *godo.KubernetesClusterCreateRequest) {
			r.NodePools = pool(func(p *godo.KubernetesNodePoolCreateRequest) {
				p.AutoScale, p.MinNodes, p.MaxNodes, p.Count = true, 1, 3, 5
			})
		}, []string{"node_pools[0].count", "min_nodes 1", "max_nodes 3"}},
		{"duplicate pool names", func(r *godo.KubernetesClusterCreateRequest) {
			r.NodePools = append(pool(func(*godo.KubernetesNodePoolCreateRequest) {}), &godo.KubernetesNodePoolCreateRequest{Name: "pool", Size: "s-1vcpu-2gb", Count: 1})
		}, []string{"node_pools[1].name", "unique"}},
		{"pool without name", func(r *godo.KubernetesClusterCreateRequest) {
			r.NodePools = pool(func(p *godo.KubernetesNodePoolCreateRequest) { p.Name = "" })
		}, []string{"node_pools[0].name is required"}},
		{"bad taint effect", func(r *godo.KubernetesClusterCreateRequest) {
			r.NodePools = pool(func(p *godo.KubernetesNodePoolCreateRequest) {
				p.Taints = []godo.Taint{{Key: "a", Value: "b", Effect: "Sometimes"}}
			})
		}, []string{"node_pools[0].taints[0].effect", "NoExecute"}},
		{"bad label", func(r *godo.KubernetesClusterCreateRequest) {
			r.NodePools = pool(func(p *godo.KubernetesNodePoolCreateRequest) { p.Labels = map[string]string{"-bad": "x"} })
		}, []string{"node_pools[0].labels", "-bad"}},
		{"bad tag", func(r *godo.KubernetesClusterCreateRequest) { r.Tags = []string{"has space"} }, []string{"tags", "has space"}},
		{"vpc in other region", func(r *godo.KubernetesClusterCreateRequest) { r.VPCUUID = ams.ID }, []string{"vpc_uuid", `"ams3"`, "nyc1"}},
		{"unknown vpc", func(r *godo.KubernetesClusterCreateRequest) { r.VPCUUID = newID() }, []string{"vpc_uuid", "does not name a VPC"}},
		{"cluster subnet not private", func(r *godo.KubernetesClusterCreateRequest) { r.ClusterSubnet = "8.8.0.0/16" }, []string{"cluster_subnet", "private"}},
		{"subnets overlap", func(r *godo.KubernetesClusterCreateRequest) {
			r.ClusterSubnet, r.ServiceSubnet = "172.16.0.0/16", "172.16.128.0/20"
		}, []string{"cluster_subnet", "service_subnet", "overlap"}},
		{"subnet overlaps vpc", func(r *godo.KubernetesClusterCreateRequest) {
			r.RegionSlug, r.VPCUUID, r.ClusterSubnet = "ams3", ams.ID, "10.50.0.0/16"
		}, []string{"cluster_subnet", "10.50.0.0/20", "ams-vpc"}},
		{"bad maintenance time", func(r *godo.KubernetesClusterCreateRequest) {
			r.MaintenancePolicy = &godo.KubernetesMaintenancePolicy{StartTime: "25:00"}
		}, []string{"maintenance_policy.start_time", "25:00"}},
		{"isolated workers without NAT", func(r *godo.KubernetesClusterCreateRequest) { r.IsolatedWorkers = true }, []string{"isolated_workers", "NAT gateway"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := simpleCluster("valid", "nyc1")
			tc.mod(req)
			_, _, err := c.Kubernetes.Create(ctx, req)
			er := wantStatus(t, err, http.StatusUnprocessableEntity)
			t.Log(er.Message)
			for _, w := range tc.want {
				if !strings.Contains(er.Message, w) {
					t.Errorf("message %q lacks %q", er.Message, w)
				}
			}
		})
	}
	// Failed creates leave nothing behind, not even a default VPC.
	vpcs, _, err := c.VPCs.List(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vpcs {
		if v.RegionSlug == "ams3" && v.Default {
			t.Errorf("a failed create made default VPC %+v", v)
		}
	}
	list, _, _ := c.Kubernetes.List(ctx, nil)
	if len(list) != 1 {
		t.Errorf("%d clusters exist, want only the first", len(list))
	}
}

func TestKubernetesDeleteHoldsVPCUntilTornDown(t *testing.T) {
	srv, c := startTest(t, Config{})
	clk := newHandClock(srv)
	v, _, err := c.VPCs.Create(ctx, &godo.VPCCreateRequest{Name: "k8s-net", RegionSlug: "sfo3", IPRange: "10.60.0.0/20"})
	if err != nil {
		t.Fatal(err)
	}
	req := simpleCluster("doomed", "sfo3")
	req.VPCUUID = v.ID
	cl, _, err := c.Kubernetes.Create(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	members, _, err := c.VPCs.ListMembers(ctx, v.ID, &godo.VPCListMembersRequest{ResourceType: "kubernetes"}, nil)
	if err != nil || len(members) != 1 || members[0].URN != cl.URN() {
		t.Fatalf("members: %v %+v", err, members)
	}
	def, _, _ := c.Projects.GetDefault(ctx)
	res, _, _ := c.Projects.ListResources(ctx, def.ID, nil)
	if !slices.ContainsFunc(res, func(r godo.ProjectResource) bool { return r.URN == cl.URN() }) {
		t.Errorf("the cluster should be in the default project: %+v", res)
	}

	resp, err := c.Kubernetes.Delete(ctx, cl.ID)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %v", err)
	}
	_, _, err = c.Kubernetes.Get(ctx, cl.ID)
	wantStatus(t, err, http.StatusNotFound)
	_, err = c.Kubernetes.Delete(ctx, cl.ID)
	wantStatus(t, err, http.StatusNotFound)
	if srv.k8s.clusterExists(cl.ID) {
		t.Error("clusterExists is true for a deleted cluster")
	}
	res, _, _ = c.Projects.ListResources(ctx, def.ID, nil)
	if slices.ContainsFunc(res, func(r godo.ProjectResource) bool { return r.URN == cl.URN() }) {
		t.Error("a deleted cluster is still a project resource")
	}
	// Only members of the deleted cluster are left: 409, not 403.
	_, err = c.VPCs.Delete(ctx, v.ID)
	wantStatus(t, err, http.StatusConflict)
	inv := srv.Inventory()
	if inv.Count("kubernetes_cluster") != 1 || inv.Items[len(inv.Items)-1].Status != "deleting" {
		t.Fatalf("inventory during teardown:\n%s", inv)
	}

	clk.advance(DeleteDuration)
	if inv := srv.Inventory(); len(inv.Items) != 1 || inv.Count("vpc") != 1 {
		t.Fatalf("inventory after teardown (lingering Droplets are not the user's objects):\n%s", inv)
	}
	// The worker Droplets stay members for DropletLinger after the delete.
	_, err = c.VPCs.Delete(ctx, v.ID)
	wantStatus(t, err, http.StatusConflict)
	clk.advance(DefaultRealism.DropletLinger - DeleteDuration)
	if _, err := c.VPCs.Delete(ctx, v.ID); err != nil {
		t.Fatalf("VPC delete after teardown: %v", err)
	}
	if inv := srv.Inventory(); !inv.Empty() {
		t.Fatalf("inventory after the VPC delete:\n%s", inv)
	}
}

func TestKubernetesTransitionFailures(t *testing.T) {
	srv, c := startTest(t, Config{})
	clk := newHandClock(srv)
	if err := srv.FailNextTransitions(TransitionCluster, 1); err != nil {
		t.Fatal(err)
	}
	bad, _, err := c.Kubernetes.Create(ctx, simpleCluster("broken", "blr1"))
	if err != nil {
		t.Fatal(err)
	}
	good, _, err := c.Kubernetes.Create(ctx, simpleCluster("fine", "blr1"))
	if err != nil {
		t.Fatal(err)
	}
	clk.advance(ClusterProvisionDuration)
	got := getCluster(t, c, bad.ID)
	if got.Status.State != godo.KubernetesClusterStatusError || got.Status.Message == "" {
		t.Fatalf("failed cluster: %+v", got.Status)
	}
	if got := getCluster(t, c, good.ID); got.Status.State != godo.KubernetesClusterStatusRunning {
		t.Fatalf("only the next cluster fails: %+v", got.Status)
	}
	_, _, err = c.Kubernetes.CreateNodePool(ctx, bad.ID, &godo.KubernetesNodePoolCreateRequest{Name: "more", Size: "s-1vcpu-2gb", Count: 1})
	wantStatus(t, err, http.StatusUnprocessableEntity)

	// A failed node pool: node states are only provisioning, running,
	// draining and deleting, so its nodes stay "provisioning" for ever, the
	// cluster stays "running", and a replacement comes up normally.
	testFailedNodesStayProvisioning(t, srv, c, clk, good.ID)
}

// testFailedNodesStayProvisioning injects a node pool failure into the
// running cluster id and follows the failed node until it is replaced.
func testFailedNodesStayProvisioning(t *testing.T, srv *Server, c *godo.Client, clk *handClock, id string) {
	t.Helper()
	if err := srv.FailNextTransitions(TransitionNodePool, 1); err != nil {
		t.Fatal(err)
	}
	p, _, err := c.Kubernetes.CreateNodePool(ctx, id, &godo.KubernetesNodePoolCreateRequest{Name: "flaky", Size: "s-1vcpu-2gb", Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	clk.advance(10 * NodePoolProvisionDuration)
	got := getCluster(t, c, id)
	flaky := poolNamed(t, got, "flaky")
	if got.Status.State != godo.KubernetesClusterStatusRunning || got.Status.Message != "" || !allNodes(flaky, "provisioning") {
		t.Fatalf("after pool failure: %+v nodes %v", got.Status, nodeStates(flaky))
	}
	if flaky.Nodes[0].Status.Message != "" {
		t.Fatalf("a node status has only a state; got message %q", flaky.Nodes[0].Status.Message)
	}
	if st := inventoryStatus(srv, p.ID); st != "failed" {
		t.Fatalf("inventory shows the failed pool %q:\n%s", st, srv.Inventory())
	}
	if _, err := c.Kubernetes.DeleteNode(ctx, id, p.ID, flaky.Nodes[0].ID, &godo.KubernetesNodeDeleteRequest{Replace: true, SkipDrain: true}); err != nil {
		t.Fatal(err)
	}
	flaky, _, _ = c.Kubernetes.GetNodePool(ctx, id, p.ID)
	if got := nodeStates(flaky); !slices.Equal(got, []string{"deleting", "provisioning"}) {
		t.Fatalf("right after replacing the failed node: %v", got)
	}
	clk.advance(NodePoolProvisionDuration)
	got = getCluster(t, c, id)
	if got.Status.State != godo.KubernetesClusterStatusRunning || !slices.Equal(nodeStates(poolNamed(t, got, "flaky")), []string{"running"}) {
		t.Fatalf("after replacing the failed node: %+v %v", got.Status, nodeStates(poolNamed(t, got, "flaky")))
	}
	if st := inventoryStatus(srv, p.ID); st != "running" {
		t.Fatalf("inventory after the replacement: %q", st)
	}
}

// inventoryStatus is the inventory status of the object id ("" if absent).
func inventoryStatus(srv *Server, id string) string {
	for _, it := range srv.Inventory().Items {
		if it.ID == id {
			return it.Status
		}
	}
	return ""
}
