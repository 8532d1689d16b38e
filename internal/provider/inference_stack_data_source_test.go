package provider

import (
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
)

func TestAccInferenceStackDataSource(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	const ds = "data.attach_inference_stack.lookup"
	lookup := `
data "attach_inference_stack" "lookup" {
  name       = attach_inference_stack.test.name
  depends_on = [attach_inference_stack.test]
}
`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             inventoryEmpty(srv),
		Steps: []resource.TestStep{
			{
				Config: stackConfig(srv, 2, false) + lookup,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.CompareValuePairs(ds, tfjsonpath.New("cluster_id"), stackAddr, tfjsonpath.New("cluster_id"), compare.ValuesSame()),
					statecheck.CompareValuePairs(ds, tfjsonpath.New("vpc_id"), stackAddr, tfjsonpath.New("vpc_id"), compare.ValuesSame()),
					statecheck.CompareValuePairs(ds, tfjsonpath.New("databases").AtMapKey("vectors").AtMapKey("id"),
						stackAddr, tfjsonpath.New("databases").AtMapKey("vectors").AtMapKey("id"), compare.ValuesSame()),
					statecheck.CompareValuePairs(ds, tfjsonpath.New("databases").AtMapKey("vectors").AtMapKey("pools").AtMapKey("app").AtMapKey("private_host"),
						stackAddr, tfjsonpath.New("databases").AtMapKey("vectors").AtMapKey("pools").AtMapKey("app").AtMapKey("private_host"), compare.ValuesSame()),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("databases").AtMapKey("cache").AtMapKey("owned"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("region"), knownvalue.StringExact("tor1")),
				},
			},
			{
				Config:      stackConfig(srv, 2, false) + `data "attach_inference_stack" "missing" { name = "no-such-stack" }`,
				ExpectError: regexp.MustCompile(`(?s)Stack not found.*no-such-stack`),
			},
		},
	})
}
