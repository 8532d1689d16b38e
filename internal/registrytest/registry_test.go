package registrytest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"golang.org/x/mod/sumdb/dirhash"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
	"github.com/attach-labs/terraform-provider-attach/internal/release"
)

// cli is a Terraform-compatible binary the release is installed with.
type cli struct {
	name string // "terraform" or "tofu"
	bin  string
}

// envTofu names the OpenTofu the ephemeral-resource tests use too
// (internal/provider's useEphemeralTofu): `make test` builds it.
const envTofu = "ATTACH_TOFU_EPHEMERAL"

var (
	root string

	setupOnce sync.Once
	rel       *providerRelease
	modules   []release.Module
	otherKey  *openpgp.Entity
	setupErr  error
	setupT    time.Duration
)

// clis returns Terraform v1.5.7 and OpenTofu 1.12, the CLIs the release
// must install under. OpenTofu is skipped, saying so, only when it is absent
// outside CI.
func clis(t *testing.T) []cli {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("registry tests run Terraform and OpenTofu: set TF_ACC=1 (make test does)")
	}
	var err error
	if root, err = filepath.Abs(filepath.Join("..", "..")); err != nil {
		t.Fatal(err)
	}
	tf := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if tf == "" {
		tf = filepath.Join(root, "bin", "terraform")
	}
	if !executable(tf) {
		t.Fatalf("terraform not found at %s: run make tools (it builds Terraform v1.5.7 into ./bin)", tf)
	}
	out := []cli{{"terraform", tf}}
	tofu := os.Getenv(envTofu)
	if tofu == "" {
		tofu = filepath.Join(root, "bin", "tofu-1.12")
	}
	if executable(tofu) {
		out = append(out, cli{"tofu", tofu})
	} else if os.Getenv("CI") == "true" {
		t.Fatalf("OpenTofu not found at %s (or %s): run make tools-ephemeral", tofu, envTofu)
	} else {
		t.Logf("SKIPPING the OpenTofu leg: no OpenTofu at %s (or %s); run make tools-ephemeral", tofu, envTofu)
	}
	setupOnce.Do(func() {
		start := time.Now()
		dir, err := os.MkdirTemp("", "attach-release-")
		if err != nil {
			setupErr = err
			return
		}
		// The release is shared by every test of this run; the directory
		// outlives the test that made it and is removed by TestMain.
		releaseDir = dir
		rel = buildRelease(t, root, dir)
		modules, setupErr = release.PackageModules(filepath.Join(root, "modules"), filepath.Join(dir, "modules"))
		otherKey, _ = newKey(t, "Someone else")
		setupT = time.Since(start)
	})
	if setupErr != nil || rel == nil {
		t.Fatalf("building the release: %v", setupErr)
	}
	return out
}

var releaseDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if releaseDir != "" {
		_ = os.RemoveAll(releaseDir)
	}
	os.Exit(code)
}

func executable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// workdir is a fresh configuration directory run by one CLI with a private
// HOME (no implied plugin directories), a CLI configuration that sends the
// default registry hosts (registry.terraform.io and, for OpenTofu,
// registry.opentofu.org) to reg, and reg's certificate trusted.
type workdir struct {
	t   *testing.T
	cli cli
	dir string
	env []string
}

func newWorkdir(t *testing.T, c cli, reg *registry, extraEnv ...string) *workdir {
	t.Helper()
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "config")
	home := filepath.Join(tmp, "home")
	for _, d := range []string{dir, home} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The unchanged source "attach-labs/attach" (the modules' versions.tf)
	// resolves to registry.terraform.io under Terraform and to
	// registry.opentofu.org under OpenTofu: both hosts' services point at
	// reg. Explicit provider_installation turns off the implied local
	// mirrors, so nothing can come from ~/.terraform.d.
	var rc strings.Builder
	for _, h := range []string{"registry.terraform.io", "registry.opentofu.org"} {
		fmt.Fprintf(&rc, "host %q {\n  services = {\n    \"providers.v1\" = %q\n    \"modules.v1\"   = %q\n  }\n}\n", h, reg.base()+"/v1/providers/", reg.base()+"/v1/modules/")
	}
	rc.WriteString("provider_installation {\n  direct {}\n}\n")
	rcFile := filepath.Join(tmp, "cli.tfrc")
	write(t, rcFile, []byte(rc.String()))
	var env []string
	for _, kv := range os.Environ() {
		key, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(key, "TF_") || strings.HasPrefix(key, "DIGITALOCEAN_") || key == "HOME" || key == "SSL_CERT_FILE" || key == "SSL_CERT_DIR" {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "HOME="+home, "TF_CLI_CONFIG_FILE="+rcFile, "SSL_CERT_FILE="+reg.caFile, "SSL_CERT_DIR="+home,
		"TF_IN_AUTOMATION=1", "TF_INPUT=0", "CHECKPOINT_DISABLE=1")
	return &workdir{t: t, cli: c, dir: dir, env: append(env, extraEnv...)}
}

func (w *workdir) file(name, body string) { write(w.t, filepath.Join(w.dir, name), []byte(body)) }

// run runs the CLI and returns its combined output and exit code.
func (w *workdir) run(args ...string) (string, int) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.t.Context(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, w.cli.bin, args...)
	cmd.Dir, cmd.Env = w.dir, w.env
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 30 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	w.t.Logf("%s %s: %s", w.cli.name, args[0], time.Since(start).Round(time.Millisecond))
	var exit *exec.ExitError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &exit) && ctx.Err() == nil:
		return out.String(), exit.ExitCode()
	default:
		w.t.Fatalf("%s %s: %v\n%s", w.cli.name, strings.Join(args, " "), err, out.String())
		return "", -1
	}
}

