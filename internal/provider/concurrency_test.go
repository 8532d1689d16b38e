package provider

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
)

// Issue 5: two stacks and an attachment touching the same database
// firewall, applied concurrently, end with every rule present.
//
// Stack A owns a pg database. Stack B (on A's VPC) attaches it with
// existing_id and an attach_database_attachment trusts a third cluster on
// it, each in its own Terraform run (its own provider configuration, so no
// shared lock: separate workspaces). A foreign rule is on the firewall too.
//
// Overlap is forced, not hoped for: each workspace reaches the API through
// its own endpoint, and a gate holds each workspace's first firewall write
// of a round until the other workspace's write has arrived too. Both writes
// were then computed from a read taken before either landed; the gate lands
// them one after the other and answers neither before both have landed, so
// the second write drops the first writer's rule (the lost update of a
// whole-set PUT) every time, and the first writer must notice after its
// settle delay and re-apply. The same happens to the two removals on
// destroy, where the second write brings back the rule the first removed.
func TestAccConcurrentStacksAndAttachmentShareAFirewall(t *testing.T) {
	// The gate answers a held write only after both landed, so any settle
	// delay outlasts the other writer's read-to-write window.
	t.Setenv("ATTACH_FIREWALL_SETTLE", "100ms")
	srv := startEmulator(t, emulator.Config{})
	api := concGodo(t, srv)
	ctx := context.Background()
	gate := newFirewallGate(srv.Emulator)
	stackB := gate.endpoint(t, "stack B")
	attachment := gate.endpoint(t, "attachment")

	configA := providerBlock(srv) + `
resource "attach_inference_stack" "a" {
  name   = "conc-a"
  region = "tor1"
` + lcCluster("") + `
  databases = {
    main = {
      engine              = "pg"
      size                = "db-s-2vcpu-4gb"
      deletion_protection = false
    }
  }
}
`
	var (
		vpcID, dbID, clusterA string
		thirdCluster          string
	)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             inventoryEmpty(srv),
		Steps: []resource.TestStep{
			{
				Config: configA,
				Check: func(s *terraform.State) error {
					attrs := s.RootModule().Resources["attach_inference_stack.a"].Primary.Attributes
					vpcID, dbID, clusterA = attrs["vpc_id"], attrs["databases.main.id"], attrs["cluster_id"]
					if vpcID == "" || dbID == "" || clusterA == "" {
						return fmt.Errorf("stack A's state lacks vpc_id, databases.main.id or cluster_id: %v", attrs)
					}
					return nil
				},
			},
			{
				// Everything else happens while stack A exists, then A's
				// next plan must be empty: nothing it owns was disturbed.
				PreConfig: func() {
					thirdCluster = concCreateCluster(t, api, vpcID)
					concAddRule(t, api, dbID, concForeignRule)
					start := time.Now()
					concurrentWorkspaces(t, srv, api, gate, dbID, vpcID, clusterA, thirdCluster, stackB, attachment)
					t.Logf("stack B and the attachment, applied and destroyed concurrently: %s", time.Since(start).Round(time.Millisecond))
					// The third cluster goes before A, whose VPC it is on.
					if _, err := api.Kubernetes.Delete(ctx, thirdCluster); err != nil {
						t.Fatalf("deleting the third cluster: %v", err)
					}
					attWaitFor(t, "the third cluster to be gone", func() bool {
						_, resp, err := api.Kubernetes.Get(ctx, thirdCluster)
						return err != nil && resp != nil && resp.StatusCode == http.StatusNotFound
					})
				},
				Config: configA,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: func(*terraform.State) error {
					return concWantRules(t, api, dbID, "k8s:"+clusterA, concForeignRule.key())
				},
			},
		},
	})
}

