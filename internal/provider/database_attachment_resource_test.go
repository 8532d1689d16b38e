package provider

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
)

// attDataWorkspace is what a data team's workspace owns, made directly
// through the API: a VPC, a pg database with a rule of its own, and the
// clusters of app teams.
type attDataWorkspace struct {
	api      *godo.Client
	vpc      string
	db       *godo.Database
	clusters []string
}

var attForeignRule = godo.DatabaseFirewallRule{Type: "ip_addr", Value: "198.51.100.7"}

func newAttDataWorkspace(t *testing.T, srv *emulator.Server, clusters int) *attDataWorkspace {
	t.Helper()
	ctx := context.Background()
	api, err := godo.New(&http.Client{Transport: attBearer(srv.Token)}, godo.SetBaseURL(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	w := &attDataWorkspace{api: api}
	v, _, err := api.VPCs.Create(ctx, &godo.VPCCreateRequest{Name: "data", RegionSlug: "nyc3"})
	if err != nil {
		t.Fatal(err)
	}
	w.vpc = v.ID
	w.db, _, err = api.Databases.Create(ctx, &godo.DatabaseCreateRequest{Name: "shared-pg", EngineSlug: "pg", SizeSlug: "db-s-2vcpu-4gb", Region: "nyc3", NumNodes: 1, PrivateNetworkUUID: v.ID})
	if err != nil {
		t.Fatal(err)
	}
	for i := range clusters {
		c, _, err := api.Kubernetes.Create(ctx, &godo.KubernetesClusterCreateRequest{Name: fmt.Sprintf("app-%d", i), RegionSlug: "nyc3", VersionSlug: "latest", VPCUUID: v.ID,
			NodePools: []*godo.KubernetesNodePoolCreateRequest{{Name: "p", Size: "s-2vcpu-4gb", Count: 1}}})
		if err != nil {
			t.Fatal(err)
		}
		w.clusters = append(w.clusters, c.ID)
	}
	attWaitFor(t, "the shared database to be online", func() bool {
		db, _, err := api.Databases.Get(ctx, w.db.ID)
		return err == nil && db.Status == "online"
	})
	if _, err := api.Databases.UpdateFirewallRules(ctx, w.db.ID, &godo.DatabaseUpdateFirewallRulesRequest{Rules: []*godo.DatabaseFirewallRule{&attForeignRule}}); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *attDataWorkspace) rules(t *testing.T) map[string]bool {
	t.Helper()
	rules, _, err := w.api.Databases.GetFirewallRules(context.Background(), w.db.ID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, r := range rules {
		out[r.Type+":"+r.Value] = true
	}
	return out
}

// teardown deletes the data workspace and waits for an empty emulator.
func (w *attDataWorkspace) teardown(t *testing.T, srv *emulator.Server) {
	t.Helper()
	ctx := context.Background()
	for _, c := range w.clusters {
		_, _ = w.api.Kubernetes.Delete(ctx, c)
	}
	_, _ = w.api.Databases.Delete(ctx, w.db.ID)
	attWaitFor(t, "the VPC to empty", func() bool {
		_, err := w.api.VPCs.Delete(ctx, w.vpc)
		return err == nil
	})
	if err := inventoryEmpty(srv)(nil); err != nil {
		t.Fatal(err)
	}
}

func attConfig(srv *emulator.Server, name, dbID, clusterID string, poolSize int) string {
	return providerBlock(srv) + fmt.Sprintf(`
resource "attach_database_attachment" %[1]q {
  database_id = %[2]q
  cluster_id  = %[3]q
  db          = "%[1]s_db"
  user        = "%[1]s_user"
  pool = {
    name = "%[1]s_pool"
    size = %[4]d
  }
}
`, name, dbID, clusterID, poolSize)
}

func TestAccDatabaseAttachment(t *testing.T) {
	t.Setenv("ATTACH_FIREWALL_SETTLE", "20ms")
	srv := startEmulator(t, emulator.Config{})
	w := newAttDataWorkspace(t, srv, 1)
	const addr = "attach_database_attachment.app"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy: func(*terraform.State) error {
			rules := w.rules(t)
			if rules["k8s:"+w.clusters[0]] || !rules["ip_addr:198.51.100.7"] || len(rules) != 1 {
				return fmt.Errorf("after destroy the firewall should hold only the foreign rule: %v", rules)
			}
			db, _, err := w.api.Databases.Get(context.Background(), w.db.ID)
			if err != nil {
				return fmt.Errorf("destroy touched the database itself: %v", err)
			}
			for _, u := range db.Users {
				if u.Name == "app_user" {
					return fmt.Errorf("the attachment's user survived destroy")
				}
			}
			if containsString(db.DBNames, "app_db") {
				return fmt.Errorf("the attachment's db survived destroy")
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				Config: attConfig(srv, "app", w.db.ID, w.clusters[0], 5),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("attached"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("private_uri"), knownvalue.StringRegexp(regexp.MustCompile(`^postgresql://app_user:[^@]+@private-[^/]+/app_db\?`))),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("pool_private_uri"), knownvalue.StringRegexp(regexp.MustCompile(`/app_pool\?`))),
				},
				Check: func(*terraform.State) error {
					rules := w.rules(t)
					if !rules["k8s:"+w.clusters[0]] || !rules["ip_addr:198.51.100.7"] {
						return fmt.Errorf("firewall after attach: %v", rules)
					}
					return nil
				},
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
			{
				// The pool's size changes in place.
				Config: attConfig(srv, "app", w.db.ID, w.clusters[0], 8),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				// Someone removes the rule: the plan restores it.
				PreConfig: func() {
					next := []*godo.DatabaseFirewallRule{&attForeignRule}
					if _, err := w.api.Databases.UpdateFirewallRules(context.Background(), w.db.ID, &godo.DatabaseUpdateFirewallRulesRequest{Rules: next}); err != nil {
						t.Fatal(err)
					}
				},
				Config: attConfig(srv, "app", w.db.ID, w.clusters[0], 8),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: func(*terraform.State) error {
					if !w.rules(t)["k8s:"+w.clusters[0]] {
						return fmt.Errorf("the rule was not restored")
					}
					return nil
				},
			},
			{
				ResourceName:                         addr,
				ImportState:                          true,
				ImportStateId:                        "not-an-id",
				ExpectError:                          regexp.MustCompile(`Invalid import id`),
				ImportStateVerifyIdentifierAttribute: "id",
			},
		},
	})
	w.teardown(t, srv)
}

