package provider

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/attach-labs/terraform-provider-attach/internal/stack"
)

// Fuzz targets for the import-id parsers of the three importable resources.
// Each checks the parser against an independent, byte-by-byte oracle of the
// valid shape: it never panics, accepts exactly the valid ids, and what it
// accepts round-trips (the parts joined give the id back).

func FuzzAttachmentImportID(f *testing.F) {
	for _, seed := range []string{
		"9cc10173-e9ea-4176-9dbc-a4cee4c4ff30:bd5f5959-5e1e-4205-a714-a914373942af",
		"9CC10173-E9EA-4176-9DBC-A4CEE4C4FF30:bd5f5959-5e1e-4205-a714-a914373942af",
		"9cc10173-e9ea-4176-9dbc-a4cee4c4ff30",
		"9cc10173-e9ea-4176-9dbc-a4cee4c4ff30:bd5f5959-5e1e-4205-a714-a914373942af:x",
		"9cc10173-e9ea-4176-9dbc-a4cee4c4ff30 : bd5f5959-5e1e-4205-a714-a914373942af",
		":", "", "acc", "vectors:cluster",
		"9cc10173-e9ea-4176-9dbc-a4cee4c4ff30:bd5f5959-5e1e-4205-a714-a914373942af\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, id string) {
		db, cluster, err := parseAttachmentImportID(id)
		parts := strings.Split(id, ":")
		valid := len(parts) == 2 && isLowerUUID(parts[0]) && isLowerUUID(parts[1])
		if (err == nil) != valid {
			t.Fatalf("parseAttachmentImportID(%q): err = %v, but the id is valid = %v", id, err, valid)
		}
		if err != nil {
			if db != "" || cluster != "" || !strings.Contains(err.Error(), "<database_id>:<cluster_id>") {
				t.Fatalf("rejecting %q returned parts %q, %q or an unhelpful error: %v", id, db, cluster, err)
			}
			return
		}
		if db+":"+cluster != id {
			t.Fatalf("%q parsed to %q and %q, which do not join back", id, db, cluster)
		}
	})
}

func FuzzReplicaImportID(f *testing.F) {
	for _, seed := range []string{
		"9cc10173-e9ea-4176-9dbc-a4cee4c4ff30:vectors-dr",
		"9cc10173-e9ea-4176-9dbc-a4cee4c4ff30:Vectors-DR",
		"9cc10173-e9ea-4176-9dbc-a4cee4c4ff30:vectors dr",
		"9cc10173-e9ea-4176-9dbc-a4cee4c4ff30:",
		"9cc10173-e9ea-4176-9dbc-a4cee4c4ff30:a:b",
		"9cc10173-e9ea-4176-9dbc-a4cee4c4ff30:vectors-",
		"9cc10173-e9ea-4176-9dbc-a4cee4c4ff30:" + strings.Repeat("a", 64),
		"not-a-uuid:vectors-dr", "", ":",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, id string) {
		db, name, err := parseReplicaImportID(id)
		dbPart, namePart, ok := strings.Cut(id, ":")
		valid := ok && isLowerUUID(dbPart) && isDOClusterName(namePart, 63)
		if (err == nil) != valid {
			t.Fatalf("parseReplicaImportID(%q): err = %v, but the id is valid = %v", id, err, valid)
		}
		if err != nil {
			if db != "" || name != "" || !strings.Contains(err.Error(), "<database_id>:<replica_name>") {
				t.Fatalf("rejecting %q returned parts %q, %q or an unhelpful error: %v", id, db, name, err)
			}
			return
		}
		if db+":"+name != id {
			t.Fatalf("%q parsed to %q and %q, which do not join back", id, db, name)
		}
	})
}

