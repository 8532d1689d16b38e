package stack

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	"github.com/digitalocean/godo"
)

// How the objects inside a database are managed: logical dbs and users are
// created when listed and dropped when removed from the list; PgBouncer
// pools (pg only) are created, updated in place (mode, size, db, user) and
// deleted; the eviction policy (valkey) is set when it differs. The
// defaults DigitalOcean creates (doadmin, defaultdb, ...) are never touched.

func (r *run) ensureDBsAndUsersStep(key string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		spec := r.spec.Databases[key]
		d := view(r, func(st *Status) DatabaseStatus { return *st.Databases[key] })
		haveDBs := map[string]bool{}
		for _, n := range d.DBs {
			haveDBs[n] = true
		}
		for _, name := range spec.DBs {
			if haveDBs[name] {
				continue
			}
			if _, _, err := r.e.API.Databases.CreateDB(ctx, d.ID, &godo.DatabaseCreateDBRequest{Name: name}); err != nil {
				adopted := adoptAfterFailedCreate(ctx, err, d.Owned, func(ctx context.Context) (bool, error) {
					_, _, err := r.e.API.Databases.GetDB(ctx, d.ID, name)
					return err == nil, err
				})
				if adopted {
					r.update(func(st *Status) { st.Databases[key].DBs = appendUnique(st.Databases[key].DBs, name) })
				}
				if !adopted || ctx.Err() != nil {
					return apiErr(fmt.Sprintf("creating db %s in database %s", name, key), err)
				}
				continue
			}
			r.update(func(st *Status) { st.Databases[key].DBs = appendUnique(st.Databases[key].DBs, name) })
		}
		for _, name := range spec.Users {
			if _, ok := d.Users[name]; ok {
				continue
			}
			u, err := r.createUser(ctx, key, d, name)
			if u != nil {
				// Recorded even when the create failed late: a user found
				// after a create whose answer never came is ours.
				// A new user's password is fresh: its version is the one
				// asked for, with no reset.
				r.update(func(st *Status) {
					st.Databases[key].Users[name] = u.Password
					st.Databases[key].setRotated(name, spec.Rotations[name])
				})
				// Its settings were part of the create (database_user_settings.go).
				r.recordUserSettings(key, u)
			}
			if err != nil {
				return err
			}
		}
		// Removals after additions: a pool may move to a new user first.
		for _, name := range sortedKeys(d.Users) {
			if slices.Contains(spec.Users, name) || poolUses(spec, name) {
				continue
			}
			if _, err := r.e.API.Databases.DeleteUser(ctx, d.ID, name); err != nil && !isNotFound(err) {
				return apiErr(fmt.Sprintf("deleting user %s from database %s", name, key), err)
			}
			r.update(func(st *Status) { delete(st.Databases[key].Users, name); delete(st.Databases[key].Rotated, name) })
		}
		for _, name := range d.DBs {
			if slices.Contains(spec.DBs, name) {
				continue
			}
			if _, err := r.e.API.Databases.DeleteDB(ctx, d.ID, name); err != nil && !isNotFound(err) {
				return apiErr(fmt.Sprintf("deleting db %s from database %s", name, key), err)
			}
			r.update(func(st *Status) {
				st.Databases[key].DBs = slices.DeleteFunc(st.Databases[key].DBs, func(s string) bool { return s == name })
			})
		}
		return nil
	}
}

// mongoUserRetries bounds how often a MongoDB user create answered 5xx is
// tried again: a cluster busy with another user create clears within
// seconds, an outage does not.
const mongoUserRetries = 8

// createUser creates one user, adopting it when a failed create may have
// taken effect (it then returns the user found, with the error when time ran
// out meanwhile). On MongoDB, user creates on one cluster are serialised
// within the process and a 5xx is retried: DigitalOcean answers 500 to a
// user create while another one on the same cluster is in progress
// (official provider PR #1027 serialises them).
func (r *run) createUser(ctx context.Context, key string, d DatabaseStatus, name string) (*godo.DatabaseUser, error) {
	mongo := d.Engine == "mongodb"
	if mongo && r.e.Locks != nil {
		unlock := r.e.Locks.lock("users:" + d.ID)
		defer unlock()
	}
	op := fmt.Sprintf("creating user %s in database %s", name, key)
	var u *godo.DatabaseUser
	tries := 0
	err := r.e.Poll.Retry(ctx, op, func(ctx context.Context) error {
		tries++
		created, _, err := r.e.API.Databases.CreateUser(ctx, d.ID, createUserRequest(r.spec.Databases[key], d.Engine, name))
		if err == nil {
			u = created
			return nil
		}
		adopted := adoptAfterFailedCreate(ctx, err, d.Owned, func(ctx context.Context) (bool, error) {
			found, _, err := r.e.API.Databases.GetUser(ctx, d.ID, name)
			if err == nil && found != nil {
				u = found
			}
			return err == nil && found != nil, err
		})
		if adopted && ctx.Err() == nil {
			return nil
		}
		return apiErr(op, err)
	}, func(err error) string {
		if mongo && statusOf(err) >= http.StatusInternalServerError && tries < mongoUserRetries {
			return "MongoDB answered a user create with a server error (another user create on the cluster in progress)"
		}
		return ""
	})
	return u, err
}

func poolUses(spec DatabaseSpec, user string) bool {
	for _, p := range spec.Pools {
		if p.User == user {
			return true
		}
	}
	return false
}

