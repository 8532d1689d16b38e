package emulator

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
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

// caPEM is a stand-in cluster CA certificate (base64 data, not a real key).
func (cl *k8sCluster) caPEM() string {
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
		"token":                      cl.token(expiresAt, explicit),
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
		user = "    token: " + cl.token(expiresAt, explicit) + "\n"
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

func (s *kubernetesStore) user(c *call) {
	if _, ok := s.find(c); ok {
		c.respond(http.StatusOK, map[string]any{"kubernetes_cluster_user": map[string]any{
			"username": "emulator@example.com",
			"groups":   []string{"k8saas:authenticated"},
		}})
	}
}