func FuzzStackImportID(f *testing.F) {
	const cluster, db, db2, vpc, pool = "bd5f5959-5e1e-4205-a714-a914373942af", "9cc10173-e9ea-4176-9dbc-a4cee4c4ff30",
		"0b7e6f1c-2d3a-4e5f-8a9b-0c1d2e3f4a5b", "5f0e3a8c-6b1d-4c2e-9f7a-8b9c0d1e2f3a", "7d6c5b4a-3f2e-4d1c-8b0a-9f8e7d6c5b4a"
	for _, seed := range []string{
		"ml-prod", "acc", "ML-Prod", "ml prod", "ml-", "-ml", "m", "ml_prod",
		strings.Repeat("a", 40), strings.Repeat("a", 41), "ml-prod\n", "élan",
		// By ids.
		"ml-prod,cluster=" + cluster,
		"ml-prod,cluster=" + cluster + ",database.vectors=" + db,
		"ml-prod,cluster=" + cluster + ",database.vectors=" + db + ",database.cache=" + db2 + ",vpc=" + vpc + ",system_pool=pool-main,gpu_pool.h100=" + pool,
		"ml-prod,database.vectors=" + db + ",cluster=" + cluster,
		"ml-prod,database.vectors=" + db,
		"ml-prod,vpc=" + vpc,
		"ml-prod,database.vectors=" + db + ",system_pool=pool-main",
		"ml-prod,cluster=" + cluster + ",cluster=" + cluster,
		"ml-prod,cluster=" + cluster + ",database.a=" + db + ",database.bb=" + db,
		"ml-prod,cluster=" + cluster + ",database.vectors=" + db + ",database.vectors=" + db2,
		"ml-prod,cluster=" + cluster + ",system_pool=pool-main,gpu_pool.h100=pool-main",
		"ml-prod,cluster=" + cluster + ",gpu_pool.system=h100",
		"ml-prod,cluster=" + cluster + ",gpu_pool.H100=h100",
		"ml-prod,cluster=" + strings.ToUpper(cluster),
		"ml-prod,cluster=" + cluster + ",",
		"ml-prod,,cluster=" + cluster,
		"ml-prod, cluster=" + cluster,
		"ml-prod,cluster",
		"ml-prod,cluster=",
		"ml-prod,cluster=" + cluster + ",database.=" + db,
		"ml-prod,cluster=" + cluster + ",node_pool=x",
		"ml-prod,cluster=" + cluster + ",system_pool=Pool_Main",
		"ml-prod,cluster=" + cluster + ",system_pool=" + strings.Repeat("p", 64),
		",cluster=" + cluster,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		id, err := parseStackImportID(raw)
		valid := isStackImportID(raw)
		if (err == nil) != valid {
			t.Fatalf("parseStackImportID(%q): err = %v, but the id is valid = %v", raw, err, valid)
		}
		if err != nil {
			// Every refusal names the fix: the shape of both forms.
			if id.Name != "" || id.IDs != nil || !strings.Contains(err.Error(), stackImportGrammar) || !strings.Contains(err.Error(), "by its name") {
				t.Fatalf("rejecting %q returned %+v or an unhelpful error: %v", raw, id, err)
			}
			return
		}
		// The name-only form is the name, and the configuration's check
		// agrees: a name import accepts is one the schema accepts.
		if !strings.Contains(raw, ",") {
			if id.IDs != nil || id.Name != raw || !stackNamePattern.MatchString(raw) || validStackName(raw) != nil {
				t.Fatalf("%q parsed to %+v", raw, id)
			}
			return
		}
		// What it accepts round-trips: its canonical form parses to the
		// same ids, holds the same parts, and is stable.
		canon := id.String()
		again, err := parseStackImportID(canon)
		if err != nil {
			t.Fatalf("%q parsed, but its canonical form %q does not: %v", raw, canon, err)
		}
		if again.String() != canon || again.Name != id.Name || !sameAdoptIDs(*again.IDs, *id.IDs) {
			t.Fatalf("%q -> %q -> %+v: not the same ids", raw, canon, again)
		}
		got, want := strings.Split(canon, ","), strings.Split(raw, ",")
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("%q's canonical form %q has other parts", raw, canon)
		}
	})
}

func sameAdoptIDs(a, b stack.AdoptIDs) bool {
	return a.ClusterID == b.ClusterID && a.VPCID == b.VPCID && a.SystemPool == b.SystemPool &&
		maps.Equal(a.Databases, b.Databases) && maps.Equal(a.GPUPools, b.GPUPools)
}

// isStackImportID is the oracle for stack import ids: a stack name alone,
// or the name and comma-separated parts, each once (cluster= among them when
// a pool is mapped): cluster=<uuid>, vpc=<uuid>, database.<key>=<uuid> (an id under one key
// only), system_pool=<pool ref>, gpu_pool.<key>=<pool ref> (key not
// "system"), no ref twice.
func isStackImportID(s string) bool {
	parts := strings.Split(s, ",")
	if !isDOClusterName(parts[0], 40) {
		return false
	}
	if len(parts) == 1 {
		return true
	}
	seen, dbIDs, refs := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, p := range parts[1:] {
		eq := strings.IndexByte(p, '=')
		if eq < 0 {
			return false
		}
		k, v := p[:eq], p[eq+1:]
		if seen[k] {
			return false
		}
		seen[k] = true
		switch {
		case k == "cluster" || k == "vpc":
			if !isLowerUUID(v) {
				return false
			}
		case k == "system_pool":
			if !isPoolRef(v) || refs[v] {
				return false
			}
			refs[v] = true
		case len(k) > len("database.") && k[:len("database.")] == "database.":
			if !isKey(k[len("database."):]) || !isLowerUUID(v) || dbIDs[v] {
				return false
			}
			dbIDs[v] = true
		case len(k) > len("gpu_pool.") && k[:len("gpu_pool.")] == "gpu_pool.":
			key := k[len("gpu_pool."):]
			if !isKey(key) || key == "system" || !isPoolRef(v) || refs[v] {
				return false
			}
			refs[v] = true
		default:
			return false
		}
	}
	poolParts := seen["system_pool"] || slices.ContainsFunc(parts[1:], func(p string) bool { return strings.HasPrefix(p, "gpu_pool.") })
	return seen["cluster"] || !poolParts
}

// isKey is the oracle for database and GPU pool keys: 2 to 20 lowercase
// letters, digits and dashes, starting with a letter and ending with a
// letter or digit.
func isKey(s string) bool {
	if len(s) < 2 || len(s) > 20 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter, digit := c >= 'a' && c <= 'z', c >= '0' && c <= '9'
		switch {
		case i == 0 && !letter:
			return false
		case i == len(s)-1 && !letter && !digit:
			return false
		case !letter && !digit && c != '-':
			return false
		}
	}
	return true
}

// isPoolRef is the oracle for a node pool named in an import id: 1 to 63
// lowercase letters, digits and dashes, starting and ending with a letter
// or digit.
func isPoolRef(s string) bool {
	if len(s) < 1 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (c != '-' || i == 0 || i == len(s)-1) {
			return false
		}
	}
	return true
}

// isLowerUUID is the oracle for DigitalOcean ids: 8-4-4-4-12 lowercase hex.
func isLowerUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// isDOClusterName is the oracle for stack, database and replica names: 3 to
// maxLen lowercase letters, digits and dashes, starting with a letter and
// ending with a letter or digit.
func isDOClusterName(s string, maxLen int) bool {
	if len(s) < 3 || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter, digit := c >= 'a' && c <= 'z', c >= '0' && c <= '9'
		switch {
		case i == 0 && !letter:
			return false
		case i == len(s)-1 && !letter && !digit:
			return false
		case !letter && !digit && c != '-':
			return false
		}
	}
	return true
}
