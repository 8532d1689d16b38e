package provider

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
)

// Errors that say what happened: a rejected token names where the provider
// read it; an endpoint that cannot be reached names the endpoint and
// DIGITALOCEAN_API_URL, and fails at once instead of after 20 s of retries.

// A 401 says the token was rejected and where it came from, for each of the
// three places the provider reads a token.
func TestProviderRejectedTokenNamesItsSource(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	cases := map[string]struct {
		attr, env, accessEnv string
		source               string
	}{
		"token attribute":           {attr: "not-the-token", env: srv.Token, source: "the provider block's `token` attribute"},
		"DIGITALOCEAN_TOKEN":        {env: "not-the-token", accessEnv: srv.Token, source: "the DIGITALOCEAN_TOKEN environment variable"},
		"DIGITALOCEAN_ACCESS_TOKEN": {accessEnv: "not-the-token", source: "the DIGITALOCEAN_ACCESS_TOKEN environment variable (DIGITALOCEAN_TOKEN is unset)"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Setenv(EnvToken, tc.env)
			t.Setenv(EnvAccessToken, tc.accessEnv)
			t.Setenv(EnvAPIURL, "")
			block := "provider \"attach\" {\n  api_endpoint = \"" + srv.URL + "\"\n"
			if tc.attr != "" {
				block += "  token = \"" + tc.attr + "\"\n"
			}
			block += "}\n"
			resource.UnitTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config: block + `data "attach_kubernetes_options" "all" {}`,
					ExpectError: errorPattern(`reading /v2/kubernetes/options: the API token was rejected by `+srv.URL,
						`401 Unable to authenticate you`, `The provider read it from `+tc.source),
				}},
			})
		})
	}
}

// badTokenBlock is a provider block at srv with a token srv rejects.
func badTokenBlock(srv *emulator.Server) string {
	return `
provider "attach" {
  token        = "not-the-token"
  api_endpoint = "` + srv.URL + `"
}
`
}

// Looking a stack up with a rejected token is an authentication error, not
// "Stack not found": the API said nothing about the stack.
func TestStackLookupWithRejectedTokenIsNotNotFound(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: badTokenBlock(srv) + `data "attach_inference_stack" "lookup" { name = "acc" }`,
			ExpectError: errorPattern(`Reading stack acc failed`, `listing clusters: the API token was rejected`,
				"The provider read it from the provider block's `token` attribute"),
		}},
	})
}

// Importing a stack with a rejected token says so.
func TestStackImportWithRejectedTokenSaysTheTokenWasRejected(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	good := stackConfig(srv, 2, false)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			// An import step with no step before it: name the provider's
			// source, which the harness otherwise sets up in the first step.
			Config: `terraform {
  required_providers {
    attach = { source = "attach-labs/attach" }
  }
}
` + strings.Replace(good, providerBlock(srv), badTokenBlock(srv), 1),
			ResourceName:  stackAddr,
			ImportState:   true,
			ImportStateId: "acc",
			ExpectError: errorPattern(`Cannot import stack acc`, `listing clusters: the API token was rejected`,
				"The provider read it from the provider block's `token` attribute"),
		}},
	})
}

// closedPort is a local address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// slowRetries would spend at least 20 s retrying a failure it thinks
// transient (5 retries, at least 4 s apart): an endpoint that cannot be
// reached must fail long before.
const (
	slowRetryMax     = 5
	slowRetryWaitMin = 4 * time.Second
	// noRetriesBound is far below the 20 s of retries, far above a request.
	noRetriesBound = 5 * time.Second
)

// unreachableEndpoints are endpoints no retry can reach, and what the error
// must say of each.
func unreachableEndpoints(t *testing.T, srv *emulator.Server) map[string]struct{ endpoint, cause string } {
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler()) // a self-signed certificate
	t.Cleanup(tlsSrv.Close)
	return map[string]struct{ endpoint, cause string }{
		"connection refused":   {"http://" + closedPort(t), "the connection was refused"},
		"unresolvable host":    {"http://attach-nonexistent.invalid", "the host name attach-nonexistent.invalid does not resolve"},
		"https to plain HTTP":  {strings.Replace(srv.URL, "http://", "https://", 1), "the endpoint is https:// but the server there answered in plain HTTP"},
		"untrusted TLS server": {tlsSrv.URL, "its TLS certificate is not trusted"},
	}
}

// The client fails at once on an endpoint it cannot reach, naming it and
// DIGITALOCEAN_API_URL, although its retries would wait 20 s.
func TestClientFailsFastOnAnUnreachableEndpoint(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	for name, tc := range unreachableEndpoints(t, srv) {
		t.Run(name, func(t *testing.T) {
			c, err := NewClient(ClientConfig{
				Token: srv.Token, APIEndpoint: tc.endpoint, EndpointSource: endpointFromEnv,
				RetryMax: slowRetryMax, RetryWaitMin: slowRetryWaitMin, RetryWaitMax: 30 * time.Second,
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			start := time.Now()
			_, _, err = c.Godo.Kubernetes.GetOptions(ctx)
			took := time.Since(start)
			if err == nil {
				t.Fatal("reading options succeeded against an endpoint that cannot answer")
			}
			if took > noRetriesBound {
				t.Errorf("failing took %s: the client retried what cannot succeed", took)
			}
			msg := APIError("reading /v2/kubernetes/options", err)
			t.Log(msg)
			for _, want := range []string{
				"reading /v2/kubernetes/options: cannot reach the DigitalOcean API at " + tc.endpoint + " (set by DIGITALOCEAN_API_URL): " + tc.cause,
				"Check `api_endpoint` in the provider block and DIGITALOCEAN_API_URL",
			} {
				if !strings.Contains(msg, want) {
					t.Errorf("the error lacks %q:\n%s", want, msg)
				}
			}
		})
	}
}

// Through Terraform too: an endpoint from DIGITALOCEAN_API_URL that cannot
// be reached fails the plan quickly with an error naming it.
func TestProviderUnreachableEndpointFailsFast(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	for name, tc := range unreachableEndpoints(t, srv) {
		if name == "untrusted TLS server" {
			continue // the client test covers it; certificate errors were never retried
		}
		t.Run(name, func(t *testing.T) {
			t.Setenv(EnvAPIURL, tc.endpoint)
			start := time.Now()
			resource.UnitTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config: `
provider "attach" {
  token               = "` + srv.Token + `"
  http_retry_max      = 5
  http_retry_wait_min = 4
}
data "attach_kubernetes_options" "all" {}
`,
					ExpectError: regexp.MustCompile(`(?s)cannot\s+reach\s+the\s+DigitalOcean\s+API\s+at\s+` + regexp.QuoteMeta(tc.endpoint) +
						`\s+\(set\s+by\s+DIGITALOCEAN_API_URL\)`),
				}},
			})
			// Terraform itself takes a few seconds; 20 s of retries would
			// come on top.
			if took := time.Since(start); took > 15*time.Second {
				t.Errorf("the failing plan took %s: the provider retried what cannot succeed", took)
			}
		})
	}
}
