package provider

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
	"github.com/attach-labs/terraform-provider-attach/internal/stack"
)

// Restore from backups (issue 12): a stack database created from another
// cluster's backups (restore_from), the refusals at plan time (missing
// source, a point before the first backup, a point in the future, a change
// of restore_from once the database exists), and replicas resized and
// retagged in place, with tag drift repaired.

func restoreConfig(srv *emulator.Server, restore string) string {
	return accMemoryStack(srv, fmt.Sprintf(`{
      engine              = "pg"
      size                = "db-s-1vcpu-2gb"
      users               = ["app"]
      dbs                 = ["appdb"]
      deletion_protection = false
      restore_from        = %s
    }`, restore))
}

// restoreSource creates the source cluster out of band, with a user and a
// db, and waits until its first backup exists; it returns the cluster and
// its oldest backup's time.
func restoreSource(t *testing.T, o outOfBand) (*godo.Database, time.Time) {
	ctx := context.Background()
	src, _, err := o.api.Databases.Create(ctx, &godo.DatabaseCreateRequest{Name: "source-pg", EngineSlug: "pg", SizeSlug: "db-s-1vcpu-2gb", Region: "tor1", NumNodes: 1})
	o.must(err, "creating the source database")
	attWaitFor(t, "the source to be online", func() bool {
		db, _, err := o.api.Databases.Get(ctx, src.ID)
		return err == nil && db.Status == "online"
	})
	_, _, err = o.api.Databases.CreateUser(ctx, src.ID, &godo.DatabaseCreateUserRequest{Name: "app"})
	o.must(err, "creating the source's user")
	_, _, err = o.api.Databases.CreateDB(ctx, src.ID, &godo.DatabaseCreateDBRequest{Name: "appdb"})
	o.must(err, "creating the source's db")
	var first time.Time
	attWaitFor(t, "the source's first backup", func() bool {
		b, _, err := o.api.Databases.ListBackups(ctx, src.ID, nil)
		if err == nil && len(b) > 0 {
			first = b[0].CreatedAt
		}
		return err == nil && len(b) > 0
	})
	return src, first
}

