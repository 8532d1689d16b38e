package provider

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
	"github.com/attach-labs/terraform-provider-attach/internal/stack"
)

// The cluster settings of issue 12, each through the whole path: set at
// create, changed in place (the cluster id never changes), drift made
// through the API seen and repaired, an empty plan after, and import.

// csStack is a stack named "acs" with extra inside its cluster block.
func csStack(srv *emulator.Server, extra string) string {
	return lcStack(srv, "acs", "tor1", lcCluster(extra))
}

// csUpdate changes the cluster out of band the way a console user would:
// a PUT that repeats the settings it does not mean to change (godo's
// surge_upgrade is omitempty, so the current value is sent explicitly).
func (o outOfBand) csUpdate(name string, change func(req *godo.KubernetesClusterUpdateRequest)) {
	o.t.Helper()
	cl := o.cluster(name)
	req := &godo.KubernetesClusterUpdateRequest{Name: cl.Name, AutoUpgrade: godo.PtrTo(cl.AutoUpgrade), SurgeUpgrade: cl.SurgeUpgrade}
	change(req)
	_, _, err := o.api.Kubernetes.Update(context.Background(), cl.ID, req)
	o.must(err, "updating cluster "+name)
}

// csFirewall checks the cluster's firewall as DigitalOcean has it.
func csFirewall(o outOfBand, name string, enabled bool, addrs ...string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		f := o.cluster(name).ControlPlaneFirewall
		on := f != nil && f.Enabled != nil && *f.Enabled
		if on != enabled {
			return fmt.Errorf("cluster %s: control plane firewall enabled = %v, want %v (%+v)", name, on, enabled, f)
		}
		if !enabled {
			return nil
		}
		got := slices.Clone(f.AllowedAddresses)
		slices.Sort(got)
		want := slices.Clone(addrs)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			return fmt.Errorf("cluster %s: allowed_addresses = %v, want %v", name, got, want)
		}
		return nil
	}
}

func csFirewallBlock(enabled bool, addrs ...string) string {
	return fmt.Sprintf(`
    control_plane_firewall = {
      enabled           = %v
      allowed_addresses = [%s]
    }`, enabled, `"`+strings.Join(addrs, `", "`)+`"`)
}

