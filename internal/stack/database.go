package stack

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-log/tflog"
)

// How managed databases are handled. An owned database ("<stack>-<key>") is
// created on the stack's VPC, resized and re-windowed in place, and deleted
// only when deletion protection allows it. An attached database
// (existing_id) is checked to be on the stack's VPC, wired to the cluster,
// and never deleted: destroy only takes the stack's firewall rules, users
// and pools out of it.

// DatabaseName is the DigitalOcean name of an owned database.
func DatabaseName(stack, key string) string { return stack + "-" + key }

func (r *run) ensureDatabaseStep(key string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		spec := r.spec.Databases[key]
		vpcID := view(r, func(st *Status) string { return st.VPCID })
		cur := view(r, func(st *Status) *DatabaseStatus {
			if d := st.Databases[key]; d != nil {
				c := *d
				return &c
			}
			return nil
		})
		if !spec.Owned() {
			return r.attachDatabase(ctx, key, spec, vpcID)
		}
		if cur == nil || cur.ID == "" || !cur.Owned {
			return r.createDatabase(ctx, key, spec, vpcID, "")
		}
		if cur.Stalled && !cur.Provisioned && cur.State != "online" {
			// Stuck creating since an earlier apply: it never held data.
			if _, err := r.e.API.Databases.Delete(ctx, cur.ID); err != nil && !isNotFound(err) {
				return apiErr(fmt.Sprintf("deleting database %s (%s), stuck %q since an earlier apply", key, cur.Name, cur.State), err)
			}
			r.update(func(st *Status) { delete(st.Databases, key) })
			r.warn("A database stuck creating was replaced", "Database %s (%s) did not come online during an earlier apply (state %s); it was replaced.", key, cur.Name, cur.State)
			return r.createDatabase(ctx, key, spec, vpcID, cur.ID)
		}
		return r.updateDatabase(ctx, key, spec, cur)
	}
}

// createDatabase creates the owned database key and waits for it to be
// online. deleted is the id of a database of that name this run just
// deleted (a replacement), never to be adopted.
//
// DigitalOcean's answers that clear on their own are waited out within
// ctx: a name still held after a delete (422 "is not available", for some
// minutes: terraform-provider-digitalocean PR #198), or taken by the
// stack's own database whose create answer was lost and which is not
// visible yet. A name taken by a database that is not the stack's fails at
// once: that does not clear.
func (r *run) createDatabase(ctx context.Context, key string, spec DatabaseSpec, vpcID, deleted string) error {
	name := DatabaseName(r.spec.Name, key)
	rules, vpcRule, err := r.creationRules(ctx, key, spec, vpcID)
	if err != nil {
		return err
	}
	req := &godo.DatabaseCreateRequest{
		Name:               name,
		EngineSlug:         spec.Engine,
		Version:            spec.Version,
		SizeSlug:           spec.Size,
		Region:             r.spec.Region,
		NumNodes:           spec.NodeCount,
		PrivateNetworkUUID: vpcID,
		Tags:               r.spec.AllTags(),
		ProjectID:          r.spec.ProjectID,
		StorageSizeMib:     uint64(spec.StorageMiB),
		// Never open to the internet, not even until the cluster exists.
		Rules:         rules,
		BackupRestore: spec.RestoreFrom.request(),
	}
	op := fmt.Sprintf("creating %s database %s (%s) in %s%s", spec.Engine, key, name, r.spec.Region, spec.RestoreFrom.describe())
	var (
		db      *godo.Database
		adopted bool
		foreign *godo.Database
	)
	err = r.e.Poll.Retry(ctx, op, func(ctx context.Context) error {
		created, _, err := r.e.API.Databases.Create(ctx, req)
		if err == nil {
			db = created
			return nil
		}
		foreign = nil
		adopted = adoptAfterFailedCreate(ctx, err, true, func(ctx context.Context) (bool, error) {
			ours, other, err := r.findDatabaseNamed(ctx, name, deleted)
			if ours != nil {
				db = ours
			}
			foreign = other
			return ours != nil, err
		})
		if adopted {
			return nil
		}
		return apiErr(op, err)
	}, func(err error) string {
		if !nameUnavailable(err) || foreign != nil {
			return ""
		}
		return "the name " + name + " is not available yet (held for a while after a database of that name was deleted, or the stack's own database is not visible yet)"
	})
	if err != nil {
		if foreign != nil {
			return r.foreignError(ForeignObject{Kind: "database", Key: key, Name: foreign.Name, ID: foreign.ID, Owner: OwnerIn(foreign.Tags)})
		}
		return err
	}
	// In state before the wait: a database that never comes online is
	// still tracked, and can be destroyed (it never held data).
	r.recordDatabase(key, db, true)
	// A database this apply created takes a database's typical time from
	// its create; an adopted one (an earlier attempt's) is of unknown age.
	var created time.Time
	var typical time.Duration
	if !adopted {
		// Adopted means found in a list: visible already. A database just
		// created is not, for a while.
		created, typical = time.Now(), TypicalDatabaseCreate
		r.update(func(st *Status) { st.Databases[key].CreatedAt = created })
	}
	// Adopted or answered, the database is this stack's create (it carries
	// the stack's identity), made with the VPC-range rule, which the
	// firewall step replaces with the cluster's.
	r.update(func(st *Status) { st.Databases[key].VPCRangeRule = vpcRule })
	if err := r.waitDatabaseOnline(ctx, key, db.ID, created, typical); err != nil {
		if ctx.Err() != nil {
			r.update(func(st *Status) {
				if d := st.Databases[key]; d != nil && d.State != "online" {
					d.Stalled = true
				}
			})
			return fmt.Errorf("%w; the next apply replaces the database if it still is not online (it never held data)", err)
		}
		return err
	}
	return r.ensureMaintenance(ctx, key, spec, nil)
}

