package emulator

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/digitalocean/godo"
)

// startKubeDataPlaneTest runs an emulator with the data plane on, skipping
// (outside CI) when etcd, kube-apiserver or the database servers are missing.
func startKubeDataPlaneTest(t *testing.T) (*Server, *godo.Client) {
	t.Helper()
	if err := KubeDataPlaneAvailable(); err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("the Kubernetes data plane is not available (%v); make test builds etcd and kube-apiserver, .ci/run installs the rest", err)
		}
		t.Fatalf("CI must run the Kubernetes data-plane tests: %v", err)
	}
	srv, c := startTest(t, Config{DataPlane: true, DataPlaneLogf: t.Logf})
	if err := srv.KubeDataPlaneErr(); err != nil {
		t.Fatalf("data plane on and binaries found, yet: %v", err)
	}
	return srv, c
}

// waitRunning polls until the cluster is running; it must not read
// running before its API server is ready.
func waitRunning(t *testing.T, srv *Server, c *godo.Client, id string) *godo.KubernetesCluster {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		cl, _, err := c.Kubernetes.Get(ctx, id)
		if err != nil && apiStatus(err) != http.StatusNotFound {
			t.Fatalf("get %s: %v", id, err)
		}
		if err == nil && cl.Status.State == godo.KubernetesClusterStatusRunning {
			if ready, startErr, ok := srv.dp.kubeReady(id); !ok || !ready {
				t.Fatalf("cluster %s reads running before its API server is ready (ready %v, err %v, has one %v)", id, ready, startErr, ok)
			}
			return cl
		}
		if err == nil && cl.Status.State != godo.KubernetesClusterStatusProvisioning {
			t.Fatalf("cluster %s: state %s (%s), want provisioning then running", id, cl.Status.State, cl.Status.Message)
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster %s not running after 3m (last: %v %v)", id, cl, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kubeconfigParts reads server, CA and token from the emulator's kubeconfig.
func kubeconfigParts(t *testing.T, yaml []byte) (server string, ca []byte, token string) {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(yaml))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ": ")
		if !ok {
			continue
		}
		switch k {
		case "server":
			server = v
		case "certificate-authority-data":
			var err error
			if ca, err = base64.StdEncoding.DecodeString(v); err != nil {
				t.Fatalf("certificate-authority-data: %v", err)
			}
		case "token":
			token = v
		}
	}
	if server == "" || ca == nil || token == "" {
		t.Fatalf("kubeconfig lacks server, CA or token:\n%s", yaml)
	}
	return server, ca, token
}

// kubeAPI calls the real API server, trusting only caPEM.
type kubeAPI struct {
	t      *testing.T
	server string
	client *http.Client
}

func newKubeAPI(t *testing.T, server string, caPEM []byte) *kubeAPI {
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatalf("the cluster CA is not a PEM certificate:\n%s", caPEM)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}
	t.Cleanup(tr.CloseIdleConnections)
	return &kubeAPI{t: t, server: server, client: &http.Client{Timeout: 30 * time.Second, Transport: tr}}
}

