package provider

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/digitalocean/godo"

	"github.com/attach-labs/terraform-provider-attach/internal/stack"
)

var (
	_ ephemeral.EphemeralResourceWithConfigure      = (*databaseCredentialsEphemeral)(nil)
	_ ephemeral.EphemeralResourceWithValidateConfig = (*databaseCredentialsEphemeral)(nil)
)

// NewDatabaseCredentialsEphemeral is ephemeral "attach_database_credentials":
// how to connect to a managed database as one of its users (or its admin),
// optionally through a PgBouncer pool, without the password reaching state.
func NewDatabaseCredentialsEphemeral() ephemeral.EphemeralResource {
	return &databaseCredentialsEphemeral{}
}

type databaseCredentialsEphemeral struct{ client *Client }

type databaseCredentialsModel struct {
	StackName     types.String `tfsdk:"stack_name"`
	Database      types.String `tfsdk:"database"`
	DatabaseID    types.String `tfsdk:"database_id"`
	User          types.String `tfsdk:"user"`
	Pool          types.String `tfsdk:"pool"`
	DB            types.String `tfsdk:"db"`
	Host          types.String `tfsdk:"host"`
	Port          types.Int64  `tfsdk:"port"`
	Password      types.String `tfsdk:"password"`
	URI           types.String `tfsdk:"uri"`
	PoolURI       types.String `tfsdk:"pool_uri"`
	CACertificate types.String `tfsdk:"ca_certificate"`
}

func (e *databaseCredentialsEphemeral) Metadata(_ context.Context, req ephemeral.MetadataRequest, resp *ephemeral.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_database_credentials"
}

