package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
	"github.com/attach-labs/terraform-provider-attach/internal/stack"
)

// Drift, defaults, partial failure and import of attach_inference_stack,
// proved against the emulator: every part changed outside Terraform shows
// in the next plan and is repaired by apply; defaults never cause a diff; a
// failed create leaves every object in state and a clean destroy; import
// by name reproduces the state a configuration would give.

// driftConfig is the quickstart shape, unprotected so the test can destroy
// it, with a second managed user (one no pool depends on, so it can be
// deleted out of band) and a read replica.
func driftConfig(srv *emulator.Server) string {
	return providerBlock(srv) + `
resource "attach_inference_stack" "test" {
  name   = "acc"
  region = "tor1"
  tags   = ["team-ml"]

  cluster = {
    version = "1.33"
    maintenance_window = {
      day        = "sunday"
      start_time = "04:00"
    }
    system_pool = {
      size       = "s-2vcpu-4gb"
      node_count = 2
    }
    gpu_pools = {
      h100 = {
        size      = "gpu-h100x1-80gb"
        min_nodes = 0
        max_nodes = 2
        labels    = { workload = "inference" }
      }
    }
  }

  databases = {
    vectors = {
      engine              = "pg"
      version             = "17"
      size                = "db-s-2vcpu-4gb"
      dbs                 = ["app"]
      users               = ["app", "reader"]
      deletion_protection = false
      pools = {
        app = { size = 10, db = "app", user = "app" }
      }
      replicas = {
        ro = {}
      }
      trusted_sources = [{ type = "ip_addr", value = "203.0.113.10" }]
    }
    cache = {
      engine              = "valkey"
      size                = "db-s-1vcpu-2gb"
      eviction_policy     = "allkeys_lru"
      deletion_protection = false
    }
  }
}
`
}

