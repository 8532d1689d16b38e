package provider

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
)

// dbEphemeralConfig is the stack plus ephemeral blocks echoed into the state
// of echo.<echo> as one object keyed by the blocks' names (an echo resource
// keeps what it was created with, so each step names a new one).
func dbEphemeralConfig(srv *emulator.Server, echo string, blocks map[string]string) string {
	cfg := stackConfig(srv, 2, false)
	var data []string
	for name, body := range blocks {
		cfg += fmt.Sprintf("\nephemeral \"attach_database_credentials\" %q {\n%s\n}\n", name, body)
		data = append(data, fmt.Sprintf("%s = ephemeral.attach_database_credentials.%s", name, name))
	}
	return cfg + `
provider "echo" {
  data = { ` + strings.Join(data, ", ") + ` }
}

resource "echo" "` + echo + `" {}
`
}

func TestAccEphemeralDatabaseCredentials(t *testing.T) {
	useEphemeralTofu(t)
	srv := startEmulator(t, emulator.Config{})
	api := emulatorAPI(t, srv)
	ctx := context.Background()
	at := func(names ...string) tfjsonpath.Path {
		p := tfjsonpath.New("data")
		for _, n := range names {
			p = p.AtMapKey(n)
		}
		return p
	}
	vectors := func() (*godo.Database, error) {
		dbs, _, err := api.Databases.List(ctx, nil)
		if err != nil {
			return nil, err
		}
		for i := range dbs {
			if dbs[i].EngineSlug == "pg" {
				return &dbs[i], nil
			}
		}
		return nil, fmt.Errorf("no PostgreSQL cluster in the emulator")
	}
	// apiSays compares a value with what the API says now.
	apiSays := func(want func(db *godo.Database) (string, error)) knownvalue.Check {
		return knownvalue.StringFunc(func(got string) error {
			db, err := vectors()
			if err != nil {
				return err
			}
			w, err := want(db)
			if err != nil {
				return err
			}
			if got != w {
				return fmt.Errorf("got %q, the API says %q", got, w)
			}
			return nil
		})
	}
	adminPassword := func(db *godo.Database) (string, error) { return db.PrivateConnection.Password, nil }
	privateHost := func(db *godo.Database) (string, error) { return db.PrivateConnection.Host, nil }
	ca := func(db *godo.Database) (string, error) {
		c, _, err := api.Databases.GetCA(ctx, db.ID)
		if err != nil {
			return "", err
		}
		return string(c.Certificate), nil
	}
	userPassword := func(name string) func(db *godo.Database) (string, error) {
		return func(db *godo.Database) (string, error) {
			u, _, err := api.Databases.GetUser(ctx, db.ID, name)
			if err != nil {
				return "", err
			}
			return u.Password, nil
		}
	}
	// uriAs: the private URI as user, to path, with what the API says (port
	// 0: the database's).
	uriAs := func(user, path string, port int) func(db *godo.Database) (string, error) {
		return func(db *godo.Database) (string, error) {
			pw, err := userPassword(user)(db)
			if err != nil {
				return "", err
			}
			if port == 0 {
				port = db.PrivateConnection.Port
			}
			u := url.URL{Scheme: "postgresql", User: url.UserPassword(user, pw), Host: fmt.Sprintf("%s:%d", db.PrivateConnection.Host, port),
				Path: "/" + path, RawQuery: "sslmode=require"}
			return u.String(), nil
		}
	}

	admin := `  database_id = attach_inference_stack.test.databases["vectors"].id`
	reporting := `  stack_name = attach_inference_stack.test.name
  database   = "vectors"
  user       = "reporting"
  pool       = "readonly"
  db         = "app"`
	pooled := `  stack_name = attach_inference_stack.test.name
  database   = "vectors"
  pool       = "app"`
	invalid := func(body string, phrases ...string) resource.TestStep {
		return resource.TestStep{
			Config:      stackConfig(srv, 2, false) + "\nephemeral \"attach_database_credentials\" \"bad\" {\n" + body + "\n}\n",
			ExpectError: errorPattern(phrases...),
		}
	}

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: ephemeralFactories(),
		TerraformVersionChecks:   ephemeralVersionChecks,
		CheckDestroy:             inventoryEmpty(srv),
		Steps: []resource.TestStep{
			{
				// The admin's, by id, in the apply that creates the database.
				Config: dbEphemeralConfig(srv, "creds", map[string]string{"admin": admin}),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.CompareValuePairs(stackAddr, tfjsonpath.New("databases").AtMapKey("vectors").AtMapKey("id"), "echo.creds", at("admin", "database_id"), compare.ValuesSame()),
					statecheck.ExpectKnownValue("echo.creds", at("admin", "user"), knownvalue.StringExact("doadmin")),
					statecheck.ExpectKnownValue("echo.creds", at("admin", "db"), knownvalue.StringExact("defaultdb")),
					statecheck.ExpectKnownValue("echo.creds", at("admin", "password"), apiSays(adminPassword)),
					statecheck.ExpectKnownValue("echo.creds", at("admin", "host"), apiSays(privateHost)),
					statecheck.ExpectKnownValue("echo.creds", at("admin", "ca_certificate"), apiSays(ca)),
					statecheck.ExpectKnownValue("echo.creds", at("admin", "uri"), apiSays(func(db *godo.Database) (string, error) {
						u := url.URL{Scheme: "postgresql", User: url.UserPassword("doadmin", db.PrivateConnection.Password),
							Host: fmt.Sprintf("%s:%d", db.PrivateConnection.Host, db.PrivateConnection.Port), Path: "/defaultdb", RawQuery: "sslmode=require"}
						return u.String(), nil
					})),
					statecheck.ExpectKnownValue("echo.creds", at("admin", "pool_uri"), knownvalue.Null()),
				},
			},
			{
				// A user and an inbound pool made outside Terraform (an app's
				// own), by the stack's name: their secrets exist only here.
				PreConfig: func() {
					db, err := vectors()
					if err != nil {
						t.Fatal(err)
					}
					if _, _, err := api.Databases.CreateUser(ctx, db.ID, &godo.DatabaseCreateUserRequest{Name: "reporting"}); err != nil {
						t.Fatal(err)
					}
					if _, _, err := api.Databases.CreatePool(ctx, db.ID, &godo.DatabaseCreatePoolRequest{Name: "readonly", Mode: "transaction", Size: 3, Database: "app"}); err != nil {
						t.Fatal(err)
					}
				},
				Config: dbEphemeralConfig(srv, "users", map[string]string{"admin": admin, "reporting": reporting, "pooled": pooled}),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("echo.users", at("reporting", "user"), knownvalue.StringExact("reporting")),
					statecheck.ExpectKnownValue("echo.users", at("reporting", "db"), knownvalue.StringExact("app")),
					statecheck.ExpectKnownValue("echo.users", at("reporting", "password"), apiSays(userPassword("reporting"))),
					statecheck.ExpectKnownValue("echo.users", at("reporting", "uri"), apiSays(uriAs("reporting", "app", 0))),
					statecheck.ExpectKnownValue("echo.users", at("reporting", "pool_uri"), apiSays(func(db *godo.Database) (string, error) {
						p, _, err := api.Databases.GetPool(ctx, db.ID, "readonly")
						if err != nil {
							return "", err
						}
						return uriAs("reporting", "readonly", p.PrivateConnection.Port)(db)
					})),
					// A pool bound to a user gives that user's credentials.
					statecheck.ExpectKnownValue("echo.users", at("pooled", "user"), knownvalue.StringExact("app")),
					statecheck.ExpectKnownValue("echo.users", at("pooled", "db"), knownvalue.StringExact("app")),
					statecheck.ExpectKnownValue("echo.users", at("pooled", "password"), apiSays(userPassword("app"))),
					statecheck.ExpectKnownValue("echo.users", at("pooled", "pool_uri"), knownvalue.StringRegexp(regexpMust(`^postgresql://app:[^@]+@private-[^/]+/app\?sslmode=require$`))),
					ephemeralNotInState{echo: "echo.users", paths: []string{"reporting.password", "reporting.uri", "reporting.pool_uri"}},
				},
			},
			invalid(`  stack_name = attach_inference_stack.test.name`, `Missing database`, `With stack_name, set database`),
			invalid(`  database = "vectors"`, `Missing stack_name`, `set stack_name`),
			invalid(`  user = "app"`, `Missing database_id or stack_name`),
			invalid(`  stack_name  = "acc"
  database    = "vectors"
  database_id = attach_inference_stack.test.databases["vectors"].id`, `Both database_id and a stack lookup are set`),
			invalid(`  stack_name = attach_inference_stack.test.name
  database   = "nope"`, `Stack has no such database`, `Stack acc has no database "nope"; its databases: cache, vectors.`),
			invalid(`  stack_name = attach_inference_stack.test.name
  database   = "vectors"
  user       = "nobody"`, `No such database user`, `has no user "nobody"; its users:`, `reporting`),
			invalid(`  stack_name = attach_inference_stack.test.name
  database   = "vectors"
  pool       = "nope"`, `No such connection pool`, `has no connection pool "nope"; its pools: app, readonly.`),
			invalid(`  stack_name = attach_inference_stack.test.name
  database   = "vectors"
  db         = "nope"`, `No such database in the cluster`, `has no database "nope"`),
			invalid(`  stack_name = attach_inference_stack.test.name
  database   = "cache"
  pool       = "app"`, `Connection pools are PostgreSQL only`),
			invalid(`  stack_name = attach_inference_stack.test.name
  database   = "vectors"
  user       = "reporting"
  pool       = "app"`, `Pool connects as another user`, `connects as user "app", not "reporting"`),
		},
	})
}

