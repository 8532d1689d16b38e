package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/digitalocean/godo"
	tfjson "github.com/hashicorp/terraform-json"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
)

// A full stack lifecycle (create with PostgreSQL, a pool and a user, an
// in-place update, destroy) at TF_LOG=TRACE leaks no secret: not the token,
// not a password or credentialed URI the emulator handed out, not a
// kubeconfig token. In state, secrets sit only in Sensitive attributes, and
// no kubeconfig is ever written to a file.
func TestAccSecretsNeverLeak(t *testing.T) {
	const token = "dop_v1_5ecre7-canary-0123456789abcdef0123456789abcdef"
	srv := startEmulator(t, emulator.Config{Token: token})
	dir := t.TempDir()
	logPath := filepath.Join(dir, "trace.log")
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TF_LOG", "TRACE")
	t.Setenv("TF_ACC_LOG_PATH", logPath)
	// The token only in the environment: the harness logs configurations.
	t.Setenv(EnvToken, token)
	t.Setenv(EnvAPIURL, srv.URL)
	// Terraform's working directories, and anything the provider might
	// write to a temporary file or ~/.kube, land where the test can look.
	t.Setenv("TMPDIR", tmp)
	t.Setenv("HOME", home)
	t.Setenv("KUBECONFIG", "")

	secrets := &secretSet{}
	api := secretsGodo(t, srv.URL, token)
	config := func(gpuMax int) string {
		cfg := stackConfig(srv, gpuMax, false)
		block := providerBlock(srv)
		if !strings.Contains(cfg, block) {
			t.Fatal("stackConfig no longer starts with providerBlock: update this test")
		}
		return strings.Replace(cfg, block, `
provider "attach" {
  http_retry_wait_min = 0
  http_retry_wait_max = 1
}
`, 1)
	}
	checks := []statecheck.StateCheck{
		secretsCollect{api: api, secrets: secrets},
		secretsOnlySensitive{secrets: secrets},
		noSecretFiles{roots: []string{tmp, home}, secrets: secrets, skip: logPath},
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             inventoryEmpty(srv),
		Steps: []resource.TestStep{
			{Config: config(2), ConfigStateChecks: checks},
			{Config: config(4), ConfigStateChecks: checks},
		},
	})

	all := secrets.list()
	kinds := secrets.kinds()
	// The test proves nothing unless it found every kind of secret.
	for _, k := range []string{"db password", "db uri", "user password", "pool uri", "kubeconfig token"} {
		if kinds[k] == 0 {
			t.Errorf("no %s collected from the emulator: the test would prove nothing about it", k)
		}
	}
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatalf("no trace log written: %v", err)
	}
	logs := string(b)
	for _, must := range []string{"DigitalOcean API request", "/kubeconfig", "/users", "/pools"} {
		if !strings.Contains(logs, must) {
			t.Fatalf("the trace log lacks %q, so it proves nothing (%d bytes)", must, len(b))
		}
	}
	leaks := 0
	for _, s := range append(all, secret{"token", token}) {
		escaped, _ := json.Marshal(s.value) // as a JSON log line would carry it
		i := strings.Index(logs, s.value)
		if i < 0 {
			i = strings.Index(logs, strings.Trim(string(escaped), `"`))
		}
		if i >= 0 {
			leaks++
			start, end := max(0, i-150), min(len(logs), i+len(s.value)+50)
			t.Errorf("%s %.12s... in the TRACE log: ...%s...", s.kind, s.value, logs[start:end])
		}
	}
	t.Logf("scanned %d bytes of TRACE log for %d secrets (%v): %d leaks", len(b), len(all)+1, kinds, leaks)
}

type secret struct{ kind, value string }

type secretSet struct {
	mu     sync.Mutex
	values map[string]string
}

func (s *secretSet) add(kind, v string) {
	// Short or well-known values (the admin user's name...) are not secrets.
	if len(v) < 12 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.values == nil {
		s.values = map[string]string{}
	}
	s.values[v] = kind
}