// testGodo is a godo client on the emulator, for changes made outside
// Terraform.
func testGodo(t *testing.T, srv *emulator.Server) *godo.Client {
	t.Helper()
	c, err := godo.New(&http.Client{Timeout: 30 * time.Second, Transport: tokenTransport{token: srv.Token}}, godo.SetBaseURL(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type tokenTransport struct{ token string }

func (b tokenTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

// outOfBand reaches the emulator as a person with the console would.
type outOfBand struct {
	t   *testing.T
	api *godo.Client
}

func (o outOfBand) must(err error, what string) {
	o.t.Helper()
	if err != nil {
		o.t.Fatalf("out-of-band %s: %v", what, err)
	}
}

func (o outOfBand) cluster(name string) *godo.KubernetesCluster {
	o.t.Helper()
	list, _, err := o.api.Kubernetes.List(context.Background(), &godo.ListOptions{PerPage: 200})
	o.must(err, "listing clusters")
	for _, c := range list {
		if c.Name == name {
			return c
		}
	}
	o.t.Fatalf("no cluster named %s", name)
	return nil
}

func (o outOfBand) pool(c *godo.KubernetesCluster, name string) *godo.KubernetesNodePool {
	o.t.Helper()
	for _, p := range c.NodePools {
		if p.Name == name {
			return p
		}
	}
	o.t.Fatalf("cluster %s has no pool %s", c.Name, name)
	return nil
}

func (o outOfBand) database(name string) *godo.Database {
	o.t.Helper()
	list, _, err := o.api.Databases.List(context.Background(), &godo.ListOptions{PerPage: 200})
	o.must(err, "listing databases")
	for i := range list {
		if list[i].Name == name {
			return &list[i]
		}
	}
	o.t.Fatalf("no database named %s", name)
	return nil
}

func (o outOfBand) rules(dbID string) []godo.DatabaseFirewallRule {
	o.t.Helper()
	rules, _, err := o.api.Databases.GetFirewallRules(context.Background(), dbID)
	o.must(err, "reading firewall rules")
	return rules
}

// hasRule reports whether rules hold typ:value.
func hasRule(rules []godo.DatabaseFirewallRule, typ, value string) bool {
	return slices.ContainsFunc(rules, func(r godo.DatabaseFirewallRule) bool { return r.Type == typ && r.Value == value })
}

// stateAttr reads a flatmap attribute of the stack from state.
func stateAttr(s *terraform.State, key string) (string, error) {
	rs, ok := s.RootModule().Resources[stackAddr]
	if !ok || rs.Primary == nil {
		return "", fmt.Errorf("%s is not in state", stackAddr)
	}
	v, ok := rs.Primary.Attributes[key]
	if !ok {
		return "", fmt.Errorf("%s has no attribute %s in state", stackAddr, key)
	}
	return v, nil
}

// driftStep is a step with the unchanged configuration after an
// out-of-band change: the plan must propose an in-place update (drift seen,
// nothing replaced), apply must repair it, and the plan after must be
// empty.
func driftStep(cfg string, change func(), extra ...plancheck.PlanCheck) resource.TestStep {
	return resource.TestStep{
		PreConfig: change,
		Config:    cfg,
		ConfigPlanChecks: resource.ConfigPlanChecks{
			PreApply: append([]plancheck.PlanCheck{
				plancheck.ExpectNonEmptyPlan(),
				plancheck.ExpectResourceAction(stackAddr, plancheck.ResourceActionUpdate),
			}, extra...),
			PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
		},
	}
}

func dbPath(key string, attr ...string) tfjsonpath.Path {
	p := tfjsonpath.New("databases").AtMapKey(key)
	for _, a := range attr {
		p = p.AtMapKey(a)
	}
	return p
}

func TestAccInferenceStackDrift(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	oob := outOfBand{t: t, api: testGodo(t, srv)}
	cfg := driftConfig(srv)
	ctx := context.Background()

	// Ids that must never change through drift repair (databases), and the
	// cluster id, which changes only when the cluster itself was lost.
	vectorsID := statecheck.CompareValue(compare.ValuesSame())
	cacheID := statecheck.CompareValue(compare.ValuesSame())
	vpcID := statecheck.CompareValue(compare.ValuesSame())
	clusterID := statecheck.CompareValue(compare.ValuesSame())
	ids := func() []statecheck.StateCheck {
		return []statecheck.StateCheck{
			vectorsID.AddStateValue(stackAddr, dbPath("vectors", "id")),
			cacheID.AddStateValue(stackAddr, dbPath("cache", "id")),
			vpcID.AddStateValue(stackAddr, tfjsonpath.New("vpc_id")),
		}
	}
	// The cluster id before the cluster is deleted out of band.
	clusterIDChange := statecheck.CompareValue(compare.ValuesDiffer())

	var oldPoolID, oldClusterID, oldReaderPassword string
	const foreignIP = "198.51.100.7"

	steps := []resource.TestStep{
		{
			Config:            cfg,
			ConfigStateChecks: append(ids(), clusterID.AddStateValue(stackAddr, tfjsonpath.New("cluster_id"))),
			ConfigPlanChecks: resource.ConfigPlanChecks{
				PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
			},
			Check: func(s *terraform.State) error {
				var err error
				oldReaderPassword, err = stateAttr(s, "connection_env.VECTORS_READER_PASSWORD")
				return err
			},
		},
	}

	// (a) The stack's k8s rule is removed from a database while someone adds
	// their own rule: the plan shows the database no longer trusting the
	// cluster; apply restores the rule and keeps the foreign one.
	a := driftStep(cfg, func() {
		db := oob.database("acc-vectors")
		var next []*godo.DatabaseFirewallRule
		for _, r := range oob.rules(db.ID) {
			if r.Type != "k8s" {
				next = append(next, &godo.DatabaseFirewallRule{UUID: r.UUID, Type: r.Type, Value: r.Value})
			}
		}
		next = append(next, &godo.DatabaseFirewallRule{Type: "ip_addr", Value: foreignIP})
		_, err := oob.api.Databases.UpdateFirewallRules(ctx, db.ID, &godo.DatabaseUpdateFirewallRulesRequest{Rules: next})
		oob.must(err, "removing the k8s rule")
	}, plancheck.ExpectKnownValue(stackAddr, dbPath("vectors", "attached_cluster_id"), knownvalue.StringRegexp(regexp.MustCompile(`^[0-9a-f-]{36}$`))))
	a.ConfigStateChecks = append(ids(), clusterID.AddStateValue(stackAddr, tfjsonpath.New("cluster_id")),
		statecheck.CompareValuePairs(stackAddr, dbPath("vectors", "attached_cluster_id"), stackAddr, tfjsonpath.New("cluster_id"), compare.ValuesSame()))
	a.Check = func(s *terraform.State) error {
		cid, err := stateAttr(s, "cluster_id")
		if err != nil {
			return err
		}
		rules := oob.rules(oob.database("acc-vectors").ID)
		for _, want := range [][2]string{{"k8s", cid}, {"ip_addr", "203.0.113.10"}, {"ip_addr", foreignIP}} {
			if !hasRule(rules, want[0], want[1]) {
				return fmt.Errorf("after repair the firewall lacks %s %s: %+v", want[0], want[1], rules)
			}
		}
		if len(rules) != 3 {
			return fmt.Errorf("after repair the firewall should hold exactly the cluster, the trusted source and the foreign rule: %+v", rules)
		}
		return nil
	}
	steps = append(steps, a)

	// (b) A PgBouncer pool is deleted.
	b := driftStep(cfg, func() {
		_, err := oob.api.Databases.DeletePool(ctx, oob.database("acc-vectors").ID, "app")
		oob.must(err, "deleting pool app")
	})
	b.ConfigStateChecks = append(ids(),
		statecheck.ExpectKnownValue(stackAddr, dbPath("vectors", "pools", "app", "private_host"), knownvalue.StringRegexp(regexp.MustCompile(`^private-`))))
	b.Check = func(*terraform.State) error {
		p, _, err := oob.api.Databases.GetPool(ctx, oob.database("acc-vectors").ID, "app")
		if err != nil {
			return fmt.Errorf("pool app was not recreated: %w", err)
		}
		if p.Mode != "transaction" || p.Size != 10 || p.Database != "app" || p.User != "app" {
			return fmt.Errorf("pool app recreated wrong: %+v", p)
		}
		return nil
	}
	steps = append(steps, b)

	// (c) A GPU pool's autoscaling bound is changed.
	c := driftStep(cfg, func() {
		cl := oob.cluster("acc")
		p := oob.pool(cl, "h100")
		_, _, err := oob.api.Kubernetes.UpdateNodePool(ctx, cl.ID, p.ID, &godo.KubernetesNodePoolUpdateRequest{
			Name: p.Name, AutoScale: godo.PtrTo(true), MinNodes: godo.PtrTo(0), MaxNodes: godo.PtrTo(5),
		})
		oob.must(err, "changing max_nodes")
	}, plancheck.ExpectKnownValue(stackAddr, tfjsonpath.New("cluster").AtMapKey("gpu_pools").AtMapKey("h100").AtMapKey("max_nodes"), knownvalue.Int64Exact(2)))
	c.ConfigStateChecks = append(ids(), clusterID.AddStateValue(stackAddr, tfjsonpath.New("cluster_id")))
	c.Check = func(*terraform.State) error {
		cl := oob.cluster("acc")
		if p := oob.pool(cl, "h100"); !p.AutoScale || p.MinNodes != 0 || p.MaxNodes != 2 {
			return fmt.Errorf("pool h100 not repaired: autoscale %t, %d..%d", p.AutoScale, p.MinNodes, p.MaxNodes)
		}
		return nil
	}
	steps = append(steps, c)

	// (d) A GPU pool is deleted.
	d := driftStep(cfg, func() {
		cl := oob.cluster("acc")
		p := oob.pool(cl, "h100")
		oldPoolID = p.ID
		_, err := oob.api.Kubernetes.DeleteNodePool(ctx, cl.ID, p.ID)
		oob.must(err, "deleting pool h100")
	}, plancheck.ExpectKnownValue(stackAddr, tfjsonpath.New("cluster").AtMapKey("gpu_pools").AtMapKey("h100").AtMapKey("taints"), knownvalue.ListSizeExact(1)))
	d.ConfigStateChecks = append(ids(), clusterID.AddStateValue(stackAddr, tfjsonpath.New("cluster_id")),
		statecheck.ExpectKnownValue(stackAddr, tfjsonpath.New("cluster").AtMapKey("gpu_pools").AtMapKey("h100").AtMapKey("taints"),
			knownvalue.ListExact([]knownvalue.Check{knownvalue.ObjectExact(map[string]knownvalue.Check{
				"key": knownvalue.StringExact("nvidia.com/gpu"), "value": knownvalue.StringExact(""), "effect": knownvalue.StringExact("NoSchedule"),
			})})))
	d.Check = func(*terraform.State) error {
		p := oob.pool(oob.cluster("acc"), "h100")
		if p.ID == oldPoolID {
			return fmt.Errorf("pool h100 still has the deleted pool's id %s", p.ID)
		}
		if p.Size != "gpu-h100x1-80gb" || !p.AutoScale || p.MaxNodes != 2 || p.Labels["workload"] != "inference" {
			return fmt.Errorf("pool h100 recreated wrong: %+v", p)
		}
		return nil
	}
	steps = append(steps, d)

	// (e) A database is resized.
	e := driftStep(cfg, func() {
		db := oob.database("acc-vectors")
		_, err := oob.api.Databases.Resize(ctx, db.ID, &godo.DatabaseResizeRequest{SizeSlug: "db-s-4vcpu-8gb", NumNodes: db.NumNodes})
		// Not waited for: apply may find the resize still running, and
		// must wait for it rather than fail on DigitalOcean's 409.
		oob.must(err, "resizing")
	}, plancheck.ExpectKnownValue(stackAddr, dbPath("vectors", "size"), knownvalue.StringExact("db-s-2vcpu-4gb")))
	e.ConfigStateChecks = append(ids(), statecheck.ExpectKnownValue(stackAddr, dbPath("vectors", "size"), knownvalue.StringExact("db-s-2vcpu-4gb")))
	e.Check = func(*terraform.State) error {
		if db := oob.database("acc-vectors"); db.SizeSlug != "db-s-2vcpu-4gb" {
			return fmt.Errorf("database vectors is %s after repair", db.SizeSlug)
		}
		return nil
	}
	steps = append(steps, e)

	// (f) A managed user is deleted: it comes back (with a new password,
	// which connection_env must carry).
	f := driftStep(cfg, func() {
		_, err := oob.api.Databases.DeleteUser(ctx, oob.database("acc-vectors").ID, "reader")
		oob.must(err, "deleting user reader")
	}, plancheck.ExpectUnknownValue(stackAddr, tfjsonpath.New("connection_env")))
	f.ConfigStateChecks = ids()
	f.Check = func(s *terraform.State) error {
		u, _, err := oob.api.Databases.GetUser(ctx, oob.database("acc-vectors").ID, "reader")
		if err != nil {
			return fmt.Errorf("user reader was not recreated: %w", err)
		}
		pw, err := stateAttr(s, "connection_env.VECTORS_READER_PASSWORD")
		if err != nil {
			return err
		}
		if pw != u.Password || pw == oldReaderPassword {
			return fmt.Errorf("connection_env does not carry the recreated user's password")
		}
		return nil
	}
	steps = append(steps, f)

	// (h) A read replica is deleted.
	h := driftStep(cfg, func() {
		_, err := oob.api.Databases.DeleteReplica(ctx, oob.database("acc-vectors").ID, "acc-vectors-ro")
		oob.must(err, "deleting replica ro")
	})
	h.ConfigStateChecks = append(ids(), statecheck.ExpectKnownValue(stackAddr, dbPath("vectors", "replicas", "ro", "region"), knownvalue.StringExact("tor1")))
	h.Check = func(*terraform.State) error {
		rep, _, err := oob.api.Databases.GetReplica(ctx, oob.database("acc-vectors").ID, "acc-vectors-ro")
		if err != nil || rep.Status != "online" {
			return fmt.Errorf("replica ro was not recreated: %v", err)
		}
		return nil
	}
	steps = append(steps, h)

	// (g) The whole cluster is deleted: the stack stays in state, the plan
	// rebuilds the cluster in place (an update: the databases are kept),
	// and every database firewall ends up trusting the new cluster.
	g := driftStep(cfg, func() {
		cl := oob.cluster("acc")
		oldClusterID = cl.ID
		_, err := oob.api.Kubernetes.DeleteDangerous(ctx, cl.ID)
		oob.must(err, "deleting the cluster")
	}, plancheck.ExpectUnknownValue(stackAddr, tfjsonpath.New("cluster_id")),
		plancheck.ExpectUnknownValue(stackAddr, dbPath("vectors", "attached_cluster_id")))
	g.ConfigStateChecks = append(ids(),
		clusterIDChange.AddStateValue(stackAddr, tfjsonpath.New("cluster_id")),
		statecheck.CompareValuePairs(stackAddr, dbPath("vectors", "attached_cluster_id"), stackAddr, tfjsonpath.New("cluster_id"), compare.ValuesSame()),
		statecheck.CompareValuePairs(stackAddr, dbPath("cache", "attached_cluster_id"), stackAddr, tfjsonpath.New("cluster_id"), compare.ValuesSame()))
	g.Check = func(s *terraform.State) error {
		cid, err := stateAttr(s, "cluster_id")
		if err != nil {
			return err
		}
		if cid == oldClusterID || cid == "" {
			return fmt.Errorf("cluster_id %q: want a new cluster", cid)
		}
		if oob.cluster("acc").ID != cid {
			return fmt.Errorf("the cluster named acc is not the one in state")
		}
		for _, name := range []string{"acc-vectors", "acc-cache"} {
			rules := oob.rules(oob.database(name).ID)
			if !hasRule(rules, "k8s", cid) || hasRule(rules, "k8s", oldClusterID) {
				return fmt.Errorf("%s's firewall does not trust exactly the new cluster: %+v", name, rules)
			}
			if name == "acc-vectors" && !hasRule(rules, "ip_addr", foreignIP) {
				return fmt.Errorf("the foreign rule on %s did not survive the cluster rebuild: %+v", name, rules)
			}
		}
		return nil
	}
	steps = append(steps, g)

	// The first step records the cluster id the later ones compare with.
	steps[0].ConfigStateChecks = append(steps[0].ConfigStateChecks, clusterIDChange.AddStateValue(stackAddr, tfjsonpath.New("cluster_id")))

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             inventoryEmpty(srv),
		Steps:                    steps,
	})
}

// defaultsConfig leaves every defaultable attribute unset: cluster version,
// tags, labels, GPU taints, database version and node count, storage,
// replica region and size, pool mode, db and user.
func defaultsConfig(srv *emulator.Server) string {
	return providerBlock(srv) + `
resource "attach_inference_stack" "test" {
  name   = "acc"
  region = "tor1"

  cluster = {
    system_pool = {
      size       = "s-2vcpu-4gb"
      node_count = 1
    }
    gpu_pools = {
      l40s = {
        size      = "gpu-l40sx1-48gb"
        max_nodes = 1
      }
    }
  }

  databases = {
    vectors = {
      engine              = "pg"
      size                = "db-s-1vcpu-2gb"
      deletion_protection = false
      pools = {
        app = { size = 5 }
      }
      replicas = {
        ro = {}
      }
    }
    cache = {
      engine              = "valkey"
      size                = "db-s-1vcpu-2gb"
      deletion_protection = false
    }
  }
}
`
}

func TestAccInferenceStackNoPerpetualDiff(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	cfg := defaultsConfig(srv)
	empty := []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}
	refresh := resource.TestStep{RefreshState: true, RefreshPlanChecks: resource.RefreshPlanChecks{PostRefresh: empty}}
	planOnly := resource.TestStep{Config: cfg, PlanOnly: true}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             inventoryEmpty(srv),
		Steps: []resource.TestStep{
			{
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPreRefresh:  empty,
					PostApplyPostRefresh: empty,
				},
				ConfigStateChecks: []statecheck.StateCheck{
					// The defaults, resolved.
					statecheck.ExpectKnownValue(stackAddr, tfjsonpath.New("cluster_version"), knownvalue.StringRegexp(regexp.MustCompile(`^1\.\d+\.\d+-do\.\d+$`))),
					statecheck.ExpectKnownValue(stackAddr, tfjsonpath.New("cluster").AtMapKey("version"), knownvalue.Null()),
					statecheck.ExpectKnownValue(stackAddr, tfjsonpath.New("tags"), knownvalue.Null()),
					statecheck.ExpectKnownValue(stackAddr, tfjsonpath.New("cluster").AtMapKey("gpu_pools").AtMapKey("l40s").AtMapKey("labels"), knownvalue.Null()),
					statecheck.ExpectKnownValue(stackAddr, tfjsonpath.New("cluster").AtMapKey("gpu_pools").AtMapKey("l40s").AtMapKey("min_nodes"), knownvalue.Int64Exact(0)),
					statecheck.ExpectKnownValue(stackAddr, tfjsonpath.New("cluster").AtMapKey("gpu_pools").AtMapKey("l40s").AtMapKey("taints"),
						knownvalue.ListExact([]knownvalue.Check{knownvalue.ObjectExact(map[string]knownvalue.Check{
							"key": knownvalue.StringExact("nvidia.com/gpu"), "value": knownvalue.StringExact(""), "effect": knownvalue.StringExact("NoSchedule"),
						})})),
					statecheck.ExpectKnownValue(stackAddr, tfjsonpath.New("cluster").AtMapKey("system_pool").AtMapKey("taints"), knownvalue.Null()),
					statecheck.ExpectKnownValue(stackAddr, dbPath("vectors", "version"), knownvalue.StringExact("17")),
					statecheck.ExpectKnownValue(stackAddr, dbPath("vectors", "node_count"), knownvalue.Int64Exact(2)),
					statecheck.ExpectKnownValue(stackAddr, dbPath("cache", "node_count"), knownvalue.Int64Exact(2)),
					statecheck.ExpectKnownValue(stackAddr, dbPath("vectors", "storage_size_mib"), knownvalue.NotNull()),
					statecheck.ExpectKnownValue(stackAddr, dbPath("vectors", "replicas", "ro", "region"), knownvalue.StringExact("tor1")),
					statecheck.ExpectKnownValue(stackAddr, dbPath("vectors", "replicas", "ro", "size"), knownvalue.StringExact("db-s-1vcpu-2gb")),
					statecheck.ExpectKnownValue(stackAddr, dbPath("vectors", "pools", "app", "mode"), knownvalue.StringExact("transaction")),
					statecheck.ExpectKnownValue(stackAddr, dbPath("vectors", "pools", "app", "db"), knownvalue.StringExact("defaultdb")),
					statecheck.ExpectKnownValue(stackAddr, dbPath("vectors", "pools", "app", "user"), knownvalue.StringExact("doadmin")),
					statecheck.ExpectKnownValue(stackAddr, dbPath("vectors", "users"), knownvalue.Null()),
					statecheck.ExpectKnownValue(stackAddr, dbPath("vectors", "trusted_sources"), knownvalue.Null()),
				},
			},
			refresh, planOnly, refresh, planOnly, planOnly,
		},
	})
}