// Two workspaces (two provider processes: no shared lock) attach two
// clusters to one database at the same moment; a third tool's rule is
// there too. Every rule must survive both applies.
func TestAccDatabaseAttachmentConcurrentWorkspaces(t *testing.T) {
	// The settle delay must outlast any writer's read-to-write window; here
	// that window is the injected 700ms write latency.
	t.Setenv("ATTACH_FIREWALL_SETTLE", "1s")
	srv := startEmulator(t, emulator.Config{})
	w := newAttDataWorkspace(t, srv, 2)
	// Slow firewall writes (the emulator reads the rule set when the delay
	// ends) longer than the gap between the two Terraform processes
	// starting make the workspaces' read-modify-writes overlap: each reads
	// before the other's write lands, so one loses its rule and must notice
	// and repair it.
	if _, err := srv.InjectFault(emulator.Fault{Method: "PUT", Route: "/v2/databases/{database_cluster_uuid}/firewall", Kind: emulator.FaultLatency, Latency: 700 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i, cluster := range w.clusters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("ws%d", i)
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config: providerBlock(srv) + fmt.Sprintf(`
resource "attach_database_attachment" %q {
  database_id = %q
  cluster_id  = %q
}
`, name, w.db.ID, cluster),
					Check: func(*terraform.State) error {
						rules := w.rules(t)
						if !rules["k8s:"+cluster] {
							return fmt.Errorf("workspace %s: its rule is missing: %v", name, rules)
						}
						return nil
					},
				}},
			})
		}()
	}
	wg.Wait()
	// One PUT for the foreign rule, two attaches and two detaches: any more
	// means a lost update was noticed and repaired, as the setup intends.
	puts := srv.RequestCounts()["PUT /v2/databases/{database_cluster_uuid}/firewall"]
	t.Logf("firewall PUTs: %d", puts)
	rules := w.rules(t)
	if len(rules) != 1 || !rules["ip_addr:198.51.100.7"] {
		t.Errorf("after both workspaces destroyed their attachments, only the foreign rule should remain: %v", rules)
	}
	w.teardown(t, srv)
}

type attBearer string

func (b attBearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+string(b))
	return http.DefaultTransport.RoundTrip(r)
}

func attWaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}
