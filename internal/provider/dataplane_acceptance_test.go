package provider

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"

	"github.com/attach-labs/terraform-provider-attach/internal/dataplanecheck"
	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
)

// requireDataPlane skips (outside CI) when the data plane's servers are not
// installed; CI installs them in .ci/run and must run the test.
func requireDataPlane(t *testing.T) {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1")
	}
	if err := emulator.DataPlaneAvailable(); err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("data plane servers not installed (%v); CI installs them in .ci/run", err)
		}
		t.Fatalf("CI must run the data-plane tests: %v", err)
	}
}

// dataPlaneStackConfig is a stack with PostgreSQL (an app user, its db and
// a transaction pool) and Valkey; appVersion is the app user's password
// version in rotate_passwords.
func dataPlaneStackConfig(srv *emulator.Server, appVersion int) string {
	return providerBlock(srv) + fmt.Sprintf(`
resource "attach_inference_stack" "test" {
  name   = "dplane"
  region = "tor1"

  cluster = {
    version = "1.33"
    system_pool = {
      size       = "s-2vcpu-4gb"
      node_count = 2
    }
    gpu_pools = {
      h100 = {
        size      = "gpu-h100x1-80gb"
        min_nodes = 0
        max_nodes = 1
      }
    }
  }

  databases = {
    vectors = {
      engine              = "pg"
      version             = "17"
      size                = "db-s-2vcpu-4gb"
      dbs                 = ["app"]
      users               = ["app"]
      rotate_passwords    = { app = %d }
      deletion_protection = false
      pools = {
        app = { mode = "transaction", size = 5, db = "app", user = "app" }
      }
    }
    cache = {
      engine              = "valkey"
      size                = "db-s-1vcpu-2gb"
      deletion_protection = false
    }
  }
}
`, appVersion)
}

// dataPlaneURLs are the connection_env URLs of the data-plane stack, by kind.
var dataPlaneURLs = map[string]string{
	"VECTORS_DATABASE_URL":       "pg",
	"VECTORS_ADMIN_DATABASE_URL": "pg",
	"VECTORS_APP_POOL_URL":       "pool",
	"CACHE_DATABASE_URL":         "valkey",
	"CACHE_ADMIN_DATABASE_URL":   "valkey",
}

// connectEveryURL checks that every URL in connection_env connects and runs
// its command with TLS verified against the CA the API returns (and fails
// against a CA that did not sign the servers' certificates), and keeps the
// environment in *seen.
type connectEveryURL struct {
	t    *testing.T
	srv  *emulator.Server
	seen *map[string]string
}

func (c connectEveryURL) CheckState(ctx context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	env, err := stateConnectionEnv(req)
	if err != nil {
		resp.Error = err
		return
	}
	var keys []string
	for k := range env {
		if strings.HasSuffix(k, "_URL") {
			keys = append(keys, k)
			if dataPlaneURLs[k] == "" {
				resp.Error = fmt.Errorf("connection_env has %s, which this test does not know how to connect with: add it to dataPlaneURLs", k)
				return
			}
		}
	}
	sort.Strings(keys)
	if len(keys) != len(dataPlaneURLs) {
		resp.Error = fmt.Errorf("connection_env has URLs %v, want the %d of dataPlaneURLs", keys, len(dataPlaneURLs))
		return
	}
	ca := accountCA(ctx, c.t, c.srv)
	wrongCA := otherCA(c.t)
	for _, k := range keys {
		for _, trust := range []struct {
			pem  []byte
			good bool
		}{{ca, true}, {wrongCA, false}} {
			what, err := connectURL(ctx, dataPlaneURLs[k], env[k], trust.pem)
			switch {
			case trust.good && err != nil:
				resp.Error = fmt.Errorf("%s: %w", k, err)
				return
			case !trust.good && err == nil:
				resp.Error = fmt.Errorf("%s connected with TLS verified against a CA that signed nothing: verification is not happening", k)
				return
			case trust.good:
				c.t.Logf("%s: %s", k, what)
			}
		}
	}
	*c.seen = env
}

