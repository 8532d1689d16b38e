package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/attach-labs/terraform-provider-attach/internal/stack"
)

var (
	_ resource.ResourceWithConfigure   = (*databaseReplicaResource)(nil)
	_ resource.ResourceWithImportState = (*databaseReplicaResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*databaseReplicaResource)(nil)
)

// NewDatabaseReplicaResource is attach_database_replica: a read replica of
// an existing database, typically in another region for disaster recovery,
// that one variable change promotes into a standalone primary. Once
// promoted it holds the only live copy of the data, so it is protected
// like a stack's database.
func NewDatabaseReplicaResource() resource.Resource { return &databaseReplicaResource{} }

type databaseReplicaResource struct{ client *Client }

type replicaResourceModel struct {
	ID                 types.String   `tfsdk:"id"`
	DatabaseID         types.String   `tfsdk:"database_id"`
	Name               types.String   `tfsdk:"name"`
	Region             types.String   `tfsdk:"region"`
	Size               types.String   `tfsdk:"size"`
	VPCID              types.String   `tfsdk:"vpc_id"`
	Tags               []types.String `tfsdk:"tags"`
	Promoted           types.Bool     `tfsdk:"promoted"`
	DeletionProtection types.Bool     `tfsdk:"deletion_protection"`
	PrivateHost        types.String   `tfsdk:"private_host"`
	Timeouts           timeouts.Value `tfsdk:"timeouts"`
}

func (r *databaseReplicaResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_database_replica"
}

func (r *databaseReplicaResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	resp.Schema = schema.Schema{
		MarkdownDescription: "A read replica of an existing PostgreSQL or MySQL database, for disaster recovery in another " +
			"region. Setting `promoted = true` promotes it into a standalone primary (same id), which " +
			"`attach_database_attachment` can then attach to a standby cluster. A promoted replica is protected by " +
			"`deletion_protection` like any primary.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true, MarkdownDescription: "Id of the replica; after promotion, of the database cluster it became.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
			"database_id": schema.StringAttribute{Required: true, PlanModifiers: replace, MarkdownDescription: "The primary database cluster."},
			"name": schema.StringAttribute{Required: true, PlanModifiers: replace, MarkdownDescription: "Replica name (unique in the account; 3-63 lowercase letters, digits and dashes).",
				Validators: []validator.String{stringvalidator.RegexMatches(replicaNamePattern, replicaNameRule)}},
			"region": schema.StringAttribute{Required: true, PlanModifiers: replace, MarkdownDescription: "Region of the replica, e.g. `nyc3`."},
			"size": schema.StringAttribute{Optional: true, Computed: true, PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
				MarkdownDescription: "Size; not smaller than the primary's. Default: the primary's. Changed in place (the replica is resized, keeping its id)."},
			"vpc_id": schema.StringAttribute{Optional: true, Computed: true, PlanModifiers: append(replace, stringplanmodifier.UseStateForUnknown()),
				MarkdownDescription: "VPC in the replica's region (e.g. the standby stack's `vpc_id`). Default: the region's default VPC."},
			"tags": schema.ListAttribute{Optional: true, ElementType: types.StringType, MarkdownDescription: "Tags. Changed in place; a tag added or removed outside Terraform shows as drift."},
			"promoted": schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(false),
				MarkdownDescription: "Promote the replica into a standalone primary: the failover switch. It cannot be undone."},
			"deletion_protection": schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(true),
				MarkdownDescription: "Once promoted, refuse to delete the database at plan time. Default `true`."},
			"private_host": schema.StringAttribute{Computed: true, MarkdownDescription: "Private host of the replica.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
			"timeouts": timeouts.Attributes(ctx, timeouts.Opts{Create: true, Update: true, Delete: true}),
		},
	}
}

func (r *databaseReplicaResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFrom(req.ProviderData, resp.Diagnostics.AddError)
}

// ModifyPlan refuses to un-promote, and to delete a promoted, protected
// replica (it is a primary now).
func (r *databaseReplicaResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.State.Raw.IsNull() {
		return
	}
	var state replicaResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() || !state.Promoted.ValueBool() {
		return
	}
	if req.Plan.Raw.IsNull() || len(resp.RequiresReplace) > 0 {
		if state.DeletionProtection.ValueBool() {
			resp.Diagnostics.AddAttributeError(path.Root("deletion_protection"), "Deleting a promoted replica",
				fmt.Sprintf("Replica %s was promoted: it is a primary database now, holding data. deletion_protection = true forbids deleting it; nothing was deleted. Set deletion_protection = false and apply first if that is really meant.", state.Name.ValueString()))
		}
		return
	}
	var plan replicaResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if !plan.Promoted.ValueBool() {
		resp.Diagnostics.AddAttributeError(path.Root("promoted"), "A promoted replica cannot become a replica again",
			"DigitalOcean cannot demote a primary. Keep promoted = true; to fail back, create a new replica of this database in the original region.")
	}
}

