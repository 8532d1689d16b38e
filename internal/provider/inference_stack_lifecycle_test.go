package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
)

// Lifecycle acceptance tests of attach_inference_stack: cluster replacement
// that keeps every database, deletion protection refused at plan time,
// retain_on_destroy, attaching databases the stack does not own, plan-time
// validation that touches nothing, and in-place updates.

const (
	lcForeignRule = "198.51.100.7" // a rule someone added outside Terraform
	lcStackRule   = "203.0.113.10" // the stack's own trusted source
	lcOtherRule   = "198.51.100.0/24"
)

// ---- configurations ----

// lcStack renders a provider block and one stack named name in tor1 whose
// body is body.
func lcStack(srv *emulator.Server, name, region, body string) string {
	return providerBlock(srv) + fmt.Sprintf(`
resource "attach_inference_stack" "test" {
  name   = %q
  region = %q
%s
}
`, name, region, body)
}

// lcCluster is a small cluster block; extra goes inside it.
func lcCluster(extra string) string {
	return fmt.Sprintf(`
  cluster = {
    version = "1.33"
    system_pool = {
      size       = "s-2vcpu-4gb"
      node_count = 2
    }
%s
  }
`, extra)
}

// ---- a provider that records the diagnostics it returns ----

// lcDiagRecorder wraps the provider server and keeps the diagnostics of
// every plan and apply, so tests can assert warnings (the testing framework
// only exposes errors).
type lcDiagRecorder struct {
	mu    sync.Mutex
	plan  []*tfprotov6.Diagnostic
	apply []*tfprotov6.Diagnostic
}

func (r *lcDiagRecorder) factories() map[string]func() (tfprotov6.ProviderServer, error) {
	return map[string]func() (tfprotov6.ProviderServer, error){
		"attach": func() (tfprotov6.ProviderServer, error) {
			s, err := providerserver.NewProtocol6WithError(New("test", "test")())()
			if err != nil {
				return nil, err
			}
			return &lcRecordingServer{ProviderServer: s, rec: r}, nil
		},
	}
}

func (r *lcDiagRecorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.plan, r.apply = nil, nil
}

func (r *lcDiagRecorder) warnings(apply bool) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	list := r.plan
	if apply {
		list = r.apply
	}
	var out []string
	for _, d := range list {
		if d.Severity == tfprotov6.DiagnosticSeverityWarning {
			out = append(out, d.Summary+": "+d.Detail)
		}
	}
	return out
}

type lcRecordingServer struct {
	tfprotov6.ProviderServer
	rec *lcDiagRecorder
}

func (s *lcRecordingServer) PlanResourceChange(ctx context.Context, req *tfprotov6.PlanResourceChangeRequest) (*tfprotov6.PlanResourceChangeResponse, error) {
	resp, err := s.ProviderServer.PlanResourceChange(ctx, req)
	if resp != nil {
		s.rec.mu.Lock()
		s.rec.plan = append(s.rec.plan, resp.Diagnostics...)
		s.rec.mu.Unlock()
	}
	return resp, err
}

func (s *lcRecordingServer) ApplyResourceChange(ctx context.Context, req *tfprotov6.ApplyResourceChangeRequest) (*tfprotov6.ApplyResourceChangeResponse, error) {
	resp, err := s.ProviderServer.ApplyResourceChange(ctx, req)
	if resp != nil {
		s.rec.mu.Lock()
		s.rec.apply = append(s.rec.apply, resp.Diagnostics...)
		s.rec.mu.Unlock()
	}
	return resp, err
}

// expectWarning is a plan check: a warning matching re was returned by the
// plan (or, with apply, by the apply).
func (r *lcDiagRecorder) expectWarning(apply bool, re string) lcPlanCheck {
	return func(context.Context) error {
		ws := r.warnings(apply)
		for _, w := range ws {
			if regexp.MustCompile(re).MatchString(w) {
				return nil
			}
		}
		return fmt.Errorf("no warning matching %q; warnings: %q", re, ws)
	}
}

type lcPlanCheck func(ctx context.Context) error

func (f lcPlanCheck) CheckPlan(ctx context.Context, _ plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	resp.Error = f(ctx)
}

// ---- state checks on the stack's values ----

type lcStateCheck func(v lcValues) error

func (f lcStateCheck) CheckState(_ context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	if req.State == nil || req.State.Values == nil || req.State.Values.RootModule == nil {
		resp.Error = errors.New("no state")
		return
	}
	for _, r := range req.State.Values.RootModule.Resources {
		if r.Address == stackAddr {
			resp.Error = f(lcValues(r.AttributeValues))
			return
		}
	}
	resp.Error = fmt.Errorf("%s not in state", stackAddr)
}

type lcValues map[string]any

// str reads a string at a path of map keys ("databases", "vectors", "id").
func (v lcValues) str(keys ...string) string {
	var cur any = map[string]any(v)
	for _, k := range keys {
		m, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = m[k]
	}
	s, _ := cur.(string)
	return s
}

// ---- the emulator seen through godo ----

type lcAPI struct {
	t   *testing.T
	srv *emulator.Server
	c   *godo.Client
}

type lcBearer struct{ token string }

