package emulator

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// The DOKS catalogue: Kubernetes versions, node sizes (GPU sizes included)
// and where each size is offered. It also serves /v2/regions and /v2/sizes,
// which describe the same Droplet sizes the node pools run on.
//
// Prices, shapes and GPU models follow DigitalOcean's published Droplet and
// GPU Droplet sizes. GPU availability per region is the EMULATED
// availability (DigitalOcean's real capacity changes over time): H100 in
// nyc2, tor1 and atl1; L40S in tor1 and atl1; AMD MI300X in atl1; RTX 4000
// and 6000 Ada in nyc2, tor1 and ams3. CPU sizes are offered everywhere.

// kubernetesVersion is one DOKS release, newest first in the table.
type kubernetesVersion struct {
	Slug              string   `json:"slug"`
	KubernetesVersion string   `json:"kubernetes_version"`
	SupportedFeatures []string `json:"supported_features"`
}

var kubernetesVersions = []kubernetesVersion{
	{"1.33.1-do.0", "1.33.1", []string{"cluster-autoscaler", "docr-integration", "ha-control-plane", "token-authentication"}},
	{"1.32.5-do.0", "1.32.5", []string{"cluster-autoscaler", "docr-integration", "ha-control-plane", "token-authentication"}},
	{"1.31.9-do.0", "1.31.9", []string{"cluster-autoscaler", "docr-integration", "ha-control-plane", "token-authentication"}},
}

// latestKubernetesVersion is what the version slug "latest" resolves to.
func latestKubernetesVersion() kubernetesVersion { return kubernetesVersions[0] }

func kubernetesVersionBySlug(slug string) (kubernetesVersion, bool) {
	if slug == "latest" {
		return latestKubernetesVersion(), true
	}
	for _, v := range kubernetesVersions {
		if v.Slug == slug {
			return v, true
		}
	}
	return kubernetesVersion{}, false
}

func kubernetesVersionSlugs() []string {
	out := make([]string, len(kubernetesVersions))
	for i, v := range kubernetesVersions {
		out[i] = v.Slug
	}
	return out
}

// k8sVersionParts returns (1, 33) for "1.33.1".
func k8sVersionParts(v kubernetesVersion) (major, minor int) {
	parts := strings.SplitN(v.KubernetesVersion, ".", 3)
	if len(parts) < 2 {
		return 0, 0
	}
	major, _ = strconv.Atoi(parts[0])
	minor, _ = strconv.Atoi(parts[1])
	return major, minor
}

// upgradesFrom lists the versions a cluster on slug may upgrade to: newer
// patches of its minor and the next minor, as DOKS allows (no skipping).
func upgradesFrom(slug string) []kubernetesVersion {
	cur, ok := kubernetesVersionBySlug(slug)
	if !ok {
		return nil
	}
	curMajor, curMinor := k8sVersionParts(cur)
	curIdx := slices.IndexFunc(kubernetesVersions, func(v kubernetesVersion) bool { return v.Slug == cur.Slug })
	var out []kubernetesVersion
	for i, v := range kubernetesVersions {
		if i >= curIdx {
			break // the table is newest first: only earlier entries are newer
		}
		major, minor := k8sVersionParts(v)
		if major == curMajor && (minor == curMinor || minor == curMinor+1) {
			out = append(out, v)
		}
	}
	return out
}

// gpuSpec describes the accelerators of a GPU size. DOKS labels the
// Kubernetes nodes of a GPU pool doks.digitalocean.com/gpu-brand=<Brand> and
// doks.digitalocean.com/gpu-model=<Model> and taints them
// nvidia.com/gpu:NoSchedule (amd.com/gpu:NoSchedule for AMD); those live on
// the nodes inside the cluster, not in the node pool API object, which the
// emulator therefore never shows them in.
type gpuSpec struct {
	Brand string // "nvidia" or "amd"
	Model string // the gpu-model node label, e.g. "h100"
	// APIModel is the size's gpu_info.model as /v2/sizes reports it.
	APIModel string
	Count    int
	VRAMGiB  int
}

// amdPartitionModes are the GPU partition modes AMD node pools accept.
var amdPartitionModes = []string{"AMD_PARTITION_MODE_SPX_NPS1", "AMD_PARTITION_MODE_DPX_NPS2"}

