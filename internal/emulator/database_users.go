package emulator

import (
	"encoding/base64"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Database users (/users) and logical databases (/dbs). Every cluster has a
// primary user DigitalOcean creates (doadmin; "default" on Valkey) that can
// be reset but not deleted, and SQL and MongoDB clusters a default database.
// Valkey clusters keep their single user: listing and reading it work, but
// DigitalOcean refuses user management on them. MongoDB refuses a user
// create that follows another on the same cluster too closely.

const (
	dbRolePrimary = "primary"
	dbRoleNormal  = "normal"
)

type dbUser struct {
	Name       string
	Role       string
	Password   string
	authPlugin string // MySQL
	settings   *dbUserSettings
	accessCert string // Kafka
	accessKey  string
}

type dbUserSettings struct {
	PGAllowReplication *bool                `json:"pg_allow_replication,omitempty"`
	OpenSearchACL      []dbOpenSearchACL    `json:"opensearch_acl,omitempty"`
	ACL                []dbKafkaACL         `json:"acl,omitempty"`
	MongoUserSettings  *dbMongoUserSettings `json:"mongo_user_settings,omitempty"`
}

type dbOpenSearchACL struct {
	Index      string `json:"index"`
	Permission string `json:"permission"`
}

type dbKafkaACL struct {
	ID         string `json:"id,omitempty"`
	Topic      string `json:"topic"`
	Permission string `json:"permission"`
}

type dbMongoUserSettings struct {
	Databases []string `json:"databases,omitempty"`
	Role      string   `json:"role"`
}

type dbMySQLSettings struct {
	AuthPlugin string `json:"auth_plugin"`
}

type dbUserJSON struct {
	Name          string           `json:"name"`
	Role          string           `json:"role"`
	Password      string           `json:"password"`
	AccessCert    string           `json:"access_cert,omitempty"`
	AccessKey     string           `json:"access_key,omitempty"`
	MySQLSettings *dbMySQLSettings `json:"mysql_settings,omitempty"`
	Settings      *dbUserSettings  `json:"settings,omitempty"`
}

func (u *dbUser) render() dbUserJSON {
	out := dbUserJSON{Name: u.Name, Role: u.Role, Password: u.Password, AccessCert: u.accessCert, AccessKey: u.accessKey, Settings: u.settings}
	if u.authPlugin != "" {
		out.MySQLSettings = &dbMySQLSettings{AuthPlugin: u.authPlugin}
	}
	return out
}

// newPassword looks like DigitalOcean's generated passwords.
func newDBPassword() string { return "AVNS_" + randomHex(10) }

func newDBUser(en *dbEngine, name, role string) *dbUser {
	u := &dbUser{Name: name, Role: role, Password: newDBPassword()}
	switch en.Slug {
	case "mysql":
		u.authPlugin = "caching_sha2_password"
	case "kafka":
		u.rotateKafkaCredentials()
	}
	return u
}

func newPrimaryUser(en *dbEngine) *dbUser { return newDBUser(en, en.AdminUser, dbRolePrimary) }

// rotateKafkaCredentials issues the client certificate and key Kafka users
// authenticate with (opaque PEM blocks: nothing connects to them).
func (u *dbUser) rotateKafkaCredentials() {
	block := func(kind string) string {
		return "-----BEGIN " + kind + "-----\n" + base64.StdEncoding.EncodeToString([]byte(u.Name+":"+randomHex(24))) + "\n-----END " + kind + "-----\n"
	}
	u.accessCert, u.accessKey = block("CERTIFICATE"), block("PRIVATE KEY")
}

func (cl *dbCluster) user(name string) *dbUser {
	for _, u := range cl.users {
		if u.Name == name {
			return u
		}
	}
	return nil
}

var (
	dbUserNamePattern   = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9_.\-]*$`)
	dbNamePattern       = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9_$\-]*$`)
	dbReservedUserNames = []string{"doadmin", "default", "postgres", "root", "admin", "mysql.sys", "mysql.session", "mysql.infoschema", "_dodb", "pgbouncer"}
)

