package emulator

import (
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// Managed Databases: /v2/databases and everything under a cluster (users,
// dbs, connection pools, read-only replicas, firewall, maintenance window,
// eviction policy, storage autoscaling). Clusters provision asynchronously ("creating" then
// "online"), resizes pass through "resizing", and deleted clusters and
// replicas keep their VPC membership for a while, as on DigitalOcean.
//
// A cluster whose provisioning was made to fail (TransitionDatabase) never
// comes online: the API keeps reporting "creating", which is what
// DigitalOcean shows for a cluster it cannot provision and the only honest
// value the spec's status enum (creating, online, resizing, migrating,
// forking) allows. The emulator's inventory reports it as "failed", and any
// operation that needs an online cluster answers 409. Failed replicas
// (TransitionReplica) behave the same way.
//
// DigitalOcean's rough edges (Realism, each off with Ideal): a new cluster
// answers 404 on every route and is missing from the list for
// ReadAfterCreate after its create answered 201 (the inventory and its
// VPC's members have it at once), and a deleted cluster's name, and its
// replicas', cannot be reused for NameHold. Replicas: database_replicas.go.

const (
	dbStatusCreating = "creating"
	dbStatusOnline   = "online"
	dbStatusResizing = "resizing"
	// dbStatusFailed appears only in the emulator's inventory.
	dbStatusFailed   = "failed"
	dbStatusDeleting = "deleting"
)

type dbCluster struct {
	ID         string
	Name       string
	Engine     *dbEngine
	Version    dbVersion
	Size       string
	NumNodes   int
	Region     string
	StorageMiB int
	VPCID      string
	Tags       []string
	CreatedAt  time.Time

	status   string
	failed   bool      // provisioning will never finish
	stuck    bool      // failed and past its provisioning deadline
	readyAt  time.Time // creating -> online
	resizeAt time.Time // resizing -> online
	deleting bool
	goneAt   time.Time

	// visibleAt is when the API first shows the cluster after its create
	// (Realism.ReadAfterCreate); before it, GETs answer 404.
	visibleAt time.Time
	// firstOnlineAt is when the cluster first became online (zero until
	// then); replicas can be added Realism.FirstBackup after it.
	firstOnlineAt time.Time

	host        string // public host; private hosts derive from it
	users       []*dbUser
	dbs         []string
	pools       []*dbPool
	rules       []*dbRule
	replicas    []*dbReplica
	maintenance dbMaintenanceWindow
	eviction    string
	autoscale   *dbStorageAutoscale // nil until configured (database_autoscale.go)
	config      map[string]any      // engine settings PATCHed (database_config.go)
	topics      []*dbTopic          // Kafka (database_topics.go)
}

type dbMaintenanceWindow struct {
	Day         string   `json:"day"`
	Hour        string   `json:"hour"`
	Pending     bool     `json:"pending"`
	Description []string `json:"description"`
}

type databaseStore struct {
	e        *Emulator
	clusters map[string]*dbCluster
	// accountNumber appears in hosts, as DigitalOcean's "do-user-<n>".
	accountNumber int
	// ca is the account's database CA, made on first use.
	ca *dbCA
}

func newDatabaseStore(e *Emulator) *databaseStore {
	s := &databaseStore{e: e, accountNumber: 1000000 + mrand.IntN(9000000)}
	s.reset()
	return s
}

func (s *databaseStore) reset() {
	s.clusters = map[string]*dbCluster{}
	s.ca = nil
}

// accountCA is the account's database CA, made on first use.
func (s *databaseStore) accountCA() *dbCA {
	if s.ca == nil {
		s.ca = newDBCA()
	}
	return s.ca
}

func (s *databaseStore) register(r *router) {
	const base = "/v2/databases"
	const one = base + "/{database_cluster_uuid}"
	r.handle(http.MethodGet, base+"/options", s.options)
	r.handle(http.MethodGet, base, s.list)
	r.handle(http.MethodPost, base, s.create)
	r.handle(http.MethodGet, one, s.get)
	r.handle(http.MethodDelete, one, s.delete)
	r.handle(http.MethodPut, one+"/resize", s.resize)
	r.handle(http.MethodGet, one+"/backups", s.listBackups)
	r.handle(http.MethodPut, one+"/maintenance", s.updateMaintenance)
	r.handle(http.MethodGet, one+"/ca", s.getCA)
	r.handle(http.MethodGet, one+"/firewall", s.getFirewall)
	r.handle(http.MethodPut, one+"/firewall", s.putFirewall)
	r.handle(http.MethodGet, one+"/users", s.listUsers)
	r.handle(http.MethodPost, one+"/users", s.createUser)
	r.handle(http.MethodGet, one+"/users/{username}", s.getUser)
	r.handle(http.MethodPut, one+"/users/{username}", s.updateUser)
	r.handle(http.MethodDelete, one+"/users/{username}", s.deleteUser)
	r.handle(http.MethodPost, one+"/users/{username}/reset_auth", s.resetUserAuth)
	r.handle(http.MethodGet, one+"/dbs", s.listDBs)
	r.handle(http.MethodPost, one+"/dbs", s.createDB)
	r.handle(http.MethodGet, one+"/dbs/{database_name}", s.getDB)
	r.handle(http.MethodDelete, one+"/dbs/{database_name}", s.deleteDB)
	r.handle(http.MethodGet, one+"/pools", s.listPools)
	r.handle(http.MethodPost, one+"/pools", s.createPool)
	r.handle(http.MethodGet, one+"/pools/{pool_name}", s.getPool)
	r.handle(http.MethodPut, one+"/pools/{pool_name}", s.updatePool)
	r.handle(http.MethodDelete, one+"/pools/{pool_name}", s.deletePool)
	r.handle(http.MethodGet, one+"/replicas", s.listReplicas)
	r.handle(http.MethodPost, one+"/replicas", s.createReplica)
	r.handle(http.MethodGet, one+"/replicas/{replica_name}", s.getReplica)
	r.handle(http.MethodDelete, one+"/replicas/{replica_name}", s.deleteReplica)
	r.handle(http.MethodPut, one+"/replicas/{replica_name}/promote", s.promoteReplica)
	r.handle(http.MethodGet, one+"/eviction_policy", s.getEvictionPolicy)
	r.handle(http.MethodPut, one+"/eviction_policy", s.putEvictionPolicy)
	r.handle(http.MethodGet, one+"/autoscale", s.getAutoscale)
	r.handle(http.MethodPut, one+"/autoscale", s.putAutoscale)
	r.handle(http.MethodGet, one+"/config", s.getConfig)
	r.handle(http.MethodPatch, one+"/config", s.patchConfig)
	r.handle(http.MethodGet, one+"/topics", s.listTopics)
	r.handle(http.MethodPost, one+"/topics", s.createTopic)
	r.handle(http.MethodGet, one+"/topics/{topic_name}", s.getTopic)
	r.handle(http.MethodPut, one+"/topics/{topic_name}", s.updateTopic)
	r.handle(http.MethodDelete, one+"/topics/{topic_name}", s.deleteTopic)
}

// advance applies due transitions: provisioning, resizes, promotions, and
// the end of the deletion grace period.
func (s *databaseStore) advance(now time.Time) {
	var promoted []*dbCluster
	for id, cl := range s.clusters {
		promoted = append(promoted, s.advanceReplicas(cl, now)...)
		if cl.deleting {
			if !now.Before(cl.goneAt) {
				delete(s.clusters, id)
			}
			continue
		}
		switch cl.status {
		case dbStatusCreating:
			if !now.Before(cl.readyAt) && s.dataPlaneHolds(cl) {
				continue
			}
			if !now.Before(cl.readyAt) {
				if cl.failed {
					cl.stuck = true
				} else {
					cl.status = dbStatusOnline
					if cl.firstOnlineAt.IsZero() {
						cl.firstOnlineAt = cl.readyAt
					}
				}
			}
		case dbStatusResizing:
			if !now.Before(cl.resizeAt) {
				cl.status = dbStatusOnline
			}
		}
	}
	for _, cl := range promoted {
		s.clusters[cl.ID] = cl
	}
}

// advanceReplicas applies cl's replicas' transitions and returns the
// standalone clusters of replicas whose promotion completed (the caller
// adds them: it is iterating over the clusters).
func (s *databaseStore) advanceReplicas(cl *dbCluster, now time.Time) []*dbCluster {
	var promoted []*dbCluster
	kept := cl.replicas[:0]
	for _, rp := range cl.replicas {
		if rp.deleting && !now.Before(rp.goneAt) {
			continue
		}
		if !rp.deleting && rp.status == dbStatusResizing && !now.Before(rp.resizeAt) {
			rp.status = dbStatusOnline
		}
		if !rp.deleting && rp.status == dbStatusCreating && !now.Before(rp.readyAt) {
			if rp.failed {
				rp.stuck = true
			} else {
				rp.status = dbStatusOnline
			}
		}
		if !rp.deleting && !rp.promoteAt.IsZero() && !now.Before(rp.promoteAt) {
			promoted = append(promoted, s.promoted(cl, rp, rp.promoteAt))
			continue
		}
		kept = append(kept, rp)
	}
	clear(cl.replicas[len(kept):])
	cl.replicas = kept
	return promoted
}

func (s *databaseStore) sorted() []*dbCluster {
	out := make([]*dbCluster, 0, len(s.clusters))
	for _, cl := range s.clusters {
		out = append(out, cl)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// live lists the clusters the API shows (deleted ones are gone at once).
func (s *databaseStore) live() []*dbCluster {
	var out []*dbCluster
	for _, cl := range s.sorted() {
		if !cl.deleting {
			out = append(out, cl)
		}
	}
	return out
}

func (cl *dbCluster) inventoryStatus() string {
	switch {
	case cl.deleting:
		return dbStatusDeleting
	case cl.stuck:
		return dbStatusFailed
	}
	return cl.status
}

// inventory lists clusters, replicas, and the users, databases, pools and topics
// someone added. The primary user and default database come with the
// cluster and go with it, so the cluster's entry stands for them.
func (s *databaseStore) inventory() []Item {
	var items []Item
	for _, cl := range s.sorted() {
		items = append(items, Item{Kind: "database_cluster", ID: cl.ID, Name: cl.Name, Status: cl.inventoryStatus()})
		for _, rp := range cl.replicas {
			items = append(items, Item{Kind: "database_replica", ID: rp.ID, Name: rp.Name, Status: rp.inventoryStatus(), Parent: cl.ID})
		}
		if cl.deleting {
			continue
		}
		for _, u := range cl.users {
			if u.Role != dbRolePrimary {
				items = append(items, Item{Kind: "database_user", ID: cl.ID + "/users/" + u.Name, Name: u.Name, Parent: cl.ID})
			}
		}
		for _, name := range cl.dbs {
			if name != cl.Engine.AdminDB {
				items = append(items, Item{Kind: "database_db", ID: cl.ID + "/dbs/" + name, Name: name, Parent: cl.ID})
			}
		}
		for _, p := range cl.pools {
			items = append(items, Item{Kind: "database_pool", ID: cl.ID + "/pools/" + p.Name, Name: p.Name, Parent: cl.ID})
		}
		for _, t := range cl.topics {
			items = append(items, Item{Kind: "database_topic", ID: cl.ID + "/topics/" + t.Name, Name: t.Name, Parent: cl.ID})
		}
	}
	return items
}

func dbURN(id string) string { return "do:dbaas:" + id }

// vpcMembers lists clusters and replicas in the VPC, including deleted ones
// still within their grace period.
func (s *databaseStore) vpcMembers(vpcID string) []vpcMember {
	var out []vpcMember
	for _, cl := range s.sorted() {
		if cl.VPCID == vpcID {
			out = append(out, vpcMember{Name: cl.Name, URN: dbURN(cl.ID), CreatedAt: cl.CreatedAt, lingering: cl.deleting})
		}
		for _, rp := range cl.replicas {
			if rp.VPCID == vpcID {
				out = append(out, vpcMember{Name: rp.Name, URN: dbURN(rp.ID), CreatedAt: rp.CreatedAt, lingering: rp.deleting})
			}
		}
	}
	return out
}

func (s *databaseStore) resolveURN(urn string) bool {
	for _, cl := range s.clusters {
		if !cl.deleting && dbURN(cl.ID) == urn {
			return true
		}
	}
	return false
}

func (s *databaseStore) urns() []string {
	var out []string
	for _, cl := range s.live() {
		out = append(out, dbURN(cl.ID))
	}
	return out
}

// visible reports whether the API shows cl at now: not deleted, and past
// its read-after-create window.
func (cl *dbCluster) visible(now time.Time) bool {
	return !cl.deleting && !now.Before(cl.visibleAt)
}

// cluster finds the cluster named by the path, answering 404 itself,
// also while the cluster is new (Realism.ReadAfterCreate).
func (s *databaseStore) cluster(c *call) (*dbCluster, bool) {
	cl, ok := s.clusters[c.param("database_cluster_uuid")]
	// New clusters answer 404 for a while (terraform-provider-digitalocean #361, #728, #906; digitalocean/api-v2#200).
	if !ok || !cl.visible(c.now) {
		c.notFound()
		return nil, false
	}
	return cl, true
}

// requireReady answers 409 unless the cluster has finished provisioning.
func dbRequireReady(c *call, cl *dbCluster, what string) bool {
	if cl.status == dbStatusCreating {
		c.conflict("database cluster %s is not ready yet (status %q): wait until it is online before %s", cl.Name, cl.status, what)
		return false
	}
	return true
}

// requireOnline answers 409 unless the cluster is online (not provisioning,
// not resizing).
func dbRequireOnline(c *call, cl *dbCluster, what string) bool {
	if cl.status != dbStatusOnline {
		c.conflict("database cluster %s is %s: wait until it is online before %s", cl.Name, cl.status, what)
		return false
	}
	return true
}

// ---- rendering ----

type dbConnection struct {
	Protocol string `json:"protocol"`
	URI      string `json:"uri,omitempty"`
	Database string `json:"database"`
	Host     string `json:"host"`
	Port     int    `json:"port"`
	User     string `json:"user"`
	Password string `json:"password"`
	SSL      bool   `json:"ssl"`
}

type dbServiceEndpoint struct {
	Host string `json:"host"`
	Port int    `json:"port"`
}

type dbClusterJSON struct {
	ID                       string              `json:"id"`
	Name                     string              `json:"name"`
	Engine                   string              `json:"engine"`
	Version                  string              `json:"version"`
	SemanticVersion          string              `json:"semantic_version"`
	NumNodes                 int                 `json:"num_nodes"`
	Size                     string              `json:"size"`
	Region                   string              `json:"region"`
	Status                   string              `json:"status"`
	CreatedAt                time.Time           `json:"created_at"`
	PrivateNetworkUUID       string              `json:"private_network_uuid"`
	Tags                     []string            `json:"tags"`
	DBNames                  []string            `json:"db_names"`
	Connection               *dbConnection       `json:"connection"`
	PrivateConnection        *dbConnection       `json:"private_connection"`
	StandbyConnection        *dbConnection       `json:"standby_connection,omitempty"`
	StandbyPrivateConnection *dbConnection       `json:"standby_private_connection,omitempty"`
	UIConnection             *dbConnection       `json:"ui_connection,omitempty"`
	Users                    []dbUserJSON        `json:"users"`
	MaintenanceWindow        dbMaintenanceWindow `json:"maintenance_window"`
	ProjectID                string              `json:"project_id,omitempty"`
	VersionEndOfLife         string              `json:"version_end_of_life,omitempty"`
	VersionEndOfAvailability string              `json:"version_end_of_availability,omitempty"`
	StorageSizeMiB           int                 `json:"storage_size_mib,omitempty"`
	MetricsEndpoints         []dbServiceEndpoint `json:"metrics_endpoints"`
	// Autoscale is the spec's database_cluster.autoscale, absent ("not configured") until set.
	Autoscale *dbAutoscaleJSON `json:"autoscale,omitempty"`
}

func (cl *dbCluster) admin() *dbUser {
	for _, u := range cl.users {
		if u.Role == dbRolePrimary {
			return u
		}
	}
	return cl.users[0]
}

// connection renders how to reach host as the primary user, the way
// DigitalOcean formats each engine's URI.
func (cl *dbCluster) connection(host string, u *dbUser, database string, port int) *dbConnection {
	en := cl.Engine
	conn := &dbConnection{Protocol: en.Protocol, Database: database, Host: host, Port: port, User: u.Name, Password: u.Password, SSL: true}
	cred := u.Name + ":" + u.Password + "@" + host
	switch en.Slug {
	case "pg":
		conn.URI = fmt.Sprintf("postgresql://%s:%d/%s?sslmode=require", cred, port, database)
	case "mysql":
		conn.URI = fmt.Sprintf("mysql://%s:%d/%s?ssl-mode=REQUIRED", cred, port, database)
	case "valkey":
		conn.URI = fmt.Sprintf("rediss://%s:%d", cred, port)
	case "mongodb":
		conn.URI = fmt.Sprintf("mongodb+srv://%s/%s?tls=true&authSource=admin&replicaSet=%s", cred, database, cl.Name)
	case "opensearch":
		conn.URI = fmt.Sprintf("https://%s:%d", cred, port)
	case "kafka":
		// Kafka clients take bootstrap host and port, not a URI.
	}
	return conn
}

func dbPrivateHost(host string) string { return "private-" + host }
func dbStandbyHost(host string) string { return "replica-" + host }

func (s *databaseStore) projectOf(id string) string {
	if a, ok := s.e.projects.assignments[dbURN(id)]; ok {
		return a.projectID
	}
	if p := s.e.projects.defaultProject(); p != nil {
		return p.ID
	}
	return ""
}

func (s *databaseStore) render(cl *dbCluster) dbClusterJSON {
	en := cl.Engine
	admin := cl.admin()
	host, privateHost, standbyHost, standbyPrivateHost, port := s.endpoints(cl)
	out := dbClusterJSON{
		ID: cl.ID, Name: cl.Name, Engine: en.Slug, Version: cl.Version.Version, SemanticVersion: cl.Version.Semantic,
		NumNodes: cl.NumNodes, Size: cl.Size, Region: cl.Region, Status: cl.status, CreatedAt: cl.CreatedAt,
		PrivateNetworkUUID: cl.VPCID, Tags: slices.Clone(cl.Tags),
		Connection:               cl.connection(host, admin, en.AdminDB, port),
		PrivateConnection:        cl.connection(privateHost, admin, en.AdminDB, port),
		MaintenanceWindow:        cl.maintenance,
		ProjectID:                s.projectOf(cl.ID),
		VersionEndOfLife:         cl.Version.EndOfLife,
		VersionEndOfAvailability: cl.Version.EndOfAvailability,
		StorageSizeMiB:           cl.StorageMiB,
		MetricsEndpoints:         []dbServiceEndpoint{{Host: cl.host, Port: 9273}},
	}
	if out.Tags == nil {
		out.Tags = []string{}
	}
	if out.MaintenanceWindow.Description == nil {
		out.MaintenanceWindow.Description = []string{}
	}
	if en.Databases {
		out.DBNames = slices.Clone(cl.dbs)
	}
	if en.Standby && cl.NumNodes > 1 {
		out.StandbyConnection = cl.connection(standbyHost, admin, en.AdminDB, port)
		out.StandbyPrivateConnection = cl.connection(standbyPrivateHost, admin, en.AdminDB, port)
	}
	if en.Slug == "opensearch" {
		out.UIConnection = cl.connection(cl.host, admin, "", 443)
		out.UIConnection.URI = fmt.Sprintf("https://%s:%s@%s:443", admin.Name, admin.Password, cl.host)
	}
	out.Users = make([]dbUserJSON, 0, len(cl.users))
	for _, u := range cl.users {
		out.Users = append(out.Users, u.render())
	}
	if cl.autoscale != nil {
		a := *cl.autoscale
		out.Autoscale = &dbAutoscaleJSON{Storage: &a}
	}
	return out
}

// ---- cluster handlers ----

func (s *databaseStore) options(c *call) { c.respond(http.StatusOK, dbOptionsDocument()) }

func (s *databaseStore) list(c *call) {
	tag := c.query("tag_name")
	var items []dbClusterJSON
	for _, cl := range s.live() {
		// New clusters are missing from the list for a while (terraform-provider-digitalocean #361, #728, #906).
		if !cl.visible(c.now) {
			continue
		}
		if tag != "" && !slices.Contains(cl.Tags, tag) {
			continue
		}
		items = append(items, s.render(cl))
	}
	respondList(c, "databases", items)
}

func (s *databaseStore) get(c *call) {
	if cl, ok := s.cluster(c); ok {
		c.respond(http.StatusOK, map[string]any{"database": s.render(cl)})
	}
}

var (
	dbClusterNamePattern = regexp.MustCompile(`^[a-z][a-z0-9-]*[a-z0-9]$`)
	dbTagPattern         = regexp.MustCompile(`^[a-zA-Z0-9_:\-]+$`)
	dbUUIDPattern        = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
)

// validClusterName checks a cluster or replica name: DigitalOcean's rules,
// unique among the account's clusters and replicas (new ones the API does
// not show yet included), and not held after a recent delete.
func (s *databaseStore) validClusterName(c *call, field, name string) bool {
	if name == "" {
		c.unprocessable("%s is required", field)
		return false
	}
	if len(name) < 3 || len(name) > 63 || !dbClusterNamePattern.MatchString(name) {
		c.unprocessable("%s %q is invalid: use 3 to 63 lowercase letters, digits and dashes, starting with a letter and ending with a letter or digit", field, name)
		return false
	}
	for _, cl := range s.live() {
		if cl.Name == name {
			c.unprocessable("%s %q is already taken by database cluster %s; names are unique across the account's clusters and replicas", field, name, cl.ID)
			return false
		}
		for _, rp := range cl.replicas {
			if !rp.deleting && rp.Name == name {
				c.unprocessable("%s %q is already taken by read-only replica %s of cluster %s; names are unique across the account's clusters and replicas", field, name, rp.ID, cl.Name)
				return false
			}
		}
	}
	// Names of deleted clusters and replicas stay taken for a while (terraform-provider-digitalocean PR #198 discussion).
	if _, held := s.e.nameHeld(nameSpaceDatabase, name, c.now); held {
		c.unprocessable("%s %q is not available: a database cluster or replica of that name was deleted recently; DigitalOcean releases names some minutes after a delete, so choose another name or retry later", field, name)
		return false
	}
	return true
}

func dbValidTags(c *call, tags []string) ([]string, bool) {
	var out []string
	for i, t := range tags {
		if t == "" || len(t) > 255 || !dbTagPattern.MatchString(t) {
			c.unprocessable("tags[%d] %q is invalid: tags use letters, digits, colons, dashes and underscores (at most 255)", i, t)
			return nil, false
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, true
}

// dbRegion checks region for engine en.
func dbRegion(c *call, en *dbEngine, field, region string) bool {
	if region == "" {
		c.unprocessable("%s is required", field)
		return false
	}
	if _, ok := regionBySlug(region); !ok {
		c.unprocessable("%s %q is not a DigitalOcean region", field, region)
		return false
	}
	if !en.offeredIn(region) {
		c.unprocessable("%s %q does not offer %s; offered in: %s", field, region, en.Name, strings.Join(en.Regions, ", "))
		return false
	}
	return true
}

// dbPlan checks size and num_nodes against the engine's layouts.
func dbPlan(c *call, en *dbEngine, sizeField, size string, numNodes int) (dbSize, bool) {
	layout, ok := en.layout(numNodes)
	if !ok {
		c.unprocessable("num_nodes %d is not available for %s; allowed node counts: %s", numNodes, en.Name, en.nodeCounts())
		return dbSize{}, false
	}
	if size == "" {
		c.unprocessable("%s is required; %s sizes with %d node(s): %s", sizeField, en.Name, numNodes, strings.Join(layout.Sizes, ", "))
		return dbSize{}, false
	}
	if !slices.Contains(layout.Sizes, size) {
		if _, known := dbSizeBySlug(size); !known {
			c.unprocessable("%s %q is not a database size; %s sizes with %d node(s): %s", sizeField, size, en.Name, numNodes, strings.Join(layout.Sizes, ", "))
		} else {
			c.unprocessable("%s %q is not offered for %s with %d node(s); offered: %s", sizeField, size, en.Name, numNodes, strings.Join(layout.Sizes, ", "))
		}
		return dbSize{}, false
	}
	sz, _ := dbSizeBySlug(size)
	return sz, true
}

// dbStorage resolves storage_size_mib for a plan: requested (nil means the
// plan's base, or current when larger) must lie within the plan's range in
// 10 GiB steps from its base.
func dbStorage(c *call, en *dbEngine, sz dbSize, requested *int64, current int) (int, bool) {
	if !en.Storage {
		if requested != nil && *requested != 0 {
			c.unprocessable("storage_size_mib cannot be set for %s: its storage follows the size", en.Name)
			return 0, false
		}
		return 0, true
	}
	want := max(sz.DiskMiB, current)
	if requested != nil && *requested != 0 {
		want = int(*requested)
	}
	if current > 0 && want < current {
		c.unprocessable("storage_size_mib %d is smaller than the cluster's current %d MiB: storage cannot be decreased", want, current)
		return 0, false
	}
	if want < sz.DiskMiB || want > sz.MaxDiskMiB || (want-sz.DiskMiB)%dbStorageStepMiB != 0 {
		c.unprocessable("storage_size_mib %d is not valid for size %q: use %d MiB (the base) up to %d MiB, in steps of %d MiB", want, sz.Slug, sz.DiskMiB, sz.MaxDiskMiB, dbStorageStepMiB)
		return 0, false
	}
	return want, true
}

// dbVPC resolves private_network_uuid for an object in region: a VPC of the
// same region, or the region's default VPC when empty.
func (s *databaseStore) dbVPC(c *call, id, region string) (string, bool) {
	if id == "" {
		return s.e.vpcs.defaultFor(region, c.now).ID, true
	}
	v, ok := s.e.vpcs.find(id)
	if !ok {
		c.unprocessable("private_network_uuid %q is not a VPC of this account", id)
		return "", false
	}
	if v.Region != region {
		c.unprocessable("private_network_uuid %q is VPC %q in region %s, but the database is in %s: use a VPC in %s or omit it for the region's default VPC", id, v.Name, v.Region, region, region)
		return "", false
	}
	return v.ID, true
}

type dbCreateRequest struct {
	Name               string                  `json:"name"`
	Engine             string                  `json:"engine"`
	Version            string                  `json:"version"`
	Size               string                  `json:"size"`
	Region             string                  `json:"region"`
	NumNodes           *int                    `json:"num_nodes"`
	PrivateNetworkUUID string                  `json:"private_network_uuid"`
	Tags               []string                `json:"tags"`
	ProjectID          string                  `json:"project_id"`
	StorageSizeMiB     *int64                  `json:"storage_size_mib"`
	Rules              []dbRuleRequest         `json:"rules"`
	BackupRestore      *dbBackupRestoreRequest `json:"backup_restore"`
}

func (s *databaseStore) create(c *call) {
	var req dbCreateRequest
	if !c.decode(&req) {
		return
	}
	if !s.validClusterName(c, "name", req.Name) {
		return
	}
	if req.Engine == "" {
		c.unprocessable("engine is required; one of %s", strings.Join(dbEngineSlugs(), ", "))
		return
	}
	en, ok := dbEngineBySlug(req.Engine)
	if !ok {
		if req.Engine == "redis" {
			c.unprocessable("engine \"redis\" is no longer offered for new clusters; use \"valkey\"")
		} else {
			c.unprocessable("engine %q is not supported; use one of %s", req.Engine, strings.Join(dbEngineSlugs(), ", "))
		}
		return
	}
	ver := en.defaultVersion()
	if req.Version != "" {
		if ver, ok = en.version(req.Version); !ok {
			c.unprocessable("version %q is not offered for %s; offered versions: %s", req.Version, en.Name, strings.Join(en.versionList(), ", "))
			return
		}
	}
	if !dbRegion(c, en, "region", req.Region) {
		return
	}
	if req.NumNodes == nil || *req.NumNodes == 0 {
		c.unprocessable("num_nodes is required; %s allows %s", en.Name, en.nodeCounts())
		return
	}
	sz, ok := dbPlan(c, en, "size", req.Size, *req.NumNodes)
	if !ok {
		return
	}
	storage, ok := dbStorage(c, en, sz, req.StorageSizeMiB, 0)
	if !ok {
		return
	}
	var restoreFrom *dbCluster
	if req.BackupRestore != nil {
		// Spec databases_create_cluster: backup_restore creates the cluster from a backup of an existing one (database_backups.go).
		if restoreFrom, ok = s.restoreSource(c, req.BackupRestore, en); !ok {
			return
		}
	}
	tags, ok := dbValidTags(c, req.Tags)
	if !ok {
		return
	}
	if req.ProjectID != "" && s.e.projects.projects[req.ProjectID] == nil {
		c.unprocessable("project_id %q is not a project of this account", req.ProjectID)
		return
	}
	id := newID()
	rules, ok := s.resolveRules(c, "rules", id, req.Rules, nil)
	if !ok {
		return
	}
	vpcID, ok := s.dbVPC(c, req.PrivateNetworkUUID, req.Region)
	if !ok {
		return
	}

	now := c.now.UTC().Truncate(time.Second)
	cl := &dbCluster{
		ID: id, Name: req.Name, Engine: en, Version: ver, Size: sz.Slug, NumNodes: *req.NumNodes,
		Region: req.Region, StorageMiB: storage, VPCID: vpcID, Tags: tags, CreatedAt: now,
		status:  dbStatusCreating,
		failed:  s.e.takeTransitionFailure(TransitionDatabase),
		readyAt: c.now.Add(s.e.scaled(DatabaseCreateDuration)),
		// The API shows a new cluster only after a while (terraform-provider-digitalocean #361, #728, #906).
		visibleAt: c.now.Add(s.e.realism().ReadAfterCreate),
		host:      s.hostFor(en, req.Name),
		rules:     rules,
		maintenance: dbMaintenanceWindow{
			Day:  dbWeekdays[mrand.IntN(len(dbWeekdays))],
			Hour: fmt.Sprintf("%02d:%02d:%02d", mrand.IntN(24), mrand.IntN(60), mrand.IntN(60)),
		},
	}
	cl.users = []*dbUser{newPrimaryUser(en)}
	if en.AdminDB != "" {
		cl.dbs = []string{en.AdminDB}
	}
	if en.Eviction {
		cl.eviction = "noeviction"
	}
	if restoreFrom != nil {
		s.restoreInto(cl, restoreFrom)
	}
	if !cl.failed && !s.startDataPlane(c, cl) {
		return
	}
	s.clusters[id] = cl
	s.recordIfOpen(cl) // no rules: open to the internet (database_firewall.go)
	if req.ProjectID != "" {
		s.e.projects.assignments[dbURN(id)] = assignment{projectID: req.ProjectID, at: c.now}
	}
	c.respond(http.StatusCreated, map[string]any{"database": s.render(cl)})
}

// hostFor builds a public host the way DigitalOcean names them.
func (s *databaseStore) hostFor(en *dbEngine, name string) string {
	if en.Slug == "mongodb" {
		return fmt.Sprintf("%s-%s.mongo.ondigitalocean.com", name, randomHex(4))
	}
	shard := string(rune('a' + mrand.IntN(8)))
	return fmt.Sprintf("%s-do-user-%d-0.%s.db.ondigitalocean.com", name, s.accountNumber, shard)
}

var dbWeekdays = []string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}

func (s *databaseStore) delete(c *call) {
	cl, ok := s.cluster(c)
	if !ok {
		return
	}
	gone := c.now.Add(s.e.scaled(DeleteDuration))
	cl.deleting, cl.goneAt = true, gone
	s.e.dp.removeCluster(cl.ID)
	// A deleted cluster's name, and its replicas', stay taken for a while (terraform-provider-digitalocean PR #198 discussion).
	s.e.holdName(nameSpaceDatabase, cl.Name, c.now)
	for _, rp := range cl.replicas {
		if !rp.deleting {
			rp.deleting, rp.goneAt = true, gone
			s.e.holdName(nameSpaceDatabase, rp.Name, c.now)
		}
	}
	c.noContent()
}

func (s *databaseStore) resize(c *call) {
	// A replica's uuid resizes the replica (official provider resource_database_replica.go: Databases.Resize(replicaUUID, ...)).
	if primary, rp, ok := s.liveReplica(c.param("database_cluster_uuid")); ok && rp.visible(c.now) {
		s.resizeReplica(c, primary, rp)
		return
	}
	cl, ok := s.cluster(c)
	if !ok {
		return
	}
	var req struct {
		Size           string `json:"size"`
		NumNodes       *int   `json:"num_nodes"`
		StorageSizeMiB *int64 `json:"storage_size_mib"`
	}
	if !c.decode(&req) {
		return
	}
	if !dbRequireOnline(c, cl, "resizing it") {
		return
	}
	en := cl.Engine
	if req.Size == "" || req.NumNodes == nil || *req.NumNodes == 0 {
		c.unprocessable("size and num_nodes are both required (the cluster has size %q and %d node(s)); storage_size_mib is optional", cl.Size, cl.NumNodes)
		return
	}
	numNodes := *req.NumNodes
	sz, ok := dbPlan(c, en, "size", req.Size, numNodes)
	if !ok {
		return
	}
	storage, ok := dbStorage(c, en, sz, req.StorageSizeMiB, cl.StorageMiB)
	if !ok {
		return
	}
	if en.Pools {
		if used, limit := cl.poolConnections(""), sz.pgConnectionLimit(); used > limit {
			c.unprocessable("size %q allows %d pooled connections but the cluster's connection pools use %d: shrink or delete pools first", sz.Slug, limit, used)
			return
		}
	}
	if sz.Slug == cl.Size && numNodes == cl.NumNodes && storage == cl.StorageMiB {
		c.unprocessable("the cluster already has size %q, %d node(s) and %d MiB of storage: nothing to resize", cl.Size, cl.NumNodes, cl.StorageMiB)
		return
	}
	cl.Size, cl.NumNodes, cl.StorageMiB = sz.Slug, numNodes, storage
	cl.status = dbStatusResizing
	cl.resizeAt = c.now.Add(s.e.scaled(DatabaseResizeDuration))
	c.w.WriteHeader(http.StatusAccepted)
}

func (s *databaseStore) updateMaintenance(c *call) {
	cl, ok := s.cluster(c)
	if !ok {
		return
	}
	var req struct {
		Day  string `json:"day"`
		Hour string `json:"hour"`
	}
	if !c.decode(&req) {
		return
	}
	day := strings.ToLower(req.Day)
	if !slices.Contains(dbWeekdays, day) {
		c.unprocessable("day %q is not a day of the week; use one of %s", req.Day, strings.Join(dbWeekdays, ", "))
		return
	}
	hour, ok := parseMaintenanceHour(req.Hour)
	if !ok {
		c.unprocessable("hour %q is not a time of day; use HH:MM or HH:MM:SS in UTC, e.g. \"03:00\"", req.Hour)
		return
	}
	cl.maintenance.Day, cl.maintenance.Hour = day, hour
	c.noContent()
}

func parseMaintenanceHour(h string) (string, bool) {
	for _, layout := range []string{"15:04:05", "15:04"} {
		if t, err := time.Parse(layout, h); err == nil {
			return t.Format("15:04:05"), true
		}
	}
	return "", false
}

func (s *databaseStore) getCA(c *call) {
	if _, ok := s.cluster(c); !ok {
		return
	}
	// A []byte marshals as base64, which is how DigitalOcean sends it.
	c.respond(http.StatusOK, map[string]any{"ca": map[string]any{"certificate": s.accountCA().certPEM}})
}

var dbEvictionPolicies = []string{"noeviction", "allkeys_lru", "allkeys_random", "volatile_lru", "volatile_random", "volatile_ttl"}

func (s *databaseStore) evictionCluster(c *call) (*dbCluster, bool) {
	cl, ok := s.cluster(c)
	if !ok {
		return nil, false
	}
	if !cl.Engine.Eviction {
		c.unprocessable("eviction_policy applies to %s clusters only; %s is a %s cluster", dbEnginesWith(func(e *dbEngine) bool { return e.Eviction }), cl.Name, cl.Engine.Name)
		return nil, false
	}
	return cl, true
}

func (s *databaseStore) getEvictionPolicy(c *call) {
	if cl, ok := s.evictionCluster(c); ok {
		c.respond(http.StatusOK, map[string]any{"eviction_policy": cl.eviction})
	}
}

func (s *databaseStore) putEvictionPolicy(c *call) {
	cl, ok := s.evictionCluster(c)
	if !ok {
		return
	}
	var req struct {
		EvictionPolicy string `json:"eviction_policy"`
	}
	if !c.decode(&req) {
		return
	}
	if !slices.Contains(dbEvictionPolicies, req.EvictionPolicy) {
		c.unprocessable("eviction_policy %q is not valid; use one of %s", req.EvictionPolicy, strings.Join(dbEvictionPolicies, ", "))
		return
	}
	if err := s.e.dp.valkeyEviction(cl.ID, req.EvictionPolicy); err != nil {
		dataPlaneFailed(c, err)
		return
	}
	cl.eviction = req.EvictionPolicy
	c.noContent()
}