// nodeSize is one Droplet size usable for DOKS node pools.
type nodeSize struct {
	Slug         string
	Description  string
	MemoryMiB    int
	VCPUs        int
	DiskGiB      int
	ScratchGiB   int // GPU sizes' scratch disk
	TransferTiB  float64
	PriceMonthly float64
	PriceHourly  float64
	// Regions lists where the size is offered; nil means every region.
	Regions []string
	GPU     *gpuSpec
}

// kubernetesSizes is the one table of node sizes and their emulated
// per-region availability.
var kubernetesSizes = []nodeSize{
	{Slug: "s-1vcpu-2gb", Description: "Basic", MemoryMiB: 2048, VCPUs: 1, DiskGiB: 50, TransferTiB: 2, PriceMonthly: 12, PriceHourly: 0.01786},
	{Slug: "s-2vcpu-2gb", Description: "Basic", MemoryMiB: 2048, VCPUs: 2, DiskGiB: 60, TransferTiB: 3, PriceMonthly: 18, PriceHourly: 0.02679},
	{Slug: "s-2vcpu-4gb", Description: "Basic", MemoryMiB: 4096, VCPUs: 2, DiskGiB: 80, TransferTiB: 4, PriceMonthly: 24, PriceHourly: 0.03571},
	{Slug: "s-4vcpu-8gb", Description: "Basic", MemoryMiB: 8192, VCPUs: 4, DiskGiB: 160, TransferTiB: 5, PriceMonthly: 48, PriceHourly: 0.07143},
	{Slug: "s-8vcpu-16gb", Description: "Basic", MemoryMiB: 16384, VCPUs: 8, DiskGiB: 320, TransferTiB: 6, PriceMonthly: 96, PriceHourly: 0.14286},
	{Slug: "c-4", Description: "CPU-Optimized", MemoryMiB: 8192, VCPUs: 4, DiskGiB: 50, TransferTiB: 5, PriceMonthly: 84, PriceHourly: 0.125},
	{Slug: "c-8", Description: "CPU-Optimized", MemoryMiB: 16384, VCPUs: 8, DiskGiB: 100, TransferTiB: 6, PriceMonthly: 168, PriceHourly: 0.25},
	{Slug: "g-4vcpu-16gb", Description: "General Purpose", MemoryMiB: 16384, VCPUs: 4, DiskGiB: 50, TransferTiB: 5, PriceMonthly: 126, PriceHourly: 0.1875},
	{Slug: "g-8vcpu-32gb", Description: "General Purpose", MemoryMiB: 32768, VCPUs: 8, DiskGiB: 100, TransferTiB: 6, PriceMonthly: 252, PriceHourly: 0.375},
	{Slug: "m-2vcpu-16gb", Description: "Memory-Optimized", MemoryMiB: 16384, VCPUs: 2, DiskGiB: 50, TransferTiB: 4, PriceMonthly: 84, PriceHourly: 0.125},

	{Slug: "gpu-h100x1-80gb", Description: "H100 GPU - 1X", MemoryMiB: 245760, VCPUs: 20, DiskGiB: 720, ScratchGiB: 5120, TransferTiB: 15, PriceMonthly: 2522.16, PriceHourly: 3.39,
		Regions: []string{"nyc2", "tor1", "atl1"}, GPU: &gpuSpec{Brand: "nvidia", Model: "h100", APIModel: "nvidia_h100", Count: 1, VRAMGiB: 80}},
	{Slug: "gpu-h100x8-640gb", Description: "H100 GPU - 8X", MemoryMiB: 1966080, VCPUs: 160, DiskGiB: 2046, ScratchGiB: 40960, TransferTiB: 60, PriceMonthly: 17796.48, PriceHourly: 23.92,
		Regions: []string{"nyc2", "tor1", "atl1"}, GPU: &gpuSpec{Brand: "nvidia", Model: "h100", APIModel: "nvidia_h100", Count: 8, VRAMGiB: 640}},
	{Slug: "gpu-l40sx1-48gb", Description: "L40S GPU - 1X", MemoryMiB: 65536, VCPUs: 8, DiskGiB: 500, TransferTiB: 10, PriceMonthly: 1168.08, PriceHourly: 1.57,
		Regions: []string{"tor1", "atl1"}, GPU: &gpuSpec{Brand: "nvidia", Model: "l40s", APIModel: "nvidia_l40s", Count: 1, VRAMGiB: 48}},
	{Slug: "gpu-4000adax1-20gb", Description: "RTX 4000 Ada GPU - 1X", MemoryMiB: 32768, VCPUs: 8, DiskGiB: 500, TransferTiB: 10, PriceMonthly: 565.44, PriceHourly: 0.76,
		Regions: []string{"nyc2", "tor1", "ams3"}, GPU: &gpuSpec{Brand: "nvidia", Model: "rtx-4000-ada", APIModel: "nvidia_rtx_4000_ada", Count: 1, VRAMGiB: 20}},
	{Slug: "gpu-6000adax1-48gb", Description: "RTX 6000 Ada GPU - 1X", MemoryMiB: 65536, VCPUs: 8, DiskGiB: 500, TransferTiB: 10, PriceMonthly: 1168.08, PriceHourly: 1.57,
		Regions: []string{"nyc2", "tor1", "ams3"}, GPU: &gpuSpec{Brand: "nvidia", Model: "rtx-6000-ada", APIModel: "nvidia_rtx_6000_ada", Count: 1, VRAMGiB: 48}},
	{Slug: "gpu-mi300x1-192gb", Description: "AMD MI300X GPU - 1X", MemoryMiB: 245760, VCPUs: 20, DiskGiB: 720, ScratchGiB: 5120, TransferTiB: 15, PriceMonthly: 1480.56, PriceHourly: 1.99,
		Regions: []string{"atl1"}, GPU: &gpuSpec{Brand: "amd", Model: "mi300x", APIModel: "amd_mi300x", Count: 1, VRAMGiB: 192}},
	{Slug: "gpu-mi300x8-1536gb", Description: "AMD MI300X GPU - 8X", MemoryMiB: 1966080, VCPUs: 160, DiskGiB: 2046, ScratchGiB: 40960, TransferTiB: 60, PriceMonthly: 11844.48, PriceHourly: 15.92,
		Regions: []string{"atl1"}, GPU: &gpuSpec{Brand: "amd", Model: "mi300x", APIModel: "amd_mi300x", Count: 8, VRAMGiB: 1536}},
}

