package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/objectplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/attach-labs/terraform-provider-attach/internal/stack"
)

var (
	_ resource.ResourceWithConfigure   = (*databaseAttachmentResource)(nil)
	_ resource.ResourceWithImportState = (*databaseAttachmentResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*databaseAttachmentResource)(nil)
)

// NewDatabaseAttachmentResource is attach_database_attachment: one cluster
// trusted by one existing database, plus optionally the app's own user, db
// and pool. It edits the firewall by merging its single rule in (never
// replacing the rule set), so attachments, stacks, people and other tools
// sharing a database never clobber each other. Destroy removes what
// attachments made and no other attachment's claim still uses
// (database_attachment_ownership.go).
func NewDatabaseAttachmentResource() resource.Resource { return &databaseAttachmentResource{} }

type databaseAttachmentResource struct{ client *Client }

type attachmentModel struct {
	ID             types.String     `tfsdk:"id"`
	OwnerID        types.String     `tfsdk:"owner_id"`
	DatabaseID     types.String     `tfsdk:"database_id"`
	ClusterID      types.String     `tfsdk:"cluster_id"`
	DB             types.String     `tfsdk:"db"`
	User           types.String     `tfsdk:"user"`
	Pool           *attachPoolModel `tfsdk:"pool"`
	Attached       types.Bool       `tfsdk:"attached"`
	PrivateHost    types.String     `tfsdk:"private_host"`
	Port           types.Int64      `tfsdk:"port"`
	Password       types.String     `tfsdk:"password"`
	PrivateURI     types.String     `tfsdk:"private_uri"`
	PoolPrivateURI types.String     `tfsdk:"pool_private_uri"`
}

type attachPoolModel struct {
	Name types.String `tfsdk:"name"`
	Mode types.String `tfsdk:"mode"`
	Size types.Int64  `tfsdk:"size"`
}

// attachmentRecord, in private state, is what the attachment added (and so
// what destroy removes).
type attachmentRecord struct {
	RuleAdded   bool `json:"rule_added"`
	DBCreated   bool `json:"db_created"`
	UserCreated bool `json:"user_created"`
	PoolCreated bool `json:"pool_created"`
	// Imported: the attachment was adopted by import, so a user, db or pool
	// that the configuration adds later and that exists already is adopted
	// as its own too (destroy removes it), as import promises.
	Imported bool `json:"imported,omitempty"`
}

const privateAttachmentKey = "added"

func (r *databaseAttachmentResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_database_attachment"
}

