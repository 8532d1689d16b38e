package provider

import (
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
)

// These run Terraform without a cloud: the provider must reject a bad
// configuration at configure time with a diagnostic naming the attribute.

func TestProviderMissingTokenIsAConfigureError(t *testing.T) {
	t.Setenv(EnvToken, "")
	t.Setenv(EnvAccessToken, "")
	srv := startEmulator(t, emulator.Config{})
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: `
provider "attach" {
  api_endpoint = "` + srv.URL + `"
}
data "attach_kubernetes_options" "all" {}
`,
			ExpectError: regexp.MustCompile(`(?s)Missing DigitalOcean API token.*DIGITALOCEAN_TOKEN`),
		}},
	})
	if n := srv.TotalRequests(); n != 0 {
		t.Errorf("a provider without a token sent %d API requests; want none", n)
	}
}

func TestProviderTokenFromEnvironment(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	t.Setenv(EnvToken, "")
	t.Setenv(EnvAccessToken, srv.Token) // the second fallback
	t.Setenv(EnvAPIURL, srv.URL)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: `data "attach_kubernetes_options" "all" {}`,
		}},
	})
	if srv.TotalRequests() == 0 {
		t.Error("the provider never reached the endpoint in DIGITALOCEAN_API_URL")
	}
}

func TestProviderBadTokenNamesTheAPIError(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: `
provider "attach" {
  token        = "not-the-token"
  api_endpoint = "` + srv.URL + `"
}
data "attach_kubernetes_options" "all" {}
`,
			ExpectError: regexp.MustCompile(`(?s)reading /v2/kubernetes/options: the API token was rejected by`),
		}},
	})
}

func TestProviderRejectsBadSettings(t *testing.T) {
	cases := map[string]struct {
		block string
		want  string
	}{
		"endpoint not a URL": {`api_endpoint = "api.digitalocean.com"`, `(?s)Invalid DigitalOcean API endpoint.*not an\s+http\(s\)\s+URL`},
		"inverted waits":     {"http_retry_wait_min = 10\n  http_retry_wait_max = 5", `(?s)Retry wait bounds are inverted.*http_retry_wait_max`},
		"negative retries":   {`http_retry_max = -1`, `(?s)http_retry_max.*between 0 and 100`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			resource.UnitTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config: `
provider "attach" {
  token = "x"
  ` + tc.block + `
}
data "attach_kubernetes_options" "all" {}
`,
					ExpectError: regexp.MustCompile(tc.want),
				}},
			})
		})
	}
}
