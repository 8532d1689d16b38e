package provider

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

var _ datasource.DataSourceWithConfigure = (*databaseOptionsDataSource)(nil)

// NewDatabaseOptionsDataSource is attach_database_options: the engines,
// versions, regions and sizes DigitalOcean's Managed Databases offer now.
func NewDatabaseOptionsDataSource() datasource.DataSource { return &databaseOptionsDataSource{} }

type databaseOptionsDataSource struct{ client *Client }

type databaseOptionsModel struct {
	Engine  types.String          `tfsdk:"engine"`
	Region  types.String          `tfsdk:"region"`
	Engines []databaseEngineModel `tfsdk:"engines"`
}

type databaseEngineModel struct {
	Engine        types.String          `tfsdk:"engine"`
	Versions      []types.String        `tfsdk:"versions"`
	LatestVersion types.String          `tfsdk:"latest_version"`
	Regions       []types.String        `tfsdk:"regions"`
	Layouts       []databaseLayoutModel `tfsdk:"layouts"`
}

type databaseLayoutModel struct {
	NodeCount types.Int64    `tfsdk:"node_count"`
	Sizes     []types.String `tfsdk:"sizes"`
}

var databaseEngines = []string{"pg", "mysql", "valkey", "mongodb", "opensearch", "kafka"}

func (d *databaseOptionsDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_database_options"
}

func (d *databaseOptionsDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Live DigitalOcean Managed Databases options: per engine, the versions, regions and the sizes " +
			"offered for each node count.",
		Attributes: map[string]schema.Attribute{
			"engine": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "Only this engine (`pg`, `mysql`, `valkey`, `mongodb`, `opensearch`, `kafka`).",
				Validators:          []validator.String{stringvalidator.OneOf(databaseEngines...)},
			},
			"region": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "Only engines offered in this region.",
			},
			"engines": schema.ListNestedAttribute{
				Computed:            true,
				MarkdownDescription: "Engines, in the order pg, mysql, valkey, mongodb, opensearch, kafka.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"engine":         schema.StringAttribute{Computed: true, MarkdownDescription: "Engine slug."},
					"versions":       schema.ListAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "Versions offered."},
					"latest_version": schema.StringAttribute{Computed: true, MarkdownDescription: "The newest version."},
					"regions":        schema.ListAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "Regions offering the engine, sorted."},
					"layouts": schema.ListNestedAttribute{
						Computed:            true,
						MarkdownDescription: "Node counts and the sizes offered for each.",
						NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
							"node_count": schema.Int64Attribute{Computed: true, MarkdownDescription: "Nodes, the primary included."},
							"sizes":      schema.ListAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "Sizes offered at that node count."},
						}},
					},
				}},
			},
		},
	}
}

func (d *databaseOptionsDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.client = clientFrom(req.ProviderData, resp.Diagnostics.AddError)
}

func (d *databaseOptionsDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	if d.client == nil {
		resp.Diagnostics.AddError("Provider not configured", "The attach provider was not configured before reading attach_database_options; check the provider block.")
		return
	}
	ctx = d.client.LogContext(ctx)
	var data databaseOptionsModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &data)...)
	if resp.Diagnostics.HasError() {
		return
	}
	opts, err := d.client.Options(ctx)
	if err != nil {
		resp.Diagnostics.AddError("Unable to read database options", err.Error())
		return
	}
	region := data.Region.ValueString()
	data.Engines = []databaseEngineModel{}
	var offeredAnywhere []string
	for _, engine := range databaseEngines {
		if !data.Engine.IsNull() && data.Engine.ValueString() != engine {
			continue
		}
		eo, _ := opts.engineOptions(engine)
		regions := append([]string(nil), eo.Regions...)
		sort.Strings(regions)
		if region != "" {
			if !containsString(regions, region) {
				continue
			}
		}
		offeredAnywhere = append(offeredAnywhere, engine)
		m := databaseEngineModel{Engine: types.StringValue(engine), Versions: stringValues(eo.Versions), Regions: stringValues(regions), Layouts: []databaseLayoutModel{}}
		m.LatestVersion = types.StringValue("")
		if len(eo.Versions) > 0 {
			m.LatestVersion = types.StringValue(newestDBVersion(eo.Versions))
		}
		for _, l := range eo.Layouts {
			m.Layouts = append(m.Layouts, databaseLayoutModel{NodeCount: types.Int64Value(int64(l.NodeNum)), Sizes: stringValues(l.Sizes)})
		}
		data.Engines = append(data.Engines, m)
	}
	if len(offeredAnywhere) == 0 && region != "" {
		resp.Diagnostics.AddAttributeError(path.Root("region"), "No database engine in this region",
			fmt.Sprintf("DigitalOcean offers %s in none of its regions named %q. Check the region slug (e.g. nyc3, tor1).",
				strings.Join(filterOr(data.Engine.ValueString(), databaseEngines), ", "), region))
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &data)...)
}

func filterOr(one string, all []string) []string {
	if one != "" {
		return []string{one}
	}
	return all
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