func appendUnique(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// refreshDBsAndUsers keeps the managed dbs and users that still exist.
func (r *run) refreshDBsAndUsers(key string, db *godo.Database, prior DatabaseStatus) {
	users := map[string]bool{}
	for _, u := range db.Users {
		users[u.Name] = true
	}
	dbs := map[string]bool{}
	for _, n := range db.DBNames {
		dbs[n] = true
	}
	r.update(func(st *Status) {
		d := st.Databases[key]
		if d == nil {
			return
		}
		// Engines whose GET lists no users or dbs keep what state says.
		if db.Users != nil {
			for name := range d.Users {
				if !users[name] {
					delete(d.Users, name)
				}
			}
			// The password DigitalOcean holds now: a reset made outside
			// Terraform, or one kept out of state until now.
			for _, u := range db.Users {
				if _, managed := d.Users[u.Name]; managed && u.Password != "" {
					d.Users[u.Name] = u.Password
				}
			}
		}
		if db.DBNames != nil {
			d.DBs = slices.DeleteFunc(slices.Clone(d.DBs), func(n string) bool { return !dbs[n] })
		}
	})
}

func (r *run) ensurePoolsStep(key string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		spec := r.spec.Databases[key]
		d := view(r, func(st *Status) DatabaseStatus { return *st.Databases[key] })
		if len(spec.Pools) == 0 && len(d.Pools) == 0 {
			return nil
		}
		for _, name := range sortedKeys(spec.Pools) {
			want := spec.Pools[name]
			have, exists := d.Pools[name]
			switch {
			case !exists:
				req := &godo.DatabaseCreatePoolRequest{Name: name, Mode: want.Mode, Size: want.Size, Database: want.DB, User: want.User}
				p, _, err := r.e.API.Databases.CreatePool(ctx, d.ID, req)
				if err != nil {
					adopted := adoptAfterFailedCreate(ctx, err, d.Owned, func(ctx context.Context) (bool, error) {
						found, _, err := r.e.API.Databases.GetPool(ctx, d.ID, name)
						if err == nil && found != nil {
							p = found
						}
						return err == nil && found != nil, err
					})
					if adopted {
						r.recordPool(key, p)
					}
					if !adopted || ctx.Err() != nil {
						return apiErr(fmt.Sprintf("creating pool %s (%s, size %d) in database %s", name, want.Mode, want.Size, key), err)
					}
					continue
				}
				r.recordPool(key, p)
			case have.Spec != want:
				req := &godo.DatabaseUpdatePoolRequest{Mode: want.Mode, Size: want.Size, Database: want.DB, User: want.User}
				if _, err := r.e.API.Databases.UpdatePool(ctx, d.ID, name, req); err != nil {
					return apiErr(fmt.Sprintf("updating pool %s in database %s", name, key), err)
				}
				p, _, err := r.e.API.Databases.GetPool(ctx, d.ID, name)
				if err != nil {
					return apiErr(fmt.Sprintf("reading pool %s in database %s", name, key), err)
				}
				r.recordPool(key, p)
			}
		}
		for _, name := range sortedKeys(d.Pools) {
			if _, wanted := spec.Pools[name]; wanted {
				continue
			}
			if _, err := r.e.API.Databases.DeletePool(ctx, d.ID, name); err != nil && !isNotFound(err) {
				return apiErr(fmt.Sprintf("deleting pool %s from database %s", name, key), err)
			}
			r.update(func(st *Status) { delete(st.Databases[key].Pools, name) })
		}
		return nil
	}
}

func (r *run) recordPool(key string, p *godo.DatabasePool) {
	s := &PoolStatus{Spec: PoolSpec{Mode: p.Mode, Size: p.Size, DB: p.Database, User: p.User}}
	conn := p.PrivateConnection
	if conn == nil {
		conn = p.Connection
	}
	if conn != nil {
		s.PrivateHost, s.Port, s.PrivateURI = conn.Host, conn.Port, conn.URI
	}
	r.update(func(st *Status) {
		if d := st.Databases[key]; d != nil {
			d.Pools[p.Name] = s
		}
	})
}

// refreshPools lists the pools once and keeps the managed ones.
func (r *run) refreshPools(ctx context.Context, key string, prior DatabaseStatus) error {
	if len(prior.Pools) == 0 {
		return nil
	}
	pools, _, err := r.e.API.Databases.ListPools(ctx, prior.ID, &godo.ListOptions{PerPage: 200})
	if err != nil {
		return apiErr(fmt.Sprintf("listing the pools of database %s", key), err)
	}
	r.update(func(st *Status) {
		if d := st.Databases[key]; d != nil {
			d.Pools = map[string]*PoolStatus{}
		}
	})
	for i := range pools {
		if _, managed := prior.Pools[pools[i].Name]; managed {
			r.recordPool(key, &pools[i])
		}
	}
	return nil
}

func (r *run) ensureEvictionPolicyStep(key string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		want := r.spec.Databases[key].EvictionPolicy
		d := view(r, func(st *Status) DatabaseStatus { return *st.Databases[key] })
		if want == "" || d.EvictionPolicy == want {
			return nil
		}
		if _, err := r.e.API.Databases.SetEvictionPolicy(ctx, d.ID, want); err != nil {
			return apiErr(fmt.Sprintf("setting the eviction policy of database %s to %s", key, want), err)
		}
		r.update(func(st *Status) { st.Databases[key].EvictionPolicy = want })
		return nil
	}
}

func (r *run) refreshEvictionPolicy(ctx context.Context, key string, prior DatabaseStatus) error {
	if prior.EvictionPolicy == "" {
		return nil
	}
	policy, _, err := r.e.API.Databases.GetEvictionPolicy(ctx, prior.ID)
	if err != nil {
		return apiErr(fmt.Sprintf("reading the eviction policy of database %s", key), err)
	}
	r.update(func(st *Status) {
		if d := st.Databases[key]; d != nil {
			d.EvictionPolicy = policy
		}
	})
	return nil
}