func (e *databaseCredentialsEphemeral) Schema(_ context.Context, _ ephemeral.SchemaRequest, resp *ephemeral.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "How to connect to a managed database as one of its users (or its admin), optionally through a " +
			"PgBouncer pool: private host, port, user, password, database, URI, pool URI and the CA certificate. An ephemeral " +
			"resource (Terraform 1.10+, OpenTofu 1.11+): the values are read at every plan and apply and never written to " +
			"state or plan files; hand them to a write-only argument such as `kubernetes_secret_v1`'s `data_wo`.\n\n" +
			"Look the database up by `stack_name` and `database` (the key in the stack's `databases`) or by `database_id`. " +
			"The host is the database's private (VPC) host, which the stack's cluster reaches.",
		Attributes: map[string]schema.Attribute{
			"stack_name": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "Name of the `attach_inference_stack` the database belongs to; with `database`. Or set `database_id`.",
				Validators: []validator.String{
					stringvalidator.RegexMatches(stackNamePattern, "must be a stack name: 3-40 lowercase letters, digits and dashes"),
				},
			},
			"database": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "The database's key in the stack's `databases` map (e.g. `vectors`); with `stack_name`.",
				Validators:          []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"database_id": schema.StringAttribute{
				Optional:            true,
				Computed:            true,
				MarkdownDescription: "Id of the database cluster, instead of `stack_name` and `database`; with them, the database's id.",
				Validators:          []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"user": schema.StringAttribute{
				Optional: true,
				Computed: true,
				MarkdownDescription: "The database user to connect as; it must exist (e.g. created by `attach_database_attachment` " +
					"or the stack's `users`). Default: the pool's user when `pool` names a pool bound to one, else the admin user.",
				Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"pool": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "A PgBouncer connection pool of the database (PostgreSQL) to give `pool_uri` for; it must exist.",
				Validators:          []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"db": schema.StringAttribute{
				Optional: true,
				Computed: true,
				MarkdownDescription: "The database (schema) within the cluster that `uri` connects to; it must exist. Default: the " +
					"pool's database when `pool` is set, else the cluster's default database.",
				Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"host": schema.StringAttribute{Computed: true, MarkdownDescription: "Private host of the database."},
			"port": schema.Int64Attribute{Computed: true, MarkdownDescription: "Port of the database."},
			"password": schema.StringAttribute{
				Computed: true, Sensitive: true, MarkdownDescription: "Password of `user`.",
			},
			"uri": schema.StringAttribute{
				Computed: true, Sensitive: true,
				MarkdownDescription: "Private connection URI as `user` to `db` (empty for Kafka, whose clients take host and port).",
			},
			"pool_uri": schema.StringAttribute{
				Computed: true, Sensitive: true,
				MarkdownDescription: "Private connection URI of `pool` as `user`; null without `pool`.",
			},
			"ca_certificate": schema.StringAttribute{
				Computed: true, MarkdownDescription: "The CA certificate the database's TLS certificate chains to, PEM-encoded.",
			},
		},
	}
}

func (e *databaseCredentialsEphemeral) Configure(_ context.Context, req ephemeral.ConfigureRequest, resp *ephemeral.ConfigureResponse) {
	e.client = clientFrom(req.ProviderData, resp.Diagnostics.AddError)
}

// ValidateConfig: stack_name with database, or database_id (an unknown
// value counts as set: it will be).
func (e *databaseCredentialsEphemeral) ValidateConfig(ctx context.Context, req ephemeral.ValidateConfigRequest, resp *ephemeral.ValidateConfigResponse) {
	var cfg databaseCredentialsModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(validateDatabaseLookup(!cfg.StackName.IsNull(), !cfg.Database.IsNull(), !cfg.DatabaseID.IsNull())...)
}

func validateDatabaseLookup(stackSet, keySet, idSet bool) diag.Diagnostics {
	var diags diag.Diagnostics
	switch {
	case idSet && (stackSet || keySet):
		at := path.Root("stack_name")
		if !stackSet {
			at = path.Root("database")
		}
		diags.AddAttributeError(at, "Both database_id and a stack lookup are set",
			"attach_database_credentials looks the database up by stack_name and database, or by database_id, not both: "+
				"remove database_id, or remove stack_name and database.")
	case stackSet && !keySet:
		diags.AddAttributeError(path.Root("database"), "Missing database",
			"With stack_name, set database to the key of one of the stack's databases (a key of attach_inference_stack's "+
				"databases map, e.g. \"vectors\").")
	case keySet && !stackSet:
		diags.AddAttributeError(path.Root("stack_name"), "Missing stack_name",
			"database is a key in a stack's databases: set stack_name to the stack's name too, or use database_id instead.")
	case !idSet && !stackSet:
		diags.AddAttributeError(path.Root("database_id"), "Missing database_id or stack_name",
			"attach_database_credentials needs the database to connect to: set stack_name and database (the stack's key for "+
				"it), or database_id.")
	}
	return diags
}

func (e *databaseCredentialsEphemeral) Open(ctx context.Context, req ephemeral.OpenRequest, resp *ephemeral.OpenResponse) {
	if e.client == nil {
		resp.Diagnostics.AddError("Provider not configured", "The attach provider was not configured before opening attach_database_credentials.")
		return
	}
	ctx = e.client.LogContext(ctx)
	var data databaseCredentialsModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &data)...)
	if resp.Diagnostics.HasError() {
		return
	}
	api := e.client.Godo

	// Which database.
	dbID, idAttr := data.DatabaseID.ValueString(), path.Root("database_id")
	if name := data.StackName.ValueString(); name != "" {
		key := data.Database.ValueString()
		idAttr = path.Root("database")
		_, st, err := stack.New(api).Discover(ctx, name)
		if errors.Is(err, stack.ErrNoStack) {
			resp.Diagnostics.AddAttributeError(path.Root("stack_name"), "Stack not found",
				fmt.Sprintf("%v. Check the name, and that the token can see the stack's project; in the configuration that "+
					"creates the stack, use database_id = attach_inference_stack.<name>.databases[\"%s\"].id instead.", err, key))
			return
		}
		if err != nil {
			resp.Diagnostics.AddError("Reading stack "+name+" failed", err.Error())
			return
		}
		found := st.Databases[key]
		if found == nil || found.ID == "" {
			keys := make([]string, 0, len(st.Databases))
			for k := range st.Databases {
				keys = append(keys, k)
			}
			resp.Diagnostics.AddAttributeError(path.Root("database"), "Stack has no such database",
				fmt.Sprintf("Stack %s has no database %q; its databases: %s.", name, key, listOrNone(keys)))
			return
		}
		dbID = found.ID
	}
	db, _, err := api.Databases.Get(ctx, dbID)
	if IsNotFound(err) {
		resp.Diagnostics.AddAttributeError(idAttr, "Database not found",
			fmt.Sprintf("Database cluster %s does not exist (404): check the id, or that the token's team owns it.", dbID))
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Reading database credentials failed", APIError("reading database "+dbID, err))
		return
	}
	conn := db.PrivateConnection
	if conn == nil || conn.Host == "" {
		conn = db.Connection
	}
	if conn == nil || conn.Host == "" {
		resp.Diagnostics.AddAttributeError(idAttr, "Database has no connection details yet",
			fmt.Sprintf("Database %s (%s) has no connection details (status %q): wait until it is online, then try again.",
				db.Name, dbID, db.Status))
		return
	}

	// Which pool, if any.
	var pool *godo.DatabasePool
	if name := data.Pool.ValueString(); name != "" {
		if pool, resp.Diagnostics = e.findPool(ctx, db, name, resp.Diagnostics); pool == nil {
			return
		}
	}

	// Which user: the one named, else the pool's, else the admin.
	user := data.User.ValueString()
	if pool != nil && pool.User != "" {
		if user != "" && user != pool.User {
			resp.Diagnostics.AddAttributeError(path.Root("pool"), "Pool connects as another user",
				fmt.Sprintf("Pool %s of database %s connects as user %q, not %q: PgBouncer authenticates every client of it as %q. "+
					"Leave user out (or set it to %q), or use a pool without a user (its clients bring their own).",
					pool.Name, db.Name, pool.User, user, pool.User, pool.User))
			return
		}
		user = pool.User
	}
	if user == "" {
		user = conn.User
	}
	password := ""
	if user == conn.User {
		password = conn.Password
	}
	if password == "" {
		if password, resp.Diagnostics = e.userPassword(ctx, db, user, resp.Diagnostics); password == "" {
			return
		}
	}
	ctx = tflog.MaskAllFieldValuesStrings(ctx, password)
	ctx = tflog.MaskMessageStrings(ctx, password)

	// Which database within the cluster.
	dbName := data.DB.ValueString()
	if dbName != "" && db.DBNames != nil && !slices.Contains(db.DBNames, dbName) {
		resp.Diagnostics.AddAttributeError(path.Root("db"), "No such database in the cluster",
			fmt.Sprintf("Database cluster %s has no database %q; it has: %s. Create it (the stack's dbs, or "+
				"attach_database_attachment's db) or pick one of those.", db.Name, dbName, listOrNone(db.DBNames)))
		return
	}
	if dbName == "" && pool != nil {
		dbName = pool.Database
	}
	if dbName == "" {
		dbName = conn.Database
	}

	ca, _, err := api.Databases.GetCA(ctx, db.ID)
	if err != nil {
		resp.Diagnostics.AddError("Reading database credentials failed", APIError("reading the CA certificate of database "+db.Name, err))
		return
	}

	data.DatabaseID = types.StringValue(db.ID)
	data.User = types.StringValue(user)
	data.DB = types.StringValue(dbName)
	data.Host = types.StringValue(conn.Host)
	data.Port = types.Int64Value(int64(conn.Port))
	data.Password = types.StringValue(password)
	uri, err := credentialURI(conn.URI, user, password, dbName)
	if err != nil {
		resp.Diagnostics.AddError("Unreadable connection URI", fmt.Sprintf("Database %s's connection URI: %v; please report this.", db.Name, err))
		return
	}
	data.URI = types.StringValue(uri)
	data.PoolURI = types.StringNull()
	if pool != nil {
		pc := pool.PrivateConnection
		if pc == nil || pc.URI == "" {
			pc = pool.Connection
		}
		if pc == nil || pc.URI == "" {
			resp.Diagnostics.AddAttributeError(path.Root("pool"), "Pool has no connection details",
				fmt.Sprintf("DigitalOcean answered pool %s of database %s without a connection URI: try again once the database is online.", pool.Name, db.Name))
			return
		}
		poolURI, err := credentialURI(pc.URI, user, password, "")
		if err != nil {
			resp.Diagnostics.AddError("Unreadable connection URI", fmt.Sprintf("Pool %s of database %s's connection URI: %v; please report this.", pool.Name, db.Name, err))
			return
		}
		data.PoolURI = types.StringValue(poolURI)
	}
	data.CACertificate = types.StringValue(string(ca.Certificate))
	tflog.Info(ctx, "opened database credentials", map[string]any{"database_id": db.ID, "user": user, "db": dbName, "pool": data.Pool.ValueString()})
	resp.Diagnostics.Append(resp.Result.Set(ctx, &data)...)
}