func (b lcBearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

func newLCAPI(t *testing.T, srv *emulator.Server) *lcAPI {
	t.Helper()
	c, err := godo.New(&http.Client{Timeout: 30 * time.Second, Transport: lcBearer{token: srv.Token}}, godo.SetBaseURL(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	return &lcAPI{t: t, srv: srv, c: c}
}

func (a *lcAPI) dbByName(name string) (*godo.Database, error) {
	dbs, _, err := a.c.Databases.List(context.Background(), &godo.ListOptions{PerPage: 200})
	if err != nil {
		return nil, err
	}
	for i := range dbs {
		if dbs[i].Name == name {
			return &dbs[i], nil
		}
	}
	return nil, fmt.Errorf("no database named %s", name)
}

func (a *lcAPI) rules(dbID string) ([]godo.DatabaseFirewallRule, error) {
	rules, _, err := a.c.Databases.GetFirewallRules(context.Background(), dbID)
	return rules, err
}

// ruleSet renders a firewall as sorted "type:value" strings.
func (a *lcAPI) ruleSet(dbID string) ([]string, error) {
	rules, err := a.rules(dbID)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range rules {
		out = append(out, r.Type+":"+r.Value)
	}
	sort.Strings(out)
	return out, nil
}

// addRule adds one rule to a database firewall, keeping the others.
func (a *lcAPI) addRule(dbID, typ, value string) error {
	rules, err := a.rules(dbID)
	if err != nil {
		return err
	}
	req := &godo.DatabaseUpdateFirewallRulesRequest{}
	for _, r := range rules {
		req.Rules = append(req.Rules, &godo.DatabaseFirewallRule{UUID: r.UUID, Type: r.Type, Value: r.Value})
	}
	req.Rules = append(req.Rules, &godo.DatabaseFirewallRule{Type: typ, Value: value})
	_, err = a.c.Databases.UpdateFirewallRules(context.Background(), dbID, req)
	return err
}

// addForeignRule puts lcForeignRule on the named database.
func (a *lcAPI) addForeignRule(dbName string) {
	a.t.Helper()
	db, err := a.dbByName(dbName)
	if err == nil {
		err = a.addRule(db.ID, "ip_addr", lcForeignRule)
	}
	if err != nil {
		a.t.Fatalf("adding a foreign firewall rule to %s: %v", dbName, err)
	}
}

// writes counts the requests that could change something.
func lcWrites(srv *emulator.Server) map[string]int {
	out := map[string]int{}
	for route, n := range srv.RequestCounts() {
		if !strings.HasPrefix(route, "GET ") && !strings.HasPrefix(route, "HEAD ") {
			out[route] = n
		}
	}
	return out
}

// lcSnapshot records the inventory and write requests, to prove later that
// a refused plan changed nothing.
type lcSnapshot struct {
	inventory string
	writes    map[string]int
}

func takeSnapshot(srv *emulator.Server) lcSnapshot {
	return lcSnapshot{inventory: srv.Inventory().String(), writes: lcWrites(srv)}
}

func (s lcSnapshot) unchanged(srv *emulator.Server) error {
	if now := srv.Inventory().String(); now != s.inventory {
		return fmt.Errorf("the inventory changed:\nbefore:\n%s\nafter:\n%s", s.inventory, now)
	}
	now := lcWrites(srv)
	if fmt.Sprint(now) != fmt.Sprint(s.writes) {
		var diff []string
		for route, n := range now {
			if n != s.writes[route] {
				diff = append(diff, fmt.Sprintf("%s: %d", route, n-s.writes[route]))
			}
		}
		sort.Strings(diff)
		return fmt.Errorf("write requests were made: %s", strings.Join(diff, ", "))
	}
	return nil
}

// waitFor polls cond (about 5 s at most).
func waitFor(what string, cond func() error) error {
	var err error
	for range 250 {
		if err = cond(); err == nil {
			return nil
		}
		sleep(20)
	}
	return fmt.Errorf("timed out waiting for %s: %w", what, err)
}

// inventoryLines renders the inventory as sorted "kind name" lines (ids and
// statuses left out) for exact comparisons.
func inventoryLines(srv *emulator.Server) []string {
	var out []string
	for _, it := range srv.Inventory().Items {
		out = append(out, it.Kind+" "+it.Name)
	}
	sort.Strings(out)
	return out
}

// ---- 1. cluster replacement keeps every database ----

func TestAccInferenceStackClusterReplacement(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	api := newLCAPI(t, srv)
	rec := &lcDiagRecorder{}
	config := func(serviceSubnet string) string {
		return lcStack(srv, "lcs", "tor1", `
  vpc_ip_range = "10.10.0.0/20"
`+lcCluster(fmt.Sprintf(`
    cluster_subnet = "10.244.0.0/16"
    service_subnet = %q
`, serviceSubnet))+fmt.Sprintf(`
  databases = {
    vectors = {
      engine              = "pg"
      version             = "17"
      size                = "db-s-2vcpu-4gb"
      deletion_protection = false
      trusted_sources     = [{ type = "ip_addr", value = %q }]
    }
    cache = {
      engine              = "valkey"
      size                = "db-s-1vcpu-2gb"
      deletion_protection = false
    }
  }
`, lcStackRule))
	}

	var oldCluster string
	oldIDs := map[string]string{}
	sameVectors := statecheck.CompareValue(compare.ValuesSame())
	sameCache := statecheck.CompareValue(compare.ValuesSame())
	otherCluster := statecheck.CompareValue(compare.ValuesDiffer())

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: rec.factories(),
		CheckDestroy:             inventoryEmpty(srv),
		Steps: []resource.TestStep{
			{
				Config: config("10.245.0.0/16"),
				ConfigStateChecks: []statecheck.StateCheck{
					sameVectors.AddStateValue(stackAddr, tfjsonpath.New("databases").AtMapKey("vectors").AtMapKey("id")),
					sameCache.AddStateValue(stackAddr, tfjsonpath.New("databases").AtMapKey("cache").AtMapKey("id")),
					otherCluster.AddStateValue(stackAddr, tfjsonpath.New("cluster_id")),
					lcStateCheck(func(v lcValues) error {
						oldCluster = v.str("cluster_id")
						for _, k := range []string{"vectors", "cache"} {
							oldIDs[k] = v.str("databases", k, "id")
						}
						if oldCluster == "" || oldIDs["vectors"] == "" || oldIDs["cache"] == "" {
							return fmt.Errorf("ids missing: cluster %q, databases %v", oldCluster, oldIDs)
						}
						return nil
					}),
				},
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{lcEmptyPlan},
				},
			},
			{
				PreConfig: func() {
					// Rules someone else added must survive the re-pointing.
					api.addForeignRule("lcs-vectors")
					api.addForeignRule("lcs-cache")
					rec.reset()
				},
				Config: config("10.246.0.0/16"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(stackAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectUnknownValue(stackAddr, tfjsonpath.New("cluster_id")),
						plancheck.ExpectKnownValue(stackAddr, tfjsonpath.New("databases").AtMapKey("vectors").AtMapKey("id"), knownvalue.NotNull()),
						rec.expectWarning(false, `The cluster will be replaced: .*service_subnet 10\.245\.0\.0/16 -> 10\.246\.0\.0/16.*keep their ids`),
					},
					PostApplyPreRefresh:  []plancheck.PlanCheck{rec.expectWarning(true, `^The cluster was replaced: Cluster lcs was replaced \(service_subnet .*\); the databases kept their ids`)},
					PostApplyPostRefresh: []plancheck.PlanCheck{lcEmptyPlan},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					sameVectors.AddStateValue(stackAddr, tfjsonpath.New("databases").AtMapKey("vectors").AtMapKey("id")),
					sameCache.AddStateValue(stackAddr, tfjsonpath.New("databases").AtMapKey("cache").AtMapKey("id")),
					otherCluster.AddStateValue(stackAddr, tfjsonpath.New("cluster_id")),
					lcStateCheck(func(v lcValues) error {
						newCluster := v.str("cluster_id")
						for _, k := range []string{"vectors", "cache"} {
							if got := v.str("databases", k, "attached_cluster_id"); got != newCluster {
								return fmt.Errorf("databases.%s.attached_cluster_id = %q, want the new cluster %q", k, got, newCluster)
							}
							rules, err := api.ruleSet(oldIDs[k])
							if err != nil {
								return fmt.Errorf("reading the firewall of %s: %w", k, err)
							}
							want := []string{"ip_addr:" + lcForeignRule, "k8s:" + newCluster}
							if k == "vectors" {
								want = append(want, "ip_addr:"+lcStackRule)
							}
							sort.Strings(want)
							if !slices.Equal(rules, want) {
								return fmt.Errorf("firewall of %s = %v, want %v (old cluster %s)", k, rules, want, oldCluster)
							}
						}
						// The old cluster is gone, the new one is the only one.
						if _, _, err := api.c.Kubernetes.Get(context.Background(), oldCluster); !lcIsNotFound(err) {
							return fmt.Errorf("old cluster %s still answers: %v", oldCluster, err)
						}
						return waitFor("the old cluster to leave the inventory", func() error {
							var clusters []string
							for _, it := range srv.Inventory().Items {
								if it.Kind == "kubernetes_cluster" {
									clusters = append(clusters, it.ID+" "+it.Name)
								}
							}
							if len(clusters) != 1 || !strings.HasPrefix(clusters[0], newCluster+" lcs-g2") {
								return fmt.Errorf("clusters: %v", clusters)
							}
							return nil
						})
					}),
				},
			},
		},
	})
}