func (r *databaseAttachmentResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	// Adding a user or db to an attachment (e.g. one just imported) adopts
	// or creates it in place; only renaming or removing one replaces.
	replaceIfSet := []planmodifier.String{stringplanmodifier.RequiresReplaceIf(changedFromValue,
		"Renaming or removing it replaces the attachment; adding it where there was none does not.",
		"Renaming or removing it replaces the attachment; adding it where there was none does not.")}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Attaches an existing database cluster to an existing DOKS cluster: merges one `k8s` trusted " +
			"source into the database firewall (every other rule, from other attachments, stacks, people or tools, is " +
			"preserved, also under concurrent applies from several workspaces), and optionally creates the app's user, " +
			"db and PgBouncer pool. Several attachments (in one workspace or many) may use the same rule, user, db or " +
			"pool: each records a claim (see `owner_id`), and destroy removes an object only when attachments made it " +
			"and no other attachment's claim still uses it; a user, db or pool that existed before any attachment is " +
			"never removed. Import takes `<database_id>:<cluster_id>`; " +
			"the user, db and pool then added to the configuration are adopted in place (no replacement, the firewall " +
			"rule untouched) and removed on destroy. When the database is gone (its data workspace destroyed it), the " +
			"attachment is dropped from state without an error, so the app workspace still plans and destroys.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true, MarkdownDescription: "`<database_id>:<cluster_id>`.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
			"owner_id": schema.StringAttribute{Computed: true,
				MarkdownDescription: "The attachment's identity: random, made at create (or at the first apply after an import, or after an " +
					"upgrade from a version without it, which the plan shows as an update), and written in its claim on the database, " +
					"the tag `attach-attachment:<database_id>:<owner_id>:...` naming (by a hash) the rule, user, db and pool it uses. " +
					"Another attachment's destroy keeps what this claim uses. If the claim is removed outside Terraform, the next plan writes it again.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
			"database_id": schema.StringAttribute{Required: true, PlanModifiers: replace,
				MarkdownDescription: "The database cluster (e.g. from the `attach_inference_stack` data source)."},
			"cluster_id": schema.StringAttribute{Required: true, PlanModifiers: replace,
				MarkdownDescription: "The DOKS cluster to trust."},
			"db": schema.StringAttribute{Optional: true, PlanModifiers: replaceIfSet,
				MarkdownDescription: "A logical database for the app (pg, mysql, mongodb), created unless it exists. Destroy drops it only if this attachment created it (or adopted it after an import). Adding it later changes the attachment in place; renaming or removing it replaces the attachment."},
			"user": schema.StringAttribute{Optional: true, PlanModifiers: replaceIfSet,
				MarkdownDescription: "A user for the app, created unless it exists (its password is in `password`) and deleted on destroy if this attachment created it (or adopted it after an import). Adding it later changes the attachment in place; renaming or removing it replaces the attachment. Not on valkey, which has only its default user."},
			"pool": schema.SingleNestedAttribute{
				Optional:            true,
				MarkdownDescription: "A PgBouncer pool for the app (pg only), connecting to `db` (or `defaultdb`) as `user` (or `doadmin`). Adding it later adopts an existing pool of that name (updating its mode and size) or creates one, in place; renaming or removing it replaces the attachment.",
				PlanModifiers:       []planmodifier.Object{objectplanmodifier.RequiresReplaceIf(poolRenamed, "A new pool name, or removing the pool, replaces the attachment; adding one does not.", "A new pool name, or removing the pool, replaces the attachment; adding one does not.")},
				Attributes: map[string]schema.Attribute{
					"name": schema.StringAttribute{Required: true, MarkdownDescription: "Pool name: 3-60 letters, digits, underscores and dashes.",
						Validators: []validator.String{stringvalidator.RegexMatches(poolNamePattern, poolNameRule)}},
					"mode": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString("transaction"),
						MarkdownDescription: "`transaction` (default), `session` or `statement`.",
						Validators:          []validator.String{stringvalidator.OneOf("transaction", "session", "statement")}},
					"size": schema.Int64Attribute{Required: true, MarkdownDescription: "Backend connections.",
						Validators: []validator.Int64{int64validator.Between(1, 10000)}},
				},
			},
			"attached": schema.BoolAttribute{Computed: true,
				MarkdownDescription: "Whether the firewall trusts the cluster; false when the rule was removed outside Terraform (the next apply restores it)."},
			"private_host": schema.StringAttribute{Computed: true, MarkdownDescription: "Private host of the database.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
			"port": schema.Int64Attribute{Computed: true, MarkdownDescription: "Port of the database."},
			"password": schema.StringAttribute{Computed: true, Sensitive: true, MarkdownDescription: "Password of `user`.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
			"private_uri": schema.StringAttribute{Computed: true, Sensitive: true, MarkdownDescription: "Private URI as `user` (or the admin) to `db` (or the default db).",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
			"pool_private_uri": schema.StringAttribute{Computed: true, Sensitive: true, MarkdownDescription: "Private URI of the pool.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
		},
	}
}

func poolRenamed(_ context.Context, req planmodifier.ObjectRequest, resp *objectplanmodifier.RequiresReplaceIfFuncResponse) {
	var prior, planned *attachPoolModel
	_ = req.StateValue.As(context.Background(), &prior, basetypes.ObjectAsOptions{})
	_ = req.PlanValue.As(context.Background(), &planned, basetypes.ObjectAsOptions{})
	// Adding a pool where there was none (e.g. after import) adopts or
	// creates it in place.
	resp.RequiresReplace = prior != nil && (planned == nil || !prior.Name.Equal(planned.Name))
}

// changedFromValue: a user or db that was set is renamed or removed.
func changedFromValue(_ context.Context, req planmodifier.StringRequest, resp *stringplanmodifier.RequiresReplaceIfFuncResponse) {
	resp.RequiresReplace = !req.StateValue.IsNull() && !req.StateValue.Equal(req.PlanValue)
}

func (r *databaseAttachmentResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFrom(req.ProviderData, resp.Diagnostics.AddError)
}

// ModifyPlan plans the firewall rule back in when Read found it removed,
// and refuses what DigitalOcean would refuse on the database (read, never
// written): a user on valkey, a pool off pg, a db where there are none, a
// rule set above 100 rules.
func (r *databaseAttachmentResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return
	}
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("attached"), true)...)
	if r.client == nil {
		return
	}
	ctx = r.client.LogContext(ctx)
	var plan attachmentModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	var state *attachmentModel
	if !req.State.Raw.IsNull() {
		state = &attachmentModel{}
		resp.Diagnostics.Append(req.State.Get(ctx, state)...)
	}
	if resp.Diagnostics.HasError() || !known(plan.DatabaseID) {
		return
	}
	if state != nil && state.OwnerID.IsNull() {
		// An attachment from before identities, an import, or one whose claim
		// was removed: the apply records its claim under a new identity.
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("owner_id"), types.StringUnknown())...)
	}
	replacing := state == nil || !state.DatabaseID.Equal(plan.DatabaseID) || !state.ClusterID.Equal(plan.ClusterID)
	addsRule := replacing || !state.Attached.ValueBool()
	addsObjects := replacing || !state.User.Equal(plan.User) || !state.DB.Equal(plan.DB) || (state.Pool == nil) != (plan.Pool == nil)
	poolGrows := plan.Pool != nil && known(plan.Pool.Size) &&
		(replacing || state.Pool == nil || !state.Pool.Name.Equal(plan.Pool.Name) || plan.Pool.Size.ValueInt64() > state.Pool.Size.ValueInt64())
	if !replacing && addsObjects {
		// Updated in place: the new user, db or pool changes the password
		// and URIs, which are known only after apply.
		for _, attr := range []string{"password", "private_uri", "pool_private_uri"} {
			resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root(attr), types.StringUnknown())...)
		}
	}
	if !addsRule && !addsObjects && !poolGrows {
		return
	}
	dbID := plan.DatabaseID.ValueString()
	db, _, err := r.client.Godo.Databases.Get(ctx, dbID)
	if err != nil {
		// Apply reads it again and reports why (a database created moments
		// ago can answer 404 for a while).
		tflog.Debug(ctx, "Plan: database not readable; its checks wait for apply", map[string]any{"database_id": dbID, "error": err.Error()})
		return
	}
	if addsObjects {
		if at, summary, err := r.checkEngine(db, &plan); err != nil {
			resp.Diagnostics.AddAttributeError(at, summary, err.Error())
		}
		if state == nil && plan.Pool != nil && db.EngineSlug == "pg" {
			r.checkExistingPool(ctx, db, &plan, &resp.Diagnostics)
		}
	}
	if poolGrows && db.EngineSlug == "pg" {
		r.checkPoolBudget(ctx, db, plan.Pool, &resp.Diagnostics)
	}
	if !addsRule {
		return
	}
	rules, _, err := r.client.Godo.Databases.GetFirewallRules(ctx, dbID)
	if err != nil {
		tflog.Debug(ctx, "Plan: firewall not readable; DigitalOcean checks its rule count at apply", map[string]any{"database_id": dbID, "error": err.Error()})
		return
	}
	for _, rule := range rules {
		if rule.Type == "k8s" && known(plan.ClusterID) && rule.Value == plan.ClusterID.ValueString() {
			return // already trusted: nothing is added
		}
	}
	if detail := tooManyRules(db.Name, 0, 1, len(rules),
		"Remove a rule from the database's firewall (a CIDR block can replace several addresses), or attach the cluster to another database."); detail != "" {
		resp.Diagnostics.AddAttributeError(path.Root("cluster_id"), "Too many firewall rules", detail)
	}
}

