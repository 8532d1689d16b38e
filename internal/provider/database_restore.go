package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/attach-labs/terraform-provider-attach/internal/stack"
)

// restore_from: a new database restored from another cluster's backups
// (DigitalOcean's backup_restore on create, spec databases_create_cluster).
// It applies when the database is created only; a change on an existing
// database is refused at plan time, never a reason to replace it.

type restoreFromModel struct {
	DatabaseName types.String `tfsdk:"database_name"`
	PointInTime  types.String `tfsdk:"point_in_time"`
}

func (rf *restoreFromModel) toSpec() *stack.RestoreFrom {
	if rf == nil {
		return nil
	}
	out := &stack.RestoreFrom{DatabaseName: rf.DatabaseName.ValueString()}
	if t, err := time.Parse(time.RFC3339, rf.PointInTime.ValueString()); err == nil {
		out.PointInTime = t
	}
	return out
}

// known reports whether every field of restore_from is known at plan time.
func (rf *restoreFromModel) known() bool {
	return !rf.DatabaseName.IsUnknown() && !rf.PointInTime.IsUnknown()
}

func (rf *restoreFromModel) equal(o *restoreFromModel) bool {
	if rf == nil || o == nil {
		return rf == nil && o == nil
	}
	return rf.DatabaseName.Equal(o.DatabaseName) && rf.PointInTime.Equal(o.PointInTime)
}

func restoreFromAttribute() schema.SingleNestedAttribute {
	return schema.SingleNestedAttribute{
		Optional: true,
		MarkdownDescription: "Create the database from the backups of an existing database cluster of the same engine (PostgreSQL or MySQL; " +
			"DigitalOcean's `backup_restore`): its data, users and dbs as of `point_in_time`. Applies only when the database is created: " +
			"changing it on an existing database is refused at plan time (to restore elsewhere, use a new database key). DigitalOcean keeps " +
			"backups seven days, from a few minutes after the source first comes online. After the restore, the stack's `users`, `dbs`, " +
			"`pools` and `trusted_sources` are applied as for any new database.",
		Attributes: map[string]schema.Attribute{
			"database_name": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "DigitalOcean name of the source cluster (a stack's database is named `<stack>-<key>`).",
				Validators:          []validator.String{rfc3339OrName{name: true}},
			},
			"point_in_time": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Moment to restore, RFC 3339 (e.g. `2026-01-31T19:25:22Z`): not in the future, not older than the " +
					"source's oldest backup (seven days). Unset: the latest backup.",
				Validators: []validator.String{rfc3339OrName{}},
			},
		},
	}
}

// rfc3339OrName checks a restore_from field: a cluster name (name) or an
// RFC 3339 time.
type rfc3339OrName struct{ name bool }

func (v rfc3339OrName) Description(_ context.Context) string {
	if v.name {
		return "a database cluster name"
	}
	return "an RFC 3339 time"
}
func (v rfc3339OrName) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v rfc3339OrName) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if !known(req.ConfigValue) {
		return
	}
	s := req.ConfigValue.ValueString()
	if v.name {
		if !replicaNamePattern.MatchString(s) {
			resp.Diagnostics.AddAttributeError(req.Path, "Invalid source database name",
				fmt.Sprintf("%q is not a DigitalOcean database cluster name (3-63 lowercase letters, digits and dashes, starting with a letter).", s))
		}
		return
	}
	if _, err := time.Parse(time.RFC3339, s); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid point in time",
			fmt.Sprintf("%q is not an RFC 3339 time such as 2026-01-31T19:25:22Z.", s))
	}
}

