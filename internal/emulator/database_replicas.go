package emulator

import (
	"fmt"
	"net/http"
	"slices"
	"time"
)

// Read-only replicas (PostgreSQL and MySQL). A replica provisions like a
// cluster, may live in another region, must not be smaller than its primary,
// and can be promoted into a standalone cluster with the same id. Deleting
// a primary deletes its replicas.
//
// As on DigitalOcean, a new replica answers 404 for a while after its
// create (Realism.ReadAfterCreate), a primary takes replicas only once its
// first backup exists (Realism.FirstBackup after it first came online;
// 412 before), and a promotion takes Realism.Promotion to complete.

type dbReplica struct {
	ID         string
	Name       string
	Region     string
	Size       string
	StorageMiB int
	VPCID      string
	Tags       []string
	CreatedAt  time.Time
	host       string

	status   string
	failed   bool
	stuck    bool
	readyAt  time.Time
	resizeAt time.Time // resizing -> online
	deleting bool
	goneAt   time.Time

	// visibleAt is when the API first shows the replica after its create
	// (Realism.ReadAfterCreate).
	visibleAt time.Time
	// promoteAt, when set, is when a requested promotion completes and the
	// replica becomes a standalone cluster.
	promoteAt time.Time
}

// visible reports whether the API shows rp at now: not deleted, and past
// its read-after-create window.
func (rp *dbReplica) visible(now time.Time) bool {
	return !rp.deleting && !now.Before(rp.visibleAt)
}

func (rp *dbReplica) inventoryStatus() string {
	switch {
	case rp.deleting:
		return dbStatusDeleting
	case rp.stuck:
		return dbStatusFailed
	}
	return rp.status
}

type dbReplicaJSON struct {
	ID                 string        `json:"id"`
	Name               string        `json:"name"`
	Region             string        `json:"region"`
	Size               string        `json:"size"`
	Status             string        `json:"status"`
	Tags               []string      `json:"tags"`
	CreatedAt          time.Time     `json:"created_at"`
	PrivateNetworkUUID string        `json:"private_network_uuid"`
	Connection         *dbConnection `json:"connection"`
	PrivateConnection  *dbConnection `json:"private_connection"`
	StorageSizeMiB     int           `json:"storage_size_mib,omitempty"`
}

func (s *databaseStore) renderReplica(cl *dbCluster, rp *dbReplica) dbReplicaJSON {
	admin := cl.admin()
	out := dbReplicaJSON{
		ID: rp.ID, Name: rp.Name, Region: rp.Region, Size: rp.Size, Status: rp.status,
		Tags: slices.Clone(rp.Tags), CreatedAt: rp.CreatedAt, PrivateNetworkUUID: rp.VPCID,
		Connection:        cl.connection(rp.host, admin, cl.Engine.AdminDB, cl.Engine.Port),
		PrivateConnection: cl.connection(dbPrivateHost(rp.host), admin, cl.Engine.AdminDB, cl.Engine.Port),
		StorageSizeMiB:    rp.StorageMiB,
	}
	if out.Tags == nil {
		out.Tags = []string{}
	}
	return out
}

func (cl *dbCluster) replica(name string) *dbReplica {
	for _, rp := range cl.replicas {
		if !rp.deleting && rp.Name == name {
			return rp
		}
	}
	return nil
}

func (s *databaseStore) replicaCluster(c *call) (*dbCluster, bool) {
	cl, ok := s.cluster(c)
	if !ok {
		return nil, false
	}
	if !cl.Engine.Replicas {
		c.unprocessable("read-only replicas are only available for %s; %s is a %s cluster", dbEnginesWith(func(e *dbEngine) bool { return e.Replicas }), cl.Name, cl.Engine.Name)
		return nil, false
	}
	return cl, true
}

func (s *databaseStore) findReplica(c *call) (*dbCluster, *dbReplica, bool) {
	cl, ok := s.replicaCluster(c)
	if !ok {
		return nil, nil, false
	}
	rp := cl.replica(c.param("replica_name"))
	// New replicas answer 404 for a while (digitalocean/api-v2#200; terraform-provider-digitalocean #728).
	if rp == nil || !rp.visible(c.now) {
		c.notFound()
		return nil, nil, false
	}
	return cl, rp, true
}

func (s *databaseStore) listReplicas(c *call) {
	cl, ok := s.replicaCluster(c)
	if !ok {
		return
	}
	out := []dbReplicaJSON{}
	for _, rp := range cl.replicas {
		// New replicas are missing from the list for a while (digitalocean/api-v2#200).
		if rp.visible(c.now) {
			out = append(out, s.renderReplica(cl, rp))
		}
	}
	c.respond(http.StatusOK, map[string]any{"replicas": out})
}

