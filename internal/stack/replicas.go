package stack

import (
	"context"
	"fmt"
	"time"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-log/tflog"
)

// How read replicas are managed: "<database>-<key>", in the stack's region
// (on the stack's VPC) or another one (on that region's default VPC),
// created and waited for; a replica whose region changes is replaced
// (DigitalOcean cannot move one); a size or tag change is made in place
// (replica_update.go); removed ones are deleted.

// ReplicaName is the DigitalOcean name of a replica.
func ReplicaName(stack, dbKey, key string) string { return DatabaseName(stack, dbKey) + "-" + key }

func (r *run) ensureReplicasStep(key string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		spec := r.spec.Databases[key]
		d, vpcID := view2(r, func(st *Status) (DatabaseStatus, string) { return *st.Databases[key], st.VPCID })
		deleted := map[string]string{} // replica key -> id of the replica replaced
		for _, rk := range sortedKeys(d.Replicas) {
			have := d.Replicas[rk]
			want, wanted := spec.Replicas[rk]
			stuck := have.Stalled && have.State != "online"
			if wanted && have.Region == r.replicaRegion(want) && !stuck {
				continue
			}
			if stuck {
				r.warn("A read replica stuck creating was replaced", "Replica %s of database %s did not come online during the last apply (state %s); it was replaced.", rk, key, have.State)
			}
			if err := r.deleteReplica(ctx, key, rk, d.ID, have.Name); err != nil {
				return err
			}
			deleted[rk] = have.ID
			r.update(func(st *Status) { delete(st.Databases[key].Replicas, rk) })
		}
		current := view(r, func(st *Status) map[string]*ReplicaStatus { return st.Databases[key].Replicas })
		for _, rk := range sortedKeys(spec.Replicas) {
			if _, exists := current[rk]; exists {
				if err := r.updateReplica(ctx, key, rk, d.ID, r.replicaSize(spec.Replicas[rk], spec)); err != nil {
					return err
				}
				continue
			}
			want := spec.Replicas[rk]
			region := r.replicaRegion(want)
			req := &godo.DatabaseCreateReplicaRequest{
				Name:   ReplicaName(r.spec.Name, key, rk),
				Region: region,
				Size:   r.replicaSize(want, spec),
				Tags:   r.spec.AllTags(),
			}
			if region == r.spec.Region {
				req.PrivateNetworkUUID = vpcID
			}
			rep, adopted, err := r.createReplica(ctx, key, rk, d.ID, req, deleted[rk])
			if err != nil {
				return err
			}
			r.recordReplica(key, rk, rep)
			// A replica this apply created takes a replica's typical time;
			// an adopted one (an earlier attempt's) is of unknown age.
			var created time.Time
			var typical time.Duration
			if !adopted {
				created, typical = time.Now(), TypicalReplicaCreate
				r.update(func(st *Status) { st.Databases[key].Replicas[rk].CreatedAt = created })
			}
			if err := r.waitReplicaOnline(ctx, key, rk, d.ID, created, typical); err != nil {
				return err
			}
		}
		return nil
	}
}

// createReplica creates a replica, waiting out DigitalOcean's answers that
// clear on their own: 412 while the primary's first backup is still being
// made (a new database reads online before it; the official provider
// retries 412 too, resource_database_replica.go), and a name held after a
// delete (422 "is not available") or taken by the stack's own replica not
// visible yet. adopted reports a replica found (an earlier create whose
// answer was lost) rather than created; deleted is the id of a replica of
// that name this run just deleted, never adopted.
func (r *run) createReplica(ctx context.Context, key, rk, dbID string, req *godo.DatabaseCreateReplicaRequest, deleted string) (rep *godo.DatabaseReplica, adopted bool, err error) {
	op := fmt.Sprintf("creating replica %s (%s) of database %s in %s", rk, req.Name, key, req.Region)
	var foreign *godo.DatabaseReplica
	err = r.e.Poll.Retry(ctx, op, func(ctx context.Context) error {
		created, _, err := r.e.API.Databases.CreateReplica(ctx, dbID, req)
		if err == nil {
			rep = created
			return nil
		}
		foreign = nil
		adopted = adoptAfterFailedCreate(ctx, err, true, func(ctx context.Context) (bool, error) {
			found, _, err := r.e.API.Databases.GetReplica(ctx, dbID, req.Name)
			if err != nil || found == nil || found.ID == deleted {
				return false, err
			}
			if !ownedBy(found.Tags, r.spec.Owner) {
				foreign = found
				return false, nil
			}
			rep = found
			return true, nil
		})
		if adopted {
			return nil
		}
		return apiErr(op, err)
	}, func(err error) string {
		switch {
		case IsPreconditionFailed(err):
			return "waiting for the primary's first backup (DigitalOcean refuses replicas of a new database until it exists)"
		case nameUnavailable(err) && foreign == nil:
			return "the name " + req.Name + " is not available yet (held for a while after a replica or database of that name was deleted, or the stack's own replica is not visible yet)"
		}
		return ""
	})
	if err != nil && foreign != nil {
		err = r.foreignError(ForeignObject{Kind: "replica", Key: key + "." + rk, Name: foreign.Name, ID: foreign.ID, Owner: OwnerIn(foreign.Tags)})
	}
	return rep, adopted, err
}