func (r *databaseReplicaResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	ctx = r.client.LogContext(ctx)
	var plan replicaResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := plan.Timeouts.Create(ctx, 30*time.Minute)
	resp.Diagnostics.Append(diags...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	api, primary := r.client.Godo, plan.DatabaseID.ValueString()
	db, _, err := api.Databases.Get(ctx, primary)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("database_id"), "Primary database not found", APIError("reading database "+primary, err))
		return
	}
	if db.EngineSlug != "pg" && db.EngineSlug != "mysql" {
		resp.Diagnostics.AddAttributeError(path.Root("database_id"), "Read replicas need PostgreSQL or MySQL",
			fmt.Sprintf("Database %s is %s; DigitalOcean offers read replicas for pg and mysql only.", db.Name, db.EngineSlug))
		return
	}
	size := plan.Size.ValueString()
	if size == "" || plan.Size.IsUnknown() {
		size = db.SizeSlug
	}
	creq := &godo.DatabaseCreateReplicaRequest{Name: plan.Name.ValueString(), Region: plan.Region.ValueString(), Size: size,
		PrivateNetworkUUID: plan.VPCID.ValueString(), Tags: valueStrings(plan.Tags)}
	if plan.VPCID.IsUnknown() {
		creq.PrivateNetworkUUID = ""
	}
	poll := r.client.PollConfig()
	var rep *godo.DatabaseReplica
	op := fmt.Sprintf("creating replica %s of %s in %s", creq.Name, db.Name, creq.Region)
	err = poll.Retry(ctx, op, func(ctx context.Context) error {
		var err error
		rep, _, err = api.Databases.CreateReplica(ctx, primary, creq)
		return err
	}, func(err error) string {
		switch {
		case stack.IsPreconditionFailed(err):
			// A new primary reads online before its first backup exists.
			return "waiting for the primary's first backup (DigitalOcean refuses replicas of a new database until it exists)"
		case stack.IsNameUnavailable(err) && !r.nameTakenByLiveObject(ctx, primary, creq.Name):
			return "the name " + creq.Name + " is not available yet (DigitalOcean holds it for a while after a replica or database of that name was deleted)"
		}
		return ""
	})
	if err != nil {
		resp.Diagnostics.AddError("Creating the replica failed", APIError(op, err))
		return
	}
	r.fill(&plan, rep)
	// In state before the wait: a replica that never comes online is
	// tracked (tainted), not orphaned. Until it is seen online, a 404 for
	// it means "not visible yet" (DigitalOcean answers 404 for a while
	// after a create), so the create time goes to private state.
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	created := time.Now()
	resp.Diagnostics.Append(setPrivateTime(ctx, resp.Private, privateReplicaCreated, created)...)
	logged := false
	err = poll.WaitExpecting(ctx, "replica "+rep.Name+" to be online", created, stack.TypicalReplicaCreate, func(ctx context.Context) (bool, error) {
		got, _, err := api.Databases.GetReplica(ctx, primary, rep.Name)
		if IsNotFound(err) && poll.NotVisibleYet(created, "") {
			if !logged {
				tflog.Info(ctx, "replica not visible yet after its create (DigitalOcean answers 404 for a while); waiting", map[string]any{"replica": rep.Name})
				logged = true
			}
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("%s", APIError("reading replica "+rep.Name, err))
		}
		rep = got
		return got.Status == "online", nil
	})
	r.fill(&plan, rep)
	if err != nil {
		resp.Diagnostics.AddError("Replica did not come online", err.Error()+"\n\nThe replica is in state and tainted; destroy or apply again.")
	} else {
		resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateReplicaCreated, nil)...)
	}
	if plan.Promoted.ValueBool() && err == nil {
		resp.Diagnostics.Append(r.promote(ctx, &plan, resp.Private)...)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// Private state keys of the replica: when this provider created it (until
// it is seen online) and when it promoted it (until the database reads
// online): while recent, a 404 means "not visible yet", not "gone".
const (
	privateReplicaCreated  = "replica_created_at"
	privateReplicaPromoted = "replica_promoted_at"
)

// nameTakenByLiveObject reports whether a live database or a live replica
// of the primary carries name: a name taken like that does not clear by
// waiting (a held name belongs to nothing listed).
func (r *databaseReplicaResource) nameTakenByLiveObject(ctx context.Context, primary, name string) bool {
	api := r.client.Godo
	if rep, _, err := api.Databases.GetReplica(ctx, primary, name); err == nil && rep != nil {
		return true
	}
	dbs, err := stack.ListAll(ctx, func(opt *godo.ListOptions) ([]godo.Database, *godo.Response, error) {
		return api.Databases.List(ctx, opt)
	})
	if err != nil {
		return false
	}
	for _, db := range dbs {
		if db.Name == name {
			return true
		}
	}
	return false
}

// promote promotes the replica and waits until it is a database cluster
// reading online. DigitalOcean promotes asynchronously: after the 204 the
// replica id answers 404 as a database for a while. promoted is recorded
// (it cannot be undone) even when the wait runs out of time.
func (r *databaseReplicaResource) promote(ctx context.Context, m *replicaResourceModel, priv privateWriter) diag.Diagnostics {
	var diags diag.Diagnostics
	api, name, id := r.client.Godo, m.Name.ValueString(), m.ID.ValueString()
	if _, err := api.Databases.PromoteReplicaToPrimary(ctx, m.DatabaseID.ValueString(), name); err != nil {
		diags.AddError("Promoting the replica failed", APIError("promoting replica "+name, err))
		m.Promoted = types.BoolValue(false)
		return diags
	}
	m.Promoted = types.BoolValue(true)
	diags.Append(setPrivateTime(ctx, priv, privateReplicaPromoted, time.Now())...)
	logged := false
	err := r.client.PollConfig().WaitUntil(ctx, "promoted replica "+name+" to be an online database", func(ctx context.Context) (bool, error) {
		db, _, err := api.Databases.Get(ctx, id)
		if IsNotFound(err) {
			if !logged {
				tflog.Info(ctx, "promotion in progress: the replica is not a database yet (DigitalOcean promotes asynchronously); waiting", map[string]any{"replica": name, "id": id})
				logged = true
			}
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("%s", APIError("reading promoted replica "+name+" ("+id+")", err))
		}
		return db.Status == "online", nil
	})
	if err != nil {
		diags.AddError("The promoted replica did not come online",
			err.Error()+"\n\nThe promotion was accepted and cannot be undone: state records promoted = true. Apply again to wait for it.")
		return diags
	}
	diags.Append(priv.SetKey(ctx, privateReplicaPromoted, nil)...)
	return diags
}

func setPrivateTime(ctx context.Context, priv privateWriter, key string, t time.Time) diag.Diagnostics {
	b, err := json.Marshal(t)
	if err != nil {
		var diags diag.Diagnostics
		diags.AddError("Saving private state failed", err.Error())
		return diags
	}
	return priv.SetKey(ctx, key, b)
}

// privateTime reads a time setPrivateTime saved; zero when absent.
func privateTime(ctx context.Context, priv privateState, key string) time.Time {
	b, diags := priv.GetKey(ctx, key)
	var t time.Time
	if diags.HasError() || len(b) == 0 || json.Unmarshal(b, &t) != nil {
		return time.Time{}
	}
	return t
}

func (r *databaseReplicaResource) fill(m *replicaResourceModel, rep *godo.DatabaseReplica) {
	m.ID, m.Size = types.StringValue(rep.ID), types.StringValue(rep.Size)
	m.VPCID = types.StringValue(rep.PrivateNetworkUUID)
	host := ""
	if rep.PrivateConnection != nil {
		host = rep.PrivateConnection.Host
	} else if rep.Connection != nil {
		host = rep.Connection.Host
	}
	m.PrivateHost = types.StringValue(host)
}

func (r *databaseReplicaResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	ctx = r.client.LogContext(ctx)
	var state replicaResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	api, poll := r.client.Godo, r.client.PollConfig()
	if state.Promoted.ValueBool() {
		db, _, err := api.Databases.Get(ctx, state.ID.ValueString())
		if IsNotFound(err) && poll.NotVisibleYet(privateTime(ctx, req.Private, privateReplicaPromoted), "") {
			tflog.Info(ctx, "promoted replica not a database yet (promotion in progress); kept in state", map[string]any{"replica": state.Name.ValueString()})
			return
		}
		if IsNotFound(err) {
			resp.State.RemoveResource(ctx)
			return
		}
		if err != nil {
			resp.Diagnostics.AddError("Reading the promoted replica failed", APIError("reading database "+state.ID.ValueString(), err))
			return
		}
		state.Size = types.StringValue(db.SizeSlug)
		observeReplicaTags(&state, db.Tags)
		resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
		return
	}
	rep, _, err := api.Databases.GetReplica(ctx, state.DatabaseID.ValueString(), state.Name.ValueString())
	if IsNotFound(err) {
		// Promoted outside Terraform? Then it is a cluster with the same id.
		if db, _, derr := api.Databases.Get(ctx, state.ID.ValueString()); derr == nil && db != nil {
			state.Promoted = types.BoolValue(true)
			resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
			return
		}
		if poll.NotVisibleYet(privateTime(ctx, req.Private, privateReplicaCreated), "") {
			// Created moments ago and never seen online: not visible yet.
			// Removing it from state would orphan it.
			tflog.Info(ctx, "replica created recently is not visible yet (DigitalOcean answers 404 for a while after a create); kept in state", map[string]any{"replica": state.Name.ValueString()})
			return
		}
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Reading the replica failed", APIError("reading replica "+state.Name.ValueString(), err))
		return
	}
	r.fill(&state, rep)
	observeReplicaTags(&state, rep.Tags)
	if rep.Status == "online" {
		resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateReplicaCreated, nil)...)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *databaseReplicaResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	ctx = r.client.LogContext(ctx)
	var plan, state replicaResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := plan.Timeouts.Update(ctx, 30*time.Minute)
	resp.Diagnostics.Append(diags...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if d := r.resize(ctx, &plan, &state); d.HasError() {
		resp.Diagnostics.Append(d...)
		resp.Diagnostics.Append(resp.State.Set(ctx, &state)...) // state keeps the size that was
		return
	}
	if d := r.retag(ctx, &plan, &state); d.HasError() {
		resp.Diagnostics.Append(d...)
		plan.Tags = state.Tags // the next read shows which tags made it
	}
	if plan.Promoted.ValueBool() && !state.Promoted.ValueBool() {
		resp.Diagnostics.Append(r.promote(ctx, &plan, resp.Private)...)
		if !plan.Promoted.ValueBool() {
			return // refused: nothing changed
		}
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *databaseReplicaResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	ctx = r.client.LogContext(ctx)
	var state replicaResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := state.Timeouts.Delete(ctx, 30*time.Minute)
	resp.Diagnostics.Append(diags...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	api, poll := r.client.Godo, r.client.PollConfig()
	if state.Promoted.ValueBool() && state.DeletionProtection.ValueBool() {
		resp.Diagnostics.AddAttributeError(path.Root("deletion_protection"), "Refusing to delete a promoted replica",
			"It is a primary database now; set deletion_protection = false and apply first.")
		return
	}
	// Right after a create (or a promotion) the delete may answer 404 too:
	// the object is not visible yet, and forgetting it would leak it.
	pendingKey := privateReplicaCreated
	if state.Promoted.ValueBool() {
		pendingKey = privateReplicaPromoted
	}
	pendingSince := privateTime(ctx, req.Private, pendingKey)
	err := poll.Retry(ctx, "deleting replica "+state.Name.ValueString(), func(ctx context.Context) error {
		var err error
		if state.Promoted.ValueBool() {
			_, err = api.Databases.Delete(ctx, state.ID.ValueString())
		} else {
			_, err = api.Databases.DeleteReplica(ctx, state.DatabaseID.ValueString(), state.Name.ValueString())
		}
		return err
	}, func(err error) string {
		if IsNotFound(err) && poll.NotVisibleYet(pendingSince, "") {
			return "not visible yet after its create or promotion (DigitalOcean answers 404 for a while)"
		}
		return ""
	})
	if err != nil && (!IsNotFound(err) || poll.NotVisibleYet(pendingSince, "")) {
		resp.Diagnostics.AddError("Deleting the replica failed", APIError("deleting "+state.Name.ValueString(), err))
	}
}

// ImportState takes "<database_id>:<replica_name>".
func (r *databaseReplicaResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	dbID, name, err := parseReplicaImportID(req.ID)
	if err != nil {
		resp.Diagnostics.AddError("Invalid import id", err.Error())
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("database_id"), dbID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), name)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("promoted"), false)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("deletion_protection"), true)...)
}

// replicaNamePattern is DigitalOcean's rule for database cluster and replica
// names (3-63 characters).
var replicaNamePattern = regexp.MustCompile(`^[a-z][a-z0-9-]{1,61}[a-z0-9]$`)

const replicaNameRule = "must be 3-63 lowercase letters, digits and dashes, starting with a letter and ending with a letter or digit"

// parseReplicaImportID splits "<database_id>:<replica_name>".
func parseReplicaImportID(id string) (dbID, name string, err error) {
	dbID, name, ok := strings.Cut(id, ":")
	if !ok || !uuidPattern.MatchString(dbID) || !replicaNamePattern.MatchString(name) {
		return "", "", fmt.Errorf("%q: import a replica as <database_id>:<replica_name>, a UUID and a name that %s, e.g. 9cc10173-e9ea-4176-9dbc-a4cee4c4ff30:vectors-dr", id, replicaNameRule)
	}
	return dbID, name, nil
}
