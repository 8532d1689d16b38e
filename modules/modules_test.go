// Package modules_test proves the HCL modules under modules/ the way a
// registry user runs them: the provider is installed from a filesystem
// mirror (not dev_overrides), Terraform v1.5.7 and OpenTofu 1.12 run the
// modules and their examples against an in-process DigitalOcean API
// emulator, and every example is applied, re-planned (empty plan),
// destroyed, and the emulator checked empty afterwards (see underBothCLIs).
// internal/registrytest installs the same modules through the Module
// Registry Protocol.
//
// Run with: TF_ACC=1 go test ./modules/ -count=1 -v (OpenTofu from
// ATTACH_TOFU_EPHEMERAL or ./bin/tofu-1.12, built by make tools-ephemeral)
package modules_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/digitalocean/godo"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
)

const providerVersion = "0.1.0"

// modules lists every module with its examples; TestLayout fails when a
// directory under modules/ is missing here, so nothing goes untested.
var modules = map[string][]string{
	"inference-stack":     {"basic", "multi-gpu"},
	"database-attachment": {"app"},
	"disaster-recovery":   {"basic"},
}

// ---------------------------------------------------------------------------
// Harness: Terraform, the provider in a filesystem mirror, emulators.
// ---------------------------------------------------------------------------

var (
	scratchRoot string // removed by TestMain

	setupOnce sync.Once
	setupErr  error
	tfBin     string
	cliConfig string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if scratchRoot != "" {
		_ = os.RemoveAll(scratchRoot)
	}
	os.Exit(code)
}

// harness skips unless TF_ACC is set, and otherwise returns once, for the
// whole run, a Terraform binary and a CLI configuration that installs the
// provider from a filesystem mirror.
func harness(t *testing.T) {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("module tests run Terraform against the emulator: set TF_ACC=1 (make test does)")
	}
	setupOnce.Do(func() { setupErr = setup() })
	if setupErr != nil {
		t.Fatal(setupErr)
	}
}

func setup() error {
	tfBin = os.Getenv("TF_ACC_TERRAFORM_PATH")
	if tfBin == "" {
		tfBin = filepath.Join("..", "bin", "terraform")
	}
	abs, err := filepath.Abs(tfBin)
	if err != nil {
		return err
	}
	tfBin = abs
	if _, err := os.Stat(tfBin); err != nil {
		return fmt.Errorf("terraform not found at %s: run make tools (it builds Terraform v1.5.7 into ./bin)", tfBin)
	}

	scratchRoot, err = os.MkdirTemp("", "attach-modules-test-")
	if err != nil {
		return err
	}
	binary := filepath.Join(scratchRoot, "terraform-provider-attach_v"+providerVersion)
	if prebuilt := os.Getenv("TF_ACC_PROVIDER_BINARY"); prebuilt != "" {
		b, err := os.ReadFile(prebuilt)
		if err != nil {
			return fmt.Errorf("TF_ACC_PROVIDER_BINARY: %w", err)
		}
		if err := os.WriteFile(binary, b, 0o755); err != nil {
			return err
		}
	} else {
		build := exec.Command("go", "build", "-trimpath", "-o", binary, ".")
		build.Dir = ".." // the provider's main package
		if out, err := build.CombinedOutput(); err != nil {
			return fmt.Errorf("building the provider: %v\n%s", err, out)
		}
	}
	// The modules' unchanged source "attach-labs/attach" is
	// registry.terraform.io/attach-labs/attach under Terraform and
	// registry.opentofu.org/attach-labs/attach under OpenTofu: the mirror
	// serves the provider under both hosts.
	var include []string
	for _, host := range providerHosts {
		pluginDir := filepath.Join(scratchRoot, "mirror", host, "attach-labs", "attach",
			providerVersion, runtime.GOOS+"_"+runtime.GOARCH)
		if err := os.MkdirAll(pluginDir, 0o755); err != nil {
			return err
		}
		if err := os.Link(binary, filepath.Join(pluginDir, filepath.Base(binary))); err != nil {
			return err
		}
		include = append(include, strconv.Quote(host+"/attach-labs/attach"))
	}
	list := "[" + strings.Join(include, ", ") + "]"

	cliConfig = filepath.Join(scratchRoot, "terraformrc")
	rc := fmt.Sprintf(`provider_installation {
  filesystem_mirror {
    path    = %q
    include = %s
  }
  direct {
    exclude = %s
  }
}
`, filepath.Join(scratchRoot, "mirror"), list, list)
	if err := os.WriteFile(cliConfig, []byte(rc), 0o644); err != nil {
		return err
	}
	tofuBin, tofuMissing = findTofu()
	return nil
}

// providerHosts are the registry hosts "attach-labs/attach" resolves to:
// Terraform's and OpenTofu's.
var providerHosts = []string{"registry.terraform.io", "registry.opentofu.org"}

// envTofu names the OpenTofu the examples also run under; it is the one the
// provider's ephemeral-resource tests use (internal/provider's
// useEphemeralTofu), which `make test` builds into ./bin.
const envTofu = "ATTACH_TOFU_EPHEMERAL"

var (
	tofuBin     string // empty: no OpenTofu (tofuMissing says why)
	tofuMissing string
)

func findTofu() (string, string) {
	bin := os.Getenv(envTofu)
	if bin == "" {
		bin = filepath.Join("..", "bin", "tofu-1.12")
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		return "", err.Error()
	}
	if fi, err := os.Stat(abs); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		return "", fmt.Sprintf("no OpenTofu at %s (or %s): run make tools-ephemeral", abs, envTofu)
	}
	return abs, ""
}

// underBothCLIs runs body as two parallel subtests, "terraform" (the
// harness's Terraform v1.5.7) and "tofu" (OpenTofu 1.12), each with its own
// emulator and workspace. The OpenTofu leg skips, saying so, when OpenTofu
// is absent outside CI; under CI (CI=true) it fails instead.
//
// Under both: validate, every example (apply, empty re-plan, destroy,
// nothing left) and the lifecycle tests across workspaces (data stack
// destroyed under attachments, per-database protection). Under Terraform
// only, to keep the suite's time in bounds: fmt, the plan-level check
// tables and defaults (pure HCL validation, the same in both CLIs; they
// pass under OpenTofu too with TF_ACC_TERRAFORM_PATH pointing at it, about
// 40s more) and config generation (it needs Terraform >= 1.9.3).
func underBothCLIs(t *testing.T, body func(t *testing.T, tf string)) {
	t.Helper()
	t.Run("terraform", func(t *testing.T) {
		t.Parallel()
		body(t, tfBin)
	})
	t.Run("tofu", func(t *testing.T) {
		t.Parallel()
		if tofuBin == "" {
			if os.Getenv("CI") == "true" {
				t.Fatal(tofuMissing)
			}
			t.Skip("SKIPPING the OpenTofu leg: " + tofuMissing)
		}
		body(t, tofuBin)
	})
}

// startEmulator runs a private emulator for one test, fast and without rate
// limits, and stops it when the test ends.
func startEmulator(t *testing.T) *emulator.Server {
	t.Helper()
	srv, err := emulator.Start(emulator.Config{TimeScale: 1000, RateLimitPerMinute: -1, RateLimitPerHour: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// workspace is a private copy of the modules tree, so examples keep their
// relative module sources and parallel tests never share .terraform or state.
type workspace struct {
	t    *testing.T
	root string // the copy of modules/
	env  []string
	tf   string // Terraform binary; empty: the harness's (tfBin)
}

func newWorkspace(t *testing.T, srv *emulator.Server) *workspace {
	t.Helper()
	root := filepath.Join(t.TempDir(), "modules")
	if err := copyModules(".", root); err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		key, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(key, "TF_") || strings.HasPrefix(key, "DIGITALOCEAN_") || key == "CHECKPOINT_DISABLE" {
			continue
		}
		env = append(env, kv)
	}
	env = append(env,
		"TF_CLI_CONFIG_FILE="+cliConfig,
		"TF_IN_AUTOMATION=1",
		"TF_INPUT=0",
		"CHECKPOINT_DISABLE=1",
		// startEmulator's emulator runs without the data plane, so its
		// clusters have no Kubernetes API server to write the module's
		// connection Secrets into: every root that declares the opt-out
		// (the inference-stack module and its examples) takes it, which
		// keeps these tests free of a kube-apiserver each. The default (on)
		// is checked in the plan by TestInferenceStackDefaults and applied
		// for real by TestExampleInferenceStackBasic, which drops the
		// opt-out (withKubernetesSecrets) against an emulator with the data
		// plane (startKubeEmulator).
		"TF_VAR_disable_kubernetes_secrets=true",
	)
	if srv != nil {
		env = append(env, "DIGITALOCEAN_TOKEN="+srv.Token, "DIGITALOCEAN_API_URL="+srv.URL)
	}
	return &workspace{t: t, root: root, env: env}
}

// copyModules copies the HCL of modules/ (no Go files, no local Terraform
// state or caches).
func copyModules(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if name == ".terraform" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if strings.HasSuffix(name, ".go") || strings.Contains(name, ".tfstate") || name == ".terraform.lock.hcl" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
}

// run runs terraform in dir (relative to the workspace root) and returns its
// combined output and exit code; it fails the test only when Terraform could
// not be run at all.
func (w *workspace) run(dir string, args ...string) (string, int) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.t.Context(), 3*time.Minute)
	defer cancel()
	bin := tfBin
	if w.tf != "" {
		bin = w.tf
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = filepath.Join(w.root, dir)
	cmd.Env = w.env
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 30 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &exit) && ctx.Err() == nil:
		return out.String(), exit.ExitCode()
	default:
		w.t.Fatalf("terraform %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out.String())
		return "", -1
	}
}

// must runs terraform and fails the test on a non-zero exit.
func (w *workspace) must(dir string, args ...string) string {
	w.t.Helper()
	start := time.Now()
	out, code := w.run(dir, args...)
	if code != 0 {
		w.t.Fatalf("terraform %s in %s exited %d:\n%s", strings.Join(args, " "), dir, code, out)
	}
	w.t.Logf("terraform %s in %s: %s", args[0], dir, time.Since(start).Round(time.Millisecond))
	return out
}

func (w *workspace) init(dir string, extra ...string) {
	w.t.Helper()
	w.must(dir, append([]string{"init", "-input=false", "-no-color"}, extra...)...)
}

// outputs returns `terraform output -json` values, sensitive ones included.
func (w *workspace) outputs(dir string) map[string]any {
	w.t.Helper()
	var raw map[string]struct {
		Value any `json:"value"`
	}
	if err := json.Unmarshal([]byte(w.must(dir, "output", "-json")), &raw); err != nil {
		w.t.Fatalf("reading outputs of %s: %v", dir, err)
	}
	out := map[string]any{}
	for k, v := range raw {
		out[k] = v.Value
	}
	return out
}

// apply applies dir, proves a second plan is empty, and returns its outputs.
func (w *workspace) applyAndReplan(dir string, vars ...string) map[string]any {
	w.t.Helper()
	w.must(dir, append([]string{"apply", "-auto-approve", "-input=false", "-no-color"}, vars...)...)
	out, code := w.run(dir, append([]string{"plan", "-detailed-exitcode", "-input=false", "-no-color"}, vars...)...)
	if code != 0 {
		w.t.Fatalf("plan after apply of %s is not empty (exit %d, want 0):\n%s", dir, code, out)
	}
	return w.outputs(dir)
}

func (w *workspace) destroy(dir string, vars ...string) {
	w.t.Helper()
	w.must(dir, append([]string{"destroy", "-auto-approve", "-input=false", "-no-color"}, vars...)...)
}

// requireEmpty waits for delayed deletes and fails when anything is left.
func requireEmpty(t *testing.T, srv *emulator.Server) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		inv := srv.Inventory()
		if inv.Empty() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("objects left in the emulator after destroy:\n%s", inv)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// requireSensitive checks that Terraform shows the outputs only as
// <sensitive>.
func requireSensitive(t *testing.T, w *workspace, dir string, names ...string) {
	t.Helper()
	shown := w.must(dir, "output", "-no-color")
	for _, n := range names {
		if !regexp.MustCompile(`(?m)^` + n + ` = <sensitive>$`).MatchString(shown) {
			t.Errorf("output %s of %s is not sensitive:\n%s", n, dir, shown)
		}
	}
}