// dbMongoUserCreateGap is how long after a user create on a MongoDB cluster
// another user create on it fails with a 500 (in DigitalOcean time): the
// official provider serialises them (terraform-provider-digitalocean PR
// #1027, "Prevent creating multiple users for the same cluster in parallel").
const dbMongoUserCreateGap = 5 * time.Second

// dbUserManagementRefused answers 422 when cl's engine has no user
// management. Spec databases_add_user, databases_delete_user: "User
// management is not supported for Caching or Valkey clusters."
func dbUserManagementRefused(c *call, cl *dbCluster, what string) bool {
	en := cl.Engine
	if en.AddUsers {
		return false
	}
	c.unprocessable("User management is not supported for Caching or Valkey clusters: %s is a %s cluster with a single user, %q, so %s is refused; connect as %q with the credentials in the cluster's connection details", cl.Name, en.Name, en.AdminUser, what, en.AdminUser)
	return true
}

// managedUser finds the cluster and user named by the path for an operation
// that manages users (what), answering 404 or 422 itself.
func (s *databaseStore) managedUser(c *call, what string) (*dbCluster, *dbUser, bool) {
	cl, ok := s.cluster(c)
	if !ok {
		return nil, nil, false
	}
	if dbUserManagementRefused(c, cl, what) {
		return nil, nil, false
	}
	return pathUser(c, cl)
}

func (s *databaseStore) findUser(c *call) (*dbCluster, *dbUser, bool) {
	cl, ok := s.cluster(c)
	if !ok {
		return nil, nil, false
	}
	return pathUser(c, cl)
}

// pathUser finds the user the path names in cl, answering 404 itself.
func pathUser(c *call, cl *dbCluster) (*dbCluster, *dbUser, bool) {
	u := cl.user(c.param("username"))
	if u == nil {
		c.notFound()
		return nil, nil, false
	}
	return cl, u, true
}

func (s *databaseStore) listUsers(c *call) {
	cl, ok := s.cluster(c)
	if !ok {
		return
	}
	out := make([]dbUserJSON, 0, len(cl.users))
	for _, u := range cl.users {
		out = append(out, u.render())
	}
	c.respond(http.StatusOK, map[string]any{"users": out})
}

func (s *databaseStore) getUser(c *call) {
	if _, u, ok := s.findUser(c); ok {
		c.respond(http.StatusOK, map[string]any{"user": u.render()})
	}
}

