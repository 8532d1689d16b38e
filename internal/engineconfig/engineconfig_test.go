package engineconfig

import (
	"regexp"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		engine, name, value string
		want                any
		err                 string
	}{
		{"pg", "max_connections", "100", int64(100), ""},
		{"pg", "max_connections", "24", nil, "out of range: an integer, 25 or more"},
		{"pg", "max_connections", "1.5", nil, "is not an integer"},
		{"pg", "work_mem", "1025", nil, "an integer from 1 to 1024"},
		{"pg", "shared_buffers_percentage", "25.5", 25.5, ""},
		{"pg", "jit", "yes", nil, `a boolean ("true" or "false")`},
		{"pg", "jit", "true", true, ""},
		{"pg", "synchronous_replication", "quorum", "quorum", ""},
		{"pg", "synchronous_replication", "on", nil, `one of "off", "quorum"`},
		{"pg", "pgbouncer", `{"min_pool_size": 5}`, map[string]any{"min_pool_size": int64(5)}, ""},
		{"pg", "pgbouncer", `{"min_pool": 5}`, nil, `"min_pool" is not a setting of pgbouncer`},
		{"pg", "pgbouncer", `{"min_pool_size": -1}`, nil, "pgbouncer.min_pool_size: -1 is out of range"},
		{"pg", "pgbouncer", `{"ignore_startup_parameters": ["search_path"]}`, map[string]any{"ignore_startup_parameters": []any{"search_path"}}, ""},
		{"pg", "pgbouncer", `{"ignore_startup_parameters": ["x"]}`, nil, "item 0"},
		{"mysql", "innodb_flush_neighbors", "1", int64(1), ""},
		{"mysql", "innodb_flush_neighbors", "3", nil, "one of 0, 1, 2"},
		{"mysql", "sql_mode", "ANSI,TRADITIONAL", "ANSI,TRADITIONAL", ""},
		{"mysql", "sql_mode", "ansi", nil, "matching"},
	} {
		s, ok := Lookup(tc.engine, tc.name)
		if !ok {
			t.Fatalf("%s has no setting %s", tc.engine, tc.name)
		}
		got, err := s.Parse(tc.value)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s %s=%q: error %v, want one containing %q", tc.engine, tc.name, tc.value, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s %s=%q: %v", tc.engine, tc.name, tc.value, err)
			continue
		}
		if !sameValue(tc.want, got) || !sameValue(got, tc.want) {
			t.Errorf("%s %s=%q: %#v, want %#v", tc.engine, tc.name, tc.value, got, tc.want)
		}
	}
}

func TestCheckDecodedJSON(t *testing.T) {
	s, _ := Lookup("pg", "max_connections")
	if err := s.Check(float64(100)); err != nil {
		t.Fatal(err)
	}
	if err := s.Check("100"); err == nil {
		t.Fatal("a string passed as an integer")
	}
	if err := s.Check(100.5); err == nil {
		t.Fatal("100.5 passed as an integer")
	}
}

func TestSame(t *testing.T) {
	wm, _ := Lookup("pg", "work_mem")
	if !wm.Same("16", "16") || wm.Same("16", "17") {
		t.Fatal("work_mem comparison wrong")
	}
	sb, _ := Lookup("pg", "shared_buffers_percentage")
	if !sb.Same("25.0", "25") {
		t.Fatal(`"25.0" and 25 differ`)
	}
	pb, _ := Lookup("pg", "pgbouncer")
	if !pb.Same(`{"min_pool_size": 5}`, `{"min_pool_size":5,"server_lifetime":3600}`) {
		t.Fatal("fields the configuration leaves out caused a difference")
	}
	if pb.Same(`{"min_pool_size": 5}`, `{"min_pool_size":6}`) {
		t.Fatal("a changed field went unseen")
	}
}

func TestClose(t *testing.T) {
	got := Close("pg", "max_conections")
	if len(got) == 0 || got[0] != "max_connections" {
		t.Fatalf("Close(max_conections) = %v", got)
	}
	if got := Close("pg", "zzzzzzzz"); len(got) != 0 {
		t.Fatalf("Close(zzzzzzzz) = %v", got)
	}
}

func TestEveryEngineHasSettings(t *testing.T) {
	for _, e := range []string{"pg", "mysql", "valkey", "kafka", "opensearch", "mongodb"} {
		if len(Settings(e)) == 0 {
			t.Errorf("%s has no settings", e)
		}
		for _, s := range Settings(e) {
			if s.Pattern != "" {
				if _, err := regexp.Compile(s.Pattern); err != nil {
					t.Errorf("%s %s: pattern %s does not compile: %v", e, s.Name, s.Pattern, err)
				}
			}
			if s.Default == "" {
				continue
			}
			if _, err := s.Parse(Format(mustJSON(t, s.Default))); err != nil {
				t.Errorf("%s %s: spec default %s does not validate: %v", e, s.Name, s.Default, err)
			}
		}
	}
}

func mustJSON(t *testing.T, s string) any {
	t.Helper()
	v, err := parseLoose(Setting{Type: Array}, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
