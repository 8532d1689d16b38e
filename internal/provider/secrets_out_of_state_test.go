package provider

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
)

// secretsConfig is stackConfig with store_secrets and the app user's and
// admin's password versions on the pg database.
func secretsConfig(t *testing.T, srv *emulator.Server, store bool, app, admin int) string {
	t.Helper()
	cfg := stackConfig(srv, 2, false)
	block := providerBlock(srv)
	for _, s := range []string{block, `tags   = ["team-ml"]`, `users               = ["app"]`} {
		if !strings.Contains(cfg, s) {
			t.Fatalf("stackConfig no longer holds %q: update this test", s)
		}
	}
	cfg = strings.Replace(cfg, block, "\nprovider \"attach\" {\n  http_retry_wait_min = 0\n  http_retry_wait_max = 1\n}\n", 1)
	cfg = strings.Replace(cfg, `tags   = ["team-ml"]`, fmt.Sprintf("tags   = [\"team-ml\"]\n  store_secrets = %t", store), 1)
	return strings.Replace(cfg, `users               = ["app"]`,
		fmt.Sprintf("users               = [\"app\"]\n      rotate_passwords    = { app = %d, doadmin = %d }", app, admin), 1)
}

// With store_secrets = false, neither `terraform show -json`'s state nor
// the state file (its private state decoded) holds a password, a URI with
// a password or a kubeconfig token the emulator handed out, the plan after
// each apply is empty, and the TRACE log stays clean. Rotating a password
// (raising its version) calls reset_auth: the emulator's password changes
// and, once store_secrets is back on, state carries the new one; lowering
// a version is refused at plan.
func TestAccSecretsOutOfState(t *testing.T) {
	const token = "dop_v1_0ut0f5tate-canary-0123456789abcdef0123456789abcdef"
	srv := startEmulator(t, emulator.Config{Token: token})
	dir := t.TempDir()
	logPath := filepath.Join(dir, "trace.log")
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TF_LOG", "TRACE")
	t.Setenv("TF_ACC_LOG_PATH", logPath)
	t.Setenv(EnvToken, token)
	t.Setenv(EnvAPIURL, srv.URL)
	t.Setenv("TMPDIR", tmp) // Terraform's working directories, state files included

	secrets := &secretSet{}
	api := secretsGodo(t, srv.URL, token)
	var appPasswords, adminPasswords []string // as the emulator held them after each step
	record := passwordsRecorder{api: api, app: &appPasswords, admin: &adminPasswords}
	clean := []statecheck.StateCheck{
		secretsCollect{api: api, secrets: secrets},
		record,
		noSecretsInState{secrets: secrets, tmp: tmp, token: token},
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             inventoryEmpty(srv),
		Steps: []resource.TestStep{
			{Config: secretsConfig(t, srv, false, 0, 0), ConfigStateChecks: clean},
			// Refreshed, still nothing (the harness plans again: empty).
			{Config: secretsConfig(t, srv, false, 0, 0), ConfigStateChecks: clean,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}}},
			// Rotating with secrets out of state: the password changes at
			// DigitalOcean, and nothing of it (old or new) is in state.
			{Config: secretsConfig(t, srv, false, 1, 0), ConfigStateChecks: clean,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(stackAddr, plancheck.ResourceActionUpdate)}}},
			// Back on: every credential is read again, the current ones.
			{Config: secretsConfig(t, srv, true, 1, 0), ConfigStateChecks: []statecheck.StateCheck{
				secretsCollect{api: api, secrets: secrets}, record, stateHasCurrentPasswords{app: &appPasswords, admin: &adminPasswords},
			}},
			// Rotating with secrets in state: the new passwords reach it.
			{Config: secretsConfig(t, srv, true, 2, 1), ConfigStateChecks: []statecheck.StateCheck{
				secretsCollect{api: api, secrets: secrets}, record, stateHasCurrentPasswords{app: &appPasswords, admin: &adminPasswords},
			}},
			{Config: secretsConfig(t, srv, true, 1, 1), ExpectError: regexp.MustCompile(`Password version lowered`)},
			// And off again: the state is emptied of them.
			{Config: secretsConfig(t, srv, false, 2, 1), ConfigStateChecks: clean},
		},
	})

	if n := len(appPasswords); n < 5 {
		t.Fatalf("recorded %d app passwords: the steps did not run", n)
	}
	// Step 3 rotated app (1), step 5 app and admin (2, 1); nothing else did.
	wantAppChange := []bool{false, true, false, true, false}
	wantAdminChange := []bool{false, false, false, true, false}
	for i := 1; i < len(appPasswords); i++ {
		if got := appPasswords[i] != appPasswords[i-1]; got != wantAppChange[i-1] {
			t.Errorf("app password changed between recorded steps %d and %d: %v, want %v", i, i+1, got, wantAppChange[i-1])
		}
		if got := adminPasswords[i] != adminPasswords[i-1]; got != wantAdminChange[i-1] {
			t.Errorf("admin password changed between recorded steps %d and %d: %v, want %v", i, i+1, got, wantAdminChange[i-1])
		}
	}
	kinds := secrets.kinds()
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
	if !strings.Contains(logs, "/reset_auth") {
		t.Fatalf("the trace log shows no reset_auth call (%d bytes): the rotation proves nothing", len(b))
	}
	for _, s := range append(secrets.list(), secret{"token", token}) {
		escaped, _ := json.Marshal(s.value)
		if strings.Contains(logs, s.value) || strings.Contains(logs, strings.Trim(string(escaped), `"`)) {
			t.Errorf("%s %.12s... in the TRACE log", s.kind, s.value)
		}
	}
}

