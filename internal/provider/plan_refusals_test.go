package provider

import (
	"context"
	"strings"
	"testing"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
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
		p := &planner{ctx: context.Background(), opts: opts, plan: plan, diags: &diags}
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