func TestAccInferenceStackControlPlaneFirewall(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	oob := outOfBand{t: t, api: testGodo(t, srv)}
	const office, vpn, runner = "203.0.113.0/24", "198.51.100.7", "192.0.2.10"
	first := csStack(srv, csFirewallBlock(true, office, vpn))
	second := csStack(srv, csFirewallBlock(true, office, runner))
	unset := csStack(srv, "")
	clusterID := statecheck.CompareValue(compare.ValuesSame())
	sameCluster := func() statecheck.StateCheck { return clusterID.AddStateValue(stackAddr, tfjsonpath.New("cluster_id")) }
	empty := resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}}
	inPlace := resource.ConfigPlanChecks{
		PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(stackAddr, plancheck.ResourceActionUpdate)},
		PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
	}
	withID := func(step resource.TestStep, after ...resource.TestCheckFunc) resource.TestStep {
		step.ConfigStateChecks = append(step.ConfigStateChecks, sameCluster())
		if len(after) > 0 {
			step.Check = resource.ComposeAggregateTestCheckFunc(after...)
		}
		return step
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             inventoryEmpty(srv),
		Steps: []resource.TestStep{
			// Created with the firewall on.
			{Config: first, ConfigPlanChecks: empty, ConfigStateChecks: []statecheck.StateCheck{sameCluster()},
				Check: resource.ComposeAggregateTestCheckFunc(csFirewall(oob, "acs", true, office, vpn),
					resource.TestCheckResourceAttr(stackAddr, "cluster.control_plane_firewall.enabled", "true"),
					resource.TestCheckTypeSetElemAttr(stackAddr, "cluster.control_plane_firewall.allowed_addresses.*", vpn))},
			// Imported: the same state, and an empty plan beside the configuration.
			{ResourceName: stackAddr, ImportState: true, ImportStateId: "acs", ImportStateVerify: true,
				ImportStateVerifyIgnore: []string{"kubeconfig", "kubeconfig_expires_at", "cluster.version"}},
			{ResourceName: stackAddr, ImportState: true, ImportStateId: "acs", ImportStateKind: resource.ImportBlockWithID,
				ImportPlanChecks: resource.ImportPlanChecks{PreApply: []plancheck.PlanCheck{lcEmptyPlan}}},
			// An address changed in place.
			withID(resource.TestStep{Config: second, ConfigPlanChecks: inPlace, Check: csFirewall(oob, "acs", true, office, runner)}),
			// Drift: an address swapped through the API.
			withID(driftStep(second, func() {
				oob.csUpdate("acs", func(req *godo.KubernetesClusterUpdateRequest) {
					req.ControlPlaneFirewall = &godo.KubernetesControlPlaneFirewall{Enabled: godo.PtrTo(true), AllowedAddresses: []string{"0.0.0.0/0"}}
				})
			}), csFirewall(oob, "acs", true, office, runner)),
			// Drift: the firewall turned off through the API.
			withID(driftStep(second, func() {
				oob.csUpdate("acs", func(req *godo.KubernetesClusterUpdateRequest) {
					req.ControlPlaneFirewall = &godo.KubernetesControlPlaneFirewall{Enabled: godo.PtrTo(false), AllowedAddresses: []string{office}}
				})
			}), csFirewall(oob, "acs", true, office, runner)),
			// Disabled in place, addresses kept on record.
			withID(resource.TestStep{Config: csStack(srv, csFirewallBlock(false, office)), ConfigPlanChecks: inPlace,
				Check: csFirewall(oob, "acs", false)}),
			// Removed from the configuration: off.
			withID(resource.TestStep{Config: unset, ConfigPlanChecks: inPlace, Check: csFirewall(oob, "acs", false)}),
			// Drift while unmanaged: turned on through the API shows, and
			// apply turns it off again.
			withID(driftStep(unset, func() {
				oob.csUpdate("acs", func(req *godo.KubernetesClusterUpdateRequest) {
					req.ControlPlaneFirewall = &godo.KubernetesControlPlaneFirewall{Enabled: godo.PtrTo(true), AllowedAddresses: []string{vpn}}
				})
			}), csFirewall(oob, "acs", false)),
		},
	})
}

// csAutoscaler checks the cluster's autoscaler configuration as
// DigitalOcean has it.
func csAutoscaler(o outOfBand, name string, threshold float64, unneeded string, expanders ...string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		a := o.cluster(name).ClusterAutoscalerConfiguration
		if a == nil || a.ScaleDownUtilizationThreshold == nil || a.ScaleDownUnneededTime == nil {
			return fmt.Errorf("cluster %s: autoscaler configuration %+v, want threshold %v and time %s", name, a, threshold, unneeded)
		}
		if *a.ScaleDownUtilizationThreshold != threshold || *a.ScaleDownUnneededTime != unneeded || !slices.Equal(a.Expanders, expanders) {
			return fmt.Errorf("cluster %s: autoscaler threshold %v, time %s, expanders %v; want %v, %s, %v", name,
				*a.ScaleDownUtilizationThreshold, *a.ScaleDownUnneededTime, a.Expanders, threshold, unneeded, expanders)
		}
		return nil
	}
}

func csAutoscalerBlock(threshold float64, unneeded string, expanders ...string) string {
	return fmt.Sprintf(`
    cluster_autoscaler_configuration = {
      scale_down_utilization_threshold = %v
      scale_down_unneeded_time         = %q
      expanders                        = [%s]
    }`, threshold, unneeded, `"`+strings.Join(expanders, `", "`)+`"`)
}

