package provider

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
)

// Engine settings (issue 12): databases.<k>.config set after create,
// changed in place, drift made through godo repaired while DigitalOcean's
// other settings are left alone, and plans empty afterwards.

func dbSettingsConfig(srv *emulator.Server, settings string) string {
	return accMemoryStack(srv, fmt.Sprintf(`{
      engine              = "pg"
      size                = "db-s-1vcpu-2gb"
      deletion_protection = false
      config = {
%s
      }
    }`, settings))
}

// apiDBConfig reads acc-memory's settings as DigitalOcean reports them.
func apiDBConfig(o outOfBand) map[string]any {
	o.t.Helper()
	db := o.database("acc-memory")
	req, err := o.api.NewRequest(context.Background(), http.MethodGet, "/v2/databases/"+db.ID+"/config", nil)
	o.must(err, "building the config request")
	var root struct {
		Config map[string]any `json:"config"`
	}
	_, err = o.api.Do(context.Background(), req, &root)
	o.must(err, "reading the database's settings")
	return root.Config
}

// wantDBConfig checks settings as DigitalOcean reports them (JSON numbers
// decode as float64).
func wantDBConfig(o outOfBand, want map[string]any) resource.TestCheckFunc {
	return func(*terraform.State) error {
		got := apiDBConfig(o)
		for k, w := range want {
			if fmt.Sprint(got[k]) != fmt.Sprint(w) {
				return fmt.Errorf("setting %s of acc-memory: DigitalOcean has %v, want %v (all: %v)", k, got[k], w, got)
			}
		}
		return nil
	}
}

func configState(name, value string) statecheck.StateCheck {
	return statecheck.ExpectKnownValue(stackAddr, dbPath("memory", "config", name), knownvalue.StringExact(value))
}

func TestAccInferenceStackDatabaseConfig(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	o := outOfBand{t: t, api: testGodo(t, srv)}
	first := dbSettingsConfig(srv, `
        max_connections           = "100"
        work_mem                  = "16"
        synchronous_replication   = "quorum"
        shared_buffers_percentage = "25.0"
        pgbouncer                 = jsonencode({ min_pool_size = 5 })`)
	// work_mem changed; synchronous_replication taken out (left as it is on DigitalOcean).
	changed := dbSettingsConfig(srv, `
        max_connections           = "100"
        work_mem                  = "32"
        shared_buffers_percentage = "25.0"
        pgbouncer                 = jsonencode({ min_pool_size = 5 })`)
	empty := []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}
	var firstID string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             inventoryEmpty(srv),
		Steps: []resource.TestStep{
			{
				// Set after create. "25.0" reads back as 25 and is no change.
				Config:           first,
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: empty},
				ConfigStateChecks: []statecheck.StateCheck{
					configState("max_connections", "100"), configState("work_mem", "16"), configState("shared_buffers_percentage", "25.0"),
					configState("pgbouncer", `{"min_pool_size":5}`),
				},
				Check: resource.ComposeTestCheckFunc(
					wantDBConfig(o, map[string]any{"max_connections": 100, "work_mem": 16, "synchronous_replication": "quorum", "shared_buffers_percentage": 25}),
					func(*terraform.State) error {
						firstID = o.database("acc-memory").ID
						pb, _ := apiDBConfig(o)["pgbouncer"].(map[string]any)
						if fmt.Sprint(pb["min_pool_size"]) != "5" {
							return fmt.Errorf("pgbouncer.min_pool_size on DigitalOcean: %v", pb)
						}
						return nil
					},
				),
			},
			{
				// Changed in place: the database keeps its id; the setting
				// taken out keeps DigitalOcean's value.
				Config: changed,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(stackAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(stackAddr, dbPath("memory", "config", "work_mem"), knownvalue.StringExact("32")),
					},
					PostApplyPostRefresh: empty,
				},
				ConfigStateChecks: []statecheck.StateCheck{configState("work_mem", "32")},
				Check: resource.ComposeTestCheckFunc(
					wantDBConfig(o, map[string]any{"work_mem": 32, "max_connections": 100, "synchronous_replication": "quorum"}),
					func(*terraform.State) error {
						if id := o.database("acc-memory").ID; id != firstID {
							return fmt.Errorf("database replaced: id %s, was %s", id, firstID)
						}
						return nil
					},
				),
			},
			// work_mem changed through godo (and jit, which the configuration
			// does not set): the plan puts work_mem back and leaves jit alone.
			func() resource.TestStep {
				s := driftStep(changed, func() {
					wm, jit := 8, false
					_, err := o.api.Databases.UpdatePostgreSQLConfig(context.Background(), o.database("acc-memory").ID, &godo.PostgreSQLConfig{WorkMem: &wm, JIT: &jit})
					o.must(err, "changing work_mem and jit")
				}, plancheck.ExpectKnownValue(stackAddr, dbPath("memory", "config", "work_mem"), knownvalue.StringExact("32")))
				s.ConfigStateChecks = []statecheck.StateCheck{configState("work_mem", "32")}
				s.Check = wantDBConfig(o, map[string]any{"work_mem": 32, "jit": false, "max_connections": 100})
				return s
			}(),
			{
				// A setting DigitalOcean changes that the configuration does not name is no drift.
				PreConfig: func() {
					bh := 5
					_, err := o.api.Databases.UpdatePostgreSQLConfig(context.Background(), o.database("acc-memory").ID, &godo.PostgreSQLConfig{BackupHour: &bh})
					o.must(err, "changing backup_hour")
				},
				Config:   changed,
				PlanOnly: true,
			},
		},
	})
}

