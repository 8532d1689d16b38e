package stack

import (
	"context"
	"fmt"
	"time"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-log/tflog"
)

// updateReplica brings the existing replica rk of database key to size and
// to the stack's tags, in place, and waits for it to be online. A replica
// resizes through its uuid, as a cluster does: the official provider sends
// Databases.Resize(replicaUUID, {size, num_nodes: 1}) and waits for
// "online" (resource_database_replica.go, update). Its tags change through
// the Tags API with resource_type "database" and the replica's uuid.
func (r *run) updateReplica(ctx context.Context, key, rk, dbID, size string) error {
	if err := r.waitReplicaOnline(ctx, key, rk, dbID, time.Time{}, 0); err != nil {
		return err
	}
	have := view(r, func(st *Status) ReplicaStatus { return *st.Databases[key].Replicas[rk] })
	if have.Size != size {
		op := fmt.Sprintf("resizing replica %s (%s) of database %s from %s to %s", rk, have.Name, key, have.Size, size)
		tflog.Info(ctx, "resizing replica in place", map[string]any{"database": key, "replica": have.Name, "from": have.Size, "to": size})
		// Official provider resource_database_replica.go: "Read-only replicas only support a single node configuration."
		if _, err := r.e.API.Databases.Resize(ctx, have.ID, &godo.DatabaseResizeRequest{SizeSlug: size, NumNodes: 1}); err != nil {
			return apiErr(op, err)
		}
		resized := time.Now()
		r.update(func(st *Status) {
			if rep := st.Databases[key].Replicas[rk]; rep != nil {
				rep.State = "resizing"
			}
		})
		if err := r.waitReplicaOnline(ctx, key, rk, dbID, resized, TypicalDatabaseResize); err != nil {
			return err
		}
	}
	want := r.spec.AllTags()
	if sameStrings(have.Tags, want) {
		return nil
	}
	if err := r.retag(ctx, fmt.Sprintf("replica %s (%s) of database %s", rk, have.Name, key), have.ID, have.Tags, want); err != nil {
		return err
	}
	r.update(func(st *Status) {
		if rep := st.Databases[key].Replicas[rk]; rep != nil {
			rep.Tags = want
		}
	})
	return nil
}