func (r *databaseAttachmentResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	ctx = r.client.LogContext(ctx)
	var plan attachmentModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	api := r.client.Godo
	dbID, clusterID := plan.DatabaseID.ValueString(), plan.ClusterID.ValueString()
	db, _, err := api.Databases.Get(ctx, dbID)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("database_id"), "Database not found", APIError("reading database "+dbID, err))
		return
	}
	cluster, _, err := api.Kubernetes.Get(ctx, clusterID)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("cluster_id"), "Cluster not found", APIError("reading cluster "+clusterID, err))
		return
	}
	if cluster.VPCUUID != db.PrivateNetworkUUID {
		resp.Diagnostics.AddAttributeWarning(path.Root("cluster_id"), "Cluster and database are on different VPCs",
			fmt.Sprintf("Cluster %s is on VPC %s and database %s on VPC %s: the cluster reaches the database through its public host (or VPC peering), not private_host.",
				cluster.Name, cluster.VPCUUID, db.Name, db.PrivateNetworkUUID))
	}
	if at, summary, err := r.checkEngine(db, &plan); err != nil {
		resp.Diagnostics.AddAttributeError(at, summary, err.Error())
		return
	}

	// What exists already is used as it is; the claim says whether an
	// attachment made it (so the last claim on it removes it).
	rules, _, err := api.Databases.GetFirewallRules(ctx, dbID)
	if err != nil {
		resp.Diagnostics.AddError("Attaching the cluster failed", APIError("reading the firewall of database "+db.Name, err))
		return
	}
	ruleExists := slices.ContainsFunc(rules, func(rule godo.DatabaseFirewallRule) bool { return rule.Type == "k8s" && rule.Value == clusterID })
	dbExists := plan.DB.ValueString() != "" && containsString(db.DBNames, plan.DB.ValueString())
	var user *godo.DatabaseUser
	if name := plan.User.ValueString(); name != "" {
		// A user that exists already (e.g. copied into a promoted replica
		// from its primary, or another attachment's) is used, not recreated.
		u, _, err := api.Databases.GetUser(ctx, dbID, name)
		switch {
		case err == nil:
			user = u
		case !IsNotFound(err):
			resp.Diagnostics.AddError("Reading the user failed", APIError("reading user "+name+" in "+db.Name, err))
			return
		}
	}
	var pool *godo.DatabasePool
	if plan.Pool != nil {
		existing, found, ok := r.existingPool(ctx, db, &plan, &resp.Diagnostics)
		if !ok {
			return
		}
		if found {
			pool = existing
		}
	}

	owner := newAttachmentOwner()
	_, others, err := claimsOn(ctx, api, dbID, owner)
	if err != nil {
		resp.Diagnostics.AddError("Recording the attachment's claim failed", err.Error()+"\n\nNothing was changed; apply again.")
		return
	}
	claim := wantClaim(owner, &plan, map[string]bool{"rule": !ruleExists, "db": !dbExists, "user": user == nil, "pool": pool == nil}, others)
	// The claim goes first: an attachment joining what this one is about to
	// create then sees that an attachment made it.
	if err := writeClaim(ctx, api, claim.tagName(dbID)); err != nil {
		resp.Diagnostics.AddError("Recording the attachment's claim failed", err.Error()+"\n\nNothing was changed; apply again.")
		return
	}
	plan.OwnerID = types.StringValue(owner)

	var rec attachmentRecord
	save := func() {
		plan.ID = types.StringValue(dbID + ":" + clusterID)
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
		resp.Diagnostics.Append(saveAttachmentRecord(ctx, resp.Private, rec)...)
	}
	added, err := stack.SyncFirewall(ctx, api, &r.client.firewallLocks, r.client.firewallSettle(), stack.FirewallEdit{DatabaseID: dbID, Add: []stack.Rule{stack.ClusterRule(clusterID)}})
	if err != nil {
		detail := err.Error()
		if derr := deleteClaim(ctx, api, claim.tagName(dbID)); derr != nil {
			detail += fmt.Sprintf("\n\nThe attachment's claim, tag %s, remains and tags nothing: %v. Delete it (doctl compute tag delete %s) or leave it; it only makes other attachments' destroys keep what it names.", claim.tagName(dbID), derr, claim.tagName(dbID))
		}
		resp.Diagnostics.AddError("Attaching the cluster failed", detail)
		return
	}
	rec.RuleAdded = len(added) > 0
	plan.Attached = types.BoolValue(true)
	plan.Password, plan.PoolPrivateURI = types.StringValue(""), types.StringValue("")
	fail := func(summary string, err error) {
		resp.Diagnostics.AddError(summary, err.Error()+"\n\nWhat was added so far is in state (the resource is tainted); destroy or apply again.")
		r.fillConnection(&plan, db, "")
		save()
	}
	if name := plan.DB.ValueString(); name != "" && !dbExists {
		if _, _, err := api.Databases.CreateDB(ctx, dbID, &godo.DatabaseCreateDBRequest{Name: name}); err != nil {
			fail("Creating the db failed", fmt.Errorf("%s", APIError("creating db "+name+" in "+db.Name, err)))
			return
		}
		rec.DBCreated = true
	}
	password := ""
	if name := plan.User.ValueString(); name != "" {
		if user == nil {
			u, _, err := api.Databases.CreateUser(ctx, dbID, &godo.DatabaseCreateUserRequest{Name: name})
			if err != nil {
				fail("Creating the user failed", fmt.Errorf("%s", APIError("creating user "+name+" in "+db.Name, err)))
				return
			}
			rec.UserCreated, user = true, u
		}
		password = user.Password
		plan.Password = types.StringValue(password)
	}
	if p := plan.Pool; p != nil {
		if pool == nil {
			req := &godo.DatabaseCreatePoolRequest{Name: p.Name.ValueString(), Mode: p.Mode.ValueString(), Size: int(p.Size.ValueInt64()),
				Database: firstNonEmpty(plan.DB.ValueString(), "defaultdb"), User: firstNonEmpty(plan.User.ValueString(), "doadmin")}
			created, _, err := api.Databases.CreatePool(ctx, dbID, req)
			if err != nil {
				fail("Creating the pool failed", fmt.Errorf("%s", APIError("creating pool "+req.Name+" in "+db.Name, err)))
				return
			}
			rec.PoolCreated, pool = true, created
		}
		plan.PoolPrivateURI = types.StringValue(poolURI(pool))
	}
	r.fillConnection(&plan, db, password)
	save()
}

