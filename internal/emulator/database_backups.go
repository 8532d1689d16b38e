package emulator

import (
	"fmt"
	"net/http"
	"slices"
	"time"
)

// Backups and restores (PostgreSQL and MySQL). A cluster's backups are
// derived from when it first came online: the first one Realism.FirstBackup
// later (the window in which a replica create answers 412), then one a day,
// each kept for seven days. A new cluster restored from another's backup
// (POST /v2/databases with backup_restore) starts from any point those
// backups cover and comes with the source's users and databases.
//
// Sources: spec databases_list_backups ("available backups of a PostgreSQL
// or MySQL database cluster"; "Backups are not supported for Caching or
// Valkey clusters"); spec databases_create_cluster ("DigitalOcean managed
// PostgreSQL and MySQL database clusters take automated daily backups";
// backup_restore.backup_created_at: "The most recent backup will be used if
// excluded"); DigitalOcean docs "How to Manually Restore PostgreSQL Database
// Clusters from Backups" ("backups run automatically once per day and are
// retained for seven days"; restore "to the latest transaction available or
// ... a point in time").

const (
	// dbBackupInterval: "once per day" (DigitalOcean docs, restore-from-backups).
	dbBackupInterval = 24 * time.Hour
	// dbBackupRetention: "retained for seven days" (DigitalOcean docs, restore-from-backups).
	dbBackupRetention = 7 * 24 * time.Hour
)

// dbBackupEngine reports whether engine slug takes backups the API lists
// and restores (spec databases_list_backups: PostgreSQL or MySQL).
func dbBackupEngine(slug string) bool { return slug == "pg" || slug == "mysql" }

// backupTimes lists cl's retained backups at now, oldest first: none until
// Realism.FirstBackup after it first came online, then one per (scaled)
// day, those older than the (scaled) retention dropped.
func (s *databaseStore) backupTimes(cl *dbCluster, now time.Time) []time.Time {
	if cl.firstOnlineAt.IsZero() || !dbBackupEngine(cl.Engine.Slug) {
		return nil
	}
	// The first backup follows the cluster's first "online" (official provider resource_database_replica.go: "New DBs can be marked ready while first backup is still being created").
	first := cl.firstOnlineAt.Add(s.e.realism().FirstBackup)
	interval, retention := s.e.scaled(dbBackupInterval), s.e.scaled(dbBackupRetention)
	var out []time.Time
	for t := first; !t.After(now); t = t.Add(interval) {
		if now.Sub(t) <= retention {
			out = append(out, t)
		}
	}
	return out
}

type dbBackupJSON struct {
	CreatedAt     time.Time `json:"created_at"`
	SizeGigabytes float64   `json:"size_gigabytes"`
	Incremental   bool      `json:"incremental"`
}

// listBackups answers GET /v2/databases/{id}/backups (spec databases_list_backups).
func (s *databaseStore) listBackups(c *call) {
	cl, ok := s.cluster(c)
	if !ok {
		return
	}
	if !dbBackupEngine(cl.Engine.Slug) {
		// Spec databases_list_backups: "Backups are not supported for Caching or Valkey clusters" (and lists them for PostgreSQL or MySQL).
		c.unprocessable("backups are listed for PostgreSQL and MySQL clusters only; %s is a %s cluster", cl.Name, cl.Engine.Name)
		return
	}
	out := []dbBackupJSON{}
	times := s.backupTimes(cl, c.now)
	for i, t := range times {
		// A small, growing size: the spec's example sizes are a few hundredths of a GB for a near-empty cluster.
		out = append(out, dbBackupJSON{CreatedAt: t.UTC().Truncate(time.Second), SizeGigabytes: 0.0335 + 0.0001*float64(i)})
	}
	body := map[string]any{"backups": out}
	if len(times) > 0 {
		// Spec database_backups.scheduled_backup_time: the daily slot (backup_interval_hours 24 in the spec's example).
		at := times[0].UTC()
		body["scheduled_backup_time"] = map[string]any{"backup_hour": at.Hour(), "backup_minute": at.Minute(), "backup_interval_hours": 24}
	}
	c.respond(http.StatusOK, body)
}

