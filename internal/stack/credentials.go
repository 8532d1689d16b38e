package stack

import (
	"context"
	"fmt"
	"maps"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-log/tflog"
)

// How passwords are rotated on demand: each database's spec carries a
// version per user (Rotations; the admin under AdminUser). A version above
// the one recorded (DatabaseStatus.Rotated, 0 when none) resets that user's
// password through reset_auth (POST
// /v2/databases/{id}/users/{name}/reset_auth, spec databases_reset_auth);
// the admin's new password then shows in the database's connection
// details and a user's in the pools that connect as it, so both are read
// again. A user the stack creates, and the admin of a database it creates,
// start with a fresh password: their version is recorded with no reset.
// Removing a version forgets it (it counts as 0 again).
//
// The same step fills in credentials a status saved without secrets lacks
// (store_secrets turned back on), unless secrets stay out of state.

// AdminUser is the name rotations use for a database's admin user.
const AdminUser = "doadmin"

func (d *DatabaseStatus) setRotated(name string, version int) {
	if d.Rotated == nil {
		d.Rotated = map[string]int{}
	}
	d.Rotated[name] = version
}

// ensureCredentialsStep rotates the passwords whose version went up in
// database key. existed says the database was there before this apply (a
// new database's admin password is fresh).
func (r *run) ensureCredentialsStep(key string, existed bool) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		spec := r.spec.Databases[key]
		d := view(r, func(st *Status) DatabaseStatus {
			c := *st.Databases[key]
			c.Users = maps.Clone(c.Users)
			c.Rotated = maps.Clone(c.Rotated)
			return c
		})
		reread := false
		for _, name := range sortedKeys(spec.Rotations) {
			want, have := spec.Rotations[name], d.Rotated[name]
			if want <= have {
				continue
			}
			_, isUser := d.Users[name]
			isAdmin := name == AdminUser && !isUser
			if isAdmin && !existed {
				r.update(func(st *Status) { st.Databases[key].setRotated(name, want) })
				continue
			}
			if !isAdmin && !isUser {
				return fmt.Errorf("rotating the password of user %s in database %s: the stack does not manage that user; add it to users (or rotate %s, the admin)", name, key, AdminUser)
			}
			op := fmt.Sprintf("resetting the password of user %s in database %s (version %d -> %d)", name, key, have, want)
			tflog.Info(ctx, "rotating a database password", map[string]any{"database": key, "user": name, "from": have, "to": want})
			u, _, err := r.e.API.Databases.ResetUserAuth(ctx, d.ID, name, &godo.DatabaseResetUserAuthRequest{})
			if err != nil {
				return apiErr(op, err)
			}
			r.update(func(st *Status) {
				ds := st.Databases[key]
				if isUser && u != nil {
					ds.Users[name] = u.Password
				}
				ds.setRotated(name, want)
			})
			reread = true
		}
		// Versions no longer asked for are forgotten.
		r.update(func(st *Status) {
			ds := st.Databases[key]
			for name := range ds.Rotated {
				if _, asked := spec.Rotations[name]; !asked {
					delete(ds.Rotated, name)
				}
			}
		})
		if r.spec.OmitSecrets && !reread {
			return nil
		}
		if !r.spec.OmitSecrets {
			for _, name := range sortedKeys(d.Users) {
				if d.Users[name] != "" {
					continue
				}
				u, _, err := r.e.API.Databases.GetUser(ctx, d.ID, name)
				if err != nil {
					return apiErr(fmt.Sprintf("reading user %s of database %s", name, key), err)
				}
				r.update(func(st *Status) {
					if _, ok := st.Databases[key].Users[name]; ok {
						st.Databases[key].Users[name] = u.Password
					}
				})
			}
			if d.Password == "" {
				reread = true
			}
			for _, p := range d.Pools {
				if p.PrivateURI == "" {
					reread = true
				}
			}
		}
		if !reread {
			return nil
		}
		// The connection details and pool URIs carry the new passwords.
		db, _, err := r.e.API.Databases.Get(ctx, d.ID)
		if err != nil {
			return apiErr(fmt.Sprintf("reading database %s after a credential change", key), err)
		}
		r.recordDatabase(key, db, d.Owned)
		cur := view(r, func(st *Status) DatabaseStatus { return *st.Databases[key] })
		return r.refreshPools(ctx, key, cur)
	}
}