// wantPool is the pool the plan declares, as DigitalOcean describes one.
func wantPool(plan *attachmentModel) *godo.DatabaseUpdatePoolRequest {
	p := plan.Pool
	return &godo.DatabaseUpdatePoolRequest{Mode: p.Mode.ValueString(), Size: int(p.Size.ValueInt64()),
		Database: firstNonEmpty(plan.DB.ValueString(), "defaultdb"), User: firstNonEmpty(plan.User.ValueString(), "doadmin")}
}

// existingPool reads the pool a new attachment declares: one that exists
// (another attachment's, or someone else's) is shared only if declared
// alike, since changing it would change it for its other clients. ok is
// false when it refused (the diagnostics say why).
func (r *databaseAttachmentResource) existingPool(ctx context.Context, db *godo.Database, plan *attachmentModel, diags *diag.Diagnostics) (pool *godo.DatabasePool, found, ok bool) {
	name := plan.Pool.Name.ValueString()
	pool, _, err := r.client.Godo.Databases.GetPool(ctx, db.ID, name)
	switch {
	case IsNotFound(err):
		return nil, false, true
	case err != nil:
		diags.AddError("Reading the pool failed", APIError("reading pool "+name+" in "+db.Name, err))
		return nil, false, false
	}
	if d := poolDifference(pool, wantPool(plan)); d != "" {
		diags.AddAttributeError(path.Root("pool"), "The pool exists with other settings",
			fmt.Sprintf("Pool %s exists on database %s with %s. Another attachment, a stack or an app may use it, and changing it "+
				"would change it for them: declare it with the same mode, size, db and user to share it, or choose another pool name.", name, db.Name, d))
		return nil, false, false
	}
	return pool, true, true
}

