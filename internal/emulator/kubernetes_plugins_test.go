package emulator

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/digitalocean/godo"
)

// pluginStates reads the five GPU-stack plugins of a cluster as DigitalOcean
// returns them: "on", "off" or "" (not reported).
func pluginStates(cl *godo.KubernetesCluster) map[string]string {
	state := func(p *bool, present bool) string {
		switch {
		case !present:
			return ""
		case p != nil && *p:
			return "on"
		}
		return "off"
	}
	out := map[string]string{}
	out["nvidia"] = state(func() (*bool, bool) {
		if p := cl.NvidiaGpuDevicePlugin; p != nil {
			return p.Enabled, true
		}
		return nil, false
	}())
	out["amd"] = state(func() (*bool, bool) {
		if p := cl.AmdGpuDevicePlugin; p != nil {
			return p.Enabled, true
		}
		return nil, false
	}())
	out["amd_metrics"] = state(func() (*bool, bool) {
		if p := cl.AmdGpuDeviceMetricsExporterPlugin; p != nil {
			return p.Enabled, true
		}
		return nil, false
	}())
	out["rdma"] = state(func() (*bool, bool) {
		if p := cl.RdmaSharedDevicePlugin; p != nil {
			return p.Enabled, true
		}
		return nil, false
	}())
	out["routing"] = state(func() (*bool, bool) {
		if p := cl.RoutingAgent; p != nil {
			return p.Enabled, true
		}
		return nil, false
	}())
	return out
}

func wantPlugins(t *testing.T, what string, cl *godo.KubernetesCluster, want map[string]string) {
	t.Helper()
	got := pluginStates(cl)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: plugin %s is %q, want %q (all: %v)", what, k, got[k], v, got)
		}
	}
}

