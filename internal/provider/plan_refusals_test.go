package provider

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
)

// A region typo is an unknown region, and only that: not also every node
// size "not offered" in it, nor every engine.
func TestPlanRegionTypoSaysOnlyThatTheRegionIsUnknown(t *testing.T) {
	gpu, cpu := "gpu-h100x1-80gb", "s-2vcpu-4gb"
	opts := &liveOptions{
		Kubernetes: &godo.KubernetesOptions{
			Regions: []*godo.KubernetesRegion{{Slug: "tor1"}, {Slug: "nyc2"}},
			Sizes:   []*godo.KubernetesNodeSize{{Slug: gpu}, {Slug: cpu}},
		},
		Sizes: map[string]godo.Size{
			gpu: {Slug: gpu, Available: true, Regions: []string{"tor1"}, GPUInfo: &godo.GPUInfo{Count: 1, Model: "nvidia_h100"}},
			cpu: {Slug: cpu, Available: true, Regions: []string{"tor1", "nyc2"}},
		},
		Databases: &godo.DatabaseOptions{PostgresSQLOptions: godo.DatabaseEngineOptions{Regions: []string{"tor1"}, Versions: []string{"17"},
			Layouts: []godo.DatabaseLayout{{NodeNum: 2, Sizes: []string{"db-s-2vcpu-4gb"}}}}},
	}
	for _, region := range []string{"tor2", "tor1"} {
		plan := &stackModel{
			Name: types.StringValue("typo"), Region: types.StringValue(region), VPCID: types.StringUnknown(),
			Cluster: &clusterModel{
				Version:    types.StringValue(""),
				SystemPool: &nodePoolModel{Size: types.StringValue(cpu), NodeCount: types.Int64Value(2), MinNodes: types.Int64Null(), MaxNodes: types.Int64Null(), Taints: types.ListNull(taintObjectType)},
				GPUPools: map[string]*nodePoolModel{"accel": {Size: types.StringValue(gpu), NodeCount: types.Int64Null(), MinNodes: types.Int64Value(0),
					MaxNodes: types.Int64Value(1), Taints: types.ListNull(taintObjectType)}},
			},
			Databases: map[string]*databaseModel{"vectors": {ExistingID: types.StringNull(), Engine: types.StringValue("pg"), Version: types.StringValue("17"),
				Size: types.StringValue("db-s-2vcpu-4gb"), NodeCount: types.Int64Value(2), StorageSizeMiB: types.Int64Null(), EvictionPolicy: types.StringNull()}},
		}
		opts.Kubernetes.Versions = []*godo.KubernetesVersion{{Slug: "1.33.1-do.0"}}
		var diags diag.Diagnostics
		// The configuration as written is the plan here (nothing computed).
		p := &planner{ctx: context.Background(), opts: opts, plan: plan, config: plan, diags: &diags}
		p.regionOffered()
		p.cluster()
		p.databases()
		var got []string
		for _, d := range diags {
			got = append(got, d.Summary())
		}
		want := []string{"Region not offered"}
		if region == "tor1" {
			want = nil // the same stack in a real region plans
		}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("region %s: errors %q, want %q", region, got, want)
		}
	}
}

// The budget the plan computes is DigitalOcean's (the emulator's): pools
// filling it exactly apply; a change past it, counting a pool someone made
// outside Terraform, is refused at plan, before any write.
func TestAccPoolBudgetRefusedAtPlanOnChange(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	api, err := godo.New(&http.Client{Transport: attBearer(srv.Token)}, godo.SetBaseURL(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	cfg := func(app, batch int) string {
		return lcStack(srv, "pbx", "tor1", lcCluster("")+fmt.Sprintf(`
  databases = {
    vectors = {
      engine              = "pg"
      size                = "db-s-2vcpu-4gb"
      deletion_protection = false
      pools = {
        app   = { size = %d }
        batch = { size = %d }
      }
    }
  }
`, app, batch))
	}
	var before lcSnapshot
	var dbID string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             inventoryEmpty(srv),
		Steps: []resource.TestStep{
			// 90 + 7 = 97, all a db-s-2vcpu-4gb gives pools: DigitalOcean accepts it.
			{Config: cfg(90, 7), Check: func(s *terraform.State) error {
				dbID = s.RootModule().Resources[stackAddr].Primary.Attributes["databases.vectors.id"]
				return nil
			}},
			{Config: cfg(90, 8), PlanOnly: true,
				ExpectError: biPattern(`Connection pools over the database's budget.*Database vectors \(db-s-2vcpu-4gb\) has 97 backend connections.*would take 98: app 90, batch 8.*Attribute:\s+databases\["vectors"\]\.pools\["batch"\]\.size`)},
			{Config: cfg(20, 7)},
			{
				// Another team adds a pool of 50 outside Terraform.
				PreConfig: func() {
					if _, _, err := api.Databases.CreatePool(context.Background(), dbID, &godo.DatabaseCreatePoolRequest{Name: "reports", Mode: "transaction", Size: 50, Database: "defaultdb", User: "doadmin"}); err != nil {
						t.Fatal(err)
					}
					before = takeSnapshot(srv)
				},
				Config: cfg(41, 7), PlanOnly: true,
				ExpectError: biPattern(`Connection pools over the database's budget.*would take 98: app 41, batch 7, 50 by pools created outside this configuration.*Lower the pool sizes to total at most 47.*Attribute:\s+databases\["vectors"\]\.pools\["app"\]\.size`),
			},
			{
				PreConfig: func() { requireUnchanged(t, srv, before, "a refused pool change") },
				Config:    cfg(40, 7), PlanOnly: true, ExpectNonEmptyPlan: true,
			},
			{Config: cfg(40, 7)},
		},
	})
}

// DOKS upgrades one minor version at a time: a version two minors ahead of
// the running cluster is refused at plan, naming what is reachable now;
// the next minor plans.
func TestAccKubernetesUpgradeSkippingAMinorRefusedAtPlan(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	cfg := func(version string) string {
		return lcStack(srv, "upx", "tor1", strings.Replace(lcCluster(""), `version = "1.33"`, fmt.Sprintf("version = %q", version), 1))
	}
	var before lcSnapshot
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             inventoryEmpty(srv),
		Steps: []resource.TestStep{
			{Config: cfg("1.31")},
			{
				PreConfig: func() { before = takeSnapshot(srv) },
				Config:    cfg("1.33"), PlanOnly: true,
				ExpectError: biPattern(`Kubernetes upgrade skips a minor version.*The cluster runs 1\.31\.9-do\.0 and version "1\.33" resolves to 1\.33\.1-do\.0, 2 minor versions ahead.*Reachable now: 1\.32\.5-do\.0\..*Set version = "1\.32" and apply.*Attribute:\s+cluster\.version`),
			},
			{
				PreConfig: func() { requireUnchanged(t, srv, before, "a refused upgrade") },
				Config:    cfg("1.32"), PlanOnly: true, ExpectNonEmptyPlan: true,
			},
		},
	})
	if n := srv.RequestCounts()["GET /v2/kubernetes/clusters/{cluster_id}/upgrades"]; n == 0 {
		t.Fatalf("the plan never asked DOKS which upgrades are reachable: %v", srv.RequestCounts())
	}
}