// creationRules are the trusted sources a database is created with: the
// range of its VPC (everything in it, the cluster's nodes included, until
// the firewall step narrows it to the cluster) and the user's sources.
// vpcRule is the VPC range when the stack added it (not the user's).
func (r *run) creationRules(ctx context.Context, key string, spec DatabaseSpec, vpcID string) (rules []*godo.DatabaseCreateFirewallRule, vpcRule string, err error) {
	ipRange := view(r, func(st *Status) string {
		if st.VPCID == vpcID {
			return st.VPCIPRange
		}
		return ""
	})
	if ipRange == "" {
		v, _, err := r.e.API.VPCs.Get(ctx, vpcID)
		if err != nil {
			return nil, "", apiErr(fmt.Sprintf("reading VPC %s, whose range database %s trusts until the cluster is attached", vpcID, key), err)
		}
		ipRange = v.IPRange
	}
	sources := spec.TrustedSources
	if rule := VPCRangeRule(ipRange); !containsRule(sources, rule) {
		sources = append([]Rule{rule}, sources...)
		vpcRule = ipRange
	}
	for _, s := range sources {
		rules = append(rules, &godo.DatabaseCreateFirewallRule{Type: s.Type, Value: s.Value})
	}
	return rules, vpcRule, nil
}

// findDatabaseNamed looks for a live database called name: ours is the
// stack's (it carries the stack's identity, and is not the one just
// deleted), other one that is not. Deleted databases are not listed.
func (r *run) findDatabaseNamed(ctx context.Context, name, deleted string) (ours, other *godo.Database, err error) {
	dbs, err := ListAll(ctx, func(opt *godo.ListOptions) ([]godo.Database, *godo.Response, error) {
		return r.e.API.Databases.List(ctx, opt)
	})
	if err != nil {
		return nil, nil, err
	}
	for i := range dbs {
		if dbs[i].Name != name || dbs[i].ID == deleted {
			continue
		}
		if ownedBy(dbs[i].Tags, r.spec.Owner) {
			return &dbs[i], nil, nil
		}
		other = &dbs[i]
	}
	return nil, other, nil
}

func (r *run) attachDatabase(ctx context.Context, key string, spec DatabaseSpec, vpcID string) error {
	db, _, err := r.e.API.Databases.Get(ctx, spec.ExistingID)
	if err != nil {
		if isNotFound(err) {
			return fmt.Errorf("database %s: existing_id %s does not exist (or the token cannot see it)", key, spec.ExistingID)
		}
		return apiErr(fmt.Sprintf("reading attached database %s (%s)", key, spec.ExistingID), err)
	}
	if db.PrivateNetworkUUID != vpcID {
		return fmt.Errorf("database %s: %s is on VPC %s, the stack's cluster is on VPC %s: the cluster could not reach its private host; attach a database on the stack's VPC, or set vpc.id to %s",
			key, db.Name, db.PrivateNetworkUUID, vpcID, db.PrivateNetworkUUID)
	}
	r.recordDatabase(key, db, false)
	if db.Status != "online" {
		return r.waitDatabaseOnline(ctx, key, db.ID, time.Time{}, 0)
	}
	return nil
}