// do sends one request with token (none when empty) and returns the status
// and the decoded body.
func (k *kubeAPI) do(method, path, token string, body any) (int, map[string]any) {
	k.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, k.server+path, rd)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := k.client.Do(req)
	if err != nil {
		k.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := map[string]any{}
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

// procRSS reads a process's resident set size in KiB.
func procRSS(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}

// kubeGroups are the process groups (etcd, kube-apiserver) and directory
// of cluster id's data plane.
func kubeGroups(t *testing.T, srv *Server, id string) ([]int, string) {
	t.Helper()
	srv.dp.mu.Lock()
	in := srv.dp.kube[id]
	srv.dp.mu.Unlock()
	if in == nil {
		t.Fatalf("cluster %s has no API server", id)
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	var groups []int
	for _, p := range in.procs {
		groups = append(groups, p.cmd.Process.Pid)
	}
	return groups, in.dir
}

func waitKubeGone(t *testing.T, what string, groups []int, dir string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		alive := 0
		for _, g := range groups {
			if !processGroupGone(g) {
				alive++
			}
		}
		_, statErr := os.Stat(dir)
		if alive == 0 && os.IsNotExist(statErr) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d of %d process groups still alive, directory %s still there (%v)", what, alive, len(groups), dir, statErr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestDataPlaneKubernetes(t *testing.T) {
	srv, c := startKubeDataPlaneTest(t)
	began := time.Now()
	req := simpleCluster("dp-kube", "nyc1")
	req.ServiceSubnet = "10.99.0.0/16"
	created, _, err := c.Kubernetes.Create(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(created.Endpoint, "https://127.0.0.1:") {
		t.Fatalf("data-plane cluster endpoint should be the API server on loopback, got %q", created.Endpoint)
	}
	cl := waitRunning(t, srv, c, created.ID)
	t.Logf("cluster running %s after its create; API server start-up times: %v", time.Since(began).Round(time.Millisecond), srv.DataPlaneStartupTimes())
	groups, dir := kubeGroups(t, srv, cl.ID)
	if len(groups) != 2 {
		t.Fatalf("want etcd and kube-apiserver, got %d processes", len(groups))
	}
	t.Logf("RSS: etcd %d MiB, kube-apiserver %d MiB", procRSS(groups[0])/1024, procRSS(groups[1])/1024)

	// The kubeconfig's server, CA and token work against the real API server.
	kc, _, err := c.Kubernetes.GetKubeConfig(ctx, cl.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	server, caPEM, token := kubeconfigParts(t, kc.KubeconfigYAML)
	if server != cl.Endpoint {
		t.Fatalf("kubeconfig server %q, cluster endpoint %q", server, cl.Endpoint)
	}
	api := newKubeAPI(t, server, caPEM)
	if code, v := api.do("GET", "/version", "", nil); code != http.StatusOK || v["gitVersion"] != "v1.36.3" {
		t.Fatalf("GET /version: %d %v, want v1.36.3 (make tools-kube stamps it)", code, v)
	}
	code, nsList := api.do("GET", "/api/v1/namespaces", token, nil)
	if code != http.StatusOK {
		t.Fatalf("listing namespaces with the kubeconfig's token: %d %v", code, nsList)
	}
	var names []string
	items, _ := nsList["items"].([]any)
	for _, it := range items {
		names = append(names, it.(map[string]any)["metadata"].(map[string]any)["name"].(string))
	}
	if !strings.Contains(strings.Join(names, ","), "kube-system") {
		t.Fatalf("namespaces %v lack kube-system", names)
	}
	// RBAC is on: anonymous and unknown tokens get nothing.
	if code, _ := api.do("GET", "/api/v1/namespaces", "", nil); code != http.StatusForbidden {
		t.Fatalf("anonymous namespace list answered %d, want 403 (RBAC)", code)
	}
	if code, _ := api.do("GET", "/api/v1/namespaces", "doks_not-a-token", nil); code != http.StatusUnauthorized {
		t.Fatalf("an unknown token answered %d, want 401", code)
	}
	// The service range is the cluster's service_subnet (the API server
	// makes its own service just after /readyz answers).
	var svc map[string]any
	eventually(t, "the kubernetes service", func() bool {
		code, v := api.do("GET", "/api/v1/namespaces/default/services/kubernetes", token, nil)
		svc = v
		return code == http.StatusOK
	})
	if ip := fmt.Sprint(svc["spec"].(map[string]any)["clusterIP"]); !strings.HasPrefix(ip, "10.99.") {
		t.Fatalf("kubernetes service cluster IP %s, want one in the service_subnet 10.99.0.0/16", ip)
	}

	// A Secret in a namespace of its own (without a controller manager a
	// deleted namespace stays Terminating, so names are unique).
	ns := "attach-" + randomHex(4)
	if code, v := api.do("POST", "/api/v1/namespaces", token, map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}); code != http.StatusCreated {
		t.Fatalf("creating namespace %s: %d %v", ns, code, v)
	}
	secret := map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "db"},
		"stringData": map[string]string{"DATABASE_URL": "postgresql://u:p@127.0.0.1:5432/app"}}
	if code, v := api.do("POST", "/api/v1/namespaces/"+ns+"/secrets", token, secret); code != http.StatusCreated {
		t.Fatalf("creating a Secret: %d %v", code, v)
	}
	code, got := api.do("GET", "/api/v1/namespaces/"+ns+"/secrets/db", token, nil)
	if code != http.StatusOK {
		t.Fatalf("reading the Secret back: %d %v", code, got)
	}
	if url, _ := base64.StdEncoding.DecodeString(fmt.Sprint(got["data"].(map[string]any)["DATABASE_URL"])); string(url) != "postgresql://u:p@127.0.0.1:5432/app" {
		t.Fatalf("Secret data: %v", got["data"])
	}

	// /credentials carries the same server and CA, and tokens honouring expiry_seconds.
	clk := newHandClock(srv)
	credentials := func(expiry int) *godo.KubernetesClusterCredentials {
		cred, _, err := c.Kubernetes.GetCredentials(ctx, cl.ID, &godo.KubernetesClusterCredentialsGetRequest{ExpirySeconds: &expiry})
		if err != nil {
			t.Fatal(err)
		}
		if cred.Server != server || !bytes.Equal(cred.CertificateAuthorityData, caPEM) {
			t.Fatalf("credentials: server %q CA equal %v; kubeconfig: %q", cred.Server, bytes.Equal(cred.CertificateAuthorityData, caPEM), server)
		}
		return cred
	}
	used, unused := credentials(60), credentials(30)
	if code, _ := api.do("GET", "/api/v1/namespaces/"+ns+"/secrets/db", used.Token, nil); code != http.StatusOK {
		t.Fatalf("a fresh 60-second token answered %d, want 200", code)
	}
	srv.mu.Lock()
	clk.now = clk.now.Add(61 * time.Second)
	srv.mu.Unlock()
	if code, _ := api.do("GET", "/api/v1/namespaces/"+ns+"/secrets/db", unused.Token, nil); code != http.StatusUnauthorized {
		t.Fatalf("an expired 30-second token answered %d, want 401", code)
	}
	// kube-apiserver remembers a successful authentication for 10 s.
	expiredAt := time.Now()
	for {
		code, _ := api.do("GET", "/api/v1/namespaces/"+ns+"/secrets/db", used.Token, nil)
		if code == http.StatusUnauthorized {
			break
		}
		if code != http.StatusOK || time.Since(expiredAt) > 15*time.Second {
			t.Fatalf("the expired 60-second token still answers %d %s after its expiry, want 401 within kube-apiserver's 10 s cache", code, time.Since(expiredAt).Round(time.Millisecond))
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("an expired token used just before its expiry was refused after %s", time.Since(expiredAt).Round(time.Millisecond))
	if code, _ := api.do("GET", "/api/v1/namespaces/"+ns+"/secrets/db", token, nil); code != http.StatusOK {
		t.Fatalf("the kubeconfig's 7-day token answered %d after a minute, want 200", code)
	}

	srv.mu.Lock()
	srv.clock = time.Now // back to the wall clock, for the next clusters' provisioning
	srv.mu.Unlock()

	// Deleting the cluster stops its etcd and API server and removes their files.
	if _, err := c.Kubernetes.Delete(ctx, cl.ID); err != nil {
		t.Fatal(err)
	}
	deleted := time.Now()
	waitKubeGone(t, "deleted cluster", groups, dir)
	t.Logf("etcd and kube-apiserver gone %s after the delete", time.Since(deleted).Round(time.Millisecond))

	// Reset stops a running cluster's servers; Close one still starting.
	second, _, err := c.Kubernetes.Create(ctx, simpleCluster("dp-kube-reset", "nyc1"))
	if err != nil {
		t.Fatal(err)
	}
	waitRunning(t, srv, c, second.ID)
	groups, dir = kubeGroups(t, srv, second.ID)
	srv.Reset()
	waitKubeGone(t, "Reset", groups, dir)
	third, _, err := c.Kubernetes.Create(ctx, simpleCluster("dp-kube-close", "nyc1"))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "etcd of the third cluster to start", func() bool { g, _ := kubeGroups(t, srv, third.ID); return len(g) > 0 })
	groups, dir = kubeGroups(t, srv, third.ID)
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	waitKubeGone(t, "Close while starting", groups, dir)
	if pids := srv.KubePIDs(); len(pids) != 0 {
		t.Fatalf("processes left after Close: %v", pids)
	}
}

// Without the Kubernetes binaries, data-plane mode leaves DOKS clusters as
// they were (DigitalOcean-shaped endpoint) and says why.
func TestDataPlaneKubernetesMissingBinaries(t *testing.T) {
	if err := DataPlaneAvailable(); err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("data plane servers not installed (%v); CI installs them in .ci/run", err)
		}
		t.Fatal(err)
	}
	dir := t.TempDir()
	t.Setenv(envKubeEtcd, dir+"/no-etcd")
	if err := KubeDataPlaneAvailable(); err == nil || !strings.Contains(err.Error(), envKubeEtcd) || !strings.Contains(err.Error(), "make tools-kube") {
		t.Fatalf("want an error naming %s and make tools-kube, got %v", envKubeEtcd, err)
	}
	var logged []string
	srv, c := startTest(t, Config{DataPlane: true, DataPlaneLogf: func(f string, a ...any) { logged = append(logged, fmt.Sprintf(f, a...)) }})
	if err := srv.KubeDataPlaneErr(); err == nil {
		t.Fatal("KubeDataPlaneErr is nil without etcd")
	}
	if !strings.Contains(strings.Join(logged, "\n"), "DOKS clusters keep DigitalOcean-shaped endpoints") {
		t.Fatalf("no notice logged: %q", logged)
	}
	cl, _, err := c.Kubernetes.Create(ctx, simpleCluster("no-kube", "nyc1"))
	if err != nil {
		t.Fatal(err)
	}
	if cl.Endpoint != "https://"+cl.ID+".k8s.ondigitalocean.com" {
		t.Fatalf("endpoint %q, want the DigitalOcean-shaped one", cl.Endpoint)
	}
}

