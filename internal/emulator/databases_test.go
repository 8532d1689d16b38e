package emulator

import (
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/digitalocean/godo"
)

// dbRequest is a valid small cluster of engine en in nyc3, named name.
func dbRequest(name, engine string) *godo.DatabaseCreateRequest {
	en, _ := dbEngineBySlug(engine)
	l := en.Layouts[0]
	return &godo.DatabaseCreateRequest{
		Name: name, EngineSlug: engine, Region: "nyc3", NumNodes: l.NumNodes, SizeSlug: l.Sizes[0],
		Rules: []*godo.DatabaseCreateFirewallRule{},
	}
}

func createDB(t *testing.T, c *godo.Client, req *godo.DatabaseCreateRequest) *godo.Database {
	t.Helper()
	db, resp, err := c.Databases.Create(ctx, req)
	if err != nil {
		t.Fatalf("create %s: %v", req.Name, err)
	}
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create %s: status %d, want 201", req.Name, resp.StatusCode)
	}
	return db
}

// createVisibleDB creates a cluster and waits out its read-after-create
// window (Realism.ReadAfterCreate), for tests about what follows.
func createVisibleDB(t *testing.T, c *godo.Client, req *godo.DatabaseCreateRequest) *godo.Database {
	t.Helper()
	db := createDB(t, c, req)
	waitDBVisible(t, c, db.ID)
	return db
}

// waitDBVisible polls a new cluster until GET stops answering 404.
func waitDBVisible(t *testing.T, c *godo.Client, id string) *godo.Database {
	t.Helper()
	var db *godo.Database
	eventually(t, "database "+id+" readable", func() bool {
		got, _, err := c.Databases.Get(ctx, id)
		if apiStatus(err) == http.StatusNotFound {
			return false
		}
		if err != nil {
			t.Fatalf("get %s: %v", id, err)
		}
		db = got
		return true
	})
	return db
}

// waitReplicaVisible polls a new replica until GET stops answering 404.
func waitReplicaVisible(t *testing.T, c *godo.Client, id, name string) *godo.DatabaseReplica {
	t.Helper()
	var rp *godo.DatabaseReplica
	eventually(t, "replica "+name+" readable", func() bool {
		got, _, err := c.Databases.GetReplica(ctx, id, name)
		if apiStatus(err) == http.StatusNotFound {
			return false
		}
		if err != nil {
			t.Fatalf("get replica %s: %v", name, err)
		}
		rp = got
		return true
	})
	return rp
}

// waitDBStatus polls the cluster until it reports status. A 404 is
// tolerated only before the first successful read (a new cluster's
// read-after-create window); after that it fails the test.
func waitDBStatus(t *testing.T, c *godo.Client, id, status string) *godo.Database {
	t.Helper()
	var db *godo.Database
	eventually(t, "database "+id+" "+status, func() bool {
		got, _, err := c.Databases.Get(ctx, id)
		if db == nil && apiStatus(err) == http.StatusNotFound {
			return false
		}
		if err != nil {
			t.Fatalf("get %s: %v", id, err)
		}
		db = got
		return got.Status == status
	})
	return db
}

// waitReplicaStatus polls the replica until it reports status, tolerating
// a 404 only before the first successful read, as waitDBStatus does.
func waitReplicaStatus(t *testing.T, c *godo.Client, id, name, status string) *godo.DatabaseReplica {
	t.Helper()
	var rp *godo.DatabaseReplica
	eventually(t, "replica "+name+" "+status, func() bool {
		got, _, err := c.Databases.GetReplica(ctx, id, name)
		if rp == nil && apiStatus(err) == http.StatusNotFound {
			return false
		}
		if err != nil {
			t.Fatalf("get replica %s: %v", name, err)
		}
		rp = got
		return got.Status == status
	})
	return rp
}

// waitFirstBackup waits until cluster id takes replicas: online, and its
// first backup done (Realism.FirstBackup after it first came online).
func waitFirstBackup(t *testing.T, srv *Server, id string) {
	t.Helper()
	eventually(t, "first backup of "+id, func() bool {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		now := srv.advanceLocked()
		cl := srv.dbs.clusters[id]
		return cl != nil && !cl.firstOnlineAt.IsZero() && !now.Before(cl.firstOnlineAt.Add(srv.realism().FirstBackup))
	})
}

// wantMessage checks an API error's status and that its message mentions
// every fragment.
func wantDBError(t *testing.T, err error, code int, fragments ...string) {
	t.Helper()
	er := wantStatus(t, err, code)
	for _, f := range fragments {
		if !strings.Contains(er.Message, f) {
			t.Fatalf("message %q does not mention %q", er.Message, f)
		}
	}
}

// dbInventoryStatus is the inventory status of object id ("" when absent).
func dbInventoryStatus(srv *Server, id string) string {
	for _, it := range srv.Inventory().Items {
		if it.ID == id {
			return it.Status
		}
	}
	return ""
}

func waitDBInventoryEmpty(t *testing.T, srv *Server) {
	t.Helper()
	eventually(t, "empty inventory", func() bool { return srv.Inventory().Empty() })
}

func TestDatabaseLifecycleEveryEngine(t *testing.T) {
	srv, c := startTest(t, Config{})
	for _, en := range dbEngines {
		t.Run(en.Slug, func(t *testing.T) {
			db := createDB(t, c, dbRequest("life-"+en.Slug, en.Slug))
			if db.Status != "creating" || db.ID == "" || db.CreatedAt.IsZero() {
				t.Fatalf("new cluster %+v", db)
			}
			if db.VersionSlug != en.defaultVersion().Version {
				t.Fatalf("version %q, want default %q", db.VersionSlug, en.defaultVersion().Version)
			}
			def := srv.vpcs.defaultFor("nyc3", srv.now())
			if db.PrivateNetworkUUID != def.ID {
				t.Fatalf("cluster in VPC %q, want nyc3 default %q", db.PrivateNetworkUUID, def.ID)
			}
			if st := dbInventoryStatus(srv, db.ID); st != "creating" {
				t.Fatalf("inventory status %q while creating:\n%s", st, srv.Inventory())
			}
			db = waitDBStatus(t, c, db.ID, "online")
			if db.Connection == nil || db.PrivateConnection == nil || db.Connection.Port != en.Port || !db.Connection.SSL {
				t.Fatalf("connections %+v %+v", db.Connection, db.PrivateConnection)
			}
			if db.PrivateConnection.Host != "private-"+db.Connection.Host {
				t.Fatalf("private host %q for public %q", db.PrivateConnection.Host, db.Connection.Host)
			}
			if len(db.Users) != 1 || db.Users[0].Role != "primary" || db.Users[0].Name != en.AdminUser || db.Users[0].Password == "" {
				t.Fatalf("users %+v", db.Users)
			}
			if db.Connection.Password != db.Users[0].Password || db.Connection.User != en.AdminUser {
				t.Fatalf("connection credentials %+v do not match the primary user", db.Connection)
			}
			if en.AdminDB != "" && !slices.Equal(db.DBNames, []string{en.AdminDB}) {
				t.Fatalf("db_names %v", db.DBNames)
			}
			if db.ProjectID == "" || db.MaintenanceWindow == nil || db.MaintenanceWindow.Day == "" {
				t.Fatalf("project %q maintenance %+v", db.ProjectID, db.MaintenanceWindow)
			}
			if _, err := c.Databases.Delete(ctx, db.ID); err != nil {
				t.Fatal(err)
			}
			_, _, err := c.Databases.Get(ctx, db.ID)
			wantStatus(t, err, http.StatusNotFound)
		})
	}
	waitDBInventoryEmpty(t, srv)
}