func (r *run) updateDatabase(ctx context.Context, key string, spec DatabaseSpec, cur *DatabaseStatus) error {
	if spec.Engine != cur.Engine || spec.Version != "" && cur.Version != "" && spec.Version != cur.Version {
		return r.replaceDatabase(ctx, key, spec, cur)
	}
	needsResize := func(cur *DatabaseStatus) bool {
		return spec.Size != cur.Size || spec.NodeCount != cur.NodeCount || (spec.StorageMiB != 0 && spec.StorageMiB != cur.StorageMiB)
	}
	if needsResize(cur) && cur.State != "" && cur.State != "online" {
		// A resize started elsewhere (the drift being repaired) must end
		// first: DigitalOcean refuses a resize while one runs.
		if err := r.waitDatabaseOnline(ctx, key, cur.ID, time.Time{}, 0); err != nil {
			return err
		}
		cur = view(r, func(st *Status) *DatabaseStatus { c := *st.Databases[key]; return &c })
	}
	var resized time.Time
	var typical time.Duration
	if needsResize(cur) {
		req := &godo.DatabaseResizeRequest{SizeSlug: spec.Size, NumNodes: spec.NodeCount, StorageSizeMib: uint64(spec.StorageMiB)}
		if _, err := r.e.API.Databases.Resize(ctx, cur.ID, req); err != nil {
			return apiErr(fmt.Sprintf("resizing database %s (%s) to %s x%d", key, cur.Name, spec.Size, spec.NodeCount), err)
		}
		resized, typical = time.Now(), TypicalDatabaseResize
	}
	if err := r.waitDatabaseOnline(ctx, key, cur.ID, resized, typical); err != nil {
		return err
	}
	if err := r.ensureMaintenance(ctx, key, spec, cur); err != nil {
		return err
	}
	return r.ensureDatabaseTags(ctx, key)
}

// replaceDatabase swaps a database for one of another engine or version:
// DigitalOcean cannot change either in place. Its data goes with it, so a
// protected database is refused, provisioned or not (the plan refuses it
// first); the stack's dbs, users, pools and firewall rules are recreated
// on the new one by the steps that follow.
func (r *run) replaceDatabase(ctx context.Context, key string, spec DatabaseSpec, cur *DatabaseStatus) error {
	from, to := cur.Engine+" "+cur.Version, spec.Engine+" "+spec.Version
	if cur.DeletionProtection {
		return fmt.Errorf("database %s: %s -> %s needs a new database, and deletion_protection forbids deleting %s; set deletion_protection = false and apply first", key, from, to, cur.Name)
	}
	if _, err := r.e.API.Databases.Delete(ctx, cur.ID); err != nil && !isNotFound(err) {
		return apiErr(fmt.Sprintf("deleting database %s (%s) to replace it with %s", key, cur.Name, to), err)
	}
	r.update(func(st *Status) { delete(st.Databases, key) })
	r.warn("A database was replaced and its data is gone", "Database %s was replaced (%s -> %s): the old database %s and its data are gone; the new one has a new id.", key, from, to, cur.Name)
	vpcID := view(r, func(st *Status) string { return st.VPCID })
	// restore_from applies to the database's first creation only: the
	// replacement starts empty (restoring again could bring back another
	// cluster's data, or fail once the point left the backup window).
	spec.RestoreFrom = nil
	// Same name: DigitalOcean holds it for a while after the delete, which
	// createDatabase waits out.
	return r.createDatabase(ctx, key, spec, vpcID, cur.ID)
}

func (r *run) ensureMaintenance(ctx context.Context, key string, spec DatabaseSpec, cur *DatabaseStatus) error {
	if spec.MaintenanceDay == "" && spec.MaintenanceHour == "" {
		return nil
	}
	if cur != nil && cur.MaintenanceDay == spec.MaintenanceDay && cur.MaintenanceHour == spec.MaintenanceHour {
		return nil
	}
	id := view(r, func(st *Status) string { return st.Databases[key].ID })
	req := &godo.DatabaseUpdateMaintenanceRequest{Day: spec.MaintenanceDay, Hour: spec.MaintenanceHour}
	if _, err := r.e.API.Databases.UpdateMaintenance(ctx, id, req); err != nil {
		return apiErr(fmt.Sprintf("setting the maintenance window of database %s to %s %s", key, spec.MaintenanceDay, spec.MaintenanceHour), err)
	}
	r.update(func(st *Status) {
		st.Databases[key].MaintenanceDay, st.Databases[key].MaintenanceHour = spec.MaintenanceDay, spec.MaintenanceHour
	})
	return nil
}

