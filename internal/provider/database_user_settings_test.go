package provider

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
)

// User settings and Kafka topics (issue 12): Kafka ACLs, OpenSearch ACLs
// and the MySQL auth plugin given at create, changed in place, drift made
// through the API shown and repaired, and a plan empty afterwards; topics
// likewise, plus growth, removal and its refusal under deletion protection.

func userSettingsConfig(srv *emulator.Server, database string) string {
	return accMemoryStack(srv, database)
}

// accMemoryStack renders a provider block and stack "acc" in tor1 (a
// one-node system pool) whose one database, memory, is the HCL object
// memory: the stack the per-setting acceptance tests change.
func accMemoryStack(srv *emulator.Server, memory string) string {
	return providerBlock(srv) + fmt.Sprintf(`
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
    memory = %s
  }
}
`, memory)
}

// apiUser reads a user of database acc-memory as DigitalOcean has it.
func (o outOfBand) apiUser(name string) *godo.DatabaseUser {
	o.t.Helper()
	db := o.database("acc-memory")
	u, _, err := o.api.Databases.GetUser(context.Background(), db.ID, name)
	o.must(err, "reading user "+name)
	return u
}

// kafkaACLs checks user's Kafka ACLs ("topic:permission", any order).
func kafkaACLs(o outOfBand, user string, want ...string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		u := o.apiUser(user)
		var got []string
		if u.Settings != nil {
			for _, a := range u.Settings.ACL {
				got = append(got, a.Topic+":"+a.Permission)
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			return fmt.Errorf("ACLs of %s: got %v, want %v", user, got, want)
		}
		return nil
	}
}

// apiTopic checks a topic's partitions, replication factor and retention_ms.
func apiTopic(o outOfBand, name string, partitions int, replication uint32, retention int64) resource.TestCheckFunc {
	return func(*terraform.State) error {
		db := o.database("acc-memory")
		t, _, err := o.api.Databases.GetTopic(context.Background(), db.ID, name)
		if err != nil {
			return fmt.Errorf("topic %s: %w", name, err)
		}
		if len(t.Partitions) != partitions || t.ReplicationFactor == nil || *t.ReplicationFactor != replication || t.Config == nil || t.Config.RetentionMS == nil || *t.Config.RetentionMS != retention {
			return fmt.Errorf("topic %s: %d partitions, replication %v, config %+v; want %d, %d, retention_ms %d", name, len(t.Partitions), t.ReplicationFactor, t.Config, partitions, replication, retention)
		}
		return nil
	}
}

func noTopic(o outOfBand, name string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		db := o.database("acc-memory")
		if _, _, err := o.api.Databases.GetTopic(context.Background(), db.ID, name); err == nil {
			return fmt.Errorf("topic %s still exists", name)
		}
		return nil
	}
}

func kafkaDatabase(protect bool, acls, topics string) string {
	return fmt.Sprintf(`{
      engine              = "kafka"
      size                = "gd-2vcpu-8gb"
      node_count          = 3
      deletion_protection = %v
      users               = ["app"]
      user_settings       = { app = { kafka_acls = %s } }
      topics              = %s
    }`, protect, acls, topics)
}