// passwordsRecorder appends the pg database's app and admin passwords as
// the emulator holds them now.
type passwordsRecorder struct {
	api        *godo.Client
	app, admin *[]string
}

func (c passwordsRecorder) CheckState(ctx context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	id, err := pgID(req)
	if err != nil {
		resp.Error = err
		return
	}
	u, _, err := c.api.Databases.GetUser(ctx, id, "app")
	if err != nil {
		resp.Error = fmt.Errorf("GET user app: %w", err)
		return
	}
	db, _, err := c.api.Databases.Get(ctx, id)
	if err != nil {
		resp.Error = err
		return
	}
	*c.app = append(*c.app, u.Password)
	*c.admin = append(*c.admin, db.Connection.Password)
}

func pgID(req statecheck.CheckStateRequest) (string, error) {
	res := stackResource(req.State)
	if res == nil {
		return "", fmt.Errorf("%s not in state", stackAddr)
	}
	dbs, _ := res.AttributeValues["databases"].(map[string]any)
	vectors, _ := dbs["vectors"].(map[string]any)
	id, _ := vectors["id"].(string)
	if id == "" {
		return "", fmt.Errorf("no id for databases.vectors in state")
	}
	return id, nil
}

// stateHasCurrentPasswords: with store_secrets on, state carries the
// passwords the emulator holds now (the last recorded), in connection_env,
// password and the pool's URI, and a kubeconfig.
type stateHasCurrentPasswords struct{ app, admin *[]string }

func (c stateHasCurrentPasswords) CheckState(_ context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	res := stackResource(req.State)
	app, admin := (*c.app)[len(*c.app)-1], (*c.admin)[len(*c.admin)-1]
	env, _ := res.AttributeValues["connection_env"].(map[string]any)
	dbs, _ := res.AttributeValues["databases"].(map[string]any)
	vectors, _ := dbs["vectors"].(map[string]any)
	pools, _ := vectors["pools"].(map[string]any)
	pool, _ := pools["app"].(map[string]any)
	kc, _ := res.AttributeValues["kubeconfig"].(string)
	var problems []string
	if env["VECTORS_APP_PASSWORD"] != app || env["VECTORS_PASSWORD"] != app {
		problems = append(problems, "connection_env lacks the app user's current password")
	}
	if u, _ := env["VECTORS_DATABASE_URL"].(string); !strings.Contains(u, ":"+app+"@") {
		problems = append(problems, "VECTORS_DATABASE_URL lacks the app user's current password")
	}
	if vectors["password"] != admin {
		problems = append(problems, "databases.vectors.password is not the admin's current password")
	}
	if u, _ := vectors["private_uri"].(string); !strings.Contains(u, ":"+admin+"@") {
		problems = append(problems, "databases.vectors.private_uri lacks the admin's current password")
	}
	if u, _ := pool["private_uri"].(string); !strings.Contains(u, ":"+app+"@") {
		problems = append(problems, "the app pool's private_uri lacks the app user's current password")
	}
	if !kubeTokenLine.MatchString(kc) {
		problems = append(problems, "no kubeconfig with a token in state")
	}
	if len(problems) > 0 {
		resp.Error = fmt.Errorf("store_secrets = true:\n  %s", strings.Join(problems, "\n  "))
	}
}