// lcEmptyPlan is plancheck.ExpectEmptyPlan that names the attributes that
// would change, so a perpetual diff is easy to find.
var lcEmptyPlan = lcPlanDiffCheck{}

type lcPlanDiffCheck struct{}

func (lcPlanDiffCheck) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	var problems []string
	for _, rc := range req.Plan.ResourceChanges {
		if rc.Change == nil || rc.Change.Actions.NoOp() {
			continue
		}
		before, after := map[string]string{}, map[string]string{}
		lcFlatten("", rc.Change.Before, before)
		lcFlatten("", rc.Change.After, after)
		unknown := map[string]string{}
		lcFlatten("", rc.Change.AfterUnknown, unknown)
		var diffs []string
		for k, v := range after {
			if before[k] != v {
				diffs = append(diffs, fmt.Sprintf("%s: %q -> %q", k, before[k], v))
			}
		}
		for k, v := range before {
			if _, ok := after[k]; !ok {
				diffs = append(diffs, fmt.Sprintf("%s: %q -> (absent)", k, v))
			}
		}
		for k, v := range unknown {
			if v == "true" {
				diffs = append(diffs, k+": (known after apply)")
			}
		}
		sort.Strings(diffs)
		problems = append(problems, fmt.Sprintf("%s %v: %s", rc.Address, rc.Change.Actions, strings.Join(diffs, "; ")))
	}
	if len(problems) > 0 {
		resp.Error = fmt.Errorf("expected an empty plan, got: %s", strings.Join(problems, "\n"))
	}
}

func lcFlatten(prefix string, v any, out map[string]string) {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			lcFlatten(prefix+"."+k, e, out)
		}
	case []any:
		for i, e := range t {
			lcFlatten(fmt.Sprintf("%s[%d]", prefix, i), e, out)
		}
	default:
		out[prefix] = fmt.Sprint(v)
	}
}

func lcIsNotFound(err error) bool {
	var er *godo.ErrorResponse
	return errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == http.StatusNotFound
}

// ---- 2. deletion protection is enforced at plan time ----