func TestDatabaseConnectionURIs(t *testing.T) {
	_, c := startTest(t, Config{})
	pgReq := dbRequest("uri-pg", "pg")
	pgReq.NumNodes, pgReq.SizeSlug = 2, "db-s-1vcpu-2gb"
	cases := []struct {
		req    *godo.DatabaseCreateRequest
		prefix string
		suffix string
	}{
		{pgReq, "postgresql://doadmin:", ":25060/defaultdb?sslmode=require"},
		{dbRequest("uri-mysql", "mysql"), "mysql://doadmin:", ":25060/defaultdb?ssl-mode=REQUIRED"},
		{dbRequest("uri-valkey", "valkey"), "rediss://default:", ":25061"},
		{dbRequest("uri-mongo", "mongodb"), "mongodb+srv://doadmin:", "/admin?tls=true&authSource=admin&replicaSet=uri-mongo"},
		{dbRequest("uri-search", "opensearch"), "https://doadmin:", ":25060"},
		{dbRequest("uri-kafka", "kafka"), "", ""},
	}
	for _, tc := range cases {
		db := createDB(t, c, tc.req)
		conn := db.Connection
		if tc.prefix == "" {
			if conn.URI != "" || conn.Port != 25073 || conn.Host == "" {
				t.Errorf("%s: kafka connection %+v", db.Name, conn)
			}
			continue
		}
		want := tc.prefix + conn.Password + "@" + conn.Host + tc.suffix
		if conn.URI != want {
			t.Errorf("%s: uri %q, want %q", db.Name, conn.URI, want)
		}
		if !strings.Contains(db.PrivateConnection.URI, "@private-"+conn.Host) {
			t.Errorf("%s: private uri %q", db.Name, db.PrivateConnection.URI)
		}
		if db.EngineSlug == "mongodb" && !strings.HasSuffix(conn.Host, ".mongo.ondigitalocean.com") {
			t.Errorf("mongodb host %q", conn.Host)
		}
		if db.EngineSlug == "pg" && !strings.HasPrefix(conn.Host, "uri-pg-do-user-") {
			t.Errorf("pg host %q", conn.Host)
		}
		if db.EngineSlug == "opensearch" && (db.UIConnection == nil || db.UIConnection.Port != 443) {
			t.Errorf("opensearch ui connection %+v", db.UIConnection)
		}
		hasStandby := db.StandbyConnection != nil
		if hasStandby != (db.NumNodes > 1) {
			t.Errorf("%s with %d nodes: standby connection %+v", db.Name, db.NumNodes, db.StandbyConnection)
		}
		if hasStandby && (db.StandbyConnection.Host != "replica-"+conn.Host || db.StandbyPrivateConnection.Host != "private-replica-"+conn.Host) {
			t.Errorf("standby hosts %q %q", db.StandbyConnection.Host, db.StandbyPrivateConnection.Host)
		}
	}
}

func TestDatabaseCreateValidation(t *testing.T) {
	_, c := startTest(t, Config{})
	createDB(t, c, dbRequest("taken", "pg"))
	ams, _, err := c.VPCs.Create(ctx, &godo.VPCCreateRequest{Name: "ams-net", RegionSlug: "ams3"})
	if err != nil {
		t.Fatal(err)
	}
	mod := func(engine string, f func(r *godo.DatabaseCreateRequest)) *godo.DatabaseCreateRequest {
		r := dbRequest("fresh", engine)
		f(r)
		return r
	}
	cases := []struct {
		name      string
		req       *godo.DatabaseCreateRequest
		fragments []string
	}{
		{"missing name", mod("pg", func(r *godo.DatabaseCreateRequest) { r.Name = "" }), []string{"name is required"}},
		{"bad name", mod("pg", func(r *godo.DatabaseCreateRequest) { r.Name = "Bad_Name" }), []string{"name", "lowercase"}},
		{"short name", mod("pg", func(r *godo.DatabaseCreateRequest) { r.Name = "ab" }), []string{"name", "3 to 63"}},
		{"duplicate name", mod("pg", func(r *godo.DatabaseCreateRequest) { r.Name = "taken" }), []string{"name", "already taken"}},
		{"unknown engine", mod("pg", func(r *godo.DatabaseCreateRequest) { r.EngineSlug = "oracle" }), []string{"engine", "oracle", "pg, mysql"}},
		{"redis", mod("pg", func(r *godo.DatabaseCreateRequest) { r.EngineSlug = "redis" }), []string{"engine", "valkey"}},
		{"version not offered", mod("pg", func(r *godo.DatabaseCreateRequest) { r.Version = "13" }), []string{"version", "13", "14, 15, 16, 17"}},
		{"missing region", mod("pg", func(r *godo.DatabaseCreateRequest) { r.Region = "" }), []string{"region is required"}},
		{"unknown region", mod("pg", func(r *godo.DatabaseCreateRequest) { r.Region = "mars1" }), []string{"region", "mars1"}},
		{"region without engine", mod("kafka", func(r *godo.DatabaseCreateRequest) { r.Region = "nyc1" }), []string{"region", "nyc1", "Kafka"}},
		{"missing num_nodes", mod("pg", func(r *godo.DatabaseCreateRequest) { r.NumNodes = 0 }), []string{"num_nodes is required"}},
		{"bad node count", mod("mongodb", func(r *godo.DatabaseCreateRequest) { r.NumNodes = 2 }), []string{"num_nodes", "1, 3"}},
		{"kafka below three nodes", mod("kafka", func(r *godo.DatabaseCreateRequest) { r.NumNodes = 1 }), []string{"num_nodes", "3, 6"}},
		{"size not offered for nodes", mod("pg", func(r *godo.DatabaseCreateRequest) { r.NumNodes = 2 }), []string{"size", "db-s-1vcpu-1gb", "2 node"}},
		{"unknown size", mod("pg", func(r *godo.DatabaseCreateRequest) { r.SizeSlug = "s-1vcpu-1gb" }), []string{"size", "not a database size"}},
		{"kafka size", mod("kafka", func(r *godo.DatabaseCreateRequest) { r.SizeSlug = "db-s-1vcpu-1gb" }), []string{"size", "gd-2vcpu-8gb"}},
		{"storage out of range", mod("pg", func(r *godo.DatabaseCreateRequest) { r.StorageSizeMib = 1 << 30 }), []string{"storage_size_mib", "db-s-1vcpu-1gb"}},
		{"storage off step", mod("pg", func(r *godo.DatabaseCreateRequest) { r.StorageSizeMib = 10241 }), []string{"storage_size_mib", "steps"}},
		{"storage on valkey", mod("valkey", func(r *godo.DatabaseCreateRequest) { r.StorageSizeMib = 20480 }), []string{"storage_size_mib", "Valkey"}},
		{"VPC in another region", mod("pg", func(r *godo.DatabaseCreateRequest) { r.PrivateNetworkUUID = ams.ID }), []string{"private_network_uuid", "ams3", "nyc3"}},
		{"unknown VPC", mod("pg", func(r *godo.DatabaseCreateRequest) { r.PrivateNetworkUUID = newID() }), []string{"private_network_uuid", "not a VPC"}},
		{"unknown project", mod("pg", func(r *godo.DatabaseCreateRequest) { r.ProjectID = newID() }), []string{"project_id", "not a project"}},
		{"bad tag", mod("pg", func(r *godo.DatabaseCreateRequest) { r.Tags = []string{"ok", "no spaces"} }), []string{"tags[1]"}},
		{"bad rule", mod("pg", func(r *godo.DatabaseCreateRequest) {
			r.Rules = []*godo.DatabaseCreateFirewallRule{{Type: "ip_addr", Value: "10.0.0.0/8"}, {Type: "vpc", Value: "x"}}
		}), []string{"rules[1].type", "vpc"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := c.Databases.Create(ctx, tc.req)
			wantDBError(t, err, http.StatusUnprocessableEntity, tc.fragments...)
		})
	}
	_, _, err = c.Databases.Get(ctx, newID())
	wantStatus(t, err, http.StatusNotFound)
	_, err = c.Databases.Delete(ctx, newID())
	wantStatus(t, err, http.StatusNotFound)
}

