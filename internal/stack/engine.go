package stack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-log/tflog"
)

// Engine converges stacks through the DigitalOcean API.
type Engine struct {
	API  *godo.Client
	Poll PollConfig
	// Locks serializes firewall edits per database within the process
	// (shared by every resource of a provider); nil means no lock.
	Locks *FirewallLocks
	// FirewallSettle overrides how long firewall edits wait before checking
	// that no concurrent writer undid them; 0 adapts to the API's latency.
	FirewallSettle time.Duration
	// Watch shares status polling across the process; nil: one GET per
	// object per poll.
	Watch *Watcher
	// Kube builds the clients that write connection Secrets into the
	// stack's cluster; nil is client-go's kubernetes.NewForConfig.
	Kube KubeClientFunc
}

// New returns an engine using api with the default polling.
func New(api *godo.Client) *Engine { return &Engine{API: api, Poll: DefaultPoll} }

// run is one engine operation in flight: the status it mutates (steps run
// concurrently, so every change goes through update) and the warnings it
// collects for the user.
type run struct {
	e        *Engine
	spec     Spec
	mu       sync.Mutex
	st       *Status
	warnings []Warning
	// retired is the cluster a replacement superseded, deleted once every
	// database trusts the new one.
	retired *ClusterStatus
	// keptInVPC lists databases destroy leaves running in the stack's VPC,
	// which therefore stays.
	keptInVPC []string
	// started is when the operation began: a refresh takes shared lists
	// fetched no earlier, so it sees every write made before it (a list
	// cached during the apply that just finished would not).
	started time.Time
	// kubeClients are the Kubernetes clients of this run, per cluster.
	kubeClients kubeClients
}

func (e *Engine) newRun(spec Spec, st *Status) *run {
	st = st.Clone()
	if st.Databases == nil {
		st.Databases = map[string]*DatabaseStatus{}
	}
	if spec.Owner == "" {
		spec.Owner = st.Owner
	}
	return &run{e: e, spec: spec, st: st, started: time.Now()}
}

// update applies fn to the status under the run's lock.
func (r *run) update(fn func(st *Status)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fn(r.st)
}

// view reads the status under the run's lock.
func view[T any](r *run, fn func(st *Status) T) T {
	r.mu.Lock()
	defer r.mu.Unlock()
	return fn(r.st)
}

// warn records a warning for the user: title says in a few words what it
// is about ("The cluster was replaced"), the detail says which objects and
// what to do.
func (r *run) warn(title, format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.warnings = append(r.warnings, Warning{Title: title, Detail: fmt.Sprintf(format, args...)})
}

// Warning is something the user should know about an operation that did
// not fail.
type Warning struct {
	// Title is the diagnostic's summary: what the warning is about.
	Title string
	// Detail names the objects and what to do.
	Detail string
}

func (w Warning) String() string { return w.Title + ": " + w.Detail }

// Result is what an operation leaves: the status of everything that exists
// (also when the operation failed) and warnings worth showing the user.
type Result struct {
	Status   *Status
	Warnings []Warning
}

func (r *run) result() Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Result{Status: r.st.Clone(), Warnings: append([]Warning(nil), r.warnings...)}
}