func (s *databaseStore) getReplica(c *call) {
	if cl, rp, ok := s.findReplica(c); ok {
		c.respond(http.StatusOK, map[string]any{"replica": s.renderReplica(cl, rp)})
	}
}

func (s *databaseStore) createReplica(c *call) {
	cl, ok := s.replicaCluster(c)
	if !ok {
		return
	}
	var req struct {
		Name               string   `json:"name"`
		Region             string   `json:"region"`
		Size               string   `json:"size"`
		PrivateNetworkUUID string   `json:"private_network_uuid"`
		Tags               []string `json:"tags"`
		StorageSizeMiB     *int64   `json:"storage_size_mib"`
	}
	if !c.decode(&req) {
		return
	}
	if !dbRequireOnline(c, cl, "adding a read-only replica") {
		return
	}
	if !s.validClusterName(c, "name", req.Name) {
		return
	}
	en := cl.Engine
	region := req.Region
	if region == "" {
		region = cl.Region
	}
	if !dbRegion(c, en, "region", region) {
		return
	}
	sz, ok := dbPlan(c, en, "size", req.Size, 1)
	if !ok {
		return
	}
	primary, _ := dbSizeBySlug(cl.Size)
	if sz.smallerThan(primary) {
		c.unprocessable("size %q is smaller than the primary's %q: a read-only replica needs at least the primary's memory and vCPUs", sz.Slug, primary.Slug)
		return
	}
	storage, ok := dbStorage(c, en, sz, req.StorageSizeMiB, 0)
	if !ok {
		return
	}
	if req.StorageSizeMiB == nil || *req.StorageSizeMiB == 0 {
		storage = max(storage, cl.StorageMiB)
		if storage > sz.MaxDiskMiB {
			c.unprocessable("size %q holds at most %d MiB but the primary has %d MiB of storage: choose a larger size", sz.Slug, sz.MaxDiskMiB, cl.StorageMiB)
			return
		}
	} else if storage < cl.StorageMiB {
		c.unprocessable("storage_size_mib %d is smaller than the primary's %d MiB: a replica holds a full copy", storage, cl.StorageMiB)
		return
	}
	tags, ok := dbValidTags(c, req.Tags)
	if !ok {
		return
	}
	vpcID, ok := s.dbVPC(c, req.PrivateNetworkUUID, region)
	if !ok {
		return
	}
	// Checked after the request is known valid, so a client that retries
	// 412 (as the official provider does) learns of a bad request at once.
	// Official provider resource_database_replica.go: "New DBs can be marked ready while first backup is still being created" (412, retried).
	if until := cl.firstOnlineAt.Add(s.e.realism().FirstBackup); c.now.Before(until) {
		c.fail(http.StatusPreconditionFailed, "precondition_failed", fmt.Sprintf(
			"database cluster %s is online but its first backup is still being created: a read-only replica can be added once the backup exists; retry in a few minutes", cl.Name))
		return
	}
	rp := &dbReplica{
		ID: newID(), Name: req.Name, Region: region, Size: sz.Slug, StorageMiB: storage, VPCID: vpcID,
		Tags: tags, CreatedAt: c.now.UTC().Truncate(time.Second),
		host:    fmt.Sprintf("%s-do-user-%d-0.%s.db.ondigitalocean.com", req.Name, s.accountNumber, string(rune('a'+len(cl.replicas)%8))),
		status:  dbStatusCreating,
		failed:  s.e.takeTransitionFailure(TransitionReplica),
		readyAt: c.now.Add(s.e.scaled(ReplicaCreateDuration)),
		// The API shows a new replica only after a while (digitalocean/api-v2#200).
		visibleAt: c.now.Add(s.e.realism().ReadAfterCreate),
	}
	cl.replicas = append(cl.replicas, rp)
	c.respond(http.StatusCreated, map[string]any{"replica": s.renderReplica(cl, rp)})
}

func (s *databaseStore) deleteReplica(c *call) {
	_, rp, ok := s.findReplica(c)
	if !ok {
		return
	}
	rp.deleting, rp.goneAt = true, c.now.Add(s.e.scaled(DeleteDuration))
	// A deleted replica's name stays taken for a while (terraform-provider-digitalocean PR #198 discussion).
	s.e.holdName(nameSpaceDatabase, rp.Name, c.now)
	c.noContent()
}

