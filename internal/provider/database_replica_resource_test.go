package provider

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
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

// The disaster-recovery path: a primary in tor1 (another workspace's), a
// warm standby cluster in nyc3 with its GPU pool at zero, and a replica in
// nyc3. Failover is one variable: the replica is promoted and attached to
// the standby cluster.
func drConfig(srv *emulator.Server, primaryID string, failover, protect bool) string {
	return providerBlock(srv) + fmt.Sprintf(`
locals {
  failover = %[2]t
}

resource "attach_inference_stack" "standby" {
  name   = "dr-standby"
  region = "nyc3"
  cluster = {
    system_pool = { size = "s-2vcpu-4gb", node_count = 1 }
  }
}

resource "attach_database_replica" "vectors" {
  database_id         = %[1]q
  name                = "vectors-dr"
  region              = "nyc3"
  vpc_id              = attach_inference_stack.standby.vpc_id
  promoted            = local.failover
  deletion_protection = %[3]t
}

resource "attach_database_attachment" "standby" {
  count       = local.failover ? 1 : 0
  database_id = attach_database_replica.vectors.id
  cluster_id  = attach_inference_stack.standby.cluster_id
}
`, primaryID, failover, protect)
}

func TestAccDatabaseReplicaFailover(t *testing.T) {
	t.Setenv("ATTACH_FIREWALL_SETTLE", "20ms")
	srv := startEmulator(t, emulator.Config{})
	ctx := context.Background()
	api, err := godo.New(&http.Client{Transport: attBearer(srv.Token)}, godo.SetBaseURL(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	primary, _, err := api.Databases.Create(ctx, &godo.DatabaseCreateRequest{Name: "primary", EngineSlug: "pg", SizeSlug: "db-s-2vcpu-4gb", Region: "tor1", NumNodes: 2})
	if err != nil {
		t.Fatal(err)
	}
	attWaitFor(t, "the primary to be online", func() bool {
		db, _, err := api.Databases.Get(ctx, primary.ID)
		return err == nil && db.Status == "online"
	})
	const rep = "attach_database_replica.vectors"
	var replicaID string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: drConfig(srv, primary.ID, false, true),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(rep, tfjsonpath.New("promoted"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue(rep, tfjsonpath.New("private_host"), knownvalue.StringRegexp(regexp.MustCompile(`.+`))),
				},
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
			{
				// Failover: one variable.
				PreConfig: func() {
					reps, _, err := api.Databases.ListReplicas(ctx, primary.ID, nil)
					if err != nil || len(reps) != 1 {
						t.Fatalf("replicas before failover: %v %v", reps, err)
					}
					replicaID = reps[0].ID
				},
				Config: drConfig(srv, primary.ID, true, true),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(rep, plancheck.ResourceActionUpdate),
						plancheck.ExpectResourceAction("attach_database_attachment.standby[0]", plancheck.ResourceActionCreate),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: func(*terraform.State) error {
					db, _, err := api.Databases.Get(ctx, replicaID)
					if err != nil {
						return fmt.Errorf("the promoted replica is not a database cluster: %v", err)
					}
					rules, _, _ := api.Databases.GetFirewallRules(ctx, db.ID)
					for _, r := range rules {
						if r.Type == "k8s" {
							return nil
						}
					}
					return fmt.Errorf("the promoted database does not trust the standby cluster: %v", rules)
				},
			},
			{
				// Going back is refused at plan time.
				Config:      drConfig(srv, primary.ID, false, true),
				ExpectError: regexp.MustCompile(`(?s)cannot become a replica again`),
			},
			{
				// The promoted replica holds data: destroy is refused until
				// protection is lifted.
				Config:      drConfig(srv, primary.ID, true, true),
				Destroy:     true,
				ExpectError: regexp.MustCompile(`(?s)Deleting a promoted replica`),
			},
			{
				Config: drConfig(srv, primary.ID, true, false),
			},
		},
	})
	if _, err := api.Databases.Delete(ctx, primary.ID); err != nil {
		t.Fatal(err)
	}
	if err := inventoryEmpty(srv)(nil); err != nil {
		t.Fatal(err)
	}
}

// The replica as DigitalOcean really treats one (the emulator's realistic
// windows, lengthened so that they outlast Terraform's own pauses): the
// create answers 412 until the primary's first backup, the new replica
// answers 404 for a while, and a promotion completes asynchronously (the
// replica id answers 404 as a database until it does). The apply waits
// each out; right after the promoting apply the database is online.
func TestAccDatabaseReplicaRealisticWindows(t *testing.T) {
	srv := startEmulator(t, emulator.Config{Realism: emulator.Realism{
		FirstBackup:     30 * time.Minute, // 1.8 s at the tests' time scale: outlasts Terraform's start
		ReadAfterCreate: 5 * time.Minute,
		Promotion:       10 * time.Minute,
	}})
	ctx := context.Background()
	api, err := godo.New(&http.Client{Transport: attBearer(srv.Token)}, godo.SetBaseURL(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	primary, _, err := api.Databases.Create(ctx, &godo.DatabaseCreateRequest{Name: "primary", EngineSlug: "pg", SizeSlug: "db-s-2vcpu-4gb", Region: "tor1", NumNodes: 2})
	if err != nil {
		t.Fatal(err)
	}
	attWaitFor(t, "the primary to be online", func() bool {
		db, _, err := api.Databases.Get(ctx, primary.ID)
		return err == nil && db.Status == "online"
	})
	config := func(promoted bool) string {
		return providerBlock(srv) + fmt.Sprintf(`
resource "attach_database_replica" "vectors" {
  database_id         = %q
  name                = "vectors-dr"
  region              = "nyc3"
  promoted            = %t
  deletion_protection = false
}
`, primary.ID, promoted)
	}
	const rep = "attach_database_replica.vectors"
	var replicaID string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config(false),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(rep, tfjsonpath.New("private_host"), knownvalue.StringRegexp(regexp.MustCompile(`.+`))),
				},
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check: func(s *terraform.State) error {
					replicaID = s.RootModule().Resources[rep].Primary.ID
					counts := srv.StatusCounts()
					for _, want := range []string{
						"POST /v2/databases/{database_cluster_uuid}/replicas 412",
						"GET /v2/databases/{database_cluster_uuid}/replicas/{replica_name} 404",
					} {
						if counts[want] == 0 {
							return fmt.Errorf("the create never met %q: the realistic window was not exercised", want)
						}
					}
					return nil
				},
			},
			{
				Config: config(true),
				Check: func(*terraform.State) error {
					// No wait here: the promoting apply must have waited.
					db, _, err := api.Databases.Get(ctx, replicaID)
					if err != nil {
						return fmt.Errorf("right after the promoting apply the replica is not a database: %v", err)
					}
					if db.Status != "online" {
						return fmt.Errorf("promoted database status %q", db.Status)
					}
					if srv.StatusCounts()["GET /v2/databases/{database_cluster_uuid} 404"] == 0 {
						return fmt.Errorf("the promotion never answered 404: the realistic window was not exercised")
					}
					return nil
				},
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}
