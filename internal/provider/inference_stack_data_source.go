package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/attach-labs/terraform-provider-attach/internal/stack"
)

var _ datasource.DataSourceWithConfigure = (*inferenceStackDataSource)(nil)

// NewInferenceStackDataSource is attach_inference_stack as a data source:
// another workspace looks a stack up by name (through its tags) and gets
// ids and private hosts, never secrets.
func NewInferenceStackDataSource() datasource.DataSource { return &inferenceStackDataSource{} }

type inferenceStackDataSource struct{ client *Client }

type stackLookupModel struct {
	Name            types.String                   `tfsdk:"name"`
	AllowMissing    types.Bool                     `tfsdk:"allow_missing"`
	Found           types.Bool                     `tfsdk:"found"`
	Region          types.String                   `tfsdk:"region"`
	VPCID           types.String                   `tfsdk:"vpc_id"`
	ClusterID       types.String                   `tfsdk:"cluster_id"`
	ClusterURN      types.String                   `tfsdk:"cluster_urn"`
	ClusterEndpoint types.String                   `tfsdk:"cluster_endpoint"`
	ClusterVersion  types.String                   `tfsdk:"cluster_version"`
	Databases       map[string]stackLookupDatabase `tfsdk:"databases"`
}

type stackLookupDatabase struct {
	ID          types.String                   `tfsdk:"id"`
	URN         types.String                   `tfsdk:"urn"`
	Engine      types.String                   `tfsdk:"engine"`
	Version     types.String                   `tfsdk:"version"`
	Owned       types.Bool                     `tfsdk:"owned"`
	PrivateHost types.String                   `tfsdk:"private_host"`
	Port        types.Int64                    `tfsdk:"port"`
	Pools       map[string]stackLookupEndpoint `tfsdk:"pools"`
	Replicas    map[string]stackLookupEndpoint `tfsdk:"replicas"`
}

type stackLookupEndpoint struct {
	PrivateHost types.String `tfsdk:"private_host"`
	Port        types.Int64  `tfsdk:"port"`
}

func (d *inferenceStackDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_inference_stack"
}

func (d *inferenceStackDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	endpoint := schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
		"private_host": schema.StringAttribute{Computed: true, MarkdownDescription: "Private host."},
		"port":         schema.Int64Attribute{Computed: true, MarkdownDescription: "Port (0 for replicas, which share the primary's)."},
	}}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Looks up an `attach_inference_stack` by name, e.g. from the workspace of an app that runs on it, " +
			"through the tag `attach-stack:<name>` its parts carry. Gives ids and private hosts, never credentials: " +
			"create the app's own user with `attach_database_attachment`.",
		Attributes: map[string]schema.Attribute{
			"name": schema.StringAttribute{
				Required: true, MarkdownDescription: "The stack's name.",
				Validators: []validator.String{stringvalidator.RegexMatches(stackNamePattern, "must be a stack name: 3-40 lowercase letters, digits and dashes")},
			},
			"allow_missing": schema.BoolAttribute{
				Optional: true,
				MarkdownDescription: "When `true`, a stack that does not exist (never created, or destroyed by its workspace) is not " +
					"an error: `found` is `false` and `databases` is empty, so a workspace that attaches to it can still plan " +
					"and destroy after the stack is gone. Default `false`: a missing stack is an error.",
			},
			"found":            schema.BoolAttribute{Computed: true, MarkdownDescription: "Whether the stack exists."},
			"region":           schema.StringAttribute{Computed: true, MarkdownDescription: "Region."},
			"vpc_id":           schema.StringAttribute{Computed: true, MarkdownDescription: "VPC of the stack."},
			"cluster_id":       schema.StringAttribute{Computed: true, MarkdownDescription: "DOKS cluster id (empty when the stack has none)."},
			"cluster_urn":      schema.StringAttribute{Computed: true, MarkdownDescription: "DOKS cluster URN."},
			"cluster_endpoint": schema.StringAttribute{Computed: true, MarkdownDescription: "Kubernetes API endpoint."},
			"cluster_version":  schema.StringAttribute{Computed: true, MarkdownDescription: "Kubernetes version slug."},
			"databases": schema.MapNestedAttribute{
				Computed:            true,
				MarkdownDescription: "The stack's databases by key.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"id":           schema.StringAttribute{Computed: true, MarkdownDescription: "Database cluster id."},
					"urn":          schema.StringAttribute{Computed: true, MarkdownDescription: "Database cluster URN."},
					"engine":       schema.StringAttribute{Computed: true, MarkdownDescription: "Engine."},
					"version":      schema.StringAttribute{Computed: true, MarkdownDescription: "Engine version."},
					"owned":        schema.BoolAttribute{Computed: true, MarkdownDescription: "Whether the stack owns it (false: attached with existing_id)."},
					"private_host": schema.StringAttribute{Computed: true, MarkdownDescription: "Private host."},
					"port":         schema.Int64Attribute{Computed: true, MarkdownDescription: "Port."},
					"pools":        schema.MapNestedAttribute{Computed: true, NestedObject: endpoint, MarkdownDescription: "PgBouncer pools."},
					"replicas":     schema.MapNestedAttribute{Computed: true, NestedObject: endpoint, MarkdownDescription: "Read replicas."},
				}},
			},
		},
	}
}

