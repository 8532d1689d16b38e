package emulator

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The Kubernetes data plane: in data-plane mode each DOKS cluster is backed
// by a real kube-apiserver with its own etcd, both on free loopback ports,
// so the endpoint, CA and token the API hands out (GET .../kubeconfig and
// .../credentials) work against a real Kubernetes API.
//
//   - etcd (plain HTTP on loopback; DOKS's etcd is managed and unreachable
//     from outside, so nothing observable depends on its transport);
//   - kube-apiserver, serving TLS with a certificate for localhost and
//     127.0.0.1 signed by a CA made for the cluster (DOKS has one CA per
//     cluster: the certificate-authority-data of its kubeconfig), RBAC
//     authorization, a service-account signing key, and the cluster's
//     service_subnet as --service-cluster-ip-range.
//
// Bearer tokens: the API issues them (with expiry_seconds) and the emulator
// alone knows which are valid when. kube-apiserver asks it through the
// webhook token authenticator (--authentication-token-webhook-config-file,
// a TokenReview per token, https://kubernetes.io/docs/reference/access-authn-authz/authentication/#webhook-token-authentication),
// served per cluster on a loopback TLS port. The webhook's cache TTL is 0s,
// so tokens are decided against the emulator's clock: an expired token is
// refused (401), as DOKS refuses expired credentials; only kube-apiserver's
// own cache of successful authentications (10 s, TokenSuccessCacheTTL in
// pkg/kubeapiserver/options, no flag) lets a token used just before its
// expiry through for up to 10 s more. Failures are never cached. A static
// --token-auth-file could not expire tokens nor learn new ones without a
// restart. A valid token authenticates as the cluster's admin (DOKS's
// kubeconfig credentials are cluster-admin): the user GET .../user names,
// in system:masters.
//
// There is no controller manager, scheduler or kubelet: objects are stored
// and served, nothing reconciles them (a deleted namespace stays
// Terminating; pods stay Pending).

// Binary names and the environment variables that override where they are.
const (
	kubeAPIServerBin = "kube-apiserver"
	kubeEtcdBin      = "etcd"
	envKubeAPIServer = "ATTACH_KUBE_APISERVER"
	envKubeEtcd      = "ATTACH_ETCD"
)

// kubeStartTimeout bounds etcd plus kube-apiserver's start (about 3.5 s on
// an idle machine; much longer on a loaded CI runner).
const kubeStartTimeout = 2 * time.Minute

// kubeStopSignal stops etcd and kube-apiserver: a cluster's store is
// thrown away with it, so there is nothing to flush, and kube-apiserver's
// graceful shutdown would hold a delete (or Reset, under the emulator's
// lock) for seconds.
const kubeStopSignal = syscall.SIGKILL

// kubeBinaries are etcd and kube-apiserver (make tools-kube).
type kubeBinaries struct {
	Etcd      string
	APIServer string
}

// findKubeBinaries locates etcd and kube-apiserver: $ATTACH_ETCD and
// $ATTACH_KUBE_APISERVER when set, else ./bin in the working directory or
// any directory above it up to the repository root (tests run in package
// directories), else PATH.
func findKubeBinaries() (kubeBinaries, error) {
	var b kubeBinaries
	var missing []string
	for _, f := range []struct {
		dst       *string
		name, env string
	}{{&b.Etcd, kubeEtcdBin, envKubeEtcd}, {&b.APIServer, kubeAPIServerBin, envKubeAPIServer}} {
		p, err := findKubeBinary(f.name, f.env)
		if err != nil {
			return b, err
		}
		if p == "" {
			missing = append(missing, f.name)
		}
		*f.dst = p
	}
	if len(missing) > 0 {
		return b, fmt.Errorf("the Kubernetes data plane needs %s: run `make tools-kube` in the repository (builds etcd and kube-apiserver into ./bin), or set %s and %s to their paths",
			strings.Join(missing, " and "), envKubeEtcd, envKubeAPIServer)
	}
	return b, nil
}

