package provider

import (
	"context"
	"fmt"
	"testing"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
)

// Storage autoscaling (issue 12): set after the database is created,
// changed in place, drift made through the API repaired, and a plan empty
// afterwards.

func autoscaleConfig(srv *emulator.Server, autoscale string) string {
	return accMemoryStack(srv, fmt.Sprintf(`{
      engine              = "pg"
      size                = "db-s-1vcpu-2gb"
      deletion_protection = false
      storage_autoscale   = %s
    }`, autoscale))
}

// apiAutoscale checks the database's autoscaling as DigitalOcean reports it.
func apiAutoscale(o outOfBand, enabled bool, threshold int, increment uint64) resource.TestCheckFunc {
	return func(*terraform.State) error {
		db := o.database("acc-memory")
		got, _, err := o.api.Databases.GetStorageAutoscale(context.Background(), db.ID)
		if err != nil {
			return err
		}
		if got == nil || got.Enabled != enabled || got.ThresholdPercent == nil || *got.ThresholdPercent != threshold || got.IncrementGib == nil || *got.IncrementGib != increment {
			return fmt.Errorf("autoscale of %s: got %+v, want enabled=%v threshold=%d increment=%d", db.Name, got, enabled, threshold, increment)
		}
		return nil
	}
}

func autoscaleState(enabled bool, threshold, increment int64) statecheck.StateCheck {
	return statecheck.ExpectKnownValue(stackAddr, dbPath("memory", "storage_autoscale"), knownvalue.ObjectExact(map[string]knownvalue.Check{
		"enabled": knownvalue.Bool(enabled), "threshold_percent": knownvalue.Int64Exact(threshold), "increment_gib": knownvalue.Int64Exact(increment),
	}))
}

func TestAccInferenceStackStorageAutoscale(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	o := outOfBand{t: t, api: testGodo(t, srv)}
	defaults := autoscaleConfig(srv, `{ enabled = true }`)
	changed := autoscaleConfig(srv, `{ enabled = true, threshold_percent = 70, increment_gib = 20 }`)
	empty := []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             inventoryEmpty(srv),
		Steps: []resource.TestStep{
			{
				// Set after create, with the defaults (80 percent, 10 GiB).
				Config:            defaults,
				ConfigPlanChecks:  resource.ConfigPlanChecks{PostApplyPostRefresh: empty},
				ConfigStateChecks: []statecheck.StateCheck{autoscaleState(true, 80, 10)},
				Check:             apiAutoscale(o, true, 80, 10),
			},
			{
				// Changed in place: the database keeps its id.
				Config: changed,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(stackAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(stackAddr, dbPath("memory", "id"), knownvalue.NotNull()),
					},
					PostApplyPostRefresh: empty,
				},
				ConfigStateChecks: []statecheck.StateCheck{autoscaleState(true, 70, 20)},
				Check:             apiAutoscale(o, true, 70, 20),
			},
			// Turned off through the API: the plan shows it, apply turns it back on.
			func() resource.TestStep {
				s := driftStep(changed, func() {
					db := o.database("acc-memory")
					th, inc := 50, uint64(30)
					_, err := o.api.Databases.UpdateStorageAutoscale(context.Background(), db.ID, &godo.DatabaseStorageAutoscale{Enabled: false, ThresholdPercent: &th, IncrementGib: &inc})
					o.must(err, "disabling storage autoscaling")
				}, plancheck.ExpectKnownValue(stackAddr, dbPath("memory", "storage_autoscale", "enabled"), knownvalue.Bool(true)))
				s.ConfigStateChecks = []statecheck.StateCheck{autoscaleState(true, 70, 20)}
				s.Check = apiAutoscale(o, true, 70, 20)
				return s
			}(),
			{
				// Turned off in configuration: in place too.
				Config:           autoscaleConfig(srv, `{ enabled = false, threshold_percent = 70, increment_gib = 20 }`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: empty},
				Check:            apiAutoscale(o, false, 70, 20),
			},
		},
	})
}
