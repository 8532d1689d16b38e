package stack

import (
	"time"

	"github.com/digitalocean/godo"
)

// Restoring a new database from another cluster's backups: the create
// carries backup_restore (spec databases_create_cluster: "To create a new
// database cluster based on a backup of an existing cluster ... the JSON
// body must include a key named backup_restore with the name of the
// original database cluster and the timestamp of the backup to be
// restored"; without a timestamp "the most recent backup will be used",
// spec database_backup). It applies at creation only: the provider refuses
// a change of it on an existing database at plan time, and never replaces
// a database because of it. Once the restored cluster is online, the
// stack's dbs, users, pools and firewall are applied as for any new
// database (users and dbs that came with the backup are adopted).

// RestoreFrom names the cluster whose backups a new database starts from.
type RestoreFrom struct {
	// DatabaseName is the source cluster's DigitalOcean name.
	DatabaseName string
	// PointInTime is the moment to restore; zero means the latest backup.
	PointInTime time.Time
}

// BackupRetention is how long DigitalOcean keeps a cluster's backups: "backups run automatically once
// per day and are retained for seven days" (DigitalOcean docs, "How to Manually Restore PostgreSQL
// Database Clusters from Backups").
const BackupRetention = 7 * 24 * time.Hour

// request is the create's backup_restore (nil without a restore).
func (rf *RestoreFrom) request() *godo.DatabaseBackupRestore {
	if rf == nil {
		return nil
	}
	req := &godo.DatabaseBackupRestore{DatabaseName: rf.DatabaseName}
	if !rf.PointInTime.IsZero() {
		req.BackupCreatedAt = rf.PointInTime.UTC().Format(time.RFC3339)
	}
	return req
}

// describe names the restore in an operation ("" without one).
func (rf *RestoreFrom) describe() string {
	switch {
	case rf == nil:
		return ""
	case rf.PointInTime.IsZero():
		return ", restored from the latest backup of " + rf.DatabaseName
	}
	return ", restored from " + rf.DatabaseName + " as of " + rf.PointInTime.UTC().Format(time.RFC3339)
}
