package provider

import (
	"testing"

	"github.com/attach-labs/terraform-provider-attach/internal/stack"
)

// A workload reads <KEY>_DATABASE_URL: it must connect as the app's user
// (the one named like an app db, to that db), never as doadmin, whose URL
// stays under <KEY>_ADMIN_DATABASE_URL. Without users it is the admin's.
func TestConnectionEnvUsesTheAppUser(t *testing.T) {
	const admin = "postgresql://doadmin:adminpw@private-vectors.db.example:25060/defaultdb?sslmode=require"
	st := &stack.Status{Databases: map[string]*stack.DatabaseStatus{
		"vectors": {
			PrivateURI: admin, PrivateHost: "private-vectors.db.example", Port: 25060,
			User: "doadmin", Password: "adminpw", Database: "defaultdb",
			DBs:   []string{"rag", "search"},
			Users: map[string]string{"search": "searchpw", "rag": "ragpw", "analyst": "analystpw"},
		},
		"docs": {
			PrivateURI: "mysql://doadmin:adminpw2@private-docs.db.example:25060/defaultdb?ssl-mode=REQUIRED",
			User:       "doadmin", Password: "adminpw2", Database: "defaultdb",
			Users: map[string]string{"writer": "writerpw", "bot": "botpw"},
		},
		"cache": {
			PrivateURI: "rediss://default:cachepw@private-cache.db.example:25061", User: "default", Password: "cachepw",
		},
	}}
	dbs := map[string]*databaseModel{"vectors": {}, "docs": {}, "cache": {}}
	env := map[string]string{}
	for k, v := range connectionEnv(dbs, st).Elements() {
		env[k] = v.(interface{ ValueString() string }).ValueString()
	}
	for k, want := range map[string]string{
		// The first user named like a db, in sort order: rag (not analyst,
		// which has no db of its name), to its own db.
		"VECTORS_DATABASE_URL":       "postgresql://rag:ragpw@private-vectors.db.example:25060/rag?sslmode=require",
		"VECTORS_USER":               "rag",
		"VECTORS_PASSWORD":           "ragpw",
		"VECTORS_DATABASE":           "rag",
		"VECTORS_ADMIN_DATABASE_URL": admin,
		"VECTORS_SEARCH_PASSWORD":    "searchpw",
		// No user named like a db: the first in sort order, default db.
		"DOCS_DATABASE_URL":       "mysql://bot:botpw@private-docs.db.example:25060/defaultdb?ssl-mode=REQUIRED",
		"DOCS_USER":               "bot",
		"DOCS_ADMIN_DATABASE_URL": "mysql://doadmin:adminpw2@private-docs.db.example:25060/defaultdb?ssl-mode=REQUIRED",
		// No users: the admin's (valkey has only its default user).
		"CACHE_DATABASE_URL":       "rediss://default:cachepw@private-cache.db.example:25061",
		"CACHE_ADMIN_DATABASE_URL": "rediss://default:cachepw@private-cache.db.example:25061",
	} {
		if env[k] != want {
			t.Errorf("%s = %q, want %q", k, env[k], want)
		}
	}
}
