package provider

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
)

// What the cluster's workloads created (load balancers, volumes) goes with
// the cluster by default and stays with keep_associated_resources; either
// way the plan names them first. Kept ones outlive the stack, billed, and a
// kept load balancer holds the stack's VPC.
func TestAccInferenceStackWorkloadResourcesOnClusterDelete(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	rec := &lcDiagRecorder{}
	config := func(serviceSubnet string, keep bool) string {
		return lcStack(srv, "wlr", "tor1", `
  vpc_ip_range = "10.20.0.0/20"
`+lcCluster(fmt.Sprintf(`
    cluster_subnet            = "10.244.0.0/16"
    service_subnet            = %q
    keep_associated_resources = %v
`, serviceSubnet, keep)))
	}
	var clusterID string
	captureCluster := lcStateCheck(func(v lcValues) error {
		clusterID = v.str("cluster_id")
		return nil
	})
	addWorkloads := func(lb, volume string) func() {
		return func() {
			if _, err := srv.AddWorkloadResources(clusterID, emulator.WorkloadResources{LoadBalancers: []string{lb}, Volumes: []string{volume}}); err != nil {
				t.Fatal(err)
			}
			rec.reset()
		}
	}
	// parentOf returns the cluster a workload resource of kind and name
	// was created for, and whether it exists.
	parentOf := func(kind, name string) (string, bool) {
		for _, it := range srv.Inventory().Items {
			if it.Kind == kind && it.Name == name {
				return it.Parent, true
			}
		}
		return "", false
	}
	var replacedCluster string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: rec.factories(),
		CheckDestroy: func(*terraform.State) error {
			// The destroy plan named what goes with the cluster.
			if err := rec.expectWarning(false, `^The cluster's load balancers and volumes go with it: Destroying the stack deletes cluster wlr-g2 with what its workloads created: load balancers api \(.*\); volumes pvc-b \(.*\)\. .*keep_associated_resources = true`)(nil); err != nil {
				return err
			}
			// The kept load balancer holds the VPC, and the apply says so.
			if err := rec.expectWarning(true, `^The VPC is kept: something still runs in it: VPC .* is kept: .*web.* still run in it`)(nil); err != nil {
				return err
			}
			// What the first cluster kept outlives the stack; the second
			// cluster's went with it.
			for range 200 {
				var left []string
				for _, it := range srv.Inventory().Items {
					left = append(left, it.Kind+" "+it.Name)
				}
				slices.Sort(left)
				if slices.Equal(left, []string{"load_balancer web", "volume pvc-a", "vpc wlr-vpc"}) {
					return nil
				}
				sleep(10)
			}
			return fmt.Errorf("after destroy the emulator holds:\n%s\nwant the kept load balancer web, volume pvc-a and the VPC they hold", srv.Inventory())
		},
		Steps: []resource.TestStep{
			{
				Config:            config("10.245.0.0/16", true),
				ConfigStateChecks: []statecheck.StateCheck{captureCluster},
				ConfigPlanChecks:  resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{lcEmptyPlan}},
			},
			// The cluster is replaced with keep_associated_resources on:
			// the plan names what stays, and it stays.
			{
				PreConfig: func() { addWorkloads("web", "pvc-a")(); replacedCluster = clusterID },
				Config:    config("10.246.0.0/16", true),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						rec.expectWarning(false, `^The cluster's load balancers and volumes stay: Replacing the cluster deletes cluster wlr but keeps what its workloads created.*load balancers web \(.*\); volumes pvc-a \(.*\)\. They stay in the account, still billed`),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{lcEmptyPlan},
				},
				ConfigStateChecks: []statecheck.StateCheck{captureCluster, lcStateCheck(func(lcValues) error {
					if clusterID == replacedCluster {
						return fmt.Errorf("cluster %s was not replaced", clusterID)
					}
					for _, r := range []struct{ kind, name string }{{"load_balancer", "web"}, {"volume", "pvc-a"}} {
						if parent, ok := parentOf(r.kind, r.name); !ok || parent != replacedCluster {
							return fmt.Errorf("%s %s after the replacement: present %v, created for %q; want kept, of the old cluster %s", r.kind, r.name, ok, parent, replacedCluster)
						}
					}
					return nil
				})},
			},
			// Back to the default, in place: nothing is deleted by the change itself.
			{
				PreConfig: addWorkloads("api", "pvc-b"),
				Config:    config("10.246.0.0/16", false),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(stackAddr, plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{lcEmptyPlan},
				},
				Check: func(*terraform.State) error {
					if _, ok := parentOf("volume", "pvc-b"); !ok {
						return fmt.Errorf("volume pvc-b went before the cluster did")
					}
					if w := rec.warnings(false); slices.ContainsFunc(w, func(s string) bool { return strings.Contains(s, "load balancers and volumes") }) {
						return fmt.Errorf("an in-place change warned about workload resources: %q", w)
					}
					rec.reset()
					return nil
				},
			},
		},
	})
}
