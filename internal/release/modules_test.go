package release

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestPackageModules: one archive per module directory, named by its
// VERSION, holding the module, its README, VERSION and examples at the
// archive's root, nothing else (no Go, state or caches), every example's
// sibling-module source rewritten to a registry address, byte-identical
// when built twice (a release can be rebuilt and checked).
func TestPackageModules(t *testing.T) {
	out := t.TempDir()
	mods, err := PackageModules(filepath.Join("..", "..", "modules"), out)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range mods {
		names = append(names, m.Name)
	}
	if want := []string{"database-attachment", "disaster-recovery", "inference-stack"}; !slices.Equal(names, want) {
		t.Fatalf("packaged %v, want %v", names, want)
	}
	again, err := PackageModules(filepath.Join("..", "..", "modules"), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range mods {
		if m.Version != "0.1.0" || filepath.Base(m.Archive) != m.Name+"-0.1.0.tar.gz" || m.Tag() != m.Name+"/v0.1.0" || m.Address() != "attach-labs/"+m.Name+"/attach" {
			t.Errorf("%s: version %s, archive %s, tag %s, address %s", m.Name, m.Version, m.Archive, m.Tag(), m.Address())
		}
		if again[i].SHA256 != m.SHA256 {
			t.Errorf("%s: two builds differ (%s, %s): the archive is not reproducible", m.Name, m.SHA256, again[i].SHA256)
		}
		files := readArchive(t, m.Archive)
		for _, f := range []string{"README.md", "VERSION", "main.tf", "variables.tf", "outputs.tf", "versions.tf"} {
			if _, ok := files[f]; !ok {
				t.Errorf("%s: archive lacks %s", m.Name, f)
			}
		}
		examples := 0
		for name, body := range files {
			if strings.HasPrefix(name, "examples/") && strings.HasSuffix(name, "/main.tf") {
				examples++
			}
			if strings.HasSuffix(name, ".go") || strings.Contains(name, ".terraform") || strings.Contains(name, "tfstate") {
				t.Errorf("%s: archive holds %s", m.Name, name)
			}
			if strings.Contains(body, `"../../../`) {
				t.Errorf("%s: %s still points outside the archive:\n%s", m.Name, name, body)
			}
		}
		if examples == 0 {
			t.Errorf("%s: archive has no examples", m.Name)
		}
	}
	dr := readArchive(t, mods[1].Archive)["examples/basic/main.tf"]
	if !strings.Contains(dr, "  source  = \"attach-labs/inference-stack/attach\"\n  version = \"~> 0.1\"\n") {
		t.Errorf("disaster-recovery's example does not take inference-stack from the registry:\n%s", dr)
	}
}

func TestPackageModulesNeedsVersion(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "m"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := PackageModules(dir, t.TempDir()); err == nil || !strings.Contains(err.Error(), "module m has no VERSION file") {
		t.Errorf("a module without VERSION: err %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "m", "VERSION"), []byte("v1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := PackageModules(dir, t.TempDir()); err == nil || !strings.Contains(err.Error(), `VERSION "v1" is not a semantic version`) {
		t.Errorf("a bad VERSION: err %v", err)
	}
}

func readArchive(t *testing.T, path string) map[string]string {
	t.Helper()
	files, err := ReadArchive(path)
	if err != nil {
		t.Fatal(err)
	}
	return files
}