// TestKubernetesGPUPluginDefaults: DigitalOcean turns the device plugin of
// each pool's GPU vendor on (and RDMA for 8-GPU sizes); the routing agent
// and AMD's metrics exporter stay off until set.
func TestKubernetesGPUPluginDefaults(t *testing.T) {
	_, c := startTest(t, Config{})
	create := func(name, region string, sizes ...string) *godo.KubernetesCluster {
		req := &godo.KubernetesClusterCreateRequest{Name: name, RegionSlug: region, VersionSlug: "latest"}
		for i, s := range sizes {
			req.NodePools = append(req.NodePools, &godo.KubernetesNodePoolCreateRequest{Name: "p" + string(rune('a'+i)), Size: s, Count: 1})
		}
		cl, _, err := c.Kubernetes.Create(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return getCluster(t, c, cl.ID)
	}
	wantPlugins(t, "CPU only", create("cpu", "tor1", "s-2vcpu-4gb"),
		map[string]string{"nvidia": "", "amd": "", "amd_metrics": "", "rdma": "", "routing": ""})
	wantPlugins(t, "one L40S", create("l40s", "tor1", "s-2vcpu-4gb", "gpu-l40sx1-48gb"),
		map[string]string{"nvidia": "on", "amd": "", "rdma": "", "routing": ""})
	wantPlugins(t, "eight H100s", create("h100", "tor1", "gpu-h100x8-640gb"),
		map[string]string{"nvidia": "on", "amd": "", "rdma": "on"})
	wantPlugins(t, "one MI300X", create("mi300", "atl1", "gpu-mi300x1-192gb"),
		map[string]string{"nvidia": "", "amd": "on", "amd_metrics": "", "rdma": ""})

	// A GPU pool added later turns its vendor's plugin on.
	cl := create("later", "atl1", "s-2vcpu-4gb")
	if _, _, err := c.Kubernetes.CreateNodePool(ctx, cl.ID, &godo.KubernetesNodePoolCreateRequest{Name: "amd", Size: "gpu-mi300x1-192gb", Count: 1}); err != nil {
		t.Fatal(err)
	}
	wantPlugins(t, "AMD pool added", getCluster(t, c, cl.ID), map[string]string{"amd": "on", "nvidia": ""})
}

// TestKubernetesGPUPluginsSetAndUpdated: every plugin is taken on create and
// on PUT, read back, and kept when a PUT leaves it out; a value set
// explicitly wins over the vendor default.
func TestKubernetesGPUPluginsSetAndUpdated(t *testing.T) {
	_, c := startTest(t, Config{})
	cl, _, err := c.Kubernetes.Create(ctx, &godo.KubernetesClusterCreateRequest{
		Name: "plugins", RegionSlug: "atl1", VersionSlug: "latest",
		NodePools:                         []*godo.KubernetesNodePoolCreateRequest{{Name: "mi300", Size: "gpu-mi300x1-192gb", Count: 1}},
		AmdGpuDevicePlugin:                &godo.KubernetesAmdGpuDevicePlugin{Enabled: godo.PtrTo(false)},
		AmdGpuDeviceMetricsExporterPlugin: &godo.KubernetesAmdGpuDeviceMetricsExporterPlugin{Enabled: godo.PtrTo(true)},
		NvidiaGpuDevicePlugin:             &godo.KubernetesNvidiaGpuDevicePlugin{Enabled: godo.PtrTo(true)},
		RdmaSharedDevicePlugin:            &godo.KubernetesRdmaSharedDevicePlugin{Enabled: godo.PtrTo(true)},
		RoutingAgent:                      &godo.KubernetesRoutingAgent{Enabled: godo.PtrTo(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	all := map[string]string{"nvidia": "on", "amd": "off", "amd_metrics": "on", "rdma": "on", "routing": "on"}
	wantPlugins(t, "create answer", cl, all)
	wantPlugins(t, "read back", getCluster(t, c, cl.ID), all)

	// PUT turns each one the other way.
	upd, _, err := c.Kubernetes.Update(ctx, cl.ID, &godo.KubernetesClusterUpdateRequest{
		Name:                              "plugins",
		AmdGpuDevicePlugin:                &godo.KubernetesAmdGpuDevicePlugin{Enabled: godo.PtrTo(true)},
		AmdGpuDeviceMetricsExporterPlugin: &godo.KubernetesAmdGpuDeviceMetricsExporterPlugin{Enabled: godo.PtrTo(false)},
		NvidiaGpuDevicePlugin:             &godo.KubernetesNvidiaGpuDevicePlugin{Enabled: godo.PtrTo(false)},
		RdmaSharedDevicePlugin:            &godo.KubernetesRdmaSharedDevicePlugin{Enabled: godo.PtrTo(false)},
		RoutingAgent:                      &godo.KubernetesRoutingAgent{Enabled: godo.PtrTo(false)},
	})
	if err != nil {
		t.Fatal(err)
	}
	flipped := map[string]string{"nvidia": "off", "amd": "on", "amd_metrics": "off", "rdma": "off", "routing": "off"}
	wantPlugins(t, "update answer", upd, flipped)
	wantPlugins(t, "read back after update", getCluster(t, c, cl.ID), flipped)

	// A PUT without plugins (or with a null one) keeps them.
	req, _ := c.NewRequest(ctx, http.MethodPut, "/v2/kubernetes/clusters/"+cl.ID, map[string]any{
		"name": "plugins", "routing_agent": nil, "nvidia_gpu_device_plugin": map[string]any{},
	})
	if _, err := c.Do(ctx, req, nil); err != nil {
		t.Fatal(err)
	}
	wantPlugins(t, "after a PUT leaving them out", getCluster(t, c, cl.ID), flipped)

	// enabled must be a boolean (spec: enabled type boolean).
	req, _ = c.NewRequest(ctx, http.MethodPut, "/v2/kubernetes/clusters/"+cl.ID, map[string]any{
		"name": "plugins", "routing_agent": map[string]any{"enabled": "yes"},
	})
	_, err = c.Do(ctx, req, nil)
	if er := wantStatusIn(t, err); er != http.StatusBadRequest && er != http.StatusUnprocessableEntity {
		t.Fatalf("enabled = \"yes\" answered %d, want 400 or 422", er)
	}

	// The cluster JSON carries each plugin as {"enabled": bool}.
	req, _ = c.NewRequest(ctx, http.MethodGet, "/v2/kubernetes/clusters/"+cl.ID, nil)
	var raw map[string]map[string]json.RawMessage
	if _, err := c.Do(ctx, req, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"routing_agent", "amd_gpu_device_plugin", "amd_gpu_device_metrics_exporter_plugin", "nvidia_gpu_device_plugin", "rdma_shared_dev_plugin"} {
		var p map[string]any
		if err := json.Unmarshal(raw["kubernetes_cluster"][k], &p); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if _, ok := p["enabled"].(bool); !ok || len(p) != 1 {
			t.Errorf("%s = %v, want {\"enabled\": bool}", k, p)
		}
	}
}

// wantStatusIn returns the HTTP status of an API error (0 when err is nil).
func wantStatusIn(t *testing.T, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	er, ok := err.(*godo.ErrorResponse)
	if !ok {
		t.Fatalf("error %v is not an API error", err)
	}
	return er.Response.StatusCode
}
