package emulator

import "net/http"

// Storage autoscaling: GET/PUT /v2/databases/{database_cluster_uuid}/autoscale.
// DigitalOcean adds increment_gib of storage whenever usage crosses
// threshold_percent; the emulator keeps the configuration (it has no disk
// usage to react to).

// dbStorageAutoscale is a cluster's storage autoscaling configuration.
type dbStorageAutoscale struct {
	Enabled          bool `json:"enabled"`
	ThresholdPercent *int `json:"threshold_percent,omitempty"`
	IncrementGiB     *int `json:"increment_gib,omitempty"`
}

// dbAutoscaleJSON is the spec's database_autoscale_params.
type dbAutoscaleJSON struct {
	Storage *dbStorageAutoscale `json:"storage,omitempty"`
}

const (
	// Spec database_storage_autoscale_params: threshold_percent minimum 15, maximum 95.
	dbAutoscaleMinThreshold, dbAutoscaleMaxThreshold = 15, 95
	// Spec database_storage_autoscale_params: increment_gib minimum 10, maximum 500.
	dbAutoscaleMinIncrement, dbAutoscaleMaxIncrement = 10, 500
	// doctl databases storage-autoscale update docs: with --enabled true and no threshold or increment, 80 (percent) and 10 (GiB) are used.
	dbAutoscaleDefaultThreshold, dbAutoscaleDefaultIncrement = 80, 10
)

func (s *databaseStore) autoscaleCluster(c *call) (*dbCluster, bool) {
	cl, ok := s.cluster(c)
	if !ok {
		return nil, false
	}
	// Autoscaling adds storage, so it applies to the engines whose storage can be added (storage_size_mib); Valkey plans have none to add.
	if !cl.Engine.Storage {
		c.unprocessable("storage autoscaling applies to %s clusters only; %s is a %s cluster", dbEnginesWith(func(e *dbEngine) bool { return e.Storage }), cl.Name, cl.Engine.Name)
		return nil, false
	}
	return cl, true
}

func (s *databaseStore) getAutoscale(c *call) {
	cl, ok := s.autoscaleCluster(c)
	if !ok {
		return
	}
	// A cluster never configured reports autoscaling off (spec database_cluster.autoscale: "If null, autoscaling is not configured").
	storage := cl.autoscale
	if storage == nil {
		storage = &dbStorageAutoscale{}
	}
	c.respond(http.StatusOK, map[string]any{
		// Spec responses/autoscale: {"autoscale": {"storage": {...}}}.
		"autoscale": map[string]any{"storage": storage},
		// godo v1.236.0 GetStorageAutoscale decodes {"storage": {...}} at the root (its databaseStorageAutoscaleRoot, as doctl's storage-autoscale get reads it); the spec's object allows the extra key.
		"storage": storage,
	})
}

func (s *databaseStore) putAutoscale(c *call) {
	cl, ok := s.autoscaleCluster(c)
	if !ok {
		return
	}
	var req struct {
		Storage *struct {
			Enabled          *bool `json:"enabled"`
			ThresholdPercent *int  `json:"threshold_percent"`
			IncrementGiB     *int  `json:"increment_gib"`
		} `json:"storage"`
	}
	if !c.decode(&req) {
		return
	}
	// Spec database_autoscale_params: storage is the only setting there is; a body without it changes nothing and is refused.
	if req.Storage == nil {
		c.unprocessable("storage is required: send {\"storage\": {\"enabled\": true, \"threshold_percent\": 80, \"increment_gib\": 10}}")
		return
	}
	// Spec database_storage_autoscale_params: enabled is required.
	if req.Storage.Enabled == nil {
		c.unprocessable("storage.enabled is required (true or false)")
		return
	}
	in := req.Storage
	if in.ThresholdPercent != nil && (*in.ThresholdPercent < dbAutoscaleMinThreshold || *in.ThresholdPercent > dbAutoscaleMaxThreshold) {
		c.unprocessable("storage.threshold_percent %d is out of range: use %d to %d (percent of storage used that triggers a scale-up)", *in.ThresholdPercent, dbAutoscaleMinThreshold, dbAutoscaleMaxThreshold)
		return
	}
	if in.IncrementGiB != nil && (*in.IncrementGiB < dbAutoscaleMinIncrement || *in.IncrementGiB > dbAutoscaleMaxIncrement) {
		c.unprocessable("storage.increment_gib %d is out of range: use %d to %d (GiB added per scale-up)", *in.IncrementGiB, dbAutoscaleMinIncrement, dbAutoscaleMaxIncrement)
		return
	}
	// Like a resize, a configuration change needs the cluster provisioned.
	if !dbRequireReady(c, cl, "configuring storage autoscaling") {
		return
	}
	next := dbStorageAutoscale{Enabled: *in.Enabled}
	if prev := cl.autoscale; prev != nil {
		// Values left out keep what the cluster had (the PUT's example and doctl send them only when changing them).
		next.ThresholdPercent, next.IncrementGiB = prev.ThresholdPercent, prev.IncrementGiB
	}
	if in.ThresholdPercent != nil {
		next.ThresholdPercent = in.ThresholdPercent
	}
	if in.IncrementGiB != nil {
		next.IncrementGiB = in.IncrementGiB
	}
	if next.Enabled {
		// doctl databases storage-autoscale update docs: omitted values default to 80 percent and 10 GiB.
		if next.ThresholdPercent == nil {
			t := dbAutoscaleDefaultThreshold
			next.ThresholdPercent = &t
		}
		if next.IncrementGiB == nil {
			g := dbAutoscaleDefaultIncrement
			next.IncrementGiB = &g
		}
	}
	cl.autoscale = &next
	// Spec databases_update_autoscale: 204 No Content.
	c.noContent()
}