// concurrentWorkspaces runs stack B and the attachment in two goroutines,
// each its own resource.Test: apply together, check every rule, destroy
// together, check only A's and the foreign rule remain.
func concurrentWorkspaces(t *testing.T, srv *emulator.Server, api *godo.Client, gate *firewallGate, dbID, vpcID, clusterA, thirdCluster string, stackB, attachment *gateEndpoint) {
	configB := stackB.providerBlock(srv) + fmt.Sprintf(`
resource "attach_inference_stack" "b" {
  name   = "conc-b"
  region = "tor1"
  vpc_id = %q
`+lcCluster("")+`
  databases = {
    shared = {
      existing_id = %q
    }
  }
}
`, vpcID, dbID)
	configAttachment := attachment.providerBlock(srv) + fmt.Sprintf(`
resource "attach_database_attachment" "third" {
  database_id = %q
  cluster_id  = %q
}
`, dbID, thirdCluster)

	var (
		mu       sync.Mutex
		clusterB string
	)
	// A workspace that ends (fails) early must not leave the other one
	// waiting at a rendezvous or at the gate.
	gone := make(chan struct{})
	var goneOnce sync.Once
	applied := newRendezvous(2, gone, nil)
	destroying := newRendezvous(2, gone, func() { gate.arm("destroy", stackB, attachment) })

	workspace := func(name, config string, onApplied func(*terraform.State) error) {
		defer goneOnce.Do(func() { close(gone) })
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
			Steps: []resource.TestStep{
				{
					Config: config,
					Check: func(s *terraform.State) error {
						if err := onApplied(s); err != nil {
							return err
						}
						if !applied.arrive() {
							return fmt.Errorf("%s: the other workspace did not finish its apply", name)
						}
						// Both applies are done: every writer's rule is there.
						mu.Lock()
						b := clusterB
						mu.Unlock()
						return concWantRules(t, api, dbID, "k8s:"+clusterA, "k8s:"+b, "k8s:"+thirdCluster, concForeignRule.key())
					},
					ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				},
				{
					// Removing the resource from the configuration destroys
					// it in this step, so both destroys can be lined up.
					PreConfig: func() {
						if !destroying.arrive() {
							t.Errorf("%s: the other workspace did not reach its destroy", name)
						}
					},
					Config: strings.SplitN(config, "\nresource ", 2)[0],
				},
			},
		})
	}
	gate.arm("apply", stackB, attachment)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		workspace("stack B", configB, func(s *terraform.State) error {
			id := s.RootModule().Resources["attach_inference_stack.b"].Primary.Attributes["cluster_id"]
			if id == "" {
				return fmt.Errorf("stack B has no cluster_id")
			}
			mu.Lock()
			clusterB = id
			mu.Unlock()
			return nil
		})
	}()
	go func() {
		defer wg.Done()
		workspace("attachment", configAttachment, func(*terraform.State) error { return nil })
	}()
	wg.Wait()
	if t.Failed() {
		return
	}

	// B's and the attachment's rules are gone, A's and the foreign one
	// stay.
	if err := concWantRules(t, api, dbID, "k8s:"+clusterA, concForeignRule.key()); err != nil {
		t.Error(err)
	}
	t.Logf("firewall PUTs at the emulator: %d", srv.RequestCounts()["PUT /v2/databases/{database_cluster_uuid}/firewall"])
	for _, round := range gate.rounds() {
		t.Logf("%s: firewall writes landed in the order %v; PUTs per workspace %v", round.name, round.order, round.puts)
		if round.timedOut {
			t.Errorf("%s: the gate gave up waiting for both writers (order %v): no overlap was forced", round.name, round.order)
			continue
		}
		// The first write to land was overwritten by the second, computed
		// from the same read: its writer must have noticed and re-applied
		// once; the second writer's write stood.
		first, second := round.order[0], round.order[1]
		if round.puts[first] != 2 || round.puts[second] != 1 {
			t.Errorf("%s: want the overwritten writer (%s) to repair its lost update with exactly one more PUT and %s to write once; PUTs %v",
				round.name, first, second, round.puts)
		}
	}
}

// ---- a gate that forces two workspaces' firewall writes to overlap ----

var firewallPath = regexp.MustCompile(`^/v2/databases/[^/]+/firewall$`)

// firewallGate fronts the emulator with one endpoint per workspace.
type firewallGate struct {
	api http.Handler

	mu      sync.Mutex
	current *gateRound
	done    []*gateRound
}

type gateEndpoint struct {
	name string
	url  string
}

func (e *gateEndpoint) providerBlock(srv *emulator.Server) string {
	return fmt.Sprintf(`
provider "attach" {
  token               = %q
  api_endpoint        = %q
  http_retry_wait_min = 0
  http_retry_wait_max = 1
}
`, srv.Token, e.url)
}

// gateRound holds the first firewall write of each expected writer until
// all have arrived, then lands them in arrival order and answers them once
// all have landed.
type gateRound struct {
	name     string
	expected map[string]bool
	order    []string       // writers in arrival (= landing) order
	puts     map[string]int // firewall PUTs per writer during the round
	timedOut bool
	allIn    chan struct{}
	turns    []chan struct{} // turns[i] closed: the i-th held write may land
}

// gateWait bounds how long a held write waits for the other writer.
const gateWait = 30 * time.Second

func newFirewallGate(api http.Handler) *firewallGate { return &firewallGate{api: api} }

func (g *firewallGate) endpoint(t *testing.T, name string) *gateEndpoint {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && firewallPath.MatchString(r.URL.Path) {
			g.write(name, w, r)
			return
		}
		g.api.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return &gateEndpoint{name: name, url: s.URL}
}

// arm starts a round for the given writers.
func (g *firewallGate) arm(name string, writers ...*gateEndpoint) {
	r := &gateRound{name: name, expected: map[string]bool{}, puts: map[string]int{}, allIn: make(chan struct{})}
	for _, w := range writers {
		r.expected[w.name] = true
	}
	r.turns = make([]chan struct{}, len(writers)+1)
	for i := range r.turns {
		r.turns[i] = make(chan struct{})
	}
	close(r.turns[0])
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.current != nil {
		g.done = append(g.done, g.current)
	}
	g.current = r
}