// TestAccDatabaseConfigRefusedAtPlan: settings the engine does not have,
// values of the wrong type and out of range are refused at plan time,
// naming the setting, before anything is written.
func TestAccDatabaseConfigRefusedAtPlan(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	c := lcCluster("")
	cases := []struct{ name, body, want string }{
		{"unknown name, close names listed", c + fmt.Sprintf(biPG, `config = { max_conections = "100" }`),
			`Unknown engine setting.*"max_conections" is not a pg setting.*Close names: max_connections.*Attribute:\s+databases\["vectors"\]\.config\["max_conections"\]`},
		{"another engine's setting", c + fmt.Sprintf(biPG, `config = { valkey_timeout = "300" }`),
			`Unknown engine setting.*"valkey_timeout" is not a pg setting.*Attribute:\s+databases\["vectors"\]\.config\["valkey_timeout"\]`},
		{"wrong type", c + fmt.Sprintf(biPG, `config = { work_mem = "lots" }`),
			`Engine setting value refused.*config\["work_mem"\] = "lots".*an integer from 1 to 1024.*Attribute:\s+databases\["vectors"\]\.config\["work_mem"\]`},
		{"fraction for an integer", c + fmt.Sprintf(biPG, `config = { work_mem = "1.5" }`),
			`Engine setting value refused.*work_mem.*an integer from 1 to 1024`},
		{"below the minimum", c + fmt.Sprintf(biPG, `config = { max_connections = "10" }`),
			`Engine setting value refused.*config\["max_connections"\] = "10".*out of range: an integer, 25 or more.*Attribute:\s+databases\["vectors"\]\.config\["max_connections"\]`},
		{"above the maximum", c + fmt.Sprintf(biPG, `config = { shared_buffers_percentage = "75" }`),
			`Engine setting value refused.*shared_buffers_percentage.*a number from 20 to 60`},
		{"not in the enum", c + fmt.Sprintf(biPG, `config = { synchronous_replication = "on" }`),
			`Engine setting value refused.*synchronous_replication.*one of "off", "quorum"`},
		{"not a boolean", c + fmt.Sprintf(biPG, `config = { jit = "yes" }`),
			`Engine setting value refused.*jit.*a boolean`},
		{"nested setting unknown", c + fmt.Sprintf(biPG, `config = { pgbouncer = jsonencode({ min_pool = 5 }) }`),
			`Engine setting value refused.*"min_pool" is not a setting of pgbouncer`},
		{"valkey enum", c + biDB("valkey", "db-s-1vcpu-2gb", `config = { valkey_persistence = "aof" }`),
			`Engine setting value refused.*valkey_persistence.*one of "off", "rdb".*Attribute:\s+databases\["vectors"\]\.config\["valkey_persistence"\]`},
		{"empty config", c + fmt.Sprintf(biPG, `config = {}`),
			`databases\["vectors"\]\.config.*map must contain at least 1 elements`},
	}
	var steps []resource.TestStep
	prev := "start"
	for _, tc := range cases {
		after := prev
		steps = append(steps, resource.TestStep{
			PreConfig:   func() { biNoWrites(t, srv, after) },
			Config:      lcStack(srv, "bix", "tor1", tc.body),
			PlanOnly:    true,
			ExpectError: biPattern(tc.want),
		})
		prev = tc.name
	}
	// The same shapes, corrected, plan.
	steps = append(steps, resource.TestStep{
		PreConfig: func() { biNoWrites(t, srv, prev) },
		Config: lcStack(srv, "bix", "tor1", c+fmt.Sprintf(biPG, `config = {
        max_connections = "25", work_mem = "1024", shared_buffers_percentage = "60", synchronous_replication = "off", jit = "false"
        pgbouncer = jsonencode({ min_pool_size = 0, ignore_startup_parameters = ["search_path"] })
      }`)),
		PlanOnly:           true,
		ExpectNonEmptyPlan: true,
	})
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps:                    steps,
	})
	biNoWrites(t, srv, "the valid plan")
}
