package emulator

import (
	"net/http"
	"strings"
	"testing"

	"github.com/digitalocean/godo"
)

// patchConfig sends PATCH /v2/databases/{id}/config by hand: godo's typed
// config structs lack some of the spec's settings (pg max_connections).
func patchConfig(c *godo.Client, id string, config map[string]any) (*godo.Response, error) {
	r, err := c.NewRequest(ctx, http.MethodPatch, "/v2/databases/"+id+"/config", map[string]any{"config": config})
	if err != nil {
		return nil, err
	}
	return c.Do(ctx, r, nil)
}

func getConfig(t *testing.T, c *godo.Client, id string) map[string]any {
	t.Helper()
	r, _ := c.NewRequest(ctx, http.MethodGet, "/v2/databases/"+id+"/config", nil)
	var out struct {
		Config map[string]any `json:"config"`
	}
	if _, err := c.Do(ctx, r, &out); err != nil {
		t.Fatalf("get config of %s: %v", id, err)
	}
	return out.Config
}

// tourDatabaseConfig reads and patches engine settings of a pg and a
// valkey cluster (the contract tour holds them to the spec).
func tourDatabaseConfig(t *testing.T, c *godo.Client, srv *Server) {
	pg := createVisibleDB(t, c, dbRequest("tour-config-pg", "pg"))
	vk := createVisibleDB(t, c, dbRequest("tour-config-vk", "valkey"))
	if _, _, err := c.Databases.GetPostgreSQLConfig(ctx, pg.ID); err != nil {
		t.Fatal(err)
	}
	resp, err := patchConfig(c, pg.ID, map[string]any{"max_connections": 200, "work_mem": 16, "jit": true, "pgbouncer": map[string]any{"min_pool_size": 5}})
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("patch pg config: %v %v", err, resp)
	}
	wm := 8
	if _, err := c.Databases.UpdatePostgreSQLConfig(ctx, pg.ID, &godo.PostgreSQLConfig{WorkMem: &wm}); err != nil {
		t.Fatal(err)
	}
	_, err = patchConfig(c, pg.ID, map[string]any{"max_connections": 10})
	wantStatus(t, err, http.StatusUnprocessableEntity)
	if _, _, err := c.Databases.GetRedisConfig(ctx, vk.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := patchConfig(c, vk.ID, map[string]any{"valkey_timeout": 600, "valkey_persistence": "rdb"}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{pg.ID, vk.ID} {
		if _, err := c.Databases.Delete(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "tour config databases gone", func() bool {
		for _, it := range srv.Inventory().Items {
			if strings.HasPrefix(it.Kind, "database_") {
				return false
			}
		}
		return true
	})
}

// TestDatabaseConfigDefaultsAndMerge: GET reports the spec's defaults; a
// PATCH changes only the settings it names; nested objects merge.
func TestDatabaseConfigDefaultsAndMerge(t *testing.T) {
	_, c := startTest(t, Config{})
	pg := createVisibleDB(t, c, dbRequest("cfg-pg", "pg"))
	before := getConfig(t, c, pg.ID)
	// Untrimmed spec postgres_advanced_config.yml examples: jit true, max_connections 75.
	if before["jit"] != true || before["max_connections"] != float64(75) {
		t.Fatalf("defaults = %v, want the spec's examples jit true, max_connections 75", before)
	}
	vk := createVisibleDB(t, c, dbRequest("cfg-vk", "valkey"))
	// Spec valkey_advanced_config.valkey_timeout: default 300.
	if got := getConfig(t, c, vk.ID)["valkey_timeout"]; got != float64(300) {
		t.Fatalf("valkey_timeout default = %v, want the spec's 300", got)
	}
	if _, err := patchConfig(c, pg.ID, map[string]any{"max_connections": 120, "pgbouncer": map[string]any{"min_pool_size": 5}}); err != nil {
		t.Fatal(err)
	}
	if _, err := patchConfig(c, pg.ID, map[string]any{"pgbouncer": map[string]any{"server_lifetime": 600}}); err != nil {
		t.Fatal(err)
	}
	after := getConfig(t, c, pg.ID)
	if after["max_connections"] != float64(120) || after["jit"] != true {
		t.Fatalf("after patch: %v", after)
	}
	pb, _ := after["pgbouncer"].(map[string]any)
	if pb["min_pool_size"] != float64(5) || pb["server_lifetime"] != float64(600) {
		t.Fatalf("pgbouncer fields did not merge: %v", pb)
	}
	got, _, err := c.Databases.GetPostgreSQLConfig(ctx, pg.ID)
	if err != nil || got.PgBouncer == nil || *got.PgBouncer.MinPoolSize != 5 {
		t.Fatalf("godo read: %v %+v", err, got)
	}
}

// TestDatabaseConfigRefusals: each bad PATCH is a 422 naming the setting and
// what it accepts, and changes nothing.
func TestDatabaseConfigRefusals(t *testing.T) {
	_, c := startTest(t, Config{})
	pg := createVisibleDB(t, c, dbRequest("cfg-bad-pg", "pg"))
	vk := createVisibleDB(t, c, dbRequest("cfg-bad-vk", "valkey"))
	for _, tc := range []struct {
		id     string
		config map[string]any
		want   []string
	}{
		{pg.ID, map[string]any{"max_conections": 100}, []string{"config.max_conections is not a PostgreSQL setting", "max_connections"}},
		{pg.ID, map[string]any{"max_connections": "lots"}, []string{"config.max_connections", "integer"}},
		{pg.ID, map[string]any{"max_connections": 24}, []string{"config.max_connections", "out of range", "25 or more"}},
		{pg.ID, map[string]any{"work_mem": 2048}, []string{"config.work_mem", "from 1 to 1024"}},
		{pg.ID, map[string]any{"work_mem": 1.5}, []string{"config.work_mem", "integer"}},
		{pg.ID, map[string]any{"synchronous_replication": "on"}, []string{"config.synchronous_replication", `"quorum"`}},
		{pg.ID, map[string]any{"pgbouncer": map[string]any{"min_pool_size": -1}}, []string{"config.pgbouncer", "min_pool_size", "out of range"}},
		{pg.ID, map[string]any{"valkey_timeout": 300}, []string{"config.valkey_timeout is not a PostgreSQL setting"}},
		{vk.ID, map[string]any{"valkey_persistence": "aof"}, []string{"config.valkey_persistence", `"rdb"`}},
		{pg.ID, map[string]any{"work_mem": 16, "max_connections": 1}, []string{"config.max_connections"}},
	} {
		_, err := patchConfig(c, tc.id, tc.config)
		er := wantStatus(t, err, http.StatusUnprocessableEntity)
		for _, w := range tc.want {
			if !strings.Contains(er.Message, w) {
				t.Errorf("%v: message %q lacks %q", tc.config, er.Message, w)
			}
		}
	}
	// The refused PATCH that also named a good setting changed nothing.
	if cfg := getConfig(t, c, pg.ID); cfg["work_mem"] != float64(4) {
		t.Fatalf("a refused PATCH applied work_mem: %v", cfg["work_mem"])
	}
	_, err := patchConfig(c, pg.ID, map[string]any{})
	wantStatus(t, err, http.StatusUnprocessableEntity)
}
