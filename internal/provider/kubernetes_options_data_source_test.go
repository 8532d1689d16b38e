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

// The expected values below are the emulator's catalogue
// (internal/emulator/kubernetes_catalog.go): DOKS 1.33.1, 1.32.5 and 1.31.9;
// H100 in nyc2, tor1 and atl1; MI300X only in atl1; no GPUs in fra1.

const kubernetesOptionsConfig = `
data "attach_kubernetes_options" "all" {}

data "attach_kubernetes_options" "v132" {
  version_prefix = "1.32"
}

output "h100" {
  value = one([for s in data.attach_kubernetes_options.all.sizes : s if s.slug == "gpu-h100x8-640gb"])
}

output "cpu" {
  value = one([for s in data.attach_kubernetes_options.all.sizes : s if s.slug == "s-2vcpu-4gb"])
}
`

func TestAccKubernetesOptionsDataSource(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	const all = "data.attach_kubernetes_options.all"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: providerBlock(srv) + kubernetesOptionsConfig,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(all, tfjsonpath.New("latest_version"), knownvalue.StringExact("1.33.1-do.0")),
				statecheck.ExpectKnownValue("data.attach_kubernetes_options.v132", tfjsonpath.New("latest_version"), knownvalue.StringExact("1.32.5-do.0")),
				statecheck.ExpectKnownValue(all, tfjsonpath.New("versions"), knownvalue.ListSizeExact(3)),
				statecheck.ExpectKnownValue(all, tfjsonpath.New("versions").AtSliceIndex(0), knownvalue.ObjectPartial(map[string]knownvalue.Check{
					"slug":               knownvalue.StringExact("1.33.1-do.0"),
					"kubernetes_version": knownvalue.StringExact("1.33.1"),
				})),
				statecheck.ExpectKnownValue(all, tfjsonpath.New("gpu_sizes_by_region"), knownvalue.MapPartial(map[string]knownvalue.Check{
					"atl1": knownvalue.ListExact([]knownvalue.Check{
						knownvalue.StringExact("gpu-h100x1-80gb"),
						knownvalue.StringExact("gpu-h100x8-640gb"),
						knownvalue.StringExact("gpu-l40sx1-48gb"),
						knownvalue.StringExact("gpu-mi300x1-192gb"),
						knownvalue.StringExact("gpu-mi300x8-1536gb"),
					}),
					"fra1": knownvalue.ListSizeExact(0),
				})),
				statecheck.ExpectKnownOutputValue("h100", knownvalue.ObjectExact(map[string]knownvalue.Check{
					"slug":      knownvalue.StringExact("gpu-h100x8-640gb"),
					"name":      knownvalue.NotNull(),
					"gpu":       knownvalue.Bool(true),
					"gpu_model": knownvalue.StringRegexp(regexp.MustCompile(`(?i)h100`)),
					"gpu_count": knownvalue.Int64Exact(8),
					"regions": knownvalue.ListExact([]knownvalue.Check{
						knownvalue.StringExact("atl1"), knownvalue.StringExact("nyc2"), knownvalue.StringExact("tor1"),
					}),
				})),
				statecheck.ExpectKnownOutputValue("cpu", knownvalue.ObjectPartial(map[string]knownvalue.Check{
					"gpu":       knownvalue.Bool(false),
					"gpu_count": knownvalue.Int64Exact(0),
					"regions":   knownvalue.ListSizeExact(13),
				})),
			},
			ConfigPlanChecks: resource.ConfigPlanChecks{
				// Reading again must not produce a diff.
				PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
			},
		}},
	})
	counts := srv.RequestCounts()
	if counts["GET /v2/kubernetes/options"] == 0 || counts["GET /v2/sizes"] == 0 {
		t.Errorf("the data source did not read options and sizes: %v", counts)
	}
}

func TestAccKubernetesOptionsUnknownVersionPrefix(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			// "1.3" is not a prefix of 1.33: versions match whole components.
			Config: providerBlock(srv) + `
data "attach_kubernetes_options" "bad" {
  version_prefix = "1.3"
}
`,
			ExpectError: regexp.MustCompile(`(?s)No Kubernetes version matches.*version_prefix.*1\.33\.1-do\.0`),
		}},
	})
}

func TestAccKubernetesOptionsRetriesThroughFaults(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	for _, route := range []string{"/v2/kubernetes/options", "/v2/sizes"} {
		injectFault(t, srv, emulator.Fault{Route: route, Kind: emulator.FaultStatus, Status: 503, Count: 1})
	}
	injectFault(t, srv, emulator.Fault{Route: "/v2/sizes", Kind: emulator.FaultRateLimit, RetryAfter: 0, Count: 1})
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: providerBlock(srv) + `data "attach_kubernetes_options" "all" {}`,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("data.attach_kubernetes_options.all", tfjsonpath.New("latest_version"), knownvalue.StringExact("1.33.1-do.0")),
			},
		}},
	})
}

func TestLatestKubernetesVersion(t *testing.T) {
	// Unit check of the ordering: numeric, not lexical, and independent of
	// the API's listing order.
	if got := compareVersionSlugs("1.33.10-do.0", "1.33.9-do.2"); got <= 0 {
		t.Errorf("1.33.10 must sort after 1.33.9")
	}
	if got := compareVersionSlugs("1.33.1-do.2", "1.33.1-do.10"); got >= 0 {
		t.Errorf("do.2 must sort before do.10")
	}
}
