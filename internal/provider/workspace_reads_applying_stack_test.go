package provider

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
)

// Issue 13: a stack that reads another team's stack (data
// "attach_inference_stack") and attaches to it while that stack is being
// applied still plans and applies cleanly.
//
// Team A's workspace owns stack team-a (cluster + pg "main"). Its second
// apply adds a database "extra". Team B's workspace, a separate Terraform
// run with its own provider (as a separate process would be), reads team-a,
// builds its own cluster on team-a's VPC and attaches it to "main" with a
// user and a database of its own.
//
// The overlap is forced, not hoped for: team A reaches the API through a
// gate that, once A's create of "extra" has been answered, holds every
// further request of A until B has applied. B therefore reads team-a with
// "extra" created but not waited for, attached or recorded in A's state,
// at a time scale where "extra" is still being created. B must apply, and
// plan empty afterwards while A resumes; A must finish and plan empty; both
// destroys leave the emulator empty.
func TestAccWorkspaceAttachesToAStackBeingApplied(t *testing.T) {
	// 60: "extra" takes 5 s to come online, longer than B needs to read
	// team-a, so B sees it being created.
	srv := startEmulator(t, emulator.Config{TimeScale: 60})
	api := concGodo(t, srv)
	gate := &applyGate{api: srv.Emulator, held: make(chan struct{}), release: make(chan struct{})}
	gateURL := gate.serve(t)

	configA := func(extra string) string {
		return fmt.Sprintf(`
provider "attach" {
  token               = %q
  api_endpoint        = %q
  http_retry_wait_min = 0
  http_retry_wait_max = 1
}

resource "attach_inference_stack" "a" {
  name   = "team-a"
  region = "tor1"
`+lcCluster("")+`
  databases = {
    main = {
      engine              = "pg"
      size                = "db-s-1vcpu-2gb"
      deletion_protection = false
    }
%s  }
}
`, srv.Token, gateURL, extra)
	}
	extra := `    extra = {
      engine              = "pg"
      size                = "db-s-1vcpu-2gb"
      deletion_protection = false
    }
`
	configB := teamBConfig(srv)
	var (
		mainID, clusterA string
		bSawExtra        string // the id of "extra" B's data source read, if any
		bDone            = make(chan struct{})
	)
	runB := func() {
		defer close(bDone)
		defer gate.open() // a B that fails early must not leave A held
		select {
		case <-gate.held:
		case <-time.After(2 * time.Minute):
			t.Error("team A never created database extra: the gate held nothing")
			return
		}
		// The API lists a new database only after ReadAfterCreate; from
		// then on it is there, still being created, for B to read.
		if status := waitListed(t, api, "team-a-extra"); status != "creating" {
			t.Errorf("team-a-extra is %q when B reads team-a: want it still being created (raise the time scale's margin)", status)
		}
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
			Steps: []resource.TestStep{{
				Config: configB,
				Check: func(s *terraform.State) error {
					if gate.isOpen() {
						return fmt.Errorf("team A was released before B applied: no overlap was forced")
					}
					ds := s.RootModule().Resources["data.attach_inference_stack.team_a"].Primary.Attributes
					if ds["databases.main.id"] != mainID {
						return fmt.Errorf("B read team-a's main database as %q, want %q", ds["databases.main.id"], mainID)
					}
					bSawExtra = ds["databases.extra.id"]
					att := s.RootModule().Resources["attach_database_attachment.b"].Primary.Attributes
					if att["attached"] != "true" || att["private_host"] == "" {
						return fmt.Errorf("B's attachment is not attached or has no private host: %v", att)
					}
					// B has applied against the half-built stack: let A go on
					// while B refreshes and plans.
					gate.open()
					return nil
				},
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			}},
		})
	}

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             inventoryEmpty(srv),
		Steps: []resource.TestStep{
			{
				Config: configA(""),
				Check: func(s *terraform.State) error {
					attrs := s.RootModule().Resources["attach_inference_stack.a"].Primary.Attributes
					mainID, clusterA = attrs["databases.main.id"], attrs["cluster_id"]
					if mainID == "" || clusterA == "" {
						return fmt.Errorf("team-a's state lacks databases.main.id or cluster_id: %v", attrs)
					}
					return nil
				},
			},
			{
				PreConfig: func() {
					gate.arm()
					go runB()
				},
				Config: configA(extra),
				Check: func(s *terraform.State) error {
					<-bDone
					if !gate.wasHeld() {
						return fmt.Errorf("team A's apply was never held: no overlap was forced")
					}
					extraID := s.RootModule().Resources["attach_inference_stack.a"].Primary.Attributes["databases.extra.id"]
					t.Logf("B read team-a while A was held after creating extra; B saw extra as %q, A recorded %q", bSawExtra, extraID)
					if bSawExtra != extraID {
						return fmt.Errorf("B read extra as %s but A recorded %s: two databases for one key", bSawExtra, extraID)
					}
					// B's attachment and cluster are gone with its destroy: only
					// A's own rule remains on main.
					rules, _, err := api.Databases.GetFirewallRules(context.Background(), mainID)
					if err != nil {
						return err
					}
					var got []string
					for _, r := range rules {
						got = append(got, r.Type+":"+r.Value)
					}
					if !slices.Equal(got, []string{"k8s:" + clusterA}) {
						return fmt.Errorf("after B's destroy, main's firewall is %v, want only team A's cluster k8s:%s", got, clusterA)
					}
					return nil
				},
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}

// The same while team-a is first created: A is held once its create of
// "main" has been answered (its cluster may not even be asked for yet), and
// B reads team-a as soon as the API lists "main", still being created.
func TestAccWorkspaceAttachesToAStackBeingCreated(t *testing.T) {
	srv := startEmulator(t, emulator.Config{TimeScale: 60})
	api := concGodo(t, srv)
	gate := &applyGate{api: srv.Emulator, held: make(chan struct{}), release: make(chan struct{})}
	gateURL := gate.serve(t)
	configA := fmt.Sprintf(`
provider "attach" {
  token               = %q
  api_endpoint        = %q
  http_retry_wait_min = 0
  http_retry_wait_max = 1
}

resource "attach_inference_stack" "a" {
  name   = "team-a"
  region = "tor1"
`+lcCluster("")+`
  databases = {
    main = {
      engine              = "pg"
      size                = "db-s-1vcpu-2gb"
      deletion_protection = false
    }
  }
}
`, srv.Token, gateURL)
	var (
		bMainID string
		bDone   = make(chan struct{})
	)
	runB := func() {
		defer close(bDone)
		defer gate.open()
		select {
		case <-gate.held:
		case <-time.After(2 * time.Minute):
			t.Error("team A never created database main: the gate held nothing")
			return
		}
		if status := waitListed(t, api, "team-a-main"); status != "creating" {
			t.Errorf("team-a-main is %q when B reads team-a: want it still being created", status)
		}
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
			Steps: []resource.TestStep{{
				Config: teamBConfig(srv),
				Check: func(s *terraform.State) error {
					if gate.isOpen() {
						return fmt.Errorf("team A was released before B applied: no overlap was forced")
					}
					bMainID = s.RootModule().Resources["data.attach_inference_stack.team_a"].Primary.Attributes["databases.main.id"]
					att := s.RootModule().Resources["attach_database_attachment.b"].Primary.Attributes
					if att["attached"] != "true" || att["private_host"] == "" {
						return fmt.Errorf("B's attachment is not attached or has no private host: %v", att)
					}
					gate.open()
					return nil
				},
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			}},
		})
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             inventoryEmpty(srv),
		Steps: []resource.TestStep{{
			PreConfig: func() {
				gate.arm()
				go runB()
			},
			Config: configA,
			Check: func(s *terraform.State) error {
				<-bDone
				if !gate.wasHeld() {
					return fmt.Errorf("team A's apply was never held: no overlap was forced")
				}
				attrs := s.RootModule().Resources["attach_inference_stack.a"].Primary.Attributes
				if bMainID != attrs["databases.main.id"] {
					return fmt.Errorf("B read main as %q, A recorded %q", bMainID, attrs["databases.main.id"])
				}
				rules, _, err := api.Databases.GetFirewallRules(context.Background(), attrs["databases.main.id"])
				if err != nil {
					return err
				}
				var got []string
				for _, r := range rules {
					got = append(got, r.Type+":"+r.Value)
				}
				if !slices.Equal(got, []string{"k8s:" + attrs["cluster_id"]}) {
					return fmt.Errorf("after B's destroy, main's firewall is %v, want only team A's cluster", got)
				}
				return nil
			},
			ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
		}},
	})
}