func (s *secretSet) list() []secret {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]secret, 0, len(s.values))
	for v, k := range s.values {
		out = append(out, secret{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].value < out[j].value })
	return out
}

func (s *secretSet) kinds() map[string]int {
	out := map[string]int{}
	for _, x := range s.list() {
		out[x.kind]++
	}
	return out
}

type secretsBearer struct{ token string }

func (b secretsBearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

func secretsGodo(t *testing.T, url, token string) *godo.Client {
	t.Helper()
	c, err := godo.New(&http.Client{Timeout: 30 * time.Second, Transport: secretsBearer{token}}, godo.SetBaseURL(url))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var kubeTokenLine = regexp.MustCompile(`(?m)^\s*token:\s*(\S+)\s*$`)

// secretsCollect gathers, from the emulator through godo, every secret it
// handed out for the stack's objects, and the kubeconfig token from state.
type secretsCollect struct {
	api     *godo.Client
	secrets *secretSet
}

func (c secretsCollect) CheckState(ctx context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	res := stackResource(req.State)
	if res == nil {
		resp.Error = fmt.Errorf("%s not in state", stackAddr)
		return
	}
	if kc, _ := res.AttributeValues["kubeconfig"].(string); kc != "" {
		for _, m := range kubeTokenLine.FindAllStringSubmatch(kc, -1) {
			c.secrets.add("kubeconfig token", m[1])
		}
	}
	clusterID, _ := res.AttributeValues["cluster_id"].(string)
	kc, _, err := c.api.Kubernetes.GetKubeConfig(ctx, clusterID, nil)
	if err != nil {
		resp.Error = fmt.Errorf("kubeconfig of %s: %w", clusterID, err)
		return
	}
	for _, m := range kubeTokenLine.FindAllStringSubmatch(string(kc.KubeconfigYAML), -1) {
		c.secrets.add("kubeconfig token", m[1])
	}
	if cred, _, err := c.api.Kubernetes.GetCredentials(ctx, clusterID, nil); err == nil {
		c.secrets.add("kubeconfig token", cred.Token)
	}
	dbs, _, err := c.api.Databases.List(ctx, &godo.ListOptions{PerPage: 200})
	if err != nil {
		resp.Error = err
		return
	}
	for _, db := range dbs {
		for _, conn := range []*godo.DatabaseConnection{db.Connection, db.PrivateConnection} {
			if conn != nil {
				c.secrets.add("db password", conn.Password)
				c.secrets.add("db uri", conn.URI)
			}
		}
		users, _, err := c.api.Databases.ListUsers(ctx, db.ID, nil)
		if err != nil {
			resp.Error = fmt.Errorf("users of %s: %w", db.Name, err)
			return
		}
		for _, u := range users {
			c.secrets.add("user password", u.Password)
		}
		if db.EngineSlug != "pg" {
			continue
		}
		pools, _, err := c.api.Databases.ListPools(ctx, db.ID, nil)
		if err != nil {
			resp.Error = fmt.Errorf("pools of %s: %w", db.Name, err)
			return
		}
		for _, p := range pools {
			for _, conn := range []*godo.DatabaseConnection{p.Connection, p.PrivateConnection, p.StandbyConnection, p.StandbyPrivateConnection} {
				if conn != nil {
					c.secrets.add("pool uri", conn.URI)
					c.secrets.add("db password", conn.Password)
				}
			}
		}
	}
}

func stackResource(st *tfjson.State) *tfjson.StateResource {
	if st == nil || st.Values == nil || st.Values.RootModule == nil {
		return nil
	}
	for _, r := range st.Values.RootModule.Resources {
		if r.Address == stackAddr {
			return r
		}
	}
	return nil
}

// secretsOnlySensitive walks the stack's state: every value holding a
// secret must be under an attribute the schema marks Sensitive (Terraform
// records those in sensitive_values).
type secretsOnlySensitive struct{ secrets *secretSet }

func (c secretsOnlySensitive) CheckState(_ context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	res := stackResource(req.State)
	if res == nil {
		resp.Error = fmt.Errorf("%s not in state", stackAddr)
		return
	}
	var mask any
	if err := json.Unmarshal(res.SensitiveValues, &mask); err != nil {
		resp.Error = fmt.Errorf("sensitive_values: %w", err)
		return
	}
	secrets := c.secrets.list()
	var exposed []string
	protected := map[string]bool{} // kinds of secret found under Sensitive attributes
	var walk func(at string, v, m any)
	walk = func(at string, v, m any) {
		if b, ok := m.(bool); ok && b {
			text, _ := json.Marshal(v)
			for _, s := range secrets {
				if strings.Contains(string(text), s.value) || strings.Contains(string(text), strings.ReplaceAll(strings.ReplaceAll(s.value, "&", `\u0026`), "<", `\u003c`)) {
					protected[s.kind] = true
				}
			}
			return
		}
		switch v := v.(type) {
		case map[string]any:
			mm, _ := m.(map[string]any)
			for k, x := range v {
				walk(at+"."+k, x, mm[k])
			}
		case []any:
			ml, _ := m.([]any)
			for i, x := range v {
				var mi any
				if i < len(ml) {
					mi = ml[i]
				}
				walk(fmt.Sprintf("%s[%d]", at, i), x, mi)
			}
		case string:
			for _, s := range secrets {
				if strings.Contains(v, s.value) {
					exposed = append(exposed, fmt.Sprintf("%s holds a %s", at, s.kind))
				}
			}
			if strings.Contains(v, "://") && strings.Contains(v, "@") {
				exposed = append(exposed, at+" holds a URI with credentials")
			}
		}
	}
	walk("", res.AttributeValues, mask)
	// The secrets the emulator handed out are the ones in state: otherwise
	// the search above proves nothing.
	for _, kind := range []string{"db password", "pool uri", "kubeconfig token"} {
		if !protected[kind] {
			resp.Error = fmt.Errorf("no %s found under a Sensitive attribute: the secrets collected are not the stack's", kind)
			return
		}
	}
	if len(exposed) > 0 {
		sort.Strings(exposed)
		resp.Error = fmt.Errorf("secrets outside Sensitive attributes:\n  %s", strings.Join(exposed, "\n  "))
	}
}

// noSecretFiles fails when a file under roots holds a secret, except
// Terraform's own state and plan files (state is where secrets belong).
type noSecretFiles struct {
	roots   []string
	secrets *secretSet
	skip    string
}

func (c noSecretFiles) CheckState(_ context.Context, _ statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	secrets := c.secrets.list()
	var found []string
	scanned := 0
	for _, root := range c.roots {
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			name := d.Name()
			if p == c.skip || strings.HasSuffix(name, ".tfstate") || strings.HasSuffix(name, ".tfstate.backup") ||
				strings.Contains(name, "plan") || strings.Contains(p, string(filepath.Separator)+"plugins"+string(filepath.Separator)) {
				return nil
			}
			info, err := d.Info()
			if err != nil || info.Size() > 64<<20 {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return nil
			}
			scanned++
			text := string(b)
			if strings.Contains(text, "kind: Config") && strings.Contains(text, "clusters:") {
				found = append(found, p+" is a kubeconfig")
			}
			for _, s := range secrets {
				if strings.Contains(text, s.value) {
					found = append(found, fmt.Sprintf("%s holds a %s", p, s.kind))
				}
			}
			return nil
		})
	}
	if scanned == 0 {
		resp.Error = fmt.Errorf("no file scanned under %v: the check proves nothing", c.roots)
		return
	}
	if len(found) > 0 {
		resp.Error = fmt.Errorf("secrets written to disk:\n  %s", strings.Join(found, "\n  "))
	}
}
