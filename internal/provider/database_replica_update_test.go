package provider

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
)

// attach_database_replica: size and tags set, changed in place (same id),
// tag drift made through the API repaired, and a plan empty afterwards.
func TestAccDatabaseReplicaResizeAndTagsInPlace(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	o := outOfBand{t: t, api: testGodo(t, srv)}
	ctx := context.Background()
	primary, _, err := o.api.Databases.Create(ctx, &godo.DatabaseCreateRequest{Name: "primary", EngineSlug: "pg", SizeSlug: "db-s-1vcpu-2gb", Region: "tor1", NumNodes: 1})
	o.must(err, "creating the primary")
	attWaitFor(t, "the primary to be online", func() bool {
		db, _, err := o.api.Databases.Get(ctx, primary.ID)
		return err == nil && db.Status == "online"
	})
	config := func(size, tags string) string {
		return providerBlock(srv) + fmt.Sprintf(`
resource "attach_database_replica" "vectors" {
  database_id         = %q
  name                = "vectors-dr"
  region              = "nyc3"
  size                = %q
  tags                = [%s]
  deletion_protection = false
}
`, primary.ID, size, tags)
	}
	const rep = "attach_database_replica.vectors"
	var replicaID string
	check := func(size string, tags ...string) resource.TestCheckFunc {
		return func(*terraform.State) error {
			got, _, err := o.api.Databases.GetReplica(ctx, primary.ID, "vectors-dr")
			if err != nil {
				return err
			}
			if replicaID == "" {
				replicaID = got.ID
			}
			if got.ID != replicaID || got.Size != size || got.Status != "online" || !slices.Equal(got.Tags, tags) {
				return fmt.Errorf("replica: id %s (want %s), size %s (want %s), status %s, tags %v (want %v)", got.ID, replicaID, got.Size, size, got.Status, got.Tags, tags)
			}
			return nil
		}
	}
	empty := []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}
	changed := config("db-s-2vcpu-4gb", `"dr", "team-b"`)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy: func(s *terraform.State) error {
			if _, err := o.api.Databases.Delete(ctx, primary.ID); err != nil {
				return err
			}
			return inventoryEmpty(srv)(s)
		},
		Steps: []resource.TestStep{
			{
				Config:           config("db-s-1vcpu-2gb", `"dr"`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: empty},
				Check:            check("db-s-1vcpu-2gb", "dr"),
			},
			{
				// Resized and retagged in place: an update, the same id.
				Config: changed,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(rep, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(rep, tfjsonpath.New("id"), knownvalue.NotNull()),
					},
					PostApplyPostRefresh: empty,
				},
				Check: check("db-s-2vcpu-4gb", "dr", "team-b"),
			},
			{
				// Drift: a tag removed through the API shows, and is put back.
				PreConfig: func() {
					_, err := o.api.Tags.UntagResources(ctx, "team-b", &godo.UntagResourcesRequest{Resources: []godo.Resource{{ID: replicaID, Type: godo.DatabaseResourceType}}})
					o.must(err, "untagging the replica")
				},
				Config: changed,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectNonEmptyPlan(),
						plancheck.ExpectResourceAction(rep, plancheck.ResourceActionUpdate),
					},
					PostApplyPostRefresh: empty,
				},
				Check: check("db-s-2vcpu-4gb", "dr", "team-b"),
			},
			{
				Config:           changed,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: empty},
			},
		},
	})
}