func TestAccInferenceStackRestoreFrom(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	o := outOfBand{t: t, api: testGodo(t, srv)}
	src, first := restoreSource(t, o)
	latest := restoreConfig(srv, `{ database_name = "source-pg" }`)
	var restoredID string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy: func(s *terraform.State) error {
			if _, err := o.api.Databases.Delete(context.Background(), src.ID); err != nil {
				return err
			}
			return inventoryEmpty(srv)(s)
		},
		Steps: []resource.TestStep{
			{
				// A source that does not exist: refused at plan time.
				Config:      restoreConfig(srv, `{ database_name = "nowhere-pg" }`),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Source database not found.*nowhere-pg`),
			},
			{
				// A point before the source's first backup.
				Config:      restoreConfig(srv, fmt.Sprintf(`{ database_name = "source-pg", point_in_time = %q }`, first.Add(-time.Minute).UTC().Format(time.RFC3339))),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`Point in time before the oldest backup`),
			},
			{
				// A point in the future.
				Config:      restoreConfig(srv, fmt.Sprintf(`{ database_name = "source-pg", point_in_time = %q }`, time.Now().Add(time.Hour).UTC().Format(time.RFC3339))),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`Point in time in the future`),
			},
			{
				// Created from the latest backup: the source's user and db
				// come with it and are adopted; the plan is empty after.
				Config:           latest,
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(stackAddr, dbPath("memory", "restore_from", "database_name"), knownvalue.StringExact("source-pg")),
				},
				Check: func(*terraform.State) error {
					db := o.database("acc-memory")
					restoredID = db.ID
					if !slices.Contains(db.DBNames, "appdb") {
						return fmt.Errorf("restored database lacks the source's db appdb: %v", db.DBNames)
					}
					srcUser, _, err := o.api.Databases.GetUser(context.Background(), src.ID, "app")
					if err != nil {
						return err
					}
					u, _, err := o.api.Databases.GetUser(context.Background(), db.ID, "app")
					if err != nil || u.Password != srcUser.Password {
						return fmt.Errorf("restored database's user app is not the source's: %v", err)
					}
					if rules := o.rules(db.ID); !slices.ContainsFunc(rules, func(r godo.DatabaseFirewallRule) bool { return r.Type == "k8s" }) {
						return fmt.Errorf("restored database's firewall does not trust the cluster: %+v", rules)
					}
					return nil
				},
			},
			{
				// Changing restore_from once the database exists: refused, naming the attribute.
				Config:      restoreConfig(srv, fmt.Sprintf(`{ database_name = "source-pg", point_in_time = %q }`, first.UTC().Format(time.RFC3339))),
				ExpectError: regexp.MustCompile(`(?s)restore_from changed on an existing database.*only applies when the database is created.*new database key`),
			},
			{
				// Put back: nothing to do, and never replaced.
				Config:           latest,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check: func(*terraform.State) error {
					if id := o.database("acc-memory").ID; id != restoredID {
						return fmt.Errorf("the restored database was replaced: %s, was %s", id, restoredID)
					}
					return nil
				},
			},
		},
	})
}

func replicaTagsConfig(srv *emulator.Server, tags, size string) string {
	return providerBlock(srv) + fmt.Sprintf(`
resource "attach_inference_stack" "test" {
  name   = "acc"
  region = "tor1"
  tags   = [%s]

  cluster = {
    system_pool = {
      size       = "s-2vcpu-4gb"
      node_count = 1
    }
  }

  databases = {
    memory = {
      engine              = "pg"
      size                = "db-s-1vcpu-2gb"
      deletion_protection = false
      replicas = {
        dr = { size = %q }
      }
    }
  }
}
`, tags, size)
}

// apiReplica checks the replica as DigitalOcean reports it: id (when
// wantID is set), size and tags (the stack tag included).
func apiReplica(o outOfBand, wantID *string, size string, tags ...string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		db := o.database("acc-memory")
		rep, _, err := o.api.Databases.GetReplica(context.Background(), db.ID, "acc-memory-dr")
		if err != nil {
			return err
		}
		if *wantID == "" {
			*wantID = rep.ID
		}
		want := append(slices.Clone(tags), "attach-stack:acc")
		// The identity tag is the ownership tests' concern.
		have := slices.DeleteFunc(slices.Clone(rep.Tags), func(t string) bool { return strings.HasPrefix(t, stack.OwnerTagPrefix) })
		if rep.ID != *wantID || rep.Size != size || rep.Status != "online" || !stackSame(have, want) {
			return fmt.Errorf("replica: id %s (want %s), size %s (want %s), status %s, tags %v (want %v)", rep.ID, *wantID, rep.Size, size, rep.Status, rep.Tags, want)
		}
		return nil
	}
}

func TestAccInferenceStackReplicaResizeAndTagsInPlace(t *testing.T) {
	t.Setenv("ATTACH_FIREWALL_SETTLE", "20ms")
	srv := startEmulator(t, emulator.Config{})
	o := outOfBand{t: t, api: testGodo(t, srv)}
	var replicaID string
	empty := []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}
	changed := replicaTagsConfig(srv, `"team-b"`, "db-s-2vcpu-4gb")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             inventoryEmpty(srv),
		Steps: []resource.TestStep{
			{
				// Set: the replica carries the stack's tags.
				Config:           replicaTagsConfig(srv, `"team-a"`, "db-s-1vcpu-2gb"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: empty},
				Check:            apiReplica(o, &replicaID, "db-s-1vcpu-2gb", "team-a"),
			},
			{
				// Resized and retagged in place: the same replica, no warning.
				Config: changed,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(stackAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(stackAddr, dbPath("memory", "replicas", "dr", "id"), knownvalue.NotNull()),
					},
					PostApplyPostRefresh: empty,
				},
				Check: apiReplica(o, &replicaID, "db-s-2vcpu-4gb", "team-b"),
			},
			func() resource.TestStep {
				// Drift: the tag removed from the replica through the API;
				// the plan shows it, the apply puts it back, the next plan is empty.
				s := driftStep(changed, func() {
					_, err := o.api.Tags.UntagResources(context.Background(), "team-b", &godo.UntagResourcesRequest{Resources: []godo.Resource{{ID: replicaID, Type: godo.DatabaseResourceType}}})
					o.must(err, "untagging the replica")
				})
				s.Check = apiReplica(o, &replicaID, "db-s-2vcpu-4gb", "team-b")
				return s
			}(),
			{
				Config:           changed,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: empty},
			},
		},
	})
}