// TF_LOG=TRACE shows none of what the ephemeral resources hand out: not the
// user's password, nor a URI with credentials, nor a Kubernetes token.
func TestAccEphemeralCredentialsNeverInTraceLogs(t *testing.T) {
	useEphemeralTofu(t)
	srv := startEmulator(t, emulator.Config{})
	api := emulatorAPI(t, srv)
	ctx := context.Background()
	logPath := filepath.Join(t.TempDir(), "trace.log")
	var password string
	withCreds := stackConfig(srv, 2, false) + `
ephemeral "attach_kubernetes_credentials" "k8s" {
  stack_name = attach_inference_stack.test.name
}

ephemeral "attach_database_credentials" "db" {
  stack_name = attach_inference_stack.test.name
  database   = "vectors"
  user       = "reporting"
}

provider "echo" {
  data = {
    k8s_expires_at = ephemeral.attach_kubernetes_credentials.k8s.expires_at
    db_host        = ephemeral.attach_database_credentials.db.host
  }
}

resource "echo" "creds" {}
`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: ephemeralFactories(),
		TerraformVersionChecks:   ephemeralVersionChecks,
		Steps: []resource.TestStep{
			{Config: stackConfig(srv, 2, false)},
			{
				PreConfig: func() {
					dbs, _, err := api.Databases.List(ctx, nil)
					if err != nil {
						t.Fatal(err)
					}
					for _, db := range dbs {
						if db.EngineSlug == "pg" {
							u, _, err := api.Databases.CreateUser(ctx, db.ID, &godo.DatabaseCreateUserRequest{Name: "reporting"})
							if err != nil {
								t.Fatal(err)
							}
							password = u.Password
						}
					}
					if password == "" {
						t.Fatal("no PostgreSQL cluster to create the user on")
					}
					// Log from here on: the stack's own apply is another test's matter.
					t.Setenv("TF_LOG", "TRACE")
					t.Setenv("TF_ACC_LOG_PATH", logPath)
				},
				Config: withCreds,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("echo.creds", tfjsonpath.New("data").AtMapKey("db_host"), knownvalue.StringRegexp(regexpMust(`^private-`))),
				},
			},
		},
	})

	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatalf("no trace log written: %v", err)
	}
	logs := string(b)
	for _, proof := range []string{"opened database credentials", "opened Kubernetes credentials"} {
		if !strings.Contains(logs, proof) {
			t.Fatalf("the trace log lacks the provider's line %q, so it proves nothing (%d bytes)", proof, len(b))
		}
	}
	leaks := map[string]*regexp.Regexp{
		"the user's password":    regexp.MustCompile(regexp.QuoteMeta(password)),
		"a URI with credentials": regexp.MustCompile(`postgresql://[^:/@\s]+:[^@\s*]+@`),
		"a Kubernetes token":     regexp.MustCompile(`doks_[0-9a-f]{64}`),
	}
	for what, re := range leaks {
		for _, line := range strings.Split(logs, "\n") {
			if re.MatchString(line) {
				t.Errorf("%s in the trace log: %.300s", what, line)
				break
			}
		}
	}
}
