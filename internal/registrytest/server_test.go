package registrytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/attach-labs/terraform-provider-attach/internal/release"
)

// registry serves one provider release and the packaged modules over HTTPS
// on loopback, speaking service discovery, the Provider Registry Protocol
// (providers.v1) and the Module Registry Protocol (modules.v1).
type registry struct {
	rel     *providerRelease
	modules []release.Module
	zip     []byte // the archive served (the release's, or a tampered copy)
	sig     []byte // the SHA256SUMS signature served
	srv     *httptest.Server
	host    string // 127.0.0.1:PORT: a registry hostname Terraform accepts for providers and modules (module hosts need a dot)
	caFile  string // PEM of the server's certificate, for SSL_CERT_FILE

	mu   sync.Mutex
	hits map[string]int // requests by path
}

func newRegistry(t *testing.T, rel *providerRelease, modules []release.Module) *registry {
	t.Helper()
	r := &registry{rel: rel, modules: modules, hits: map[string]int{}}
	var err error
	if r.zip, err = os.ReadFile(rel.path(rel.names.Archive)); err != nil {
		t.Fatal(err)
	}
	if r.sig, err = os.ReadFile(rel.path(rel.names.Signature)); err != nil {
		t.Fatal(err)
	}
	cert, pemBytes := selfSigned(t)
	r.caFile = filepath.Join(t.TempDir(), "ca.pem")
	write(t, r.caFile, pemBytes)
	r.srv = httptest.NewUnstartedServer(http.HandlerFunc(r.serve))
	r.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	r.srv.StartTLS()
	t.Cleanup(r.srv.Close)
	_, port, _ := net.SplitHostPort(r.srv.Listener.Addr().String())
	r.host = "127.0.0.1:" + port
	return r
}

// selfSigned is a certificate for localhost and 127.0.0.1 that is its own
// CA: the Terraform process trusts it through SSL_CERT_FILE.
func selfSigned(t *testing.T) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "attach registry test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func (r *registry) base() string { return "https://" + r.host }

func (r *registry) count(path string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hits[path]
}

func (r *registry) serve(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.hits[req.URL.Path]++
	r.mu.Unlock()
	const providerPath = "/v1/providers/attach-labs/attach/"
	rel := r.rel
	p := req.URL.Path
	switch {
	case p == "/.well-known/terraform.json":
		// https://developer.hashicorp.com/terraform/internals/remote-service-discovery
		writeJSON(w, map[string]string{"providers.v1": "/v1/providers/", "modules.v1": "/v1/modules/"})
	case p == providerPath+"versions":
		// https://developer.hashicorp.com/terraform/internals/provider-registry-protocol#list-available-versions
		writeJSON(w, map[string]any{"versions": []any{map[string]any{
			"version": version, "protocols": rel.protocols,
			"platforms": []any{map[string]string{"os": runtime.GOOS, "arch": runtime.GOARCH}},
		}}})
	case p == providerPath+version+"/download/"+runtime.GOOS+"/"+runtime.GOARCH:
		// https://developer.hashicorp.com/terraform/internals/provider-registry-protocol#find-a-provider-package
		writeJSON(w, map[string]any{
			"protocols": rel.protocols, "os": runtime.GOOS, "arch": runtime.GOARCH,
			"filename":              rel.names.Archive,
			"download_url":          r.base() + "/releases/" + rel.names.Archive,
			"shasums_url":           r.base() + "/releases/" + rel.names.SHA256SUMS,
			"shasums_signature_url": r.base() + "/releases/" + rel.names.Signature,
			"shasum":                rel.zipSHA,
			"signing_keys": map[string]any{"gpg_public_keys": []any{map[string]any{
				"key_id": keyID(rel.key), "ascii_armor": rel.keyArmor,
				"trust_signature": "", "source": "Attach Labs", "source_url": nil,
			}}},
		})
	case p == "/releases/"+rel.names.Archive:
		_, _ = w.Write(r.zip)
	case p == "/releases/"+rel.names.Signature:
		_, _ = w.Write(r.sig)
	case p == "/releases/"+rel.names.SHA256SUMS || p == "/releases/"+rel.names.Manifest:
		http.ServeFile(w, req, rel.path(strings.TrimPrefix(p, "/releases/")))
	case strings.HasPrefix(p, "/v1/modules/"):
		r.serveModule(w, req, strings.TrimPrefix(p, "/v1/modules/"))
	case strings.HasPrefix(p, "/modules/"):
		for _, m := range r.modules {
			if p == "/modules/"+filepath.Base(m.Archive) {
				http.ServeFile(w, req, m.Archive)
				return
			}
		}
		http.NotFound(w, req)
	default:
		http.NotFound(w, req)
	}
}

// serveModule answers the Module Registry Protocol:
// https://developer.hashicorp.com/terraform/internals/module-registry-protocol
func (r *registry) serveModule(w http.ResponseWriter, req *http.Request, rest string) {
	parts := strings.Split(rest, "/")
	if len(parts) < 4 || parts[0] != release.Namespace || parts[2] != release.System {
		http.NotFound(w, req)
		return
	}
	var mod *release.Module
	for i := range r.modules {
		if r.modules[i].Name == parts[1] {
			mod = &r.modules[i]
		}
	}
	switch {
	case mod == nil:
		http.NotFound(w, req)
	case len(parts) == 4 && parts[3] == "versions":
		writeJSON(w, map[string]any{"modules": []any{map[string]any{"versions": []any{map[string]string{"version": mod.Version}}}}})
	case len(parts) == 5 && parts[3] == mod.Version && parts[4] == "download":
		w.Header().Set("X-Terraform-Get", r.base()+"/modules/"+filepath.Base(mod.Archive))
		w.WriteHeader(http.StatusNoContent)
	default:
		http.NotFound(w, req)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
