package provider

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

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
