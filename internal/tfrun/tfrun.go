// Package tfrun runs the Terraform CLI against the emulator the way a
// registry user would: the provider installed from a local filesystem
// mirror (not dev overrides), and every setting that could point Terraform
// or the provider elsewhere replaced. `make demo` and `make bench` use it.
package tfrun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Workspace is a scratch directory with a provider mirror, a CLI
// configuration that installs from it, and a working directory.
type Workspace struct {
	Terraform string
	Dir       string
	Env       []string
	// Stderr receives Terraform's stderr; nil is the process's stderr.
	Stderr io.Writer
}

// New prepares root (recreated): the provider binary installed as version
// into root/mirror, a CLI config at root/terraformrc, and root/work holding
// a copy of the .tf files of example (if not empty).
func New(root, terraform, provider, version, example string) (*Workspace, error) {
	if err := os.RemoveAll(root); err != nil {
		return nil, err
	}
	mirror := filepath.Join(root, "mirror")
	pluginDir := filepath.Join(mirror, "registry.terraform.io", "attach-labs", "attach", version, runtime.GOOS+"_"+runtime.GOARCH)
	if err := os.MkdirAll(pluginDir, 0o755); err != nil {
		return nil, err
	}
	if err := copyFile(provider, filepath.Join(pluginDir, "terraform-provider-attach_v"+version), 0o755); err != nil {
		return nil, err
	}
	cliConfig := filepath.Join(root, "terraformrc")
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
		return nil, err
	}
	work := filepath.Join(root, "work")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	if example != "" {
		files, err := filepath.Glob(filepath.Join(example, "*.tf"))
		if err != nil {
			return nil, err
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("no .tf files in %s", example)
		}
		for _, f := range files {
			if err := copyFile(f, filepath.Join(work, filepath.Base(f)), 0o644); err != nil {
				return nil, err
			}
		}
	}
	return &Workspace{Terraform: terraform, Dir: work, Env: cleanEnv(cliConfig)}, nil
}

// Point sets the provider's token and API endpoint.
func (w *Workspace) Point(apiURL, token string) {
	w.Env = append(w.Env, "DIGITALOCEAN_TOKEN="+token, "DIGITALOCEAN_API_URL="+apiURL)
}

// cleanEnv is the caller's environment without DIGITALOCEAN_* and TF_*,
// plus the CLI config and non-interactive settings.
func cleanEnv(cliConfig string) []string {
	var env []string
	for _, kv := range os.Environ() {
		key, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(key, "DIGITALOCEAN_") || strings.HasPrefix(key, "TF_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "TF_CLI_CONFIG_FILE="+cliConfig, "TF_IN_AUTOMATION=1", "TF_INPUT=0", "CHECKPOINT_DISABLE=1")
}

// Run runs terraform args in the working directory; stdout goes to out,
// stderr to w.Stderr (the process's stderr when nil).
func (w *Workspace) Run(ctx context.Context, out io.Writer, args ...string) error {
	cmd := exec.CommandContext(ctx, w.Terraform, args...)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = w.Dir, w.Env, out, w.Stderr
	if cmd.Stderr == nil {
		cmd.Stderr = os.Stderr
	}
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

// WriteFile writes a file into the working directory.
func (w *Workspace) WriteFile(name, content string) error {
	return os.WriteFile(filepath.Join(w.Dir, name), []byte(content), 0o644)
}

func copyFile(src, dst string, mode os.FileMode) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, mode)
}