// checkExistingPool refuses at plan a new attachment's pool that exists
// with other settings (the apply would refuse it before any write).
func (r *databaseAttachmentResource) checkExistingPool(ctx context.Context, db *godo.Database, plan *attachmentModel, diags *diag.Diagnostics) {
	p := plan.Pool
	if !known(p.Name) || !known(p.Size) || !known(p.Mode) || plan.User.IsUnknown() || plan.DB.IsUnknown() {
		return
	}
	var refusal diag.Diagnostics
	if _, _, ok := r.existingPool(ctx, db, plan, &refusal); !ok {
		for _, d := range refusal {
			if d.Summary() == "Reading the pool failed" {
				// Apply reads it again and reports why.
				tflog.Debug(ctx, "Plan: pool not readable; the apply checks it", map[string]any{"pool": p.Name.ValueString(), "detail": d.Detail()})
				return
			}
		}
		diags.Append(refusal...)
	}
}

// checkPoolBudget refuses a pool the database cannot hold: DigitalOcean
// gives a PostgreSQL database a fixed number of backend connections for all
// its pools (see pgPoolBudget), and the other pools on it (read, never
// written) keep theirs.
func (r *databaseAttachmentResource) checkPoolBudget(ctx context.Context, db *godo.Database, pool *attachPoolModel, diags *diag.Diagnostics) {
	budget, ok := pgPoolBudget(db.SizeSlug)
	if !ok {
		return
	}
	pools, _, err := r.client.Godo.Databases.ListPools(ctx, db.ID, &godo.ListOptions{PerPage: 200})
	if err != nil {
		tflog.Debug(ctx, "Plan: pools of the database not readable; DigitalOcean checks the connection budget at apply", map[string]any{"database_id": db.ID, "error": err.Error()})
		return
	}
	name, size := pool.Name.ValueString(), int(pool.Size.ValueInt64())
	others := 0
	for _, p := range pools {
		if p.Name != name {
			others += p.Size
		}
	}
	if others+size <= budget {
		return
	}
	var offered []string
	if opts, err := r.client.Options(ctx); err == nil {
		if eo, ok := opts.engineOptions(db.EngineSlug); ok {
			offered = layoutSizes(eo, db.NumNodes)
		}
	}
	at := path.Root("pool").AtName("size")
	diags.AddAttributeError(at, "Connection pool over the database's budget",
		poolBudgetDetail(db.Name, db.SizeSlug, budget, []poolUse{{name, size}}, others, offered,
			fmt.Sprintf("Lower pool.size to at most %d, or shrink the database's other pools.", max(budget-others, 0)))+"\n\nAttribute: "+at.String())
}

// checkEngine refuses what the database's engine does not have, naming the
// attribute: DigitalOcean would refuse it after the firewall rule went in.
func (r *databaseAttachmentResource) checkEngine(db *godo.Database, plan *attachmentModel) (path.Path, string, error) {
	if !plan.User.IsNull() && db.EngineSlug == "valkey" {
		return path.Root("user"), "Users not supported on Valkey", fmt.Errorf("Database %s is valkey. %s", db.Name, valkeyUsersRefusal)
	}
	if plan.Pool != nil && db.EngineSlug != "pg" {
		return path.Root("pool"), "Not supported by the engine", fmt.Errorf("database %s is %s: PgBouncer pools exist for pg only; remove pool", db.Name, db.EngineSlug)
	}
	if !plan.DB.IsNull() && db.EngineSlug != "pg" && db.EngineSlug != "mysql" && db.EngineSlug != "mongodb" {
		return path.Root("db"), "Not supported by the engine", fmt.Errorf("database %s is %s, which has no logical databases; remove db", db.Name, db.EngineSlug)
	}
	return path.Empty(), "", nil
}

// fillConnection sets the private endpoint and a URI for the app's user
// and db (the admin's when none is set).
func (r *databaseAttachmentResource) fillConnection(m *attachmentModel, db *godo.Database, password string) {
	conn := db.PrivateConnection
	if conn == nil {
		conn = db.Connection
	}
	m.PrivateHost, m.Port, m.PrivateURI = types.StringValue(""), types.Int64Value(0), types.StringValue("")
	if conn == nil {
		return
	}
	m.PrivateHost, m.Port = types.StringValue(conn.Host), types.Int64Value(int64(conn.Port))
	u, err := url.Parse(conn.URI)
	if err != nil {
		return
	}
	if user := m.User.ValueString(); user != "" && password != "" {
		u.User = url.UserPassword(user, password)
	}
	if name := m.DB.ValueString(); name != "" && u.Path != "" {
		u.Path = "/" + name
	}
	m.PrivateURI = types.StringValue(u.String())
}

func poolURI(p *godo.DatabasePool) string {
	if p.PrivateConnection != nil {
		return p.PrivateConnection.URI
	}
	if p.Connection != nil {
		return p.Connection.URI
	}
	return ""
}