// Apply converges the stack onto spec from whatever st says exists: it is
// Create (st empty), Update, and drift repair alike. On error the returned
// status still records every object that exists.
func (e *Engine) Apply(ctx context.Context, spec Spec, st *Status) (Result, error) {
	r := e.newRun(spec, st)
	// A stack without an identity (new, imported, or made before
	// identities existed) gets one now: everything this apply writes
	// carries it (ownership.go).
	if r.spec.Owner == "" {
		r.spec.Owner = NewOwner()
	}
	r.st.Owner = r.spec.Owner
	if err := r.checkClaims(); err != nil {
		return r.result(), err
	}
	g := newGraph()

	g.add("vpc", nil, r.ensureVPC)
	g.add("cluster", []string{"vpc"}, r.ensureCluster)
	g.add("kubeconfig", []string{"cluster"}, r.ensureKubeconfig)

	projectDeps := []string{"vpc", "cluster"}
	retireDeps := []string{"cluster"}
	for _, key := range sortedKeys(spec.Databases) {
		db := "database:" + key
		g.add(db, []string{"vpc"}, r.ensureDatabaseStep(key))
		g.add("firewall:"+key, []string{db, "cluster"}, r.ensureFirewallStep(key))
		g.add("dbs-users:"+key, []string{db}, r.ensureDBsAndUsersStep(key))
		prior := r.st.Databases[key]
		existed := prior != nil && prior.ID != "" && !prior.Stalled
		// Before credentials: an auth plugin change issues a new password.
		g.add("user-settings:"+key, []string{"dbs-users:" + key}, r.ensureUserSettingsStep(key))
		g.add("credentials:"+key, []string{"user-settings:" + key}, r.ensureCredentialsStep(key, existed))
		// After credentials: the pools it reads back carry the new passwords.
		g.add("pools:"+key, []string{"credentials:" + key}, r.ensurePoolsStep(key))
		g.add("eviction-policy:"+key, []string{db}, r.ensureEvictionPolicyStep(key))
		g.add("replicas:"+key, []string{db}, r.ensureReplicasStep(key))
		g.add("storage-autoscale:"+key, []string{db}, r.ensureStorageAutoscaleStep(key))
		g.add("config:"+key, []string{db}, r.ensureConfigStep(key))
		g.add("topics:"+key, []string{db}, r.ensureTopicsStep(key))
		g.add("provisioned:"+key, []string{"firewall:" + key, "pools:" + key, "eviction-policy:" + key, "replicas:" + key, "storage-autoscale:" + key, "config:" + key, "topics:" + key}, r.markProvisionedStep(key))
		projectDeps = append(projectDeps, db)
		retireDeps = append(retireDeps, "firewall:"+key)
	}
	for _, key := range sortedKeys(r.st.Databases) {
		if _, wanted := spec.Databases[key]; !wanted {
			g.add("remove-database:"+key, []string{"cluster"}, r.removeDatabaseStep(key))
		}
	}
	// A replaced cluster is retired only once every Secret is in the new one.
	retireDeps = append(retireDeps, r.addKubernetesSecretSteps(g)...)
	g.add("retire-old-cluster", retireDeps, r.retireOldCluster)
	g.add("project", projectDeps, r.assignProject)

	err := g.run(ctx)
	if err == nil {
		// Every part carries this state's identity now.
		r.update(func(st *Status) { st.ImportedByID = false })
	}
	return r.result(), err
}

// DeleteOptions says what destroy may delete.
type DeleteOptions struct {
	// Retain lists databases to leave running, detached from the cluster.
	Retain map[string]bool
	// Protected lists databases with deletion protection on. Destroy
	// refuses to delete them unless they never finished provisioning.
	Protected map[string]bool
}

// Delete removes the stack: the cluster, owned databases (unless retained
// or protected), the stack's firewall rules on attached and retained
// databases, and the VPC when the stack created it and nothing remains in it.
func (e *Engine) Delete(ctx context.Context, spec Spec, st *Status, opts DeleteOptions) (Result, error) {
	r := e.newRun(spec, st)
	// Refuse before touching anything: a destroy that stops halfway at a
	// protected database would already have taken the cluster.
	if err := r.checkClaims(); err != nil {
		return r.result(), err
	}
	if err := r.checkProtection(opts); err != nil {
		return r.result(), err
	}
	g := newGraph()
	var vpcDeps, clusterDeps []string
	for _, key := range sortedKeys(r.st.Databases) {
		name := "delete-database:" + key
		g.add(name, nil, r.deleteDatabaseStep(key, opts))
		vpcDeps = append(vpcDeps, name)
		// A database left running loses the cluster's rule before the
		// cluster goes: a k8s rule naming a deleted cluster makes
		// DigitalOcean refuse every firewall write that carries it, so a
		// concurrent writer that read the rule would fail, and a failed
		// detach keeps the cluster its rule names.
		if d := r.st.Databases[key]; !d.Owned || d.RetainOnDestroy || opts.Retain[key] {
			clusterDeps = append(clusterDeps, name)
		}
	}
	for _, key := range sortedKeys(r.st.KubernetesSecrets) {
		name := "delete-kubernetes-secret:" + key
		g.add(name, nil, r.deleteKubernetesSecretStep(key))
		clusterDeps = append(clusterDeps, name)
	}
	g.add("delete-cluster", clusterDeps, r.deleteClusterStep)
	vpcDeps = append(vpcDeps, "delete-cluster")
	g.add("delete-vpc", vpcDeps, r.deleteVPC)
	err := g.run(ctx)
	return r.result(), err
}