// connectURL runs SELECT 1 (pg, pool) or AUTH + PING (valkey) at uri.
func connectURL(ctx context.Context, kind, uri string, caPEM []byte) (string, error) {
	if kind == "valkey" {
		p, err := dataplanecheck.Valkey(ctx, uri, caPEM)
		return fmt.Sprintf("AUTH %s, PING on %s -> %s", p.User, p.Addr, p.Reply), err
	}
	q, err := dataplanecheck.Postgres(ctx, uri, caPEM, kind == "pool")
	return fmt.Sprintf("%s as %s on %s/%s -> %s", q.Query, q.User, q.Addr, q.Database, q.Result), err
}

func stateConnectionEnv(req statecheck.CheckStateRequest) (map[string]string, error) {
	res := stackResource(req.State)
	if res == nil {
		return nil, fmt.Errorf("%s not in state", stackAddr)
	}
	raw, ok := res.AttributeValues["connection_env"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s has no connection_env in state", stackAddr)
	}
	env := map[string]string{}
	for k, v := range raw {
		s, _ := v.(string)
		env[k] = s
	}
	return env, nil
}

// accountCA is the CA GET /v2/databases/{id}/ca returns for the stack's
// PostgreSQL cluster.
func accountCA(ctx context.Context, t *testing.T, srv *emulator.Server) []byte {
	t.Helper()
	api := secretsGodo(t, srv.URL, srv.Token)
	dbs, _, err := api.Databases.List(ctx, nil)
	if err != nil {
		t.Fatalf("listing databases: %v", err)
	}
	for _, db := range dbs {
		if db.EngineSlug == "pg" {
			ca, _, err := api.Databases.GetCA(ctx, db.ID)
			if err != nil {
				t.Fatalf("CA of %s: %v", db.Name, err)
			}
			return ca.Certificate
		}
	}
	t.Fatal("no pg database in the emulator")
	return nil
}

// otherCA is a self-signed CA certificate that signed none of the servers'.
func otherCA(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "not the account CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// oldPasswordRefused checks that the app user's URLs from before the
// rotation (direct and through the pool) no longer log in, and that the
// rotation changed them.
type oldPasswordRefused struct {
	t   *testing.T
	srv *emulator.Server
	old *map[string]string
}

func (c oldPasswordRefused) CheckState(ctx context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	env, err := stateConnectionEnv(req)
	if err != nil {
		resp.Error = err
		return
	}
	ca := accountCA(ctx, c.t, c.srv)
	old := *c.old
	for _, k := range []string{"VECTORS_DATABASE_URL", "VECTORS_APP_POOL_URL"} {
		if old[k] == "" {
			resp.Error = fmt.Errorf("no %s from before the rotation", k)
			return
		}
		if old[k] == env[k] {
			resp.Error = fmt.Errorf("%s did not change when the app user's password was rotated", k)
			return
		}
		_, err := connectURL(ctx, dataPlaneURLs[k], old[k], ca)
		if err == nil {
			resp.Error = fmt.Errorf("%s from before the rotation still logs in", k)
			return
		}
		// PostgreSQL says "password authentication failed", PgBouncer "SASL authentication failed".
		if !strings.Contains(err.Error(), "authentication failed") {
			resp.Error = fmt.Errorf("%s from before the rotation failed, but not for its password: %w", k, err)
			return
		}
		c.t.Logf("old %s refused: %v", k, err)
	}
	if old["VECTORS_ADMIN_DATABASE_URL"] != env["VECTORS_ADMIN_DATABASE_URL"] {
		resp.Error = fmt.Errorf("rotating the app user's password changed the admin's URL")
	}
}

// With the emulator's data plane (real PostgreSQL, PgBouncer and Valkey
// behind the API), every URL the stack puts in connection_env connects and
// runs a command with TLS verified against the CA the API returns; after the
// app user's rotate_passwords version goes up, its old URLs are refused and
// the new ones work.
func TestAccDataPlaneConnectionEnvConnects(t *testing.T) {
	requireDataPlane(t)
	srv := startEmulator(t, emulator.Config{DataPlane: true, DataPlaneLogf: t.Logf})
	var before, after map[string]string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             inventoryEmpty(srv),
		Steps: []resource.TestStep{
			{
				Config:            dataPlaneStackConfig(srv, 1),
				ConfigStateChecks: []statecheck.StateCheck{connectEveryURL{t: t, srv: srv, seen: &before}},
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				Config: dataPlaneStackConfig(srv, 2),
				ConfigStateChecks: []statecheck.StateCheck{
					connectEveryURL{t: t, srv: srv, seen: &after},
					oldPasswordRefused{t: t, srv: srv, old: &before},
				},
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(stackAddr, plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
		},
	})
}

// connectEphemeral connects with what ephemeral attach_database_credentials
// handed out (echoed into echo.<echo>'s state): each block's uri (and
// pool_uri, when set) with TLS verified against the block's own
// ca_certificate.
type connectEphemeral struct {
	t    *testing.T
	echo string
	// kinds: block name -> "pg" or "valkey"
	kinds map[string]string
}

func (c connectEphemeral) CheckState(ctx context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	data, err := echoData(req.State, c.echo)
	if err != nil {
		resp.Error = err
		return
	}
	names := make([]string, 0, len(c.kinds))
	for n := range c.kinds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		block, ok := data[name].(map[string]any)
		if !ok {
			resp.Error = fmt.Errorf("%s has no %s in its data", c.echo, name)
			return
		}
		ca, _ := block["ca_certificate"].(string)
		uris := map[string]string{"uri": c.kinds[name]}
		if c.kinds[name] == "pg" {
			uris["pool_uri"] = "pool"
		}
		for attr, kind := range uris {
			uri, _ := block[attr].(string)
			if uri == "" {
				if attr == "pool_uri" {
					continue // no pool named in this block
				}
				resp.Error = fmt.Errorf("%s.%s is empty", name, attr)
				return
			}
			what, err := connectURL(ctx, kind, uri, []byte(ca))
			if err != nil {
				resp.Error = fmt.Errorf("ephemeral %s.%s: %w", name, attr, err)
				return
			}
			c.t.Logf("ephemeral %s.%s: %s", name, attr, what)
		}
	}
}