func TestAccInferenceStackProtection(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	config := func(name, region, version string, protection string, withVectors bool) string {
		vectors := ""
		if withVectors {
			vectors = fmt.Sprintf(`
    vectors = {
      engine  = "pg"
      version = %q
      size    = "db-s-2vcpu-4gb"
      %s
    }`, version, protection)
		}
		return lcStack(srv, name, region, lcCluster("")+fmt.Sprintf(`
  databases = {%s
    cache = {
      engine              = "valkey"
      size                = "db-s-1vcpu-2gb"
      deletion_protection = false
    }
  }
`, vectors))
	}
	protected := config("lcp", "tor1", "17", "", true)
	var snap lcSnapshot
	snapshot := func() { snap = takeSnapshot(srv) }
	nothingChanged := func() {
		if err := snap.unchanged(srv); err != nil {
			t.Fatalf("a refused plan changed something: %v", err)
		}
	}
	refused := func(cfg, pattern string) resource.TestStep {
		return resource.TestStep{
			PreConfig:   func() { nothingChanged(); snapshot() },
			Config:      cfg,
			ExpectError: regexp.MustCompile(`(?s)Error running pre-apply plan.*` + pattern),
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             inventoryEmpty(srv),
		Steps: []resource.TestStep{
			{
				Config: protected,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(stackAddr, tfjsonpath.New("databases").AtMapKey("vectors").AtMapKey("deletion_protection"), knownvalue.Bool(true)),
				},
			},
			{
				// (a) destroy
				PreConfig:   snapshot,
				Config:      protected,
				Destroy:     true,
				ExpectError: regexp.MustCompile(`(?s)Error running pre-apply plan.*Destroying stack lcp would delete protected\s+database "vectors".*deletion_protection\s+=\s+false`),
			},
			// (b) removal from the map
			refused(config("lcp", "tor1", "17", "", false), `Removing protected database "vectors".*deletion_protection\s+=\s+false`),
			// (c) engine replacement
			refused(config("lcp", "tor1", "16", "", true), `Replacing protected database "vectors".*pg 17 -> pg 16.*deletion_protection\s+=\s+false`),
			// (d) whole-stack replacement: name, then region
			refused(config("lcp-renamed", "tor1", "17", "", true), `Replacing stack lcp-renamed would delete protected\s+database "vectors".*deletion_protection\s+=\s+false`),
			refused(config("lcp", "ams3", "17", "", true), `Replacing stack lcp would delete protected\s+database\s+"vectors"`),
			{
				PreConfig: nothingChanged,
				Config:    config("lcp", "tor1", "17", "deletion_protection = false", true),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(stackAddr, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(stackAddr, tfjsonpath.New("databases").AtMapKey("vectors").AtMapKey("deletion_protection"), knownvalue.Bool(false)),
				},
			},
		},
	})
}

// ---- 3. retain_on_destroy leaves the database running, detached ----

func TestAccInferenceStackRetainOnDestroy(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	api := newLCAPI(t, srv)
	rec := &lcDiagRecorder{}
	config := lcStack(srv, "lcr", "tor1", lcCluster("")+fmt.Sprintf(`
  databases = {
    vectors = {
      engine            = "pg"
      size              = "db-s-2vcpu-4gb"
      retain_on_destroy = true
      dbs               = ["app"]
      users             = ["app"]
      pools = {
        app = { size = 5, db = "app", user = "app" }
      }
      trusted_sources = [{ type = "ip_addr", value = %q }]
    }
    cache = {
      engine              = "valkey"
      size                = "db-s-1vcpu-2gb"
      deletion_protection = false
    }
  }
`, lcStackRule))
	var clusterID, vectorsID string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: rec.factories(),
		CheckDestroy: func(*terraform.State) error {
			// Exactly the retained database (with its data: db, user, pool)
			// and the VPC it lives in remain.
			want := []string{
				"database_cluster lcr-vectors",
				"database_db app",
				"database_pool app",
				"database_user app",
				"vpc lcr-vpc",
			}
			err := waitFor("the inventory to hold only the retained database", func() error {
				if got := inventoryLines(srv); !slices.Equal(got, want) {
					return fmt.Errorf("inventory %v, want %v", got, want)
				}
				return nil
			})
			if err != nil {
				return err
			}
			db, _, err := api.c.Databases.Get(context.Background(), vectorsID)
			if err != nil {
				return fmt.Errorf("the retained database: %w", err)
			}
			if db.Status != "online" {
				return fmt.Errorf("the retained database is %s, want online", db.Status)
			}
			// Detached: the stack's rules (cluster and trusted source) are
			// gone, the foreign rule stays.
			rules, err := api.ruleSet(vectorsID)
			if err != nil {
				return err
			}
			if want := []string{"ip_addr:" + lcForeignRule}; !slices.Equal(rules, want) {
				return fmt.Errorf("firewall of the retained database = %v, want %v (destroyed cluster %s)", rules, want, clusterID)
			}
			if err := rec.expectWarning(true, `^The VPC is kept for databases left running: VPC .* is kept: databases \[vectors\]`)(context.Background()); err != nil {
				return err
			}
			// Clean up what the stack deliberately left.
			if _, err := api.c.Databases.Delete(context.Background(), vectorsID); err != nil {
				return fmt.Errorf("deleting the retained database: %w", err)
			}
			err = waitFor("the VPC to be deletable", func() error {
				_, err := api.c.VPCs.Delete(context.Background(), db.PrivateNetworkUUID)
				return err
			})
			if err != nil {
				return err
			}
			return inventoryEmpty(srv)(nil)
		},
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					lcStateCheck(func(v lcValues) error {
						clusterID, vectorsID = v.str("cluster_id"), v.str("databases", "vectors", "id")
						rules, err := api.ruleSet(vectorsID)
						if err != nil {
							return err
						}
						want := []string{"ip_addr:" + lcStackRule, "k8s:" + clusterID}
						if !slices.Equal(rules, want) {
							return fmt.Errorf("firewall = %v, want %v", rules, want)
						}
						return api.addRule(vectorsID, "ip_addr", lcForeignRule)
					}),
				},
			},
			{
				PreConfig: rec.reset,
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{lcEmptyPlan},
				},
			},
		},
	})
}