func godoClient(t *testing.T, srv *emulator.Server) *godo.Client {
	t.Helper()
	c := godo.NewFromToken(srv.Token)
	u, err := url.Parse(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	c.BaseURL = u
	return c
}

// ---------------------------------------------------------------------------
// Layout, fmt, init + validate
// ---------------------------------------------------------------------------

var (
	variableNames = regexp.MustCompile(`(?m)^variable "([^"]+)"`)
	outputNames   = regexp.MustCompile(`(?m)^output "([^"]+)"`)
)

// TestLayout needs no Terraform: every module has the conventional files, a
// README documenting each input and output with a usage block, and the
// examples this file tests.
func TestLayout(t *testing.T) {
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, e := range entries {
		if e.IsDir() {
			found = append(found, e.Name())
		}
	}
	var want []string
	for m := range modules {
		want = append(want, m)
	}
	sort.Strings(want)
	if !slices.Equal(found, want) {
		t.Fatalf("module directories %v, tested modules %v: add new modules (and their examples) to the modules table", found, want)
	}
	for m, examples := range modules {
		for _, f := range []string{"main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"} {
			if _, err := os.Stat(filepath.Join(m, f)); err != nil {
				t.Errorf("%s: missing %s", m, f)
			}
		}
		versions := readFile(t, filepath.Join(m, "versions.tf"))
		for _, s := range []string{`source = "attach-labs/attach"`, `required_version = ">= 1.5"`} {
			if !strings.Contains(versions, s) {
				t.Errorf("%s/versions.tf: want %s", m, s)
			}
		}
		readme := readFile(t, filepath.Join(m, "README.md"))
		if !strings.Contains(readme, "```hcl") || !strings.Contains(readme, "## Inputs") || !strings.Contains(readme, "## Outputs") {
			t.Errorf("%s/README.md: want a ```hcl usage block and Inputs and Outputs tables", m)
		}
		// Each input and output starts a row of its own table (a row spliced
		// into another table would still contain the name).
		_, inputs, _ := strings.Cut(readme, "## Inputs")
		inputs, outputs, _ := strings.Cut(inputs, "## Outputs")
		for _, n := range variableNames.FindAllStringSubmatch(readFile(t, filepath.Join(m, "variables.tf")), -1) {
			if !strings.Contains(inputs, "\n| `"+n[1]+"` |") {
				t.Errorf("%s/README.md: input %s missing from the Inputs table", m, n[1])
			}
		}
		for _, n := range outputNames.FindAllStringSubmatch(readFile(t, filepath.Join(m, "outputs.tf")), -1) {
			if !strings.Contains(outputs, "\n| `"+n[1]+"` |") {
				t.Errorf("%s/README.md: output %s missing from the Outputs table", m, n[1])
			}
		}
		dirs, err := os.ReadDir(filepath.Join(m, "examples"))
		if err != nil {
			t.Errorf("%s: no examples: %v", m, err)
			continue
		}
		var names []string
		for _, d := range dirs {
			names = append(names, d.Name())
		}
		if !slices.Equal(names, sortedCopy(examples)) {
			t.Errorf("%s: examples on disk %v, tested examples %v", m, names, examples)
		}
	}
}

func TestFormat(t *testing.T) {
	harness(t)
	w := newWorkspace(t, nil)
	for m := range modules {
		// On the source tree itself: -check never writes.
		src, err := filepath.Abs(m)
		if err != nil {
			t.Fatal(err)
		}
		if out, code := w.run(".", "fmt", "-check", "-recursive", "-diff", "-no-color", src); code != 0 {
			t.Errorf("terraform fmt needed in modules/%s (run make fmt):\n%s", m, out)
		}
	}
}

func TestValidate(t *testing.T) {
	harness(t)
	underBothCLIs(t, validateAll)
}

func validateAll(t *testing.T, tf string) {
	w := newWorkspace(t, nil)
	var dirs []string
	for m, examples := range modules {
		dirs = append(dirs, m)
		for _, e := range examples {
			dirs = append(dirs, filepath.Join(m, "examples", e))
		}
	}
	sort.Strings(dirs)
	for _, dir := range dirs {
		t.Run(dir, func(t *testing.T) {
			t.Parallel()
			w := &workspace{t: t, root: w.root, env: w.env, tf: tf}
			w.init(dir, "-backend=false")
			out := w.must(dir, "validate", "-json", "-no-color")
			var res struct {
				Valid        bool `json:"valid"`
				WarningCount int  `json:"warning_count"`
			}
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatalf("validate -json: %v\n%s", err, out)
			}
			if !res.Valid || res.WarningCount != 0 {
				t.Fatalf("validate: valid=%v warnings=%d\n%s", res.Valid, res.WarningCount, out)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// Every validation block, precondition and postcondition fails on bad input
// ---------------------------------------------------------------------------

// checkRow violates one check: vars override the module's valid base inputs
// (HCL values, as with -var), and the plan must fail with want, a literal
// part of that block's error_message.
type checkRow struct {
	block string // "var.<name>[<n>]" (n-th validation block) or "<kind>[<n>]" in main.tf
	vars  map[string]string
	want  string
}

var inferenceStackBase = map[string]string{
	"name":                            `"vt-stack"`,
	"region":                          `"tor1"`,
	"control_plane_allowed_addresses": `["203.0.113.0/24"]`,
	"gpu_pools":                       `{ h100 = { size = "gpu-h100x1-80gb", max_nodes = 2 } }`,
	"databases": `{
    vectors = { engine = "pg", size = "db-s-2vcpu-4gb", app_databases = { app = {} } }
    cache   = { engine = "valkey", size = "db-s-1vcpu-2gb" }
  }`,
}

func dbs(body string) map[string]string { return map[string]string{"databases": "{ " + body + " }"} }

// offending is, for the blocks whose message names the input it refuses,
// that name as the rows' plans must print it (module and block).
// Every inference-stack row has one: its messages name the key and value.
var offending = map[string]string{
	"inference-stack var.name[0]":                              `not "Bad_Name"`,
	"inference-stack var.region[0]":                            `not "toronto"`,
	"inference-stack var.tags[0]":                              `"has space"`,
	"inference-stack var.vpc_ip_range[0]":                      `not "8.8.0.0/16"`,
	"inference-stack var.timeouts[0]":                          `timeouts.create = "forever"`,
	"inference-stack var.kubernetes_version[0]":                `not "latest-ish"`,
	"inference-stack var.maintenance_window[0]":                `not "someday"`,
	"inference-stack var.maintenance_window[1]":                `not "25:00"`,
	"inference-stack var.system_pool[0]":                       `not "gpu-h100x1-80gb"`,
	"inference-stack var.system_pool[1]":                       `not 1:`,
	"inference-stack var.gpu_pools[0]":                         `rename gpu_pools["H100"]`,
	"inference-stack var.gpu_pools[1]":                         `gpu_pools["h100"].size = "s-4vcpu-8gb"`,
	"inference-stack var.gpu_pools[2]":                         `gpu_pools["h100"] (min_nodes = 3, max_nodes = 2)`,
	"inference-stack var.gpu_pools[3]":                         `gpu_pools["h100"].taints (empty)`,
	"inference-stack var.databases[0]":                         `rename databases["Vectors"]`,
	"inference-stack var.databases[1]":                         `databases["vectors"].engine = "postgres"`,
	"inference-stack var.databases[2]":                         `databases["vectors"].node_count = 0`,
	"inference-stack var.databases[3]":                         `databases["vectors"].size = "db-s-1vcpu-1gb"`,
	"inference-stack var.databases[4]":                         `databases["vectors"] (pg)`,
	"inference-stack var.databases[5]":                         `databases["cache"].eviction_policy = "lru"`,
	"inference-stack var.databases[6]":                         `databases["cache"] (valkey)`,
	"inference-stack var.databases[7]":                         `databases["vectors"].app_databases["my-app"]`,
	"inference-stack var.databases[8]":                         `databases["vectors"].app_databases["app"].pool_size = 0`,
	"inference-stack var.databases[9]":                         `databases["cache"] (valkey)`,
	"inference-stack var.databases[10]":                        `databases["vectors"].trusted_sources type "cidr" (value 10.0.0.0/8)`,
	"inference-stack var.databases[11]":                        `databases["vectors"].trusted_sources value "bastion"`,
	"inference-stack var.databases[12]":                        `databases["vectors"].maintenance_window = { day = "sunday", hour = "5am" }`,
	"inference-stack var.databases[13]":                        `databases["vectors"].trusted_sources value fd00:ab::/64.`,
	"inference-stack var.databases[14]":                        `databases["vectors"].app_databases["ab"] (2 characters)`,
	"inference-stack var.databases[15]":                        `databases["vectors"] has 100`,
	"inference-stack var.databases[16]":                        `databases["vectors"] (engine = "pg", size = null)`,
	"inference-stack var.databases[17]":                        `databases["shared"] (existing_id = "9cc10173-e9ea-4176-9dbc-a4cee4c4ff30")`,
	"inference-stack var.databases[18]":                        `databases["shared"].existing_id = "db-123"`,
	"inference-stack var.databases[19]":                        `databases["cache"].users "reader" (valkey)`,
	"inference-stack var.databases[20]":                        `databases["vectors"].pools["ab"] (mode transaction, size 5)`,
	"inference-stack var.databases[21]":                        `databases["docs"] (mysql)`,
	"inference-stack var.databases[22]":                        `databases["vectors"].rotate_passwords["reader"] = 1`,
	"inference-stack var.databases[23]":                        `databases["vectors"].config["max-connections"] = "100"`,
	"inference-stack var.databases[24]":                        `databases["vectors"].user_settings["ghost"]`,
	"inference-stack var.databases[25]":                        `databases["vectors"].user_settings["app"] (pg: kafka_acls)`,
	"inference-stack var.databases[26]":                        `databases["stream"].user_settings["app"].kafka_acls { topic = "events", permission = "write" }`,
	"inference-stack var.databases[27]":                        `databases["vectors"] (pg)`,
	"inference-stack var.databases[28]":                        `databases["stream"].topics["events"] (partitions = 3, replication_factor = 4, node_count = 3)`,
	"inference-stack var.databases[29]":                        `databases["cache"] (valkey)`,
	"inference-stack var.databases[30]":                        `databases["vectors"].dbs "-rag"`,
	"inference-stack var.databases[31]":                        `databases["vectors"].pools["rag"].db = "rag" (add "rag" to databases["vectors"].dbs)`,
	"inference-stack var.databases[32]":                        `databases["vectors"].pools["rag"].user = "inference" (add "inference" to databases["vectors"].users)`,
	"inference-stack var.databases[33]":                        `databases["vectors"].kubernetes_secrets["Rag_App"]`,
	"inference-stack var.databases[34]":                        `databases["vectors"].kubernetes_secrets["rag"] (user = null, pool = "rag", connects as doadmin)`,
	"inference-stack var.database_maintenance_window[0]":       `not "any"`,
	"inference-stack var.database_maintenance_window[1]":       `not "5:00"`,
	"inference-stack precondition[0]":                          `databases["vectors"].node_count = 1`,
	"inference-stack precondition[1]":                          `databases["vectors"].trusted_sources value 203.0.113.10`,
	"inference-stack precondition[2]":                          `gpu_pools["mi300"].size = "gpu-mi300x1-192gb"`,
	"inference-stack precondition[3]":                          `control_plane_allowed_addresses = []`,
	"inference-stack precondition[4]":                          `control_plane_allowed_addresses value 0.0.0.0/0`,
	"inference-stack precondition[5]":                          `cluster_plugins.nvidia_gpu_device_plugin = false while gpu_pools h100 have NVIDIA GPUs`,
	"inference-stack var.control_plane_allowed_addresses[0]":   `not "10.0.0.300", "203.0.113.7/24"`,
	"inference-stack var.cluster_autoscaler[0]":                `not 1.5`,
	"inference-stack var.kubeconfig_expiry_seconds[0]":         `not 60.`,
	"inference-stack var.kubernetes_secrets_namespace[0]":      `not "Apps_NS"`,
	"inference-stack var.system_pool[2]":                       `not "cost center"`,
	"inference-stack var.gpu_pools[4]":                         `not gpu_pools["h100"].tags "cost/center"`,
	"inference-stack var.cluster_autoscaler[1]":                `not "5 minutes"`,
	"inference-stack var.cluster_autoscaler[2]":                `not [least_waste, most_pods]`,
	"database-attachment precondition[0]":                      `databases["cache"].user = "reader" cannot be created: cache of stack vt-data is valkey`,
	"database-attachment precondition[1]":                      `databases["vectors"] is named after its db (or app_name), "ab"`,
	"disaster-recovery var.app_access[0]":                      `app_access["vectors"].user "ab" (2 characters)`,
	"disaster-recovery precondition[2]":                        `restore_databases key(s) vectors also in`,
	"disaster-recovery precondition[4]":                        `control_plane_allowed_addresses value 0.0.0.0/0`,
	"disaster-recovery var.restore_databases[0]":               `not "Restored"`,
	"disaster-recovery var.restore_databases[1]":               `not restore_databases["restored"].engine "valkey"`,
	"disaster-recovery var.restore_databases[2]":               `not restore_databases["restored"].database_name "ML_primary"`,
	"disaster-recovery var.restore_databases[3]":               `not restore_databases["restored"].point_in_time "yesterday"`,
	"disaster-recovery var.restore_databases[4]":               `not restore_databases["restored"].node_count 4`,
	"disaster-recovery var.control_plane_allowed_addresses[0]": `not "10.0.0.300"`,
}

// privateSources is n distinct private ip_addr trusted sources, as HCL list
// elements.
func privateSources(n int) string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf(`{ type = "ip_addr", value = "10.1.%d.%d" }`, i/250, i%250+1))
	}
	return strings.Join(out, ", ")
}

var inferenceStackRows = []checkRow{
	{"var.name[0]", map[string]string{"name": `"Bad_Name"`}, "name must be 3-40 lowercase letters"},
	{"var.region[0]", map[string]string{"region": `"toronto"`}, "region must be a DigitalOcean region slug"},
	{"var.tags[0]", map[string]string{"tags": `["has space"]`}, "tags may contain only letters, digits, colons"},
	{"var.vpc_ip_range[0]", map[string]string{"vpc_ip_range": `"8.8.0.0/16"`}, "vpc_ip_range must be a private (RFC 1918"},
	{"var.timeouts[0]", map[string]string{"timeouts": `{ create = "forever" }`}, "timeouts.create, update and delete must be durations"},
	{"var.kubernetes_version[0]", map[string]string{"kubernetes_version": `"latest-ish"`}, "kubernetes_version must be a prefix such as 1.33"},
	{"var.maintenance_window[0]", map[string]string{"maintenance_window": `{ day = "someday" }`}, "maintenance_window.day must be any or a lowercase weekday"},
	{"var.maintenance_window[1]", map[string]string{"maintenance_window": `{ start_time = "25:00" }`}, "maintenance_window.start_time must be HH:MM"},
	{"var.system_pool[0]", map[string]string{"system_pool": `{ size = "gpu-h100x1-80gb" }`}, "system_pool.size must be a CPU size"},
	{"var.system_pool[1]", map[string]string{"system_pool": `{ node_count = 1 }`}, "system_pool.node_count must be a whole number from 2 to 100"},
	{"var.gpu_pools[0]", map[string]string{"gpu_pools": `{ H100 = { size = "gpu-h100x1-80gb", max_nodes = 2 } }`}, "gpu_pools keys must be 2-20 lowercase letters"},
	{"var.gpu_pools[1]", map[string]string{"gpu_pools": `{ h100 = { size = "s-4vcpu-8gb", max_nodes = 2 } }`}, "gpu_pools[*].size must be a GPU size"},
	{"var.gpu_pools[2]", map[string]string{"gpu_pools": `{ h100 = { size = "gpu-h100x1-80gb", min_nodes = 3, max_nodes = 2 } }`}, "gpu_pools[*] must satisfy 0 <= min_nodes <= max_nodes <= 100"},
	{"var.system_pool[2]", map[string]string{"system_pool": `{ tags = ["cost center"] }`}, "system_pool.tags may contain only letters, digits, colons, dashes and underscores"},
	{"var.gpu_pools[4]", map[string]string{"gpu_pools": `{ h100 = { size = "gpu-h100x1-80gb", max_nodes = 2, tags = ["ok", "cost/center"] } }`}, "gpu_pools[*].tags may contain only letters, digits, colons, dashes and underscores"},
	{"var.gpu_pools[3]", map[string]string{"gpu_pools": `{ h100 = { size = "gpu-h100x1-80gb", max_nodes = 2, taints = [] } }`}, "gpu_pools[*].taints must be null (the GPU vendor's taint) or a non-empty list"},
	{"var.databases[0]", dbs(`Vectors = { engine = "pg", size = "db-s-2vcpu-4gb" }`), "databases keys must be 2-20 lowercase letters"},
	{"var.databases[1]", dbs(`vectors = { engine = "postgres", size = "db-s-2vcpu-4gb" }`), "databases[*].engine must be pg, mysql, valkey"},
	{"var.databases[2]", dbs(`vectors = { engine = "pg", size = "db-s-2vcpu-4gb", node_count = 0 }`), "databases[*].node_count must be null (one standby, the default) or a whole number from 1 to 15"},
	{"var.databases[3]", dbs(`vectors = { engine = "pg", size = "db-s-1vcpu-1gb" }`), "databases[*].size db-s-1vcpu-1gb cannot carry a standby node"},
	{"var.databases[4]", dbs(`vectors = { engine = "pg", size = "db-s-2vcpu-4gb", eviction_policy = "allkeys_lru" }`), "databases[*].eviction_policy applies to valkey only"},
	{"var.databases[5]", dbs(`cache = { engine = "valkey", size = "db-s-1vcpu-2gb", eviction_policy = "lru" }`), "databases[*].eviction_policy must be noeviction, allkeys_lru"},
	{"var.databases[6]", dbs(`cache = { engine = "valkey", size = "db-s-1vcpu-2gb", app_databases = { app = {} } }`), "databases[*].app_databases is for pg, mysql and mongodb only"},
	{"var.databases[7]", dbs(`vectors = { engine = "pg", size = "db-s-2vcpu-4gb", app_databases = { "my-app" = {} } }`), "databases[*].app_databases keys name a db, a user and a pool"},
	{"var.databases[8]", dbs(`vectors = { engine = "pg", size = "db-s-2vcpu-4gb", app_databases = { app = { pool_size = 0 } } }`), "databases[*].app_databases[*].pool_size must be a whole number"},
	{"var.databases[9]", dbs(`cache = { engine = "valkey", size = "db-s-1vcpu-2gb", replicas = { dr = {} } }`), "databases[*].replicas (read replicas) are offered for pg and mysql only"},
	{"var.databases[10]", dbs(`vectors = { engine = "pg", size = "db-s-2vcpu-4gb", trusted_sources = [{ type = "cidr", value = "10.0.0.0/8" }] }`), "databases[*].trusted_sources[*].type must be ip_addr, droplet"},
	{"var.databases[11]", dbs(`vectors = { engine = "pg", size = "db-s-2vcpu-4gb", trusted_sources = [{ type = "ip_addr", value = "bastion" }] }`), "databases[*].trusted_sources[*] of type ip_addr must be an IPv4 address or CIDR"},
	{"var.databases[12]", dbs(`vectors = { engine = "pg", size = "db-s-2vcpu-4gb", maintenance_window = { day = "sunday", hour = "5am" } }`), "databases[*].maintenance_window must have day as a lowercase weekday"},
	{"var.databases[13]", dbs(`vectors = { engine = "pg", size = "db-s-2vcpu-4gb", trusted_sources = [{ type = "ip_addr", value = "10.0.0.5" }, { type = "ip_addr", value = "fd00:ab::/64" }] }`), "DigitalOcean refuses IPv6 trusted sources: use IPv4 addresses or CIDR blocks"},
	{"var.databases[14]", dbs(`vectors = { engine = "pg", size = "db-s-2vcpu-4gb", app_databases = { ab = {} } }`), "DigitalOcean's pool names are 3-60 characters: rename"},
	{"var.databases[15]", dbs(`vectors = { engine = "pg", size = "db-s-2vcpu-4gb", trusted_sources = [` + privateSources(100) + `] }`), "each database takes at most 99 distinct trusted_sources"},
	{"var.databases[16]", dbs(`vectors = { engine = "pg" }`), "Set engine and size on"},
	{"var.databases[17]", dbs(`shared = { existing_id = "9cc10173-e9ea-4176-9dbc-a4cee4c4ff30", engine = "pg" }`), "A database attached by existing_id is described by DigitalOcean"},
	{"var.databases[18]", dbs(`shared = { existing_id = "db-123" }`), "databases[*].existing_id must be a database cluster id"},
	{"var.databases[19]", dbs(`cache = { engine = "valkey", size = "db-s-1vcpu-2gb", users = ["reader"] }`), "valkey has only its default user"},
	{"var.databases[20]", dbs(`vectors = { engine = "pg", size = "db-s-2vcpu-4gb", pools = { ab = { size = 5 } } }`), "databases[*].pools need a name of 3-60 letters"},
	{"var.databases[21]", dbs(`docs = { engine = "mysql", size = "db-s-2vcpu-4gb", pools = { reader = { size = 5 } } }`), "databases[*].pools are PgBouncer pools, offered for pg only"},
	{"var.databases[22]", dbs(`vectors = { engine = "pg", size = "db-s-2vcpu-4gb", app_databases = { app = {} }, rotate_passwords = { reader = 1 } }`), "databases[*].rotate_passwords takes a whole-number version from 0 up per app"},
	{"var.databases[23]", dbs(`vectors = { engine = "pg", size = "db-s-2vcpu-4gb", config = { "max-connections" = "100" } }`), "databases[*].config keys are DigitalOcean engine setting names"},
	{"var.databases[24]", dbs(`vectors = { engine = "pg", size = "db-s-2vcpu-4gb", app_databases = { app = {} }, user_settings = { ghost = {} } }`), "databases[*].user_settings keys must be users of the database"},
	{"var.databases[25]", dbs(`vectors = { engine = "pg", size = "db-s-2vcpu-4gb", app_databases = { app = {} }, user_settings = { app = { kafka_acls = [{ topic = "events", permission = "produce" }] } } }`), "kafka_acls is for kafka, opensearch_acls for opensearch and mysql_auth_plugin for mysql databases only"},
	{"var.databases[26]", dbs(`stream = { engine = "kafka", size = "gd-2vcpu-8gb", users = ["app"], user_settings = { app = { kafka_acls = [{ topic = "events", permission = "write" }] } } }`), "kafka_acls permissions admin, consume, produce or produceconsume"},
	{"var.databases[27]", dbs(`vectors = { engine = "pg", size = "db-s-2vcpu-4gb", topics = { events = {} } }`), "databases[*].topics are Kafka topics, for kafka databases only"},
	{"var.databases[28]", dbs(`stream = { engine = "kafka", size = "gd-2vcpu-8gb", topics = { events = { replication_factor = 4 } } }`), "a replication_factor from 2 up to the database's node_count"},
	// Adopted estates (issue 18): dbs, and pools and Secrets that only name
	// the database's own dbs and users.
	{"var.databases[29]", dbs(`cache = { engine = "valkey", size = "db-s-1vcpu-2gb", dbs = ["rag"] }`), "databases[*].dbs (logical databases) are for pg, mysql and mongodb only"},
	{"var.databases[30]", dbs(`vectors = { engine = "pg", size = "db-s-2vcpu-4gb", dbs = ["rag", "-rag"] }`), "databases[*].dbs must be 1-63 letters, digits, underscores, dollar signs and dashes"},
	{"var.databases[31]", dbs(`vectors = { engine = "pg", size = "db-s-2vcpu-4gb", users = ["inference"], pools = { rag = { size = 20, db = "rag", user = "inference" } } }`), "databases[*].pools[*].db must be defaultdb or a db of the database"},
	{"var.databases[32]", dbs(`vectors = { engine = "pg", size = "db-s-2vcpu-4gb", dbs = ["rag"], pools = { rag = { size = 20, db = "rag", user = "inference" } } }`), "databases[*].pools[*].user must be doadmin or a user of the database"},
	{"var.databases[33]", dbs(`vectors = { engine = "pg", size = "db-s-2vcpu-4gb", app_databases = { app = {} }, kubernetes_secrets = { Rag_App = { user = "app" } } }`), "databases[*].kubernetes_secrets keys name the Secret"},
	{"var.databases[34]", dbs(`vectors = { engine = "pg", size = "db-s-2vcpu-4gb", dbs = ["rag"], pools = { rag = { size = 20, db = "rag" } }, kubernetes_secrets = { rag = { pool = "rag" } } }`), "never as doadmin (the Secret is readable in the cluster)"},
	{"var.database_maintenance_window[0]", map[string]string{"database_maintenance_window": `{ day = "any" }`}, "database_maintenance_window.day must be a lowercase weekday"},
	{"var.database_maintenance_window[1]", map[string]string{"database_maintenance_window": `{ hour = "5:00" }`}, "database_maintenance_window.hour must be HH:MM"},
	// Preconditions: unsafe choices refused unless their named opt-out is set.
	{"precondition[0]", dbs(`vectors = { engine = "pg", size = "db-s-2vcpu-4gb", node_count = 1 }`), "without a standby node for automatic failover"},
	{"precondition[1]", dbs(`vectors = { engine = "pg", size = "db-s-2vcpu-4gb", trusted_sources = [{ type = "ip_addr", value = "203.0.113.10" }] }`), "would open database firewalls beyond the VPC"},
	{"precondition[2]", map[string]string{"gpu_pools": `{ mi300 = { size = "gpu-mi300x1-192gb", max_nodes = 1 } }`}, "See gpu_sizes_by_region of the attach_kubernetes_options data source"},
	{"precondition[3]", map[string]string{"control_plane_allowed_addresses": `[]`}, "would lock every client (kubectl, CI, the Kubernetes provider) out of the Kubernetes API"},
	{"precondition[4]", map[string]string{"control_plane_allowed_addresses": `["203.0.113.0/24", "0.0.0.0/0"]`}, "opens the Kubernetes API to every address on the internet"},
	{"precondition[5]", map[string]string{"gpu_pools": `{ h100 = { size = "gpu-h100x1-80gb", max_nodes = 1 } }`, "cluster_plugins": `{ nvidia_gpu_device_plugin = false }`}, "those GPUs would not be schedulable"},
	{"var.kubeconfig_expiry_seconds[0]", map[string]string{"kubeconfig_expiry_seconds": `60`}, "kubeconfig_expiry_seconds must be a whole number of seconds from 3600"},
	{"var.kubernetes_secrets_namespace[0]", map[string]string{"kubernetes_secrets_namespace": `"Apps_NS"`}, "kubernetes_secrets_namespace must be a Kubernetes namespace name"},
	{"var.cluster_autoscaler[0]", map[string]string{"cluster_autoscaler": `{ scale_down_utilization_threshold = 1.5 }`}, "cluster_autoscaler.scale_down_utilization_threshold must be between 0 and 1"},
	{"var.cluster_autoscaler[1]", map[string]string{"cluster_autoscaler": `{ scale_down_unneeded_time = "5 minutes" }`}, "cluster_autoscaler.scale_down_unneeded_time must be a duration such as 5m"},
	{"var.cluster_autoscaler[2]", map[string]string{"cluster_autoscaler": `{ expanders = ["least_waste", "most_pods"] }`}, "cluster_autoscaler.expanders must list least_waste, priority or random, each at most once"},
	{"var.control_plane_allowed_addresses[0]", map[string]string{"control_plane_allowed_addresses": `["10.0.0.300", "203.0.113.7/24", "198.51.100.7"]`}, "control_plane_allowed_addresses must be IP addresses (203.0.113.7) or CIDR blocks without host bits"},
}

var databaseAttachmentBase = map[string]string{
	"stack_name": `"vt-data"`,
	"cluster_id": `"00000000-0000-4000-8000-000000000000"`, // replaced by a real cluster
	"app_name":   `"search"`,
	"databases":  `{ vectors = {}, cache = {} }`,
}

var databaseAttachmentRows = []checkRow{
	{"var.stack_name[0]", map[string]string{"stack_name": `"-data"`}, "stack_name must be 3-40 lowercase letters"},
	{"var.cluster_id[0]", map[string]string{"cluster_id": `"my-cluster"`}, "cluster_id must be a DOKS cluster id"},
	{"var.app_name[0]", map[string]string{"app_name": `"Search-App"`}, "app_name must be 1-63 lowercase letters"},
	{"var.databases[0]", map[string]string{"databases": `{}`}, "databases must name at least one database"},
	{"var.databases[1]", map[string]string{"databases": `{ vectors = { user = "app-user" } }`}, "databases[*].user and db must be 1-63 lowercase letters"},
	{"var.databases[2]", map[string]string{"databases": `{ vectors = { pool_size = 20000 } }`}, "databases[*].pool_size must be a whole number"},
	{"var.databases[3]", map[string]string{"databases": `{ vectors = { pool_mode = "batch" } }`}, "databases[*].pool_mode must be transaction, session or statement"},
	{"postcondition[0]", map[string]string{"databases": `{ documents = {} }`}, "has no database"},
	{"precondition[0]", map[string]string{"databases": `{ cache = { user = "reader" } }`}, "User management is not supported for Caching or Valkey clusters"},
	{"precondition[1]", map[string]string{"app_name": `"ab"`, "databases": `{ vectors = {} }`}, "DigitalOcean's pool names are 3-60 characters"},
}

func TestInferenceStackChecks(t *testing.T) {
	harness(t)
	srv := startEmulator(t)
	w := newWorkspace(t, srv)
	runChecks(t, w, "inference-stack", inferenceStackBase, inferenceStackRows)
}

func TestDatabaseAttachmentChecks(t *testing.T) {
	harness(t)
	srv := startEmulator(t)
	w := newWorkspace(t, srv)
	// The data source must find a stack with databases for the inputs to
	// get as far as the checks do.
	data := applyDataStack(t, w, "vt-data")
	clusterID := createAppCluster(t, srv, data)
	base := merged(databaseAttachmentBase, map[string]string{"cluster_id": fmt.Sprintf("%q", clusterID)})
	runChecks(t, w, "database-attachment", base, databaseAttachmentRows)
	// The app's cluster sits on the stack's VPC: it goes first, as it would
	// in real life (the stack never deletes a VPC with foreign members).
	deleteCluster(t, srv, clusterID)
	w.destroy(dataStackDir, "-var", "name=vt-data")
	requireEmpty(t, srv)
}

// runChecks proves the rows cover every check block of the module, that the
// base inputs plan cleanly, and that each row's plan fails with its message.
func runChecks(t *testing.T, w *workspace, module string, base map[string]string, rows []checkRow) {
	t.Helper()
	blocks := checkBlocks(t, module)
	covered := map[string]bool{}
	for _, r := range rows {
		msg, ok := blocks[r.block]
		if !ok {
			t.Errorf("row %s: no such check block in modules/%s", r.block, module)
			continue
		}
		if covered[r.block] {
			t.Errorf("row %s: duplicate row", r.block)
		}
		covered[r.block] = true
		if module == "inference-stack" && offending[module+" "+r.block] == "" {
			t.Errorf("row %s: the message must name the offending key and value: add it to offending", r.block)
		}
		if !strings.Contains(msg, r.want) {
			t.Errorf("row %s: %q is not part of the block's error_message %s", r.block, r.want, msg)
		}
	}
	for b := range blocks {
		if !covered[b] {
			t.Errorf("check block %s of modules/%s has no row proving it fails", b, module)
		}
	}
	t.Logf("modules/%s: %d check blocks, %d rows", module, len(blocks), len(rows))
	if t.Failed() {
		return
	}

	w.init(module)
	baseFile := filepath.Join(w.root, module, "base.tfvars.test")
	var b strings.Builder
	for _, k := range sortedKeys(base) {
		fmt.Fprintf(&b, "%s = %s\n", k, base[k])
	}
	if err := os.WriteFile(baseFile, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	plan := func(t *testing.T, vars map[string]string) (string, int) {
		w := &workspace{t: t, root: w.root, env: w.env}
		args := []string{"plan", "-input=false", "-lock=false", "-refresh=false", "-no-color", "-var-file=" + baseFile}
		for _, k := range sortedKeys(vars) {
			// -var takes a string variable's value literally: pass a quoted
			// HCL string without its quotes.
			v := vars[k]
			if unquoted, err := strconv.Unquote(v); err == nil && strings.HasPrefix(v, `"`) {
				v = unquoted
			}
			args = append(args, "-var", k+"="+v)
		}
		return w.run(module, args...)
	}
	if out, code := plan(t, nil); code != 0 {
		t.Fatalf("the base inputs must plan cleanly (exit %d):\n%s", code, out)
	}
	t.Run("rows", func(t *testing.T) {
		for _, r := range rows {
			t.Run(r.block, func(t *testing.T) {
				t.Parallel()
				out, code := plan(t, r.vars)
				if code == 0 {
					t.Fatalf("plan succeeded, want it to fail with %q:\n%s", r.want, out)
				}
				if !strings.Contains(normalize(out), normalize(r.want)) {
					t.Fatalf("plan failed without %q:\n%s", r.want, out)
				}
				if named := offending[module+" "+r.block]; named != "" && !strings.Contains(normalize(out), normalize(named)) {
					t.Fatalf("the message does not name the offending input %q:\n%s", named, out)
				}
				// Only this block fails: the row proves it and nothing else.
				if n := strings.Count(out, "Error: "); n != 1 {
					t.Fatalf("plan failed with %d errors, want only the block's:\n%s", n, out)
				}
			})
		}
	})
}

var (
	blockStart   = regexp.MustCompile(`^\s*(variable "([^"]+)"|validation|precondition|postcondition) \{`)
	errorMessage = regexp.MustCompile(`^\s*error_message\s*=\s*(.*)$`)
)

// checkBlocks finds every validation block (by variable and position) and
// every pre- and postcondition (by position) in a module, with the source of
// its error_message. It relies on terraform fmt's layout, which TestFormat
// enforces.
func checkBlocks(t *testing.T, module string) map[string]string {
	t.Helper()
	blocks := map[string]string{}
	counts := map[string]int{}
	files, err := filepath.Glob(filepath.Join(module, "*.tf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		variable, current := "", ""
		for _, line := range strings.Split(readFile(t, f), "\n") {
			if m := blockStart.FindStringSubmatch(line); m != nil {
				switch {
				case m[2] != "":
					variable = m[2]
				case m[1] == "validation":
					id := "var." + variable
					current = fmt.Sprintf("%s[%d]", id, counts[id])
					counts[id]++
				default:
					current = fmt.Sprintf("%s[%d]", m[1], counts[m[1]])
					counts[m[1]]++
				}
				continue
			}
			if m := errorMessage.FindStringSubmatch(line); m != nil && current != "" {
				blocks[current] = m[1]
				current = ""
			}
		}
	}
	if len(blocks) == 0 {
		t.Fatalf("no check blocks found in modules/%s", module)
	}
	return blocks
}

// normalize undoes Terraform's line wrapping and diagnostic box drawing.
func normalize(s string) string {
	s = strings.ReplaceAll(s, "│", " ")
	return strings.Join(strings.Fields(s), " ")
}

// ---------------------------------------------------------------------------
// Secure defaults and opt-outs, in the plan
// ---------------------------------------------------------------------------

func TestInferenceStackDefaults(t *testing.T) {
	harness(t)
	srv := startEmulator(t)
	w := newWorkspace(t, srv)
	const module = "inference-stack"
	w.init(module)
	vars := []string{
		"-var", `name=defaults`, "-var", `region=tor1`, "-var", `control_plane_allowed_addresses=["203.0.113.0/24", "198.51.100.7"]`,
		"-var", `gpu_pools={ h100 = { size = "gpu-h100x1-80gb", max_nodes = 2 } }`,
		"-var", `databases={
		  vectors = { engine = "pg", size = "db-s-2vcpu-4gb", app_databases = { rag = { pool_size = 15 } } }
		  cache   = { engine = "valkey", size = "db-s-1vcpu-2gb" }
		  docs    = { engine = "mongodb", size = "db-s-2vcpu-4gb" }
		  events  = { engine = "kafka", size = "gd-2vcpu-8gb" }
		}`,
	}
	planned := func(extra ...string) map[string]any {
		return plannedStack(t, w, module, append(vars, extra...)...)
	}

	t.Run("secure", func(t *testing.T) {
		v := planned()
		cluster := get(v, "cluster").(map[string]any)
		expect(t, "cluster.ha", cluster["ha"], true)
		expect(t, "cluster.surge_upgrade", cluster["surge_upgrade"], true)
		expect(t, "cluster.auto_upgrade", cluster["auto_upgrade"], true)
		expect(t, "cluster.maintenance_window", cluster["maintenance_window"], map[string]any{"day": "sunday", "start_time": "04:00"})
		expect(t, "cluster.system_pool.node_count", get(cluster, "system_pool", "node_count"), 2.0)
		expect(t, "cluster.control_plane_firewall", cluster["control_plane_firewall"],
			map[string]any{"enabled": true, "allowed_addresses": []any{"198.51.100.7", "203.0.113.0/24"}})
		expect(t, "cluster.kubeconfig_expiry_seconds", cluster["kubeconfig_expiry_seconds"], 86400.0)
		expect(t, "cluster.cluster_autoscaler_configuration", cluster["cluster_autoscaler_configuration"],
			map[string]any{"scale_down_utilization_threshold": 0.5, "scale_down_unneeded_time": "5m", "expanders": []any{"least_waste"}})
		// The plugins follow the pools' vendors: one NVIDIA one-GPU pool.
		for attr, want := range map[string]bool{"nvidia_gpu_device_plugin": true, "amd_gpu_device_plugin": false,
			"amd_gpu_device_metrics_exporter_plugin": false, "rdma_shared_dev_plugin": false, "routing_agent": false} {
			expect(t, "cluster."+attr, cluster[attr], want)
		}
		gpu := get(cluster, "gpu_pools", "h100").(map[string]any)
		expect(t, "gpu min_nodes", gpu["min_nodes"], 0.0)
		expect(t, "gpu max_nodes", gpu["max_nodes"], 2.0)
		expect(t, "gpu tags", gpu["tags"], nil)
		for key, n := range map[string]float64{"vectors": 2, "cache": 2, "docs": 3, "events": 3} {
			db := get(v, "databases", key).(map[string]any)
			expect(t, key+".node_count", db["node_count"], n)
			expect(t, key+".deletion_protection", db["deletion_protection"], true)
			expect(t, key+".retain_on_destroy", db["retain_on_destroy"], false)
			expect(t, key+".trusted_sources", db["trusted_sources"], nil)
			expect(t, key+".maintenance_window", db["maintenance_window"], map[string]any{"day": "sunday", "hour": "05:00"})
			// Storage autoscaling on wherever the disk can grow (not Valkey's).
			want := any(map[string]any{"enabled": true, "threshold_percent": 80.0, "increment_gib": 10.0})
			if key == "cache" {
				want = nil
			}
			expect(t, key+".storage_autoscale", db["storage_autoscale"], want)
		}
		vectors := get(v, "databases", "vectors").(map[string]any)
		expect(t, "vectors.dbs", vectors["dbs"], []any{"rag"})
		expect(t, "vectors.users", vectors["users"], []any{"rag"})
		pool := get(vectors, "pools", "rag").(map[string]any)
		for k, want := range map[string]any{"mode": "transaction", "size": 15.0, "db": "rag", "user": "rag"} {
			expect(t, "vectors.pools.rag."+k, pool[k], want)
		}
		// One connection Secret per app database, by default.
		secrets, _ := v["kubernetes_secrets"].(map[string]any)
		if len(secrets) != 1 {
			t.Fatalf("kubernetes_secrets = %v, want one for vectors' app rag", v["kubernetes_secrets"])
		}
		for k, want := range map[string]any{"database": "vectors", "user": "rag", "pool": "rag", "namespace": "apps", "name": "vectors-rag-connection", "create_namespace": true, "retain_on_destroy": false} {
			expect(t, "kubernetes_secrets.vectors-rag."+k, get(secrets, "vectors-rag", k), want)
		}
	})

	// An AMD 8-GPU pool: the AMD device plugin, its metrics exporter (the
	// module's choice) and RDMA on, NVIDIA's off; all known at plan time.
	t.Run("amd pools", func(t *testing.T) {
		cluster := get(planned("-var", "region=atl1", "-var", "databases={}",
			"-var", `gpu_pools={ mi300 = { size = "gpu-mi300x8-1536gb", max_nodes = 1 } }`), "cluster").(map[string]any)
		for attr, want := range map[string]bool{"nvidia_gpu_device_plugin": false, "amd_gpu_device_plugin": true,
			"amd_gpu_device_metrics_exporter_plugin": true, "rdma_shared_dev_plugin": true, "routing_agent": false} {
			expect(t, "cluster."+attr, cluster[attr], want)
		}
	})

	t.Run("per-database", func(t *testing.T) {
		v := planned("-var", `databases={
		  vectors = {
		    engine = "pg", size = "db-s-2vcpu-4gb", deletion_protection = false
		    app_databases = { rag = {} }
		    users = ["analyst"]
		    pools = { reports = { size = 5, db = "rag", user = "analyst" } }
		  }
		  cache  = { engine = "valkey", size = "db-s-1vcpu-2gb" }
		  shared = { existing_id = "9cc10173-e9ea-4176-9dbc-a4cee4c4ff30", users = ["search"] }
		}`)
		expect(t, "vectors.deletion_protection", get(v, "databases", "vectors", "deletion_protection"), false)
		expect(t, "cache.deletion_protection", get(v, "databases", "cache", "deletion_protection"), true)
		expect(t, "vectors.users", get(v, "databases", "vectors", "users"), []any{"analyst", "rag"})
		expect(t, "vectors.pools.rag.user", get(v, "databases", "vectors", "pools", "rag", "user"), "rag")
		reports := get(v, "databases", "vectors", "pools", "reports").(map[string]any)
		for k, want := range map[string]any{"mode": "transaction", "size": 5.0, "db": "rag", "user": "analyst"} {
			expect(t, "vectors.pools.reports."+k, reports[k], want)
		}
		shared := get(v, "databases", "shared").(map[string]any)
		expect(t, "shared.existing_id", shared["existing_id"], "9cc10173-e9ea-4176-9dbc-a4cee4c4ff30")
		expect(t, "shared.users", shared["users"], []any{"search"})
		expect(t, "shared.maintenance_window", shared["maintenance_window"], nil)
	})

	t.Run("kubernetes secrets", func(t *testing.T) {
		v := planned("-var", "kubernetes_secrets_namespace=inference")
		expect(t, "kubernetes_secrets.vectors-rag.namespace", get(v, "kubernetes_secrets", "vectors-rag", "namespace"), "inference")
		v = planned("-var", "disable_kubernetes_secrets=true")
		expect(t, "kubernetes_secrets with the opt-out", v["kubernetes_secrets"], nil)
	})

	t.Run("opt-outs", func(t *testing.T) {
		v := planned(
			"-var", "disable_ha_control_plane=true", "-var", "disable_surge_upgrade=true", "-var", "disable_auto_upgrade=true",
			"-var", "disable_deletion_protection=true", "-var", "allow_single_node_databases=true", "-var", "allow_public_trusted_sources=true",
			"-var", "disable_control_plane_firewall=true", "-var", "control_plane_allowed_addresses=[]", "-var", "disable_storage_autoscaling=true",
			"-var", `gpu_pools={ h100 = { size = "gpu-h100x1-80gb", max_nodes = 2, tags = ["cost-center:gpu"] } }`,
			"-var", `system_pool={ tags = ["system"] }`,
			"-var", `databases={ vectors = { engine = "pg", size = "db-s-1vcpu-1gb", node_count = 1, trusted_sources = [{ type = "ip_addr", value = "203.0.113.10" }] } }`,
		)
		cluster := get(v, "cluster").(map[string]any)
		expect(t, "cluster.ha", cluster["ha"], false)
		expect(t, "cluster.surge_upgrade", cluster["surge_upgrade"], false)
		expect(t, "cluster.auto_upgrade", cluster["auto_upgrade"], false)
		expect(t, "cluster.control_plane_firewall", cluster["control_plane_firewall"], nil)
		expect(t, "gpu tags", get(cluster, "gpu_pools", "h100", "tags"), []any{"cost-center:gpu"})
		expect(t, "system_pool tags", get(cluster, "system_pool", "tags"), []any{"system"})
		db := get(v, "databases", "vectors").(map[string]any)
		expect(t, "vectors.node_count", db["node_count"], 1.0)
		expect(t, "vectors.deletion_protection", db["deletion_protection"], false)
		expect(t, "vectors.trusted_sources", db["trusted_sources"], []any{map[string]any{"type": "ip_addr", "value": "203.0.113.10"}})
		expect(t, "vectors.storage_autoscale", db["storage_autoscale"], nil)
	})
}

// plannedStack plans module (already initialised in w) with vars and
// returns the planned values of attach_inference_stack.this. The module's
// connection Secrets are on (its default), not the harness's opt-out (see
// newWorkspace); a later -var in vars may still turn them off.
func plannedStack(t *testing.T, w *workspace, module string, vars ...string) map[string]any {
	t.Helper()
	w = &workspace{t: t, root: w.root, env: w.env, tf: w.tf} // failures end t, not the test that made w
	out := filepath.Join(t.TempDir(), "plan.out")
	w.must(module, append([]string{"plan", "-input=false", "-lock=false", "-no-color", "-out=" + out, "-var", "disable_kubernetes_secrets=false"}, vars...)...)
	var plan struct {
		PlannedValues struct {
			RootModule struct {
				Resources []struct {
					Address string         `json:"address"`
					Values  map[string]any `json:"values"`
				} `json:"resources"`
			} `json:"root_module"`
		} `json:"planned_values"`
	}
	if err := json.Unmarshal([]byte(w.must(module, "show", "-json", out)), &plan); err != nil {
		t.Fatal(err)
	}
	for _, r := range plan.PlannedValues.RootModule.Resources {
		if r.Address == "attach_inference_stack.this" {
			return r.Values
		}
	}
	t.Fatal("no attach_inference_stack.this in the plan")
	return nil
}

// TestInferenceStackAdoptedEstate plans the module over an estate a team
// already runs (issue 18): a PostgreSQL database with its own db rag, user
// inference and PgBouncer pool rag connecting as inference. The module must
// express it as it is: the pool keeps its user, and no app user (rag) is
// invented next to inference. The connection Secret the caller asks for
// connects as the pool's user through that pool.
func TestInferenceStackAdoptedEstate(t *testing.T) {
	harness(t)
	srv := startEmulator(t)
	w := newWorkspace(t, srv)
	const module = "inference-stack"
	w.init(module)
	base := []string{
		"-var", `name=adopted`, "-var", `region=tor1`, "-var", `control_plane_allowed_addresses=["203.0.113.0/24"]`,
		"-var", `gpu_pools={ h100 = { size = "gpu-h100x1-80gb", max_nodes = 2 } }`,
	}

	t.Run("explicit dbs users and pools", func(t *testing.T) {
		v := plannedStack(t, w, module, append(base, "-var", `databases={
		  vectors = {
		    engine = "pg", version = "17", size = "db-s-2vcpu-4gb"
		    dbs    = ["rag"]
		    users  = ["inference"]
		    pools  = { rag = { user = "inference", db = "rag", mode = "transaction", size = 20 } }
		    kubernetes_secrets = { rag = { pool = "rag" } }
		  }
		  cache = { engine = "valkey", size = "db-s-1vcpu-2gb" }
		}`)...)
		vectors := get(v, "databases", "vectors").(map[string]any)
		expect(t, "vectors.dbs", vectors["dbs"], []any{"rag"})
		// No app user rag beside the estate's own inference.
		expect(t, "vectors.users", vectors["users"], []any{"inference"})
		pools, _ := vectors["pools"].(map[string]any)
		if len(pools) != 1 {
			t.Fatalf("vectors.pools = %v, want only the estate's pool rag", vectors["pools"])
		}
		pool := get(pools, "rag").(map[string]any)
		for k, want := range map[string]any{"mode": "transaction", "size": 20.0, "db": "rag", "user": "inference"} {
			expect(t, "vectors.pools.rag."+k, pool[k], want)
		}
		// The Secret its clients read keeps the name app_databases would
		// give it (vectors-rag-connection) and connects as the pool's user.
		secrets, _ := v["kubernetes_secrets"].(map[string]any)
		if len(secrets) != 1 {
			t.Fatalf("kubernetes_secrets = %v, want one, vectors-rag", v["kubernetes_secrets"])
		}
		for k, want := range map[string]any{"database": "vectors", "user": "inference", "pool": "rag", "namespace": "apps", "name": "vectors-rag-connection", "create_namespace": true} {
			expect(t, "kubernetes_secrets.vectors-rag."+k, get(secrets, "vectors-rag", k), want)
		}
		expect(t, "cache.users", get(v, "databases", "cache", "users"), nil)
		expect(t, "cache.pools", get(v, "databases", "cache", "pools"), nil)
	})

	// Without kubernetes_secrets entries, a database with explicit pools
	// gets no Secret: only app_databases have one by default, as before.
	t.Run("no secret unless asked", func(t *testing.T) {
		v := plannedStack(t, w, module, append(base, "-var", `databases={
		  vectors = {
		    engine = "pg", size = "db-s-2vcpu-4gb"
		    dbs    = ["rag"]
		    users  = ["inference"]
		    pools  = { rag = { user = "inference", db = "rag", size = 20 } }
		  }
		}`)...)
		expect(t, "vectors.pools.rag.user", get(v, "databases", "vectors", "pools", "rag", "user"), "inference")
		expect(t, "kubernetes_secrets", v["kubernetes_secrets"], nil)
	})

	// Explicit inputs beside an app: the app keeps its db, user and pool, the
	// extra db and the pool on it keep theirs, and a kubernetes_secrets entry
	// named like the app replaces the app's default Secret (here, to
	// connect as the reader through the reader's pool).
	t.Run("beside app_databases", func(t *testing.T) {
		v := plannedStack(t, w, module, append(base, "-var", `databases={
		  vectors = {
		    engine = "pg", size = "db-s-2vcpu-4gb"
		    app_databases = { rag = { pool_size = 15 } }
		    dbs    = ["archive"]
		    users  = ["reader"]
		    pools  = { archive = { user = "reader", db = "archive", mode = "session", size = 5 } }
		    kubernetes_secrets = { rag = { user = "reader", pool = "archive" } }
		  }
		}`)...)
		vectors := get(v, "databases", "vectors").(map[string]any)
		expect(t, "vectors.dbs", vectors["dbs"], []any{"archive", "rag"})
		expect(t, "vectors.users", vectors["users"], []any{"rag", "reader"})
		expect(t, "vectors.pools.rag.user", get(vectors, "pools", "rag", "user"), "rag")
		expect(t, "vectors.pools.archive.user", get(vectors, "pools", "archive", "user"), "reader")
		expect(t, "vectors.pools.archive.mode", get(vectors, "pools", "archive", "mode"), "session")
		secrets, _ := v["kubernetes_secrets"].(map[string]any)
		if len(secrets) != 1 {
			t.Fatalf("kubernetes_secrets = %v, want one, vectors-rag", v["kubernetes_secrets"])
		}
		for k, want := range map[string]any{"user": "reader", "pool": "archive", "name": "vectors-rag-connection"} {
			expect(t, "kubernetes_secrets.vectors-rag."+k, get(secrets, "vectors-rag", k), want)
		}
	})
}

// ---------------------------------------------------------------------------
// Examples: apply, empty re-plan, destroy, nothing left
// ---------------------------------------------------------------------------

func TestExampleInferenceStackBasic(t *testing.T) {
	harness(t)
	underBothCLIs(t, testExampleInferenceStackBasic)
}

// testExampleInferenceStackBasic applies the basic example with the
// module's default connection Secret on, against an emulator whose data plane
// runs a real kube-apiserver behind the cluster and real PostgreSQL and
// PgBouncer behind the database: the Secret is read from the cluster and
// connects.
func testExampleInferenceStackBasic(t *testing.T, tf string) {
	srv := startKubeEmulator(t)
	w := newWorkspace(t, srv)
	w.withKubernetesSecrets()
	w.tf = tf
	dir := "inference-stack/examples/basic"
	w.init(dir)
	start := time.Now()
	out := w.applyAndReplan(dir)
	t.Logf("apply and empty re-plan with the Secret delivered: %s", time.Since(start).Round(time.Millisecond))
	// One Secret per app database (the cache has none), in the module's
	// default namespace.
	checkModuleSecrets(t, out, []wantSecret{{
		key: "vectors-app", database: "vectors", pool: "app", user: "app", namespace: "apps", name: "vectors-app-connection",
	}})

	clusterID := out["cluster_id"].(string)
	dbsOut := out["databases"].(map[string]any)
	for key, engine := range map[string]string{"vectors": "pg", "cache": "valkey"} {
		db := dbsOut[key].(map[string]any)
		expect(t, key+".engine", db["engine"], engine)
		expect(t, key+".node_count", db["node_count"], 2.0)
		expect(t, key+".attached_cluster_id", db["attached_cluster_id"], clusterID)
		expect(t, key+".deletion_protection", db["deletion_protection"], false) // the example's named opt-out
	}
	expect(t, "vectors.pools.app.mode", get(dbsOut, "vectors", "pools", "app", "mode"), "transaction")
	// Storage autoscaling is on by default for the databases whose disk can
	// grow (not Valkey's).
	if as, _, err := godoClient(t, srv).Databases.GetStorageAutoscale(t.Context(), get(dbsOut, "vectors", "id").(string)); err != nil {
		t.Errorf("reading vectors' storage autoscaling: %v", err)
	} else if !as.Enabled || as.ThresholdPercent == nil || *as.ThresholdPercent != 80 || as.IncrementGib == nil || *as.IncrementGib != 10 {
		t.Errorf("vectors' storage autoscaling is %+v, want on at 80%% in 10 GiB steps", as)
	}
	// The control plane firewall is on by default, with the example's addresses.
	if c, _, err := godoClient(t, srv).Kubernetes.Get(t.Context(), clusterID); err != nil {
		t.Errorf("reading cluster %s: %v", clusterID, err)
	} else if fw := c.ControlPlaneFirewall; fw == nil || fw.Enabled == nil || !*fw.Enabled || len(fw.AllowedAddresses) == 0 {
		t.Errorf("cluster %s control plane firewall is %+v, want on with the example's addresses", clusterID, fw)
	}
	gpu := get(out, "gpu_pools", "h100").(map[string]any)
	expect(t, "h100.min_nodes", gpu["min_nodes"], 0.0)
	expect(t, "h100.taints", gpu["taints"], []any{map[string]any{"key": "nvidia.com/gpu", "value": "", "effect": "NoSchedule"}})
	env := out["connection_env"].(map[string]any)
	for _, k := range []string{"VECTORS_DATABASE_URL", "VECTORS_APP_POOL_URL", "VECTORS_APP_PASSWORD", "CACHE_DATABASE_URL", "CACHE_PASSWORD"} {
		if s, _ := env[k].(string); s == "" {
			t.Errorf("connection_env[%s] is empty; keys: %v", k, sortedKeys(env))
		}
	}
	// The URL a workload reads connects as the app's user to the app's db;
	// the admin's is there only under its explicit name.
	appURL, _ := url.Parse(fmt.Sprint(env["VECTORS_DATABASE_URL"]))
	if appURL == nil || appURL.User.Username() != "app" || appURL.Path != "/app" {
		t.Errorf("VECTORS_DATABASE_URL does not connect as user app to db app (keys %v)", sortedKeys(env))
	} else if pw, _ := appURL.User.Password(); pw != env["VECTORS_APP_PASSWORD"] {
		t.Errorf("VECTORS_DATABASE_URL does not carry the app user's password")
	}
	expect(t, "VECTORS_USER", env["VECTORS_USER"], "app")
	if admin, _ := url.Parse(fmt.Sprint(env["VECTORS_ADMIN_DATABASE_URL"])); admin == nil || admin.User.Username() != "doadmin" {
		t.Errorf("VECTORS_ADMIN_DATABASE_URL is not the admin's: keys %v", sortedKeys(env))
	}
	if kc, _ := out["kubeconfig"].(string); !strings.Contains(kc, "clusters:") {
		t.Errorf("kubeconfig output does not look like a kubeconfig")
	}
	// The module's default lifetime: a day.
	if exp, err := time.Parse(time.RFC3339, fmt.Sprint(out["kubeconfig_expires_at"])); err != nil || time.Until(exp) > 24*time.Hour+time.Minute || time.Until(exp) < 23*time.Hour {
		t.Errorf("kubeconfig_expires_at = %v, want about a day from now", out["kubeconfig_expires_at"])
	}
	checkLive(t, srv, out, map[string][]string{"vectors": nil, "cache": nil})
	requireSensitive(t, w, dir, "connection_env", "kubeconfig")

	w.destroy(dir)
	requireEmpty(t, srv)
	requireNoKube(t, srv)
}

func TestExampleInferenceStackMultiGPU(t *testing.T) {
	harness(t)
	underBothCLIs(t, testExampleInferenceStackMultiGPU)
}

func testExampleInferenceStackMultiGPU(t *testing.T, tf string) {
	srv := startEmulator(t)
	w := newWorkspace(t, srv)
	w.tf = tf
	dir := "inference-stack/examples/multi-gpu"
	w.init(dir)
	out := w.applyAndReplan(dir)

	dbsOut := out["databases"].(map[string]any)
	for key, n := range map[string]float64{"vectors": 2, "cache": 2, "documents": 3} {
		expect(t, key+".node_count", get(dbsOut, key, "node_count"), n)
	}
	for _, app := range []string{"rag", "retrieval"} {
		expect(t, "vectors.pools."+app+".mode", get(dbsOut, "vectors", "pools", app, "mode"), "transaction")
		expect(t, "vectors.pools."+app+".user", get(dbsOut, "vectors", "pools", app, "user"), app)
	}
	if id, _ := get(dbsOut, "vectors", "replicas", "read", "id").(string); id == "" {
		t.Errorf("vectors.replicas.read has no id")
	}
	expect(t, "l40s.taints", get(out, "gpu_pools", "l40s", "taints"), []any{
		map[string]any{"key": "nvidia.com/gpu", "value": "", "effect": "NoSchedule"},
		map[string]any{"key": "workload", "value": "embeddings", "effect": "NoSchedule"},
	})
	expect(t, "h100.min_nodes", get(out, "gpu_pools", "h100", "min_nodes"), 0.0)
	checkLive(t, srv, out, map[string][]string{"vectors": {"ip_addr:10.42.15.10"}, "cache": nil, "documents": nil})

	w.destroy(dir)
	requireEmpty(t, srv)
}

// checkLive asserts, through the API, what the module promises: an HA
// cluster with surge and auto upgrades, and database firewalls that trust
// the cluster plus only the listed extra sources.
func checkLive(t *testing.T, srv *emulator.Server, out map[string]any, extraSources map[string][]string) {
	t.Helper()
	ctx := t.Context()
	c := godoClient(t, srv)
	clusterID := out["cluster_id"].(string)
	cluster, _, err := c.Kubernetes.Get(ctx, clusterID)
	if err != nil {
		t.Fatalf("reading cluster: %v", err)
	}
	if !cluster.HA || !cluster.SurgeUpgrade || !cluster.AutoUpgrade {
		t.Errorf("cluster ha=%v surge_upgrade=%v auto_upgrade=%v, want all on", cluster.HA, cluster.SurgeUpgrade, cluster.AutoUpgrade)
	}
	// The examples' allowed addresses (a documentation range).
	if f := cluster.ControlPlaneFirewall; f == nil || f.Enabled == nil || !*f.Enabled || !slices.Equal(f.AllowedAddresses, []string{"203.0.113.0/24"}) {
		t.Errorf("cluster control plane firewall = %+v, want on for 203.0.113.0/24 only", f)
	}
	// The module's GPU-friendly autoscaler defaults.
	if a := cluster.ClusterAutoscalerConfiguration; a == nil || a.ScaleDownUtilizationThreshold == nil || *a.ScaleDownUtilizationThreshold != 0.5 ||
		a.ScaleDownUnneededTime == nil || *a.ScaleDownUnneededTime != "5m" || !slices.Equal(a.Expanders, []string{"least_waste"}) {
		t.Errorf("cluster autoscaler configuration = %+v, want the module's defaults (0.5, 5m, [least_waste])", a)
	}
	for key, extra := range extraSources {
		id := get(out, "databases", key, "id").(string)
		rules, _, err := c.Databases.GetFirewallRules(ctx, id)
		if err != nil {
			t.Fatalf("reading firewall of %s: %v", key, err)
		}
		var got []string
		for _, r := range rules {
			got = append(got, r.Type+":"+r.Value)
		}
		want := append([]string{"k8s:" + clusterID}, extra...)
		sort.Strings(got)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("firewall of %s trusts %v, want %v", key, got, want)
		}
		db, _, err := c.Databases.Get(ctx, id)
		if err != nil {
			t.Fatalf("reading database %s: %v", key, err)
		}
		if db.PrivateNetworkUUID != out["vpc_id"] {
			t.Errorf("database %s is on VPC %q, want the stack's %v", key, db.PrivateNetworkUUID, out["vpc_id"])
		}
	}
}

// ---------------------------------------------------------------------------
// Cross-workspace: the data side owns the stack, the app side attaches to it
// ---------------------------------------------------------------------------

const dataStackDir = "inference-stack/examples/basic"

// applyDataStack plays the data workspace: the basic example under another
// name, with its own state.
func applyDataStack(t *testing.T, w *workspace, name string) map[string]any {
	t.Helper()
	w.init(dataStackDir)
	w.must(dataStackDir, "apply", "-auto-approve", "-input=false", "-no-color", "-var", "name="+name)
	return w.outputs(dataStackDir)
}

// createAppCluster creates the app team's own cluster, on the stack's VPC,
// outside Terraform (it lives in the app team's cluster workspace).
func createAppCluster(t *testing.T, srv *emulator.Server, data map[string]any) string {
	t.Helper()
	c := godoClient(t, srv)
	cluster, _, err := c.Kubernetes.Create(t.Context(), &godo.KubernetesClusterCreateRequest{
		Name:        "app-search",
		RegionSlug:  "tor1",
		VersionSlug: "latest",
		VPCUUID:     data["vpc_id"].(string),
		NodePools:   []*godo.KubernetesNodePoolCreateRequest{{Name: "app", Size: "s-2vcpu-4gb", Count: 2}},
	})
	if err != nil {
		t.Fatalf("creating the app cluster: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, _, err := c.Kubernetes.Get(t.Context(), cluster.ID)
		if err != nil {
			t.Fatalf("reading the app cluster: %v", err)
		}
		if got.Status != nil && got.Status.State == godo.KubernetesClusterStatusRunning {
			return cluster.ID
		}
		if time.Now().After(deadline) {
			t.Fatalf("app cluster not running after 30s: %+v", got.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func deleteCluster(t *testing.T, srv *emulator.Server, id string) {
	t.Helper()
	if _, err := godoClient(t, srv).Kubernetes.Delete(t.Context(), id); err != nil {
		t.Fatalf("deleting cluster %s: %v", id, err)
	}
}

func TestExampleDatabaseAttachmentApp(t *testing.T) {
	harness(t)
	underBothCLIs(t, testExampleDatabaseAttachmentApp)
}

func testExampleDatabaseAttachmentApp(t *testing.T, tf string) {
	srv := startEmulator(t)
	w := newWorkspace(t, srv)
	w.tf = tf
	data := applyDataStack(t, w, "ml-data")
	stackClusterID := data["cluster_id"].(string)
	appClusterID := createAppCluster(t, srv, data)
	c := godoClient(t, srv)
	firewall := func(key string) []string {
		rules, _, err := c.Databases.GetFirewallRules(t.Context(), get(data, "databases", key, "id").(string))
		if err != nil {
			t.Fatalf("reading firewall of %s: %v", key, err)
		}
		var got []string
		for _, r := range rules {
			got = append(got, r.Type+":"+r.Value)
		}
		sort.Strings(got)
		return got
	}

	dir := "database-attachment/examples/app"
	vars := []string{"-var", "stack_name=ml-data", "-var", "cluster_id=" + appClusterID}
	w.init(dir)
	out := w.applyAndReplan(dir, vars...)

	attachments := out["attachments"].(map[string]any)
	vectors := attachments["vectors"].(map[string]any)
	expect(t, "vectors.engine", vectors["engine"], "pg")
	expect(t, "vectors.user", vectors["user"], "search")
	expect(t, "vectors.db", vectors["db"], "search")
	expect(t, "vectors.pool", vectors["pool"], "search")
	expect(t, "vectors.attached", vectors["attached"], true)
	cache := attachments["cache"].(map[string]any)
	expect(t, "cache.engine", cache["engine"], "valkey")
	expect(t, "cache.user", cache["user"], nil)
	expect(t, "cache.db", cache["db"], nil)
	expect(t, "cache.attached", cache["attached"], true)
	env := out["connection_env"].(map[string]any)
	for _, k := range []string{"VECTORS_DATABASE_URL", "VECTORS_PASSWORD", "VECTORS_USER", "VECTORS_DATABASE", "CACHE_DATABASE_URL", "CACHE_HOST"} {
		if s, _ := env[k].(string); s == "" {
			t.Errorf("connection_env[%s] is empty; keys: %v", k, sortedKeys(env))
		}
	}
	if u, _ := env["VECTORS_DATABASE_URL"].(string); !strings.Contains(u, "search") {
		t.Errorf("VECTORS_DATABASE_URL does not go through the app's pool as the app's user")
	}
	requireSensitive(t, w, dir, "connection_env")
	both := []string{"k8s:" + appClusterID, "k8s:" + stackClusterID}
	sort.Strings(both)
	for _, key := range []string{"vectors", "cache"} {
		if got := firewall(key); !slices.Equal(got, both) {
			t.Errorf("firewall of %s with the app attached: %v, want %v", key, got, both)
		}
	}

	// Destroying the app side removes exactly what it added.
	w.destroy(dir, vars...)
	for _, key := range []string{"vectors", "cache"} {
		if got := firewall(key); !slices.Equal(got, []string{"k8s:" + stackClusterID}) {
			t.Errorf("firewall of %s after the app's destroy: %v, want only the stack's cluster", key, got)
		}
	}
	w.must(dataStackDir, "plan", "-detailed-exitcode", "-input=false", "-no-color", "-var", "name=ml-data")

	deleteCluster(t, srv, appClusterID)
	w.destroy(dataStackDir, "-var", "name=ml-data")
	requireEmpty(t, srv)
}

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// get walks nested JSON objects; it returns nil when a key is missing.
func get(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func expect(t *testing.T, what string, got, want any) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if !bytes.Equal(g, w) {
		t.Errorf("%s = %s, want %s", what, g, w)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return out
}

func merged(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// ---------------------------------------------------------------------------
// Disaster recovery: checks, and a failover measured
// ---------------------------------------------------------------------------

var disasterRecoveryBase = map[string]string{
	"name":                            `"vt-standby"`,
	"region":                          `"nyc3"`,
	"primary_region":                  `"tor1"`,
	"primary_databases":               `{ vectors = { id = "9cc10173-e9ea-4176-9dbc-a4cee4c4ff30", engine = "pg" } }`,
	"control_plane_allowed_addresses": `["203.0.113.0/24"]`,
}

var disasterRecoveryRows = []checkRow{
	{"var.name[0]", map[string]string{"name": `"Standby"`}, "name must be 3-40 lowercase letters"},
	{"var.region[0]", map[string]string{"region": `"new-york"`}, "region must be a DigitalOcean region slug"},
	{"var.primary_databases[0]", map[string]string{"primary_databases": `{ cache = { id = "x", engine = "valkey" } }`}, "primary_databases may hold only pg and mysql databases"},
	{"var.system_pool[0]", map[string]string{"system_pool": `{ node_count = 0 }`}, "system_pool.node_count must be a whole number from 1 to 100"},
	{"var.gpu_pools[0]", map[string]string{"gpu_pools": `{ h100 = { size = "s-4vcpu-8gb", max_nodes = 2 } }`}, "gpu_pools[*] need a gpu-* size"},
	{"var.app_access[0]", map[string]string{"app_access": `{ vectors = { user = "ab", pool_size = 5 } }`}, "DigitalOcean's pool names are 3-60 characters"},
	{"precondition[0]", map[string]string{"region": `"tor1"`}, "The standby region must differ from the primary's"},
	{"precondition[1]", map[string]string{"primary_databases": `{}`}, "primary_databases and restore_databases are both empty"},
	{"precondition[2]", map[string]string{"restore_databases": `{ vectors = { database_name = "ml-primary-vectors", engine = "pg", size = "db-s-2vcpu-4gb" } }`}, "also in primary_databases: the replica and the restored database would both be named"},
	{"precondition[3]", map[string]string{"control_plane_allowed_addresses": `[]`}, "control_plane_allowed_addresses = [] with the control plane firewall on"},
	{"precondition[4]", map[string]string{"control_plane_allowed_addresses": `["0.0.0.0/0"]`}, "opens the standby's Kubernetes API to every address"},
	{"var.restore_databases[0]", map[string]string{"restore_databases": `{ Restored = { database_name = "ml-primary-vectors", engine = "pg", size = "db-s-2vcpu-4gb" } }`}, "restore_databases keys must be 2-20 lowercase letters"},
	{"var.restore_databases[1]", map[string]string{"restore_databases": `{ restored = { database_name = "ml-primary-cache", engine = "valkey", size = "db-s-1vcpu-1gb" } }`}, "restore_databases may hold only pg and mysql databases"},
	{"var.restore_databases[2]", map[string]string{"restore_databases": `{ restored = { database_name = "ML_primary", engine = "pg", size = "db-s-2vcpu-4gb" } }`}, "restore_databases[*].database_name must be a DigitalOcean database cluster name"},
	{"var.restore_databases[3]", map[string]string{"restore_databases": `{ restored = { database_name = "ml-primary-vectors", engine = "pg", size = "db-s-2vcpu-4gb", point_in_time = "yesterday" } }`}, "restore_databases[*].point_in_time must be an RFC 3339 time"},
	{"var.restore_databases[4]", map[string]string{"restore_databases": `{ restored = { database_name = "ml-primary-vectors", engine = "pg", size = "db-s-2vcpu-4gb", node_count = 4 } }`}, "restore_databases[*].node_count must be 1, 2 or 3"},
	{"var.control_plane_allowed_addresses[0]", map[string]string{"control_plane_allowed_addresses": `["10.0.0.300"]`}, "control_plane_allowed_addresses must be IP addresses"},
}

func TestDisasterRecoveryChecks(t *testing.T) {
	harness(t)
	srv := startEmulator(t)
	w := newWorkspace(t, srv)
	runChecks(t, w, "disaster-recovery", disasterRecoveryBase, disasterRecoveryRows)
}

// The example: a primary in tor1, a warm standby in nyc3. Failover is one
// variable; the test measures what it costs (requests, and time in
// DigitalOcean terms: wall time times the emulator's time scale).
func TestExampleDisasterRecoveryBasic(t *testing.T) {
	harness(t)
	underBothCLIs(t, testExampleDisasterRecoveryBasic)
}

func testExampleDisasterRecoveryBasic(t *testing.T, tf string) {
	srv := startEmulator(t)
	w := newWorkspace(t, srv)
	w.tf = tf
	dir := "disaster-recovery/examples/basic"
	w.init(dir)
	out := w.applyAndReplan(dir)
	replica := get(out, "replicas", "vectors").(map[string]any)
	expect(t, "replica promoted before failover", replica["promoted"], false)
	standby := out["standby_cluster_id"].(string)
	api := godoClient(t, srv)
	ctx := context.Background()
	if c, _, err := api.Kubernetes.Get(ctx, standby); err != nil || len(c.NodePools) != 2 {
		t.Fatalf("standby cluster: %v (pools %d)", err, len(c.NodePools))
	} else {
		for _, p := range c.NodePools {
			// What the module controls is the floor: nodes the autoscaler
			// adds on its own come and go (the emulator's autoscaler is at work).
			if p.Name == "h100" && (!p.AutoScale || p.MinNodes != 0) {
				t.Errorf("the warm standby's GPU pool has auto_scale %t, min %d; it must be able to idle at zero", p.AutoScale, p.MinNodes)
			}
		}
	}

	// Time the failover where the API sees it: from its first write to its
	// last request, scaled back to DigitalOcean's pace.
	var mu sync.Mutex
	var first, last time.Time
	writes := map[string]int{}
	srv.SetRecorder(func(x emulator.Exchange) {
		mu.Lock()
		defer mu.Unlock()
		now := time.Now()
		if x.Method != "GET" {
			writes[x.Route]++
			if first.IsZero() {
				first = now
			}
		}
		if !first.IsZero() {
			last = now
		}
	})
	srv.ResetRequestCounts()
	w.must(dir, "apply", "-auto-approve", "-input=false", "-no-color", "-var", "failover=true")
	srv.SetRecorder(nil)
	applyRequests := srv.TotalRequests()
	mu.Lock()
	apiTime := last.Sub(first)
	t.Logf("failover: %d API requests in the apply (writes %v); %s from first write to last call, %s at DigitalOcean's pace (time scale %g)",
		applyRequests, writes, apiTime.Round(time.Millisecond), (apiTime * time.Duration(srv.TimeScale())).Round(time.Second), srv.TimeScale())
	mu.Unlock()
	out = w.applyAndReplan(dir, "-var", "failover=true")

	replica = get(out, "replicas", "vectors").(map[string]any)
	expect(t, "replica promoted after failover", replica["promoted"], true)
	db, _, err := api.Databases.Get(ctx, replica["id"].(string))
	if err != nil {
		t.Fatalf("the promoted replica is not a database cluster: %v", err)
	}
	rules, _, err := api.Databases.GetFirewallRules(ctx, db.ID)
	if err != nil {
		t.Fatal(err)
	}
	trusted := false
	for _, r := range rules {
		trusted = trusted || r.Type == "k8s" && r.Value == standby
	}
	if !trusted {
		t.Errorf("the promoted database does not trust the standby cluster: %v", rules)
	}
	w.destroy(dir, "-var", "failover=true")
	requireEmpty(t, srv)
}

// The second recovery path: a database restored in the standby region
// from the primary's backups (restore_databases), on the standby's VPC,
// trusted by its cluster, with the backup's users adopted, storage
// autoscaling on and the standby's control plane firewall on.
func TestDisasterRecoveryRestorePath(t *testing.T) {
	harness(t)
	srv := startEmulator(t)
	w := newWorkspace(t, srv)
	api := godoClient(t, srv)
	ctx := context.Background()
	src, _, err := api.Databases.Create(ctx, &godo.DatabaseCreateRequest{Name: "rs-primary-vectors", EngineSlug: "pg", SizeSlug: "db-s-1vcpu-2gb", Region: "tor1", NumNodes: 1})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for ready := false; !ready; {
		if time.Now().After(deadline) {
			t.Fatal("the source database never came online with a backup")
		}
		time.Sleep(20 * time.Millisecond)
		db, _, err := api.Databases.Get(ctx, src.ID)
		if err != nil || db.Status != "online" {
			continue
		}
		if _, _, err := api.Databases.CreateUser(ctx, src.ID, &godo.DatabaseCreateUserRequest{Name: "app"}); err != nil && !strings.Contains(err.Error(), "already") {
			t.Fatal(err)
		}
		backups, _, err := api.Databases.ListBackups(ctx, src.ID, nil)
		ready = err == nil && len(backups) > 0
	}
	const dir = "dr-restore"
	w.writeDir(dir, map[string]string{"main.tf": `
module "dr" {
  source = "../disaster-recovery"

  name           = "rs-standby"
  region         = "nyc3"
  primary_region = "tor1"
  restore_databases = {
    restored = { database_name = "rs-primary-vectors", engine = "pg", size = "db-s-1vcpu-2gb", users = ["app"] }
  }
  control_plane_allowed_addresses = ["203.0.113.0/24"]
  disable_deletion_protection     = true
}

output "restored" {
  value = module.dr.restored_databases
}

output "standby_cluster_id" {
  value = module.dr.cluster_id
}
`})
	w.init(dir)
	out := w.applyAndReplan(dir)
	id, _ := get(out, "restored", "restored", "id").(string)
	db, _, err := api.Databases.Get(ctx, id)
	if err != nil {
		t.Fatalf("the restored database %q: %v", id, err)
	}
	if db.RegionSlug != "nyc3" || db.Name != "rs-standby-restored" {
		t.Errorf("restored database %s in %s, want rs-standby-restored in nyc3", db.Name, db.RegionSlug)
	}
	srcUser, _, _ := api.Databases.GetUser(ctx, src.ID, "app")
	if u, _, err := api.Databases.GetUser(ctx, id, "app"); err != nil || srcUser == nil || u.Password != srcUser.Password {
		t.Errorf("the restored database's user app is not the backup's: %v", err)
	}
	standby := out["standby_cluster_id"].(string)
	rules, _, err := api.Databases.GetFirewallRules(ctx, id)
	if err != nil || !slices.ContainsFunc(rules, func(r godo.DatabaseFirewallRule) bool { return r.Type == "k8s" && r.Value == standby }) {
		t.Errorf("the restored database does not trust the standby cluster: %v %v", err, rules)
	}
	if a, _, err := api.Databases.GetStorageAutoscale(ctx, id); err != nil || a == nil || !a.Enabled {
		t.Errorf("storage autoscaling of the restored database: %v %+v", err, a)
	}
	if c, _, err := api.Kubernetes.Get(ctx, standby); err != nil || c.ControlPlaneFirewall == nil || c.ControlPlaneFirewall.Enabled == nil || !*c.ControlPlaneFirewall.Enabled {
		t.Errorf("the standby's control plane firewall is not on: %v", err)
	}
	w.destroy(dir)
	if _, err := api.Databases.Delete(ctx, src.ID); err != nil {
		t.Fatal(err)
	}
	requireEmpty(t, srv)
}

// ---------------------------------------------------------------------------
// The data stack goes while app workspaces still attach to it
// ---------------------------------------------------------------------------

// writeDir writes a root module of its own into the workspace.
func (w *workspace) writeDir(dir string, files map[string]string) {
	w.t.Helper()
	if err := os.MkdirAll(filepath.Join(w.root, dir), 0o755); err != nil {
		w.t.Fatal(err)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(w.root, dir, name), []byte(body), 0o644); err != nil {
			w.t.Fatal(err)
		}
	}
}

const attachProvider = `terraform {
  required_providers {
    attach = {
      source = "attach-labs/attach"
    }
  }
}

provider "attach" {}
`

// createOwnCluster creates an app team's cluster on a VPC of its own (the
// data stack's VPC can then go first), outside Terraform, and returns the
// cluster and VPC ids.
func createOwnCluster(t *testing.T, srv *emulator.Server, name string) (string, string) {
	t.Helper()
	c := godoClient(t, srv)
	vpc, _, err := c.VPCs.Create(t.Context(), &godo.VPCCreateRequest{Name: name + "-vpc", RegionSlug: "tor1"})
	if err != nil {
		t.Fatalf("creating the app VPC: %v", err)
	}
	cluster, _, err := c.Kubernetes.Create(t.Context(), &godo.KubernetesClusterCreateRequest{
		Name: name, RegionSlug: "tor1", VersionSlug: "latest", VPCUUID: vpc.ID,
		NodePools: []*godo.KubernetesNodePoolCreateRequest{{Name: "app", Size: "s-2vcpu-4gb", Count: 2}},
	})
	if err != nil {
		t.Fatalf("creating the app cluster: %v", err)
	}
	return cluster.ID, vpc.ID
}

// TestDestroyDataStackWithAttachments: the data workspace destroys its stack
// while an app workspace still attaches to both databases. The destroy plan
// warns, naming the databases and the app's cluster; after the destroy, the
// app workspace still plans (its attachments planned for re-creation, no
// error) and destroys cleanly.
func TestDestroyDataStackWithAttachments(t *testing.T) {
	harness(t)
	underBothCLIs(t, testDestroyDataStackWithAttachments)
}

func testDestroyDataStackWithAttachments(t *testing.T, tf string) {
	srv := startEmulator(t)
	w := newWorkspace(t, srv)
	w.tf = tf
	data := applyDataStack(t, w, "gone-data")
	appCluster, appVPC := createOwnCluster(t, srv, "app-orphan")

	const app = "app-orphan"
	w.writeDir(app, map[string]string{"main.tf": attachProvider + fmt.Sprintf(`
resource "attach_database_attachment" "vectors" {
  database_id = %q
  cluster_id  = %q
  user        = "orphan"
  db          = "orphan"
  pool = {
    name = "orphan"
    size = 5
  }
}

resource "attach_database_attachment" "cache" {
  database_id = %q
  cluster_id  = %q
}
`, get(data, "databases", "vectors", "id"), appCluster, get(data, "databases", "cache", "id"), appCluster)})
	w.init(app)
	w.applyAndReplan(app)

	plan := normalize(w.must(dataStackDir, "plan", "-destroy", "-input=false", "-no-color", "-var", "name=gone-data"))
	for _, want := range []string{
		"Warning: Destroying stack gone-data deletes databases other clusters still attach to",
		fmt.Sprintf("database cache (%s): cluster app-orphan (%s)", get(data, "databases", "cache", "id"), appCluster),
		fmt.Sprintf("database vectors (%s): cluster app-orphan (%s)", get(data, "databases", "vectors", "id"), appCluster),
		"retain_on_destroy = true",
	} {
		if !strings.Contains(plan, normalize(want)) {
			t.Errorf("the destroy plan does not say %q:\n%s", want, plan)
		}
	}
	if strings.Contains(plan, data["cluster_id"].(string)+")") {
		t.Errorf("the warning names the stack's own cluster as an attachment:\n%s", plan)
	}
	w.destroy(dataStackDir, "-var", "name=gone-data")

	// The app workspace, its databases gone: plan works (exit 2: the
	// attachments are planned again), destroy works.
	out, code := w.run(app, "plan", "-detailed-exitcode", "-input=false", "-no-color")
	if code != 2 || strings.Contains(out, "Error") {
		t.Fatalf("the app workspace's plan after the data stack went: exit %d, want 2 (attachments planned again) and no error:\n%s", code, out)
	}
	out = w.must(app, "destroy", "-auto-approve", "-input=false", "-no-color")
	if strings.Contains(out, "Error") {
		t.Fatalf("the app workspace's destroy after the data stack went:\n%s", out)
	}
	if state := w.must(app, "state", "list"); strings.TrimSpace(state) != "" {
		t.Errorf("the app workspace's state still holds %s", state)
	}

	deleteOwnCluster(t, srv, appCluster, appVPC)
	requireEmpty(t, srv)
}

// deleteOwnCluster deletes a cluster createOwnCluster made, then its VPC
// once the cluster's workers have left it.
func deleteOwnCluster(t *testing.T, srv *emulator.Server, clusterID, vpcID string) {
	t.Helper()
	deleteCluster(t, srv, clusterID)
	c := godoClient(t, srv)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := c.VPCs.Delete(t.Context(), vpcID)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("deleting the app VPC: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The database-attachment module in an app workspace whose data stack was
// destroyed: the module still plans (the attachments go, and a check says
// the stack is gone) and destroys.
func TestAttachmentModuleAfterDataStackDestroyed(t *testing.T) {
	harness(t)
	underBothCLIs(t, testAttachmentModuleAfterDataStackDestroyed)
}

func testAttachmentModuleAfterDataStackDestroyed(t *testing.T, tf string) {
	srv := startEmulator(t)
	w := newWorkspace(t, srv)
	w.tf = tf
	applyDataStack(t, w, "gone-mod")
	appCluster, appVPC := createOwnCluster(t, srv, "app-gone-mod")

	dir := "database-attachment/examples/app"
	vars := []string{"-var", "stack_name=gone-mod", "-var", "cluster_id=" + appCluster}
	w.init(dir)
	w.applyAndReplan(dir, vars...)
	w.destroy(dataStackDir, "-var", "name=gone-mod")

	out, code := w.run(dir, append([]string{"plan", "-detailed-exitcode", "-input=false", "-no-color"}, vars...)...)
	if code == 1 || strings.Contains(out, "Error:") {
		t.Fatalf("the app workspace's plan after its data stack went: exit %d:\n%s", code, out)
	}
	if !strings.Contains(normalize(out), normalize("Stack gone-mod was not found")) {
		t.Errorf("the plan does not say the stack is gone:\n%s", out)
	}
	out = w.must(dir, append([]string{"destroy", "-auto-approve", "-input=false", "-no-color"}, vars...)...)
	if strings.Contains(out, "Error:") {
		t.Fatalf("the app workspace's destroy after its data stack went:\n%s", out)
	}
	if state := w.must(dir, "state", "list"); strings.TrimSpace(state) != "" {
		t.Errorf("the app workspace's state still holds %s", state)
	}
	deleteOwnCluster(t, srv, appCluster, appVPC)
	requireEmpty(t, srv)
}

// ---------------------------------------------------------------------------
// Import with an import block and -generate-config-out
// ---------------------------------------------------------------------------

// genConfigMinVersion is the first Terraform whose config generation works
// with nested attributes holding computed ones: before it, filtering the
// schema for generation edited the provider's schema itself
// (hashicorp/terraform#35478, fixed in 1.9.3 by #35484), which makes 1.5.7
// crash on attach_inference_stack's databases map.
var genConfigMinVersion = [3]int{1, 9, 3}

// genConfigTerraform is a Terraform that generates configuration correctly:
// TF_ACC_TERRAFORM_GENCONFIG_PATH, else the harness's own if new enough,
// else `terraform` on PATH if new enough.
func genConfigTerraform(t *testing.T) string {
	t.Helper()
	candidates := []string{os.Getenv("TF_ACC_TERRAFORM_GENCONFIG_PATH"), tfBin}
	if p, err := exec.LookPath("terraform"); err == nil {
		candidates = append(candidates, p)
	}
	versionRE := regexp.MustCompile(`Terraform v(\d+)\.(\d+)\.(\d+)`)
	var seen []string
	for _, bin := range candidates {
		if bin == "" {
			continue
		}
		out, err := exec.Command(bin, "version").Output()
		m := versionRE.FindStringSubmatch(string(out))
		if err != nil || m == nil {
			continue
		}
		var v [3]int
		for i := range v {
			v[i], _ = strconv.Atoi(m[i+1])
		}
		seen = append(seen, bin+" "+m[0])
		if slices.Compare(v[:], genConfigMinVersion[:]) >= 0 {
			return bin
		}
	}
	t.Skipf("config generation needs Terraform >= %d.%d.%d (hashicorp/terraform#35478); found %v: set TF_ACC_TERRAFORM_GENCONFIG_PATH",
		genConfigMinVersion[0], genConfigMinVersion[1], genConfigMinVersion[2], seen)
	return ""
}

// TestImportGenerateConfig: a stack made by the module is imported into a
// fresh workspace with an import block and `terraform plan
// -generate-config-out`; the configuration Terraform writes validates, and
// with it the plan imports the stack and changes nothing.
func TestImportGenerateConfig(t *testing.T) {
	harness(t)
	srv := startEmulator(t)
	w := newWorkspace(t, srv)
	const dir = "imported"
	gen := &workspace{t: t, root: w.root, env: w.env, tf: genConfigTerraform(t)}
	applyDataStack(t, w, "gen-data")
	t.Logf("generating configuration with %s", gen.tf)
	w.writeDir(dir, map[string]string{"main.tf": attachProvider + `
import {
  to = attach_inference_stack.this
  id = "gen-data"
}
`})
	gen.init(dir)
	out, code := gen.run(dir, "plan", "-generate-config-out=generated.tf", "-input=false", "-no-color")
	b, _ := os.ReadFile(filepath.Join(w.root, dir, "generated.tf"))
	generated := string(b)
	if code != 0 || generated == "" {
		t.Fatalf("plan -generate-config-out exited %d:\n%s\n\ngenerated.tf:\n%s", code, out, generated)
	}
	if out, code := gen.run(dir, "validate", "-no-color"); code != 0 {
		t.Fatalf("the generated configuration does not validate (exit %d):\n%s\n\ngenerated.tf:\n%s", code, out, generated)
	}
	out, code = gen.run(dir, "plan", "-detailed-exitcode", "-input=false", "-no-color")
	if code == 1 {
		t.Fatalf("plan with the generated configuration failed:\n%s\n\ngenerated.tf:\n%s", out, generated)
	}
	if !strings.Contains(out, "1 to import, 0 to add, 0 to change, 0 to destroy") {
		t.Fatalf("plan with the generated configuration should import the stack and change nothing:\n%s\n\ngenerated.tf:\n%s", out, generated)
	}
	gen.must(dir, "apply", "-auto-approve", "-input=false", "-no-color")
	if out, code := gen.run(dir, "plan", "-detailed-exitcode", "-input=false", "-no-color"); code != 0 {
		t.Fatalf("plan after importing is not empty (exit %d):\n%s", code, out)
	}

	// The data workspace (protection off) destroys the stack.
	w.destroy(dataStackDir, "-var", "name=gen-data")
	requireEmpty(t, srv)
}

// TestInferenceStackPerDatabaseProtection: deletion protection is chosen per
// database. An unprotected database goes when removed from databases; a
// protected one is refused with a message whose fix is the module's own
// input (databases["<key>"].deletion_protection = false), and setting it
// lets the stack go.
func TestInferenceStackPerDatabaseProtection(t *testing.T) {
	harness(t)
	underBothCLIs(t, testInferenceStackPerDatabaseProtection)
}

func testInferenceStackPerDatabaseProtection(t *testing.T, tf string) {
	srv := startEmulator(t)
	w := newWorkspace(t, srv)
	w.tf = tf
	const module = "inference-stack"
	w.init(module)
	both := `databases={
	  vectors = { engine = "pg", size = "db-s-2vcpu-4gb" }
	  scratch = { engine = "pg", size = "db-s-2vcpu-4gb", deletion_protection = false }
	}`
	base := []string{"-var", "name=prot", "-var", "region=tor1", "-var", `control_plane_allowed_addresses=["203.0.113.0/24"]`}
	with := func(vars ...string) []string { return append(slices.Clone(base), vars...) }
	w.applyAndReplan(module, with("-var", both)...)

	// The unprotected one may go.
	w.must(module, append([]string{"plan", "-input=false", "-no-color"}, with("-var", `databases={ vectors = { engine = "pg", size = "db-s-2vcpu-4gb" } }`)...)...)
	// The protected one may not; the fix named is the module's own input.
	out, code := w.run(module, append([]string{"plan", "-input=false", "-no-color"}, with("-var", `databases={ scratch = { engine = "pg", size = "db-s-2vcpu-4gb", deletion_protection = false } }`)...)...)
	if code == 0 || !strings.Contains(normalize(out), "has deletion_protection = true") || !strings.Contains(normalize(out), "Set deletion_protection = false") {
		t.Fatalf("removing the protected database must be refused naming deletion_protection (exit %d):\n%s", code, out)
	}
	out, code = w.run(module, append([]string{"plan", "-destroy", "-input=false", "-no-color"}, with("-var", both)...)...)
	if code == 0 || !strings.Contains(normalize(out), `protected database "vectors"`) || strings.Contains(normalize(out), `protected database "scratch"`) {
		t.Fatalf("destroy must be refused for vectors only (exit %d):\n%s", code, out)
	}

	// Following the message: the database's own deletion_protection.
	unprotected := `databases={
	  vectors = { engine = "pg", size = "db-s-2vcpu-4gb", deletion_protection = false }
	  scratch = { engine = "pg", size = "db-s-2vcpu-4gb", deletion_protection = false }
	}`
	w.applyAndReplan(module, with("-var", unprotected)...)
	w.destroy(module, with("-var", unprotected)...)
	requireEmpty(t, srv)
}

// Per-user settings and Kafka topics pass through to the provider as given:
// ACLs as sets, the auth plugin, topics with their defaults and settings.
func TestInferenceStackUserSettingsAndTopics(t *testing.T) {
	harness(t)
	srv := startEmulator(t)
	w := newWorkspace(t, srv)
	const module = "inference-stack"
	w.init(module)
	out := filepath.Join(t.TempDir(), "plan.out")
	w.must(module, "plan", "-input=false", "-lock=false", "-no-color", "-out="+out,
		"-var", `name=settings`, "-var", `region=tor1`, "-var", `control_plane_allowed_addresses=["203.0.113.0/24"]`,
		"-var", `gpu_pools={ h100 = { size = "gpu-h100x1-80gb", max_nodes = 2 } }`,
		"-var", `databases={
		  events = { engine = "kafka", size = "gd-2vcpu-8gb", users = ["producer"],
		    user_settings = { producer = { kafka_acls = [{ topic = "events", permission = "produce" }] } },
		    topics = { events = { partitions = 6, config = { retention_ms = "3600000" } } } }
		  docs = { engine = "mysql", size = "db-s-2vcpu-4gb", app_databases = { legacy = {} },
		    user_settings = { legacy = { mysql_auth_plugin = "mysql_native_password" } } }
		}`)
	var plan struct {
		PlannedValues struct {
			RootModule struct {
				Resources []struct {
					Address string         `json:"address"`
					Values  map[string]any `json:"values"`
				} `json:"resources"`
			} `json:"root_module"`
		} `json:"planned_values"`
	}
	if err := json.Unmarshal([]byte(w.must(module, "show", "-json", out)), &plan); err != nil {
		t.Fatal(err)
	}
	var dbs map[string]any
	for _, r := range plan.PlannedValues.RootModule.Resources {
		if r.Address == "attach_inference_stack.this" {
			dbs, _ = r.Values["databases"].(map[string]any)
		}
	}
	get := func(v any, keys ...string) any {
		for _, k := range keys {
			m, _ := v.(map[string]any)
			v = m[k]
		}
		return v
	}
	acls, _ := get(dbs, "events", "user_settings", "producer", "kafka_acls").([]any)
	if len(acls) != 1 || get(acls[0], "topic") != "events" || get(acls[0], "permission") != "produce" {
		t.Fatalf("kafka_acls: %v", get(dbs, "events", "user_settings"))
	}
	if got := get(dbs, "events", "topics", "events"); get(got, "partitions") != float64(6) || get(got, "replication_factor") != float64(2) || get(got, "config", "retention_ms") != "3600000" {
		t.Fatalf("topic events: %v", got)
	}
	if got := get(dbs, "docs", "user_settings", "legacy", "mysql_auth_plugin"); got != "mysql_native_password" {
		t.Fatalf("mysql_auth_plugin: %v", got)
	}
}