// validUserSettings checks settings against what the engine supports and
// normalises them (Kafka ACLs get ids).
func dbValidUserSettings(c *call, cl *dbCluster, st *dbUserSettings, prev *dbUserSettings) bool {
	en := cl.Engine
	if st.PGAllowReplication != nil && en.Slug != "pg" {
		c.unprocessable("settings.pg_allow_replication applies to PostgreSQL users only; %s is a %s cluster", cl.Name, en.Name)
		return false
	}
	if len(st.ACL) > 0 && en.Slug != "kafka" {
		c.unprocessable("settings.acl applies to Kafka users only; %s is a %s cluster", cl.Name, en.Name)
		return false
	}
	if len(st.OpenSearchACL) > 0 && en.Slug != "opensearch" {
		c.unprocessable("settings.opensearch_acl applies to OpenSearch users only; %s is a %s cluster", cl.Name, en.Name)
		return false
	}
	if st.MongoUserSettings != nil && en.Slug != "mongodb" {
		c.unprocessable("settings.mongo_user_settings applies to MongoDB users only; %s is a %s cluster", cl.Name, en.Name)
		return false
	}
	kafkaPermissions := []string{"admin", "consume", "produce", "produceconsume"}
	for i := range st.ACL {
		a := &st.ACL[i]
		if a.Topic == "" {
			c.unprocessable("settings.acl[%d].topic is required (a topic name or a pattern such as \"orders.*\")", i)
			return false
		}
		if !slices.Contains(kafkaPermissions, a.Permission) {
			c.unprocessable("settings.acl[%d].permission %q is not valid; use one of %s", i, a.Permission, strings.Join(kafkaPermissions, ", "))
			return false
		}
		if a.ID == "" && prev != nil {
			for _, old := range prev.ACL {
				if old.Topic == a.Topic && old.Permission == a.Permission {
					a.ID = old.ID
				}
			}
		}
		if a.ID == "" {
			a.ID = randomHex(6)
		}
	}
	osPermissions := []string{"deny", "admin", "read", "readwrite", "write"}
	for i, a := range st.OpenSearchACL {
		if a.Index == "" {
			c.unprocessable("settings.opensearch_acl[%d].index is required (an index name or pattern such as \"logs-*\")", i)
			return false
		}
		if !slices.Contains(osPermissions, a.Permission) {
			c.unprocessable("settings.opensearch_acl[%d].permission %q is not valid; use one of %s", i, a.Permission, strings.Join(osPermissions, ", "))
			return false
		}
	}
	if m := st.MongoUserSettings; m != nil {
		roles := []string{"readOnly", "readWrite", "dbAdmin"}
		if !slices.Contains(roles, m.Role) {
			c.unprocessable("settings.mongo_user_settings.role %q is not valid; use one of %s", m.Role, strings.Join(roles, ", "))
			return false
		}
		for i, db := range m.Databases {
			if !slices.Contains(cl.dbs, db) {
				c.unprocessable("settings.mongo_user_settings.databases[%d] %q is not a database of cluster %s; its databases: %s", i, db, cl.Name, strings.Join(cl.dbs, ", "))
				return false
			}
		}
	}
	return true
}

func dbValidMySQLSettings(c *call, cl *dbCluster, m *dbMySQLSettings) bool {
	if m == nil {
		return true
	}
	if cl.Engine.Slug != "mysql" {
		c.unprocessable("mysql_settings applies to MySQL users only; %s is a %s cluster", cl.Name, cl.Engine.Name)
		return false
	}
	plugins := []string{"caching_sha2_password", "mysql_native_password"}
	if !slices.Contains(plugins, m.AuthPlugin) {
		c.unprocessable("mysql_settings.auth_plugin %q is not valid; use one of %s", m.AuthPlugin, strings.Join(plugins, ", "))
		return false
	}
	return true
}

func (s *databaseStore) createUser(c *call) {
	cl, ok := s.cluster(c)
	if !ok {
		return
	}
	var req struct {
		Name          string           `json:"name"`
		MySQLSettings *dbMySQLSettings `json:"mysql_settings"`
		Settings      *dbUserSettings  `json:"settings"`
		Readonly      bool             `json:"readonly"`
	}
	if !c.decode(&req) {
		return
	}
	en := cl.Engine
	if dbUserManagementRefused(c, cl, "adding a user") {
		return
	}
	if !dbRequireReady(c, cl, "adding users") {
		return
	}
	maxLen := 63
	if en.Slug == "mysql" {
		maxLen = 32
	}
	switch {
	case req.Name == "":
		c.unprocessable("name is required")
		return
	case len(req.Name) > maxLen || !dbUserNamePattern.MatchString(req.Name):
		c.unprocessable("name %q is invalid: use at most %d letters, digits, underscores, dots and dashes, not starting with a dot or dash", req.Name, maxLen)
		return
	case slices.Contains(dbReservedUserNames, req.Name) || strings.HasPrefix(req.Name, "pg_"):
		c.unprocessable("name %q is reserved; choose another user name", req.Name)
		return
	case cl.user(req.Name) != nil:
		c.unprocessable("user %q already exists in cluster %s", req.Name, cl.Name)
		return
	}
	if req.Readonly && en.Slug != "mongodb" {
		c.unprocessable("readonly applies to MongoDB users only; on %s grant privileges with SQL or settings", en.Name)
		return
	}
	if !dbValidMySQLSettings(c, cl, req.MySQLSettings) {
		return
	}
	if req.Settings != nil && !dbValidUserSettings(c, cl, req.Settings, nil) {
		return
	}
	if en.Slug == "mongodb" && !s.e.cfg.Realism.Ideal {
		// Official provider PR #1027 serialises MongoDB user creates: parallel ones fail.
		if last, ok := s.e.mongoUserCreated[cl.ID]; ok && c.now.Sub(last) < s.e.scaled(dbMongoUserCreateGap) {
			c.fail(http.StatusInternalServerError, "server_error", "Unexpected server-side error: another user is being created on MongoDB cluster "+cl.Name+"; create its users one at a time, waiting for each create to finish")
			return
		}
		s.e.mongoUserCreated[cl.ID] = c.now
	}
	u := newDBUser(en, req.Name, dbRoleNormal)
	if req.MySQLSettings != nil {
		u.authPlugin = req.MySQLSettings.AuthPlugin
	}
	u.settings = req.Settings
	if req.Readonly {
		if u.settings == nil {
			u.settings = &dbUserSettings{}
		}
		if u.settings.MongoUserSettings == nil {
			u.settings.MongoUserSettings = &dbMongoUserSettings{Databases: []string{}}
		}
		u.settings.MongoUserSettings.Role = "readOnly"
	}
	if err := s.e.dp.pgCreateUser(cl.ID, u); err != nil {
		dataPlaneFailed(c, err)
		return
	}
	cl.users = append(cl.users, u)
	c.respond(http.StatusCreated, map[string]any{"user": u.render()})
}