func TestAccInferenceStackAutoscalerConfiguration(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	oob := outOfBand{t: t, api: testGodo(t, srv)}
	gpu := `
    gpu_pools = {
      h100 = { size = "gpu-h100x1-80gb", max_nodes = 2 }
    }`
	first := csStack(srv, gpu+csAutoscalerBlock(0.4, "5m", "least_waste"))
	second := csStack(srv, gpu+csAutoscalerBlock(0.6, "15m", "priority", "least_waste"))
	unset := csStack(srv, gpu)
	clusterID := statecheck.CompareValue(compare.ValuesSame())
	sameCluster := func() statecheck.StateCheck { return clusterID.AddStateValue(stackAddr, tfjsonpath.New("cluster_id")) }
	inPlace := resource.ConfigPlanChecks{
		PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(stackAddr, plancheck.ResourceActionUpdate)},
		PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
	}
	drift := func(threshold float64, unneeded string, expanders ...string) func() {
		return func() {
			oob.csUpdate("acs", func(req *godo.KubernetesClusterUpdateRequest) {
				req.ClusterAutoscalerConfiguration = &godo.KubernetesClusterAutoscalerConfiguration{
					ScaleDownUtilizationThreshold: godo.PtrTo(threshold), ScaleDownUnneededTime: godo.PtrTo(unneeded), Expanders: expanders}
			})
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             inventoryEmpty(srv),
		Steps: []resource.TestStep{
			{Config: first, ConfigStateChecks: []statecheck.StateCheck{sameCluster()},
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check: resource.ComposeAggregateTestCheckFunc(csAutoscaler(oob, "acs", 0.4, "5m", "least_waste"),
					resource.TestCheckResourceAttr(stackAddr, "cluster.cluster_autoscaler_configuration.scale_down_unneeded_time", "5m"))},
			{ResourceName: stackAddr, ImportState: true, ImportStateId: "acs", ImportStateVerify: true,
				ImportStateVerifyIgnore: []string{"kubeconfig", "kubeconfig_expires_at", "cluster.version"}},
			{ResourceName: stackAddr, ImportState: true, ImportStateId: "acs", ImportStateKind: resource.ImportBlockWithID,
				ImportPlanChecks: resource.ImportPlanChecks{PreApply: []plancheck.PlanCheck{lcEmptyPlan}}},
			// Every setting changed in place.
			{Config: second, ConfigPlanChecks: inPlace, ConfigStateChecks: []statecheck.StateCheck{sameCluster()},
				Check: csAutoscaler(oob, "acs", 0.6, "15m", "priority", "least_waste")},
			// Drift: every setting changed through the API, then repaired.
			func() resource.TestStep {
				s := driftStep(second, drift(0.9, "1h", "random"))
				s.Check = csAutoscaler(oob, "acs", 0.6, "15m", "priority", "least_waste")
				return s
			}(),
			// The same duration spelled the API's way is no drift.
			{PreConfig: drift(0.6, "15m0s", "priority", "least_waste"), Config: second,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check:            csAutoscaler(oob, "acs", 0.6, "15m0s", "priority", "least_waste")},
			// Removed from the configuration: no longer managed, the
			// cluster keeps its values and nothing is sent.
			{Config: unset, ConfigStateChecks: []statecheck.StateCheck{sameCluster(),
				statecheck.ExpectKnownValue(stackAddr, tfjsonpath.New("cluster").AtMapKey("cluster_autoscaler_configuration"), knownvalue.Null())},
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check:            csAutoscaler(oob, "acs", 0.6, "15m0s", "priority", "least_waste")},
		},
	})
}

// csExpiresIn checks that the kubeconfig in state expires about d from now
// and, when prev is set, that it is a new kubeconfig.
func csExpiresIn(d time.Duration, prev *string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		at, err := stateAttr(s, "kubeconfig_expires_at")
		if err != nil {
			return err
		}
		exp, err := time.Parse(time.RFC3339, at)
		if err != nil {
			return fmt.Errorf("kubeconfig_expires_at %q: %v", at, err)
		}
		if left := time.Until(exp); left < d-5*time.Minute || left > d+time.Minute {
			return fmt.Errorf("kubeconfig expires in %s, want about %s", left.Round(time.Second), d)
		}
		kc, err := stateAttr(s, "kubeconfig")
		if err != nil {
			return err
		}
		if !strings.Contains(kc, "token: doks_") {
			return fmt.Errorf("kubeconfig in state carries no token")
		}
		if prev != nil {
			if kc == *prev {
				return fmt.Errorf("the kubeconfig was not fetched again")
			}
			*prev = kc
		}
		return nil
	}
}