func TestAccInferenceStackKafkaACLsAndTopics(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	o := outOfBand{t: t, api: testGodo(t, srv)}
	empty := []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}
	first := userSettingsConfig(srv, kafkaDatabase(false,
		`[{ topic = "events", permission = "produce" }]`,
		`{ events = { config = { retention_ms = "3600000" } } }`))
	changed := userSettingsConfig(srv, kafkaDatabase(false,
		`[{ topic = "events", permission = "produceconsume" }, { topic = "audit.*", permission = "consume" }]`,
		`{ events = { partitions = 6, replication_factor = 3, config = { retention_ms = "7200000" } }, audit = { config = { retention_ms = "60000" } } }`))
	protected := userSettingsConfig(srv, kafkaDatabase(true,
		`[{ topic = "events", permission = "produceconsume" }, { topic = "audit.*", permission = "consume" }]`,
		`{ events = { partitions = 6, replication_factor = 3, config = { retention_ms = "7200000" } }, audit = { config = { retention_ms = "60000" } } }`))
	withoutAudit := func(protect bool) string {
		return userSettingsConfig(srv, kafkaDatabase(protect,
			`[{ topic = "events", permission = "produceconsume" }]`,
			`{ events = { partitions = 6, replication_factor = 3, config = { retention_ms = "7200000" } } }`))
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             inventoryEmpty(srv),
		Steps: []resource.TestStep{
			{
				// Set at create: the ACL and the topic with its setting.
				Config:           first,
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: empty},
				Check: resource.ComposeAggregateTestCheckFunc(
					kafkaACLs(o, "app", "events:produce"),
					apiTopic(o, "events", 3, 2, 3600000),
				),
			},
			{
				// Changed in place: ACLs replaced, the topic grown and re-replicated, a second topic.
				Config: changed,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(stackAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(stackAddr, dbPath("memory", "id"), knownvalue.NotNull()),
					},
					PostApplyPostRefresh: empty,
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					kafkaACLs(o, "app", "events:produceconsume", "audit.*:consume"),
					apiTopic(o, "events", 6, 3, 7200000),
					apiTopic(o, "audit", 3, 2, 60000),
				),
			},
			// Behind Terraform's back: the ACLs narrowed, a topic deleted, another's retention changed.
			func() resource.TestStep {
				s := driftStep(changed, func() {
					db := o.database("acc-memory")
					ctx := context.Background()
					_, _, err := o.api.Databases.UpdateUser(ctx, db.ID, "app", &godo.DatabaseUpdateUserRequest{Settings: &godo.DatabaseUserSettings{ACL: []*godo.KafkaACL{{Topic: "*", Permission: "admin"}}}})
					o.must(err, "changing the ACLs of app")
					_, err = o.api.Databases.DeleteTopic(ctx, db.ID, "audit")
					o.must(err, "deleting topic audit")
					retention := int64(1000)
					_, err = o.api.Databases.UpdateTopic(ctx, db.ID, "events", &godo.DatabaseUpdateTopicRequest{Config: &godo.TopicConfig{RetentionMS: &retention}})
					o.must(err, "changing topic events")
				},
					plancheck.ExpectKnownValue(stackAddr, dbPath("memory", "topics", "events", "config", "retention_ms"), knownvalue.StringExact("7200000")),
					plancheck.ExpectKnownValue(stackAddr, dbPath("memory", "topics", "audit", "partitions"), knownvalue.Int64Exact(3)),
				)
				s.Check = resource.ComposeAggregateTestCheckFunc(
					kafkaACLs(o, "app", "events:produceconsume", "audit.*:consume"),
					apiTopic(o, "events", 6, 3, 7200000),
					apiTopic(o, "audit", 3, 2, 60000),
				)
				return s
			}(),
			{
				// Fewer partitions: refused at plan time, naming the attribute.
				Config: userSettingsConfig(srv, kafkaDatabase(false,
					`[{ topic = "events", permission = "produceconsume" }, { topic = "audit.*", permission = "consume" }]`,
					`{ events = { partitions = 4, replication_factor = 3, config = { retention_ms = "7200000" } }, audit = { config = { retention_ms = "60000" } } }`)),
				ExpectError: regexp.MustCompile(`(?s)Topic events has 6 partitions.*create a topic under a new name.*partitions`),
			},
			{Config: protected, ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: empty}},
			{
				// Removing a topic under deletion protection: refused.
				Config:      withoutAudit(true),
				ExpectError: regexp.MustCompile(`(?s)Deleting topic "audit" of protected database "memory".*deletion_protection = false`),
			},
			// Protection off first (an apply), as the refusal says.
			{Config: changed, ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: empty}},
			{
				// Unprotected: removed from the configuration, deleted; the ACL entry goes too.
				Config:           withoutAudit(false),
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: empty},
				Check: resource.ComposeAggregateTestCheckFunc(
					noTopic(o, "audit"),
					kafkaACLs(o, "app", "events:produceconsume"),
					apiTopic(o, "events", 6, 3, 7200000),
				),
			},
		},
	})
}

func mysqlDatabase(plugin string) string {
	return fmt.Sprintf(`{
      engine              = "mysql"
      size                = "db-s-1vcpu-1gb"
      node_count          = 1
      deletion_protection = false
      users               = ["app"]
      user_settings       = { app = { mysql_auth_plugin = %q } }
    }`, plugin)
}

func authPlugin(o outOfBand, user, want string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		u := o.apiUser(user)
		if u.MySQLSettings == nil || u.MySQLSettings.AuthPlugin != want {
			return fmt.Errorf("auth plugin of %s: %+v, want %s", user, u.MySQLSettings, want)
		}
		return nil
	}
}