// updateUser replaces a user's settings (Kafka ACLs, OpenSearch ACLs,
// MongoDB roles, PostgreSQL replication). DigitalOcean answers 201.
func (s *databaseStore) updateUser(c *call) {
	cl, u, ok := s.managedUser(c, "updating a user")
	if !ok {
		return
	}
	var req struct {
		Settings *dbUserSettings `json:"settings"`
	}
	if !c.decode(&req) {
		return
	}
	if req.Settings == nil {
		c.unprocessable("settings is required")
		return
	}
	if !dbValidUserSettings(c, cl, req.Settings, u.settings) {
		return
	}
	prev := u.settings
	u.settings = req.Settings
	if err := s.e.dp.pgUpdateUser(cl.ID, u); err != nil {
		u.settings = prev
		dataPlaneFailed(c, err)
		return
	}
	c.respond(http.StatusCreated, map[string]any{"user": u.render()})
}

func (s *databaseStore) deleteUser(c *call) {
	cl, u, ok := s.managedUser(c, "deleting a user")
	if !ok {
		return
	}
	if u.Role == dbRolePrimary {
		c.unprocessable("user %q is the cluster's primary user and cannot be deleted; reset its password with reset_auth instead", u.Name)
		return
	}
	for _, p := range cl.pools {
		if p.User == u.Name {
			c.unprocessable("user %q is used by connection pool %q: delete the pool or change its user first", u.Name, p.Name)
			return
		}
	}
	if err := s.e.dp.pgDropUser(cl.ID, u.Name, cl.dbs); err != nil {
		dataPlaneFailed(c, err)
		return
	}
	cl.users = slices.DeleteFunc(cl.users, func(x *dbUser) bool { return x == u })
	c.noContent()
}

// resetUserAuth issues a new password (and, on MySQL, may switch the auth
// plugin). Connection details follow the primary user's new password.
func (s *databaseStore) resetUserAuth(c *call) {
	cl, u, ok := s.managedUser(c, "resetting a user's password")
	if !ok {
		return
	}
	var req struct {
		MySQLSettings *dbMySQLSettings `json:"mysql_settings"`
	}
	if !c.decode(&req) {
		return
	}
	if !dbValidMySQLSettings(c, cl, req.MySQLSettings) {
		return
	}
	if !dbRequireReady(c, cl, "resetting credentials") {
		return
	}
	prevPassword := u.Password
	u.Password = newDBPassword()
	if err := s.e.dp.pgSetPassword(cl.ID, u); err != nil {
		u.Password = prevPassword
		dataPlaneFailed(c, err)
		return
	}
	if req.MySQLSettings != nil {
		u.authPlugin = req.MySQLSettings.AuthPlugin
	}
	if cl.Engine.Slug == "kafka" {
		u.rotateKafkaCredentials()
	}
	c.respond(http.StatusOK, map[string]any{"user": u.render()})
}