func findKubeBinary(name, env string) (string, error) {
	if p := os.Getenv(env); p != "" {
		if !executable(p) {
			return "", fmt.Errorf("%s=%s is not an executable file: fix the path or unset it (make tools-kube builds %s into ./bin)", env, p, name)
		}
		return filepath.Abs(p)
	}
	if dir, err := os.Getwd(); err == nil {
		for {
			if p := filepath.Join(dir, "bin", name); executable(p) {
				return p, nil
			}
			if isRepoRoot(dir) {
				break
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return lookBinary(name), nil
}

// isRepoRoot reports whether dir holds the provider's go.mod (tools/kube's
// modules have their own names, so the search goes past them).
func isRepoRoot(dir string) bool {
	f, err := os.Open(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); strings.HasPrefix(line, "module ") {
			return strings.TrimSpace(strings.TrimPrefix(line, "module ")) == "github.com/attach-labs/terraform-provider-attach"
		}
	}
	return false
}

func executable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// KubeDataPlaneAvailable reports whether this machine has what the data
// plane needs to back DOKS clusters with real API servers (etcd and
// kube-apiserver, besides the database servers DataPlaneAvailable checks),
// and if not, what to do.
func KubeDataPlaneAvailable() error {
	if err := DataPlaneAvailable(); err != nil {
		return err
	}
	_, err := findKubeBinaries()
	return err
}

// KubeDataPlaneErr is why DOKS clusters are not backed by real API servers
// in this emulator (Config.DataPlane off, or etcd/kube-apiserver missing),
// or nil when they are.
func (e *Emulator) KubeDataPlaneErr() error {
	switch {
	case !e.cfg.DataPlane:
		return errors.New("Config.DataPlane is off: DOKS clusters have DigitalOcean-shaped endpoints nothing answers on")
	case e.dpErr != nil:
		return e.dpErr
	}
	return e.dp.kubeErr
}

// kubeUser is who a valid token authenticates as.
type kubeUser struct {
	Name   string
	Groups []string
}

// kubeInstance is one cluster's etcd and kube-apiserver; port is the API
// server's.
type kubeInstance struct {
	dpInstance
	ca                 *dbCA
	serviceCIDR        string
	etcdPort, peerPort int
	webhook            *http.Server
	webhookLn          net.Listener
	// review decides a bearer token (the webhook's answer); it takes
	// Emulator.mu, so nothing holding Emulator.mu waits for it: the webhook
	// server is closed, never shut down gracefully.
	review func(token string) (kubeUser, bool)
}

// startKube registers cluster id's API server and starts it in the
// background, returning its endpoint and CA certificate at once (the
// cluster reads running once /readyz answers, see kubeReady).
func (dp *dataPlane) startKube(id, name, serviceCIDR string, review func(string) (kubeUser, bool)) (endpoint string, caPEM []byte, err error) {
	dp.mu.Lock()
	defer dp.mu.Unlock()
	port, dir, err := dp.reserveLocked("kube")
	if err != nil {
		return "", nil, err
	}
	in := &kubeInstance{dpInstance: dpInstance{dp: dp, label: fmt.Sprintf("kube-apiserver of cluster %q", name), dir: dir, port: port},
		ca: newCA("DOKS cluster CA (emulator) " + id), serviceCIDR: serviceCIDR, review: review}
	in.etcdPort, err = dp.freePort()
	if err == nil {
		in.peerPort, err = dp.freePort()
	}
	if err == nil {
		in.webhookLn, err = net.Listen("tcp", dpLoopback+":0")
	}
	if err != nil {
		for _, p := range []int{port, in.etcdPort, in.peerPort} {
			delete(dp.ports, p)
		}
		_ = os.RemoveAll(dir)
		return "", nil, fmt.Errorf("%s: %w", in.label, err)
	}
	dp.kube[id] = in
	dp.async(func() {
		began := time.Now()
		in.finish(began, in.start())
		in.mu.Lock()
		failed := in.removed // failed, or removed while starting: finish tore down the processes
		in.mu.Unlock()
		if failed {
			in.closeWebhook()
			in.releasePorts()
		}
	})
	return "https://" + net.JoinHostPort(dpLoopback, strconv.Itoa(port)), in.ca.certPEM, nil
}

func (in *kubeInstance) start() error {
	dp := in.dp
	if err := dp.writeTLS(in.dir, in.ca); err != nil {
		return fmt.Errorf("%s: %w", in.label, err)
	}
	if err := in.serveWebhook(); err != nil {
		return err
	}
	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	saDER, err := x509.MarshalECPrivateKey(saKey)
	if err != nil {
		return err
	}
	saPubDER, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return err
	}
	if err := dp.writeFile(filepath.Join(in.dir, "sa.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: saDER}), 0o600); err != nil {
		return fmt.Errorf("%s: writing sa.key: %w", in.label, err)
	}
	if err := dp.writeFile(filepath.Join(in.dir, "sa.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: saPubDER}), 0o644); err != nil {
		return fmt.Errorf("%s: writing sa.pub: %w", in.label, err)
	}
	whURL := "https://" + in.webhookLn.Addr().String() + "/tokenreview"
	whConf := "apiVersion: v1\nkind: Config\nclusters:\n- name: emulator\n  cluster:\n    server: " + whURL + "\n" +
		"    certificate-authority-data: " + base64.StdEncoding.EncodeToString(in.ca.certPEM) + "\n" +
		"users:\n- name: apiserver\n  user: {}\ncontexts:\n- name: webhook\n  context:\n    cluster: emulator\n    user: apiserver\ncurrent-context: webhook\n"
	if err := dp.writeFile(filepath.Join(in.dir, "token-webhook.kubeconfig"), []byte(whConf), 0o600); err != nil {
		return fmt.Errorf("%s: writing the token webhook's kubeconfig: %w", in.label, err)
	}

	deadline := time.Now().Add(kubeStartTimeout)
	etcdURL := "http://" + net.JoinHostPort(dpLoopback, strconv.Itoa(in.etcdPort))
	peerURL := "http://" + net.JoinHostPort(dpLoopback, strconv.Itoa(in.peerPort))
	etcd, err := in.spawn("etcd", in.command(dp.kubeBins.Etcd,
		"--name=doks", "--data-dir="+filepath.Join(in.dir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=doks="+peerURL, "--initial-cluster-state=new",
		"--log-level=warn",
		// A throwaway store: durability buys nothing and fsyncs slow every write.
		"--unsafe-no-fsync"), kubeStopSignal)
	if err != nil {
		return err
	}
	if err := waitPort(in.label, etcd, in.etcdPort, deadline); err != nil {
		return err
	}
	api, err := in.spawn("kube-apiserver", in.command(dp.kubeBins.APIServer,
		"--etcd-servers="+etcdURL,
		"--bind-address="+dpLoopback, "--advertise-address="+dpLoopback, fmt.Sprintf("--secure-port=%d", in.port),
		"--cert-dir="+filepath.Join(in.dir, "certs"),
		"--tls-cert-file="+filepath.Join(in.dir, "server.crt"), "--tls-private-key-file="+filepath.Join(in.dir, "server.key"),
		"--authorization-mode=RBAC",
		"--authentication-token-webhook-config-file="+filepath.Join(in.dir, "token-webhook.kubeconfig"),
		"--authentication-token-webhook-version=v1",
		// Nothing cached here: expiry follows the emulator's clock (see above).
		"--authentication-token-webhook-cache-ttl=0s",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+filepath.Join(in.dir, "sa.pub"),
		"--service-account-signing-key-file="+filepath.Join(in.dir, "sa.key"),
		"--service-cluster-ip-range="+in.serviceCIDR,
		"--profiling=false"), kubeStopSignal)
	if err != nil {
		return err
	}
	return in.waitReady(api, deadline)
}

// command is dp.command run as ourselves: etcd and kube-apiserver do not
// refuse root, and ./bin may not be readable by the postgres user.
func (in *kubeInstance) command(bin string, args ...string) *exec.Cmd {
	cmd := in.dp.command(in.dir, bin, args...)
	cmd.SysProcAttr.Credential = nil
	return cmd
}

// waitPort polls until something accepts TCP connections on port.
func waitPort(label string, p *dpProcess, port int, deadline time.Time) error {
	for {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(dpLoopback, strconv.Itoa(port)), time.Second)
		if err == nil {
			_ = c.Close()
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s: %s exited (%v): %s", label, p.name, p.err, p.out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %s did not listen on %s:%d within %s: %s", label, p.name, dpLoopback, port, kubeStartTimeout, p.out.String())
		}
	}
}

// waitReady polls GET /readyz (anonymous, over TLS verified with the
// cluster's CA) until the API server answers 200.
func (in *kubeInstance) waitReady(p *dpProcess, deadline time.Time) error {
	client := in.client()
	defer client.CloseIdleConnections()
	url := "https://" + net.JoinHostPort(dpLoopback, strconv.Itoa(in.port)) + "/readyz"
	last := "no answer yet"
	for {
		resp, err := client.Get(url)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
		} else {
			last = err.Error()
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited (%v): %s", in.label, p.err, p.out.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: /readyz not ok within %s (%s): %s", in.label, kubeStartTimeout, last, p.out.String())
		}
	}
}

