package provider

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
)

// TF_LOG=TRACE must never show a secret: run Terraform and the provider at
// TRACE and scan everything logged. The token comes from the environment
// (the test harness itself logs the configuration text, so a token written
// into the test's HCL would be found in the harness's own lines).
func TestAccTraceLogsNeverShowTheToken(t *testing.T) {
	const token = "dop_v1_0123456789abcdef-trace-log-canary"
	srv := startEmulator(t, emulator.Config{Token: token})
	logPath := filepath.Join(t.TempDir(), "trace.log")
	t.Setenv("TF_LOG", "TRACE")
	t.Setenv("TF_ACC_LOG_PATH", logPath)
	t.Setenv(EnvToken, token)
	t.Setenv(EnvAPIURL, srv.URL)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: `data "attach_kubernetes_options" "all" {}`,
		}},
	})

	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatalf("no trace log written: %v", err)
	}
	logs := string(b)
	if !strings.Contains(logs, "DigitalOcean API request") {
		t.Fatalf("the trace log lacks the provider's request lines, so it proves nothing (%d bytes)", len(b))
	}
	if strings.Contains(logs, token) {
		for _, line := range strings.Split(logs, "\n") {
			if strings.Contains(line, token) {
				t.Errorf("token in trace log: %.300s", line)
			}
		}
	}
}

// The same at TRACE for what a stack handles besides the token: the
// database passwords it reads from DigitalOcean and writes into the
// cluster's connection Secret with client-go, and the cluster's bearer
// token. Secrets are kept out of state, so only a log could leak them.
func TestAccTraceLogsNeverShowConnectionSecrets(t *testing.T) {
	requireKubeDataPlane(t)
	srv := startEmulator(t, emulator.Config{DataPlane: true})
	logPath := filepath.Join(t.TempDir(), "trace.log")
	t.Setenv("TF_LOG", "TRACE")
	t.Setenv("TF_ACC_LOG_PATH", logPath)
	var secrets []string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: kubeSecretsConfig(srv, false, false, true, 0),
			Check: func(s *terraform.State) error {
				api := secretsGodo(t, srv.URL, srv.Token)
				ctx := context.Background()
				res := s.RootModule().Resources[stackAddr].Primary.Attributes
				dbID, clusterID := res["databases.vectors.id"], res["cluster_id"]
				db, _, err := api.Databases.Get(ctx, dbID)
				if err != nil {
					return err
				}
				app, _, err := api.Databases.GetUser(ctx, dbID, "app")
				if err != nil {
					return err
				}
				creds, _, err := api.Kubernetes.GetCredentials(ctx, clusterID, nil)
				if err != nil {
					return err
				}
				secrets = append(secrets, db.Connection.Password, app.Password, creds.Token)
				return nil
			},
		}},
	})
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatalf("no trace log written: %v", err)
	}
	logs := string(b)
	if !strings.Contains(logs, "connection Secret") {
		t.Fatalf("the trace log lacks the provider's Secret lines, so it proves nothing (%d bytes)", len(b))
	}
	for _, secret := range secrets {
		if secret == "" {
			t.Fatalf("a secret to look for is empty: %q", secrets)
		}
		for _, line := range strings.Split(logs, "\n") {
			if strings.Contains(line, secret) {
				t.Errorf("a secret (%.4s…) is in the trace log: %.300s", secret, line)
			}
		}
	}
}
