package stack

import (
	"context"
	"fmt"

	"github.com/digitalocean/godo"
)

// How read replicas are managed: "<database>-<key>", in the stack's region
// (on the stack's VPC) or another one (on that region's default VPC),
// created and waited for; a replica whose region or size changes is
// replaced (DigitalOcean cannot move or resize one); removed ones are
// deleted.

// ReplicaName is the DigitalOcean name of a replica.
func ReplicaName(stack, dbKey, key string) string { return DatabaseName(stack, dbKey) + "-" + key }

func (r *run) ensureReplicasStep(key string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		spec := r.spec.Databases[key]
		d, vpcID := view2(r, func(st *Status) (DatabaseStatus, string) { return *st.Databases[key], st.VPCID })
		for _, rk := range sortedKeys(d.Replicas) {
			have := d.Replicas[rk]
			want, wanted := spec.Replicas[rk]
			stuck := have.Stalled && have.State != "online"
			if wanted && have.Region == r.replicaRegion(want) && have.Size == r.replicaSize(want, spec) && !stuck {
				continue
			}
			if stuck {
				r.warn("Replica %s of database %s did not come online during the last apply (state %s); it was replaced.", rk, key, have.State)
			}
			if _, err := r.e.API.Databases.DeleteReplica(ctx, d.ID, have.Name); err != nil && !isNotFound(err) {
				return apiErr(fmt.Sprintf("deleting replica %s of database %s", rk, key), err)
			}
			r.update(func(st *Status) { delete(st.Databases[key].Replicas, rk) })
		}
		current := view(r, func(st *Status) map[string]*ReplicaStatus { return st.Databases[key].Replicas })
		for _, rk := range sortedKeys(spec.Replicas) {
			if _, exists := current[rk]; exists {
				if err := r.waitReplicaOnline(ctx, key, rk, d.ID); err != nil {
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
			rep, _, err := r.e.API.Databases.CreateReplica(ctx, d.ID, req)
			if err != nil {
				adopted := adoptAfterFailedCreate(ctx, err, true, func(ctx context.Context) (bool, error) {
					found, _, err := r.e.API.Databases.GetReplica(ctx, d.ID, req.Name)
					if found != nil && err == nil {
						rep = found
					}
					return found != nil && err == nil, err
				})
				if adopted {
					r.recordReplica(key, rk, rep)
				}
				if !adopted || ctx.Err() != nil {
					return apiErr(fmt.Sprintf("creating replica %s of database %s in %s", rk, key, region), err)
				}
			}
			r.recordReplica(key, rk, rep)
			if err := r.waitReplicaOnline(ctx, key, rk, d.ID); err != nil {
				return err
			}
		}
		return nil
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

func (r *run) waitReplicaOnline(ctx context.Context, key, rk, dbID string) error {
	name := view(r, func(st *Status) string { return st.Databases[key].Replicas[rk].Name })
	err := r.e.Poll.waitUntil(ctx, "replica "+rk+" of database "+key+" to be online", func(ctx context.Context) (bool, error) {
		rep, _, err := r.e.API.Databases.GetReplica(ctx, dbID, name)
		if err != nil {
			return false, apiErr(fmt.Sprintf("reading replica %s of database %s", rk, key), err)
		}
		r.recordReplica(key, rk, rep)
		return rep.Status == "online", nil
	})
	if err != nil && ctx.Err() != nil {
		r.update(func(st *Status) {
			if rep := st.Databases[key].Replicas[rk]; rep != nil && rep.State != "online" {
				rep.Stalled = true
			}
		})
		return fmt.Errorf("%w; the next apply replaces the replica if it still is not online", err)
	}
	return err
}

func (r *run) recordReplica(key, rk string, rep *godo.DatabaseReplica) {
	s := &ReplicaStatus{ID: rep.ID, Name: rep.Name, Region: rep.Region, Size: rep.Size, State: rep.Status}
	conn := rep.PrivateConnection
	if conn == nil {
		conn = rep.Connection
	}
	if conn != nil {
		s.PrivateHost = conn.Host
	}
	r.update(func(st *Status) {
		if d := st.Databases[key]; d != nil {
			if prev := d.Replicas[rk]; prev != nil && prev.Name == s.Name && s.State != "online" {
				s.Stalled = prev.Stalled
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