func TestDatabaseOptions(t *testing.T) {
	_, c := startTest(t, Config{})
	opts, _, err := c.Databases.ListOptions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(opts.PostgresSQLOptions.Versions, []string{"14", "15", "16", "17"}) {
		t.Fatalf("pg versions %v", opts.PostgresSQLOptions.Versions)
	}
	if len(opts.KafkaOptions.Layouts) == 0 || opts.KafkaOptions.Layouts[0].NodeNum != 3 {
		t.Fatalf("kafka layouts %+v", opts.KafkaOptions.Layouts)
	}
	if slices.Contains(opts.PostgresSQLOptions.Layouts[1].Sizes, "db-s-1vcpu-1gb") {
		t.Fatal("a 1 GiB plan is offered with standby nodes")
	}
	if !slices.Contains(opts.ValkeyOptions.Regions, "nyc3") || slices.Contains(opts.KafkaOptions.Regions, "nyc1") {
		t.Fatalf("regions valkey %v kafka %v", opts.ValkeyOptions.Regions, opts.KafkaOptions.Regions)
	}
	if len(opts.MongoDBOptions.Versions) != 2 || len(opts.OpensearchOptions.Layouts) == 0 || len(opts.MySQLOptions.Layouts) != 3 {
		t.Fatalf("options %+v", opts)
	}
}