// phrase turns words into a pattern that matches them across the line
// breaks Terraform inserts when it wraps diagnostics.
func phrase(words string) string {
	parts := strings.Fields(words)
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return strings.Join(parts, `\s+`)
}

func errorPattern(phrases ...string) *regexp.Regexp {
	var ps []string
	for _, p := range phrases {
		ps = append(ps, phrase(p))
	}
	return regexp.MustCompile(`(?s)` + strings.Join(ps, `.*`))
}

// orderedDatabaseCreates serves the emulator's API but holds the request
// creating database `second` until the one creating `first` was answered,
// so a failure armed with FailNextTransitions hits `first`, always.
func orderedDatabaseCreates(t *testing.T, srv *emulator.Server, first, second string) string {
	t.Helper()
	released := make(chan struct{})
	var once sync.Once
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v2/databases" {
			srv.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		var req struct {
			Name string `json:"name"`
		}
		_ = json.Unmarshal(body, &req)
		if req.Name == second {
			select {
			case <-released:
			case <-time.After(30 * time.Second):
			}
		}
		srv.ServeHTTP(w, r)
		if req.Name == first {
			once.Do(func() { close(released) })
		}
	}))
	t.Cleanup(proxy.Close)
	return proxy.URL
}

// inventoryIDs lists the ids of the top-level objects of kind.
func inventoryIDs(srv *emulator.Server, kind string) map[string]string {
	out := map[string]string{}
	for _, it := range srv.Inventory().Items {
		if it.Kind == kind && it.Status != "deleting" {
			out[it.ID] = it.Name
		}
	}
	return out
}