func TestAccInferenceStackKubeconfigExpiry(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	day := csStack(srv, `
    kubeconfig_expiry_seconds = 86400`)
	hour := csStack(srv, `
    kubeconfig_expiry_seconds = 3600`)
	unset := csStack(srv, "")
	clusterID := statecheck.CompareValue(compare.ValuesSame())
	sameCluster := func() statecheck.StateCheck { return clusterID.AddStateValue(stackAddr, tfjsonpath.New("cluster_id")) }
	// A new lifetime plans an in-place update with a kubeconfig to come.
	inPlace := resource.ConfigPlanChecks{
		PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(stackAddr, plancheck.ResourceActionUpdate),
			plancheck.ExpectUnknownValue(stackAddr, tfjsonpath.New("kubeconfig")),
			plancheck.ExpectUnknownValue(stackAddr, tfjsonpath.New("kubeconfig_expires_at"))},
		PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
	}
	var kubeconfig string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             inventoryEmpty(srv),
		Steps: []resource.TestStep{
			{Config: day, ConfigStateChecks: []statecheck.StateCheck{sameCluster()},
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check: resource.ComposeAggregateTestCheckFunc(csExpiresIn(24*time.Hour, &kubeconfig),
					resource.TestCheckResourceAttr(stackAddr, "cluster.kubeconfig_expiry_seconds", "86400"))},
			// Shortened in place: a new kubeconfig, and refresh keeps it
			// (more than half its hour remains), so the plan after is empty.
			{Config: hour, ConfigPlanChecks: inPlace, ConfigStateChecks: []statecheck.StateCheck{sameCluster()},
				Check: csExpiresIn(time.Hour, &kubeconfig)},
			// Back to the default.
			{Config: unset, ConfigPlanChecks: inPlace, ConfigStateChecks: []statecheck.StateCheck{sameCluster()},
				Check: resource.ComposeAggregateTestCheckFunc(csExpiresIn(7*24*time.Hour, &kubeconfig),
					resource.TestCheckResourceAttr(stackAddr, "cluster.kubeconfig_expiry_seconds", "604800"))},
			// Imported: DigitalOcean keeps no lifetime, the import fetches
			// with the default, and the default configuration plans empty.
			{ResourceName: stackAddr, ImportState: true, ImportStateId: "acs", ImportStateVerify: true,
				ImportStateVerifyIgnore: []string{"kubeconfig", "kubeconfig_expires_at", "cluster.version"}},
			{ResourceName: stackAddr, ImportState: true, ImportStateId: "acs", ImportStateKind: resource.ImportBlockWithID,
				ImportPlanChecks: resource.ImportPlanChecks{PreApply: []plancheck.PlanCheck{lcEmptyPlan}}},
		},
	})
}

// csPoolTags checks the tags of the cluster's pool called pool, as
// DigitalOcean has them, without DOKS's and the identity tag.
func csPoolTags(o outOfBand, name, pool string, want ...string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		var got []string
		for _, t := range o.pool(o.cluster(name), pool).Tags {
			// DOKS's tags and the stack's identity tags are not the user's.
			if t != "k8s" && !strings.HasPrefix(t, "k8s:") && !strings.HasPrefix(t, stack.PoolTagPrefix) && !strings.HasPrefix(t, stack.OwnerTagPrefix) {
				got = append(got, t)
			}
		}
		slices.Sort(got)
		want = slices.Clone(want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			return fmt.Errorf("pool %s of %s has tags %v, want %v", pool, name, got, want)
		}
		return nil
	}
}

