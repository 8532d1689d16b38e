package provider

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
)

// Every part the stack owns that is a project resource (the cluster, the
// databases; not the VPC) lands in the stack's project, and the stack tag
// is on the cluster, its node pools and the databases.
func TestAccInferenceStackProjectAndTags(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	ctx := context.Background()
	api, err := godo.New(&http.Client{Transport: attBearer(srv.Token)}, godo.SetBaseURL(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	project, _, err := api.Projects.Create(ctx, &godo.CreateProjectRequest{Name: "ml", Purpose: "Machine learning", Environment: "Production"})
	if err != nil {
		t.Fatal(err)
	}
	config := providerBlock(srv) + fmt.Sprintf(`
resource "attach_inference_stack" "test" {
  name       = "proj"
  region     = "tor1"
  project_id = %q
  tags       = ["team-ml"]
  cluster = {
    system_pool = { size = "s-2vcpu-4gb", node_count = 1 }
  }
  databases = {
    vectors = {
      engine              = "pg"
      size                = "db-s-1vcpu-2gb"
      deletion_protection = false
    }
  }
}
`, project.ID)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy: func(s *terraform.State) error {
			// The project is the test's own; everything else must be gone.
			if _, err := api.Projects.Delete(ctx, project.ID); err != nil {
				return fmt.Errorf("deleting the test's project (still holding resources?): %w", err)
			}
			return inventoryEmpty(srv)(s)
		},
		Steps: []resource.TestStep{{
			Config: config,
			Check: func(s *terraform.State) error {
				attrs := s.RootModule().Resources[stackAddr].Primary.Attributes
				resources, _, err := api.Projects.ListResources(ctx, project.ID, nil)
				if err != nil {
					return err
				}
				in := map[string]bool{}
				for _, r := range resources {
					in[r.URN] = true
				}
				for _, urn := range []string{attrs["cluster_urn"], attrs["databases.vectors.urn"]} {
					if !in[urn] {
						return fmt.Errorf("%s is not in project %s: %v", urn, project.ID, resources)
					}
				}
				// VPCs are not project resources (official provider
				// docs/resources/project.md): DigitalOcean refuses them.
				if in["do:vpc:"+attrs["vpc_id"]] {
					return fmt.Errorf("the VPC was assigned to project %s: %v", project.ID, resources)
				}
				cluster, _, err := api.Kubernetes.Get(ctx, attrs["cluster_id"])
				if err != nil {
					return err
				}
				db, _, err := api.Databases.Get(ctx, attrs["databases.vectors.id"])
				if err != nil {
					return err
				}
				for what, tags := range map[string][]string{"cluster": cluster.Tags, "node pool": cluster.NodePools[0].Tags, "database": db.Tags} {
					joined := strings.Join(tags, ",")
					if !strings.Contains(joined, "attach-stack:proj") || !strings.Contains(joined, "team-ml") {
						return fmt.Errorf("%s tags %v lack the stack tag or the user's tag", what, tags)
					}
				}
				return nil
			},
		}},
	})
}

