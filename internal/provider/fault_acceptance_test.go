package provider

import (
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
)

// Faults through Terraform: the provider layer keeps what exists in state
// after a failure, says which step failed and how to resume, and converges
// on the next apply. The engine-level fault matrix (internal/faulttest)
// covers every call; these prove the Terraform side for representative ones.

func faultStep(t *testing.T, srv *emulator.Server, f emulator.Fault) func() {
	return func() {
		if _, err := srv.InjectFault(f); err != nil {
			t.Fatal(err)
		}
	}
}

// faultThenRecover: the first apply fails on the fault with errRe; the
// failed stack is in state (tainted: the next plan replaces it); once the
// fault is gone the apply converges with an empty plan after it.
func faultThenRecover(t *testing.T, f emulator.Fault, errRe string) {
	srv := startEmulator(t, emulator.Config{})
	cfg := stackConfig(srv, 2, false)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             inventoryEmpty(srv),
		Steps: []resource.TestStep{
			{PreConfig: faultStep(t, srv, f), Config: cfg, ExpectError: regexp.MustCompile(errRe)},
			{
				// What the failure left is tracked: the plan replaces the
				// tainted stack rather than creating a second one. (Not a
				// PlanOnly step: the harness plans those with -refresh=false,
				// and Terraform plans a tainted object's replacement with no
				// prior state, so only the refresh shows the provider that
				// the objects it meets are this state's.)
				PreConfig: srv.ClearFaults,
				Config:    cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(stackAddr, plancheck.ResourceActionDestroyBeforeCreate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
		},
	})
}

func TestAccFaultDatabaseCreate500(t *testing.T) {
	faultThenRecover(t,
		emulator.Fault{Method: "POST", Route: "/v2/databases", Kind: emulator.FaultStatus, Status: 500},
		`(?s)Creating stack acc failed.*could\s+not\s+finish\s+the\s+database\s+(cache|vectors):\s+creating\s+(pg|valkey)\s+database.*answered\s+500.*recorded\s+in\s+state\s+\(VPC\s+[0-9a-f-]+,\s+cluster\s+[0-9a-f-]+\).*terraform\s+untaint`)
}

func TestAccFaultClusterCreateDropped(t *testing.T) {
	faultThenRecover(t,
		emulator.Fault{Method: "POST", Route: "/v2/kubernetes/clusters", Kind: emulator.FaultDrop},
		`(?s)Creating stack acc failed.*could\s+not\s+finish\s+the\s+cluster:\s+creating\s+cluster\s+acc\s+in\s+tor1.*EOF.*recorded\s+in\s+state\s+\(VPC\s+[0-9a-f-]+,\s+database\s+cache`)
}

// A burst of 429s while refreshing is waited out: the plan is empty, no
// error reaches the user.
func TestAccFault429DuringRefresh(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	cfg := stackConfig(srv, 2, false)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             inventoryEmpty(srv),
		Steps: []resource.TestStep{
			{Config: cfg},
			{
				PreConfig: faultStep(t, srv, emulator.Fault{Method: "GET", Route: "/v2/databases/{database_cluster_uuid}/firewall", Kind: emulator.FaultRateLimit, Count: 3}),
				Config:    cfg,
				PlanOnly:  true,
			},
			{
				PreConfig: func() {
					if left := srv.Faults(); len(left) != 0 {
						t.Errorf("the refresh did not meet the 429 burst: %+v", left)
					}
				},
				Config:   cfg,
				PlanOnly: true,
			},
		},
	})
}