// And while team-a's database is not listed yet: A's create of "main" is
// held, so team-a is a VPC and a provisioning cluster. B's plan cannot find
// databases["main"]: Terraform says "Invalid index", and the data source
// says why (the stack is being created, a new database is listed late) and
// what to do. Planned again once "main" is listed, B applies cleanly.
func TestAccWorkspaceReadsAStackWhoseDatabaseIsNotListedYet(t *testing.T) {
	// 30: the cluster provisions for 12 s, ample for B to read it so.
	srv := startEmulator(t, emulator.Config{TimeScale: 30})
	api := concGodo(t, srv)
	gate := &applyGate{api: srv.Emulator, held: make(chan struct{}), release: make(chan struct{}), holdCreate: true}
	gateURL := gate.serve(t)
	configA := fmt.Sprintf(`
provider "attach" {
  token               = %q
  api_endpoint        = %q
  http_retry_wait_min = 0
  http_retry_wait_max = 1
}

resource "attach_inference_stack" "a" {
  name   = "team-a"
  region = "tor1"
`+lcCluster("")+`
  databases = {
    main = {
      engine              = "pg"
      size                = "db-s-1vcpu-2gb"
      deletion_protection = false
    }
  }
}
`, srv.Token, gateURL)
	rec := &dataSourceDiags{}
	bDone := make(chan struct{})
	runB := func() {
		defer close(bDone)
		defer gate.open()
		select {
		case <-gate.held:
		case <-time.After(2 * time.Minute):
			t.Error("team A never asked for database main: the gate held nothing")
			return
		}
		waitStackCluster(t, api, "team-a")
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: rec.factories(),
			Steps: []resource.TestStep{
				{
					Config:      teamBConfig(srv),
					ExpectError: regexp.MustCompile(`(?s)Invalid index.*databases\["main"\]|(?s)databases\["main"\].*Invalid index`),
				},
				{
					PreConfig: func() {
						if !slices.ContainsFunc(rec.warnings(), func(w string) bool {
							return strings.Contains(w, "Stack team-a is being created") && strings.Contains(w, "its cluster is provisioning") &&
								strings.Contains(w, "no database is listed yet") && strings.Contains(w, "plan again once team-a's apply has ended")
						}) {
							t.Errorf("B's read of team-a while it is created gave no warning saying so; warnings: %q", rec.warnings())
						}
						gate.open()
						if status := waitListed(t, api, "team-a-main"); status == "" {
							t.Error("team-a-main was never listed")
						}
					},
					Config:           teamBConfig(srv),
					ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				},
			},
		})
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             inventoryEmpty(srv),
		Steps: []resource.TestStep{{
			PreConfig: func() {
				gate.arm()
				go runB()
			},
			Config: configA,
			Check: func(*terraform.State) error {
				<-bDone
				if !gate.wasHeld() {
					return fmt.Errorf("team A's database create was never held")
				}
				return nil
			},
			ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
		}},
	})
}

