package emulator

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
)

// PgBouncer connection pools (PostgreSQL only). The pools of a cluster
// share its backend connections: their sizes may not add up to more than
// the plan allows (25 per GiB of RAM, less 3 reserved). Clients reach a pool
// on port 25061 with the pool's name as the database.

const dbPgBouncerPort = 25061

type dbPool struct {
	Name string
	Mode string
	Size int
	DB   string
	User string // "" means the inbound user: clients bring their own credentials
}

type dbPoolJSON struct {
	Name                     string        `json:"name"`
	Mode                     string        `json:"mode"`
	Size                     int           `json:"size"`
	DB                       string        `json:"db"`
	User                     string        `json:"user"`
	Connection               *dbConnection `json:"connection"`
	PrivateConnection        *dbConnection `json:"private_connection"`
	StandbyConnection        *dbConnection `json:"standby_connection,omitempty"`
	StandbyPrivateConnection *dbConnection `json:"standby_private_connection,omitempty"`
}

// Pool names are 3 to 60 characters (spec connection_pool.yml, name: "Must
// be between 3 and 60 characters.").
const (
	dbPoolNameMin = 3
	dbPoolNameMax = 60
)

var (
	dbPoolModes       = []string{"transaction", "session", "statement"}
	dbPoolNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9_\-]*$`)
)

func (cl *dbCluster) pool(name string) *dbPool {
	for _, p := range cl.pools {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// poolConnections sums the pool sizes, leaving out pool except.
func (cl *dbCluster) poolConnections(except string) int {
	n := 0
	for _, p := range cl.pools {
		if p.Name != except {
			n += p.Size
		}
	}
	return n
}

func (s *databaseStore) renderPool(cl *dbCluster, p *dbPool) dbPoolJSON {
	u := cl.admin()
	if p.User != "" {
		if named := cl.user(p.User); named != nil {
			u = named
		}
	}
	host, private, standby, standbyPrivate, port := s.poolEndpoints(cl, p)
	out := dbPoolJSON{
		Name: p.Name, Mode: p.Mode, Size: p.Size, DB: p.DB, User: p.User,
		Connection:        cl.connection(host, u, p.Name, port),
		PrivateConnection: cl.connection(private, u, p.Name, port),
	}
	if cl.NumNodes > 1 {
		out.StandbyConnection = cl.connection(standby, u, p.Name, port)
		out.StandbyPrivateConnection = cl.connection(standbyPrivate, u, p.Name, port)
	}
	return out
}

func (s *databaseStore) poolCluster(c *call) (*dbCluster, bool) {
	cl, ok := s.cluster(c)
	if !ok {
		return nil, false
	}
	if !cl.Engine.Pools {
		c.unprocessable("connection pools are only available for PostgreSQL; %s is a %s cluster", cl.Name, cl.Engine.Name)
		return nil, false
	}
	return cl, true
}

func (s *databaseStore) findPool(c *call) (*dbCluster, *dbPool, bool) {
	cl, ok := s.poolCluster(c)
	if !ok {
		return nil, nil, false
	}
	p := cl.pool(c.param("pool_name"))
	if p == nil {
		c.notFound()
		return nil, nil, false
	}
	return cl, p, true
}

func (s *databaseStore) listPools(c *call) {
	cl, ok := s.poolCluster(c)
	if !ok {
		return
	}
	out := make([]dbPoolJSON, 0, len(cl.pools))
	for _, p := range cl.pools {
		out = append(out, s.renderPool(cl, p))
	}
	c.respond(http.StatusOK, map[string]any{"pools": out})
}

func (s *databaseStore) getPool(c *call) {
	if cl, p, ok := s.findPool(c); ok {
		c.respond(http.StatusOK, map[string]any{"pool": s.renderPool(cl, p)})
	}
}

type dbPoolRequest struct {
	Name string `json:"name"`
	Mode string `json:"mode"`
	Size int    `json:"size"`
	DB   string `json:"db"`
	User string `json:"user"`
}

// validPool checks mode, size, db, user and the connection budget; except
// names the pool being updated (its current size is not counted).
func dbValidPool(c *call, cl *dbCluster, req dbPoolRequest, except string) bool {
	if !slices.Contains(dbPoolModes, req.Mode) {
		if req.Mode == "" {
			c.unprocessable("mode is required; use one of %s", strings.Join(dbPoolModes, ", "))
		} else {
			c.unprocessable("mode %q is not a pool mode; use one of %s", req.Mode, strings.Join(dbPoolModes, ", "))
		}
		return false
	}
	if req.DB == "" {
		c.unprocessable("db is required: the database the pool connects to (cluster %s has: %s)", cl.Name, strings.Join(cl.dbs, ", "))
		return false
	}
	if !slices.Contains(cl.dbs, req.DB) {
		c.unprocessable("db %q is not a database of cluster %s; its databases: %s", req.DB, cl.Name, strings.Join(cl.dbs, ", "))
		return false
	}
	if req.User != "" && cl.user(req.User) == nil {
		names := make([]string, 0, len(cl.users))
		for _, u := range cl.users {
			names = append(names, u.Name)
		}
		c.unprocessable("user %q is not a user of cluster %s (users: %s); omit user to let clients connect as themselves", req.User, cl.Name, strings.Join(names, ", "))
		return false
	}
	sz, _ := dbSizeBySlug(cl.Size)
	limit := sz.pgConnectionLimit()
	used := cl.poolConnections(except)
	if req.Size < 1 {
		c.unprocessable("size must be at least 1 connection; %d of the cluster's %d are free", limit-used, limit)
		return false
	}
	if used+req.Size > limit {
		c.unprocessable("size %d exceeds the available connections: size %q allows %d pooled connections in total, other pools use %d, so at most %d remain", req.Size, cl.Size, limit, used, max(limit-used, 0))
		return false
	}
	return true
}

func (s *databaseStore) createPool(c *call) {
	cl, ok := s.poolCluster(c)
	if !ok {
		return
	}
	var req dbPoolRequest
	if !c.decode(&req) {
		return
	}
	if !dbRequireReady(c, cl, "adding connection pools") {
		return
	}
	switch {
	case req.Name == "":
		c.unprocessable("name is required")
		return
	case len(req.Name) < dbPoolNameMin || len(req.Name) > dbPoolNameMax:
		// Spec connection_pool.yml, name: "Must be between 3 and 60 characters."
		c.unprocessable("name %q is %d characters long: connection pool names must be between %d and %d characters; choose a name of that length", req.Name, len(req.Name), dbPoolNameMin, dbPoolNameMax)
		return
	case !dbPoolNamePattern.MatchString(req.Name):
		c.unprocessable("name %q is invalid: use letters, digits, underscores and dashes, not starting with a dash", req.Name)
		return
	case cl.pool(req.Name) != nil:
		c.unprocessable("connection pool %q already exists in cluster %s", req.Name, cl.Name)
		return
	}
	if !dbValidPool(c, cl, req, "") {
		return
	}
	p := &dbPool{Name: req.Name, Mode: req.Mode, Size: req.Size, DB: req.DB, User: req.User}
	if err := s.e.dp.pgCreatePool(cl.ID, *p, forcedPassword(cl, *p)); err != nil {
		dataPlaneFailed(c, err)
		return
	}
	cl.pools = append(cl.pools, p)
	c.respond(http.StatusCreated, map[string]any{"pool": s.renderPool(cl, p)})
}

func (s *databaseStore) updatePool(c *call) {
	cl, p, ok := s.findPool(c)
	if !ok {
		return
	}
	var req dbPoolRequest
	if !c.decode(&req) {
		return
	}
	req.Name = p.Name
	if !dbValidPool(c, cl, req, p.Name) {
		return
	}
	next := dbPool{Name: p.Name, Mode: req.Mode, Size: req.Size, DB: req.DB, User: req.User}
	if err := s.e.dp.pgUpdatePool(cl.ID, next, forcedPassword(cl, next)); err != nil {
		dataPlaneFailed(c, err)
		return
	}
	p.Mode, p.Size, p.DB, p.User = req.Mode, req.Size, req.DB, req.User
	c.noContent()
}

func (s *databaseStore) deletePool(c *call) {
	cl, p, ok := s.findPool(c)
	if !ok {
		return
	}
	cl.pools = slices.DeleteFunc(cl.pools, func(x *dbPool) bool { return x == p })
	s.e.dp.pgDeletePool(cl.ID, p.Name)
	c.noContent()
}
