package provider

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
)

// Node pool identity through Terraform: a GPU pool replaced for a size
// change keeps its key (the DOKS pool's tag and node label), is announced
// as a replacement at plan, and an import after any replacement (of the
// pool, or of the whole cluster) gives the state the configuration has, so
// the next plan is empty. Pool keys that would collide with a replacement
// name are refused at plan.

// identityStack is a stack with one GPU pool h100 of size gpuSize and a
// highly available control plane or not (turning HA off replaces the
// cluster).
func identityStack(srv *emulator.Server, name, gpuSize string, ha bool) string {
	// No version, subnets or VPC range: import cannot tell a configured
	// value of those from DigitalOcean's (it leaves them null), which is
	// not what this test is about.
	return lcStack(srv, name, "tor1", fmt.Sprintf(`
  cluster = {
    ha = %t
    system_pool = {
      size       = "s-2vcpu-4gb"
      node_count = 2
    }
    gpu_pools = {
      h100 = {
        size      = %q
        min_nodes = 0
        max_nodes = 1
        labels    = { workload = "inference" }
      }
    }
  }
`, ha, gpuSize))
}

// identityImportSteps imports the stack named name into a fresh state and
// checks it equals the applied one, then imports it with an import block
// beside config (the prior step's): the plan must be a no-op.
func identityImportSteps(name string) []resource.TestStep {
	return []resource.TestStep{
		{
			ResourceName:      stackAddr,
			ImportState:       true,
			ImportStateId:     name,
			ImportStateVerify: true,
			ImportStateVerifyIgnore: []string{
				// Fetched again on import: a new token with a new expiry.
				"kubeconfig", "kubeconfig_expires_at",
				// A user's prefix ("1.33"); DigitalOcean only knows the
				// resolved slug, which cluster_version carries.
				"cluster.version",
			},
		},
		{
			ResourceName:     stackAddr,
			ImportState:      true,
			ImportStateId:    name,
			ImportStateKind:  resource.ImportBlockWithID,
			ImportPlanChecks: resource.ImportPlanChecks{PreApply: []plancheck.PlanCheck{lcEmptyPlan}},
		},
	}
}

// poolLabels reads the DOKS pools of the stack's cluster: name -> labels.
func (a *lcAPI) poolLabels(clusterID string) (map[string]map[string]string, error) {
	c, _, err := a.c.Kubernetes.Get(context.Background(), clusterID)
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]string{}
	for _, p := range c.NodePools {
		out[p.Name] = p.Labels
	}
	return out, nil
}

func TestAccInferenceStackGPUPoolReplacementThenImport(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	api := newLCAPI(t, srv)
	rec := &lcDiagRecorder{}
	before := identityStack(srv, "poolid", "gpu-h100x1-80gb", true)
	after := identityStack(srv, "poolid", "gpu-l40sx1-48gb", true)
	steps := []resource.TestStep{
		{Config: before},
		{
			PreConfig: rec.reset,
			Config:    after,
			ConfigPlanChecks: resource.ConfigPlanChecks{
				PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(stackAddr, plancheck.ResourceActionUpdate),
					rec.expectWarning(false, `GPU pool h100 will be replaced: .*gpu-h100x1-80gb -> gpu-l40sx1-48gb.*new DOKS node pool h100-b .*old pool h100 is drained .*attach\.dev/pool=h100`),
				},
				PostApplyPostRefresh: []plancheck.PlanCheck{lcEmptyPlan},
			},
			ConfigStateChecks: []statecheck.StateCheck{lcStateCheck(func(v lcValues) error {
				pools, err := api.poolLabels(v.str("cluster_id"))
				if err != nil {
					return err
				}
				names := sortedKeys(pools)
				if !slices.Equal(names, []string{"h100-b", "system"}) {
					return fmt.Errorf("DOKS pools %v, want h100-b and system (the old pool gone)", names)
				}
				if got := pools["h100-b"]["attach.dev/pool"]; got != "h100" {
					return fmt.Errorf("pool h100-b labels %v: want attach.dev/pool=h100", pools["h100-b"])
				}
				if got := pools["system"]["attach.dev/pool"]; got != "system" {
					return fmt.Errorf("pool system labels %v: want attach.dev/pool=system", pools["system"])
				}
				return nil
			})},
		},
	}
	steps = append(steps, identityImportSteps("poolid")...)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: rec.factories(),
		CheckDestroy:             inventoryEmpty(srv),
		Steps:                    steps,
	})
}

func TestAccInferenceStackClusterReplacementThenImport(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	api := newLCAPI(t, srv)
	// The whole cluster is replaced (clid-g2: high availability cannot be
	// turned off in place), then the GPU pool of the new cluster (h100-b).
	first := identityStack(srv, "clid", "gpu-h100x1-80gb", true)
	replaced := identityStack(srv, "clid", "gpu-h100x1-80gb", false)
	resized := identityStack(srv, "clid", "gpu-l40sx1-48gb", false)
	labelled := func(cluster, pool string) lcStateCheck {
		return func(v lcValues) error {
			c, _, err := api.c.Kubernetes.Get(context.Background(), v.str("cluster_id"))
			if err != nil {
				return err
			}
			if c.Name != cluster {
				return fmt.Errorf("cluster %s, want %s", c.Name, cluster)
			}
			pools, err := api.poolLabels(c.ID)
			if err != nil {
				return err
			}
			if got := pools[pool]["attach.dev/pool"]; got != "h100" {
				return fmt.Errorf("pools of cluster %s: %v; want %s labelled attach.dev/pool=h100", cluster, pools, pool)
			}
			return nil
		}
	}
	steps := []resource.TestStep{
		{Config: first},
		{Config: replaced, ConfigStateChecks: []statecheck.StateCheck{labelled("clid-g2", "h100")}},
		{Config: resized, ConfigStateChecks: []statecheck.StateCheck{labelled("clid-g2", "h100-b")}},
	}
	steps = append(steps, identityImportSteps("clid")...)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             inventoryEmpty(srv),
		Steps:                    steps,
	})
}

func TestAccInferenceStackPoolKeyCollisionsRefusedAtPlan(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	pools := func(body string) string {
		return lcStack(srv, "coll", "tor1", lcCluster(`
    gpu_pools = {
`+body+`
    }
`))
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             inventoryEmpty(srv),
		Steps: []resource.TestStep{
			{
				Config: pools(`
      h100   = { size = "gpu-h100x1-80gb", max_nodes = 1 }
      h100-b = { size = "gpu-h100x1-80gb", max_nodes = 1 }
`),
				PlanOnly:    true,
				ExpectError: errorPattern(`Node pool key collides with a replacement name`, `pool "h100"`, `"h100-b"`, `Rename pool "h100-b"`),
			},
			{
				Config: pools(`
      h100     = { size = "gpu-h100x1-80gb", max_nodes = 1 }
      system-a = { size = "gpu-h100x1-80gb", max_nodes = 1 }
`),
				PlanOnly:    true,
				ExpectError: errorPattern(`Node pool key collides with a replacement name`, `pool "system"`),
			},
			{
				Config: pools(`
      h100 = { size = "gpu-h100x1-80gb", max_nodes = 1, labels = { "attach.dev/pool" = "x" } }
`),
				PlanOnly:    true,
				ExpectError: errorPattern(`Label reserved for the stack`, `attach.dev/pool`),
			},
		},
	})
	if !srv.Inventory().Empty() {
		t.Fatalf("a refused plan created something:\n%s", srv.Inventory())
	}
}