// ---- 4. attaching a database the stack does not own ----

func TestAccInferenceStackAttachExisting(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	api := newLCAPI(t, srv)
	ctx := context.Background()

	vpc, _, err := api.c.VPCs.Create(ctx, &godo.VPCCreateRequest{Name: "shared-vpc", RegionSlug: "tor1", IPRange: "10.30.0.0/20"})
	if err != nil {
		t.Fatal(err)
	}
	db, _, err := api.c.Databases.Create(ctx, &godo.DatabaseCreateRequest{
		Name: "shared-pg", EngineSlug: "pg", Version: "17", SizeSlug: "db-s-2vcpu-4gb", Region: "tor1", NumNodes: 2,
		PrivateNetworkUUID: vpc.ID,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := waitFor("shared-pg to be online", func() error {
		d, _, err := api.c.Databases.Get(ctx, db.ID)
		if err == nil && d.Status != "online" {
			err = fmt.Errorf("status %s", d.Status)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := api.addRule(db.ID, "ip_addr", lcForeignRule); err != nil {
		t.Fatal(err)
	}
	before := inventoryLines(srv)

	config := lcStack(srv, "lca", "tor1", fmt.Sprintf(`
  vpc_id = %q
`, vpc.ID)+lcCluster("")+fmt.Sprintf(`
  databases = {
    shared = {
      existing_id = %q
      users       = ["svc"]
      pools = {
        svc = { size = 5, user = "svc" }
      }
    }
  }
`, db.ID))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy: func(*terraform.State) error {
			// Only what the stack added is gone: the database, its VPC and
			// the foreign rule are as they were.
			err := waitFor("the inventory to be back to what existed before", func() error {
				if got := inventoryLines(srv); !slices.Equal(got, before) {
					return fmt.Errorf("inventory %v, want %v", got, before)
				}
				return nil
			})
			if err != nil {
				return err
			}
			rules, err := api.ruleSet(db.ID)
			if err != nil {
				return err
			}
			if want := []string{"ip_addr:" + lcForeignRule}; !slices.Equal(rules, want) {
				return fmt.Errorf("firewall after destroy = %v, want %v", rules, want)
			}
			if _, err := api.c.Databases.Delete(ctx, db.ID); err != nil {
				return err
			}
			if err := waitFor("the VPC to be deletable", func() error {
				_, err := api.c.VPCs.Delete(ctx, vpc.ID)
				return err
			}); err != nil {
				return err
			}
			return inventoryEmpty(srv)(nil)
		},
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(stackAddr, tfjsonpath.New("vpc_id"), knownvalue.StringExact(vpc.ID)),
					statecheck.ExpectKnownValue(stackAddr, tfjsonpath.New("databases").AtMapKey("shared").AtMapKey("id"), knownvalue.StringExact(db.ID)),
					statecheck.ExpectKnownValue(stackAddr, tfjsonpath.New("databases").AtMapKey("shared").AtMapKey("engine"), knownvalue.StringExact("pg")),
					lcStateCheck(func(v lcValues) error {
						cluster := v.str("cluster_id")
						rules, err := api.ruleSet(db.ID)
						if err != nil {
							return err
						}
						want := []string{"ip_addr:" + lcForeignRule, "k8s:" + cluster}
						if !slices.Equal(rules, want) {
							return fmt.Errorf("firewall = %v, want %v", rules, want)
						}
						if _, _, err := api.c.Databases.GetUser(ctx, db.ID, "svc"); err != nil {
							return fmt.Errorf("user svc: %w", err)
						}
						p, _, err := api.c.Databases.GetPool(ctx, db.ID, "svc")
						if err != nil {
							return fmt.Errorf("pool svc: %w", err)
						}
						if p.User != "svc" || p.Size != 5 {
							return fmt.Errorf("pool svc = user %s size %d", p.User, p.Size)
						}
						// The stack created no VPC and no database of its own.
						if n := srv.Inventory().Count("vpc"); n != 1 {
							return fmt.Errorf("%d VPCs, want only shared-vpc", n)
						}
						if n := srv.Inventory().Count("database_cluster"); n != 1 {
							return fmt.Errorf("%d database clusters, want only shared-pg", n)
						}
						return nil
					}),
				},
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{lcEmptyPlan},
				},
			},
		},
	})
}

// ---- 5. invalid configurations are refused at plan time ----

