package provider

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
	"github.com/attach-labs/terraform-provider-attach/internal/stack"
)

// What DigitalOcean refuses about a database that already exists (its
// engine, the rules others put on its firewall) is refused at plan time
// too: the plan reads the database, and writes nothing.
func TestAccRefusedAtPlanOnExistingDatabases(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	ctx := context.Background()
	api, err := godo.New(&http.Client{Transport: attBearer(srv.Token)}, godo.SetBaseURL(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	// A data team's VPC with a full pg (100 rules from elsewhere), a valkey
	// cache and an app cluster, made through the API.
	v, _, err := api.VPCs.Create(ctx, &godo.VPCCreateRequest{Name: "data", RegionSlug: "tor1"})
	if err != nil {
		t.Fatal(err)
	}
	create := func(name, engine, size string) *godo.Database {
		db, _, err := api.Databases.Create(ctx, &godo.DatabaseCreateRequest{Name: name, EngineSlug: engine, SizeSlug: size, Region: "tor1", NumNodes: 1, PrivateNetworkUUID: v.ID})
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	full, cache := create("full-pg", "pg", "db-s-2vcpu-4gb"), create("cache", "valkey", "db-s-1vcpu-2gb")
	// shared-pg has 97 connections for pools (4 GiB: 25 per GiB less 3);
	// another team's pool takes 50 of them.
	shared := create("shared-pg", "pg", "db-s-2vcpu-4gb")
	other, _, err := api.VPCs.Create(ctx, &godo.VPCCreateRequest{Name: "other", RegionSlug: "tor1"})
	if err != nil {
		t.Fatal(err)
	}
	cluster, _, err := api.Kubernetes.Create(ctx, &godo.KubernetesClusterCreateRequest{Name: "app", RegionSlug: "tor1", VersionSlug: "latest", VPCUUID: v.ID,
		NodePools: []*godo.KubernetesNodePoolCreateRequest{{Name: "p", Size: "s-2vcpu-4gb", Count: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, db := range []*godo.Database{full, cache, shared} {
		attWaitFor(t, "database "+db.Name+" to be online", func() bool {
			got, _, err := api.Databases.Get(ctx, db.ID)
			return err == nil && got.Status == "online"
		})
	}
	attWaitFor(t, "the app cluster to be running", func() bool {
		got, _, err := api.Kubernetes.Get(ctx, cluster.ID)
		return err == nil && got.Status != nil && got.Status.State == godo.KubernetesClusterStatusRunning && got.NodePools[0].Nodes != nil &&
			!strings.Contains(srv.Inventory().String(), "status=provisioning")
	})
	var rules []*godo.DatabaseFirewallRule
	for i := range maxFirewallRules {
		rules = append(rules, &godo.DatabaseFirewallRule{Type: "ip_addr", Value: fmt.Sprintf("10.9.%d.%d", i/250, i%250+1)})
	}
	if _, err := api.Databases.UpdateFirewallRules(ctx, full.ID, &godo.DatabaseUpdateFirewallRulesRequest{Rules: rules}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := api.Databases.CreatePool(ctx, shared.ID, &godo.DatabaseCreatePoolRequest{Name: "reports", Mode: "transaction", Size: 50, Database: "defaultdb", User: "doadmin"}); err != nil {
		t.Fatal(err)
	}
	before := takeSnapshot(srv)

	attachment := func(dbID, extra string) string {
		return providerBlock(srv) + fmt.Sprintf(`
resource "attach_database_attachment" "test" {
  database_id = %q
  cluster_id  = %q
  %s
}
`, dbID, cluster.ID, extra)
	}
	stackIn := func(vpc, dbID, extra string) string {
		return lcStack(srv, "refx", "tor1", vpc+lcCluster("")+fmt.Sprintf(`
  databases = {
    shared = {
      existing_id = %q
      %s
    }
  }
`, dbID, extra))
	}
	stack := func(dbID, extra string) string { return stackIn(fmt.Sprintf("\n  vpc_id = %q", v.ID), dbID, extra) }
	cases := []struct{ name, config, want string }{
		{"attachment: a user on valkey", attachment(cache.ID, `user = "app"`),
			`Users not supported on Valkey.*with attach_database_attachment\.test.*user\s+= "app".*Database cache is valkey\. User management is not supported for Caching or Valkey clusters.*Remove the user, or use a PostgreSQL, MySQL or MongoDB database`},
		{"attachment: a pool on valkey", attachment(cache.ID, `pool = { name = "app", size = 5 }`),
			`Not supported by the engine.*database cache is valkey: PgBouncer pools exist for pg only; remove pool`},
		{"attachment: the 101st rule", attachment(full.ID, `user = "app"`),
			`Too many firewall rules.*cluster_id\s+=.*Database full-pg would have 101 firewall rules \(1 for the cluster \(its k8s rule\), 100 already on the database from outside this configuration\); DigitalOcean allows 100 per database.*Remove a rule from the database's firewall`},
		// Issue 12: engine settings of an attached database are checked against its engine.
		{"stack: a valkey setting on an attached valkey, out of range", stack(cache.ID, `config = { valkey_timeout = "-1" }`),
			`Engine setting value refused.*config\["valkey_timeout"\] = "-1".*an integer from 0 to 31536000.*Attribute:\s+databases\["shared"\]\.config\["valkey_timeout"\]`},
		{"stack: a pg setting on an attached valkey", stack(cache.ID, `config = { work_mem = "16" }`),
			`Unknown engine setting.*"work_mem" is not a valkey setting.*Attribute:\s+databases\["shared"\]\.config\["work_mem"\]`},
		{"stack: users on an attached valkey", stack(cache.ID, `users = ["app"]`),
			`Users not supported on Valkey.*User management is not supported for Caching or Valkey clusters.*Attribute:\s+databases\["shared"\]\.users`},
		{"stack: the cluster's rule on a full database", stack(full.ID, ``),
			`Too many firewall rules.*Database shared \(` + full.ID + `\) would have 101 firewall rules.*100 already on the database from outside this configuration.*Attribute:\s+databases\["shared"\]\.trusted_sources`},
		{"stack: a trusted source on a full database", stack(full.ID, `trusted_sources = [{ type = "ip_addr", value = "10.9.0.1" }, { type = "ip_addr", value = "192.168.7.7" }]`),
			// 10.9.0.1 is already there: 2 configured, 1 cluster, 99 others.
			`Too many firewall rules.*would have 102 firewall rules \(2 configured trusted sources, 1 for the cluster \(its k8s rule\), 99 already on the database`},
		// Issue 10: the connection budget counts the pools others made.
		{"attachment: a pool over the budget", attachment(shared.ID, `pool = { name = "app", size = 48 }`),
			`Connection pool over the database's budget.*Database shared-pg \(db-s-2vcpu-4gb\) has 97 backend connections.*these pools would take 98: app 48, 50 by pools created outside this configuration.*Lower pool\.size to at most 47.*db-s-4vcpu-8gb allows 197.*Attribute:\s+pool\.size`},
		{"stack: pools over the budget of an attached database", stack(shared.ID, `pools = { app = { size = 40 }, batch = { size = 8 } }`),
			`Connection pools over the database's budget.*Database shared \(db-s-2vcpu-4gb\) has 97 backend connections.*would take 98: app 40, batch 8, 50 by pools created outside this configuration.*Lower the pool sizes to total at most 47.*Attribute:\s+databases\["shared"\]\.pools\["batch"\]\.size`},
		// Issue 10: a database on another VPC than the cluster's.
		{"stack: an attached database on another VPC", stackIn(fmt.Sprintf("\n  vpc_id = %q", other.ID), shared.ID, ``),
			`Attached database on another VPC.*Database shared-pg \(` + shared.ID + `\) is on VPC ` + v.ID + `, and the stack's cluster is on VPC ` + other.ID + `.*Set vpc_id = "` + v.ID + `".*Attribute:\s+databases\["shared"\]\.existing_id`},
		{"stack: an attached database and a VPC of the stack's own", stackIn("", shared.ID, ``),
			`Attached database on another VPC.*is on VPC ` + v.ID + `, and the stack creates a VPC of its own \(vpc_id is unset\).*Set vpc_id = "` + v.ID + `".*Attribute:\s+databases\["shared"\]\.existing_id`},
	}
	var steps []resource.TestStep
	for _, c := range cases {
		steps = append(steps, resource.TestStep{
			PreConfig:   func() { requireUnchanged(t, srv, before, c.name) },
			Config:      c.config,
			PlanOnly:    true,
			ExpectError: biPattern(c.want),
		})
	}
	// What DigitalOcean accepts plans: valkey attached without users, pools
	// that fill the budget exactly.
	for _, config := range []string{attachment(cache.ID, ""), stack(cache.ID, ""),
		attachment(shared.ID, `pool = { name = "app", size = 47 }`), stack(shared.ID, `pools = { app = { size = 40 }, batch = { size = 7 } }`)} {
		steps = append(steps, resource.TestStep{
			PreConfig:          func() { requireUnchanged(t, srv, before, "a refused plan") },
			Config:             config,
			PlanOnly:           true,
			ExpectNonEmptyPlan: true,
		})
	}
	resource.Test(t, resource.TestCase{ProtoV6ProviderFactories: testAccProtoV6ProviderFactories, Steps: steps})
	requireUnchanged(t, srv, before, "the valid plans")
	if n := srv.RequestCounts()["GET /v2/databases/{database_cluster_uuid}/firewall"]; n == 0 {
		t.Fatalf("no plan read a firewall, so the rule counts were never checked against DigitalOcean: %v", srv.RequestCounts())
	}
	if n := srv.RequestCounts()["GET /v2/databases/{database_cluster_uuid}/pools"]; n == 0 {
		t.Fatalf("no plan read a database's pools, so the connection budget was never checked against the pools others made: %v", srv.RequestCounts())
	}
}

func requireUnchanged(t *testing.T, srv *emulator.Server, before lcSnapshot, after string) {
	t.Helper()
	if err := before.unchanged(srv); err != nil {
		t.Fatalf("after %s: %v", after, err)
	}
}

// A tag change on a stack whose databases exist plans as an in-place update
// with no warning: DigitalOcean's tag API (POST /v2/tags/{tag}/resources,
// resource_type "database") retags existing databases.
func TestPlanTagChangeOnExistingDatabasesHasNoWarning(t *testing.T) {
	db := func() *databaseModel {
		return &databaseModel{ID: types.StringValue("9cc10173-e9ea-4176-9dbc-a4cee4c4ff30"), ExistingID: types.StringNull(),
			Engine: types.StringValue("pg"), Version: types.StringValue("17")}
	}
	state := &stackModel{Name: types.StringValue("tags"), Tags: []types.String{types.StringValue("team-a")},
		ClusterID: types.StringValue("c1"), Databases: map[string]*databaseModel{"vectors": db()}}
	plan := &stackModel{Name: types.StringValue("tags"), Tags: []types.String{types.StringValue("team-b")},
		ClusterID: types.StringValue("c1"), Databases: map[string]*databaseModel{"vectors": db()}}
	var diags diag.Diagnostics
	p := &planner{plan: plan, config: plan, state: state, diags: &diags}
	p.markRecomputed()
	if len(diags) > 0 {
		var got []string
		for _, d := range diags {
			got = append(got, d.Summary()+": "+d.Detail())
		}
		t.Fatalf("a tag change on existing databases says:\n%s", strings.Join(got, "\n"))
	}
}

// Replicas are retagged and resized in place (a replica's uuid is a
// database id to the Tags API and to /resize): a tag change says nothing
// about them, and a size change keeps the replica's id known; a region
// change replaces it (its id is unknown until the apply).
func TestPlanReplicaTagAndSizeChangesAreInPlace(t *testing.T) {
	db := func(tag, size, region string) *databaseModel {
		return &databaseModel{ID: types.StringValue("9cc10173-e9ea-4176-9dbc-a4cee4c4ff30"), ExistingID: types.StringNull(),
			Engine: types.StringValue("pg"), Version: types.StringValue("17"),
			Replicas: map[string]*replicaModel{"dr": {ID: types.StringValue("r1"), PrivateHost: types.StringValue("h"),
				Size: types.StringValue(size), Region: types.StringValue(region)}}}
	}
	status := &stack.Status{Databases: map[string]*stack.DatabaseStatus{"vectors": {ID: "d1",
		Replicas: map[string]*stack.ReplicaStatus{"dr": {ID: "r1", Name: "tags-vectors-dr"}}}}}
	for _, tc := range []struct {
		name, size, region string
		replaced           bool
	}{
		{"tags only", "db-s-1vcpu-2gb", "nyc3", false},
		{"size", "db-s-2vcpu-4gb", "nyc3", false},
		{"region", "db-s-1vcpu-2gb", "ams3", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			state := &stackModel{Name: types.StringValue("tags"), Tags: []types.String{types.StringValue("team-a")},
				ClusterID: types.StringValue("c1"), Databases: map[string]*databaseModel{"vectors": db("team-a", "db-s-1vcpu-2gb", "nyc3")}}
			plan := &stackModel{Name: types.StringValue("tags"), Tags: []types.String{types.StringValue("team-b")},
				ClusterID: types.StringValue("c1"), Databases: map[string]*databaseModel{"vectors": db("team-b", tc.size, tc.region)}}
			var diags diag.Diagnostics
			p := &planner{plan: plan, config: plan, state: state, status: status, diags: &diags}
			p.markRecomputed()
			if len(diags) > 0 {
				t.Fatalf("unexpected diagnostic: %s: %s", diags[0].Summary(), diags[0].Detail())
			}
			if got := plan.Databases["vectors"].Replicas["dr"].ID.IsUnknown(); got != tc.replaced {
				t.Fatalf("replica id unknown = %v, want %v", got, tc.replaced)
			}
		})
	}
}
