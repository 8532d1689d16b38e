package stack

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/digitalocean/godo"
)

// User settings: Kafka ACLs, OpenSearch ACLs and the MySQL auth plugin of
// the users the stack creates. They are given at create, changed in place
// (ACLs through PUT /users/{name}, the auth plugin through reset_auth with
// mysql_settings, which also issues a new password, as the official
// provider's digitalocean_database_user does), and read back on refresh so
// that a change made outside Terraform shows as drift. A user whose entry is
// removed has the ACLs the stack granted revoked; its auth plugin stays.

// UserSettings is one user's settings. ACL lists are managed on the engine
// they apply to (KafkaACLs on kafka, OpenSearchACLs on opensearch), exactly
// as listed; MySQLAuthPlugin "" leaves the plugin as DigitalOcean has it.
type UserSettings struct {
	MySQLAuthPlugin string          `json:",omitempty"`
	KafkaACLs       []KafkaACL      `json:",omitempty"`
	OpenSearchACLs  []OpenSearchACL `json:",omitempty"`
}

// KafkaACL grants Permission on the topics matching Topic.
type KafkaACL struct{ Topic, Permission string }

// OpenSearchACL grants Permission on the indexes matching Index.
type OpenSearchACL struct{ Index, Permission string }

// KafkaPermissions and OpenSearchPermissions are the values the API takes
// (spec user_settings.acl[].permission and opensearch_acl[].permission).
var (
	KafkaPermissions      = []string{"admin", "consume", "produce", "produceconsume"}
	OpenSearchPermissions = []string{"deny", "admin", "read", "write", "readwrite"}
	MySQLAuthPlugins      = []string{"mysql_native_password", "caching_sha2_password"}
)

func cloneUserSettings(m map[string]UserSettings) map[string]UserSettings {
	if m == nil {
		return nil
	}
	out := make(map[string]UserSettings, len(m))
	for k, v := range m {
		out[k] = v.normal()
	}
	return out
}

// normal sorts and de-duplicates the ACLs (their order means nothing) into
// fresh slices.
func (u UserSettings) normal() UserSettings {
	out := UserSettings{MySQLAuthPlugin: u.MySQLAuthPlugin}
	if len(u.KafkaACLs) > 0 {
		out.KafkaACLs = slices.Clone(u.KafkaACLs)
		slices.SortFunc(out.KafkaACLs, func(a, b KafkaACL) int {
			return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Permission, b.Permission))
		})
		out.KafkaACLs = slices.Compact(out.KafkaACLs)
	}
	if len(u.OpenSearchACLs) > 0 {
		out.OpenSearchACLs = slices.Clone(u.OpenSearchACLs)
		slices.SortFunc(out.OpenSearchACLs, func(a, b OpenSearchACL) int {
			return cmp.Or(cmp.Compare(a.Index, b.Index), cmp.Compare(a.Permission, b.Permission))
		})
		out.OpenSearchACLs = slices.Compact(out.OpenSearchACLs)
	}
	return out
}

// aclsDiffer reports whether have's ACLs differ from want's on engine.
func aclsDiffer(engine string, want, have UserSettings) bool {
	want, have = want.normal(), have.normal()
	switch engine {
	case "kafka":
		return !slices.Equal(want.KafkaACLs, have.KafkaACLs)
	case "opensearch":
		return !slices.Equal(want.OpenSearchACLs, have.OpenSearchACLs)
	}
	return false
}

// aclRequest is the settings body carrying u's ACLs for engine (nil on
// engines without ACLs). An empty list revokes them all.
func aclRequest(engine string, u UserSettings) *godo.DatabaseUserSettings {
	out := &godo.DatabaseUserSettings{}
	switch engine {
	case "kafka":
		for _, a := range u.KafkaACLs {
			out.ACL = append(out.ACL, &godo.KafkaACL{Topic: a.Topic, Permission: a.Permission})
		}
	case "opensearch":
		for _, a := range u.OpenSearchACLs {
			out.OpenSearchACL = append(out.OpenSearchACL, &godo.OpenSearchACL{Index: a.Index, Permission: a.Permission})
		}
	default:
		return nil
	}
	return out
}

// createUserRequest is the create request for user name, carrying the
// settings wanted for it.
func createUserRequest(spec DatabaseSpec, engine, name string) *godo.DatabaseCreateUserRequest {
	req := &godo.DatabaseCreateUserRequest{Name: name}
	want, ok := spec.UserSettings[name]
	if !ok {
		return req
	}
	if s := aclRequest(engine, want); s != nil && (len(s.ACL) > 0 || len(s.OpenSearchACL) > 0) {
		req.Settings = s
	}
	if want.MySQLAuthPlugin != "" && engine == "mysql" {
		req.MySQLSettings = &godo.DatabaseMySQLUserSettings{AuthPlugin: want.MySQLAuthPlugin}
	}
	return req
}

