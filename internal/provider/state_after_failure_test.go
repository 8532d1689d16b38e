package provider

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
	"github.com/attach-labs/terraform-provider-attach/internal/stack"
)

// A failed apply leaves state, and outputs, at what exists, never at what
// was refused: a pool resize DigitalOcean refuses (422) and a pool removal
// it never got to leave the pool at its old size and still there, the
// next plan shows both changes again, and an output of the pool keeps the
// old size. Once the cause is gone the apply converges.
func TestAccFailedApplyKeepsWhatExists(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	cfg := func(app int, batch bool) string {
		pools := fmt.Sprintf("app = { size = %d }", app)
		if batch {
			pools += "\n        batch = { size = 10 }"
		}
		return lcStack(srv, "fax", "tor1", lcCluster("")+fmt.Sprintf(`
  databases = {
    vectors = {
      engine              = "pg"
      size                = "db-s-2vcpu-4gb"
      deletion_protection = false
      pools = {
        %s
      }
    }
  }
`, pools)) + `
output "app_pool" {
  value     = attach_inference_stack.test.databases["vectors"].pools["app"]
  sensitive = true
}
`
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             inventoryEmpty(srv),
		Steps: []resource.TestStep{
			{Config: cfg(20, true)},
			{
				PreConfig: faultStep(t, srv, emulator.Fault{Method: "PUT", Route: "/v2/databases/{database_cluster_uuid}/pools/{pool_name}",
					Kind: emulator.FaultStatus, Status: 422}),
				Config:      cfg(30, false),
				ExpectError: biPattern(`Updating stack fax failed.*updating pool app in database vectors.*422`),
			},
			{
				PreConfig: srv.ClearFaults,
				Config:    cfg(30, false), PlanOnly: true, ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{fafterFailure{}}},
			},
			{Config: cfg(30, false), ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{lcEmptyPlan}}},
		},
	})
}

// fafterFailure checks the plan after the failed apply: state (the plan's
// "before") has pool app at 20 and pool batch still there, the plan
// changes both again, and the stored output says 20.
type fafterFailure struct{}

func (fafterFailure) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	var problems []string
	for _, rc := range req.Plan.ResourceChanges {
		if rc.Address != stackAddr {
			continue
		}
		before, after := map[string]string{}, map[string]string{}
		lcFlatten("", rc.Change.Before, before)
		lcFlatten("", rc.Change.After, after)
		if got := before[".databases.vectors.pools.app.size"]; got != "20" {
			problems = append(problems, "state has pool app at size "+got+", want 20 (the refused resize must not be recorded)")
		}
		if _, ok := before[".databases.vectors.pools.batch.size"]; !ok {
			problems = append(problems, "state lost pool batch, which still exists: the next plan would never delete it")
		}
		if _, ok := after[".databases.vectors.pools.batch.size"]; ok {
			problems = append(problems, "the plan keeps pool batch")
		}
		if got := after[".databases.vectors.pools.app.size"]; got != "30" {
			problems = append(problems, "the plan has pool app at "+got+", want 30")
		}
	}
	if req.Plan.PriorState == nil || req.Plan.PriorState.Values == nil || req.Plan.PriorState.Values.Outputs["app_pool"] == nil {
		problems = append(problems, "no app_pool output in state")
	} else {
		out := map[string]string{}
		lcFlatten("", req.Plan.PriorState.Values.Outputs["app_pool"].Value, out)
		if out[".size"] != "20" {
			problems = append(problems, fmt.Sprintf("output app_pool claims size %s after the refused resize, want 20", out[".size"]))
		}
	}
	if len(problems) > 0 {
		resp.Error = fmt.Errorf("after the failed apply: %s", strings.Join(problems, "; "))
	}
}

// What a failed apply did not reach keeps its prior value: tags not yet on
// the cluster, a database whose delete did not happen.
func TestKeepUnachievedAfterFailure(t *testing.T) {
	tags := func(v ...string) []types.String { return stringValues(v) }
	db := func() *databaseModel {
		return &databaseModel{ExistingID: types.StringNull(), Engine: types.StringValue("pg"), ID: types.StringValue("d1")}
	}
	prior := &stackModel{Name: types.StringValue("fax"), Tags: tags("team-a"),
		Databases: map[string]*databaseModel{"vectors": db(), "cache": db()}}
	plan := &stackModel{Name: types.StringValue("fax"), Tags: tags("team-b"),
		Databases: map[string]*databaseModel{"vectors": db()}}
	st := &stack.Status{
		Cluster: &stack.ClusterStatus{ID: "c1", Tags: []string{"attach-stack:fax", "team-a"}},
		Databases: map[string]*stack.DatabaseStatus{
			"vectors": {ID: "d1", Owned: true, Tags: []string{"attach-stack:fax", "team-a"}},
			"cache":   {ID: "d2", Owned: true, Tags: []string{"attach-stack:fax", "team-a"}},
		},
	}
	plan.keepUnachieved(prior, st)
	if got := valueStrings(plan.Tags); strings.Join(got, ",") != "team-a" {
		t.Errorf("tags after a failure before retagging = %v, want the prior team-a", got)
	}
	if plan.Databases["cache"] == nil {
		t.Error("database cache, still there after its delete failed, is gone from state: the next plan would never delete it")
	}

	// Once every part carries the new tags, they are what state says.
	for _, s := range []*[]string{&st.Cluster.Tags, &st.Databases["vectors"].Tags, &st.Databases["cache"].Tags} {
		*s = []string{"attach-stack:fax", "team-b"}
	}
	plan.Tags = tags("team-b")
	plan.keepUnachieved(prior, st)
	if got := valueStrings(plan.Tags); strings.Join(got, ",") != "team-b" {
		t.Errorf("tags once applied = %v, want team-b", got)
	}
}