func TestDatabaseProjectTagsAndCA(t *testing.T) {
	_, c := startTest(t, Config{})
	p, _, err := c.Projects.Create(ctx, &godo.CreateProjectRequest{Name: "data", Purpose: "memory"})
	if err != nil {
		t.Fatal(err)
	}
	req := dbRequest("tagged", "pg")
	req.ProjectID, req.Tags = p.ID, []string{"memory", "team:ml"}
	db := createVisibleDB(t, c, req)
	createVisibleDB(t, c, dbRequest("untagged", "mysql"))
	if db.ProjectID != p.ID {
		t.Fatalf("project_id %q, want %q", db.ProjectID, p.ID)
	}
	res, _, err := c.Projects.ListResources(ctx, p.ID, nil)
	if err != nil || len(res) != 1 || res[0].URN != "do:dbaas:"+db.ID {
		t.Fatalf("project resources %v %+v", err, res)
	}
	var root struct {
		Databases []godo.Database `json:"databases"`
	}
	r, _ := c.NewRequest(ctx, http.MethodGet, "/v2/databases?tag_name=team:ml", nil)
	if _, err := c.Do(ctx, r, &root); err != nil || len(root.Databases) != 1 || root.Databases[0].ID != db.ID {
		t.Fatalf("list by tag: %v %+v", err, root.Databases)
	}
	all, _, err := c.Databases.List(ctx, nil)
	if err != nil || len(all) != 2 {
		t.Fatalf("list: %v %d", err, len(all))
	}

	ca, _, err := c.Databases.GetCA(ctx, db.ID)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(ca.Certificate)
	if block == nil {
		t.Fatalf("CA is not PEM: %q", ca.Certificate)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil || !cert.IsCA {
		t.Fatalf("CA certificate: %v %+v", err, cert)
	}
}

func TestDatabaseMaintenanceAndResize(t *testing.T) {
	_, c := startTest(t, Config{})
	db := createVisibleDB(t, c, dbRequest("grow", "pg"))

	_, err := c.Databases.Resize(ctx, db.ID, &godo.DatabaseResizeRequest{SizeSlug: "db-s-1vcpu-2gb", NumNodes: 2})
	wantDBError(t, err, http.StatusConflict, "online")

	if _, err := c.Databases.UpdateMaintenance(ctx, db.ID, &godo.DatabaseUpdateMaintenanceRequest{Day: "Sunday", Hour: "03:30"}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Databases.UpdateMaintenance(ctx, db.ID, &godo.DatabaseUpdateMaintenanceRequest{Day: "someday", Hour: "03:30"})
	wantDBError(t, err, http.StatusUnprocessableEntity, "day", "someday")
	_, err = c.Databases.UpdateMaintenance(ctx, db.ID, &godo.DatabaseUpdateMaintenanceRequest{Day: "monday", Hour: "25:00"})
	wantDBError(t, err, http.StatusUnprocessableEntity, "hour", "25:00")

	db = waitDBStatus(t, c, db.ID, "online")
	if db.MaintenanceWindow.Day != "sunday" || db.MaintenanceWindow.Hour != "03:30:00" {
		t.Fatalf("maintenance %+v", db.MaintenanceWindow)
	}
	for _, tc := range []struct {
		req       godo.DatabaseResizeRequest
		fragments []string
	}{
		{godo.DatabaseResizeRequest{SizeSlug: "db-s-1vcpu-1gb", NumNodes: 2}, []string{"size", "2 node"}},
		{godo.DatabaseResizeRequest{SizeSlug: "db-s-1vcpu-2gb", NumNodes: 4}, []string{"num_nodes 4", "1, 2, 3"}},
		{godo.DatabaseResizeRequest{SizeSlug: "db-s-1vcpu-1gb", NumNodes: 1}, []string{"nothing to resize"}},
		{godo.DatabaseResizeRequest{SizeSlug: "db-s-1vcpu-1gb"}, []string{"num_nodes", "required"}},
		{godo.DatabaseResizeRequest{SizeSlug: "db-s-1vcpu-1gb", NumNodes: 1, StorageSizeMib: 40960}, []string{"storage_size_mib", "30720"}},
	} {
		_, err := c.Databases.Resize(ctx, db.ID, &tc.req)
		wantDBError(t, err, http.StatusUnprocessableEntity, tc.fragments...)
	}
	resp, err := c.Databases.Resize(ctx, db.ID, &godo.DatabaseResizeRequest{SizeSlug: "db-s-2vcpu-4gb", NumNodes: 2, StorageSizeMib: 81920})
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("resize: %v", err)
	}
	got, _, _ := c.Databases.Get(ctx, db.ID)
	if got.Status != "resizing" || got.SizeSlug != "db-s-2vcpu-4gb" || got.NumNodes != 2 || got.StorageSizeMib != 81920 || got.StandbyConnection == nil {
		t.Fatalf("after resize %+v", got)
	}
	waitDBStatus(t, c, db.ID, "online")
	_, err = c.Databases.Resize(ctx, db.ID, &godo.DatabaseResizeRequest{SizeSlug: "db-s-2vcpu-4gb", NumNodes: 2, StorageSizeMib: 61440})
	wantDBError(t, err, http.StatusUnprocessableEntity, "storage cannot be decreased")
}

func TestDatabaseFirewall(t *testing.T) {
	_, c := startTest(t, Config{})
	req := dbRequest("walled", "pg")
	req.Rules = []*godo.DatabaseCreateFirewallRule{{Type: "ip_addr", Value: "203.0.113.7"}}
	db := createVisibleDB(t, c, req)

	rules, _, err := c.Databases.GetFirewallRules(ctx, db.ID)
	if err != nil || len(rules) != 1 || rules[0].ClusterUUID != db.ID || rules[0].UUID == "" || rules[0].CreatedAt.IsZero() {
		t.Fatalf("initial rules %v %+v", err, rules)
	}
	first := rules[0]

	// godo sends its read shape back (cluster_uuid, created_at): accepted.
	set := func(rs ...*godo.DatabaseFirewallRule) error {
		_, err := c.Databases.UpdateFirewallRules(ctx, db.ID, &godo.DatabaseUpdateFirewallRulesRequest{Rules: rs})
		return err
	}
	if err := set(
		&godo.DatabaseFirewallRule{Type: "ip_addr", Value: "203.0.113.7"},
		&godo.DatabaseFirewallRule{Type: "ip_addr", Value: "10.10.0.0/16"},
		&godo.DatabaseFirewallRule{Type: "droplet", Value: "123456"},
		&godo.DatabaseFirewallRule{Type: "tag", Value: "inference"},
		&godo.DatabaseFirewallRule{Type: "app", Value: newID()},
	); err != nil {
		t.Fatal(err)
	}
	rules, _, _ = c.Databases.GetFirewallRules(ctx, db.ID)
	if len(rules) != 5 || rules[0].UUID != first.UUID || !rules[0].CreatedAt.Equal(first.CreatedAt) {
		t.Fatalf("an unchanged rule must keep its identity: first %+v, now %+v", first, rules)
	}
	// Updating by uuid keeps the uuid.
	if err := set(&godo.DatabaseFirewallRule{UUID: first.UUID, Type: "ip_addr", Value: "203.0.113.8"}); err != nil {
		t.Fatal(err)
	}
	rules, _, _ = c.Databases.GetFirewallRules(ctx, db.ID)
	if len(rules) != 1 || rules[0].UUID != first.UUID || rules[0].Value != "203.0.113.8" {
		t.Fatalf("update by uuid: %+v", rules)
	}

	for _, tc := range []struct {
		rules     []*godo.DatabaseFirewallRule
		fragments []string
	}{
		{[]*godo.DatabaseFirewallRule{{Type: "ip_addr", Value: "1.2.3.4"}, {Type: "vpc", Value: "x"}}, []string{"rules[1].type", "vpc", "ip_addr, droplet, k8s, tag, app"}},
		{[]*godo.DatabaseFirewallRule{{Type: "ip_addr", Value: "not-an-ip"}}, []string{"rules[0].value", "not-an-ip"}},
		{[]*godo.DatabaseFirewallRule{{Type: "ip_addr", Value: "10.0.0.1/8"}}, []string{"rules[0].value", "10.0.0.0/8"}},
		{[]*godo.DatabaseFirewallRule{{Type: "droplet", Value: "-3"}}, []string{"rules[0].value", "Droplet"}},
		{[]*godo.DatabaseFirewallRule{{Type: "app", Value: "my-app"}}, []string{"rules[0].value", "UUID"}},
		{[]*godo.DatabaseFirewallRule{{Type: "tag", Value: "two words"}}, []string{"rules[0].value", "tag"}},
		{[]*godo.DatabaseFirewallRule{{Type: "k8s", Value: newID()}}, []string{"rules[0].value", "Kubernetes cluster"}},
		{[]*godo.DatabaseFirewallRule{{Type: "ip_addr", Value: ""}}, []string{"rules[0].value is required"}},
		{[]*godo.DatabaseFirewallRule{{Type: "ip_addr", Value: "1.2.3.4"}, {Type: "ip_addr", Value: "1.2.3.4"}}, []string{"rules[1] duplicates rules[0]"}},
		{[]*godo.DatabaseFirewallRule{{UUID: newID(), Type: "ip_addr", Value: "1.2.3.4"}}, []string{"rules[0].uuid", "not a rule"}},
	} {
		wantDBError(t, set(tc.rules...), http.StatusUnprocessableEntity, tc.fragments...)
	}
	// A missing rules key is an error; an empty list clears the set.
	r, _ := c.NewRequest(ctx, http.MethodPut, "/v2/databases/"+db.ID+"/firewall", map[string]any{})
	_, err = c.Do(ctx, r, nil)
	wantDBError(t, err, http.StatusUnprocessableEntity, "rules is required")
	if err := set(); err != nil {
		t.Fatal(err)
	}
	if rules, _, _ = c.Databases.GetFirewallRules(ctx, db.ID); len(rules) != 0 {
		t.Fatalf("rules after clearing: %+v", rules)
	}
}

func TestDatabaseUsersAndDBs(t *testing.T) {
	srv, c := startTest(t, Config{})
	pg := createVisibleDB(t, c, dbRequest("people", "pg"))
	_, _, err := c.Databases.CreateUser(ctx, pg.ID, &godo.DatabaseCreateUserRequest{Name: "early"})
	wantDBError(t, err, http.StatusConflict, "online")
	_, _, err = c.Databases.CreateDB(ctx, pg.ID, &godo.DatabaseCreateDBRequest{Name: "early"})
	wantDBError(t, err, http.StatusConflict, "online")
	waitDBStatus(t, c, pg.ID, "online")

	u, resp, err := c.Databases.CreateUser(ctx, pg.ID, &godo.DatabaseCreateUserRequest{Name: "app"})
	if err != nil || resp.StatusCode != http.StatusCreated || u.Role != "normal" || u.Password == "" {
		t.Fatalf("create user: %v %+v", err, u)
	}
	for _, tc := range []struct {
		req       godo.DatabaseCreateUserRequest
		fragments []string
	}{
		{godo.DatabaseCreateUserRequest{Name: "app"}, []string{"app", "already exists"}},
		{godo.DatabaseCreateUserRequest{Name: ""}, []string{"name is required"}},
		{godo.DatabaseCreateUserRequest{Name: "-x"}, []string{"name", "-x"}},
		{godo.DatabaseCreateUserRequest{Name: "postgres"}, []string{"reserved"}},
		{godo.DatabaseCreateUserRequest{Name: "m", MySQLSettings: &godo.DatabaseMySQLUserSettings{AuthPlugin: "mysql_native_password"}}, []string{"mysql_settings", "MySQL"}},
		{godo.DatabaseCreateUserRequest{Name: "k", Settings: &godo.DatabaseUserSettings{ACL: []*godo.KafkaACL{{Topic: "t", Permission: "admin"}}}}, []string{"settings.acl", "Kafka"}},
	} {
		_, _, err := c.Databases.CreateUser(ctx, pg.ID, &tc.req)
		wantDBError(t, err, http.StatusUnprocessableEntity, tc.fragments...)
	}
	users, _, err := c.Databases.ListUsers(ctx, pg.ID, nil)
	if err != nil || len(users) != 2 {
		t.Fatalf("users %v %+v", err, users)
	}
	got, _, err := c.Databases.GetUser(ctx, pg.ID, "app")
	if err != nil || got.Password != u.Password {
		t.Fatalf("get user %v %+v", err, got)
	}
	_, _, err = c.Databases.GetUser(ctx, pg.ID, "nobody")
	wantStatus(t, err, http.StatusNotFound)

	before, _, _ := c.Databases.Get(ctx, pg.ID)
	reset, resp, err := c.Databases.ResetUserAuth(ctx, pg.ID, "doadmin", &godo.DatabaseResetUserAuthRequest{})
	if err != nil || resp.StatusCode != http.StatusOK || reset.Password == before.Connection.Password {
		t.Fatalf("reset_auth: %v %+v", err, reset)
	}
	after, _, _ := c.Databases.Get(ctx, pg.ID)
	if after.Connection.Password != reset.Password || !strings.Contains(after.Connection.URI, reset.Password) || !strings.Contains(after.PrivateConnection.URI, reset.Password) {
		t.Fatalf("connections do not follow the new password: %+v", after.Connection)
	}
	_, err = c.Databases.DeleteUser(ctx, pg.ID, "doadmin")
	wantDBError(t, err, http.StatusUnprocessableEntity, "doadmin", "primary")

	dbx, resp, err := c.Databases.CreateDB(ctx, pg.ID, &godo.DatabaseCreateDBRequest{Name: "memory"})
	if err != nil || resp.StatusCode != http.StatusCreated || dbx.Name != "memory" {
		t.Fatalf("create db: %v %+v", err, dbx)
	}
	_, _, err = c.Databases.CreateDB(ctx, pg.ID, &godo.DatabaseCreateDBRequest{Name: "memory"})
	wantDBError(t, err, http.StatusUnprocessableEntity, "memory", "already exists")
	_, _, err = c.Databases.CreateDB(ctx, pg.ID, &godo.DatabaseCreateDBRequest{Name: "template1"})
	wantDBError(t, err, http.StatusUnprocessableEntity, "reserved")
	if dbs, _, err := c.Databases.ListDBs(ctx, pg.ID, nil); err != nil || len(dbs) != 2 {
		t.Fatalf("dbs %v %+v", err, dbs)
	}
	if _, _, err := c.Databases.GetDB(ctx, pg.ID, "memory"); err != nil {
		t.Fatal(err)
	}
	_, err = c.Databases.DeleteDB(ctx, pg.ID, "defaultdb")
	wantDBError(t, err, http.StatusUnprocessableEntity, "defaultdb", "default database")

	inv := srv.Inventory()
	if inv.Count("database_user") != 1 || inv.Count("database_db") != 1 {
		t.Fatalf("inventory counts default objects or misses added ones:\n%s", inv)
	}
	if _, err := c.Databases.DeleteUser(ctx, pg.ID, "app"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Databases.DeleteDB(ctx, pg.ID, "memory"); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Databases.GetDB(ctx, pg.ID, "memory")
	wantStatus(t, err, http.StatusNotFound)

	// MySQL: auth plugins.
	my := createDB(t, c, dbRequest("people-mysql", "mysql"))
	waitDBStatus(t, c, my.ID, "online")
	mu, _, err := c.Databases.CreateUser(ctx, my.ID, &godo.DatabaseCreateUserRequest{Name: "legacy", MySQLSettings: &godo.DatabaseMySQLUserSettings{AuthPlugin: "mysql_native_password"}})
	if err != nil || mu.MySQLSettings == nil || mu.MySQLSettings.AuthPlugin != "mysql_native_password" {
		t.Fatalf("mysql user %v %+v", err, mu)
	}
	mu, _, err = c.Databases.ResetUserAuth(ctx, my.ID, "legacy", &godo.DatabaseResetUserAuthRequest{MySQLSettings: &godo.DatabaseMySQLUserSettings{AuthPlugin: "caching_sha2_password"}})
	if err != nil || mu.MySQLSettings.AuthPlugin != "caching_sha2_password" {
		t.Fatalf("mysql reset %v %+v", err, mu)
	}
	_, _, err = c.Databases.CreateUser(ctx, my.ID, &godo.DatabaseCreateUserRequest{Name: "bad", MySQLSettings: &godo.DatabaseMySQLUserSettings{AuthPlugin: "sha1"}})
	wantDBError(t, err, http.StatusUnprocessableEntity, "auth_plugin", "sha1")

	// Kafka: ACLs, set at create and replaced by update.
	kf := createDB(t, c, dbRequest("people-kafka", "kafka"))
	waitDBStatus(t, c, kf.ID, "online")
	ku, _, err := c.Databases.CreateUser(ctx, kf.ID, &godo.DatabaseCreateUserRequest{Name: "producer", Settings: &godo.DatabaseUserSettings{ACL: []*godo.KafkaACL{{Topic: "events", Permission: "produce"}}}})
	if err != nil || ku.Settings == nil || len(ku.Settings.ACL) != 1 || ku.Settings.ACL[0].ID == "" || ku.AccessCert == "" || ku.AccessKey == "" {
		t.Fatalf("kafka user %v %+v", err, ku)
	}
	ku2, resp, err := c.Databases.UpdateUser(ctx, kf.ID, "producer", &godo.DatabaseUpdateUserRequest{Settings: &godo.DatabaseUserSettings{ACL: []*godo.KafkaACL{
		{Topic: "events", Permission: "produce"}, {Topic: "audit.*", Permission: "consume"},
	}}})
	if err != nil || resp.StatusCode != http.StatusCreated || len(ku2.Settings.ACL) != 2 || ku2.Settings.ACL[0].ID != ku.Settings.ACL[0].ID {
		t.Fatalf("kafka update %v %+v", err, ku2)
	}
	_, _, err = c.Databases.UpdateUser(ctx, kf.ID, "producer", &godo.DatabaseUpdateUserRequest{Settings: &godo.DatabaseUserSettings{ACL: []*godo.KafkaACL{{Topic: "x", Permission: "own"}}}})
	wantDBError(t, err, http.StatusUnprocessableEntity, "settings.acl[0].permission", "own")
	_, _, err = c.Databases.ListDBs(ctx, kf.ID, nil)
	wantDBError(t, err, http.StatusUnprocessableEntity, "Kafka", "no databases")

	// Valkey: a single user, no databases.
	vk := createDB(t, c, dbRequest("people-valkey", "valkey"))
	waitDBStatus(t, c, vk.ID, "online")
	_, _, err = c.Databases.CreateUser(ctx, vk.ID, &godo.DatabaseCreateUserRequest{Name: "other"})
	wantDBError(t, err, http.StatusUnprocessableEntity, "Valkey", "single user")
	if vu, _, err := c.Databases.ListUsers(ctx, vk.ID, nil); err != nil || len(vu) != 1 || vu[0].Name != "default" {
		t.Fatalf("valkey users %v %+v", err, vu)
	}
	_, _, err = c.Databases.CreateDB(ctx, vk.ID, &godo.DatabaseCreateDBRequest{Name: "x"})
	wantDBError(t, err, http.StatusUnprocessableEntity, "Valkey", "no databases")

	// MongoDB: roles on existing databases.
	mg := createDB(t, c, dbRequest("people-mongo", "mongodb"))
	waitDBStatus(t, c, mg.ID, "online")
	if _, _, err := c.Databases.CreateDB(ctx, mg.ID, &godo.DatabaseCreateDBRequest{Name: "vectors"}); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Databases.CreateUser(ctx, mg.ID, &godo.DatabaseCreateUserRequest{Name: "reader", Settings: &godo.DatabaseUserSettings{MongoUserSettings: &godo.MongoUserSettings{Databases: []string{"nope"}, Role: "readOnly"}}})
	wantDBError(t, err, http.StatusUnprocessableEntity, "databases[0]", "nope")
	if _, _, err := c.Databases.CreateUser(ctx, mg.ID, &godo.DatabaseCreateUserRequest{Name: "reader", Settings: &godo.DatabaseUserSettings{MongoUserSettings: &godo.MongoUserSettings{Databases: []string{"vectors"}, Role: "readOnly"}}}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Databases.DeleteDB(ctx, mg.ID, "vectors")
	wantDBError(t, err, http.StatusUnprocessableEntity, "vectors", "reader")
}

func TestDatabasePools(t *testing.T) {
	_, c := startTest(t, Config{})
	my := createVisibleDB(t, c, dbRequest("pool-mysql", "mysql"))
	_, _, err := c.Databases.CreatePool(ctx, my.ID, &godo.DatabaseCreatePoolRequest{Name: "p", Mode: "transaction", Size: 5, Database: "defaultdb"})
	wantDBError(t, err, http.StatusUnprocessableEntity, "connection pools are only available for PostgreSQL")

	pg := createDB(t, c, dbRequest("pool-pg", "pg")) // db-s-1vcpu-1gb: 22 pooled connections
	waitDBStatus(t, c, pg.ID, "online")
	if _, _, err := c.Databases.CreateUser(ctx, pg.ID, &godo.DatabaseCreateUserRequest{Name: "app"}); err != nil {
		t.Fatal(err)
	}
	p, resp, err := c.Databases.CreatePool(ctx, pg.ID, &godo.DatabaseCreatePoolRequest{Name: "main", Mode: "transaction", Size: 20, Database: "defaultdb", User: "app"})
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create pool: %v", err)
	}
	if p.Connection.Port != 25061 || p.Connection.Database != "main" || p.Connection.User != "app" ||
		!strings.HasSuffix(p.Connection.URI, ":25061/main?sslmode=require") || p.PrivateConnection.Host != "private-"+p.Connection.Host {
		t.Fatalf("pool connection %+v %+v", p.Connection, p.PrivateConnection)
	}
	for _, tc := range []struct {
		req       godo.DatabaseCreatePoolRequest
		fragments []string
	}{
		{godo.DatabaseCreatePoolRequest{Name: "more", Mode: "session", Size: 5, Database: "defaultdb"}, []string{"size 5", "22", "at most 2 remain"}},
		{godo.DatabaseCreatePoolRequest{Name: "main", Mode: "session", Size: 1, Database: "defaultdb"}, []string{"main", "already exists"}},
		{godo.DatabaseCreatePoolRequest{Name: "m2", Mode: "fast", Size: 1, Database: "defaultdb"}, []string{"mode", "fast"}},
		{godo.DatabaseCreatePoolRequest{Name: "m2", Mode: "session", Size: 0, Database: "defaultdb"}, []string{"size", "at least 1"}},
		{godo.DatabaseCreatePoolRequest{Name: "m2", Mode: "session", Size: 1, Database: "nope"}, []string{"db", "nope"}},
		{godo.DatabaseCreatePoolRequest{Name: "m2", Mode: "session", Size: 1, Database: "defaultdb", User: "ghost"}, []string{"user", "ghost"}},
	} {
		_, _, err := c.Databases.CreatePool(ctx, pg.ID, &tc.req)
		wantDBError(t, err, http.StatusUnprocessableEntity, tc.fragments...)
	}
	inbound, _, err := c.Databases.CreatePool(ctx, pg.ID, &godo.DatabaseCreatePoolRequest{Name: "inbound", Mode: "session", Size: 2, Database: "defaultdb"})
	if err != nil || inbound.User != "" || inbound.Connection.User != "doadmin" {
		t.Fatalf("inbound pool %v %+v", err, inbound)
	}
	// Updating a pool does not count its own current size against it.
	if _, err := c.Databases.UpdatePool(ctx, pg.ID, "main", &godo.DatabaseUpdatePoolRequest{Mode: "session", Size: 20, Database: "defaultdb", User: "app"}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Databases.UpdatePool(ctx, pg.ID, "main", &godo.DatabaseUpdatePoolRequest{Mode: "session", Size: 21, Database: "defaultdb"})
	wantDBError(t, err, http.StatusUnprocessableEntity, "at most 20 remain")
	got, _, err := c.Databases.GetPool(ctx, pg.ID, "main")
	if err != nil || got.Mode != "session" || got.Size != 20 {
		t.Fatalf("pool after update %v %+v", err, got)
	}
	if pools, _, err := c.Databases.ListPools(ctx, pg.ID, nil); err != nil || len(pools) != 2 {
		t.Fatalf("pools %v %+v", err, pools)
	}
	_, err = c.Databases.DeleteUser(ctx, pg.ID, "app")
	wantDBError(t, err, http.StatusUnprocessableEntity, "app", "main")
	// A smaller plan must still fit the pools.
	_, err = c.Databases.Resize(ctx, pg.ID, &godo.DatabaseResizeRequest{SizeSlug: "db-s-1vcpu-1gb", NumNodes: 1, StorageSizeMib: 20480})
	if err != nil {
		t.Fatal(err)
	}
	waitDBStatus(t, c, pg.ID, "online")
	if _, err := c.Databases.DeletePool(ctx, pg.ID, "main"); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Databases.GetPool(ctx, pg.ID, "main")
	wantStatus(t, err, http.StatusNotFound)
}

func TestDatabasePoolsLimitResize(t *testing.T) {
	_, c := startTest(t, Config{})
	req := dbRequest("pool-big", "pg")
	req.SizeSlug = "db-s-2vcpu-4gb" // 97 pooled connections
	pg := createDB(t, c, req)
	waitDBStatus(t, c, pg.ID, "online")
	if _, _, err := c.Databases.CreatePool(ctx, pg.ID, &godo.DatabaseCreatePoolRequest{Name: "wide", Mode: "transaction", Size: 90, Database: "defaultdb"}); err != nil {
		t.Fatal(err)
	}
	_, err := c.Databases.Resize(ctx, pg.ID, &godo.DatabaseResizeRequest{SizeSlug: "db-s-1vcpu-2gb", NumNodes: 1, StorageSizeMib: 61440})
	wantDBError(t, err, http.StatusUnprocessableEntity, "47", "90")
}

func TestDatabaseReplicas(t *testing.T) {
	srv, c := startTest(t, Config{})
	vk := createVisibleDB(t, c, dbRequest("rep-valkey", "valkey"))
	_, _, err := c.Databases.CreateReplica(ctx, vk.ID, &godo.DatabaseCreateReplicaRequest{Name: "vk-r", Size: "db-s-1vcpu-1gb"})
	wantDBError(t, err, http.StatusUnprocessableEntity, "read-only replicas", "Valkey")

	req := dbRequest("rep-primary", "pg")
	req.SizeSlug = "db-s-1vcpu-2gb"
	pg := createVisibleDB(t, c, req)
	_, _, err = c.Databases.CreateReplica(ctx, pg.ID, &godo.DatabaseCreateReplicaRequest{Name: "early", Size: "db-s-1vcpu-2gb"})
	wantDBError(t, err, http.StatusConflict, "online")
	waitDBStatus(t, c, pg.ID, "online")
	waitFirstBackup(t, srv, pg.ID)

	lon, _, err := c.VPCs.Create(ctx, &godo.VPCCreateRequest{Name: "lon-net", RegionSlug: "lon1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		req       godo.DatabaseCreateReplicaRequest
		fragments []string
	}{
		{godo.DatabaseCreateReplicaRequest{Name: "small", Size: "db-s-1vcpu-1gb"}, []string{"size", "smaller", "db-s-1vcpu-2gb"}},
		{godo.DatabaseCreateReplicaRequest{Name: "", Size: "db-s-1vcpu-2gb"}, []string{"name is required"}},
		{godo.DatabaseCreateReplicaRequest{Name: "rep-primary", Size: "db-s-1vcpu-2gb"}, []string{"name", "already taken"}},
		{godo.DatabaseCreateReplicaRequest{Name: "r", Size: "db-s-1vcpu-2gb"}, []string{"name", "3 to 63"}},
		{godo.DatabaseCreateReplicaRequest{Name: "far", Size: "db-s-1vcpu-2gb", Region: "nyc2"}, []string{"region", "nyc2"}},
		{godo.DatabaseCreateReplicaRequest{Name: "far", Size: "db-s-1vcpu-2gb", PrivateNetworkUUID: lon.ID}, []string{"private_network_uuid", "lon1", "nyc3"}},
	} {
		_, _, err := c.Databases.CreateReplica(ctx, pg.ID, &tc.req)
		wantDBError(t, err, http.StatusUnprocessableEntity, tc.fragments...)
	}

	rp, resp, err := c.Databases.CreateReplica(ctx, pg.ID, &godo.DatabaseCreateReplicaRequest{Name: "rep-london", Size: "db-s-2vcpu-4gb", Region: "lon1", PrivateNetworkUUID: lon.ID, Tags: []string{"read"}})
	if err != nil || resp.StatusCode != http.StatusCreated || rp.Status != "creating" || rp.ID == "" || rp.Region != "lon1" || rp.PrivateNetworkUUID != lon.ID {
		t.Fatalf("create replica: %v %+v", err, rp)
	}
	if rp.Connection == nil || rp.PrivateConnection == nil || rp.PrivateConnection.Host != "private-"+rp.Connection.Host || rp.Connection.Port != 25060 {
		t.Fatalf("replica connections %+v %+v", rp.Connection, rp.PrivateConnection)
	}
	if rp.StorageSizeMib < 30720 {
		t.Fatalf("replica storage %d is smaller than the primary's", rp.StorageSizeMib)
	}
	waitReplicaVisible(t, c, pg.ID, "rep-london")
	_, err = c.Databases.PromoteReplicaToPrimary(ctx, pg.ID, "rep-london")
	wantDBError(t, err, http.StatusConflict, "online")
	waitReplicaStatus(t, c, pg.ID, "rep-london", "online")
	if reps, _, err := c.Databases.ListReplicas(ctx, pg.ID, nil); err != nil || len(reps) != 1 {
		t.Fatalf("replicas %v %+v", err, reps)
	}
	if got := srv.Inventory(); got.Count("database_replica") != 1 {
		t.Fatalf("inventory:\n%s", got)
	}

	// Promotion: same id, now a cluster, no longer a replica (once the
	// asynchronous promotion completed).
	if _, err := c.Databases.PromoteReplicaToPrimary(ctx, pg.ID, "rep-london"); err != nil {
		t.Fatal(err)
	}
	promoted := waitDBVisible(t, c, rp.ID)
	if promoted.Name != "rep-london" || promoted.Status != "online" || promoted.RegionSlug != "lon1" || promoted.EngineSlug != "pg" || promoted.NumNodes != 1 {
		t.Fatalf("promoted: %+v", promoted)
	}
	promoted, _, err = c.Databases.Get(ctx, rp.ID)
	if err != nil || promoted.Name != "rep-london" || promoted.Status != "online" || promoted.RegionSlug != "lon1" || promoted.EngineSlug != "pg" || promoted.NumNodes != 1 {
		t.Fatalf("promoted: %v %+v", err, promoted)
	}
	_, _, err = c.Databases.GetReplica(ctx, pg.ID, "rep-london")
	wantStatus(t, err, http.StatusNotFound)
	if all, _, _ := c.Databases.List(ctx, nil); len(all) != 3 {
		t.Fatalf("list after promotion has %d clusters, want 3", len(all))
	}

	// Deleting a replica, then deleting a primary with a replica.
	if _, _, err := c.Databases.CreateReplica(ctx, pg.ID, &godo.DatabaseCreateReplicaRequest{Name: "rep-gone", Size: "db-s-1vcpu-2gb"}); err != nil {
		t.Fatal(err)
	}
	waitReplicaVisible(t, c, pg.ID, "rep-gone")
	if _, err := c.Databases.DeleteReplica(ctx, pg.ID, "rep-gone"); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Databases.GetReplica(ctx, pg.ID, "rep-gone")
	wantStatus(t, err, http.StatusNotFound)
	if _, _, err := c.Databases.CreateReplica(ctx, pg.ID, &godo.DatabaseCreateReplicaRequest{Name: "rep-orphan", Size: "db-s-1vcpu-2gb"}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{pg.ID, promoted.ID, vk.ID} {
		if _, err := c.Databases.Delete(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	inv := srv.Inventory()
	for _, it := range inv.Items {
		if strings.HasPrefix(it.Kind, "database_") && it.Status != "deleting" {
			t.Fatalf("after deleting the primary, %s %s is %q:\n%s", it.Kind, it.Name, it.Status, inv)
		}
	}
	if _, err := c.VPCs.Delete(ctx, lon.ID); apiStatus(err) != http.StatusConflict {
		t.Fatalf("VPC delete right after its databases were deleted: %v, want 409", err)
	}
	eventually(t, "VPC delete", func() bool { _, err := c.VPCs.Delete(ctx, lon.ID); return err == nil })
	waitDBInventoryEmpty(t, srv)
}

func TestDatabaseEvictionPolicy(t *testing.T) {
	_, c := startTest(t, Config{})
	vk := createVisibleDB(t, c, dbRequest("cache", "valkey"))
	policy, _, err := c.Databases.GetEvictionPolicy(ctx, vk.ID)
	if err != nil || policy != "noeviction" {
		t.Fatalf("default policy %v %q", err, policy)
	}
	if _, err := c.Databases.SetEvictionPolicy(ctx, vk.ID, godo.EvictionPolicyAllKeysLRU); err != nil {
		t.Fatal(err)
	}
	if policy, _, _ = c.Databases.GetEvictionPolicy(ctx, vk.ID); policy != "allkeys_lru" {
		t.Fatalf("policy %q", policy)
	}
	_, err = c.Databases.SetEvictionPolicy(ctx, vk.ID, "allkeys-lru")
	wantDBError(t, err, http.StatusUnprocessableEntity, "eviction_policy", "allkeys-lru", "allkeys_lru")
	pg := createVisibleDB(t, c, dbRequest("not-cache", "pg"))
	_, _, err = c.Databases.GetEvictionPolicy(ctx, pg.ID)
	wantDBError(t, err, http.StatusUnprocessableEntity, "eviction_policy", "Valkey", "PostgreSQL")
	_, err = c.Databases.SetEvictionPolicy(ctx, pg.ID, "noeviction")
	wantDBError(t, err, http.StatusUnprocessableEntity, "eviction_policy")
}

func TestDatabaseDeleteKeepsVPCBusy(t *testing.T) {
	srv, c := startTest(t, Config{})
	v, _, err := c.VPCs.Create(ctx, &godo.VPCCreateRequest{Name: "data-net", RegionSlug: "nyc3"})
	if err != nil {
		t.Fatal(err)
	}
	req := dbRequest("in-vpc", "pg")
	req.PrivateNetworkUUID = v.ID
	db := createVisibleDB(t, c, req)
	if db.PrivateNetworkUUID != v.ID {
		t.Fatalf("cluster in %q, want %q", db.PrivateNetworkUUID, v.ID)
	}
	members, _, err := c.VPCs.ListMembers(ctx, v.ID, nil, nil)
	if err != nil || len(members) != 1 || members[0].URN != "do:dbaas:"+db.ID || members[0].Name != "in-vpc" {
		t.Fatalf("members %v %+v", err, members)
	}
	if _, err := c.Databases.Delete(ctx, db.ID); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Databases.Get(ctx, db.ID)
	wantStatus(t, err, http.StatusNotFound)
	if all, _, _ := c.Databases.List(ctx, nil); len(all) != 0 {
		t.Fatalf("deleted cluster still listed: %+v", all)
	}
	_, err = c.VPCs.Delete(ctx, v.ID)
	wantStatus(t, err, http.StatusConflict)
	if st := dbInventoryStatus(srv, db.ID); st != "deleting" {
		t.Fatalf("inventory status %q right after delete:\n%s", st, srv.Inventory())
	}
	// The name is held for a while (Realism.NameHold), then free again.
	_, _, err = c.Databases.Create(ctx, dbRequest("in-vpc", "mysql"))
	wantDBError(t, err, http.StatusUnprocessableEntity, "in-vpc", "is not available")
	var again *godo.Database
	eventually(t, "name in-vpc released", func() bool {
		again, _, err = c.Databases.Create(ctx, dbRequest("in-vpc", "mysql"))
		return err == nil
	})
	eventually(t, "VPC delete after the grace period", func() bool { _, err := c.VPCs.Delete(ctx, v.ID); return err == nil })
	waitDBVisible(t, c, again.ID)
	if _, err := c.Databases.Delete(ctx, again.ID); err != nil {
		t.Fatal(err)
	}
	waitDBInventoryEmpty(t, srv)
}

func TestDatabaseTransitionFailure(t *testing.T) {
	srv, c := startTest(t, Config{})
	if err := srv.FailNextTransitions(TransitionDatabase, 1); err != nil {
		t.Fatal(err)
	}
	bad := createDB(t, c, dbRequest("doomed", "pg"))
	good := createDB(t, c, dbRequest("fine", "pg"))
	waitDBStatus(t, c, good.ID, "online")
	eventually(t, "failed in inventory", func() bool { return dbInventoryStatus(srv, bad.ID) == "failed" })
	got, _, err := c.Databases.Get(ctx, bad.ID)
	if err != nil || got.Status != "creating" {
		t.Fatalf("a failed cluster reports %q (%v); want it stuck in creating", got.Status, err)
	}
	_, err = c.Databases.Resize(ctx, bad.ID, &godo.DatabaseResizeRequest{SizeSlug: "db-s-1vcpu-2gb", NumNodes: 1})
	wantStatus(t, err, http.StatusConflict)
	_, _, err = c.Databases.CreateUser(ctx, bad.ID, &godo.DatabaseCreateUserRequest{Name: "x"})
	wantStatus(t, err, http.StatusConflict)

	waitFirstBackup(t, srv, good.ID)
	if err := srv.FailNextTransitions(TransitionReplica, 1); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Databases.CreateReplica(ctx, good.ID, &godo.DatabaseCreateReplicaRequest{Name: "doomed-replica", Size: "db-s-1vcpu-1gb"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "failed replica in inventory", func() bool {
		for _, it := range srv.Inventory().Items {
			if it.Kind == "database_replica" {
				return it.Status == "failed"
			}
		}
		return false
	})
	_, err = c.Databases.PromoteReplicaToPrimary(ctx, good.ID, "doomed-replica")
	wantStatus(t, err, http.StatusConflict)

	for _, id := range []string{bad.ID, good.ID} {
		if _, err := c.Databases.Delete(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	waitDBInventoryEmpty(t, srv)
}

// TestDatabaseFirewallKubernetesRule needs the Kubernetes family: a k8s rule
// must name a live cluster of the account.
func TestDatabaseFirewallKubernetesRule(t *testing.T) {
	srv, c := startTest(t, Config{})
	k8s, _, err := c.Kubernetes.Create(ctx, &godo.KubernetesClusterCreateRequest{
		Name: "compute", RegionSlug: "nyc3", VersionSlug: "latest",
		NodePools: []*godo.KubernetesNodePoolCreateRequest{{Name: "p", Size: "s-2vcpu-4gb", Count: 1}},
	})
	if err != nil {
		t.Fatal(err)
	}
	req := dbRequest("locked", "pg")
	req.Rules = []*godo.DatabaseCreateFirewallRule{{Type: "k8s", Value: k8s.ID}}
	db := createVisibleDB(t, c, req)
	rules, _, err := c.Databases.GetFirewallRules(ctx, db.ID)
	if err != nil || len(rules) != 1 || rules[0].Type != "k8s" || rules[0].Value != k8s.ID {
		t.Fatalf("rules %v %+v", err, rules)
	}
	set := func(rs ...*godo.DatabaseFirewallRule) error {
		_, err := c.Databases.UpdateFirewallRules(ctx, db.ID, &godo.DatabaseUpdateFirewallRulesRequest{Rules: rs})
		return err
	}
	if err := set(&godo.DatabaseFirewallRule{Type: "k8s", Value: k8s.ID}, &godo.DatabaseFirewallRule{Type: "ip_addr", Value: "198.51.100.1"}); err != nil {
		t.Fatal(err)
	}
	if after, _, _ := c.Databases.GetFirewallRules(ctx, db.ID); len(after) != 2 || after[0].UUID != rules[0].UUID {
		t.Fatalf("the k8s rule must keep its uuid: before %+v after %+v", rules, after)
	}
	wantDBError(t, set(&godo.DatabaseFirewallRule{Type: "k8s", Value: newID()}), http.StatusUnprocessableEntity, "rules[0].value", "Kubernetes cluster")

	if _, err := c.Kubernetes.Delete(ctx, k8s.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "rules naming a deleted cluster are refused", func() bool {
		err := set(&godo.DatabaseFirewallRule{Type: "k8s", Value: k8s.ID})
		return apiStatus(err) == http.StatusUnprocessableEntity
	})
	if _, err := c.Databases.Delete(ctx, db.ID); err != nil {
		t.Fatal(err)
	}
	waitDBInventoryEmpty(t, srv)
}
