// Package release packages what this repository publishes besides the
// provider (whose archives goreleaser builds from .goreleaser.yml): one
// versioned archive per module under modules/, in the layout a module
// registry serves (the module's files at the archive's root, its README and
// examples included). `make release-modules` writes them into dist/modules,
// and internal/registrytest serves these very archives through the Module
// Registry Protocol, so what the test installs is what ships.
package release

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Namespace and System are the registry address parts every module shares:
// <host>/attach-labs/<module>/attach.
const (
	Namespace = "attach-labs"
	System    = "attach"
)

// Module is one packaged module.
type Module struct {
	Name    string // directory under modules/, the registry name
	Version string // from the module's VERSION file
	Archive string // path of the .tar.gz
	SHA256  string
}

// Address is the module's registry source without a host.
func (m Module) Address() string { return Namespace + "/" + m.Name + "/" + System }

// Tag is the git tag a VCS-backed private registry (Terraform Cloud/Enterprise)
// publishes this version from: one tag prefix per module directory.
func (m Module) Tag() string { return m.Name + "/v" + m.Version }

var semver = regexp.MustCompile(`^\d+\.\d+\.\d+$`)

// siblingSource matches an example's module source that climbs out of its own
// module into a sibling (`../../../inference-stack`): inside a registry
// archive that path does not exist, so it becomes the sibling's registry
// address, pinned to the sibling's minor version.
var siblingSource = regexp.MustCompile(`(?m)^([ \t]*)source[ \t]*=[ \t]*"\.\./\.\./\.\./([a-z0-9-]+)"[ \t]*$`)

// PackageModules writes one <name>-<version>.tar.gz per module directory of
// modulesDir (each must carry a VERSION file with a semantic version) into
// outDir, and returns them sorted by name.
func PackageModules(modulesDir, outDir string) ([]Module, error) {
	entries, err := os.ReadDir(modulesDir)
	if err != nil {
		return nil, err
	}
	versions := map[string]string{}
	var names []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(modulesDir, e.Name(), "VERSION"))
		if err != nil {
			return nil, fmt.Errorf("module %s has no VERSION file (%v): add one holding its semantic version, e.g. 0.1.0", e.Name(), err)
		}
		v := strings.TrimSpace(string(b))
		if !semver.MatchString(v) {
			return nil, fmt.Errorf("module %s: VERSION %q is not a semantic version like 0.1.0", e.Name(), v)
		}
		versions[e.Name()] = v
		names = append(names, e.Name())
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no module directories under %s", modulesDir)
	}
	sort.Strings(names)
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, err
	}
	var out []Module
	for _, name := range names {
		m := Module{Name: name, Version: versions[name]}
		data, err := archive(filepath.Join(modulesDir, name), versions)
		if err != nil {
			return nil, fmt.Errorf("packaging module %s: %w", name, err)
		}
		m.Archive = filepath.Join(outDir, name+"-"+m.Version+".tar.gz")
		if err := os.WriteFile(m.Archive, data, 0o644); err != nil {
			return nil, err
		}
		m.SHA256 = sha256Hex(data)
		out = append(out, m)
	}
	return out, nil
}

// archive tars and gzips dir's module files deterministically (sorted
// names, fixed times and modes): no Go files, state, lock files or caches.
func archive(dir string, versions map[string]string) ([]byte, error) {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if name == ".terraform" {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(name, ".go") || strings.Contains(name, ".tfstate") || name == ".terraform.lock.hcl" || strings.HasPrefix(name, "terraform.tfvars") {
			return nil
		}
		files = append(files, path)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var buf bytes.Buffer
	gz, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	tw := tar.NewWriter(gz)
	epoch := time.Unix(0, 0).UTC()
	for _, path := range files {
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return nil, err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		if strings.HasSuffix(path, ".tf") {
			if b, err = rewriteSiblings(b, versions); err != nil {
				return nil, fmt.Errorf("%s: %w", rel, err)
			}
		}
		hdr := &tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, Size: int64(len(b)), ModTime: epoch, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(b); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func rewriteSiblings(b []byte, versions map[string]string) ([]byte, error) {
	var missing error
	b = siblingSource.ReplaceAllFunc(b, func(line []byte) []byte {
		m := siblingSource.FindSubmatch(line)
		indent, sibling := string(m[1]), string(m[2])
		v, ok := versions[sibling]
		if !ok {
			missing = fmt.Errorf("source %q names no module of this repository", "../../../"+sibling)
			return line
		}
		minor := v[:strings.LastIndex(v, ".")]
		return []byte(fmt.Sprintf("%ssource  = %q\n%sversion = \"~> %s\"", indent, Namespace+"/"+sibling+"/"+System, indent, minor))
	})
	return b, missing
}

// ReadArchive returns the files of a module archive by their path in it:
// what a registry user downloads.
func ReadArchive(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	tr := tar.NewReader(gz)
	out := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, h.Name, err)
		}
		out[h.Name] = string(b)
	}
}
