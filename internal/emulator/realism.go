package emulator

import "time"

// Realism is DigitalOcean's rough edges, each on by default: a provider
// proven against a kinder API fails its first apply on the real one. Every
// window is in DigitalOcean time (divided by the time scale like every other
// duration). A zero field takes its default; a negative one turns that
// behaviour off; Ideal turns them all off (the happy path).
type Realism struct {
	// Ideal turns every behaviour below off.
	Ideal bool `json:"ideal"`

	// ReadAfterCreate is how long a new database or replica answers 404 to
	// GET and is missing from its list after the create answered 201.
	// Sources: terraform-provider-digitalocean #361, #728, #906 and
	// digitalocean/api-v2#200 ("GETs on newly created database replicas
	// return 404 ... takes a few minutes").
	ReadAfterCreate time.Duration `json:"read_after_create"`

	// FirstBackup is how long after a primary first reads "online" a
	// replica create answers 412 (official provider,
	// resource_database_replica.go: "New DBs can be marked ready while first
	// backup is still being created", retried on 412).
	FirstBackup time.Duration `json:"first_backup"`

	// NameHold is how long the name of a deleted database, replica or
	// Kubernetes cluster stays unavailable (422) for new objects
	// (terraform-provider-digitalocean PR #198 discussion).
	NameHold time.Duration `json:"name_hold"`

	// DropletLinger is how long a deleted cluster's worker nodes (Droplets)
	// stay members of their VPC after the cluster's delete (maintainer
	// comment in terraform-provider-digitalocean #488).
	DropletLinger time.Duration `json:"droplet_linger"`

	// Promotion is how long a promoted replica takes to become a primary
	// after PUT .../promote answered 204.
	Promotion time.Duration `json:"promotion"`

	// GPUCapacityWait is extra provisioning time for GPU nodes added to a
	// pool that already exists (scale-ups, replacements): GPU capacity is
	// scarce and such nodes can stay "provisioning" for a long time.
	GPUCapacityWait time.Duration `json:"gpu_capacity_wait"`

	// AutoscaleInterval is how often the cluster autoscaler moves an
	// autoscaled pool by one node within its bounds, on its own, between
	// applies.
	AutoscaleInterval time.Duration `json:"autoscale_interval"`
}

// DefaultRealism holds the default windows, in DigitalOcean time.
var DefaultRealism = Realism{
	ReadAfterCreate:   45 * time.Second,
	FirstBackup:       2 * time.Minute,
	NameHold:          3 * time.Minute,
	DropletLinger:     2 * time.Minute,
	Promotion:         1 * time.Minute,
	GPUCapacityWait:   10 * time.Minute,
	AutoscaleInterval: 15 * time.Minute,
}

// withDefaults fills zero fields from DefaultRealism and zeroes disabled
// (negative) ones; with Ideal every window is zero.
func (r Realism) withDefaults() Realism {
	if r.Ideal {
		return Realism{Ideal: true}
	}
	fill := func(v *time.Duration, def time.Duration) {
		switch {
		case *v == 0:
			*v = def
		case *v < 0:
			*v = 0
		}
	}
	d := DefaultRealism
	fill(&r.ReadAfterCreate, d.ReadAfterCreate)
	fill(&r.FirstBackup, d.FirstBackup)
	fill(&r.NameHold, d.NameHold)
	fill(&r.DropletLinger, d.DropletLinger)
	fill(&r.Promotion, d.Promotion)
	fill(&r.GPUCapacityWait, d.GPUCapacityWait)
	fill(&r.AutoscaleInterval, d.AutoscaleInterval)
	return r
}

// realism returns the effective windows, already scaled to emulator wall
// time; a zero duration means the behaviour is off.
func (e *Emulator) realism() Realism {
	r := e.cfg.Realism
	return Realism{
		Ideal:             r.Ideal,
		ReadAfterCreate:   e.scaled(r.ReadAfterCreate),
		FirstBackup:       e.scaled(r.FirstBackup),
		NameHold:          e.scaled(r.NameHold),
		DropletLinger:     e.scaled(r.DropletLinger),
		Promotion:         e.scaled(r.Promotion),
		GPUCapacityWait:   e.scaled(r.GPUCapacityWait),
		AutoscaleInterval: e.scaled(r.AutoscaleInterval),
	}
}

// Name namespaces for held names: database clusters and replicas share one
// (their names are unique across both), Kubernetes clusters have theirs.
const (
	nameSpaceDatabase   = "database"
	nameSpaceKubernetes = "kubernetes"
)

// holdName keeps name unavailable in namespace ns for Realism.NameHold
// after a delete at now. Callers hold e.mu.
func (e *Emulator) holdName(ns, name string, now time.Time) {
	hold := e.realism().NameHold
	if hold <= 0 {
		return
	}
	if e.heldNames[ns] == nil {
		e.heldNames[ns] = map[string]time.Time{}
	}
	e.heldNames[ns][name] = now.Add(hold)
}

// nameHeld reports whether name is still held in ns at now, and until when.
// Callers hold e.mu.
func (e *Emulator) nameHeld(ns, name string, now time.Time) (time.Time, bool) {
	until, ok := e.heldNames[ns][name]
	if !ok {
		return time.Time{}, false
	}
	if !now.Before(until) {
		delete(e.heldNames[ns], name)
		return time.Time{}, false
	}
	return until, true
}
