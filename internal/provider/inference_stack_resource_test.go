package provider

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
)

const stackAddr = "attach_inference_stack.test"

// stackConfig is the quickstart shape: HA cluster, system pool, an H100
// pool autoscaling from zero, PostgreSQL with a standby and a transaction
// pool, Valkey with a standby.
func stackConfig(srv *emulator.Server, gpuMax int, protect bool) string {
	return providerBlock(srv) + fmt.Sprintf(`
resource "attach_inference_stack" "test" {
  name   = "acc"
  region = "tor1"
  tags   = ["team-ml"]

  cluster = {
    version = "1.33"
    maintenance_window = {
      day        = "sunday"
      start_time = "04:00"
    }
    system_pool = {
      size       = "s-2vcpu-4gb"
      node_count = 2
    }
    gpu_pools = {
      h100 = {
        size      = "gpu-h100x1-80gb"
        min_nodes = 0
        max_nodes = %d
        labels    = { workload = "inference" }
      }
    }
  }

  databases = {
    vectors = {
      engine              = "pg"
      version             = "17"
      size                = "db-s-2vcpu-4gb"
      dbs                 = ["app"]
      users               = ["app"]
      deletion_protection = %t
      pools = {
        app = { size = 10, db = "app", user = "app" }
      }
      trusted_sources = [{ type = "ip_addr", value = "203.0.113.10" }]
    }
    cache = {
      engine              = "valkey"
      size                = "db-s-1vcpu-2gb"
      eviction_policy     = "allkeys_lru"
      deletion_protection = %t
    }
  }
}
`, gpuMax, protect, protect)
}

func TestAccInferenceStackLifecycle(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             inventoryEmpty(srv),
		Steps: []resource.TestStep{
			{
				Config: stackConfig(srv, 2, false),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(stackAddr, tfjsonpath.New("id"), knownvalue.StringExact("acc")),
					statecheck.ExpectKnownValue(stackAddr, tfjsonpath.New("cluster_version"), knownvalue.StringExact("1.33.1-do.0")),
					statecheck.ExpectKnownValue(stackAddr, tfjsonpath.New("databases").AtMapKey("vectors").AtMapKey("node_count"), knownvalue.Int64Exact(2)),
					statecheck.ExpectKnownValue(stackAddr, tfjsonpath.New("databases").AtMapKey("vectors").AtMapKey("private_host"), knownvalue.StringRegexp(mustRegexp(`^private-`))),
					statecheck.ExpectKnownValue(stackAddr, tfjsonpath.New("cluster").AtMapKey("gpu_pools").AtMapKey("h100").AtMapKey("taints"),
						knownvalue.ListExact([]knownvalue.Check{knownvalue.ObjectExact(map[string]knownvalue.Check{
							"key": knownvalue.StringExact("nvidia.com/gpu"), "value": knownvalue.StringExact(""), "effect": knownvalue.StringExact("NoSchedule"),
						})})),
				},
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				// GPU bounds change in place.
				Config: stackConfig(srv, 4, false),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(stackAddr, plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(stackAddr, tfjsonpath.New("cluster").AtMapKey("gpu_pools").AtMapKey("h100").AtMapKey("max_nodes"), knownvalue.Int64Exact(4)),
				},
			},
		},
	})
}

// inventoryEmpty checks that destroy left nothing in the emulator (deletes
// take a scaled minute to drain, so it waits for them).
func inventoryEmpty(srv *emulator.Server) resource.TestCheckFunc {
	return func(*terraform.State) error {
		for range 200 {
			if srv.Inventory().Empty() {
				return nil
			}
			sleep(10)
		}
		return fmt.Errorf("the emulator still holds:\n%s", srv.Inventory())
	}
}

func mustRegexp(s string) *regexpT { return regexpMust(s) }

var _ = strings.Contains
