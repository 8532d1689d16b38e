package provider

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
)

// k8sEphemeralConfig: the stack, credentials for its cluster by id (unknown
// until the cluster exists, the pattern for the workspace that creates it)
// and by the stack's name (for other workspaces, once it exists), echoed
// into state for the checks. The name is a reference, not the literal
// "acc": that orders the destroy (echo, then the stack), where a literal
// would let the stack go while the credentials are opened for echo's.
func k8sEphemeralConfig(srv *emulator.Server, byName bool) string {
	cfg := stackConfig(srv, 2, false) + `
ephemeral "attach_kubernetes_credentials" "by_id" {
  cluster_id     = attach_inference_stack.test.cluster_id
  expiry_seconds = 600
}
`
	data, echo := `{ by_id = ephemeral.attach_kubernetes_credentials.by_id }`, "creds"
	if byName {
		cfg += `
ephemeral "attach_kubernetes_credentials" "by_name" {
  stack_name = attach_inference_stack.test.name
}
`
		data = `{ by_id = ephemeral.attach_kubernetes_credentials.by_id, by_name = ephemeral.attach_kubernetes_credentials.by_name }`
		// The echo resource keeps what it was created with: a new one.
		echo = "named"
	}
	return cfg + `
provider "echo" {
  data = ` + data + `
}

resource "echo" "` + echo + `" {}
`
}

func TestAccEphemeralKubernetesCredentials(t *testing.T) {
	useEphemeralTofu(t)
	srv := startEmulator(t, emulator.Config{})
	api := emulatorAPI(t, srv)
	at := func(names ...string) tfjsonpath.Path {
		p := tfjsonpath.New("data")
		for _, n := range names {
			p = p.AtMapKey(n)
		}
		return p
	}
	// What the API says of the stack's cluster: host and CA, and the token
	// it hands out without expiry_seconds (which ours must not be).
	var clusterID string
	apiSays := func(field string) knownvalue.Check {
		return knownvalue.StringFunc(func(got string) error {
			creds, _, err := api.Kubernetes.GetCredentials(context.Background(), clusterID, &godo.KubernetesClusterCredentialsGetRequest{})
			if err != nil {
				return err
			}
			var want string
			switch field {
			case "host":
				want = creds.Server
			case "ca":
				want = string(creds.CertificateAuthorityData)
				if !strings.HasPrefix(got, "-----BEGIN CERTIFICATE-----\n") {
					return fmt.Errorf("cluster_ca_certificate is not PEM (still base64?): %.40q", got)
				}
			case "token":
				if !strings.HasPrefix(got, "doks_") {
					return fmt.Errorf("token %.10q... is not a DOKS token", got)
				}
				if got == creds.Token {
					return fmt.Errorf("token is the cluster's default (7-day) token: expiry_seconds was not sent")
				}
				return nil
			}
			if got != want {
				return fmt.Errorf("got %q, the API says %q", got, want)
			}
			return nil
		})
	}
	// expiresIn checks expires_at is about d after now (the emulator keeps
	// wall-clock time for credentials).
	expiresIn := func(d time.Duration) knownvalue.Check {
		return knownvalue.StringFunc(func(got string) error {
			ts, err := time.Parse(time.RFC3339, got)
			if err != nil {
				return err
			}
			if off := time.Until(ts) - d; off > 5*time.Second || off < -5*time.Minute {
				return fmt.Errorf("expires_at %s is not about %s from now (off by %s)", got, d, off)
			}
			return nil
		})
	}
	rememberCluster := knownvalue.StringFunc(func(id string) error { clusterID = id; return nil })

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: ephemeralFactories(),
		TerraformVersionChecks:   ephemeralVersionChecks,
		CheckDestroy:             inventoryEmpty(srv),
		Steps: []resource.TestStep{
			{
				// One apply creates the stack and opens credentials for its
				// cluster as soon as it exists.
				Config: k8sEphemeralConfig(srv, false),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(stackAddr, tfjsonpath.New("cluster_id"), rememberCluster),
					statecheck.CompareValuePairs(stackAddr, tfjsonpath.New("cluster_id"), "echo.creds", at("by_id", "cluster_id"), compare.ValuesSame()),
					statecheck.ExpectKnownValue("echo.creds", at("by_id", "host"), apiSays("host")),
					statecheck.ExpectKnownValue("echo.creds", at("by_id", "cluster_ca_certificate"), apiSays("ca")),
					statecheck.ExpectKnownValue("echo.creds", at("by_id", "token"), apiSays("token")),
					statecheck.ExpectKnownValue("echo.creds", at("by_id", "expiry_seconds"), knownvalue.Int64Exact(600)),
					statecheck.ExpectKnownValue("echo.creds", at("by_id", "expires_at"), expiresIn(600*time.Second)),
					ephemeralNotInState{echo: "echo.creds", paths: []string{"by_id.token"}},
				},
			},
			{
				// By the stack's name, with the default expiry: one hour.
				Config: k8sEphemeralConfig(srv, true),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.CompareValuePairs(stackAddr, tfjsonpath.New("cluster_id"), "echo.named", at("by_name", "cluster_id"), compare.ValuesSame()),
					statecheck.ExpectKnownValue("echo.named", at("by_name", "host"), apiSays("host")),
					statecheck.ExpectKnownValue("echo.named", at("by_name", "cluster_ca_certificate"), apiSays("ca")),
					statecheck.ExpectKnownValue("echo.named", at("by_name", "token"), apiSays("token")),
					statecheck.ExpectKnownValue("echo.named", at("by_name", "expiry_seconds"), knownvalue.Int64Exact(3600)),
					statecheck.ExpectKnownValue("echo.named", at("by_name", "expires_at"), expiresIn(time.Hour)),
					ephemeralNotInState{echo: "echo.named", paths: []string{"by_id.token", "by_name.token"}},
				},
			},
			{
				Config: stackConfig(srv, 2, false) + `
ephemeral "attach_kubernetes_credentials" "both" {
  stack_name = attach_inference_stack.test.name
  cluster_id = attach_inference_stack.test.cluster_id
}
`,
				ExpectError: errorPattern(`Both stack_name and cluster_id are set`, `not both: remove one of them`),
			},
			{
				Config: stackConfig(srv, 2, false) + `
ephemeral "attach_kubernetes_credentials" "neither" {
  expiry_seconds = 600
}
`,
				ExpectError: errorPattern(`Missing stack_name or cluster_id`, `set stack_name`),
			},
			{
				Config: stackConfig(srv, 2, false) + `
ephemeral "attach_kubernetes_credentials" "short" {
  cluster_id     = attach_inference_stack.test.cluster_id
  expiry_seconds = 5
}
`,
				ExpectError: errorPattern(`expiry_seconds`, `between 60 and 315360000`),
			},
			{
				Config: stackConfig(srv, 2, false) + `
ephemeral "attach_kubernetes_credentials" "gone" {
  stack_name = "no-such-stack"
}
`,
				ExpectError: errorPattern(`Stack not found`, `no-such-stack`),
			},
			{
				Config: stackConfig(srv, 2, false) + `
ephemeral "attach_kubernetes_credentials" "gone" {
  cluster_id = "00000000-0000-4000-8000-000000000000"
}
`,
				ExpectError: errorPattern(`Cluster not found`, `00000000-0000-4000-8000-000000000000 does not exist`),
			},
		},
	})
}
