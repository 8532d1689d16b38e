package provider

import (
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
)

// Expected values are the emulator's catalogue (internal/emulator/database_catalog.go).
func TestAccDatabaseOptionsDataSource(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: providerBlock(srv) + `
data "attach_database_options" "all" {}

data "attach_database_options" "pg" {
  engine = "pg"
}

# Kafka is not offered in nyc1 in the emulated catalogue.
data "attach_database_options" "nyc1" {
  region = "nyc1"
}
`,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("data.attach_database_options.all", tfjsonpath.New("engines"), knownvalue.ListSizeExact(6)),
				statecheck.ExpectKnownValue("data.attach_database_options.pg", tfjsonpath.New("engines"), knownvalue.ListExact([]knownvalue.Check{
					knownvalue.ObjectPartial(map[string]knownvalue.Check{
						"engine":         knownvalue.StringExact("pg"),
						"latest_version": knownvalue.StringExact("17"),
						"versions":       knownvalue.ListSizeExact(4),
						"layouts": knownvalue.ListPartial(map[int]knownvalue.Check{
							1: knownvalue.ObjectPartial(map[string]knownvalue.Check{"node_count": knownvalue.Int64Exact(2)}),
						}),
					}),
				})),
				statecheck.ExpectKnownValue("data.attach_database_options.nyc1", tfjsonpath.New("engines"), knownvalue.ListSizeExact(4)),
			},
			ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
		}},
	})
}

func TestAccDatabaseOptionsUnknownRegion(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      providerBlock(srv) + `data "attach_database_options" "x" { region = "mars1" }`,
			ExpectError: regexp.MustCompile(`(?s)No database engine in this region.*mars1`),
		}},
	})
}