// Under OpenTofu, with store_secrets = false (no credential in state), the
// values ephemeral attach_database_credentials hands out connect to the
// data plane's real servers: the admin's and the app user's URIs, the app
// pool's URI and Valkey's, each with TLS verified against the CA the
// ephemeral resource itself returns.
func TestAccEphemeralDatabaseCredentialsConnect(t *testing.T) {
	requireDataPlane(t)
	useEphemeralTofu(t)
	srv := startEmulator(t, emulator.Config{DataPlane: true, DataPlaneLogf: t.Logf})
	stackCfg := dataPlaneStackConfig(srv, 1)
	if !strings.Contains(stackCfg, `region = "tor1"`) {
		t.Fatal("dataPlaneStackConfig no longer sets the region: update this test")
	}
	stackCfg = strings.Replace(stackCfg, `region = "tor1"`, "region = \"tor1\"\n  store_secrets = false", 1)
	cfg := stackCfg + `
ephemeral "attach_database_credentials" "admin" {
  database_id = attach_inference_stack.test.databases["vectors"].id
}

ephemeral "attach_database_credentials" "app" {
  stack_name = attach_inference_stack.test.name
  database   = "vectors"
  pool       = "app"
}

ephemeral "attach_database_credentials" "cache" {
  stack_name = attach_inference_stack.test.name
  database   = "cache"
}

provider "echo" {
  data = {
    admin = ephemeral.attach_database_credentials.admin
    app   = ephemeral.attach_database_credentials.app
    cache = ephemeral.attach_database_credentials.cache
  }
}

resource "echo" "creds" {}
`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: ephemeralFactories(),
		TerraformVersionChecks:   ephemeralVersionChecks,
		CheckDestroy:             inventoryEmpty(srv),
		Steps: []resource.TestStep{{
			Config: cfg,
			ConfigStateChecks: []statecheck.StateCheck{
				connectEphemeral{t: t, echo: "echo.creds", kinds: map[string]string{"admin": "pg", "app": "pg", "cache": "valkey"}},
				ephemeralNotInState{echo: "echo.creds", paths: []string{"admin.password", "app.password", "app.pool_uri", "cache.password", "cache.uri"}},
			},
		}},
	})
}