// waitStackCluster waits until the API lists a cluster tagged for stack.
func waitStackCluster(t *testing.T, api *godo.Client, stackName string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		clusters, _, err := api.Kubernetes.List(context.Background(), &godo.ListOptions{PerPage: 200})
		if err != nil {
			t.Errorf("listing clusters: %v", err)
			return
		}
		for _, c := range clusters {
			if slices.Contains(c.Tags, "attach-stack:"+stackName) {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("the API never listed a cluster of stack %s", stackName)
}

// dataSourceDiags serves the provider in-process and keeps the warnings
// its data sources return (the testing framework only exposes errors).
type dataSourceDiags struct {
	mu   sync.Mutex
	warn []string
}

func (r *dataSourceDiags) factories() map[string]func() (tfprotov6.ProviderServer, error) {
	return map[string]func() (tfprotov6.ProviderServer, error){
		"attach": func() (tfprotov6.ProviderServer, error) {
			s, err := providerserver.NewProtocol6WithError(New("test", "test")())()
			if err != nil {
				return nil, err
			}
			return &dataSourceDiagServer{ProviderServer: s, rec: r}, nil
		},
	}
}

func (r *dataSourceDiags) warnings() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.warn)
}

type dataSourceDiagServer struct {
	tfprotov6.ProviderServer
	rec *dataSourceDiags
}