func TestAccInferenceStackPlanValidation(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	pg := `
  databases = {
    vectors = {
      engine = "pg"
      size   = "db-s-2vcpu-4gb"
      %s
    }
  }
`
	valkey := `
  databases = {
    cache = {
      engine = "valkey"
      size   = "db-s-1vcpu-2gb"
      %s
    }
  }
`
	gpu := func(pool string) string {
		return lcCluster(`
    gpu_pools = {
      accel = {
        ` + pool + `
      }
    }
`)
	}
	cases := []struct {
		name, stack, body, want string
	}{
		{"gpu size not in region", "lcv", gpu(`size = "gpu-mi300x1-192gb"
        max_nodes = 1`), `Node size not offered in the region.*gpu-mi300x1-192gb is not offered in tor1.*atl1`},
		{"unknown k8s version", "lcv", strings.Replace(lcCluster(""), `"1.33"`, `"1.99"`, 1), `Kubernetes version not offered.*No DOKS version matches "1\.99"`},
		{"unknown engine version", "lcv", lcCluster("") + fmt.Sprintf(pg, `version = "9"`), `Engine version not offered.*pg version "9" is not offered`},
		{"pool on valkey", "lcv", lcCluster("") + fmt.Sprintf(valkey, `pools = { app = { size = 5 } }`), `Connection pools need PostgreSQL.*pools`},
		{"eviction policy on pg", "lcv", lcCluster("") + fmt.Sprintf(pg, `eviction_policy = "allkeys_lru"`), `Eviction policy needs Valkey.*eviction_policy`},
		{"replicas on valkey", "lcv", lcCluster("") + fmt.Sprintf(valkey, `replicas = { r1 = {} }`), `Read replicas need PostgreSQL or MySQL.*replicas`},
		{"dbs on valkey", "lcv", lcCluster("") + fmt.Sprintf(valkey, `dbs = ["app"]`), `Logical databases not supported.*dbs`},
		{"mongodb with 2 nodes", "lcv", lcCluster("") + `
  databases = {
    docs = {
      engine     = "mongodb"
      size       = "db-s-2vcpu-4gb"
      node_count = 2
    }
  }
`, `Node count not offered.*mongodb clusters come with 1, 3 nodes, not 2`},
		// pg with two nodes does not come in the 1 GiB size.
		{"db size not offered", "lcv", lcCluster("") + fmt.Sprintf(pg, `node_count = 2
      size       = "db-s-1vcpu-1gb"`), `Database size not offered.*pg with 2 nodes does not come in size\s+"db-s-1vcpu-1gb"`},
		{"overlapping subnets", "lcv", lcCluster(`
    cluster_subnet = "10.100.0.0/16"
    service_subnet = "10.100.128.0/20"`), `Overlapping networks.*10\.100\.128\.0/20 overlaps 10\.100\.0\.0/16`},
		{"public vpc range", "lcv", `  vpc_ip_range = "8.8.0.0/16"` + lcCluster(""), `CIDR is not private.*8\.8\.0\.0/16`},
		{"node_count and max_nodes", "lcv", gpu(`size = "gpu-h100x1-80gb"
        node_count = 1
        max_nodes  = 2`), `Fixed and autoscaled at once.*node_count`},
		{"min above max", "lcv", gpu(`size = "gpu-h100x1-80gb"
        min_nodes = 3
        max_nodes = 2`), `Autoscaling bounds inverted.*min_nodes \(3\) is above max_nodes \(2\)`},
		{"bad taint effect", "lcv", gpu(`size = "gpu-h100x1-80gb"
        max_nodes = 2
        taints = [{ key = "dedicated", effect = "Sometimes" }]`), `Invalid Attribute Value Match.*taints\[0\]\.effect`},
		{"uppercase stack name", "Lcv", lcCluster(""), `Invalid Attribute Value Match.*name.*lowercase`},
		{"bad database key", "lcv", lcCluster("") + `
  databases = {
    Vectors = {
      engine = "pg"
      size   = "db-s-2vcpu-4gb"
    }
  }
`, `databases.*must be 2-20 lowercase letters`},
		{"bad maintenance start", "lcv", lcCluster(`
    maintenance_window = { start_time = "25:00" }`), `Invalid Attribute Value Match.*cluster\.maintenance_window\.start_time.*HH:MM`},
	}
	var steps []resource.TestStep
	noWrites := func() {
		if w := lcWrites(srv); len(w) > 0 {
			t.Fatalf("a refused plan made write requests: %v", w)
		}
		if !srv.Inventory().Empty() {
			t.Fatalf("a refused plan created something:\n%s", srv.Inventory())
		}
	}
	for _, c := range cases {
		steps = append(steps, resource.TestStep{
			PreConfig:   noWrites,
			Config:      lcStack(srv, c.stack, "tor1", c.body),
			PlanOnly:    true,
			ExpectError: regexp.MustCompile(`(?s)` + c.want),
		})
	}
	// A valid configuration plans (proving the cases fail for their own
	// reason, not the shared scaffolding).
	steps = append(steps, resource.TestStep{
		PreConfig: noWrites,
		Config: lcStack(srv, "lcv", "tor1", gpu(`size = "gpu-h100x1-80gb"
        max_nodes = 2`)+fmt.Sprintf(pg, `node_count = 2`)),
		PlanOnly:           true,
		ExpectNonEmptyPlan: true,
	})
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy: func(*terraform.State) error {
			noWrites()
			return nil
		},
		Steps: steps,
	})
}

// ---- 6. in-place updates replace nothing ----