func nodeSizeBySlug(slug string) (nodeSize, bool) {
	for _, s := range kubernetesSizes {
		if s.Slug == slug {
			return s, true
		}
	}
	return nodeSize{}, false
}

func (s nodeSize) offeredIn(region string) bool {
	return s.Regions == nil || slices.Contains(s.Regions, region)
}

// regionSlugs lists the regions the size is offered in.
func (s nodeSize) regionSlugs() []string {
	if s.Regions != nil {
		return s.Regions
	}
	out := make([]string, len(regions))
	for i, r := range regions {
		out[i] = r.Slug
	}
	return out
}

// multiNodeGPU reports whether the size is an 8-GPU machine, for which DOKS
// enables the RDMA shared device plugin (GPU-to-GPU networking).
func (s nodeSize) multiNodeGPU() bool { return s.GPU != nil && s.GPU.Count >= 8 }

// sizesOfferedIn lists the sizes offered in region, optionally GPU sizes only.
func sizesOfferedIn(region string, gpuOnly bool) []string {
	var out []string
	for _, s := range kubernetesSizes {
		if s.offeredIn(region) && (!gpuOnly || s.GPU != nil) {
			out = append(out, s.Slug)
		}
	}
	return out
}

// KubernetesSizeOffered reports whether the emulator offers node size slug
// in region (GPU sizes are offered only in some regions).
func KubernetesSizeOffered(slug, region string) bool {
	s, ok := nodeSizeBySlug(slug)
	return ok && s.offeredIn(region)
}

// KubernetesLatestVersion is the newest DOKS version slug the emulator offers.
func KubernetesLatestVersion() string { return latestKubernetesVersion().Slug }

// k8sCatalog serves the account-wide catalogue routes: /v2/regions,
// /v2/sizes and /v2/kubernetes/options. It holds no state.
type k8sCatalog struct{}

func (k8sCatalog) register(r *router) {
	r.handle(http.MethodGet, "/v2/regions", listRegions)
	r.handle(http.MethodGet, "/v2/sizes", listSizes)
	r.handle(http.MethodGet, "/v2/kubernetes/options", kubernetesOptions)
}