// csPoolTagsStack is a stack tagged team-ml whose system pool has
// systemTags (no tags attribute when empty) and whose h100 pool has gpuTags.
func csPoolTagsStack(srv *emulator.Server, systemTags, gpuTags string) string {
	if systemTags != "" {
		systemTags = "\n      tags       = [" + systemTags + "]"
	}
	return lcStack(srv, "acs", "tor1", `  tags = ["team-ml"]`+fmt.Sprintf(`
  cluster = {
    version = "1.33"
    system_pool = {
      size       = "s-2vcpu-4gb"
      node_count = 2%s
    }
    gpu_pools = {
      h100 = { size = "gpu-h100x1-80gb", max_nodes = 2, tags = [%s] }
    }
  }
`, systemTags, gpuTags))
}

func TestAccInferenceStackNodePoolTags(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	oob := outOfBand{t: t, api: testGodo(t, srv)}
	first := csPoolTagsStack(srv, `"system"`, `"cost-center:gpu", "team-ml"`)
	second := csPoolTagsStack(srv, ``, `"cost-center:research"`)
	clusterID := statecheck.CompareValue(compare.ValuesSame())
	sameCluster := func() statecheck.StateCheck { return clusterID.AddStateValue(stackAddr, tfjsonpath.New("cluster_id")) }
	inPlace := resource.ConfigPlanChecks{
		PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(stackAddr, plancheck.ResourceActionUpdate)},
		PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
	}
	secondTags := resource.ComposeAggregateTestCheckFunc(
		csPoolTags(oob, "acs", "system", "attach-stack:acs", "team-ml"),
		csPoolTags(oob, "acs", "h100", "attach-stack:acs", "team-ml", "cost-center:research"))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             inventoryEmpty(srv),
		Steps: []resource.TestStep{
			// A pool tag may also be a stack tag ("team-ml"): listed on the
			// pool, it stays in the pool's tags.
			{Config: first, ConfigStateChecks: []statecheck.StateCheck{sameCluster()},
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check: resource.ComposeAggregateTestCheckFunc(
					csPoolTags(oob, "acs", "system", "attach-stack:acs", "team-ml", "system"),
					csPoolTags(oob, "acs", "h100", "attach-stack:acs", "team-ml", "cost-center:gpu"))},
			// Changed in place, no pool replaced.
			{Config: second, ConfigPlanChecks: inPlace, ConfigStateChecks: []statecheck.StateCheck{sameCluster()}, Check: secondTags},
			// Imported (DigitalOcean cannot tell a pool tag that is also a
			// stack tag from the stack's, so this import is of pools whose
			// tags are their own).
			{ResourceName: stackAddr, ImportState: true, ImportStateId: "acs", ImportStateVerify: true,
				ImportStateVerifyIgnore: []string{"kubeconfig", "kubeconfig_expires_at", "cluster.version"}},
			{ResourceName: stackAddr, ImportState: true, ImportStateId: "acs", ImportStateKind: resource.ImportBlockWithID,
				ImportPlanChecks: resource.ImportPlanChecks{PreApply: []plancheck.PlanCheck{lcEmptyPlan}}},
			// Drift: a tag added to a pool and one removed, through the API.
			func() resource.TestStep {
				s := driftStep(second, func() {
					cl := oob.cluster("acs")
					p := oob.pool(cl, "h100")
					tags := slices.DeleteFunc(slices.Clone(p.Tags), func(t string) bool { return t == "cost-center:research" })
					tags = append(tags, "someone-elses")
					_, _, err := oob.api.Kubernetes.UpdateNodePool(context.Background(), cl.ID, p.ID, &godo.KubernetesNodePoolUpdateRequest{
						Name: p.Name, Tags: tags, Labels: p.Labels, Taints: &p.Taints, AutoScale: godo.PtrTo(p.AutoScale),
						MinNodes: godo.PtrTo(p.MinNodes), MaxNodes: godo.PtrTo(p.MaxNodes)})
					oob.must(err, "retagging pool h100")
				})
				s.Check = secondTags
				return s
			}(),
		},
	})
}
