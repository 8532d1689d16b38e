package emulator

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Kubernetes credentials: /kubeconfig, /credentials and /user, and the
// bearer token and cluster CA they carry.

// k8sExpiry reads ?expiry_seconds=; 0 or absent means the default (7 days).
func k8sExpiry(c *call) (time.Duration, bool, bool) {
	v := c.query("expiry_seconds")
	if v == "" {
		return k8sDefaultCredentialExpiry, false, true
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > k8sMaxCredentialExpirySeconds {
		c.fail(http.StatusBadRequest, "bad_request", fmt.Sprintf("expiry_seconds must be an integer from 0 (the default, 7 days) to %d; got %q", k8sMaxCredentialExpirySeconds, v))
		return 0, false, false
	}
	if n == 0 {
		return k8sDefaultCredentialExpiry, false, true
	}
	return time.Duration(n) * time.Second, true, true
}

// token derives the cluster's bearer token. A token with an explicit expiry
// is a distinct token from the cluster's default one.
func (cl *k8sCluster) token(expiresAt time.Time, explicit bool) string {
	seed := cl.secret
	if explicit {
		seed += "|" + strconv.FormatInt(expiresAt.Unix(), 10)
	}
	sum := sha256.Sum256([]byte(seed))
	return "doks_" + hex.EncodeToString(sum[:])
}

// issueToken hands out the token for expiresAt and remembers until when
// it is valid (the default token's validity is extended each time it is
// handed out again); tokens expired by now are forgotten.
func (cl *k8sCluster) issueToken(now, expiresAt time.Time, explicit bool) string {
	t := cl.token(expiresAt, explicit)
	if cl.tokens == nil {
		cl.tokens = map[string]time.Time{}
	}
	maps.DeleteFunc(cl.tokens, func(_ string, exp time.Time) bool { return !now.Before(exp) })
	if expiresAt.After(cl.tokens[t]) {
		cl.tokens[t] = expiresAt
	}
	return t
}

// caPEM is the cluster's CA certificate: in data-plane mode the one that
// signed its API server's certificate, else a stand-in (base64 data, not a
// real key).
func (cl *k8sCluster) caPEM() string {
	if cl.apiCA != nil {
		return string(cl.apiCA)
	}
	sum := sha256.Sum256([]byte("ca|" + cl.id))
	body := base64.StdEncoding.EncodeToString([]byte(strings.Repeat(string(sum[:]), 8)))
	var b strings.Builder
	b.WriteString("-----BEGIN CERTIFICATE-----\n")
	for len(body) > 64 {
		b.WriteString(body[:64] + "\n")
		body = body[64:]
	}
	b.WriteString(body + "\n-----END CERTIFICATE-----\n")
	return b.String()
}

func (s *kubernetesStore) credentials(c *call) {
	cl, ok := s.find(c)
	if !ok {
		return
	}
	d, explicit, ok := k8sExpiry(c)
	if !ok {
		return
	}
	expiresAt := c.now.Add(d).UTC().Truncate(time.Second)
	c.respond(http.StatusOK, map[string]any{
		"server":                     cl.endpoint(),
		"certificate_authority_data": []byte(cl.caPEM()),
		"client_certificate_data":    nil,
		"client_key_data":            nil,
		"token":                      cl.issueToken(c.now, expiresAt, explicit),
		"expires_at":                 expiresAt,
	})
}

func (s *kubernetesStore) kubeconfig(c *call) {
	cl, ok := s.find(c)
	if !ok {
		return
	}
	d, explicit, ok := k8sExpiry(c)
	if !ok {
		return
	}
	kind := c.query("type")
	if kind != "" && kind != "token" && kind != "sso" {
		c.fail(http.StatusBadRequest, "bad_request", fmt.Sprintf("type must be token or sso; got %q", kind))
		return
	}
	name := "do-" + cl.region + "-" + cl.name
	var user string
	if kind == "sso" {
		if cl.sso == nil || !cl.sso.Enabled {
			c.unprocessable("type=sso: single sign-on is not enabled on cluster %s; enable sso or use type=token", cl.id)
			return
		}
		user = fmt.Sprintf(`    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: kubectl
      args:
      - oidc-login
      - get-token
      - --oidc-issuer-url=%s
      - --oidc-client-id=%s
`, cl.sso.IssuerURL, cl.sso.ClientID)
	} else {
		expiresAt := c.now.Add(d).UTC().Truncate(time.Second)
		user = "    token: " + cl.issueToken(c.now, expiresAt, explicit) + "\n"
	}
	yaml := "apiVersion: v1\n" +
		"clusters:\n" +
		"- cluster:\n" +
		"    certificate-authority-data: " + base64.StdEncoding.EncodeToString([]byte(cl.caPEM())) + "\n" +
		"    server: " + cl.endpoint() + "\n" +
		"  name: " + name + "\n" +
		"contexts:\n" +
		"- context:\n" +
		"    cluster: " + name + "\n" +
		"    user: " + name + "-admin\n" +
		"  name: " + name + "\n" +
		"current-context: " + name + "\n" +
		"kind: Config\n" +
		"preferences: {}\n" +
		"users:\n" +
		"- name: " + name + "-admin\n" +
		"  user:\n" + user
	c.w.Header().Set("Content-Type", "application/yaml")
	c.w.Header().Set("Content-Length", strconv.Itoa(len(yaml)))
	c.w.WriteHeader(http.StatusOK)
	_, _ = c.w.Write([]byte(yaml))
}

// The user DOKS's credentials authenticate as, and its group (GET .../user).
const (
	k8sUserName  = "emulator@example.com"
	k8sUserGroup = "k8saas:authenticated"
)

func (s *kubernetesStore) user(c *call) {
	if _, ok := s.find(c); ok {
		c.respond(http.StatusOK, map[string]any{"kubernetes_cluster_user": map[string]any{
			"username": k8sUserName,
			"groups":   []string{k8sUserGroup},
		}})
	}
}

// ---- data plane (dataplane_kube.go) ----

// startDataPlane starts cl's API server in data-plane mode (in the
// background) and points its endpoint and CA at it. Without etcd and
// kube-apiserver (logged once at start) or without data-plane mode the
// cluster keeps its DigitalOcean-shaped endpoint; a cluster whose
// provisioning is due to fail gets none.
func (s *kubernetesStore) startDataPlane(cl *k8sCluster) error {
	dp := s.e.dp
	if dp == nil || dp.kubeErr != nil || cl.fails {
		return nil
	}
	endpoint, ca, err := dp.startKube(cl.id, cl.name, cl.serviceSub, func(token string) (kubeUser, bool) {
		return s.reviewToken(cl.id, token)
	})
	if err != nil {
		return err
	}
	cl.apiEndpoint, cl.apiCA = endpoint, ca
	return nil
}

// reviewToken decides a bearer token presented to cluster id's API server
// (its TokenReview webhook): valid while the cluster exists and the token
// has not expired by the emulator's clock. It takes e.mu, as an API
// request does.
func (s *kubernetesStore) reviewToken(id, token string) (kubeUser, bool) {
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	cl := s.clusters[id]
	if cl == nil {
		return kubeUser{}, false
	}
	exp, ok := cl.tokens[token]
	// Credentials are valid for expiry_seconds, then refused (spec kubernetes_get_credentials: "The duration in seconds that the returned Kubernetes credentials will be valid").
	if !ok || !s.e.now().Before(exp) {
		return kubeUser{}, false
	}
	// DOKS's kubeconfig credentials are the cluster's admin: the user GET
	// .../user names, in its groups, with cluster-admin rights.
	// Source: docs.digitalocean.com/products/kubernetes/how-to/connect-to-cluster ("admin access" through the downloaded kubeconfig).
	return kubeUser{Name: k8sUserName, Groups: []string{k8sUserGroup, "system:masters"}}, true
}

// kubeHolds reports whether cl, due running, must wait for its API server
// to be ready. An API server that failed to start fails the cluster: it
// ends in "error", as when provisioning fails.
// Source: spec kubernetes cluster status ("running": the control plane is up and answers).
func (s *kubernetesStore) kubeHolds(cl *k8sCluster) bool {
	ready, err, ok := s.e.dp.kubeReady(cl.id)
	switch {
	case !ok || ready:
		return false
	case err != nil:
		cl.fails, cl.apiErr = true, err
		return false
	}
	return true
}