type apiRegionJSON struct {
	Name      string   `json:"name"`
	Slug      string   `json:"slug"`
	Features  []string `json:"features"`
	Available bool     `json:"available"`
	Sizes     []string `json:"sizes"`
}

var apiRegionFeatures = []string{"backups", "ipv6", "metadata", "install_agent", "storage", "image_transfer"}

func listRegions(c *call) {
	out := make([]apiRegionJSON, 0, len(regions))
	for _, r := range regions {
		out = append(out, apiRegionJSON{Name: r.Name, Slug: r.Slug, Features: apiRegionFeatures, Available: true, Sizes: sizesOfferedIn(r.Slug, false)})
	}
	respondList(c, "regions", out)
}

type sizeQuantity struct {
	Amount int    `json:"amount"`
	Unit   string `json:"unit"`
}

type apiDiskInfoJSON struct {
	Type string       `json:"type"`
	Size sizeQuantity `json:"size"`
}

type apiGPUInfoJSON struct {
	Count int          `json:"count"`
	Model string       `json:"model"`
	VRAM  sizeQuantity `json:"vram"`
	// SupportedPartitionModes are the gpu_partition_mode values a node pool
	// of this size accepts (AMD sizes only).
	SupportedPartitionModes []string `json:"supported_partition_modes,omitempty"`
}

type apiSizeJSON struct {
	Slug         string            `json:"slug"`
	Memory       int               `json:"memory"`
	VCPUs        int               `json:"vcpus"`
	Disk         int               `json:"disk"`
	Transfer     float64           `json:"transfer"`
	PriceMonthly float64           `json:"price_monthly"`
	PriceHourly  float64           `json:"price_hourly"`
	Regions      []string          `json:"regions"`
	Available    bool              `json:"available"`
	Description  string            `json:"description"`
	DiskInfo     []apiDiskInfoJSON `json:"disk_info"`
	GPUInfo      *apiGPUInfoJSON   `json:"gpu_info,omitempty"`
}

func (s nodeSize) toJSON() apiSizeJSON {
	out := apiSizeJSON{
		Slug: s.Slug, Memory: s.MemoryMiB, VCPUs: s.VCPUs, Disk: s.DiskGiB, Transfer: s.TransferTiB,
		PriceMonthly: s.PriceMonthly, PriceHourly: s.PriceHourly, Regions: s.regionSlugs(),
		Available: true, Description: s.Description,
		DiskInfo: []apiDiskInfoJSON{{Type: "local", Size: sizeQuantity{s.DiskGiB, "gib"}}},
	}
	if s.ScratchGiB > 0 {
		out.DiskInfo = append(out.DiskInfo, apiDiskInfoJSON{Type: "scratch", Size: sizeQuantity{s.ScratchGiB, "gib"}})
	}
	if s.GPU != nil {
		out.GPUInfo = &apiGPUInfoJSON{Count: s.GPU.Count, Model: s.GPU.APIModel, VRAM: sizeQuantity{s.GPU.VRAMGiB, "gib"}}
		if s.GPU.Brand == "amd" {
			out.GPUInfo.SupportedPartitionModes = amdPartitionModes
		}
	}
	return out
}

func listSizes(c *call) {
	out := make([]apiSizeJSON, 0, len(kubernetesSizes))
	for _, s := range kubernetesSizes {
		out = append(out, s.toJSON())
	}
	respondList(c, "sizes", out)
}

type k8sNameSlug struct {
	Name string `json:"name"`
	Slug string `json:"slug"`
}

func kubernetesOptions(c *call) {
	regionOpts := make([]k8sNameSlug, 0, len(regions))
	for _, r := range regions {
		regionOpts = append(regionOpts, k8sNameSlug{Name: r.Name, Slug: r.Slug})
	}
	sizeOpts := make([]k8sNameSlug, 0, len(kubernetesSizes))
	for _, s := range kubernetesSizes {
		sizeOpts = append(sizeOpts, k8sNameSlug{Name: s.Slug, Slug: s.Slug})
	}
	c.respond(http.StatusOK, map[string]any{"options": map[string]any{
		"regions":  regionOpts,
		"versions": kubernetesVersions,
		"sizes":    sizeOpts,
	}})
}
