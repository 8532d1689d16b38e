package stack

import (
	"context"
	"fmt"

	"github.com/digitalocean/godo"
)

// Storage autoscaling (PUT/GET /v2/databases/{id}/autoscale): set after the
// database is online and whenever the wanted configuration differs from
// what DigitalOcean last reported; read back on refresh, so a change made
// outside Terraform shows as drift.

func (r *run) ensureStorageAutoscaleStep(key string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		want := r.spec.Databases[key].StorageAutoscale
		if want == nil {
			return nil
		}
		d := view(r, func(st *Status) DatabaseStatus { return *st.Databases[key] })
		if d.StorageAutoscale != nil && *d.StorageAutoscale == *want {
			return nil
		}
		threshold, increment := want.ThresholdPercent, uint64(want.IncrementGiB)
		req := &godo.DatabaseStorageAutoscale{Enabled: want.Enabled, ThresholdPercent: &threshold, IncrementGib: &increment}
		if _, err := r.e.API.Databases.UpdateStorageAutoscale(ctx, d.ID, req); err != nil {
			return apiErr(fmt.Sprintf("setting storage autoscaling of database %s (%s) to %s", key, d.Name, want), err)
		}
		w := *want
		r.update(func(st *Status) { st.Databases[key].StorageAutoscale = &w })
		return nil
	}
}

// refreshStorageAutoscale reads the configuration of a database whose
// autoscaling the stack manages.
func (r *run) refreshStorageAutoscale(ctx context.Context, key string, prior DatabaseStatus) error {
	if prior.StorageAutoscale == nil {
		return nil
	}
	got, err := r.readStorageAutoscale(ctx, key, prior.ID)
	if err != nil {
		return err
	}
	r.update(func(st *Status) {
		if d := st.Databases[key]; d != nil {
			d.StorageAutoscale = &got
		}
	})
	return nil
}

// readStorageAutoscale reads a database's storage autoscaling; values
// DigitalOcean leaves out (a database never configured) read as 0.
func (r *run) readStorageAutoscale(ctx context.Context, key, id string) (StorageAutoscale, error) {
	got, _, err := r.e.API.Databases.GetStorageAutoscale(ctx, id)
	if err != nil {
		return StorageAutoscale{}, apiErr(fmt.Sprintf("reading storage autoscaling of database %s (%s)", key, id), err)
	}
	var out StorageAutoscale
	if got != nil {
		out.Enabled = got.Enabled
		if got.ThresholdPercent != nil {
			out.ThresholdPercent = *got.ThresholdPercent
		}
		if got.IncrementGib != nil {
			out.IncrementGiB = int(*got.IncrementGib)
		}
	}
	return out, nil
}

// configured reports whether a database's autoscaling was ever set (a
// database never configured reads as all zero).
func (a StorageAutoscale) configured() bool { return a != StorageAutoscale{} }

func (a *StorageAutoscale) String() string {
	if !a.Enabled {
		return "disabled"
	}
	return fmt.Sprintf("+%d GiB at %d%% used", a.IncrementGiB, a.ThresholdPercent)
}

// StorageAutoscaleEngine reports whether DigitalOcean autoscales storage
// for engine: the engines whose storage can be added (not Valkey, whose
// plans carry no added storage).
func StorageAutoscaleEngine(engine string) bool { return engine != "valkey" }
