package emulator

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/digitalocean/godo"
)

// tourKubernetes calls every DOKS, region and size route through godo, each
// at least once successfully, and leaves nothing behind.
func tourKubernetes(t *testing.T, c *godo.Client, srv *Server) {
	if _, _, err := c.Kubernetes.GetOptions(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Regions.List(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Sizes.List(ctx, &godo.ListOptions{PerPage: 50}); err != nil {
		t.Fatal(err)
	}

	v, _, err := c.VPCs.Create(ctx, &godo.VPCCreateRequest{Name: "tour-k8s-vpc", RegionSlug: "tor1", IPRange: "10.110.0.0/20"})
	if err != nil {
		t.Fatal(err)
	}
	ha := false
	cl, _, err := c.Kubernetes.Create(ctx, &godo.KubernetesClusterCreateRequest{
		Name: "tour-k8s", RegionSlug: "tor1", VersionSlug: "1.32.5-do.0", VPCUUID: v.ID,
		Tags: []string{"tour"}, HA: &ha, SurgeUpgrade: true,
		// The GPU stack's plugins, each {"enabled": bool} (spec cluster).
		NvidiaGpuDevicePlugin:             &godo.KubernetesNvidiaGpuDevicePlugin{Enabled: godo.PtrTo(true)},
		RdmaSharedDevicePlugin:            &godo.KubernetesRdmaSharedDevicePlugin{Enabled: godo.PtrTo(false)},
		AmdGpuDevicePlugin:                &godo.KubernetesAmdGpuDevicePlugin{Enabled: godo.PtrTo(false)},
		AmdGpuDeviceMetricsExporterPlugin: &godo.KubernetesAmdGpuDeviceMetricsExporterPlugin{Enabled: godo.PtrTo(false)},
		RoutingAgent:                      &godo.KubernetesRoutingAgent{Enabled: godo.PtrTo(true)},
		NodePools: []*godo.KubernetesNodePoolCreateRequest{
			{Name: "cpu", Size: "s-2vcpu-4gb", Count: 2, Labels: map[string]string{"role": "api"}},
			{Name: "gpu", Size: "gpu-l40sx1-48gb", Count: 1, AutoScale: true, MinNodes: 1, MaxNodes: 2,
				Taints: []godo.Taint{{Key: "workload", Value: "inference", Effect: "NoSchedule"}}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	// A rejected create is answered in the spec's error shape.
	_, _, err = c.Kubernetes.Create(ctx, &godo.KubernetesClusterCreateRequest{
		Name: "tour-bad", RegionSlug: "ams3", VersionSlug: "latest",
		NodePools: []*godo.KubernetesNodePoolCreateRequest{{Name: "gpu", Size: "gpu-h100x8-640gb", Count: 1}},
	})
	wantStatus(t, err, http.StatusUnprocessableEntity)

	if _, _, err := c.Kubernetes.List(ctx, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, "tour cluster running", func() bool {
		got, _, err := c.Kubernetes.Get(ctx, cl.ID)
		return err == nil && got.Status.State == godo.KubernetesClusterStatusRunning
	})
	autoUpgrade := true
	if _, _, err := c.Kubernetes.Update(ctx, cl.ID, &godo.KubernetesClusterUpdateRequest{
		Name: "tour-k8s-2", Tags: []string{"tour", "renamed"}, AutoUpgrade: &autoUpgrade, SurgeUpgrade: true,
		RoutingAgent:                      &godo.KubernetesRoutingAgent{Enabled: godo.PtrTo(false)},
		NvidiaGpuDevicePlugin:             &godo.KubernetesNvidiaGpuDevicePlugin{Enabled: godo.PtrTo(true)},
		RdmaSharedDevicePlugin:            &godo.KubernetesRdmaSharedDevicePlugin{Enabled: godo.PtrTo(true)},
		AmdGpuDevicePlugin:                &godo.KubernetesAmdGpuDevicePlugin{Enabled: godo.PtrTo(false)},
		AmdGpuDeviceMetricsExporterPlugin: &godo.KubernetesAmdGpuDeviceMetricsExporterPlugin{Enabled: godo.PtrTo(true)},
	}); err != nil {
		t.Fatal(err)
	}
	// godo always sends maintenance_policy.duration, which the spec marks
	// read-only (DigitalOcean ignores it); the policy is set by hand here and
	// through godo in the unit tests.
	req, _ := c.NewRequest(ctx, http.MethodPut, "/v2/kubernetes/clusters/"+cl.ID, map[string]any{
		"name": "tour-k8s-2", "maintenance_policy": map[string]any{"start_time": "05:30", "day": "sunday"},
	})
	if _, err := c.Do(ctx, req, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Kubernetes.GetUser(ctx, cl.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Kubernetes.GetKubeConfig(ctx, cl.ID, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Kubernetes.GetKubeConfigWithExpiry(ctx, cl.ID, 3600); err != nil {
		t.Fatal(err)
	}
	expiry := 600
	if _, _, err := c.Kubernetes.GetCredentials(ctx, cl.ID, &godo.KubernetesClusterCredentialsGetRequest{ExpirySeconds: &expiry}); err != nil {
		t.Fatal(err)
	}
	since := time.Now().Add(-time.Hour)
	if _, _, err := c.Kubernetes.GetClusterStatusMessages(ctx, cl.ID, &godo.KubernetesGetClusterStatusMessagesRequest{Since: &since}); err != nil {
		t.Fatal(err)
	}

	if _, _, err := c.Kubernetes.ListNodePools(ctx, cl.ID, nil); err != nil {
		t.Fatal(err)
	}
	pool, _, err := c.Kubernetes.CreateNodePool(ctx, cl.ID, &godo.KubernetesNodePoolCreateRequest{
		Name: "extra", Size: "s-1vcpu-2gb", Count: 1, Tags: []string{"extra"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Kubernetes.GetNodePool(ctx, cl.ID, pool.ID); err != nil {
		t.Fatal(err)
	}
	two := 2
	pool, _, err = c.Kubernetes.UpdateNodePool(ctx, cl.ID, pool.ID, &godo.KubernetesNodePoolUpdateRequest{Name: "extra", Count: &two})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Kubernetes.DeleteNode(ctx, cl.ID, pool.ID, pool.Nodes[0].ID, &godo.KubernetesNodeDeleteRequest{Replace: true, SkipDrain: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Kubernetes.DeleteNodePool(ctx, cl.ID, pool.ID); err != nil {
		t.Fatal(err)
	}

	ups, _, err := c.Kubernetes.GetUpgrades(ctx, cl.ID)
	if err != nil || len(ups) == 0 {
		t.Fatalf("upgrades: %v %v", err, ups)
	}
	if _, err := c.Kubernetes.Upgrade(ctx, cl.ID, &godo.KubernetesClusterUpgradeRequest{VersionSlug: ups[0].Slug}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "tour upgrade done", func() bool {
		got, _, err := c.Kubernetes.Get(ctx, cl.ID)
		return err == nil && got.Status.State == godo.KubernetesClusterStatusRunning && got.VersionSlug == ups[0].Slug
	})

	// The live cluster and its nodes are members of its VPC: 403.
	_, err = c.VPCs.Delete(ctx, v.ID)
	wantStatus(t, err, http.StatusForbidden)

	if _, _, err := c.Kubernetes.ListAssociatedResourcesForDeletion(ctx, cl.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Kubernetes.DeleteSelective(ctx, cl.ID, &godo.KubernetesClusterDeleteSelectiveRequest{
		Volumes: []string{}, VolumeSnapshots: []string{}, LoadBalancers: []string{},
	}); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Kubernetes.Get(ctx, cl.ID)
	wantStatus(t, err, http.StatusNotFound)
	// The cluster and its Droplets are still being torn down: the VPC's
	// members are all lingering ones, 409.
	_, err = c.VPCs.Delete(ctx, v.ID)
	wantStatus(t, err, http.StatusConflict)

	// Two more clusters, in the region's default VPC, for the other deletes.
	// Each has its own name: a deleted cluster's name is held a while.
	for i, del := range []func(id string) (*godo.Response, error){
		func(id string) (*godo.Response, error) { return c.Kubernetes.DeleteDangerous(ctx, id) },
		func(id string) (*godo.Response, error) { return c.Kubernetes.Delete(ctx, id) },
	} {
		other, _, err := c.Kubernetes.Create(ctx, &godo.KubernetesClusterCreateRequest{
			Name: fmt.Sprintf("tour-k8s-other-%d", i), RegionSlug: "nyc3", VersionSlug: "latest",
			NodePools: []*godo.KubernetesNodePoolCreateRequest{{Name: "default", Size: "s-1vcpu-2gb", Count: 1}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := del(other.ID); err != nil {
			t.Fatal(err)
		}
	}

	eventually(t, "tour VPC deletable", func() bool {
		_, err := c.VPCs.Delete(ctx, v.ID)
		return err == nil
	})
	eventually(t, "kubernetes teardown", func() bool {
		inv := srv.Inventory()
		return inv.Count("kubernetes_cluster") == 0 && inv.Count("kubernetes_node_pool") == 0
	})
}
