package emulator

import (
	"encoding/pem"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/digitalocean/godo"
)

func TestKubernetesKubeconfigAndCredentials(t *testing.T) {
	srv, c := startTest(t, Config{})
	clk := newHandClock(srv)
	cl, _, err := c.Kubernetes.Create(ctx, simpleCluster("creds", "lon1"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, resp, err := c.Kubernetes.GetKubeConfig(ctx, cl.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/yaml" {
		t.Errorf("kubeconfig content type %q", ct)
	}
	yaml := string(cfg.KubeconfigYAML)
	for _, want := range []string{"apiVersion: v1", "kind: Config", "server: " + cl.Endpoint, "certificate-authority-data: ", "current-context: do-lon1-creds", "token: doks_"} {
		if !strings.Contains(yaml, want) {
			t.Errorf("kubeconfig lacks %q:\n%s", want, yaml)
		}
	}
	short, _, err := c.Kubernetes.GetKubeConfigWithExpiry(ctx, cl.ID, 3600)
	if err != nil {
		t.Fatal(err)
	}
	if kubeToken(string(short.KubeconfigYAML)) == kubeToken(yaml) || kubeToken(yaml) == "" {
		t.Error("a kubeconfig with an expiry must carry a different token")
	}

	creds, _, err := c.Kubernetes.GetCredentials(ctx, cl.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := clk.now
	if creds.Server != cl.Endpoint || creds.Token != kubeToken(yaml) || !creds.ExpiresAt.Equal(now.Add(7*24*time.Hour)) {
		t.Errorf("default credentials: %s %s %s (now %s)", creds.Server, creds.Token, creds.ExpiresAt, now)
	}
	if block, _ := pem.Decode(creds.CertificateAuthorityData); block == nil || block.Type != "CERTIFICATE" {
		t.Errorf("CA data is not a PEM certificate: %q", creds.CertificateAuthorityData)
	}
	expiry := 600
	short2, _, err := c.Kubernetes.GetCredentials(ctx, cl.ID, &godo.KubernetesClusterCredentialsGetRequest{ExpirySeconds: &expiry})
	if err != nil || !short2.ExpiresAt.Equal(now.Add(600*time.Second)) || short2.Token == creds.Token {
		t.Fatalf("credentials with expiry: %v %+v", err, short2)
	}
	user, _, err := c.Kubernetes.GetUser(ctx, cl.ID)
	if err != nil || user.Username == "" || !slices.Contains(user.Groups, "k8saas:authenticated") {
		t.Fatalf("user: %v %+v", err, user)
	}

	req, _ := c.NewRequest(ctx, http.MethodGet, "/v2/kubernetes/clusters/"+cl.ID+"/credentials?expiry_seconds=soon", nil)
	_, err = c.Do(ctx, req, nil)
	wantStatus(t, err, http.StatusBadRequest)
	_, _, err = c.Kubernetes.GetKubeConfig(ctx, cl.ID, &godo.KubernetesClusterKubeconfigGetRequest{Type: "sso"})
	wantStatus(t, err, http.StatusUnprocessableEntity)
	_, _, err = c.Kubernetes.GetCredentials(ctx, newID(), nil)
	wantStatus(t, err, http.StatusNotFound)
}

func kubeToken(yaml string) string {
	_, after, ok := strings.Cut(yaml, "token: ")
	if !ok {
		return ""
	}
	tok, _, _ := strings.Cut(after, "\n")
	return tok
}

// The kubeconfig is served as YAML, not JSON.
func TestKubernetesKubeconfigRaw(t *testing.T) {
	srv, c := startTest(t, Config{})
	cl, _, err := c.Kubernetes.Create(ctx, simpleCluster("raw", "tor1"))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v2/kubernetes/clusters/"+cl.ID+"/kubeconfig", nil)
	req.Header.Set("Authorization", "Bearer "+srv.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "apiVersion: v1\n") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}
