package provider

import (
	"fmt"
	"testing"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
)

// gpState is the five plugins in the order nvidia, amd, amd metrics
// exporter, rdma, routing agent.
type gpState [5]bool

var gpAttrs = [5]string{"nvidia_gpu_device_plugin", "amd_gpu_device_plugin", "amd_gpu_device_metrics_exporter_plugin",
	"rdma_shared_dev_plugin", "routing_agent"}

// gpBlock sets the five plugins in the cluster block.
func gpBlock(s gpState) string {
	out := ""
	for i, a := range gpAttrs {
		out += fmt.Sprintf("\n    %s = %v", a, s[i])
	}
	return out
}

// gpPlugins checks the cluster's plugins as DigitalOcean has them
// (unreported: off) and the stack's state.
func gpPlugins(o outOfBand, name string, want gpState) resource.TestCheckFunc {
	return func(st *terraform.State) error {
		cl := o.cluster(name)
		on := func(p *bool) bool { return p != nil && *p }
		var got gpState
		if p := cl.NvidiaGpuDevicePlugin; p != nil {
			got[0] = on(p.Enabled)
		}
		if p := cl.AmdGpuDevicePlugin; p != nil {
			got[1] = on(p.Enabled)
		}
		if p := cl.AmdGpuDeviceMetricsExporterPlugin; p != nil {
			got[2] = on(p.Enabled)
		}
		if p := cl.RdmaSharedDevicePlugin; p != nil {
			got[3] = on(p.Enabled)
		}
		if p := cl.RoutingAgent; p != nil {
			got[4] = on(p.Enabled)
		}
		if got != want {
			return fmt.Errorf("cluster %s plugins %v, want %v (%v)", name, got, want, gpAttrs)
		}
		for i, a := range gpAttrs {
			if err := resource.TestCheckResourceAttr(stackAddr, "cluster."+a, fmt.Sprint(want[i]))(st); err != nil {
				return err
			}
		}
		return nil
	}
}

// gpPlanned checks the planned values of the five plugins.
func gpPlanned(want gpState) []plancheck.PlanCheck {
	var out []plancheck.PlanCheck
	for i, a := range gpAttrs {
		out = append(out, plancheck.ExpectKnownValue(stackAddr, tfjsonpath.New("cluster").AtMapKey(a), knownvalue.Bool(want[i])))
	}
	return out
}

// gpDrift turns the plugins to s behind Terraform's back.
func gpDrift(o outOfBand, name string, s gpState) func() {
	return func() {
		o.csUpdate(name, func(req *godo.KubernetesClusterUpdateRequest) {
			req.NvidiaGpuDevicePlugin = &godo.KubernetesNvidiaGpuDevicePlugin{Enabled: godo.PtrTo(s[0])}
			req.AmdGpuDevicePlugin = &godo.KubernetesAmdGpuDevicePlugin{Enabled: godo.PtrTo(s[1])}
			req.AmdGpuDeviceMetricsExporterPlugin = &godo.KubernetesAmdGpuDeviceMetricsExporterPlugin{Enabled: godo.PtrTo(s[2])}
			req.RdmaSharedDevicePlugin = &godo.KubernetesRdmaSharedDevicePlugin{Enabled: godo.PtrTo(s[3])}
			req.RoutingAgent = &godo.KubernetesRoutingAgent{Enabled: godo.PtrTo(s[4])}
		})
	}
}

