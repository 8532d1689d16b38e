// Command demo is `make demo`: it starts the DigitalOcean API emulator in
// process, installs the freshly built provider into a private filesystem
// mirror, runs `terraform init` and `terraform apply` on an example, prints
// what the example found, and stops the emulator. Nothing is downloaded and
// no cloud account is needed.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
)

type options struct {
	terraform string
	provider  string
	version   string
	example   string
	workdir   string
	timeScale float64
}

func main() {
	var o options
	flag.StringVar(&o.terraform, "terraform", "bin/terraform", "Terraform CLI to run (make tools builds v1.5.7 into ./bin)")
	flag.StringVar(&o.provider, "provider", "terraform-provider-attach", "provider binary built by make build")
	flag.StringVar(&o.version, "version", "0.1.0", "version to install the provider binary as")
	flag.StringVar(&o.example, "example", "examples/kubernetes-options", "directory of .tf files to apply")
	flag.StringVar(&o.workdir, "workdir", ".demo", "scratch directory (recreated on every run)")
	flag.Float64Var(&o.timeScale, "time-scale", emulator.DefaultTimeScale, "divide DigitalOcean's real provisioning times by this")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintf(os.Stderr, "\ndemo failed: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	for _, p := range []*string{&o.terraform, &o.provider, &o.example, &o.workdir} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		*p = abs
	}
	for name, p := range map[string]string{"Terraform": o.terraform, "provider": o.provider} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%s binary %s not found: run `make demo` (it builds both)", name, p)
		}
	}

	srv, err := emulator.Start(emulator.Config{TimeScale: o.timeScale})
	if err != nil {
		return err
	}
	defer func() { _ = srv.Close() }()
	step("DigitalOcean API emulator at %s (time scale %g: a 6-minute cluster takes %s)",
		srv.URL, srv.TimeScale(), (time.Duration(float64(emulator.ClusterProvisionDuration) / srv.TimeScale())).Round(10*time.Millisecond))

	work, cliConfig, err := prepare(o)
	if err != nil {
		return err
	}
	env := terraformEnv(cliConfig, srv)
	tf := func(args ...string) error { return terraform(ctx, o.terraform, work, env, os.Stdout, args...) }

	step("terraform init (provider %s from a local mirror)", o.version)
	if err := tf("init", "-input=false", "-no-color"); err != nil {
		return err
	}
	step("terraform apply")
	start := time.Now()
	if err := tf("apply", "-auto-approve", "-input=false", "-no-color"); err != nil {
		return err
	}
	applied := time.Since(start)

	var out bytes.Buffer
	if err := terraform(ctx, o.terraform, work, env, &out, "output", "-json"); err != nil {
		return err
	}
	if err := printGPUTable(out.Bytes()); err != nil {
		return err
	}

	inv := srv.Inventory()
	step("apply took %s; %d API requests; emulator inventory: %d objects", applied.Round(time.Millisecond), srv.TotalRequests(), len(inv.Items))
	if !inv.Empty() {
		return fmt.Errorf("objects left in the emulator:\n%s", inv)
	}
	step("done: emulator stopped, scratch files in %s", o.workdir)
	return nil
}

// prepare recreates the scratch directory: a filesystem mirror holding the
// provider, a CLI configuration that installs it from there, and a copy of
// the example.
func prepare(o options) (work, cliConfig string, err error) {
	if err := os.RemoveAll(o.workdir); err != nil {
		return "", "", err
	}
	mirror := filepath.Join(o.workdir, "mirror")
	pluginDir := filepath.Join(mirror, "registry.terraform.io", "attach-labs", "attach", o.version, runtime.GOOS+"_"+runtime.GOARCH)
	if err := os.MkdirAll(pluginDir, 0o755); err != nil {
		return "", "", err
	}
	if err := copyFile(o.provider, filepath.Join(pluginDir, "terraform-provider-attach_v"+o.version), 0o755); err != nil {
		return "", "", err
	}
	cliConfig = filepath.Join(o.workdir, "terraformrc")
	rc := fmt.Sprintf(`provider_installation {
  filesystem_mirror {
    path    = %q
    include = ["registry.terraform.io/attach-labs/attach"]
  }
  direct {
    exclude = ["registry.terraform.io/attach-labs/attach"]
  }
}
`, mirror)
	if err := os.WriteFile(cliConfig, []byte(rc), 0o644); err != nil {
		return "", "", err
	}
	work = filepath.Join(o.workdir, "work")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return "", "", err
	}
	files, err := filepath.Glob(filepath.Join(o.example, "*.tf"))
	if err != nil {
		return "", "", err
	}
	if len(files) == 0 {
		return "", "", fmt.Errorf("no .tf files in %s", o.example)
	}
	for _, f := range files {
		if err := copyFile(f, filepath.Join(work, filepath.Base(f)), 0o644); err != nil {
			return "", "", err
		}
	}
	return work, cliConfig, nil
}

// terraformEnv is the caller's environment with every setting that could
// point Terraform or the provider elsewhere replaced by the emulator's.
func terraformEnv(cliConfig string, srv *emulator.Server) []string {
	var env []string
	for _, kv := range os.Environ() {
		key, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(key, "DIGITALOCEAN_") || strings.HasPrefix(key, "TF_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"TF_CLI_CONFIG_FILE="+cliConfig,
		"TF_IN_AUTOMATION=1",
		"TF_INPUT=0",
		"CHECKPOINT_DISABLE=1",
		"DIGITALOCEAN_TOKEN="+srv.Token,
		"DIGITALOCEAN_API_URL="+srv.URL,
	)
}

func terraform(ctx context.Context, bin, dir string, env []string, stdout io.Writer, args ...string) error {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, env, stdout, os.Stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 30 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return errors.New("interrupted")
		}
		return fmt.Errorf("terraform %s: %w", args[0], err)
	}
	return nil
}

func printGPUTable(outputJSON []byte) error {
	var outputs struct {
		LatestVersion struct {
			Value string `json:"value"`
		} `json:"latest_version"`
		GPUSizesByRegion struct {
			Value map[string][]string `json:"value"`
		} `json:"gpu_sizes_by_region"`
	}
	if err := json.Unmarshal(outputJSON, &outputs); err != nil {
		return fmt.Errorf("reading terraform outputs: %w", err)
	}
	regions := make([]string, 0, len(outputs.GPUSizesByRegion.Value))
	for r := range outputs.GPUSizesByRegion.Value {
		regions = append(regions, r)
	}
	if len(regions) == 0 {
		return errors.New("the example found no region offering GPU sizes")
	}
	sort.Strings(regions)
	step("GPU node sizes by region (DOKS %s is the newest version)", outputs.LatestVersion.Value)
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "  REGION\tGPU SIZES")
	for _, r := range regions {
		fmt.Fprintf(w, "  %s\t%s\n", r, strings.Join(outputs.GPUSizesByRegion.Value[r], ", "))
	}
	return w.Flush()
}

func copyFile(src, dst string, mode os.FileMode) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, mode)
}

func step(format string, args ...any) {
	fmt.Printf("\n==> "+format+"\n", args...)
}