// client is an HTTP client trusting the cluster's CA only.
func (in *kubeInstance) client() *http.Client {
	roots := x509.NewCertPool()
	roots.AddCert(in.ca.cert)
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
	}}
}

// ---- the token webhook ----

// tokenReview is authentication.k8s.io/v1 TokenReview, the fields used.
type tokenReview struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Spec       struct {
		Token     string   `json:"token"`
		Audiences []string `json:"audiences,omitempty"`
	} `json:"spec"`
	Status tokenReviewStatus `json:"status"`
}

type tokenReviewStatus struct {
	Authenticated bool `json:"authenticated"`
	User          *struct {
		Username string   `json:"username"`
		UID      string   `json:"uid"`
		Groups   []string `json:"groups"`
	} `json:"user,omitempty"`
	Audiences []string `json:"audiences,omitempty"`
	Error     string   `json:"error,omitempty"`
}

// serveWebhook answers the API server's TokenReviews on the instance's
// webhook listener, over TLS with a certificate from the cluster's CA.
func (in *kubeInstance) serveWebhook() error {
	certPEM, keyPEM, err := in.ca.serverCertificate()
	if err != nil {
		return fmt.Errorf("%s: %w", in.label, err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return fmt.Errorf("%s: the token webhook's certificate: %w", in.label, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /tokenreview", func(w http.ResponseWriter, r *http.Request) {
		var tr tokenReview
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&tr); err != nil {
			http.Error(w, "a TokenReview (authentication.k8s.io/v1) is expected: "+err.Error(), http.StatusBadRequest)
			return
		}
		tr.APIVersion, tr.Kind = "authentication.k8s.io/v1", "TokenReview"
		tr.Status = tokenReviewStatus{}
		if u, ok := in.review(tr.Spec.Token); ok {
			tr.Status.Authenticated = true
			tr.Status.User = &struct {
				Username string   `json:"username"`
				UID      string   `json:"uid"`
				Groups   []string `json:"groups"`
			}{Username: u.Name, UID: u.Name, Groups: u.Groups}
			tr.Status.Audiences = tr.Spec.Audiences
		} else {
			tr.Status.Error = "the token is unknown to this cluster or expired: get fresh credentials with GET /v2/kubernetes/clusters/{id}/credentials"
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(tr)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}
	in.mu.Lock()
	if in.removed {
		in.mu.Unlock()
		return fmt.Errorf("%s was stopped while starting", in.label)
	}
	in.webhook = srv
	in.mu.Unlock()
	go func() { _ = srv.ServeTLS(in.webhookLn, "", "") }()
	return nil
}

// teardown stops the webhook (first: a review waiting for Emulator.mu then
// fails at once instead of holding up the API server's exit), the
// processes, and releases the ports.
func (in *kubeInstance) teardown() {
	in.closeWebhook()
	in.teardownFiles()
	in.releasePorts()
}

// closeWebhook stops the token webhook. It is safe to call repeatedly.
func (in *kubeInstance) closeWebhook() {
	in.mu.Lock()
	srv := in.webhook
	in.webhook = nil
	in.mu.Unlock()
	if srv != nil {
		_ = srv.Close() // never Shutdown: a review may be waiting for Emulator.mu
	}
	_ = in.webhookLn.Close()
}

// releasePorts gives etcd's ports back (the API server's goes with
// teardownFiles).
func (in *kubeInstance) releasePorts() {
	in.dp.mu.Lock()
	delete(in.dp.ports, in.etcdPort)
	delete(in.dp.ports, in.peerPort)
	in.dp.mu.Unlock()
}

// kubeReady reports whether cluster id's API server is ready, and the
// error that stopped it from starting; ok is false when the cluster has
// none.
func (dp *dataPlane) kubeReady(id string) (ready bool, err error, ok bool) {
	if dp == nil {
		return false, nil, false
	}
	dp.mu.Lock()
	in := dp.kube[id]
	dp.mu.Unlock()
	if in == nil {
		return false, nil, false
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.ready, in.err, true
}

// removeKube stops cluster id's API server and etcd in the background.
func (dp *dataPlane) removeKube(id string) {
	if dp == nil {
		return
	}
	dp.mu.Lock()
	in := dp.kube[id]
	delete(dp.kube, id)
	dp.mu.Unlock()
	if in != nil {
		dp.async(in.teardown)
	}
}

// KubePIDs lists the process ids of every running etcd and kube-apiserver
// of the data plane (tests check none is left behind).
func (e *Emulator) KubePIDs() []int {
	dp := e.dp
	if dp == nil {
		return nil
	}
	dp.mu.Lock()
	defer dp.mu.Unlock()
	var pids []int
	for _, in := range dp.kube {
		in.mu.Lock()
		for _, p := range in.procs {
			pids = append(pids, p.cmd.Process.Pid)
		}
		in.mu.Unlock()
	}
	return pids
}