func (r *databaseAttachmentResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	ctx = r.client.LogContext(ctx)
	var state attachmentModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	api := r.client.Godo
	dbID, clusterID := state.DatabaseID.ValueString(), state.ClusterID.ValueString()
	db, _, err := api.Databases.Get(ctx, dbID)
	if IsNotFound(err) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Reading the attachment failed", APIError("reading database "+dbID, err))
		return
	}
	rules, _, err := api.Databases.GetFirewallRules(ctx, dbID)
	if err != nil {
		resp.Diagnostics.AddError("Reading the attachment failed", APIError("reading the firewall of database "+db.Name, err))
		return
	}
	attached := false
	for _, rule := range rules {
		if rule.Type == "k8s" && rule.Value == clusterID {
			attached = true
		}
	}
	state.Attached = types.BoolValue(attached)
	if owner := state.OwnerID.ValueString(); owner != "" {
		own, _, err := claimsOn(ctx, api, dbID, owner)
		if err != nil {
			resp.Diagnostics.AddError("Reading the attachment failed", err.Error())
			return
		}
		if len(own) == 0 {
			// Its claim was removed outside Terraform: the plan records it
			// again, so other attachments' destroys keep what this one uses.
			state.OwnerID = types.StringNull()
		}
	}
	if name := state.User.ValueString(); name != "" {
		if _, _, err := api.Databases.GetUser(ctx, dbID, name); IsNotFound(err) {
			state.User = types.StringNull() // gone: the plan creates it again
		} else if err != nil {
			resp.Diagnostics.AddError("Reading the attachment failed", APIError("reading user "+name, err))
			return
		}
	}
	if name := state.DB.ValueString(); name != "" && db.DBNames != nil && !containsString(db.DBNames, name) {
		state.DB = types.StringNull()
	}
	if p := state.Pool; p != nil {
		pool, _, err := api.Databases.GetPool(ctx, dbID, p.Name.ValueString())
		switch {
		case IsNotFound(err):
			state.Pool = nil
		case err != nil:
			resp.Diagnostics.AddError("Reading the attachment failed", APIError("reading pool "+p.Name.ValueString(), err))
			return
		default:
			p.Mode, p.Size = types.StringValue(pool.Mode), types.Int64Value(int64(pool.Size))
		}
	}
	password := state.Password.ValueString()
	r.fillConnection(&state, db, password)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *databaseAttachmentResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	ctx = r.client.LogContext(ctx)
	var plan, state attachmentModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	rec, diags := loadAttachmentRecord(ctx, req.Private)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	api := r.client.Godo
	dbID, clusterID := plan.DatabaseID.ValueString(), plan.ClusterID.ValueString()
	owner := state.OwnerID.ValueString()
	if owner == "" {
		owner = newAttachmentOwner()
	}
	own, others, err := claimsOn(ctx, api, dbID, owner)
	if err != nil {
		resp.Diagnostics.AddError("Recording the attachment's claim failed", err.Error()+"\n\nNothing was changed; apply again.")
		return
	}
	if !state.Attached.ValueBool() {
		added, err := stack.SyncFirewall(ctx, api, &r.client.firewallLocks, r.client.firewallSettle(), stack.FirewallEdit{DatabaseID: dbID, Add: []stack.Rule{stack.ClusterRule(clusterID)}})
		if err != nil {
			resp.Diagnostics.AddError("Re-attaching the cluster failed", err.Error())
			return
		}
		rec.RuleAdded = rec.RuleAdded || len(added) > 0
	}
	plan.Attached = types.BoolValue(true)
	if !r.addObjects(ctx, &plan, &state, &rec, others, &resp.Diagnostics) {
		return
	}
	if p := plan.Pool; p != nil && state.Pool != nil && (!p.Mode.Equal(state.Pool.Mode) || !p.Size.Equal(state.Pool.Size)) {
		req := &godo.DatabaseUpdatePoolRequest{Mode: p.Mode.ValueString(), Size: int(p.Size.ValueInt64()),
			Database: firstNonEmpty(plan.DB.ValueString(), "defaultdb"), User: firstNonEmpty(plan.User.ValueString(), "doadmin")}
		if _, err := api.Databases.UpdatePool(ctx, dbID, p.Name.ValueString(), req); err != nil {
			resp.Diagnostics.AddError("Updating the pool failed", APIError("updating pool "+p.Name.ValueString(), err))
			return
		}
	}
	plan.Port = state.Port
	claim := wantClaim(owner, &plan, mergeMade(rec, attachmentObjects(&plan), own), others)
	if err := syncClaim(ctx, api, dbID, claim, own); err != nil {
		resp.Diagnostics.AddError("Recording the attachment's claim failed", err.Error()+
			"\n\nThe attachment is in place; apply again to record its claim. Until then another attachment's destroy may remove what this one uses.")
		plan.OwnerID = state.OwnerID
	} else {
		plan.OwnerID = types.StringValue(owner)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	resp.Diagnostics.Append(saveAttachmentRecord(ctx, resp.Private, rec)...)
}