// Changing tags is an in-place update of the stack: the cluster and its
// pools take the new tags (DigitalOcean's tag API retags databases too,
// resource_type "database"; the plan no longer warns that they keep theirs,
// see TestPlanTagChangeOnExistingDatabasesHasNoWarning).
func TestAccInferenceStackTagChange(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	config := func(tag string) string {
		return providerBlock(srv) + fmt.Sprintf(`
resource "attach_inference_stack" "test" {
  name   = "tags"
  region = "tor1"
  tags   = [%q]
  cluster = {
    system_pool = { size = "s-2vcpu-4gb", node_count = 1 }
  }
  databases = {
    vectors = {
      engine              = "pg"
      size                = "db-s-1vcpu-2gb"
      deletion_protection = false
    }
  }
}
`, tag)
	}
	ctx := context.Background()
	api, err := godo.New(&http.Client{Transport: attBearer(srv.Token)}, godo.SetBaseURL(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             inventoryEmpty(srv),
		Steps: []resource.TestStep{
			{Config: config("team-a")},
			{
				Config: config("team-b"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(stackAddr, plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: func(s *terraform.State) error {
					id := s.RootModule().Resources[stackAddr].Primary.Attributes["cluster_id"]
					c, _, err := api.Kubernetes.Get(ctx, id)
					if err != nil {
						return err
					}
					db, _, err := api.Databases.Get(ctx, s.RootModule().Resources[stackAddr].Primary.Attributes["databases.vectors.id"])
					if err != nil {
						return err
					}
					for what, tags := range map[string][]string{"cluster": c.Tags, "node pool": c.NodePools[0].Tags, "database": db.Tags} {
						if j := strings.Join(tags, ","); !strings.Contains(j, "team-b") || strings.Contains(j, "team-a") {
							return fmt.Errorf("%s tags after the change: %v", what, tags)
						}
					}
					return nil
				},
			},
			// Drift: the tag taken off the database behind Terraform's back
			// shows in the plan, and the apply puts it back in place.
			driftStep(config("team-b"), func() {
				dbs, _, err := api.Databases.List(ctx, nil)
				if err != nil || len(dbs) != 1 {
					t.Fatalf("listing databases: %v (%d)", err, len(dbs))
				}
				if _, err := api.Tags.UntagResources(ctx, "team-b", &godo.UntagResourcesRequest{Resources: []godo.Resource{{ID: dbs[0].ID, Type: godo.DatabaseResourceType}}}); err != nil {
					t.Fatalf("untagging database %s: %v", dbs[0].ID, err)
				}
			}),
			{
				Config: config("team-b"),
				Check: func(s *terraform.State) error {
					db, _, err := api.Databases.Get(ctx, s.RootModule().Resources[stackAddr].Primary.Attributes["databases.vectors.id"])
					if err != nil {
						return err
					}
					if !slices.Contains(db.Tags, "team-b") {
						return fmt.Errorf("database tags after the repair: %v", db.Tags)
					}
					return nil
				},
			},
		},
	})
}

// An unprotected database whose version changes is replaced in place of
// the stack (new id, firewall and objects recreated); the cluster stays.
func TestAccInferenceStackUnprotectedDatabaseReplacement(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	config := func(version string) string {
		return providerBlock(srv) + fmt.Sprintf(`
resource "attach_inference_stack" "test" {
  name   = "repl"
  region = "tor1"
  cluster = {
    system_pool = { size = "s-2vcpu-4gb", node_count = 1 }
  }
  databases = {
    vectors = {
      engine              = "pg"
      version             = %q
      size                = "db-s-2vcpu-4gb"
      users               = ["app"]
      pools               = { app = { size = 5, user = "app" } }
      deletion_protection = false
    }
  }
}
`, version)
	}
	var oldID, clusterID string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             inventoryEmpty(srv),
		Steps: []resource.TestStep{
			{
				Config: config("16"),
				Check: func(s *terraform.State) error {
					a := s.RootModule().Resources[stackAddr].Primary.Attributes
					oldID, clusterID = a["databases.vectors.id"], a["cluster_id"]
					return nil
				},
			},
			{
				Config: config("17"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(stackAddr, plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: func(s *terraform.State) error {
					a := s.RootModule().Resources[stackAddr].Primary.Attributes
					switch {
					case a["databases.vectors.id"] == oldID:
						return fmt.Errorf("the database was not replaced")
					case a["cluster_id"] != clusterID:
						return fmt.Errorf("replacing a database replaced the cluster")
					case a["databases.vectors.version"] != "17" || a["databases.vectors.attached_cluster_id"] != clusterID:
						return fmt.Errorf("the new database: version %s, attached to %s", a["databases.vectors.version"], a["databases.vectors.attached_cluster_id"])
					case a["databases.vectors.pools.app.private_uri"] == "":
						return fmt.Errorf("the pool was not recreated on the new database")
					}
					return nil
				},
			},
		},
	})
}