// checkProtection fails when destroy would delete a protected database that
// has held data.
func (r *run) checkProtection(opts DeleteOptions) error {
	var blocked []string
	for _, key := range sortedKeys(r.st.Databases) {
		d := r.st.Databases[key]
		protected := d.DeletionProtection
		if opts.Protected != nil {
			protected = opts.Protected[key]
		}
		// Every database the state recorded, provisioned or not: one that
		// was adopted after a lost answer may hold data already.
		if d.Owned && protected && !d.RetainOnDestroy && !opts.Retain[key] {
			blocked = append(blocked, fmt.Sprintf("%s (%s)", key, d.Name))
		}
	}
	if len(blocked) > 0 {
		return fmt.Errorf("refusing to destroy the stack: databases with deletion_protection on would be deleted: %v; set deletion_protection = false on them (and apply), or retain_on_destroy = true to keep them running, then destroy", blocked)
	}
	return nil
}

// Refresh reads every part the status records and returns what exists now.
// Parts deleted out of band drop out of the status so the next plan shows
// them; a cluster that vanished leaves Cluster nil.
func (e *Engine) Refresh(ctx context.Context, spec Spec, st *Status) (Result, error) {
	r := e.newRun(spec, st)
	g := newGraph()
	g.add("vpc", nil, r.refreshVPC)
	g.add("cluster", nil, r.refreshCluster)
	g.add("kubeconfig", []string{"cluster"}, r.refreshKubeconfig)
	for _, key := range sortedKeys(r.st.Databases) {
		g.add("database:"+key, []string{"cluster"}, r.refreshDatabaseStep(key))
	}
	for _, key := range sortedKeys(r.st.KubernetesSecrets) {
		deps := []string{"cluster"}
		if s := r.st.KubernetesSecrets[key]; s != nil {
			deps = append(deps, "database:"+s.Spec.Database)
		}
		if s, ok := spec.KubernetesSecrets[key]; ok {
			deps = append(deps, "database:"+s.Database)
		}
		g.add("kubernetes-secret:"+key, deps, r.refreshKubernetesSecretStep(key))
	}
	err := g.run(ctx)
	return r.result(), err
}

// isNotFound reports DigitalOcean's 404.
func isNotFound(err error) bool { return statusOf(err) == http.StatusNotFound }

func statusOf(err error) int {
	var er *godo.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode
	}
	return 0
}

// APIError wraps an API error with the operation and the object concerned,
// DigitalOcean's status, message and request id.
func APIError(op string, err error) error {
	var whole wholeAPIError
	if errors.As(err, &whole) {
		return &wrappedError{msg: op + ": " + whole.Error(), err: err}
	}
	var er *godo.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		msg := fmt.Sprintf("%s: DigitalOcean answered %d", op, er.Response.StatusCode)
		if er.Message != "" {
			msg += ": " + er.Message
		}
		if er.RequestID != "" {
			msg += " (request id " + er.RequestID + ")"
		}
		return &wrappedError{msg: msg, err: err}
	}
	return fmt.Errorf("%s: %w", op, err)
}

func apiErr(op string, err error) error { return APIError(op, err) }

// wholeAPIError is an error about the API as a whole rather than the object
// a call concerned (the token was rejected, the endpoint cannot be reached):
// its message already names the token's source or the endpoint and the fix,
// so APIError shows it without the request URL around it.
type wholeAPIError interface {
	error
	AboutTheWholeAPI()
}

// wrappedError carries a readable message and keeps the godo error
// reachable (errors.As) without repeating its text.
type wrappedError struct {
	msg string
	err error
}

func (e *wrappedError) Error() string { return e.msg }
func (e *wrappedError) Unwrap() error { return e.err }

func logf(ctx context.Context, msg string, fields map[string]any) {
	tflog.Debug(ctx, msg, fields)
}