func (g *firewallGate) rounds() []*gateRound {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := append([]*gateRound(nil), g.done...)
	if g.current != nil {
		out = append(out, g.current)
	}
	return out
}

func (g *firewallGate) write(writer string, w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	round := g.current
	held := -1
	if round != nil {
		round.puts[writer]++
		if round.expected[writer] && !containsString(round.order, writer) {
			held = len(round.order)
			round.order = append(round.order, writer)
			if len(round.order) == len(round.expected) {
				close(round.allIn)
			}
		}
	}
	g.mu.Unlock()
	if held < 0 {
		g.api.ServeHTTP(w, r)
		return
	}
	select {
	case <-round.allIn:
	case <-time.After(gateWait):
		g.mu.Lock()
		round.timedOut = true
		g.mu.Unlock()
		g.api.ServeHTTP(w, r)
		return
	}
	<-round.turns[held]
	rec := httptest.NewRecorder()
	g.api.ServeHTTP(rec, r)
	close(round.turns[held+1])
	<-round.turns[len(round.expected)] // every held write has landed
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// rendezvous lets n goroutines wait for each other; onComplete runs once,
// before anyone is released. arrive reports false when a participant is
// gone or the wait timed out.
type rendezvous struct {
	mu         sync.Mutex
	n          int
	all        chan struct{}
	gone       <-chan struct{}
	onComplete func()
}

func newRendezvous(n int, gone <-chan struct{}, onComplete func()) *rendezvous {
	return &rendezvous{n: n, all: make(chan struct{}), gone: gone, onComplete: onComplete}
}

func (r *rendezvous) arrive() bool {
	r.mu.Lock()
	r.n--
	if r.n == 0 {
		if r.onComplete != nil {
			r.onComplete()
		}
		close(r.all)
	}
	r.mu.Unlock()
	select {
	case <-r.all:
		return true
	case <-r.gone:
		return false
	case <-time.After(gateWait):
		return false
	}
}

// ---- API helpers ----

type concRule struct{ typ, value string }

func (r concRule) key() string { return r.typ + ":" + r.value }

var concForeignRule = concRule{"ip_addr", "198.51.100.23"}

func concGodo(t *testing.T, srv *emulator.Server) *godo.Client {
	t.Helper()
	api, err := godo.New(&http.Client{Transport: attBearer(srv.Token)}, godo.SetBaseURL(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	return api
}

func concCreateCluster(t *testing.T, api *godo.Client, vpcID string) string {
	t.Helper()
	ctx := context.Background()
	c, _, err := api.Kubernetes.Create(ctx, &godo.KubernetesClusterCreateRequest{Name: "conc-third", RegionSlug: "tor1", VersionSlug: "latest", VPCUUID: vpcID,
		NodePools: []*godo.KubernetesNodePoolCreateRequest{{Name: "p", Size: "s-2vcpu-4gb", Count: 1}}})
	if err != nil {
		t.Fatalf("creating the third cluster: %v", err)
	}
	attWaitFor(t, "the third cluster to run", func() bool {
		c, _, err := api.Kubernetes.Get(ctx, c.ID)
		return err == nil && c.Status != nil && c.Status.State == godo.KubernetesClusterStatusRunning
	})
	return c.ID
}

// concAddRule adds a rule the way another tool would: read, add, write.
func concAddRule(t *testing.T, api *godo.Client, dbID string, rule concRule) {
	t.Helper()
	ctx := context.Background()
	current, _, err := api.Databases.GetFirewallRules(ctx, dbID)
	if err != nil {
		t.Fatal(err)
	}
	next := []*godo.DatabaseFirewallRule{{Type: rule.typ, Value: rule.value}}
	for _, r := range current {
		next = append(next, &godo.DatabaseFirewallRule{Type: r.Type, Value: r.Value})
	}
	if _, err := api.Databases.UpdateFirewallRules(ctx, dbID, &godo.DatabaseUpdateFirewallRulesRequest{Rules: next}); err != nil {
		t.Fatal(err)
	}
}

// concWantRules checks the firewall holds exactly want.
func concWantRules(t *testing.T, api *godo.Client, dbID string, want ...string) error {
	t.Helper()
	rules, _, err := api.Databases.GetFirewallRules(context.Background(), dbID)
	if err != nil {
		return err
	}
	got := make([]string, 0, len(rules))
	for _, r := range rules {
		got = append(got, r.Type+":"+r.Value)
	}
	sort.Strings(got)
	want = append([]string(nil), want...)
	sort.Strings(want)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		return fmt.Errorf("firewall of %s = %v, want %v", dbID, got, want)
	}
	return nil
}