// stateHoldsInventory checks that every VPC, cluster and database the
// emulator holds is recorded in the stack's state, and nothing else.
func stateHoldsInventory(srv *emulator.Server, wantTainted bool) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		rs, ok := s.RootModule().Resources[stackAddr]
		if !ok {
			return fmt.Errorf("%s is not in state after the failed create", stackAddr)
		}
		if rs.Primary.Tainted != wantTainted {
			return fmt.Errorf("tainted = %t, want %t", rs.Primary.Tainted, wantTainted)
		}
		attrs := rs.Primary.Attributes
		inState := map[string]bool{attrs["vpc_id"]: true, attrs["cluster_id"]: true}
		for k, v := range attrs {
			if strings.HasPrefix(k, "databases.") && strings.Count(k, ".") == 2 && strings.HasSuffix(k, ".id") {
				inState[v] = true
			}
		}
		for _, kind := range []string{"vpc", "kubernetes_cluster", "database_cluster"} {
			objs := inventoryIDs(srv, kind)
			if len(objs) == 0 {
				return fmt.Errorf("the emulator holds no %s: the failure happened too early for this test", kind)
			}
			for id, name := range objs {
				if !inState[id] {
					return fmt.Errorf("%s %s (%s) exists but is not in state (state: %v)", kind, name, id, inState)
				}
			}
		}
		return nil
	}
}

