package emulator

import (
	"slices"
	"testing"

	"github.com/digitalocean/godo"
)

func TestKubernetesOptionsRegionsAndSizes(t *testing.T) {
	_, c := startTest(t, Config{})
	opts, _, err := c.Kubernetes.GetOptions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sizes := map[string]bool{}
	for _, s := range opts.Sizes {
		sizes[s.Slug] = true
	}
	for _, want := range []string{"s-1vcpu-2gb", "c-8", "gpu-h100x1-80gb", "gpu-h100x8-640gb", "gpu-l40sx1-48gb", "gpu-mi300x1-192gb", "gpu-mi300x8-1536gb", "gpu-4000adax1-20gb", "gpu-6000adax1-48gb"} {
		if !sizes[want] {
			t.Errorf("options lack size %s", want)
		}
	}
	if len(opts.Versions) == 0 || opts.Versions[0].Slug != "1.33.1-do.0" || opts.Versions[0].KubernetesVersion != "1.33.1" || len(opts.Versions[0].SupportedFeatures) == 0 {
		t.Errorf("versions %+v", opts.Versions)
	}
	if len(opts.Regions) != len(regions) {
		t.Errorf("%d regions, want %d", len(opts.Regions), len(regions))
	}

	for _, tc := range []struct {
		size, region string
		offered      bool
	}{
		{"gpu-h100x8-640gb", "tor1", true},
		{"gpu-h100x8-640gb", "ams3", false},
		{"gpu-mi300x1-192gb", "atl1", true},
		{"gpu-mi300x1-192gb", "nyc2", false},
		{"gpu-4000adax1-20gb", "ams3", true},
		{"s-2vcpu-4gb", "syd1", true},
		{"nonexistent", "tor1", false},
	} {
		if got := KubernetesSizeOffered(tc.size, tc.region); got != tc.offered {
			t.Errorf("KubernetesSizeOffered(%s, %s) = %v", tc.size, tc.region, got)
		}
	}

	all, _, err := c.Sizes.List(ctx, &godo.ListOptions{PerPage: 200})
	if err != nil {
		t.Fatal(err)
	}
	var h100 *godo.Size
	for i := range all {
		if all[i].Slug == "gpu-h100x8-640gb" {
			h100 = &all[i]
		}
	}
	if h100 == nil || h100.GPUInfo == nil || h100.GPUInfo.Count != 8 || h100.GPUInfo.VRAM == nil || h100.GPUInfo.VRAM.Amount != 640 ||
		!slices.Equal(h100.Regions, []string{"nyc2", "tor1", "atl1"}) || h100.PriceHourly <= 0 || h100.Vcpus != 160 {
		t.Fatalf("h100x8 size: %+v", h100)
	}

	regs, _, err := c.Regions.List(ctx, &godo.ListOptions{PerPage: 50})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range regs {
		if r.Slug == "atl1" && !slices.Contains(r.Sizes, "gpu-mi300x8-1536gb") {
			t.Errorf("atl1 sizes %v lack the MI300X", r.Sizes)
		}
		if r.Slug == "ams3" && slices.Contains(r.Sizes, "gpu-h100x1-80gb") {
			t.Errorf("ams3 must not offer H100s")
		}
	}
}
