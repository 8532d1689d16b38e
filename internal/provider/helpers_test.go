package provider

import (
	"context"
	"os/exec"
	"regexp"
	"testing"
	"time"
)

type regexpT = regexp.Regexp

func regexpMust(s string) *regexp.Regexp { return regexp.MustCompile(s) }

func sleep(ms int) { time.Sleep(time.Duration(ms) * time.Millisecond) }

// buildProvider builds the provider binary at out, for tests that run the
// Terraform CLI with it installed as a registry user would (internal/tfrun).
func buildProvider(t *testing.T, out string) {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-trimpath", "-o", out, ".")
	build.Dir = root
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the provider: %v\n%s", err, b)
	}
}

// waitReady polls ready every 20 ms until it reports true, failing the test
// on its error or when ctx ends.
func waitReady(t *testing.T, ctx context.Context, what string, ready func() (bool, error)) {
	t.Helper()
	for {
		ok, err := ready()
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