func (s *dataSourceDiagServer) ReadDataSource(ctx context.Context, req *tfprotov6.ReadDataSourceRequest) (*tfprotov6.ReadDataSourceResponse, error) {
	resp, err := s.ProviderServer.ReadDataSource(ctx, req)
	if resp != nil {
		s.rec.mu.Lock()
		for _, d := range resp.Diagnostics {
			if d.Severity == tfprotov6.DiagnosticSeverityWarning {
				s.rec.warn = append(s.rec.warn, d.Summary+": "+d.Detail)
			}
		}
		s.rec.mu.Unlock()
	}
	return resp, err
}

// teamBConfig is team B's workspace: it reads team-a, builds its own
// cluster on team-a's VPC and attaches it to team-a's database main.
func teamBConfig(srv *emulator.Server) string {
	return providerBlock(srv) + `
data "attach_inference_stack" "team_a" {
  name = "team-a"
}

resource "attach_inference_stack" "b" {
  name   = "team-b"
  region = data.attach_inference_stack.team_a.region
  vpc_id = data.attach_inference_stack.team_a.vpc_id
` + lcCluster("") + `
}

resource "attach_database_attachment" "b" {
  database_id = data.attach_inference_stack.team_a.databases["main"].id
  cluster_id  = attach_inference_stack.b.cluster_id
  db          = "team_b"
  user        = "team_b"
}
`
}

// waitListed waits until the API lists database name, and returns its status.
func waitListed(t *testing.T, api *godo.Client, name string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		dbs, _, err := api.Databases.List(context.Background(), &godo.ListOptions{PerPage: 200})
		if err != nil {
			t.Errorf("listing databases: %v", err)
			return ""
		}
		for _, db := range dbs {
			if db.Name == name {
				return db.Status
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("the API never listed database %s", name)
	return ""
}

// applyGate fronts the emulator for one workspace: once armed, the answer
// to its first database create closes held, and every later request waits
// until release.
type applyGate struct {
	api     http.Handler
	held    chan struct{}
	release chan struct{}
	// holdCreate holds the database create itself (closing held when it
	// arrives) rather than the requests after it.
	holdCreate bool

	mu        sync.Mutex
	armed     bool
	holding   bool
	opened    bool
	heldCount int
}

// gateHoldMax bounds a held request, below the provider's HTTP timeout.
const gateHoldMax = 90 * time.Second

func (g *applyGate) serve(t *testing.T) string {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		hold := g.holding
		if hold {
			g.heldCount++
		}
		g.mu.Unlock()
		if hold {
			select {
			case <-g.release:
			case <-time.After(gateHoldMax):
			}
		}
		create := r.Method == http.MethodPost && r.URL.Path == "/v2/databases"
		if create && g.holdCreate {
			g.mu.Lock()
			armed := g.armed && !g.opened
			if armed {
				g.heldCount++
				close(g.held)
				g.armed = false
			}
			g.mu.Unlock()
			if armed {
				select {
				case <-g.release:
				case <-time.After(gateHoldMax):
				}
			}
			g.api.ServeHTTP(w, r)
			return
		}
		g.api.ServeHTTP(w, r)
		if create {
			g.mu.Lock()
			if g.armed && !g.holding && !g.opened {
				g.holding = true
				close(g.held)
			}
			g.mu.Unlock()
		}
	}))
	t.Cleanup(s.Close)
	return s.URL
}

func (g *applyGate) arm() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.armed = true
}

func (g *applyGate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.opened {
		g.opened, g.holding = true, false
		close(g.release)
	}
}

func (g *applyGate) isOpen() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.opened
}

// wasHeld: at least one request of the workspace waited at the gate.
func (g *applyGate) wasHeld() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.heldCount > 0
}