func (w *workdir) must(args ...string) string {
	w.t.Helper()
	out, code := w.run(args...)
	if code != 0 {
		w.t.Fatalf("%s %s exited %d:\n%s", w.cli.name, strings.Join(args, " "), code, out)
	}
	return out
}

// providerConfig requires the provider from reg by its full address, so
// init goes through service discovery on reg's own host.
func providerConfig(reg *registry) string {
	return fmt.Sprintf(`terraform {
  required_providers {
    attach = {
      source  = "%s/attach-labs/attach"
      version = "%s"
    }
  }
}
`, reg.host, version)
}

// TestProviderInstallFromRegistry: the release, served through the
// Provider Registry Protocol, installs with its signature verified and its
// hashes locked; a tampered archive and a signature by another key are
// refused.
func TestProviderInstallFromRegistry(t *testing.T) {
	start := time.Now()
	for _, c := range clis(t) {
		t.Run(c.name, func(t *testing.T) {
			t.Run("signed", func(t *testing.T) {
				reg := newRegistry(t, rel, modules)
				w := newWorkdir(t, c, reg)
				w.file("main.tf", providerConfig(reg))
				out := w.must("init", "-input=false", "-no-color")
				if !strings.Contains(out, keyID(rel.key)) {
					t.Errorf("init does not name the signing key %s: the signature was not checked\n%s", keyID(rel.key), out)
				}
				for _, p := range []string{"/.well-known/terraform.json", "/releases/" + rel.names.SHA256SUMS, "/releases/" + rel.names.Signature, "/releases/" + rel.names.Archive} {
					if reg.count(p) == 0 {
						t.Errorf("init never fetched %s", p)
					}
				}
				lock, err := os.ReadFile(filepath.Join(w.dir, ".terraform.lock.hcl"))
				if err != nil {
					t.Fatal(err)
				}
				h1, err := dirhash.HashZip(rel.path(rel.names.Archive), dirhash.Hash1)
				if err != nil {
					t.Fatal(err)
				}
				for _, want := range []string{
					fmt.Sprintf("provider %q", reg.host+"/attach-labs/attach"),
					fmt.Sprintf("version     = %q", version),
					fmt.Sprintf("%q", "zh:"+rel.zipSHA), // from the signed SHA256SUMS
					fmt.Sprintf("%q", h1),               // of the package itself
				} {
					if !strings.Contains(string(lock), want) {
						t.Errorf(".terraform.lock.hcl lacks %s:\n%s", want, lock)
					}
				}
				// The installed provider is the release's binary and runs.
				schema := w.must("providers", "schema", "-json")
				if !strings.Contains(schema, `"attach_inference_stack"`) {
					t.Errorf("providers schema does not list attach_inference_stack")
				}
			})
			t.Run("tampered-archive", func(t *testing.T) {
				reg := newRegistry(t, rel, modules)
				reg.zip = bytes.Clone(reg.zip)
				reg.zip[len(reg.zip)/2] ^= 0xff
				w := newWorkdir(t, c, reg)
				w.file("main.tf", providerConfig(reg))
				out, code := w.run("init", "-input=false", "-no-color")
				requireRefused(t, out, code, `(?s)attach-labs/attach v0\.1\.0:\s+archive has\s+incorrect checksum\s+zh:[0-9a-f]{64}\s+\(expected\s+zh:`+rel.zipSHA+`\)`)
			})
			t.Run("signed-by-another-key", func(t *testing.T) {
				reg := newRegistry(t, rel, modules)
				sums, err := os.ReadFile(rel.path(rel.names.SHA256SUMS))
				if err != nil {
					t.Fatal(err)
				}
				reg.sig = detachSign(t, otherKey, sums)
				w := newWorkdir(t, c, reg)
				w.file("main.tf", providerConfig(reg))
				out, code := w.run("init", "-input=false", "-no-color")
				requireRefused(t, out, code, `(?s)attach-labs/attach v0\.1\.0:.*authentication\s+signature\s+from\s+unknown\s+issuer`)
			})
		})
	}
	t.Logf("release built in %s; whole test %s", setupT.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// requireRefused: init failed, said why, and installed nothing.
func requireRefused(t *testing.T, out string, code int, why string) {
	t.Helper()
	if code == 0 {
		t.Fatalf("init succeeded; want it to refuse the package:\n%s", out)
	}
	if !regexp.MustCompile(why).MatchString(out) {
		t.Errorf("init failed without the reason %s:\n%s", why, out)
	}
	t.Logf("refused as expected:\n%s", out)
}

// TestModuleFromRegistry: the inference-stack module, packaged by `make
// release-modules` and served through the Module Registry Protocol, is
// consumed by its own shipped example with a registry source and a version
// constraint; the provider it needs comes from the same registry (the
// unchanged "attach-labs/attach", through the default host's services).
// The stack applies against the emulator and destroys to nothing.
func TestModuleFromRegistry(t *testing.T) {
	start := time.Now()
	for _, c := range clis(t) {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var mod *release.Module
			for i := range modules {
				if modules[i].Name == "inference-stack" {
					mod = &modules[i]
				}
			}
			if mod == nil {
				t.Fatalf("release.PackageModules made no inference-stack archive: %v", modules)
			}
			srv, err := emulator.Start(emulator.Config{TimeScale: 1000, RateLimitPerMinute: -1, RateLimitPerHour: -1})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = srv.Close() })
			reg := newRegistry(t, rel, modules)
			// This emulator has no data plane, so no Kubernetes API to write the
			// module's connection Secrets into: the example's opt-out (the
			// module harness applies the default delivery against a real one).
			w := newWorkdir(t, c, reg, "DIGITALOCEAN_TOKEN="+srv.Token, "DIGITALOCEAN_API_URL="+srv.URL, "TF_VAR_disable_kubernetes_secrets=true")

			// The shipped example, from the archive, with its local source
			// replaced by the registry address and a constraint.
			example := untar(t, mod.Archive, "examples/basic/")
			local := regexp.MustCompile(`(?m)^  source = "\.\./\.\."$`)
			main, ok := example["main.tf"]
			if !ok || !local.MatchString(main) {
				t.Fatalf("examples/basic/main.tf in %s does not use source = \"../..\"", mod.Archive)
			}
			example["main.tf"] = local.ReplaceAllString(main, fmt.Sprintf("  source  = %q\n  version = \"~> 0.1\"", reg.host+"/"+mod.Address()))
			for name, body := range example {
				w.file(name, body)
			}

			out := w.must("init", "-input=false", "-no-color")
			if !strings.Contains(out, "Downloading "+reg.host+"/"+mod.Address()+" "+mod.Version) {
				t.Errorf("init did not download the module %s %s from the registry:\n%s", mod.Address(), mod.Version, out)
			}
			if !strings.Contains(out, keyID(rel.key)) {
				t.Errorf("init does not name the provider's signing key %s:\n%s", keyID(rel.key), out)
			}
			for _, p := range []string{"/.well-known/terraform.json", "/v1/modules/" + mod.Address() + "/versions", "/v1/modules/" + mod.Address() + "/" + mod.Version + "/download", "/modules/" + filepath.Base(mod.Archive)} {
				if reg.count(p) == 0 {
					t.Errorf("init never fetched %s", p)
				}
			}
			w.must("apply", "-auto-approve", "-input=false", "-no-color")
			if _, code := w.run("plan", "-detailed-exitcode", "-input=false", "-no-color"); code != 0 {
				t.Errorf("plan after apply is not empty (exit %d)", code)
			}
			id := strings.TrimSpace(w.must("output", "-raw", "cluster_id"))
			if srv.Inventory().Empty() || id == "" {
				t.Fatalf("apply left no cluster in the emulator (cluster_id %q)", id)
			}
			w.must("destroy", "-auto-approve", "-input=false", "-no-color")
			deadline := time.Now().Add(5 * time.Second)
			for !srv.Inventory().Empty() {
				if time.Now().After(deadline) {
					t.Fatalf("objects left in the emulator after destroy:\n%s", srv.Inventory())
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
	t.Cleanup(func() { t.Logf("whole test %s", time.Since(start).Round(time.Millisecond)) })
}

// untar returns the files of a .tar.gz under prefix, by their name below it.
func untar(t *testing.T, path, prefix string) map[string]string {
	t.Helper()
	files, err := release.ReadArchive(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for name, content := range files {
		if rest, ok := strings.CutPrefix(name, prefix); ok && !strings.Contains(rest, "/") {
			out[rest] = content
		}
	}
	return out
}