// findPool reads pool name of db; one that does not exist is an error on
// pool naming the pools there are.
func (e *databaseCredentialsEphemeral) findPool(ctx context.Context, db *godo.Database, name string, diags diag.Diagnostics) (*godo.DatabasePool, diag.Diagnostics) {
	api := e.client.Godo
	if db.EngineSlug != "pg" {
		diags.AddAttributeError(path.Root("pool"), "Connection pools are PostgreSQL only",
			fmt.Sprintf("Database %s is a %s cluster: only PostgreSQL clusters have PgBouncer pools. Remove pool.", db.Name, db.EngineSlug))
		return nil, diags
	}
	pool, _, err := api.Databases.GetPool(ctx, db.ID, name)
	if IsNotFound(err) {
		pools, _, lerr := api.Databases.ListPools(ctx, db.ID, nil)
		if lerr != nil {
			diags.AddError("Reading database credentials failed", APIError("listing the pools of database "+db.Name, lerr))
			return nil, diags
		}
		names := make([]string, 0, len(pools))
		for _, p := range pools {
			names = append(names, p.Name)
		}
		diags.AddAttributeError(path.Root("pool"), "No such connection pool",
			fmt.Sprintf("Database %s has no connection pool %q; its pools: %s.", db.Name, name, listOrNone(names)))
		return nil, diags
	}
	if err != nil {
		diags.AddError("Reading database credentials failed", APIError("reading pool "+name+" of database "+db.Name, err))
		return nil, diags
	}
	return pool, diags
}

