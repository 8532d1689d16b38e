package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/digitalocean/godo"
)

// putRulesRaw replaces a cluster's rules with the request shape the spec
// gives (type and value only).
func putRulesRaw(c *godo.Client, id string, rules []map[string]string) error {
	r, _ := c.NewRequest(ctx, http.MethodPut, "/v2/databases/"+id+"/firewall", map[string]any{"rules": rules})
	_, err := c.Do(ctx, r, nil)
	return err
}

func ipRules(n int) []map[string]string {
	out := make([]map[string]string, n)
	for i := range out {
		out[i] = map[string]string{"type": "ip_addr", "value": fmt.Sprintf("198.51.%d.%d", i/250, i%250+1)}
	}
	return out
}

func TestFirewallRefusesIPv6(t *testing.T) {
	_, c := startTest(t, Config{})
	req := dbRequest("v6-create", "pg")
	req.Rules = []*godo.DatabaseCreateFirewallRule{{Type: "ip_addr", Value: "203.0.113.0/24"}, {Type: "ip_addr", Value: "2001:db8::/32"}}
	_, _, err := c.Databases.Create(ctx, req)
	wantDBError(t, err, http.StatusUnprocessableEntity, "rules[1].value", "2001:db8::/32", "You cannot add IPv6 addresses as trusted sources", "IPv4")

	req = dbRequest("v6-walled", "pg")
	req.Rules = []*godo.DatabaseCreateFirewallRule{{Type: "ip_addr", Value: "203.0.113.0/24"}}
	db := createVisibleDB(t, c, req)
	for _, v6 := range []string{"2001:db8::1", "2001:db8::/48", "::ffff:203.0.113.9", "fe80::1%eth0"} {
		err := putRulesRaw(c, db.ID, []map[string]string{{"type": "ip_addr", "value": "203.0.113.0/24"}, {"type": "ip_addr", "value": v6}})
		wantDBError(t, err, http.StatusUnprocessableEntity, "rules[1].value", v6, "You cannot add IPv6 addresses as trusted sources")
	}
	if rules, _, _ := c.Databases.GetFirewallRules(ctx, db.ID); len(rules) != 1 || rules[0].Value != "203.0.113.0/24" {
		t.Fatalf("a refused PUT changed the rules: %+v", rules)
	}
	// The IPv4 neighbours are accepted.
	if err := putRulesRaw(c, db.ID, []map[string]string{{"type": "ip_addr", "value": "203.0.113.9"}, {"type": "ip_addr", "value": "198.51.100.0/24"}}); err != nil {
		t.Fatal(err)
	}
}

func TestFirewallRuleLimit(t *testing.T) {
	_, c := startTest(t, Config{})
	req := dbRequest("too-many", "pg")
	for _, r := range ipRules(101) {
		req.Rules = append(req.Rules, &godo.DatabaseCreateFirewallRule{Type: r["type"], Value: r["value"]})
	}
	_, _, err := c.Databases.Create(ctx, req)
	wantDBError(t, err, http.StatusUnprocessableEntity, "rules lists 101 rules", "limited to 100")

	req.Rules = req.Rules[:100]
	db := createVisibleDB(t, c, req)
	if rules, _, err := c.Databases.GetFirewallRules(ctx, db.ID); err != nil || len(rules) != 100 {
		t.Fatalf("create with 100 rules: %v %d", err, len(rules))
	}
	wantDBError(t, putRulesRaw(c, db.ID, ipRules(101)), http.StatusUnprocessableEntity, "rules lists 101 rules", "limited to 100", "CIDR")
	if err := putRulesRaw(c, db.ID, ipRules(100)[1:]); err != nil {
		t.Fatalf("99 rules: %v", err)
	}
	if err := putRulesRaw(c, db.ID, ipRules(100)); err != nil {
		t.Fatalf("100 rules: %v", err)
	}
}