// connectionPassword checks that connection_env carries the user's current password.
func connectionPassword(o outOfBand, user string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		want := o.apiUser(user).Password
		got := s.RootModule().Resources[stackAddr].Primary.Attributes["connection_env.MEMORY_"+strings.ToUpper(user)+"_PASSWORD"]
		if got != want {
			return fmt.Errorf("connection_env password of %s is not the current one", user)
		}
		return nil
	}
}

func TestAccInferenceStackMySQLAuthPlugin(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	o := outOfBand{t: t, api: testGodo(t, srv)}
	empty := []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}
	native := userSettingsConfig(srv, mysqlDatabase("mysql_native_password"))
	sha2 := userSettingsConfig(srv, mysqlDatabase("caching_sha2_password"))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             inventoryEmpty(srv),
		Steps: []resource.TestStep{
			{
				Config:           native,
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: empty},
				Check:            resource.ComposeAggregateTestCheckFunc(authPlugin(o, "app", "mysql_native_password"), connectionPassword(o, "app")),
			},
			{
				// In place (reset_auth with mysql_settings): a new password reaches connection_env.
				Config: sha2,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(stackAddr, plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: empty,
				},
				Check: resource.ComposeAggregateTestCheckFunc(authPlugin(o, "app", "caching_sha2_password"), connectionPassword(o, "app")),
			},
			func() resource.TestStep {
				s := driftStep(sha2, func() {
					db := o.database("acc-memory")
					_, _, err := o.api.Databases.ResetUserAuth(context.Background(), db.ID, "app", &godo.DatabaseResetUserAuthRequest{MySQLSettings: &godo.DatabaseMySQLUserSettings{AuthPlugin: "mysql_native_password"}})
					o.must(err, "switching the auth plugin of app")
				}, plancheck.ExpectKnownValue(stackAddr, dbPath("memory", "user_settings", "app", "mysql_auth_plugin"), knownvalue.StringExact("caching_sha2_password")))
				s.Check = resource.ComposeAggregateTestCheckFunc(authPlugin(o, "app", "caching_sha2_password"), connectionPassword(o, "app"))
				return s
			}(),
		},
	})
}

func openSearchDatabase(acls string) string {
	return fmt.Sprintf(`{
      engine              = "opensearch"
      size                = "db-s-1vcpu-2gb"
      node_count          = 1
      deletion_protection = false
      users               = ["reader"]
      user_settings       = { reader = { opensearch_acls = %s } }
    }`, acls)
}

func openSearchACLs(o outOfBand, user string, want ...string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		u := o.apiUser(user)
		var got []string
		if u.Settings != nil {
			for _, a := range u.Settings.OpenSearchACL {
				got = append(got, a.Index+":"+a.Permission)
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			return fmt.Errorf("OpenSearch ACLs of %s: got %v, want %v", user, got, want)
		}
		return nil
	}
}

func TestAccInferenceStackOpenSearchACLs(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	o := outOfBand{t: t, api: testGodo(t, srv)}
	empty := []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}
	changed := userSettingsConfig(srv, openSearchDatabase(`[{ index = "logs-*", permission = "readwrite" }, { index = "secrets", permission = "deny" }]`))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             inventoryEmpty(srv),
		Steps: []resource.TestStep{
			{
				Config:           userSettingsConfig(srv, openSearchDatabase(`[{ index = "logs-*", permission = "read" }]`)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: empty},
				Check:            openSearchACLs(o, "reader", "logs-*:read"),
			},
			{
				Config: changed,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(stackAddr, plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: empty,
				},
				Check: openSearchACLs(o, "reader", "logs-*:readwrite", "secrets:deny"),
			},
			func() resource.TestStep {
				s := driftStep(changed, func() {
					db := o.database("acc-memory")
					_, _, err := o.api.Databases.UpdateUser(context.Background(), db.ID, "reader", &godo.DatabaseUpdateUserRequest{Settings: &godo.DatabaseUserSettings{OpenSearchACL: []*godo.OpenSearchACL{{Index: "*", Permission: "admin"}}}})
					o.must(err, "widening the ACLs of reader")
				})
				s.Check = openSearchACLs(o, "reader", "logs-*:readwrite", "secrets:deny")
				return s
			}(),
			{
				// The entry removed: the ACLs it granted are revoked (the plan warns the user can do nothing).
				Config: userSettingsConfig(srv, `{
      engine              = "opensearch"
      size                = "db-s-1vcpu-2gb"
      node_count          = 1
      deletion_protection = false
      users               = ["reader"]
    }`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: empty},
				Check:            openSearchACLs(o, "reader"),
			},
		},
	})
}
