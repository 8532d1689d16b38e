package registrytest

import (
	"archive/zip"
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

const (
	projectName = "terraform-provider-attach"
	version     = "0.1.0"
)

// goreleaserNames are the file names .goreleaser.yml gives the release
// artifacts, for the host platform.
type goreleaserNames struct {
	Binary, Archive, Manifest, SHA256SUMS, Signature string
}

// namesFromGoreleaser expands .goreleaser.yml's own name templates (binary,
// archive, checksum and the manifest's extra file), so a change there is a
// change here.
func namesFromGoreleaser(t *testing.T, root string) goreleaserNames {
	t.Helper()
	cfg, err := os.ReadFile(filepath.Join(root, ".goreleaser.yml"))
	if err != nil {
		t.Fatal(err)
	}
	section := func(name string) string {
		m := regexp.MustCompile(`(?ms)^` + name + `:\n(.*?)(?:^\S|\z)`).FindSubmatch(cfg)
		if m == nil {
			t.Fatalf(".goreleaser.yml has no %s section", name)
		}
		return string(m[1])
	}
	field := func(sec, key string) string {
		m := regexp.MustCompile(`(?m)^\s*-?\s*` + key + `:\s*"([^"]+)"`).FindStringSubmatch(sec)
		if m == nil {
			t.Fatalf(".goreleaser.yml: no %s in\n%s", key, sec)
		}
		return m[1]
	}
	data := map[string]string{"ProjectName": projectName, "Version": version, "Os": runtime.GOOS, "Arch": runtime.GOARCH}
	expand := func(tmpl string) string {
		var b strings.Builder
		if err := template.Must(template.New("").Parse(tmpl)).Execute(&b, data); err != nil {
			t.Fatalf("expanding %q: %v", tmpl, err)
		}
		return b.String()
	}
	checksum := section("checksum")
	if !strings.Contains(section("archives"), "formats: [zip]") {
		t.Fatal(".goreleaser.yml: archives are no longer zip; Terraform registries serve zip archives")
	}
	if !strings.Contains(checksum, "glob: terraform-registry-manifest.json") || !strings.Contains(section("signs"), "artifacts: checksum") || !strings.Contains(section("signs"), "--detach-sign") {
		t.Fatal(".goreleaser.yml: this test builds the manifest into the checksums and a detached signature of them; update it with the config")
	}
	manifestName := regexp.MustCompile(`(?s)extra_files:.*?name_template:\s*"([^"]+)"`).FindStringSubmatch(checksum)
	if manifestName == nil {
		t.Fatal(".goreleaser.yml: checksum.extra_files has no name_template")
	}
	sums := expand(regexp.MustCompile(`(?m)^  name_template:\s*"([^"]+)"`).FindStringSubmatch(checksum)[1])
	return goreleaserNames{
		Binary:     expand(field(section("builds"), "binary")),
		Archive:    expand(field(section("archives"), "name_template")) + ".zip",
		Manifest:   expand(manifestName[1]),
		SHA256SUMS: sums,
		Signature:  sums + ".sig", // goreleaser's default signature name: ${artifact}.sig
	}
}

// providerRelease is one built release for the host platform, as files in dir.
type providerRelease struct {
	names     goreleaserNames
	dir       string
	protocols []string // from terraform-registry-manifest.json
	zipSHA    string
	key       *openpgp.Entity
	keyArmor  string
}

func (r *providerRelease) path(name string) string { return filepath.Join(r.dir, name) }

// buildRelease builds the provider as goreleaser does (static, trimmed,
// version stamped), zips it under its release name, writes the manifest and
// the SHA256SUMS of both, and signs the sums with a fresh RSA key.
func buildRelease(t *testing.T, root, dir string) *providerRelease {
	t.Helper()
	r := &providerRelease{names: namesFromGoreleaser(t, root), dir: dir}

	manifest, err := os.ReadFile(filepath.Join(root, "terraform-registry-manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Version  int `json:"version"`
		Metadata struct {
			ProtocolVersions []string `json:"protocol_versions"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(manifest, &m); err != nil || m.Version != 1 || len(m.Metadata.ProtocolVersions) == 0 {
		t.Fatalf("terraform-registry-manifest.json: want version 1 with protocol_versions (err %v)", err)
	}
	r.protocols = m.Metadata.ProtocolVersions

	start := time.Now()
	bin := filepath.Join(t.TempDir(), r.names.Binary)
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version="+version+" -X main.commit=registrytest", "-o", bin, ".")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the provider: %v\n%s", err, out)
	}
	t.Logf("provider built in %s", time.Since(start).Round(time.Millisecond))
	binary, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	var zbuf bytes.Buffer
	zw := zip.NewWriter(&zbuf)
	hdr := &zip.FileHeader{Name: r.names.Binary, Method: zip.Deflate, Modified: time.Unix(0, 0).UTC()}
	hdr.SetMode(0o755)
	f, err := zw.CreateHeader(hdr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(binary); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	r.zipSHA = sum(zbuf.Bytes())
	write(t, r.path(r.names.Archive), zbuf.Bytes())
	write(t, r.path(r.names.Manifest), manifest)
	sums := fmt.Sprintf("%s  %s\n%s  %s\n", r.zipSHA, r.names.Archive, sum(manifest), r.names.Manifest)
	write(t, r.path(r.names.SHA256SUMS), []byte(sums))

	r.key, r.keyArmor = newKey(t, "Attach Labs test release")
	write(t, r.path(r.names.Signature), detachSign(t, r.key, []byte(sums)))
	return r
}

// newKey makes a throwaway RSA signing key, as a release key is (OpenPGP v4).
func newKey(t *testing.T, name string) (*openpgp.Entity, string) {
	t.Helper()
	e, err := openpgp.NewEntity(name, "", "release@attach.invalid", &packet.Config{Algorithm: packet.PubKeyAlgoRSA, RSABits: 2048, DefaultHash: crypto.SHA256})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	w, err := armor.Encode(&b, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return e, b.String()
}

// detachSign is `gpg --detach-sign`: a binary signature of msg.
func detachSign(t *testing.T, e *openpgp.Entity, msg []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := openpgp.DetachSign(&b, e, bytes.NewReader(msg), &packet.Config{DefaultHash: crypto.SHA256}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func keyID(e *openpgp.Entity) string { return fmt.Sprintf("%016X", e.PrimaryKey.KeyId) }

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