// observedUserSettings is what DigitalOcean reports of u's settings.
func observedUserSettings(u *godo.DatabaseUser) UserSettings {
	var out UserSettings
	if u.MySQLSettings != nil {
		out.MySQLAuthPlugin = u.MySQLSettings.AuthPlugin
	}
	if s := u.Settings; s != nil {
		for _, a := range s.ACL {
			if a != nil {
				out.KafkaACLs = append(out.KafkaACLs, KafkaACL{Topic: a.Topic, Permission: a.Permission})
			}
		}
		for _, a := range s.OpenSearchACL {
			if a != nil {
				out.OpenSearchACLs = append(out.OpenSearchACLs, OpenSearchACL{Index: a.Index, Permission: a.Permission})
			}
		}
	}
	return out.normal()
}

// recordUserSettings records u's settings when the stack manages them.
func (r *run) recordUserSettings(key string, u *godo.DatabaseUser) {
	if _, managed := r.spec.Databases[key].UserSettings[u.Name]; !managed {
		return
	}
	got := observedUserSettings(u)
	r.update(func(st *Status) {
		d := st.Databases[key]
		if d.UserSettings == nil {
			d.UserSettings = map[string]UserSettings{}
		}
		d.UserSettings[u.Name] = got
	})
}

func (r *run) ensureUserSettingsStep(key string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		spec := r.spec.Databases[key]
		d := view(r, func(st *Status) DatabaseStatus { return *st.Databases[key] })
		for _, name := range sortedKeys(spec.UserSettings) {
			if _, exists := d.Users[name]; !exists {
				continue // not created: the users step said why
			}
			want := spec.UserSettings[name]
			have, known := d.UserSettings[name]
			if !known {
				// Managed from now on (a user created before its entry
				// was added): read what it has.
				u, _, err := r.e.API.Databases.GetUser(ctx, d.ID, name)
				if err != nil {
					return apiErr(fmt.Sprintf("reading user %s of database %s", name, key), err)
				}
				have = observedUserSettings(u)
			}
			if aclsDiffer(d.Engine, want, have) {
				u, _, err := r.e.API.Databases.UpdateUser(ctx, d.ID, name, &godo.DatabaseUpdateUserRequest{Settings: aclRequest(d.Engine, want)})
				if err != nil {
					return apiErr(fmt.Sprintf("setting the ACLs of user %s in database %s", name, key), err)
				}
				have = observedUserSettings(u)
			}
			if want.MySQLAuthPlugin != "" && have.MySQLAuthPlugin != want.MySQLAuthPlugin {
				// DigitalOcean changes the plugin with a password reset:
				// the user gets a new password, recorded like a rotation's.
				u, _, err := r.e.API.Databases.ResetUserAuth(ctx, d.ID, name, &godo.DatabaseResetUserAuthRequest{MySQLSettings: &godo.DatabaseMySQLUserSettings{AuthPlugin: want.MySQLAuthPlugin}})
				if err != nil {
					return apiErr(fmt.Sprintf("changing the auth plugin of user %s in database %s to %s", name, key, want.MySQLAuthPlugin), err)
				}
				have = observedUserSettings(u)
				r.update(func(st *Status) { st.Databases[key].Users[name] = u.Password })
			}
			got := have
			r.update(func(st *Status) {
				dd := st.Databases[key]
				if dd.UserSettings == nil {
					dd.UserSettings = map[string]UserSettings{}
				}
				dd.UserSettings[name] = got
			})
		}
		// Entries removed: the ACLs the stack granted are revoked.
		for _, name := range sortedKeys(d.UserSettings) {
			if _, wanted := spec.UserSettings[name]; wanted {
				continue
			}
			have := d.UserSettings[name]
			if _, exists := d.Users[name]; exists && aclsDiffer(d.Engine, UserSettings{}, have) {
				if _, _, err := r.e.API.Databases.UpdateUser(ctx, d.ID, name, &godo.DatabaseUpdateUserRequest{Settings: aclRequest(d.Engine, UserSettings{})}); err != nil && !isNotFound(err) {
					return apiErr(fmt.Sprintf("revoking the ACLs of user %s in database %s", name, key), err)
				}
			}
			r.update(func(st *Status) { delete(st.Databases[key].UserSettings, name) })
		}
		return nil
	}
}

// refreshUserSettings reads the settings of the users whose settings the
// stack manages, from the database's user list (listed apart when the
// database's GET carries none).
func (r *run) refreshUserSettings(ctx context.Context, key string, db *godo.Database, prior DatabaseStatus) error {
	if len(prior.UserSettings) == 0 {
		return nil
	}
	users := db.Users
	if users == nil {
		list, _, err := r.e.API.Databases.ListUsers(ctx, prior.ID, &godo.ListOptions{PerPage: 200})
		if err != nil {
			return apiErr(fmt.Sprintf("listing the users of database %s", key), err)
		}
		users = list
	}
	got := map[string]UserSettings{}
	for i := range users {
		if _, managed := prior.UserSettings[users[i].Name]; managed {
			got[users[i].Name] = observedUserSettings(&users[i])
		}
	}
	r.update(func(st *Status) {
		if d := st.Databases[key]; d != nil {
			d.UserSettings = maps.Clone(got)
		}
	})
	return nil
}