// An API server that does not start fails its cluster ("error", saying
// why), and leaves no process, directory or port behind.
func TestDataPlaneKubernetesStartFailureFailsCluster(t *testing.T) {
	if err := KubeDataPlaneAvailable(); err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("the Kubernetes data plane is not available (%v); make test builds etcd and kube-apiserver, .ci/run installs the rest", err)
		}
		t.Fatalf("CI must run the Kubernetes data-plane tests: %v", err)
	}
	broken := t.TempDir() + "/kube-apiserver"
	if err := os.WriteFile(broken, []byte("#!/bin/sh\necho 'error: etcd is not what I expected' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(envKubeAPIServer, broken)
	srv, c := startKubeDataPlaneTest(t)
	created, _, err := c.Kubernetes.Create(ctx, simpleCluster("dp-kube-broken", "nyc1"))
	if err != nil {
		t.Fatal(err)
	}
	srv.dp.mu.Lock()
	in := srv.dp.kube[created.ID]
	srv.dp.mu.Unlock()
	deadline := time.Now().Add(time.Minute)
	var cl *godo.KubernetesCluster
	for {
		cl, _, err = c.Kubernetes.Get(ctx, created.ID)
		if err != nil && apiStatus(err) != http.StatusNotFound {
			t.Fatal(err)
		}
		if err == nil && cl.Status.State != godo.KubernetesClusterStatusProvisioning {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster still provisioning after a minute with a kube-apiserver that exits at once")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if cl.Status.State != godo.KubernetesClusterStatusError || !strings.Contains(cl.Status.Message, "etcd is not what I expected") {
		t.Fatalf("state %s (%s), want error naming the API server's complaint", cl.Status.State, cl.Status.Message)
	}
	if _, err := os.Stat(in.dir); !os.IsNotExist(err) {
		t.Fatalf("directory %s still there (%v)", in.dir, err)
	}
	if pids := srv.KubePIDs(); len(pids) != 0 {
		t.Fatalf("processes left: %v", pids)
	}
	// No process anywhere still runs from the cluster's directory (etcd was started first).
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		if _, err := strconv.Atoi(p.Name()); err != nil {
			continue
		}
		if cmdline, _ := os.ReadFile("/proc/" + p.Name() + "/cmdline"); bytes.Contains(cmdline, []byte(in.dir)) {
			t.Fatalf("process %s still runs from %s: %q", p.Name(), in.dir, cmdline)
		}
	}
	srv.dp.mu.Lock()
	for _, port := range []int{in.port, in.etcdPort, in.peerPort} {
		if srv.dp.ports[port] {
			t.Errorf("port %d is still reserved", port)
		}
	}
	srv.dp.mu.Unlock()
}
