package emulator

import (
	"net/http"
	"testing"

	"github.com/digitalocean/godo"
)

func TestDatabaseStorageAutoscale(t *testing.T) {
	srv, c := startTest(t, Config{})
	pg := createVisibleDB(t, c, dbRequest("grows", "pg"))
	waitDBStatus(t, c, pg.ID, "online")
	on := &godo.DatabaseStorageAutoscale{Enabled: true}
	got, _, err := c.Databases.GetStorageAutoscale(ctx, pg.ID)
	if err != nil || got == nil || got.Enabled || got.ThresholdPercent != nil || got.IncrementGib != nil {
		t.Fatalf("never configured: %v %+v", err, got)
	}
	// Enabled without values: 80 percent, 10 GiB.
	if _, err := c.Databases.UpdateStorageAutoscale(ctx, pg.ID, on); err != nil {
		t.Fatal(err)
	}
	got, _, _ = c.Databases.GetStorageAutoscale(ctx, pg.ID)
	if !got.Enabled || *got.ThresholdPercent != 80 || *got.IncrementGib != 10 {
		t.Fatalf("defaults: %+v", got)
	}
	// Values left out keep what the cluster had.
	th := 60
	if _, err := c.Databases.UpdateStorageAutoscale(ctx, pg.ID, &godo.DatabaseStorageAutoscale{Enabled: true, ThresholdPercent: &th}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Databases.UpdateStorageAutoscale(ctx, pg.ID, &godo.DatabaseStorageAutoscale{Enabled: false}); err != nil {
		t.Fatal(err)
	}
	got, _, _ = c.Databases.GetStorageAutoscale(ctx, pg.ID)
	if got.Enabled || *got.ThresholdPercent != 60 || *got.IncrementGib != 10 {
		t.Fatalf("after disabling: %+v", got)
	}
	// Bounds from the spec.
	for _, bad := range []struct {
		th  int
		inc uint64
		msg string
	}{{14, 10, "threshold_percent"}, {96, 10, "threshold_percent"}, {80, 9, "increment_gib"}, {80, 501, "increment_gib"}} {
		th, inc := bad.th, bad.inc
		_, err := c.Databases.UpdateStorageAutoscale(ctx, pg.ID, &godo.DatabaseStorageAutoscale{Enabled: true, ThresholdPercent: &th, IncrementGib: &inc})
		wantDBError(t, err, http.StatusUnprocessableEntity, bad.msg)
	}
	// enabled is required; storage is required.
	if code, e := rawRequest(t, srv, http.MethodPut, "/v2/databases/"+pg.ID+"/autoscale", `{"storage":{"threshold_percent":50}}`); code != http.StatusUnprocessableEntity {
		t.Fatalf("missing enabled: %d %+v", code, e)
	}
	if code, e := rawRequest(t, srv, http.MethodPut, "/v2/databases/"+pg.ID+"/autoscale", `{}`); code != http.StatusUnprocessableEntity {
		t.Fatalf("missing storage: %d %+v", code, e)
	}
	// Valkey has no storage to add.
	vk := createVisibleDB(t, c, dbRequest("cache", "valkey"))
	_, err = c.Databases.UpdateStorageAutoscale(ctx, vk.ID, on)
	wantDBError(t, err, http.StatusUnprocessableEntity, "storage autoscaling", "Valkey")
	// Unknown cluster.
	_, _, err = c.Databases.GetStorageAutoscale(ctx, "00000000-0000-4000-8000-000000000000")
	wantStatus(t, err, http.StatusNotFound)
}