// deleteReplica deletes a replica; one created moments ago may answer 404
// (not visible yet), and is retried rather than forgotten (it would leak).
func (r *run) deleteReplica(ctx context.Context, key, rk, dbID, name string) error {
	op := fmt.Sprintf("deleting replica %s (%s) of database %s", rk, name, key)
	err := r.retryWhileNotVisible(ctx, op, r.replicaPending(key, rk), func(ctx context.Context) error {
		if _, err := r.e.API.Databases.DeleteReplica(ctx, dbID, name); err != nil {
			return apiErr(op, err)
		}
		return nil
	})
	if gaveUp(err) || err != nil && !isNotFound(err) {
		return err
	}
	return nil
}

// replicaPending reports whether replica rk of database key was created by
// this provider recently and never seen online (a 404 means "not visible
// yet").
func (r *run) replicaPending(key, rk string) func() bool {
	return func() bool {
		created, state := view2(r, func(st *Status) (time.Time, string) {
			if d := st.Databases[key]; d != nil && d.Replicas[rk] != nil {
				return d.Replicas[rk].CreatedAt, d.Replicas[rk].State
			}
			return time.Time{}, ""
		})
		return r.e.Poll.NotVisibleYet(created, state)
	}
}

func (r *run) replicaRegion(want ReplicaSpec) string {
	if want.Region != "" {
		return want.Region
	}
	return r.spec.Region
}

func (r *run) replicaSize(want ReplicaSpec, db DatabaseSpec) string {
	if want.Size != "" {
		return want.Size
	}
	return db.Size
}

// waitReplicaOnline polls the replica until it is online; what it waits
// for started at started and typically takes typical (0: unknown).
func (r *run) waitReplicaOnline(ctx context.Context, key, rk, dbID string, started time.Time, typical time.Duration) error {
	name := view(r, func(st *Status) string { return st.Databases[key].Replicas[rk].Name })
	pending := r.replicaPending(key, rk)
	logged := false
	err := r.e.Poll.waitExpecting(ctx, "replica "+rk+" of database "+key+" to be online", started, typical, func(ctx context.Context) (bool, error) {
		rep, _, err := r.e.API.Databases.GetReplica(ctx, dbID, name)
		if isNotFound(err) && pending() {
			if !logged {
				tflog.Info(ctx, "replica not visible yet after its create (DigitalOcean answers 404 for a while); waiting", map[string]any{"database": key, "replica": name})
				logged = true
			}
			return false, nil
		}
		if err != nil {
			return false, apiErr(fmt.Sprintf("reading replica %s of database %s", rk, key), err)
		}
		r.recordReplica(key, rk, rep)
		return rep.Status == "online", nil
	})
	if err != nil && ctx.Err() != nil {
		r.update(func(st *Status) {
			// A replica resizing holds its data and finishes on its own: never replaced for it.
			if rep := st.Databases[key].Replicas[rk]; rep != nil && rep.State != "online" && rep.State != "resizing" {
				rep.Stalled = true
			}
		})
		return fmt.Errorf("%w; the next apply waits for it again (a replica still creating then is replaced)", err)
	}
	return err
}

func (r *run) recordReplica(key, rk string, rep *godo.DatabaseReplica) {
	s := &ReplicaStatus{ID: rep.ID, Name: rep.Name, Region: rep.Region, Size: rep.Size, State: rep.Status, Tags: rep.Tags}
	conn := rep.PrivateConnection
	if conn == nil {
		conn = rep.Connection
	}
	if conn != nil {
		s.PrivateHost = conn.Host
	}
	r.update(func(st *Status) {
		if d := st.Databases[key]; d != nil {
			if prev := d.Replicas[rk]; prev != nil && prev.Name == s.Name {
				if s.State != "online" {
					s.Stalled = prev.Stalled
				}
				s.CreatedAt = prev.CreatedAt
			}
			d.Replicas[rk] = s
		}
	})
}

// refreshReplicas lists the replicas once and keeps the managed ones.
func (r *run) refreshReplicas(ctx context.Context, key string, prior DatabaseStatus) error {
	if len(prior.Replicas) == 0 {
		return nil
	}
	reps, _, err := r.e.API.Databases.ListReplicas(ctx, prior.ID, &godo.ListOptions{PerPage: 200})
	if err != nil {
		return apiErr(fmt.Sprintf("listing the replicas of database %s", key), err)
	}
	byName := map[string]*godo.DatabaseReplica{}
	for i := range reps {
		byName[reps[i].Name] = &reps[i]
	}
	r.update(func(st *Status) {
		if d := st.Databases[key]; d != nil {
			d.Replicas = map[string]*ReplicaStatus{}
		}
	})
	for rk, p := range prior.Replicas {
		if byName[p.Name] == nil && r.e.Poll.NotVisibleYet(p.CreatedAt, p.State) {
			// Created moments ago and never seen: not visible yet.
			tflog.Info(ctx, "replica created recently is not listed yet (DigitalOcean leaves it out for a while after a create); kept in state", map[string]any{"database": key, "replica": p.Name, "created": p.CreatedAt})
			r.update(func(st *Status) {
				if d := st.Databases[key]; d != nil {
					c := *p
					d.Replicas[rk] = &c
				}
			})
			continue
		}
		if rep := byName[p.Name]; rep != nil {
			r.recordReplica(key, rk, rep)
			r.update(func(st *Status) {
				if now := st.Databases[key].Replicas[rk]; now.State != "online" {
					now.Stalled = p.Stalled
				}
			})
		}
	}
	return nil
}