func (r *databaseAttachmentResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	ctx = r.client.LogContext(ctx)
	var state attachmentModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	rec, diags := loadAttachmentRecord(ctx, req.Private)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	api := r.client.Godo
	dbID := state.DatabaseID.ValueString()
	objs := attachmentObjects(&state)
	own, others, err := claimsOn(ctx, api, dbID, state.OwnerID.ValueString())
	if err != nil {
		resp.Diagnostics.AddError("Detaching failed", err.Error()+"\n\nNothing was removed; destroy again.")
		return
	}
	// Another attachment's claim keeps what it uses; what attachments did
	// not make (it was there before them) is never removed.
	release := planRelease(objs, mergeMade(rec, objs, own), others)
	for _, kind := range claimKinds {
		if owners := release.KeptFor[kind]; len(owners) > 0 {
			tflog.Info(ctx, "Keeping what other attachments use", map[string]any{"object": kind, "name": objs[kind], "claimed_by": owners})
		}
	}
	ignore404 := func(what string, _ *godo.Response, err error) bool {
		if err != nil && !IsNotFound(err) {
			resp.Diagnostics.AddError("Detaching failed", APIError(what, err)+"\n\nWhat remains is still in state; destroy again.")
			return false
		}
		return true
	}
	if p := state.Pool; p != nil && release.Remove["pool"] {
		res, err := api.Databases.DeletePool(ctx, dbID, p.Name.ValueString())
		if !ignore404("deleting pool "+p.Name.ValueString(), res, err) {
			return
		}
	}
	if name := state.User.ValueString(); name != "" && release.Remove["user"] {
		res, err := api.Databases.DeleteUser(ctx, dbID, name)
		if !ignore404("deleting user "+name, res, err) {
			return
		}
	}
	if name := state.DB.ValueString(); name != "" && release.Remove["db"] {
		res, err := api.Databases.DeleteDB(ctx, dbID, name)
		if !ignore404("deleting db "+name, res, err) {
			return
		}
	}
	if release.Remove["rule"] {
		res, err := stack.EditFirewall(ctx, api, &r.client.firewallLocks, r.client.firewallSettle(),
			stack.FirewallEdit{DatabaseID: dbID, Remove: []stack.Rule{stack.ClusterRule(state.ClusterID.ValueString())}})
		if err != nil && !IsNotFound(err) {
			resp.Diagnostics.AddError("Detaching failed", err.Error())
			return
		}
		if len(res.Kept) > 0 {
			// DigitalOcean accepts connections from anywhere to a database
			// without trusted sources: never leave it so.
			var kept []string
			for _, k := range res.Kept {
				kept = append(kept, k.Type+" "+k.Value)
			}
			resp.Diagnostics.AddWarning("The database keeps a trusted source after the detach",
				fmt.Sprintf("This attachment's rule was the last trusted source of database %s. A database without trusted sources "+
					"accepts connections from anywhere, so its firewall now holds %s (its VPC's range) instead of nothing; "+
					"replace it with the sources you want.", dbID, strings.Join(kept, ", ")))
		}
	}
	for _, c := range release.HandOver {
		// This attachment made what c uses but c took it as kept: c now says
		// made, so the last attachment using it removes it.
		err := writeClaim(ctx, api, c.tagName(dbID))
		if err == nil && c.tagName(dbID) != c.Tag {
			err = deleteClaim(ctx, api, c.Tag)
		}
		if err != nil {
			resp.Diagnostics.AddWarning("Handing over to another attachment failed",
				fmt.Sprintf("This attachment made objects that attachment %s still uses; its claim %s could not be rewritten to say so (%v). "+
					"Nothing it uses was removed, but its destroy will not remove them either: remove them by hand once no attachment uses them.", c.Owner, c.Tag, err))
		}
	}
	for _, c := range own {
		if err := deleteClaim(ctx, api, c.Tag); err != nil {
			resp.Diagnostics.AddError("Detaching failed", err.Error()+"\n\nWhat the attachment used is removed; destroy again to remove its claim.")
			return
		}
	}
}