func partialFailureConfig(endpoint, token string, timeout string) string {
	return fmt.Sprintf(`
provider "attach" {
  token               = %q
  api_endpoint        = %q
  http_retry_wait_min = 0
  http_retry_wait_max = 1
}

resource "attach_inference_stack" "test" {
  name   = "acc"
  region = "tor1"

  cluster = {
    system_pool = {
      size       = "s-2vcpu-4gb"
      node_count = 1
    }
  }

  databases = {
    vectors = {
      engine = "pg"
      size   = "db-s-1vcpu-2gb"
      dbs    = ["app"]
      pools = {
        app = { size = 5, db = "app" }
      }
      # deletion_protection stays on: it holds for a database that never
      # provisioned too.
    }
    cache = {
      engine              = "valkey"
      size                = "db-s-1vcpu-2gb"
      deletion_protection = false
    }
  }

  timeouts = {
    create = %q
  }
}
`, token, endpoint, timeout)
}

func TestAccInferenceStackPartialFailure(t *testing.T) {
	t.Run("database never provisions", func(t *testing.T) {
		srv := startEmulator(t, emulator.Config{})
		endpoint := orderedDatabaseCreates(t, srv, "acc-vectors", "acc-cache")
		cfg := partialFailureConfig(endpoint, srv.Token, "3s")
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
			CheckDestroy:             inventoryEmpty(srv),
			Steps: []resource.TestStep{
				{
					PreConfig: func() {
						if err := srv.FailNextTransitions(emulator.TransitionDatabase, 1); err != nil {
							t.Fatal(err)
						}
					},
					Config: cfg,
					ExpectError: errorPattern(`Creating stack acc failed`, `could not finish the database vectors:`,
						`database vectors to be online`, `terraform untaint`, `terraform apply`, `terraform destroy`),
				},
				{
					// What the failed create left: every object, in state.
					RefreshState:       true,
					ExpectNonEmptyPlan: true,
					Check: resource.ComposeAggregateTestCheckFunc(
						stateHoldsInventory(srv, true),
						func(*terraform.State) error {
							if got := inventoryIDs(srv, "database_cluster"); len(got) != 2 {
								return fmt.Errorf("want both databases in the emulator, got %v", got)
							}
							for _, it := range srv.Inventory().Items {
								if it.Kind == "database_cluster" && it.Name == "acc-vectors" && it.Status != "failed" {
									return fmt.Errorf("acc-vectors should be the failed database, is %s", it.Status)
								}
								if it.Kind == "database_cluster" && it.Name == "acc-cache" && it.Status != "online" {
									return fmt.Errorf("acc-cache should be online, is %s", it.Status)
								}
							}
							return nil
						},
					),
					RefreshPlanChecks: resource.RefreshPlanChecks{PostRefresh: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(stackAddr, plancheck.ResourceActionDestroyBeforeCreate),
					}},
				},
				// Protection holds for the database that never provisioned:
				// destroy is refused, and deletes nothing.
				{
					Config:      cfg,
					Destroy:     true,
					ExpectError: regexp.MustCompile(`would delete protected database "vectors"`),
				},
				// With it off, the apply replaces the tainted stack (the
				// database stuck creating is replaced, having never held
				// data), and the post-test destroy deletes everything
				// (CheckDestroy).
				{
					Config: strings.Replace(cfg, "# deletion_protection stays on", "deletion_protection = false\n      #", 1),
				},
			},
		})
	})

	// A persistent API failure at the pools step. Terraform taints a
	// resource whose Create failed, so the next apply with the same
	// configuration replaces the stack (destroy, then create); the
	// replacement keeps the databases (same ids, data kept) and the VPC, and
	// replaces the cluster only. The failed create's message says so, and
	// how to keep the cluster too (terraform untaint, then apply, which
	// converges through Update).
	t.Run("pools step fails", func(t *testing.T) {
		srv := startEmulator(t, emulator.Config{})
		cfg := partialFailureConfig(srv.URL, srv.Token, "60m")
		cfg = strings.Replace(cfg, "# deletion_protection stays on", "deletion_protection = false\n      #", 1)
		var firstIDs map[string]string
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
			CheckDestroy:             inventoryEmpty(srv),
			Steps: []resource.TestStep{
				{
					PreConfig: func() {
						if _, err := srv.InjectFault(emulator.Fault{Method: "POST", Route: "/v2/databases/{database_cluster_uuid}/pools", Kind: emulator.FaultStatus, Status: 500}); err != nil {
							t.Fatal(err)
						}
					},
					Config: cfg,
					ExpectError: errorPattern(`Creating stack acc failed`, `could not finish the connection pools of database vectors:`, `creating pool app`,
						`DigitalOcean answered 500`, `terraform untaint`, `terraform apply`, `terraform destroy`),
				},
				{
					RefreshState:       true,
					ExpectNonEmptyPlan: true,
					Check: func(s *terraform.State) error {
						if err := stateHoldsInventory(srv, true)(s); err != nil {
							return err
						}
						firstIDs = map[string]string{}
						for _, kind := range []string{"vpc", "kubernetes_cluster", "database_cluster"} {
							for id := range inventoryIDs(srv, kind) {
								firstIDs[id] = kind
							}
						}
						if n := srv.Inventory().Count("database_pool"); n != 0 {
							return fmt.Errorf("no pool should exist, %d do", n)
						}
						return nil
					},
				},
				{
					PreConfig: srv.ClearFaults,
					Config:    cfg,
					ConfigPlanChecks: resource.ConfigPlanChecks{
						PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(stackAddr, plancheck.ResourceActionDestroyBeforeCreate)},
						PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
					},
					Check: func(s *terraform.State) error {
						if err := stateHoldsInventory(srv, false)(s); err != nil {
							return err
						}
						for _, kind := range []string{"vpc", "kubernetes_cluster", "database_cluster"} {
							for id, name := range inventoryIDs(srv, kind) {
								survived := firstIDs[id] != ""
								if kind == "kubernetes_cluster" && survived {
									return fmt.Errorf("cluster %s survived the replacement", name)
								}
								if kind != "kubernetes_cluster" && !survived {
									return fmt.Errorf("%s %s is new: the replacement must keep the databases and their VPC", kind, name)
								}
							}
						}
						if n := srv.Inventory().Count("database_pool"); n != 1 {
							return fmt.Errorf("want the pool created, %d pools exist", n)
						}
						return nil
					},
				},
			},
		})
	})
}

