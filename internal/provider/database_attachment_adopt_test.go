package provider

import (
	"context"
	"fmt"
	"regexp"
	"testing"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
)

const firewallPUT = "PUT /v2/databases/{database_cluster_uuid}/firewall"

// An attachment made by hand (rule, user, db, pool) is imported with an
// import block, and then the configuration adds its user, db and pool: the
// plan updates in place (no replacement), the firewall is never written
// (the rule is neither removed nor re-added), the existing objects are
// adopted with their password, and destroy removes what import adopted.
func TestAccDatabaseAttachmentImportThenAdopt(t *testing.T) {
	t.Setenv("ATTACH_FIREWALL_SETTLE", "20ms")
	srv := startEmulator(t, emulator.Config{})
	w := newAttDataWorkspace(t, srv, 1)
	ctx := context.Background()
	cluster := w.clusters[0]
	const addr = "attach_database_attachment.app"

	// The attachment as someone made it before Terraform: a rule, a user,
	// a db and a pool.
	rules := []*godo.DatabaseFirewallRule{&attForeignRule, {Type: "k8s", Value: cluster}}
	if _, err := w.api.Databases.UpdateFirewallRules(ctx, w.db.ID, &godo.DatabaseUpdateFirewallRulesRequest{Rules: rules}); err != nil {
		t.Fatal(err)
	}
	user, _, err := w.api.Databases.CreateUser(ctx, w.db.ID, &godo.DatabaseCreateUserRequest{Name: "legacy_user"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.api.Databases.CreateDB(ctx, w.db.ID, &godo.DatabaseCreateDBRequest{Name: "legacy_db"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.api.Databases.CreatePool(ctx, w.db.ID, &godo.DatabaseCreatePoolRequest{Name: "legacy_pool", Mode: "transaction", Size: 5, Database: "legacy_db", User: "legacy_user"}); err != nil {
		t.Fatal(err)
	}

	importBlock := fmt.Sprintf(`
import {
  to = %s
  id = "%s:%s"
}
`, addr, w.db.ID, cluster)
	bare := providerBlock(srv) + importBlock + fmt.Sprintf(`
resource "attach_database_attachment" "app" {
  database_id = %q
  cluster_id  = %q
}
`, w.db.ID, cluster)
	full := providerBlock(srv) + fmt.Sprintf(`
resource "attach_database_attachment" "app" {
  database_id = %q
  cluster_id  = %q
  db          = "legacy_db"
  user        = "legacy_user"
  pool = {
    name = "legacy_pool"
    size = 5
  }
}
`, w.db.ID, cluster)

	var putsBefore int
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy: func(*terraform.State) error {
			rules := w.rules(t)
			if rules["k8s:"+cluster] || !rules["ip_addr:198.51.100.7"] {
				return fmt.Errorf("destroy should remove the adopted rule and keep the foreign one: %v", rules)
			}
			db, _, err := w.api.Databases.Get(ctx, w.db.ID)
			if err != nil {
				return err
			}
			for _, u := range db.Users {
				if u.Name == "legacy_user" {
					return fmt.Errorf("the imported attachment's adopted user survived destroy")
				}
			}
			if containsString(db.DBNames, "legacy_db") {
				return fmt.Errorf("the imported attachment's adopted db survived destroy")
			}
			if _, _, err := w.api.Databases.GetPool(ctx, w.db.ID, "legacy_pool"); !IsNotFound(err) {
				return fmt.Errorf("the imported attachment's adopted pool survived destroy (%v)", err)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				// Import: the rule is there; the apply only records the
				// attachment's claim under a new identity.
				Config: bare,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
						plancheck.ExpectUnknownValue(addr, tfjsonpath.New("owner_id")),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("attached"), knownvalue.Bool(true)),
				},
				Check: func(*terraform.State) error {
					putsBefore = srv.RequestCounts()[firewallPUT]
					return nil
				},
			},
			{
				// Adding user, db and pool adopts them in place.
				Config: full,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("password"), knownvalue.StringExact(user.Password)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("private_uri"), knownvalue.StringRegexp(regexp.MustCompile(`^postgresql://legacy_user:[^@]+@private-[^/]+/legacy_db\?`))),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("pool_private_uri"), knownvalue.StringRegexp(regexp.MustCompile(`/legacy_pool\?`))),
				},
				Check: func(*terraform.State) error {
					if puts := srv.RequestCounts()[firewallPUT]; puts != putsBefore {
						return fmt.Errorf("adopting user, db and pool wrote the firewall %d times: the rule must stay untouched", puts-putsBefore)
					}
					if !w.rules(t)["k8s:"+cluster] {
						return fmt.Errorf("the cluster's rule is gone: %v", w.rules(t))
					}
					u, _, err := w.api.Databases.GetUser(ctx, w.db.ID, "legacy_user")
					if err != nil || u.Password != user.Password {
						return fmt.Errorf("the existing user was not kept as it was (%v)", err)
					}
					return nil
				},
			},
		},
	})
	w.teardown(t, srv)
}
