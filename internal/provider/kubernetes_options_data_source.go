package provider

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/attach-labs/terraform-provider-attach/internal/stack"
)

var _ datasource.DataSourceWithConfigure = (*kubernetesOptionsDataSource)(nil)

// NewKubernetesOptionsDataSource is the attach_kubernetes_options data source:
// the live DOKS versions, regions and node sizes, with which GPU sizes each
// region offers, so a configuration can pick a version and a GPU region
// without hard-coding what DigitalOcean sells this week.
func NewKubernetesOptionsDataSource() datasource.DataSource { return &kubernetesOptionsDataSource{} }

type kubernetesOptionsDataSource struct{ client *Client }

type kubernetesOptionsModel struct {
	VersionPrefix    types.String              `tfsdk:"version_prefix"`
	LatestVersion    types.String              `tfsdk:"latest_version"`
	Versions         []kubernetesVersionModel  `tfsdk:"versions"`
	Regions          []kubernetesRegionModel   `tfsdk:"regions"`
	Sizes            []kubernetesNodeSizeModel `tfsdk:"sizes"`
	GPUSizesByRegion map[string][]types.String `tfsdk:"gpu_sizes_by_region"`
}

type kubernetesVersionModel struct {
	Slug              types.String   `tfsdk:"slug"`
	KubernetesVersion types.String   `tfsdk:"kubernetes_version"`
	SupportedFeatures []types.String `tfsdk:"supported_features"`
}

type kubernetesRegionModel struct {
	Slug types.String `tfsdk:"slug"`
	Name types.String `tfsdk:"name"`
}

type kubernetesNodeSizeModel struct {
	Slug     types.String   `tfsdk:"slug"`
	Name     types.String   `tfsdk:"name"`
	GPU      types.Bool     `tfsdk:"gpu"`
	GPUModel types.String   `tfsdk:"gpu_model"`
	GPUCount types.Int64    `tfsdk:"gpu_count"`
	Regions  []types.String `tfsdk:"regions"`
}

func (d *kubernetesOptionsDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_kubernetes_options"
}

func (d *kubernetesOptionsDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Live DigitalOcean Kubernetes (DOKS) options: versions, regions and node sizes, " +
			"with GPU sizes flagged and the regions that offer each one.",
		Attributes: map[string]schema.Attribute{
			"version_prefix": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "Restrict `latest_version` to versions whose slug or Kubernetes version starts with this prefix, e.g. `1.33`.",
			},
			"latest_version": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The newest version slug (matching `version_prefix` when set), e.g. `1.33.1-do.0`.",
			},
			"versions": schema.ListNestedAttribute{
				Computed:            true,
				MarkdownDescription: "Available versions, newest first.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"slug":               schema.StringAttribute{Computed: true, MarkdownDescription: "Version slug to use in a cluster, e.g. `1.33.1-do.0`."},
					"kubernetes_version": schema.StringAttribute{Computed: true, MarkdownDescription: "Upstream Kubernetes version, e.g. `1.33.1`."},
					"supported_features": schema.ListAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "Features this version supports."},
				}},
			},
			"regions": schema.ListNestedAttribute{
				Computed:            true,
				MarkdownDescription: "Regions where DOKS clusters can be created.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"slug": schema.StringAttribute{Computed: true, MarkdownDescription: "Region slug, e.g. `tor1`."},
					"name": schema.StringAttribute{Computed: true, MarkdownDescription: "Region name."},
				}},
			},
			"sizes": schema.ListNestedAttribute{
				Computed:            true,
				MarkdownDescription: "Node sizes DOKS offers, in the order DigitalOcean lists them.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"slug":      schema.StringAttribute{Computed: true, MarkdownDescription: "Size slug, e.g. `gpu-h100x1-80gb`."},
					"name":      schema.StringAttribute{Computed: true, MarkdownDescription: "Size name."},
					"gpu":       schema.BoolAttribute{Computed: true, MarkdownDescription: "Whether nodes of this size carry GPUs."},
					"gpu_model": schema.StringAttribute{Computed: true, MarkdownDescription: "GPU model for GPU sizes (empty otherwise)."},
					"gpu_count": schema.Int64Attribute{Computed: true, MarkdownDescription: "GPUs per node (0 for CPU sizes)."},
					"regions":   schema.ListAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "Regions where the size is currently available, sorted."},
				}},
			},
			"gpu_sizes_by_region": schema.MapAttribute{
				Computed:            true,
				ElementType:         types.ListType{ElemType: types.StringType},
				MarkdownDescription: "For every DOKS region, the GPU sizes available there (sorted; empty when none).",
			},
		},
	}
}

func (d *kubernetesOptionsDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.client = clientFrom(req.ProviderData, resp.Diagnostics.AddError)
}