// addObjects adopts or creates, in place, the user, db and pool that the
// plan adds to an attachment which had none (typically one just imported:
// import knows only the database and the cluster). What exists is used as it
// is (an imported attachment adopts it as its own, so destroy removes it;
// otherwise destroy leaves it, as Create does); what does not is created.
// The firewall is not touched. It sets the password and URIs; false when it
// failed (the diagnostics say why; the state keeps the prior values, so the
// next apply adopts what this one created).
func (r *databaseAttachmentResource) addObjects(ctx context.Context, plan, state *attachmentModel, rec *attachmentRecord, others []attachClaim, diags *diag.Diagnostics) bool {
	addsDB := plan.DB.ValueString() != "" && state.DB.IsNull()
	addsUser := plan.User.ValueString() != "" && state.User.IsNull()
	addsPool := plan.Pool != nil && state.Pool == nil
	if !addsDB && !addsUser && !addsPool && !plan.PrivateURI.IsUnknown() {
		return true
	}
	api := r.client.Godo
	dbID := plan.DatabaseID.ValueString()
	db, _, err := api.Databases.Get(ctx, dbID)
	if err != nil {
		diags.AddAttributeError(path.Root("database_id"), "Database not found", APIError("reading database "+dbID, err))
		return false
	}
	if at, summary, err := r.checkEngine(db, plan); err != nil {
		diags.AddAttributeError(at, summary, err.Error())
		return false
	}
	if name := plan.DB.ValueString(); addsDB {
		if containsString(db.DBNames, name) {
			tflog.Info(ctx, "Adopting the existing db", map[string]any{"db": name, "database": db.Name, "imported": rec.Imported})
			rec.DBCreated = rec.Imported
		} else {
			if _, _, err := api.Databases.CreateDB(ctx, dbID, &godo.DatabaseCreateDBRequest{Name: name}); err != nil {
				diags.AddError("Creating the db failed", APIError("creating db "+name+" in "+db.Name, err))
				return false
			}
			rec.DBCreated = true
		}
	}
	password := state.Password.ValueString()
	if name := plan.User.ValueString(); addsUser {
		u, _, err := api.Databases.GetUser(ctx, dbID, name)
		switch {
		case err == nil:
			tflog.Info(ctx, "Adopting the existing user", map[string]any{"user": name, "database": db.Name, "imported": rec.Imported})
			rec.UserCreated, password = rec.Imported, u.Password
		case IsNotFound(err):
			if u, _, err = api.Databases.CreateUser(ctx, dbID, &godo.DatabaseCreateUserRequest{Name: name}); err != nil {
				diags.AddError("Creating the user failed", APIError("creating user "+name+" in "+db.Name, err))
				return false
			}
			rec.UserCreated, password = true, u.Password
		default:
			diags.AddError("Reading the user failed", APIError("reading user "+name+" in "+db.Name, err))
			return false
		}
	}
	if plan.User.ValueString() == "" {
		password = ""
	}
	plan.Password = types.StringValue(password)
	plan.PoolPrivateURI = state.PoolPrivateURI
	if plan.PoolPrivateURI.IsNull() || plan.PoolPrivateURI.IsUnknown() {
		plan.PoolPrivateURI = types.StringValue("")
	}
	if p := plan.Pool; addsPool {
		name := p.Name.ValueString()
		want := wantPool(plan)
		pool, _, err := api.Databases.GetPool(ctx, dbID, name)
		switch {
		case err == nil:
			tflog.Info(ctx, "Adopting the existing pool", map[string]any{"pool": name, "database": db.Name, "imported": rec.Imported})
			rec.PoolCreated = rec.Imported
			if d := poolDifference(pool, want); d != "" && slices.ContainsFunc(others, func(c attachClaim) bool { u, _ := c.uses("pool", objectHash(name)); return u }) {
				// Another attachment uses it as it is.
				diags.AddAttributeError(path.Root("pool"), "The pool is another attachment's, with other settings",
					fmt.Sprintf("Pool %s on database %s is used by another attachment with %s: declare it with the same mode, size, db and user to share it, or choose another pool name.", name, db.Name, d))
				return false
			}
			if pool.Mode != want.Mode || pool.Size != want.Size || pool.Database != want.Database || pool.User != want.User {
				if _, err := api.Databases.UpdatePool(ctx, dbID, name, want); err != nil {
					diags.AddError("Updating the pool failed", APIError("updating pool "+name+" in "+db.Name, err))
					return false
				}
			}
		case IsNotFound(err):
			pool, _, err = api.Databases.CreatePool(ctx, dbID, &godo.DatabaseCreatePoolRequest{Name: name, Mode: want.Mode, Size: want.Size, Database: want.Database, User: want.User})
			if err != nil {
				diags.AddError("Creating the pool failed", APIError("creating pool "+name+" in "+db.Name, err))
				return false
			}
			rec.PoolCreated = true
		default:
			diags.AddError("Reading the pool failed", APIError("reading pool "+name+" in "+db.Name, err))
			return false
		}
		plan.PoolPrivateURI = types.StringValue(poolURI(pool))
	}
	if plan.Pool == nil {
		plan.PoolPrivateURI = types.StringValue("")
	}
	r.fillConnection(plan, db, password)
	return true
}

// ImportState takes "<database_id>:<cluster_id>": the rule is adopted as the
// attachment's own, and so are the user, db and pool that the configuration
// then adds and that exist already (in place: no replacement, the firewall
// untouched). Destroy removes them.
func (r *databaseAttachmentResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	dbID, clusterID, err := parseAttachmentImportID(req.ID)
	if err != nil {
		resp.Diagnostics.AddError("Invalid import id", err.Error())
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("database_id"), dbID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("cluster_id"), clusterID)...)
	resp.Diagnostics.Append(saveAttachmentRecord(ctx, resp.Private, attachmentRecord{RuleAdded: true, Imported: true})...)
}

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// parseAttachmentImportID splits "<database_id>:<cluster_id>", two
// lowercase UUIDs as DigitalOcean writes them.
func parseAttachmentImportID(id string) (dbID, clusterID string, err error) {
	dbID, clusterID, ok := strings.Cut(id, ":")
	if !ok || !uuidPattern.MatchString(dbID) || !uuidPattern.MatchString(clusterID) {
		return "", "", fmt.Errorf("%q: import an attachment as <database_id>:<cluster_id>, two UUIDs, e.g. terraform import attach_database_attachment.app 9cc10173-e9ea-4176-9dbc-a4cee4c4ff30:bd5f5959-5e1e-4205-a714-a914373942af", id)
	}
	return dbID, clusterID, nil
}

func loadAttachmentRecord(ctx context.Context, p privateState) (attachmentRecord, diag.Diagnostics) {
	var rec attachmentRecord
	b, diags := p.GetKey(ctx, privateAttachmentKey)
	if len(b) > 0 {
		if err := json.Unmarshal(b, &rec); err != nil {
			diags.AddError("Corrupt private state", err.Error())
		}
	}
	return rec, diags
}

func saveAttachmentRecord(ctx context.Context, p privateWriter, rec attachmentRecord) diag.Diagnostics {
	b, _ := json.Marshal(rec)
	return p.SetKey(ctx, privateAttachmentKey, b)
}
