package provider

import (
	"strings"
	"testing"
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
	for _, seed := range []string{
		"ml-prod", "acc", "ML-Prod", "ml prod", "ml-", "-ml", "m", "ml_prod",
		strings.Repeat("a", 40), strings.Repeat("a", 41), "ml-prod\n", "élan",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := validStackName(name)
		valid := isDOClusterName(name, 40)
		if (err == nil) != valid {
			t.Fatalf("validStackName(%q) = %v, but the name is valid = %v", name, err, valid)
		}
		// The import check is the configuration check: a name import
		// accepts is one the schema accepts, and the other way round.
		if stackNamePattern.MatchString(name) != valid {
			t.Fatalf("stackNamePattern disagrees on %q", name)
		}
	})
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