// TestAccInferenceStackGPUPlugins: every plugin set, imported, changed in
// place, drifted and repaired; then unset, where each follows the pools
// (an NVIDIA pool: the NVIDIA plugin on) without a diff, and stays managed.
func TestAccInferenceStackGPUPlugins(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	oob := outOfBand{t: t, api: testGodo(t, srv)}
	gpu := `
    gpu_pools = {
      h100 = { size = "gpu-h100x1-80gb", max_nodes = 1 }
    }`
	first := gpState{true, false, true, true, true}
	second := gpState{true, true, false, false, false}
	vendor := gpState{true, false, false, false, false} // what an unset block gives an H100x1 pool
	cfgFirst := csStack(srv, gpu+gpBlock(first))
	cfgSecond := csStack(srv, gpu+gpBlock(second))
	unset := csStack(srv, gpu)
	clusterID := statecheck.CompareValue(compare.ValuesSame())
	sameCluster := func() statecheck.StateCheck { return clusterID.AddStateValue(stackAddr, tfjsonpath.New("cluster_id")) }
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             inventoryEmpty(srv),
		Steps: []resource.TestStep{
			{Config: cfgFirst, ConfigStateChecks: []statecheck.StateCheck{sameCluster()},
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: gpPlanned(first),
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check: gpPlugins(oob, "acs", first)},
			{ResourceName: stackAddr, ImportState: true, ImportStateId: "acs", ImportStateVerify: true,
				ImportStateVerifyIgnore: []string{"kubeconfig", "kubeconfig_expires_at", "cluster.version"}},
			{ResourceName: stackAddr, ImportState: true, ImportStateId: "acs", ImportStateKind: resource.ImportBlockWithID,
				ImportPlanChecks: resource.ImportPlanChecks{PreApply: []plancheck.PlanCheck{lcEmptyPlan}}},
			// Every plugin changed in place.
			{Config: cfgSecond, ConfigStateChecks: []statecheck.StateCheck{sameCluster()},
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             append(gpPlanned(second), plancheck.ExpectResourceAction(stackAddr, plancheck.ResourceActionUpdate)),
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check: gpPlugins(oob, "acs", second)},
			// Drift: every plugin flipped through the API, then repaired.
			func() resource.TestStep {
				s := driftStep(cfgSecond, gpDrift(oob, "acs", gpState{false, false, true, true, true}))
				s.Check = gpPlugins(oob, "acs", second)
				return s
			}(),
			// Unset: each follows the pools (NVIDIA pool, one GPU) or its
			// default, shown in the plan; from second that changes amd only.
			{Config: unset, ConfigStateChecks: []statecheck.StateCheck{sameCluster()},
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             append(gpPlanned(vendor), plancheck.ExpectResourceAction(stackAddr, plancheck.ResourceActionUpdate)),
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check: gpPlugins(oob, "acs", vendor)},
			// Unset values are still managed: the NVIDIA plugin turned off
			// (and the routing agent on) outside Terraform is drift, repaired.
			func() resource.TestStep {
				s := driftStep(unset, gpDrift(oob, "acs", gpState{false, false, false, false, true}))
				s.Check = gpPlugins(oob, "acs", vendor)
				return s
			}(),
		},
	})
}

// TestAccInferenceStackGPUPluginVendorDefaults: an AMD pool turns the AMD
// plugin on, an NVIDIA pool added later turns the NVIDIA plugin on in place,
// both decided at plan time; a device plugin turned off while a pool of its
// vendor exists is a warning naming the pools.
func TestAccInferenceStackGPUPluginVendorDefaults(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	oob := outOfBand{t: t, api: testGodo(t, srv)}
	rec := &lcDiagRecorder{}
	amd := `
    gpu_pools = {
      mi300 = { size = "gpu-mi300x1-192gb", max_nodes = 1 }`
	amdOnly := lcStack(srv, "gpv", "atl1", lcCluster(amd+`
    }`))
	both := lcStack(srv, "gpv", "atl1", lcCluster(amd+`
      l40s  = { size = "gpu-l40sx1-48gb", max_nodes = 1 }
    }`))
	amdOff := lcStack(srv, "gpv", "atl1", lcCluster(amd+`
    }
    amd_gpu_device_plugin = false`))
	clusterID := statecheck.CompareValue(compare.ValuesSame())
	sameCluster := func() statecheck.StateCheck { return clusterID.AddStateValue(stackAddr, tfjsonpath.New("cluster_id")) }
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: rec.factories(),
		CheckDestroy:             inventoryEmpty(srv),
		Steps: []resource.TestStep{
			{Config: amdOnly, ConfigStateChecks: []statecheck.StateCheck{sameCluster()},
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: gpPlanned(gpState{false, true, false, false, false}),
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check: gpPlugins(oob, "gpv", gpState{false, true, false, false, false})},
			{Config: both, ConfigStateChecks: []statecheck.StateCheck{sameCluster()},
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: append(gpPlanned(gpState{true, true, false, false, false}),
						plancheck.ExpectResourceAction(stackAddr, plancheck.ResourceActionUpdate)),
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check: gpPlugins(oob, "gpv", gpState{true, true, false, false, false})},
			// The NVIDIA pool removed: its plugin follows, off.
			{Config: amdOnly, ConfigStateChecks: []statecheck.StateCheck{sameCluster()},
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             gpPlanned(gpState{false, true, false, false, false}),
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check: gpPlugins(oob, "gpv", gpState{false, true, false, false, false})},
			{Config: amdOff, PlanOnly: true, ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{
					rec.expectWarning(false, `amd_gpu_device_plugin is off while pools need it: Pools mi300 need amd_gpu_device_plugin.*amd\.com/gpu.*stay Pending`)}}},
		},
	})
}