// noSecretsInState searches `terraform show -json`'s state and every state
// file under tmp (with each resource's private state decoded) for the
// secrets collected so far, credentialed URIs and kubeconfig tokens, and
// checks the credential attributes are null.
type noSecretsInState struct {
	secrets *secretSet
	tmp     string
	token   string
}

var credentialedURI = regexp.MustCompile(`[a-z+]+://[^/\s"@]+:[^/\s"@]+@`)

func (c noSecretsInState) CheckState(_ context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	res := stackResource(req.State)
	if res == nil {
		resp.Error = fmt.Errorf("%s not in state", stackAddr)
		return
	}
	var problems []string
	for _, attr := range []string{"kubeconfig", "kubeconfig_expires_at", "connection_env"} {
		if v := res.AttributeValues[attr]; v != nil {
			problems = append(problems, attr+" is not null")
		}
	}
	dbs, _ := res.AttributeValues["databases"].(map[string]any)
	for key, d := range dbs {
		dm, _ := d.(map[string]any)
		for _, attr := range []string{"password", "private_uri"} {
			if dm[attr] != nil {
				problems = append(problems, fmt.Sprintf("databases.%s.%s is not null", key, attr))
			}
		}
		pools, _ := dm["pools"].(map[string]any)
		for name, p := range pools {
			if pm, _ := p.(map[string]any); pm["private_uri"] != nil {
				problems = append(problems, fmt.Sprintf("databases.%s.pools.%s.private_uri is not null", key, name))
			}
		}
	}
	shown, _ := json.Marshal(req.State)
	texts := map[string]string{"terraform show -json": string(shown)}
	_ = filepath.WalkDir(c.tmp, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(d.Name(), ".tfstate") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		texts[p] = string(b)
		var file struct {
			Resources []struct {
				Instances []struct {
					Private string `json:"private"`
				} `json:"instances"`
			} `json:"resources"`
		}
		if json.Unmarshal(b, &file) == nil {
			for _, r := range file.Resources {
				for _, in := range r.Instances {
					// The framework's private state: base64 of a JSON
					// object whose values are base64 again.
					raw, err := base64.StdEncoding.DecodeString(in.Private)
					var keys map[string][]byte
					if err != nil || json.Unmarshal(raw, &keys) != nil {
						continue
					}
					for k, v := range keys {
						texts[fmt.Sprintf("%s (private state %q)", p, k)] = string(v)
					}
				}
			}
		}
		return nil
	})
	private := 0
	for where, text := range texts {
		if strings.HasSuffix(where, `(private state "status")`) {
			private++
			if !strings.Contains(text, "Rotated") || !strings.Contains(text, `"app"`) {
				problems = append(problems, where+" lacks the status it should keep (user names, rotation versions)")
			}
		}
		for _, s := range append(c.secrets.list(), secret{"token", c.token}) {
			if strings.Contains(text, s.value) {
				problems = append(problems, fmt.Sprintf("%s holds a %s", where, s.kind))
			}
		}
		if m := credentialedURI.FindString(text); m != "" {
			problems = append(problems, fmt.Sprintf("%s holds a URI with credentials (%.20s...)", where, m))
		}
		if kubeTokenLine.MatchString(text) || strings.Contains(text, `token: `) {
			problems = append(problems, where+" holds a kubeconfig token")
		}
	}
	if private == 0 {
		problems = append(problems, "no state file with private state found under "+c.tmp+": the search proves nothing")
	}
	if len(problems) > 0 {
		resp.Error = fmt.Errorf("store_secrets = false:\n  %s", strings.Join(problems, "\n  "))
	}
}