// userPassword reads user's password from db; a user that does not exist
// is an error on user naming the users there are.
func (e *databaseCredentialsEphemeral) userPassword(ctx context.Context, db *godo.Database, name string, diags diag.Diagnostics) (string, diag.Diagnostics) {
	api := e.client.Godo
	u, _, err := api.Databases.GetUser(ctx, db.ID, name)
	if IsNotFound(err) {
		users, _, lerr := api.Databases.ListUsers(ctx, db.ID, nil)
		if lerr != nil {
			diags.AddError("Reading database credentials failed", APIError("listing the users of database "+db.Name, lerr))
			return "", diags
		}
		names := make([]string, 0, len(users))
		for _, u := range users {
			names = append(names, u.Name)
		}
		diags.AddAttributeError(path.Root("user"), "No such database user",
			fmt.Sprintf("Database %s has no user %q; its users: %s. Create it (attach_database_attachment's user, or the "+
				"stack's users) or pick one of those.", db.Name, name, listOrNone(names)))
		return "", diags
	}
	if err != nil {
		diags.AddError("Reading database credentials failed", APIError("reading user "+name+" of database "+db.Name, err))
		return "", diags
	}
	if u.Password == "" {
		diags.AddAttributeError(path.Root("user"), "No password for the database user",
			fmt.Sprintf("DigitalOcean answered user %s of database %s without a password (a %s user that authenticates "+
				"another way?): attach_database_credentials gives password credentials only.", name, db.Name, db.EngineSlug))
		return "", diags
	}
	return u.Password, diags
}

// credentialURI is uri with user:password as its user info and, when it
// has a path and dbName is set, /dbName as its path.
func credentialURI(uri, user, password, dbName string) (string, error) {
	if uri == "" {
		return "", nil
	}
	u, err := url.Parse(uri)
	if err != nil {
		// url's errors quote the URI, which carries a password.
		return "", errors.New("not a URL")
	}
	u.User = url.UserPassword(user, password)
	if dbName != "" && u.Path != "" {
		u.Path = "/" + dbName
	}
	return u.String(), nil
}

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	names = slices.Clone(names)
	sort.Strings(names)
	return strings.Join(names, ", ")
}