// waitDatabaseOnline polls until the database is online, recording what it
// sees (connection details included).
//
// Right after the create DigitalOcean answers 404 (and lists nothing) for a
// while: that is waited out as "not visible yet" while the database is
// recent and was never seen online.
//
// What the wait is for started at started and typically takes typical (0:
// unknown), which shapes the polling (PollConfig.waitExpecting).
//
// A shared list answers for the database if it was fetched after started
// (the write being waited out), or, when this apply wrote nothing to the
// database (started zero), after the apply began: the databases' waits then
// share one list instead of each fetching its own.
func (r *run) waitDatabaseOnline(ctx context.Context, key, id string, started time.Time, typical time.Duration) error {
	since := started
	if since.IsZero() {
		since = r.started
	}
	pending := r.databasePending(key)
	logged := false
	return r.e.Poll.waitExpecting(ctx, "database "+key+" to be online", started, typical, func(ctx context.Context) (bool, error) {
		db, err := r.getDatabase(ctx, id, since, r.e.Poll.listMaxAge(started, typical))
		if isNotFound(err) && pending() {
			if !logged {
				tflog.Info(ctx, "database not visible yet after its create (DigitalOcean answers 404 for a while); waiting", map[string]any{"database": key, "id": id})
				logged = true
			}
			return false, nil
		}
		if err != nil {
			return false, apiErr("reading database "+key, err)
		}
		owned := view(r, func(st *Status) bool { return st.Databases[key] == nil || st.Databases[key].Owned })
		r.recordDatabase(key, db, owned)
		return db.Status == "online", nil
	})
}

// databasePending reports whether database key was created by this
// provider recently and never seen online: a 404 for it then means "not
// visible yet", not "gone".
func (r *run) databasePending(key string) func() bool {
	return func() bool {
		created, state := view2(r, func(st *Status) (time.Time, string) {
			if d := st.Databases[key]; d != nil {
				return d.CreatedAt, d.State
			}
			return time.Time{}, ""
		})
		return r.e.Poll.NotVisibleYet(created, state)
	}
}

// recordDatabase writes the database-level fields, leaving those other
// steps own (users, pools, replicas, rules) alone.
func (r *run) recordDatabase(key string, db *godo.Database, owned bool) {
	spec, inSpec := r.spec.Databases[key]
	r.update(func(st *Status) {
		d := st.Databases[key]
		if d == nil {
			d = &DatabaseStatus{Users: map[string]string{}, Pools: map[string]*PoolStatus{}, Replicas: map[string]*ReplicaStatus{}}
			st.Databases[key] = d
		}
		d.ID, d.Name, d.URN, d.Owned = db.ID, db.Name, db.URN(), owned
		d.Engine, d.Version, d.Size, d.NodeCount = db.EngineSlug, db.VersionSlug, db.SizeSlug, db.NumNodes
		d.StorageMiB, d.Region, d.VPCID, d.State = int(db.StorageSizeMib), db.RegionSlug, db.PrivateNetworkUUID, db.Status
		d.Tags = db.Tags
		if mw := db.MaintenanceWindow; mw != nil {
			// DigitalOcean answers "03:00:00" for the "03:00" it was given.
			d.MaintenanceDay, d.MaintenanceHour = mw.Day, strings.TrimSuffix(mw.Hour, ":00")
			if len(mw.Hour) != len("03:00:00") {
				d.MaintenanceHour = mw.Hour
			}
		}
		if inSpec {
			d.DeletionProtection, d.RetainOnDestroy = spec.DeletionProtection, spec.RetainOnDestroy
		}
		conn := db.PrivateConnection
		if conn == nil {
			conn = db.Connection
		}
		if conn != nil {
			d.PrivateHost, d.Port, d.User, d.Password, d.Database, d.PrivateURI = conn.Host, conn.Port, conn.User, conn.Password, conn.Database, conn.URI
		}
	})
}

func (r *run) markProvisionedStep(key string) func(ctx context.Context) error {
	return func(context.Context) error {
		r.update(func(st *Status) {
			if d := st.Databases[key]; d != nil {
				d.Provisioned = true
			}
		})
		return nil
	}
}