func (d *kubernetesOptionsDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	if d.client == nil {
		resp.Diagnostics.AddError("Provider not configured", "The attach provider was not configured before reading attach_kubernetes_options; check the provider block.")
		return
	}
	ctx = d.client.LogContext(ctx)
	var data kubernetesOptionsModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &data)...)
	if resp.Diagnostics.HasError() {
		return
	}

	// Shared with the plan-time checks: one read of the options per process.
	live, err := d.client.Options(ctx)
	if err != nil {
		resp.Diagnostics.AddError("Unable to read Kubernetes options", err.Error())
		return
	}
	opts := live.Kubernetes
	sizes := make([]godo.Size, 0, len(live.Sizes))
	for _, s := range live.Sizes {
		sizes = append(sizes, s)
	}

	latest, ok := latestKubernetesVersion(opts.Versions, data.VersionPrefix.ValueString())
	if !ok {
		resp.Diagnostics.AddAttributeError(path.Root("version_prefix"), "No Kubernetes version matches",
			fmt.Sprintf("No DOKS version starts with %q. Available versions: %s. Use one of their prefixes, e.g. %q, or leave version_prefix unset for the newest.",
				data.VersionPrefix.ValueString(), strings.Join(versionSlugs(opts.Versions), ", "), majorMinor(versionSlugs(opts.Versions))))
		return
	}
	data.LatestVersion = types.StringValue(latest)
	data.Versions, data.Regions, data.Sizes, data.GPUSizesByRegion = kubernetesOptionsToModel(opts, sizes)
	resp.Diagnostics.Append(resp.State.Set(ctx, &data)...)
}

func kubernetesOptionsToModel(opts *godo.KubernetesOptions, sizes []godo.Size) ([]kubernetesVersionModel, []kubernetesRegionModel, []kubernetesNodeSizeModel, map[string][]types.String) {
	versions := make([]kubernetesVersionModel, 0, len(opts.Versions))
	for _, v := range opts.Versions {
		versions = append(versions, kubernetesVersionModel{
			Slug:              types.StringValue(v.Slug),
			KubernetesVersion: types.StringValue(v.KubernetesVersion),
			SupportedFeatures: stringValues(v.SupportedFeatures),
		})
	}
	regions := make([]kubernetesRegionModel, 0, len(opts.Regions))
	gpuByRegion := make(map[string][]types.String, len(opts.Regions))
	for _, r := range opts.Regions {
		regions = append(regions, kubernetesRegionModel{Slug: types.StringValue(r.Slug), Name: types.StringValue(r.Name)})
		gpuByRegion[r.Slug] = []types.String{}
	}
	bySlug := make(map[string]godo.Size, len(sizes))
	for _, s := range sizes {
		bySlug[s.Slug] = s
	}
	nodeSizes := make([]kubernetesNodeSizeModel, 0, len(opts.Sizes))
	for _, ns := range opts.Sizes {
		info := bySlug[ns.Slug]
		gpu := info.GPUInfo != nil || strings.HasPrefix(ns.Slug, "gpu-")
		var available []string
		if info.Available {
			available = append(available, info.Regions...)
		}
		sort.Strings(available)
		m := kubernetesNodeSizeModel{
			Slug:     types.StringValue(ns.Slug),
			Name:     types.StringValue(ns.Name),
			GPU:      types.BoolValue(gpu),
			GPUModel: types.StringValue(""),
			GPUCount: types.Int64Value(0),
			Regions:  stringValues(available),
		}
		if info.GPUInfo != nil {
			m.GPUModel = types.StringValue(info.GPUInfo.Model)
			m.GPUCount = types.Int64Value(int64(info.GPUInfo.Count))
		}
		nodeSizes = append(nodeSizes, m)
		if gpu {
			for _, r := range available {
				if list, ok := gpuByRegion[r]; ok {
					gpuByRegion[r] = append(list, types.StringValue(ns.Slug))
				}
			}
		}
	}
	for r, list := range gpuByRegion {
		sort.Slice(list, func(i, j int) bool { return list[i].ValueString() < list[j].ValueString() })
		gpuByRegion[r] = list
	}
	return versions, regions, nodeSizes, gpuByRegion
}

// listAllSizes pages through /v2/sizes.
func listAllSizes(ctx context.Context, c *godo.Client) ([]godo.Size, error) {
	return stack.ListAll(ctx, func(opt *godo.ListOptions) ([]godo.Size, *godo.Response, error) {
		return c.Sizes.List(ctx, opt)
	})
}

// latestKubernetesVersion returns the newest version whose slug or upstream
// version starts with prefix (whole dotted components; "" matches all).
// DigitalOcean lists versions newest first, but the order is not part of
// the contract, so compare.
func latestKubernetesVersion(versions []*godo.KubernetesVersion, prefix string) (string, bool) {
	var best *godo.KubernetesVersion
	for _, v := range versions {
		if !stack.VersionMatches(v.Slug, prefix) && !stack.VersionMatches(v.KubernetesVersion, prefix) {
			continue
		}
		if best == nil || stack.CompareVersions(v.Slug, best.Slug) > 0 {
			best = v
		}
	}
	if best == nil {
		return "", false
	}
	return best.Slug, true
}

// compareVersionSlugs orders slugs like "1.33.1-do.0" numerically.
func compareVersionSlugs(a, b string) int { return stack.CompareVersions(a, b) }

func versionSlugs(versions []*godo.KubernetesVersion) []string {
	out := make([]string, 0, len(versions))
	for _, v := range versions {
		out = append(out, v.Slug)
	}
	return out
}

// majorMinor suggests a prefix from the first slug ("1.33.1-do.0" -> "1.33").
func majorMinor(slugs []string) string {
	if len(slugs) == 0 {
		return "1.33"
	}
	parts := strings.SplitN(slugs[0], ".", 3)
	if len(parts) < 2 {
		return slugs[0]
	}
	return parts[0] + "." + parts[1]
}

func stringValues(in []string) []types.String {
	out := make([]types.String, 0, len(in))
	for _, s := range in {
		out = append(out, types.StringValue(s))
	}
	return out
}