type dbBackupRestoreRequest struct {
	DatabaseName    string     `json:"database_name"`
	BackupCreatedAt *time.Time `json:"backup_created_at"`
}

// restoreSource checks a create's backup_restore for engine slug: the
// source cluster named must exist (404 otherwise: spec
// databases_create_cluster lists 404) with the same engine, and the point
// asked for (the latest backup when omitted, spec database_backup) must lie
// between its oldest retained backup and now. It answers itself on error.
func (s *databaseStore) restoreSource(c *call, req *dbBackupRestoreRequest, en *dbEngine) (*dbCluster, bool) {
	if req.DatabaseName == "" {
		// Spec database_backup: database_name is required.
		c.unprocessable("backup_restore.database_name is required: the name of the database cluster whose backups to restore")
		return nil, false
	}
	var src *dbCluster
	for _, cl := range s.live() {
		if cl.Name == req.DatabaseName && cl.visible(c.now) {
			src = cl
		}
	}
	if src == nil {
		c.fail(http.StatusNotFound, "not_found", fmt.Sprintf("backup_restore.database_name %q: no database cluster of that name exists in this account, so there are no backups to restore", req.DatabaseName))
		return nil, false
	}
	if src.Engine != en {
		c.unprocessable("backup_restore.database_name %q is a %s cluster, but the new cluster's engine is %s: a backup restores into a cluster of the same engine", src.Name, src.Engine.Name, en.Name)
		return nil, false
	}
	if !dbBackupEngine(en.Slug) {
		// Spec databases_list_backups: backups exist for PostgreSQL and MySQL clusters.
		c.unprocessable("backup_restore: %s clusters have no backups to restore; only PostgreSQL and MySQL clusters do", en.Name)
		return nil, false
	}
	times := s.backupTimes(src, c.now)
	if len(times) == 0 {
		// The first backup comes a while after the cluster first reads online (official provider resource_database_replica.go, retried 412).
		c.unprocessable("backup_restore: database cluster %q has no backup yet (its first backup is made a few minutes after it first comes online); retry once it exists", src.Name)
		return nil, false
	}
	if at := req.BackupCreatedAt; at != nil {
		oldest := times[0].UTC().Truncate(time.Second)
		switch {
		case at.After(c.now):
			c.unprocessable("backup_restore.backup_created_at %s is in the future; choose a point between %s and now", at.UTC().Format(time.RFC3339), oldest.Format(time.RFC3339))
			return nil, false
		case at.Before(oldest):
			// DigitalOcean docs restore-from-backups: backups "are retained for seven days"; nothing before the oldest retained one can be restored.
			c.unprocessable("backup_restore.backup_created_at %s is before the oldest backup of %q (%s): restore a point between that backup and now", at.UTC().Format(time.RFC3339), src.Name, oldest.Format(time.RFC3339))
			return nil, false
		}
	}
	return src, true
}

// restoreInto gives a new cluster restored from src the source's data as
// far as the API shows it: its users (with their passwords: roles live in
// the restored data) and databases. In data-plane mode only the admin user
// is copied (its password starts the new server); the server starts empty,
// copying data between servers is not emulated.
func (s *databaseStore) restoreInto(cl, src *dbCluster) {
	// Spec databases_create_cluster: "Creating a database from a backup is the same as forking a database"; a fork holds the source's roles and databases.
	cl.users = nil
	for _, u := range src.users {
		if s.e.cfg.DataPlane && dataPlaneEngine(cl.Engine.Slug) && u.Role != dbRolePrimary {
			continue
		}
		cp := *u
		if u.settings != nil {
			st := *u.settings
			cp.settings = &st
		}
		cl.users = append(cl.users, &cp)
	}
	if !(s.e.cfg.DataPlane && dataPlaneEngine(cl.Engine.Slug)) {
		cl.dbs = slices.Clone(src.dbs)
	}
}
