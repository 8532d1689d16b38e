package main

import (
	"bytes"
	"os"
	"testing"
)

// TestTableIsFresh proves the committed table is what the generator makes
// from the spec: run `go generate ./internal/engineconfig` when it fails.
func TestTableIsFresh(t *testing.T) {
	path, err := specPath()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Skipf("DigitalOcean OpenAPI spec not found at %q (expected ../shared/do-openapi/digitalocean-v2.yaml beside the repository, or set ATTACH_DO_OPENAPI_SPEC): cannot check internal/engineconfig/settings_gen.go is fresh", path)
	}
	want, err := generate(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../settings_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("internal/engineconfig/settings_gen.go is not what the generator makes from %s: run `go generate ./internal/engineconfig` and commit the result", path)
	}
}

// TestGenerateRefusesUnknownSpec: a spec without the engines' schemas is an
// error, not an empty table.
func TestGenerateRefusesUnknownSpec(t *testing.T) {
	f := t.TempDir() + "/spec.yaml"
	if err := os.WriteFile(f, []byte("openapi: 3.0.0\ninfo: {title: x, version: '1'}\npaths: {}\ncomponents: {schemas: {}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := generate(f); err == nil {
		t.Fatal("generate accepted a spec without the engines' settings schemas")
	}
}