// The other way to resume, which the failed create's message offers:
// `terraform untaint` then `terraform apply`. That apply is an Update, which
// runs the engine over the status the failed create recorded; proved here at
// that level since the test framework cannot untaint: it converges, keeping
// every object's id and creating only what is missing.
func TestInferenceStackResumeAfterUntaint(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	e := stack.New(testGodo(t, srv))
	e.Poll = stack.PollConfig{Min: 5 * time.Millisecond, Max: 50 * time.Millisecond, Fraction: 0.04}
	spec := stack.Spec{
		Name: "acc", Region: "tor1",
		Cluster: stack.ClusterSpec{Version: "1.33.1-do.0", HA: true, AutoUpgrade: true, SurgeUpgrade: true,
			SystemPool: stack.NodePoolSpec{Size: "s-2vcpu-4gb", NodeCount: 1}},
		Databases: map[string]stack.DatabaseSpec{
			"vectors": {Engine: "pg", Version: "17", Size: "db-s-1vcpu-2gb", NodeCount: 2, DBs: []string{"app"},
				Pools: map[string]stack.PoolSpec{"app": {Mode: "transaction", Size: 5, DB: "app", User: "doadmin"}}},
		},
	}
	ctx := context.Background()
	if _, err := srv.InjectFault(emulator.Fault{Method: "POST", Route: "/v2/databases/{database_cluster_uuid}/pools", Kind: emulator.FaultStatus, Status: 500}); err != nil {
		t.Fatal(err)
	}
	failed, err := e.Apply(ctx, spec, nil)
	if err == nil || !strings.Contains(err.Error(), `could not finish the connection pools of database vectors:`) {
		t.Fatalf("want the pools step to fail, got %v", err)
	}
	st := failed.Status
	if st.VPCID == "" || st.Cluster == nil || st.Databases["vectors"] == nil || st.Databases["vectors"].Provisioned {
		t.Fatalf("the failed create's status lacks parts: %+v", st)
	}
	srv.ClearFaults()
	before := srv.Inventory()
	resumed, err := e.Apply(ctx, spec, st)
	if err != nil {
		t.Fatalf("resuming: %v", err)
	}
	got := resumed.Status
	if got.VPCID != st.VPCID || got.Cluster.ID != st.Cluster.ID || got.Databases["vectors"].ID != st.Databases["vectors"].ID {
		t.Fatalf("resuming replaced parts: before %s/%s/%s, after %s/%s/%s", st.VPCID, st.Cluster.ID, st.Databases["vectors"].ID,
			got.VPCID, got.Cluster.ID, got.Databases["vectors"].ID)
	}
	if !got.Databases["vectors"].Provisioned || got.Databases["vectors"].Pools["app"] == nil {
		t.Fatalf("resuming did not finish the database: %+v", got.Databases["vectors"])
	}
	after := srv.Inventory()
	for _, kind := range []string{"vpc", "kubernetes_cluster", "database_cluster"} {
		if before.Count(kind) != after.Count(kind) {
			t.Fatalf("resuming created another %s:\n%s", kind, after)
		}
	}
	if after.Count("database_pool") != 1 {
		t.Fatalf("want the missing pool created:\n%s", after)
	}
	if _, err := e.Delete(ctx, spec, got, stack.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := inventoryEmpty(srv)(nil); err != nil {
		t.Fatal(err)
	}
}

func TestAccInferenceStackImport(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             inventoryEmpty(srv),
		Steps: []resource.TestStep{
			{Config: stackConfig(srv, 2, true)},
			{
				// Import steps use the prior step's configuration (its
				// provider wiring included).
				ResourceName:      stackAddr,
				ImportState:       true,
				ImportStateId:     "acc",
				ImportStateVerify: true,
				ImportStateVerifyIgnore: []string{
					// Fetched again on import: a new token with a new expiry.
					"kubeconfig", "kubeconfig_expires_at",
					// A user's prefix ("1.33"); DigitalOcean only knows the
					// resolved slug, which cluster_version carries.
					"cluster.version",
				},
			},
			{
				// Imported beside a configuration that pins the minor
				// ("1.33", as the examples do): the plan is a no-op.
				ResourceName:     stackAddr,
				ImportState:      true,
				ImportStateId:    "acc",
				ImportStateKind:  resource.ImportBlockWithID,
				ImportPlanChecks: resource.ImportPlanChecks{PreApply: []plancheck.PlanCheck{lcEmptyPlan}},
			},
			{
				ResourceName:  stackAddr,
				ImportState:   true,
				ImportStateId: "nope",
				ExpectError:   errorPattern(`Cannot import stack nope`, `no stack named "nope"`, `attach-stack:nope`),
			},
			{
				ResourceName:  stackAddr,
				ImportState:   true,
				ImportStateId: "My Stack",
				ExpectError:   errorPattern(`Invalid import id`, `"My Stack" is not a stack name`),
			},
			{
				// Unprotect so the test can destroy.
				Config: stackConfig(srv, 2, false),
			},
		},
	})
}