func TestAccInferenceStackInPlaceUpdates(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	api := newLCAPI(t, srv)
	type shape struct {
		gpu           bool
		gpuSize       string
		gpuLabels     string
		systemNodes   int
		dbSize        string
		dbNodes       int
		extraPoolUser bool
		trusted       string
		clusterDay    string
		clusterStart  string
		dbDay, dbHour string
	}
	config := func(s shape) string {
		gpu := ""
		if s.gpu {
			gpu = fmt.Sprintf(`
    gpu_pools = {
      accel = {
        size      = %q
        max_nodes = 2
        labels    = %s
      }
    }`, s.gpuSize, s.gpuLabels)
		}
		users, pools := `["app"]`, `app = { size = 10, db = "app", user = "app" }`
		if s.extraPoolUser {
			users = `["app", "reporter"]`
			pools += `
        reports = { size = 3, mode = "session", db = "app", user = "reporter" }`
		}
		return lcStack(srv, "lcu", "tor1", fmt.Sprintf(`
  cluster = {
    version = "1.33"
    maintenance_window = {
      day        = %q
      start_time = %q
    }
    system_pool = {
      size       = "s-2vcpu-4gb"
      node_count = %d
    }%s
  }
  databases = {
    vectors = {
      engine              = "pg"
      size                = %q
      node_count          = %d
      deletion_protection = false
      dbs                 = ["app"]
      users               = %s
      pools = {
        %s
      }
      trusted_sources = [{ type = "ip_addr", value = %q }]
      maintenance_window = {
        day  = %q
        hour = %q
      }
    }
  }
`, s.clusterDay, s.clusterStart, s.systemNodes, gpu, s.dbSize, s.dbNodes, users, pools, s.trusted, s.dbDay, s.dbHour))
	}
	base := shape{systemNodes: 2, dbSize: "db-s-2vcpu-4gb", dbNodes: 2, trusted: lcStackRule,
		clusterDay: "sunday", clusterStart: "04:00", dbDay: "sunday", dbHour: "03:00"}

	sameCluster := statecheck.CompareValue(compare.ValuesSame())
	sameDB := statecheck.CompareValue(compare.ValuesSame())
	ctx := context.Background()
	dbID := func() string {
		db, err := api.dbByName("lcu-vectors")
		if err != nil {
			t.Fatal(err)
		}
		return db.ID
	}
	// nothingReplaced: one cluster and one database, ever.
	nothingReplaced := func() error {
		inv := srv.Inventory()
		if inv.Count("kubernetes_cluster") != 1 || inv.Count("database_cluster") != 1 {
			return fmt.Errorf("something was replaced:\n%s", inv)
		}
		return nil
	}
	step := func(s shape, verify func(v lcValues) error) resource.TestStep {
		return resource.TestStep{
			Config: config(s),
			ConfigPlanChecks: resource.ConfigPlanChecks{
				PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(stackAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(stackAddr, tfjsonpath.New("cluster_id"), knownvalue.NotNull()),
					plancheck.ExpectKnownValue(stackAddr, tfjsonpath.New("databases").AtMapKey("vectors").AtMapKey("id"), knownvalue.NotNull()),
				},
				PostApplyPostRefresh: []plancheck.PlanCheck{lcEmptyPlan},
			},
			ConfigStateChecks: []statecheck.StateCheck{
				sameCluster.AddStateValue(stackAddr, tfjsonpath.New("cluster_id")),
				sameDB.AddStateValue(stackAddr, tfjsonpath.New("databases").AtMapKey("vectors").AtMapKey("id")),
				lcStateCheck(func(v lcValues) error {
					if err := nothingReplaced(); err != nil {
						return err
					}
					return verify(v)
				}),
			},
		}
	}
	cluster := func(v lcValues) (*godo.KubernetesCluster, error) {
		c, _, err := api.c.Kubernetes.Get(ctx, v.str("cluster_id"))
		return c, err
	}
	pool := func(c *godo.KubernetesCluster, name string) *godo.KubernetesNodePool {
		for _, p := range c.NodePools {
			if p.Name == name {
				return p
			}
		}
		return nil
	}

	s1 := base
	s2 := s1
	s2.gpu, s2.gpuSize, s2.gpuLabels = true, "gpu-h100x1-80gb", `{ workload = "inference" }`
	s3 := s2
	s3.systemNodes = 3
	s4 := s3
	s4.dbSize, s4.dbNodes = "db-s-4vcpu-8gb", 3
	s5 := s4
	s5.extraPoolUser = true
	s6 := s5
	s6.trusted = lcOtherRule
	s7 := s6
	s7.clusterDay, s7.clusterStart, s7.dbDay, s7.dbHour = "monday", "06:30", "tuesday", "05:00"

	// A new GPU size replaces the pool (new pool first), not the cluster;
	// labels change in place; a pool taken out of the configuration goes.
	s8 := s7
	s8.gpuSize, s8.gpuLabels = "gpu-l40sx1-48gb", `{ workload = "batch", tier = "b" }`
	s9 := s8
	s9.gpu = false

	first := step(s1, func(v lcValues) error { return nil })
	first.ConfigPlanChecks.PreApply = []plancheck.PlanCheck{plancheck.ExpectResourceAction(stackAddr, plancheck.ResourceActionCreate)}

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             inventoryEmpty(srv),
		Steps: []resource.TestStep{
			first,
			step(s2, func(v lcValues) error {
				c, err := cluster(v)
				if err != nil {
					return err
				}
				p := pool(c, "accel")
				if p == nil || p.Size != "gpu-h100x1-80gb" || !p.AutoScale || p.MaxNodes != 2 || p.Labels["workload"] != "inference" {
					return fmt.Errorf("GPU pool accel = %+v", p)
				}
				return nil
			}),
			step(s3, func(v lcValues) error {
				c, err := cluster(v)
				if err != nil {
					return err
				}
				if p := pool(c, "system"); p == nil || p.Count != 3 || len(p.Nodes) != 3 {
					return fmt.Errorf("system pool = %+v", p)
				}
				return nil
			}),
			step(s4, func(v lcValues) error {
				db, _, err := api.c.Databases.Get(ctx, dbID())
				if err != nil {
					return err
				}
				if db.SizeSlug != "db-s-4vcpu-8gb" || db.NumNodes != 3 {
					return fmt.Errorf("database is %s x%d, want db-s-4vcpu-8gb x3", db.SizeSlug, db.NumNodes)
				}
				return nil
			}),
			step(s5, func(v lcValues) error {
				id := dbID()
				if _, _, err := api.c.Databases.GetUser(ctx, id, "reporter"); err != nil {
					return fmt.Errorf("user reporter: %w", err)
				}
				p, _, err := api.c.Databases.GetPool(ctx, id, "reports")
				if err != nil {
					return fmt.Errorf("pool reports: %w", err)
				}
				if p.Mode != "session" || p.Size != 3 || p.User != "reporter" || p.Database != "app" {
					return fmt.Errorf("pool reports = %+v", p)
				}
				return nil
			}),
			step(s6, func(v lcValues) error {
				rules, err := api.ruleSet(dbID())
				if err != nil {
					return err
				}
				want := []string{"ip_addr:" + lcOtherRule, "k8s:" + v.str("cluster_id")}
				if !slices.Equal(rules, want) {
					return fmt.Errorf("firewall = %v, want %v", rules, want)
				}
				return nil
			}),
			step(s7, func(v lcValues) error {
				c, err := cluster(v)
				if err != nil {
					return err
				}
				if mp := c.MaintenancePolicy; mp == nil || mp.Day.String() != "monday" || mp.StartTime != "06:30" {
					return fmt.Errorf("cluster maintenance policy = %+v", mp)
				}
				db, _, err := api.c.Databases.Get(ctx, dbID())
				if err != nil {
					return err
				}
				if mw := db.MaintenanceWindow; mw == nil || mw.Day != "tuesday" || strings.TrimSuffix(mw.Hour, ":00") != "05:00" {
					return fmt.Errorf("database maintenance window = %+v", mw)
				}
				return nil
			}),
			step(s8, func(v lcValues) error {
				return waitFor("one GPU pool of the new size", func() error {
					c, err := cluster(v)
					if err != nil {
						return err
					}
					var gpuPools []string
					for _, p := range c.NodePools {
						if p.Name != "system" {
							labels := map[string]string{}
							for k, v := range p.Labels {
								if !strings.HasPrefix(k, "doks.digitalocean.com/") && k != "attach.dev/pool" {
									labels[k] = v
								}
							}
							// The pool's key, stable across the replacement.
							if p.Labels["attach.dev/pool"] != "accel" {
								return fmt.Errorf("pool %s labels %v: want attach.dev/pool=accel", p.Name, p.Labels)
							}
							gpuPools = append(gpuPools, fmt.Sprintf("%s %s %v", p.Name, p.Size, labels))
						}
					}
					want := []string{"accel-b gpu-l40sx1-48gb map[tier:b workload:batch]"}
					if !slices.Equal(gpuPools, want) {
						return fmt.Errorf("GPU pools %v, want %v", gpuPools, want)
					}
					return nil
				})
			}),
			step(s9, func(v lcValues) error {
				return waitFor("the GPU pool to go", func() error {
					c, err := cluster(v)
					if err != nil {
						return err
					}
					if len(c.NodePools) != 1 || c.NodePools[0].Name != "system" || c.NodePools[0].Count != 3 {
						return fmt.Errorf("pools %+v, want only system x3", c.NodePools)
					}
					return nil
				})
			}),
		},
	})
}