// promoteReplica starts turning an online replica into a standalone
// cluster. The promotion completes Realism.Promotion later (advance): until
// then the replica stays in its primary's replica list and the cluster id
// answers 404. A second promote while one is under way answers 204 again:
// PUT is idempotent, and a client retrying a promote whose answer it lost
// must not fail.
func (s *databaseStore) promoteReplica(c *call) {
	cl, rp, ok := s.findReplica(c)
	if !ok {
		return
	}
	if !rp.promoteAt.IsZero() {
		c.noContent()
		return
	}
	if rp.status != dbStatusOnline {
		c.conflict("replica %s is not ready yet (status %q): wait until it is online before promoting it", rp.Name, rp.status)
		return
	}
	// Spec databases_promote_replica: "A status of 204 will be given"; the cluster appears only when the promotion completes (no source says it is immediate: the rougher reading).
	rp.promoteAt = c.now.Add(s.e.realism().Promotion)
	// With the window off the promotion completes at once.
	for _, p := range s.advanceReplicas(cl, c.now) {
		s.clusters[p.ID] = p
	}
	c.noContent()
}

// promoted builds the standalone cluster a replica of cl becomes when its
// promotion completes at: the replica's id, name, size, region and VPC,
// and a copy of the primary's users, databases and firewall rules. It is
// online from at on.
func (s *databaseStore) promoted(cl *dbCluster, rp *dbReplica, at time.Time) *dbCluster {
	promoted := &dbCluster{
		ID: rp.ID, Name: rp.Name, Engine: cl.Engine, Version: cl.Version, Size: rp.Size, NumNodes: 1,
		Region: rp.Region, StorageMiB: rp.StorageMiB, VPCID: rp.VPCID, Tags: slices.Clone(rp.Tags),
		CreatedAt: rp.CreatedAt, status: dbStatusOnline, host: rp.host, firstOnlineAt: at,
		dbs: slices.Clone(cl.dbs), maintenance: cl.maintenance, eviction: cl.eviction,
	}
	for _, u := range cl.users {
		cp := *u
		promoted.users = append(promoted.users, &cp)
	}
	for _, r := range cl.rules {
		promoted.rules = append(promoted.rules, &dbRule{UUID: newID(), ClusterUUID: promoted.ID, Type: r.Type, Value: r.Value, CreatedAt: at.UTC().Truncate(time.Second)})
	}
	return promoted
}

// resizeReplica answers PUT /v2/databases/{id}/resize for a read-only
// replica's uuid: the official provider resizes a replica with
// Databases.Resize(replicaUUID, {size, num_nodes: 1}) and waits for it to
// read "online" again (resource_database_replica.go, update). It passes
// through "resizing" like a cluster.
func (s *databaseStore) resizeReplica(c *call, cl *dbCluster, rp *dbReplica) {
	var req struct {
		Size           string `json:"size"`
		NumNodes       *int   `json:"num_nodes"`
		StorageSizeMiB *int64 `json:"storage_size_mib"`
	}
	if !c.decode(&req) {
		return
	}
	if rp.status != dbStatusOnline {
		c.conflict("read-only replica %s is %s: wait until it is online before resizing it", rp.Name, rp.status)
		return
	}
	if req.Size == "" || req.NumNodes == nil {
		c.unprocessable("size and num_nodes are both required (replica %s has size %q and 1 node); storage_size_mib is optional", rp.Name, rp.Size)
		return
	}
	// Official provider resource_database_replica.go: "Read-only replicas only support a single node configuration."
	if *req.NumNodes != 1 {
		c.unprocessable("num_nodes %d is not valid for read-only replica %s: replicas have a single node; send num_nodes 1", *req.NumNodes, rp.Name)
		return
	}
	sz, ok := dbPlan(c, cl.Engine, "size", req.Size, 1)
	if !ok {
		return
	}
	primary, _ := dbSizeBySlug(cl.Size)
	if sz.smallerThan(primary) {
		c.unprocessable("size %q is smaller than the primary's %q: a read-only replica needs at least the primary's memory and vCPUs", sz.Slug, primary.Slug)
		return
	}
	storage, ok := dbStorage(c, cl.Engine, sz, req.StorageSizeMiB, rp.StorageMiB)
	if !ok {
		return
	}
	if sz.Slug == rp.Size && storage == rp.StorageMiB {
		c.unprocessable("read-only replica %s already has size %q and %d MiB of storage: nothing to resize", rp.Name, rp.Size, rp.StorageMiB)
		return
	}
	rp.Size, rp.StorageMiB = sz.Slug, storage
	rp.status = dbStatusResizing
	rp.resizeAt = c.now.Add(s.e.scaled(DatabaseResizeDuration))
	c.w.WriteHeader(http.StatusAccepted)
}