// refreshDatabaseStep reads one database and what the stack manages in it.
func (r *run) refreshDatabaseStep(key string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		prior := view(r, func(st *Status) DatabaseStatus { return *st.Databases[key] })
		db, err := r.getDatabase(ctx, prior.ID, r.started, refreshMaxAge)
		if isNotFound(err) && r.databasePending(key)() {
			// Created moments ago and never seen: not visible yet.
			// Dropping it would orphan it (and the next apply would
			// create a second one).
			tflog.Info(ctx, "database created recently is not visible yet (DigitalOcean answers 404 for a while after a create); kept in state", map[string]any{"database": key, "id": prior.ID, "created": prior.CreatedAt})
			return nil
		}
		if isNotFound(err) {
			r.update(func(st *Status) { delete(st.Databases, key) })
			return nil
		}
		if err != nil {
			return apiErr(fmt.Sprintf("reading database %s (%s)", key, prior.ID), err)
		}
		r.recordDatabase(key, db, prior.Owned)
		r.refreshDBsAndUsers(key, db, prior)
		if err := r.refreshFirewall(ctx, key, prior); err != nil {
			return err
		}
		if err := r.refreshPools(ctx, key, prior); err != nil {
			return err
		}
		if err := r.refreshEvictionPolicy(ctx, key, prior); err != nil {
			return err
		}
		if err := r.refreshStorageAutoscale(ctx, key, prior); err != nil {
			return err
		}
		if err := r.refreshConfig(ctx, key, prior); err != nil {
			return err
		}
		if err := r.refreshUserSettings(ctx, key, db, prior); err != nil {
			return err
		}
		if err := r.refreshTopics(ctx, key, prior); err != nil {
			return err
		}
		return r.refreshReplicas(ctx, key, prior)
	}
}

// removeDatabaseStep handles a database taken out of the configuration:
// owned ones are deleted (plan time refused it if protected), retained and
// attached ones are detached.
func (r *run) removeDatabaseStep(key string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		d := view(r, func(st *Status) DatabaseStatus { return *st.Databases[key] })
		return r.dropDatabase(ctx, key, d, d.RetainOnDestroy)
	}
}

func (r *run) deleteDatabaseStep(key string, opts DeleteOptions) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		d := view(r, func(st *Status) DatabaseStatus { return *st.Databases[key] })
		retain := d.RetainOnDestroy || opts.Retain[key]
		if opts.Protected != nil {
			d.DeletionProtection = opts.Protected[key]
		}
		return r.dropDatabase(ctx, key, d, retain)
	}
}

// dropDatabase deletes or detaches one database and forgets it.
func (r *run) dropDatabase(ctx context.Context, key string, d DatabaseStatus, retain bool) error {
	if !d.Owned || retain {
		if err := r.detachDatabase(ctx, key, d); err != nil {
			return err
		}
		r.update(func(st *Status) {
			delete(st.Databases, key)
			if d.VPCID != "" && d.VPCID == st.VPCID {
				r.keptInVPC = append(r.keptInVPC, key)
			}
		})
		return nil
	}
	if r.claimedFromUs(d.Tags) {
		return r.claimedError(ForeignObject{Kind: "database", Key: key, Name: d.Name, ID: d.ID, Owner: OwnerIn(d.Tags)})
	}
	if d.DeletionProtection {
		return fmt.Errorf("database %s (%s) has deletion_protection on: set deletion_protection = false (and apply) to allow deleting it, or retain_on_destroy = true to keep it running", key, d.Name)
	}
	// A database created moments ago may answer its delete with 404 too:
	// forgetting it then would leak it, so the delete is retried while it
	// is not visible yet.
	op := fmt.Sprintf("deleting database %s (%s)", key, d.Name)
	err := r.retryWhileNotVisible(ctx, op, r.databasePending(key), func(ctx context.Context) error {
		if _, err := r.e.API.Databases.Delete(ctx, d.ID); err != nil {
			return apiErr(op, err)
		}
		return nil
	})
	if gaveUp(err) || err != nil && !isNotFound(err) {
		return err
	}
	r.update(func(st *Status) { delete(st.Databases, key) })
	return nil
}

// detachDatabase takes the stack out of a database it leaves running: its
// firewall rules, pools and users go; data (dbs) stays.
func (r *run) detachDatabase(ctx context.Context, key string, d DatabaseStatus) error {
	if err := r.removeFirewallRules(ctx, key, d); err != nil {
		return err
	}
	if !d.Owned {
		for _, name := range sortedKeys(d.Pools) {
			if _, err := r.e.API.Databases.DeletePool(ctx, d.ID, name); err != nil && !isNotFound(err) {
				return apiErr(fmt.Sprintf("removing pool %s from attached database %s", name, key), err)
			}
		}
		for _, name := range sortedKeys(d.Users) {
			if _, err := r.e.API.Databases.DeleteUser(ctx, d.ID, name); err != nil && !isNotFound(err) {
				return apiErr(fmt.Sprintf("removing user %s from attached database %s", name, key), err)
			}
		}
	}
	return nil
}

// EnvPrefix turns a database key into an environment variable prefix:
// "vector-store" -> "VECTOR_STORE".
func EnvPrefix(key string) string {
	return strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(key))
}