// restoreFrom checks every database's restore_from: never changed on an
// existing database, only on owned pg/mysql databases, a point in time
// neither in the future nor past the seven days DigitalOcean keeps
// backups, and, for a database about to be created, a source that exists
// with the same engine and a backup covering the point.
func (p *planner) restoreFrom() {
	for _, key := range sortedKeys(p.plan.Databases) {
		d := p.plan.Databases[key]
		at := path.Root("databases").AtMapKey(key).AtName("restore_from")
		var prior *databaseModel
		if p.state != nil {
			prior = p.state.Databases[key]
		}
		exists := prior != nil && known(prior.ID) && prior.ID.ValueString() != ""
		if exists && d.RestoreFrom != nil && (known(d.Engine) && !d.Engine.Equal(prior.Engine) || known(d.Version) && known(prior.Version) && !d.Version.Equal(prior.Version)) {
			p.diags.AddAttributeWarning(at, "The replacement database starts empty",
				fmt.Sprintf("Database %q is replaced (a new engine or version): the new database is created empty, without restore_from, which applies only to a database's first creation.", key))
			continue
		}
		// Removing restore_from, or a value not known until apply (such as
		// one computed from timestamp()), changes nothing once it exists.
		if exists && d.RestoreFrom != nil && !d.RestoreFrom.equal(prior.RestoreFrom) && d.RestoreFrom.known() {
			p.attrError(at, "restore_from changed on an existing database",
				fmt.Sprintf("Database %q exists (%s): restore_from only applies when the database is created, and the stack never replaces a database because of it. "+
					"Put restore_from back as it was, or remove it (an imported database: leave it out, it is not read back); to restore a backup elsewhere, add a new database key with restore_from.", key, prior.ID.ValueString()))
			continue
		}
		rf := d.RestoreFrom
		if rf == nil || exists {
			continue
		}
		if !d.ExistingID.IsNull() {
			p.attrError(at, "restore_from on an attached database",
				"restore_from creates a new database; an attached database (existing_id) already exists. Remove one of the two.")
			continue
		}
		engine := d.Engine.ValueString()
		if known(d.Engine) && engine != "pg" && engine != "mysql" {
			// Spec databases_list_backups: backups of "a PostgreSQL or MySQL database cluster".
			p.attrError(at, "restore_from needs PostgreSQL or MySQL",
				fmt.Sprintf("DigitalOcean restores backups of pg and mysql clusters only; database %q is %s.", key, engine))
			continue
		}
		var point time.Time
		if known(rf.PointInTime) {
			point, _ = time.Parse(time.RFC3339, rf.PointInTime.ValueString())
			now := time.Now()
			switch {
			case point.After(now):
				p.attrError(at.AtName("point_in_time"), "Point in time in the future",
					fmt.Sprintf("point_in_time %s is in the future: restore a moment that has passed, or leave it unset for the latest backup.", rf.PointInTime.ValueString()))
				continue
			case now.Sub(point) > stack.BackupRetention:
				p.attrError(at.AtName("point_in_time"), "Point in time older than the backups",
					fmt.Sprintf("point_in_time %s is more than seven days ago; DigitalOcean keeps a cluster's backups seven days. Choose a later moment.", rf.PointInTime.ValueString()))
				continue
			}
		}
		if known(rf.DatabaseName) && known(d.Engine) {
			p.restoreSource(at, key, engine, rf.DatabaseName.ValueString(), point)
		}
	}
}

// restoreSource checks, through the API, that the source named exists with
// engine and has a backup covering point (zero: any backup). An API that
// does not answer leaves the check to the create.
func (p *planner) restoreSource(at path.Path, key, engine, name string, point time.Time) {
	if p.api == nil {
		return
	}
	dbs, _, err := p.api.Databases.List(p.ctx, &godo.ListOptions{PerPage: 200})
	if err != nil {
		tflog.Debug(p.ctx, "restore_from: listing databases failed; the create checks the source", map[string]any{"error": err.Error()})
		return
	}
	var src *godo.Database
	for i := range dbs {
		if dbs[i].Name == name {
			src = &dbs[i]
		}
	}
	if src == nil {
		p.attrError(at.AtName("database_name"), "Source database not found",
			fmt.Sprintf("Database %q restores from %q, but no database cluster of that name exists in this account. Use the source's DigitalOcean name (a stack's database is named <stack>-<key>).", key, name))
		return
	}
	if src.EngineSlug != engine {
		// Spec databases_create_cluster: the restored cluster is a copy of the source, so the engines match.
		p.attrError(at.AtName("database_name"), "Source database of another engine",
			fmt.Sprintf("Database %q is %s but its source %q is %s: a backup restores into a database of the same engine.", key, engine, name, src.EngineSlug))
		return
	}
	backups, _, err := p.api.Databases.ListBackups(p.ctx, src.ID, nil)
	if err != nil {
		tflog.Debug(p.ctx, "restore_from: listing backups failed; the create checks the point in time", map[string]any{"error": err.Error()})
		return
	}
	if len(backups) == 0 {
		p.attrError(at.AtName("database_name"), "Source database has no backup yet",
			fmt.Sprintf("%q has no backup yet: DigitalOcean makes the first one a few minutes after a cluster first comes online. Plan again once it exists.", name))
		return
	}
	oldest := backups[0].CreatedAt
	for _, b := range backups {
		if b.CreatedAt.Before(oldest) {
			oldest = b.CreatedAt
		}
	}
	if !point.IsZero() && point.Before(oldest) {
		p.attrError(at.AtName("point_in_time"), "Point in time before the oldest backup",
			fmt.Sprintf("point_in_time %s is before the oldest backup of %q (%s): choose a moment from then on.", point.UTC().Format(time.RFC3339), name, oldest.UTC().Format(time.RFC3339)))
	}
}