// ---- logical databases ----

type dbJSON struct {
	Name string `json:"name"`
}

func (s *databaseStore) dbCluster(c *call) (*dbCluster, bool) {
	cl, ok := s.cluster(c)
	if !ok {
		return nil, false
	}
	if !cl.Engine.Databases {
		c.unprocessable("%s clusters have no databases; the dbs endpoints serve %s clusters", cl.Engine.Name, dbEnginesWith(func(e *dbEngine) bool { return e.Databases }))
		return nil, false
	}
	return cl, true
}

func (s *databaseStore) listDBs(c *call) {
	cl, ok := s.dbCluster(c)
	if !ok {
		return
	}
	out := make([]dbJSON, 0, len(cl.dbs))
	for _, name := range cl.dbs {
		out = append(out, dbJSON{Name: name})
	}
	c.respond(http.StatusOK, map[string]any{"dbs": out})
}

func (s *databaseStore) getDB(c *call) {
	cl, ok := s.dbCluster(c)
	if !ok {
		return
	}
	name := c.param("database_name")
	if !slices.Contains(cl.dbs, name) {
		c.notFound()
		return
	}
	c.respond(http.StatusOK, map[string]any{"db": dbJSON{Name: name}})
}

func (s *databaseStore) createDB(c *call) {
	cl, ok := s.dbCluster(c)
	if !ok {
		return
	}
	var req dbJSON
	if !c.decode(&req) {
		return
	}
	if !dbRequireReady(c, cl, "adding databases") {
		return
	}
	switch {
	case req.Name == "":
		c.unprocessable("name is required")
		return
	case len(req.Name) > 63 || !dbNamePattern.MatchString(req.Name):
		c.unprocessable("name %q is invalid: use at most 63 letters, digits, underscores, dollar signs and dashes, not starting with a dash", req.Name)
		return
	case slices.Contains(cl.Engine.ReservedDBs, req.Name):
		c.unprocessable("name %q is reserved on %s; reserved names: %s", req.Name, cl.Engine.Name, strings.Join(cl.Engine.ReservedDBs, ", "))
		return
	case slices.Contains(cl.dbs, req.Name):
		c.unprocessable("database %q already exists in cluster %s", req.Name, cl.Name)
		return
	}
	if err := s.e.dp.pgCreateDB(cl.ID, req.Name); err != nil {
		dataPlaneFailed(c, err)
		return
	}
	cl.dbs = append(cl.dbs, req.Name)
	c.respond(http.StatusCreated, map[string]any{"db": dbJSON{Name: req.Name}})
}

func (s *databaseStore) deleteDB(c *call) {
	cl, ok := s.dbCluster(c)
	if !ok {
		return
	}
	name := c.param("database_name")
	if !slices.Contains(cl.dbs, name) {
		c.notFound()
		return
	}
	if name == cl.Engine.AdminDB {
		c.unprocessable("database %q is the cluster's default database and cannot be deleted", name)
		return
	}
	for _, p := range cl.pools {
		if p.DB == name {
			c.unprocessable("database %q is used by connection pool %q: delete the pool or point it at another database first", name, p.Name)
			return
		}
	}
	for _, u := range cl.users {
		if u.settings != nil && u.settings.MongoUserSettings != nil && slices.Contains(u.settings.MongoUserSettings.Databases, name) {
			c.unprocessable("database %q is granted to user %q: update the user's settings first", name, u.Name)
			return
		}
	}
	if err := s.e.dp.pgDropDB(cl.ID, name); err != nil {
		dataPlaneFailed(c, err)
		return
	}
	cl.dbs = slices.DeleteFunc(cl.dbs, func(x string) bool { return x == name })
	c.noContent()
}