// ---- 3b. retain_on_destroy on removal, and destroy with a detached
// database still in the stack's VPC ----

func TestAccInferenceStackRetainOnRemoval(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	api := newLCAPI(t, srv)
	rec := &lcDiagRecorder{}
	config := func(withArchive bool) string {
		archive := ""
		if withArchive {
			archive = `
    archive = {
      engine            = "pg"
      size              = "db-s-2vcpu-4gb"
      retain_on_destroy = true
    }`
		}
		return lcStack(srv, "lco", "tor1", `
  timeouts = { delete = "30s" }
`+lcCluster("")+fmt.Sprintf(`
  databases = {%s
    cache = {
      engine              = "valkey"
      size                = "db-s-1vcpu-2gb"
      deletion_protection = false
    }
  }
`, archive))
	}
	var archiveID, clusterID string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: rec.factories(),
		CheckDestroy: func(*terraform.State) error {
			// The detached database still lives in the stack's VPC, so
			// destroy keeps the VPC (and says so) rather than waiting on it.
			want := []string{"database_cluster lco-archive", "vpc lco-vpc"}
			if err := waitFor("only the detached database and its VPC", func() error {
				if got := inventoryLines(srv); !slices.Equal(got, want) {
					return fmt.Errorf("inventory %v, want %v", got, want)
				}
				return nil
			}); err != nil {
				return err
			}
			if err := rec.expectWarning(true, `VPC .* is kept`)(context.Background()); err != nil {
				return err
			}
			db, _, err := api.c.Databases.Get(context.Background(), archiveID)
			if err != nil {
				return err
			}
			if _, err := api.c.Databases.Delete(context.Background(), archiveID); err != nil {
				return err
			}
			if err := waitFor("the VPC to be deletable", func() error {
				_, err := api.c.VPCs.Delete(context.Background(), db.PrivateNetworkUUID)
				return err
			}); err != nil {
				return err
			}
			return inventoryEmpty(srv)(nil)
		},
		Steps: []resource.TestStep{
			{
				Config: config(true),
				ConfigStateChecks: []statecheck.StateCheck{
					lcStateCheck(func(v lcValues) error {
						archiveID, clusterID = v.str("databases", "archive", "id"), v.str("cluster_id")
						return api.addRule(archiveID, "ip_addr", lcForeignRule)
					}),
				},
			},
			{
				// Removing a retained database detaches it; nothing is deleted.
				Config: config(false),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(stackAddr, plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{lcEmptyPlan},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					lcStateCheck(func(v lcValues) error {
						db, _, err := api.c.Databases.Get(context.Background(), archiveID)
						if err != nil {
							return fmt.Errorf("the removed, retained database: %w", err)
						}
						if db.Status != "online" {
							return fmt.Errorf("the retained database is %s", db.Status)
						}
						rules, err := api.ruleSet(archiveID)
						if err != nil {
							return err
						}
						if want := []string{"ip_addr:" + lcForeignRule}; !slices.Equal(rules, want) {
							return fmt.Errorf("firewall of the detached database = %v, want %v (cluster %s)", rules, want, clusterID)
						}
						rec.reset()
						return nil
					}),
				},
			},
		},
	})
}
