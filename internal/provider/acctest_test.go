package provider

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
)

// The acceptance harness: every test gets its own emulator and a provider
// block pointing at it, and runs through the Terraform CLI in ./bin (built by
// `make tools`), never one downloaded at test time.

// testAccProtoV6ProviderFactories serves the provider in-process.
var testAccProtoV6ProviderFactories = map[string]func() (tfprotov6.ProviderServer, error){
	"attach": providerserver.NewProtocol6WithError(New("test", "test")()),
}

// accTimeScale makes a six-minute cluster take about a third of a second.
const accTimeScale = 1000

func TestMain(m *testing.M) {
	if err := useLocalTerraform(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// useLocalTerraform points terraform-plugin-testing at ./bin/terraform unless
// TF_ACC_TERRAFORM_PATH is set, so tests never try to download Terraform.
func useLocalTerraform() error {
	_ = os.Setenv("CHECKPOINT_DISABLE", "1")
	// The provider's own registry namespace, so addresses read attach-labs/attach.
	if os.Getenv("TF_ACC_PROVIDER_NAMESPACE") == "" {
		_ = os.Setenv("TF_ACC_PROVIDER_NAMESPACE", "attach-labs")
	}
	// A CLI config path that does not exist only adds a warning to every run.
	if p := os.Getenv("TF_CLI_CONFIG_FILE"); p != "" {
		if _, err := os.Stat(p); err != nil {
			_ = os.Unsetenv("TF_CLI_CONFIG_FILE")
		}
	}
	if os.Getenv("TF_ACC_TERRAFORM_PATH") != "" {
		return nil
	}
	root, err := repoRoot()
	if err != nil {
		return err
	}
	bin := filepath.Join(root, "bin", "terraform")
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("TF_ACC") != "" {
			return fmt.Errorf("acceptance tests need Terraform at %s: run `make tools` (or set TF_ACC_TERRAFORM_PATH)", bin)
		}
		return nil
	}
	return os.Setenv("TF_ACC_TERRAFORM_PATH", bin)
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// startEmulator runs an emulator for one test, fast and without rate limits
// unless cfg says otherwise.
func startEmulator(t *testing.T, cfg emulator.Config) *emulator.Server {
	t.Helper()
	if cfg.TimeScale == 0 {
		cfg.TimeScale = accTimeScale
	}
	if cfg.RateLimitPerMinute == 0 {
		cfg.RateLimitPerMinute, cfg.RateLimitPerHour = -1, -1
	}
	srv, err := emulator.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// providerBlock configures the provider at srv with quick retries.
func providerBlock(srv *emulator.Server) string {
	return fmt.Sprintf(`
provider "attach" {
  token               = %q
  api_endpoint        = %q
  http_retry_wait_min = 0
  http_retry_wait_max = 1
}
`, srv.Token, srv.URL)
}