func (d *inferenceStackDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.client = clientFrom(req.ProviderData, resp.Diagnostics.AddError)
}

func (d *inferenceStackDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	if d.client == nil {
		resp.Diagnostics.AddError("Provider not configured", "The attach provider was not configured before reading attach_inference_stack.")
		return
	}
	ctx = d.client.LogContext(ctx)
	var data stackLookupModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &data)...)
	if resp.Diagnostics.HasError() {
		return
	}
	spec, st, err := stack.New(d.client.Godo).Discover(ctx, data.Name.ValueString())
	if errors.Is(err, stack.ErrNoStack) && data.AllowMissing.ValueBool() {
		resp.Diagnostics.AddAttributeWarning(path.Root("name"), "Stack "+data.Name.ValueString()+" was not found",
			fmt.Sprintf("%v. allow_missing is set, so found = false and databases is empty: whatever attaches to the stack is "+
				"planned away (its databases are gone with it). If the stack should exist, check the name.", err))
		data.Found = types.BoolValue(false)
		data.Region, data.VPCID = types.StringValue(""), types.StringValue("")
		data.ClusterID, data.ClusterURN, data.ClusterEndpoint, data.ClusterVersion = types.StringValue(""), types.StringValue(""), types.StringValue(""), types.StringValue("")
		data.Databases = map[string]stackLookupDatabase{}
		resp.Diagnostics.Append(resp.State.Set(ctx, &data)...)
		return
	}
	if errors.Is(err, stack.ErrNoStack) {
		resp.Diagnostics.AddAttributeError(path.Root("name"), "Stack not found",
			fmt.Sprintf("%v. Check the name, and that the token can see the stack's project.", err))
		return
	}
	if err != nil {
		// An API error (a rejected token, an unreachable endpoint, a 5xx)
		// says nothing of whether the stack exists.
		resp.Diagnostics.AddError("Reading stack "+data.Name.ValueString()+" failed", err.Error())
		return
	}
	if parts := partsBeingCreated(st); len(parts) > 0 {
		resp.Diagnostics.AddAttributeWarning(path.Root("name"), "Stack "+data.Name.ValueString()+" is being created",
			beingCreatedDetail(data.Name.ValueString(), parts, len(st.Databases) == 0))
	}
	data.Found = types.BoolValue(true)
	data.Region, data.VPCID = types.StringValue(spec.Region), types.StringValue(st.VPCID)
	data.ClusterID, data.ClusterURN, data.ClusterEndpoint, data.ClusterVersion = types.StringValue(""), types.StringValue(""), types.StringValue(""), types.StringValue("")
	if c := st.Cluster; c != nil {
		data.ClusterID, data.ClusterURN = types.StringValue(c.ID), types.StringValue(c.URN)
		data.ClusterEndpoint, data.ClusterVersion = types.StringValue(c.Endpoint), types.StringValue(c.Version)
	}
	data.Databases = map[string]stackLookupDatabase{}
	for key, db := range st.Databases {
		m := stackLookupDatabase{
			ID: types.StringValue(db.ID), URN: types.StringValue(db.URN), Engine: types.StringValue(db.Engine),
			Version: types.StringValue(db.Version), Owned: types.BoolValue(db.Owned),
			PrivateHost: types.StringValue(db.PrivateHost), Port: types.Int64Value(int64(db.Port)),
			Pools: map[string]stackLookupEndpoint{}, Replicas: map[string]stackLookupEndpoint{},
		}
		for name, p := range db.Pools {
			m.Pools[name] = stackLookupEndpoint{PrivateHost: types.StringValue(p.PrivateHost), Port: types.Int64Value(int64(p.Port))}
		}
		for name, r := range db.Replicas {
			m.Replicas[name] = stackLookupEndpoint{PrivateHost: types.StringValue(r.PrivateHost), Port: types.Int64Value(0)}
		}
		data.Databases[key] = m
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &data)...)
}

// partsBeingCreated names the parts of a stack its workspace is still
// creating (a cluster provisioning, a database creating): a stack read
// while another workspace applies it. Ids and hosts of what is listed are
// final; what is not listed yet is missing from the read.
func partsBeingCreated(st *stack.Status) []string {
	var parts []string
	if c := st.Cluster; c != nil && c.State == "provisioning" {
		parts = append(parts, "its cluster is provisioning")
	}
	for _, key := range sortedKeys(st.Databases) {
		if db := st.Databases[key]; db.State == "creating" {
			parts = append(parts, "database "+key+" is being created")
		}
	}
	return parts
}

func beingCreatedDetail(name string, parts []string, noDatabase bool) string {
	detail := fmt.Sprintf("Stack %s is being applied by its workspace: %s. The ids and private hosts read are final, "+
		"but the stack may have more parts than were read: ", name, strings.Join(parts, ", "))
	if noDatabase {
		detail += "no database is listed yet, and DigitalOcean lists a new database only about a minute after its create. "
	} else {
		detail += "DigitalOcean lists a new database only about a minute after its create. "
	}
	return detail + "If this workspace refers to a database of " + name + " that is not there yet (\"Invalid index\"), plan again once " +
		name + "'s apply has ended."
}