func TestPoolNameLength(t *testing.T) {
	_, c := startTest(t, Config{})
	pg := createDB(t, c, dbRequest("pool-names", "pg"))
	waitDBStatus(t, c, pg.ID, "online")
	pool := func(name string) error {
		_, _, err := c.Databases.CreatePool(ctx, pg.ID, &godo.DatabaseCreatePoolRequest{Name: name, Mode: "transaction", Size: 1, Database: "defaultdb"})
		return err
	}
	for _, name := range []string{"ab", "a", strings.Repeat("p", 61)} {
		wantDBError(t, pool(name), http.StatusUnprocessableEntity, "name", fmt.Sprintf("%d characters", len(name)), "between 3 and 60")
	}
	for _, name := range []string{"abc", strings.Repeat("p", 60)} {
		if err := pool(name); err != nil {
			t.Fatalf("pool %q: %v", name, err)
		}
	}
	pools, _, err := c.Databases.ListPools(ctx, pg.ID, nil)
	if err != nil || len(pools) != 2 {
		t.Fatalf("pools %v %+v", err, pools)
	}
}

func TestValkeyRefusesUserManagement(t *testing.T) {
	_, c := startTest(t, Config{})
	vk := createDB(t, c, dbRequest("cache-users", "valkey"))
	waitDBStatus(t, c, vk.ID, "online")
	const refusal = "User management is not supported for Caching or Valkey clusters"

	_, _, err := c.Databases.CreateUser(ctx, vk.ID, &godo.DatabaseCreateUserRequest{Name: "app"})
	wantDBError(t, err, http.StatusUnprocessableEntity, refusal, "cache-users", `"default"`)
	_, err = c.Databases.DeleteUser(ctx, vk.ID, "default")
	wantDBError(t, err, http.StatusUnprocessableEntity, refusal, "deleting")
	_, _, err = c.Databases.ResetUserAuth(ctx, vk.ID, "default", &godo.DatabaseResetUserAuthRequest{})
	wantDBError(t, err, http.StatusUnprocessableEntity, refusal, "password")
	r, _ := c.NewRequest(ctx, http.MethodPut, "/v2/databases/"+vk.ID+"/users/default", map[string]any{"settings": map[string]any{}})
	_, err = c.Do(ctx, r, nil)
	wantDBError(t, err, http.StatusUnprocessableEntity, refusal)

	// Reading the single user still works, and nothing changed.
	users, _, err := c.Databases.ListUsers(ctx, vk.ID, nil)
	if err != nil || len(users) != 1 || users[0].Name != "default" {
		t.Fatalf("valkey users %v %+v", err, users)
	}
	if u, _, err := c.Databases.GetUser(ctx, vk.ID, "default"); err != nil || u.Password != users[0].Password {
		t.Fatalf("valkey user %v %+v", err, u)
	}

	// The neighbour engine manages users.
	pg := createDB(t, c, dbRequest("sql-users", "pg"))
	waitDBStatus(t, c, pg.ID, "online")
	if _, _, err := c.Databases.CreateUser(ctx, pg.ID, &godo.DatabaseCreateUserRequest{Name: "app"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Databases.ResetUserAuth(ctx, pg.ID, "app", &godo.DatabaseResetUserAuthRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Databases.DeleteUser(ctx, pg.ID, "app"); err != nil {
		t.Fatal(err)
	}
}

func TestMongoUserCreatesOneAtATime(t *testing.T) {
	srv, c := startTest(t, Config{TimeScale: 1})
	clk := newHandClock(srv)
	mg := createDB(t, c, dbRequest("docs", "mongodb"))
	pg := createDB(t, c, dbRequest("rows", "pg"))
	clk.advance(time.Hour)
	user := func(id, name string) error {
		_, _, err := c.Databases.CreateUser(ctx, id, &godo.DatabaseCreateUserRequest{Name: name})
		return err
	}
	if err := user(mg.ID, "first"); err != nil {
		t.Fatal(err)
	}
	wantDBError(t, user(mg.ID, "second"), http.StatusInternalServerError, "docs", "one at a time")
	status, body := rawPost(t, srv, "/v2/databases/"+mg.ID+"/users", `{"name":"second"}`)
	if status != http.StatusInternalServerError || body.ID != "server_error" {
		t.Fatalf("parallel create answered %d %+v", status, body)
	}
	clk.advance(4 * time.Second)
	wantStatus(t, user(mg.ID, "second"), http.StatusInternalServerError)
	clk.advance(time.Second)
	if err := user(mg.ID, "second"); err != nil {
		t.Fatalf("5 s after the first create: %v", err)
	}
	users, _, _ := c.Databases.ListUsers(ctx, mg.ID, nil)
	if len(users) != 3 {
		t.Fatalf("users %+v, want doadmin, first, second", users)
	}
	// Other engines take users back to back.
	for _, name := range []string{"a1", "a2", "a3"} {
		if err := user(pg.ID, name); err != nil {
			t.Fatalf("pg user %s: %v", name, err)
		}
	}

	// Ideal turns the behaviour off.
	_, c2 := startTest(t, Config{Realism: Realism{Ideal: true}})
	mg2 := createDB(t, c2, dbRequest("docs", "mongodb"))
	waitDBStatus(t, c2, mg2.ID, "online")
	for _, name := range []string{"first", "second"} {
		if _, _, err := c2.Databases.CreateUser(ctx, mg2.ID, &godo.DatabaseCreateUserRequest{Name: name}); err != nil {
			t.Fatalf("ideal %s: %v", name, err)
		}
	}
}

func TestEverOpenDatabases(t *testing.T) {
	srv, c := startTest(t, Config{})
	createVisibleDB(t, c, dbRequest("open-from-birth", "pg")) // no rules
	req := dbRequest("walled", "pg")
	req.Rules = []*godo.DatabaseCreateFirewallRule{{Type: "ip_addr", Value: "10.10.0.0/16"}}
	walled := createVisibleDB(t, c, req)
	req = dbRequest("always-walled", "mysql")
	req.Rules = []*godo.DatabaseCreateFirewallRule{{Type: "tag", Value: "app"}}
	always := createVisibleDB(t, c, req)
	if got := srv.EverOpenDatabases(); !slices.Equal(got, []string{"open-from-birth"}) {
		t.Fatalf("after creates: %v", got)
	}

	// Narrowing keeps a cluster closed; a refused PUT changes nothing.
	if err := putRulesRaw(c, walled.ID, []map[string]string{{"type": "ip_addr", "value": "10.10.1.0/24"}}); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, putRulesRaw(c, always.ID, []map[string]string{{"type": "ip_addr", "value": "2001:db8::1"}}), http.StatusUnprocessableEntity)
	if got := srv.EverOpenDatabases(); !slices.Equal(got, []string{"open-from-birth"}) {
		t.Fatalf("after narrowing: %v", got)
	}
	// An empty set opens it; closing it again does not erase the record.
	if err := putRulesRaw(c, walled.ID, []map[string]string{}); err != nil {
		t.Fatal(err)
	}
	if err := putRulesRaw(c, walled.ID, []map[string]string{{"type": "ip_addr", "value": "10.10.1.0/24"}}); err != nil {
		t.Fatal(err)
	}
	want := []string{"open-from-birth", "walled"}
	if got := srv.EverOpenDatabases(); !slices.Equal(got, want) {
		t.Fatalf("after emptying: %v, want %v", got, want)
	}

	// The control API's inventory answer carries the record.
	resp, err := http.Get(srv.URL + "/_emulator/inventory")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var inv struct {
		Items             []Item   `json:"items"`
		EverOpenDatabases []string `json:"ever_open_databases"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&inv); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(inv.EverOpenDatabases, want) || len(inv.Items) == 0 {
		t.Fatalf("control API inventory: %+v", inv)
	}

	srv.Reset()
	if got := srv.EverOpenDatabases(); len(got) != 0 {
		t.Fatalf("after reset: %v", got)
	}
}
