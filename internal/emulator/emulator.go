// Package emulator is a stateful, in-memory server that speaks the subset of
// the DigitalOcean v2 API this provider uses, the way godo expects it:
// asynchronous lifecycles with realistic (scaled) timing, DigitalOcean's error
// bodies and status codes, per-token rate limits, pagination, and fault
// injection for tests. It lets every test, and every user, plan and apply
// without a cloud account.
package emulator

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

// DefaultToken is the bearer token an emulator accepts when none is configured.
const DefaultToken = "emulator-token"

// TimeScaleHeader is the response header in which the emulator says how
// much faster than real time it runs (DigitalOcean never sends it).
const TimeScaleHeader = "X-Attach-Emulator-Time-Scale"

// DefaultTimeScale divides DigitalOcean's real provisioning durations: at 120
// a six-minute cluster is ready in three seconds, so a whole stack comes up in
// a few seconds while keeping the real ratios between parts.
const DefaultTimeScale = 120.0

// Real DigitalOcean durations, before scaling.
const (
	ClusterProvisionDuration  = 6 * time.Minute
	NodePoolProvisionDuration = 4 * time.Minute
	GPUPoolProvisionDuration  = 8 * time.Minute
	DatabaseCreateDuration    = 5 * time.Minute
	ReplicaCreateDuration     = 5 * time.Minute
	DatabaseResizeDuration    = 3 * time.Minute
	ClusterUpgradeDuration    = 5 * time.Minute
	DeleteDuration            = 1 * time.Minute
)

// DigitalOcean's per-token API limits.
const (
	DORateLimitPerMinute = 250
	DORateLimitPerHour   = 5000
)

// Config configures an emulator. The zero value is usable.
type Config struct {
	// Addr is the listen address used by Start; default "127.0.0.1:0".
	Addr string
	// Token is the accepted bearer token; default DefaultToken.
	Token string
	// ExtraTokens are further accepted tokens (each has its own rate limit).
	ExtraTokens []string
	// TimeScale divides real provisioning durations and rate-limit windows;
	// default DefaultTimeScale.
	TimeScale float64
	// RateLimitPerMinute and RateLimitPerHour default to DigitalOcean's 250
	// and 5,000; a negative value disables that limit.
	RateLimitPerMinute int
	RateLimitPerHour   int
	// Logf, when set, receives one line per request.
	Logf func(format string, args ...any)
	// Realism is DigitalOcean's rough edges (eventual consistency, held
	// names, preconditions...), on by default; Realism.Ideal turns them off.
	Realism Realism
	// DataPlane backs PostgreSQL clusters, their PgBouncer pools and Valkey
	// clusters with real local servers on loopback ports, reached over TLS
	// with the cluster's CA (dataplane.go). Off by default; it needs
	// PostgreSQL, pgbouncer and redis-server (or valkey-server) installed.
	// DOKS clusters get a real kube-apiserver and etcd each too
	// (dataplane_kube.go) when those are found ($ATTACH_ETCD and
	// $ATTACH_KUBE_APISERVER, ./bin from make tools-kube, or PATH); without
	// them they keep today's endpoints, with a logged notice
	// (KubeDataPlaneErr says why).
	DataPlane bool
	// DataPlaneLogf receives the data plane's start-up lines; default Logf,
	// else the standard logger.
	DataPlaneLogf func(format string, args ...any)
}

// ConfigFromEnv reads ATTACH_EMULATOR_ADDR, ATTACH_EMULATOR_TOKEN,
// ATTACH_EMULATOR_TIME_SCALE and ATTACH_EMULATOR_IDEAL (1 or true: the
// happy path, without DigitalOcean's rough edges).
func ConfigFromEnv() Config {
	cfg := Config{Addr: os.Getenv("ATTACH_EMULATOR_ADDR"), Token: os.Getenv("ATTACH_EMULATOR_TOKEN")}
	if ideal, err := strconv.ParseBool(os.Getenv("ATTACH_EMULATOR_IDEAL")); err == nil {
		cfg.Realism.Ideal = ideal
	}
	if v := os.Getenv("ATTACH_EMULATOR_TIME_SCALE"); v != "" {
		if f, err := strconv.ParseFloat(v, 64); err == nil && f > 0 {
			cfg.TimeScale = f
		}
	}
	return cfg
}

func (c Config) withDefaults() Config {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:0"
	}
	if c.Token == "" {
		c.Token = DefaultToken
	}
	if c.TimeScale <= 0 || math.IsNaN(c.TimeScale) || math.IsInf(c.TimeScale, 0) {
		c.TimeScale = DefaultTimeScale
	}
	if c.RateLimitPerMinute == 0 {
		c.RateLimitPerMinute = DORateLimitPerMinute
	}
	if c.RateLimitPerHour == 0 {
		c.RateLimitPerHour = DORateLimitPerHour
	}
	c.Realism = c.Realism.withDefaults()
	return c
}

// Emulator is the in-memory DigitalOcean API. It is an http.Handler.
//
// One mutex guards all state: each API request runs under it, so handlers
// see a consistent world and never lock on their own.
type Emulator struct {
	cfg    Config
	tokens map[string]bool
	routes *router

	mu       sync.Mutex
	clock    func() time.Time
	families []family
	vpcs     *vpcStore
	k8s      *kubernetesStore
	dbs      *databaseStore
	projects *projectStore
	tags     *tagStore

	// everOpen names the database clusters that at some moment had no
	// firewall rules (EverOpenDatabases).
	everOpen map[string]bool
	// mongoUserCreated is when each MongoDB cluster, by id, last accepted
	// a user create (database_users.go).
	mongoUserCreated map[string]time.Time

	// heldNames are names of deleted objects DigitalOcean does not yet
	// give out again (Realism.NameHold), by namespace then name.
	heldNames map[string]map[string]time.Time

	limiter  *rateLimiter
	faults   *faultSet
	requests *requestLog
	failures map[TransitionKind]int
	recorder func(Exchange)

	// dp runs the data plane's servers (nil unless Config.DataPlane);
	// dpErr is why it could not start.
	dp    *dataPlane
	dpErr error
}

// family is one API area (VPCs, Kubernetes, databases, projects, tags). Families
// keep their own state and take part in time, inventory and reset.
type family interface {
	register(r *router)
	// advance applies every timed transition due at now.
	advance(now time.Time)
	inventory() []Item
	reset()
}

// New returns an emulator with empty state (plus DigitalOcean's defaults,
// such as the default project).
func New(cfg Config) *Emulator {
	cfg = cfg.withDefaults()
	e := &Emulator{
		cfg:       cfg,
		tokens:    map[string]bool{cfg.Token: true},
		routes:    newRouter(),
		clock:     time.Now,
		faults:    newFaultSet(),
		requests:  newRequestLog(),
		failures:  map[TransitionKind]int{},
		heldNames: map[string]map[string]time.Time{},

		everOpen:         map[string]bool{},
		mongoUserCreated: map[string]time.Time{},
	}
	for _, t := range cfg.ExtraTokens {
		e.tokens[t] = true
	}
	e.limiter = newRateLimiter(cfg.RateLimitPerMinute, cfg.RateLimitPerHour, e.scaled)
	e.vpcs = newVPCStore(e)
	e.k8s = newKubernetesStore(e)
	e.dbs = newDatabaseStore(e)
	e.projects = newProjectStore(e)
	e.tags = newTagStore(e)
	e.families = []family{e.vpcs, e.k8s, e.dbs, e.projects, e.tags}
	for _, f := range e.families {
		f.register(e.routes)
	}
	if cfg.DataPlane {
		logf := cfg.DataPlaneLogf
		if logf == nil {
			logf = cfg.Logf
		}
		e.dp, e.dpErr = newDataPlane(logf)
		if e.dpErr == nil {
			e.dp.logf("data plane on: PostgreSQL and Valkey clusters and PgBouncer pools run as real servers; their connection details name %s and loopback ports, not DigitalOcean hosts", dpLoopback)
			if e.dp.kubeErr != nil {
				e.dp.logf("data plane: DOKS clusters keep DigitalOcean-shaped endpoints nothing answers on: %v", e.dp.kubeErr)
			} else {
				e.dp.logf("data plane: each DOKS cluster runs a real kube-apiserver (%s) with its own etcd (%s) on %s", e.dp.kubeBins.APIServer, e.dp.kubeBins.Etcd, dpLoopback)
			}
		}
	}
	return e
}

// Close stops the data plane's servers and removes their files (a no-op
// without Config.DataPlane). The emulator must not be used afterwards.
func (e *Emulator) Close() {
	e.dp.close()
}

// DataPlaneErr is why Config.DataPlane could not be honoured (missing
// server programs), or nil.
func (e *Emulator) DataPlaneErr() error { return e.dpErr }

// Config returns the effective configuration.
func (e *Emulator) Config() Config { return e.cfg }

// TimeScale is the divisor applied to real DigitalOcean durations.
func (e *Emulator) TimeScale() float64 { return e.cfg.TimeScale }

// scaled converts a real DigitalOcean duration into emulator wall time.
func (e *Emulator) scaled(d time.Duration) time.Duration {
	return time.Duration(float64(d) / e.cfg.TimeScale)
}

func (e *Emulator) now() time.Time { return e.clock() }

// advanceLocked applies all transitions due now. Callers hold e.mu.
func (e *Emulator) advanceLocked() time.Time {
	now := e.now()
	for _, f := range e.families {
		f.advance(now)
	}
	return now
}

// Inventory lists every live object, after applying due transitions.
func (e *Emulator) Inventory() Inventory {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.advanceLocked()
	var inv Inventory
	for _, f := range e.families {
		inv.Items = append(inv.Items, f.inventory()...)
	}
	return inv
}

// Reset drops all state, faults, pending transition failures, request counts
// and rate-limit windows.
func (e *Emulator) Reset() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, f := range e.families {
		f.reset()
	}
	e.dp.stopAll()
	e.failures = map[TransitionKind]int{}
	e.heldNames = map[string]map[string]time.Time{}
	e.everOpen = map[string]bool{}
	e.mongoUserCreated = map[string]time.Time{}
	e.faults.clear()
	e.requests.reset()
	e.limiter.reset()
}

// SetRecorder registers a function that receives every request/response
// exchange (used by contract tests). Pass nil to stop recording.
func (e *Emulator) SetRecorder(fn func(Exchange)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.recorder = fn
}

// newID returns a random UUID (version 4), the form DigitalOcean uses for ids.
func newID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// randomHex returns n random bytes hex-encoded (for passwords and hosts).
func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// Server is an emulator listening on a TCP address.
type Server struct {
	*Emulator
	// URL is the API base URL, e.g. "http://127.0.0.1:41234".
	URL string
	// Token is the bearer token the server accepts.
	Token string

	httpServer *http.Server
	listener   net.Listener
	done       chan struct{}
}

// Start runs an emulator on cfg.Addr (default an ephemeral loopback port).
func Start(cfg Config) (*Server, error) {
	e := New(cfg)
	if e.dpErr != nil {
		return nil, fmt.Errorf("emulator: %w", e.dpErr)
	}
	ln, err := net.Listen("tcp", e.cfg.Addr)
	if err != nil {
		e.Close()
		return nil, fmt.Errorf("emulator: listening on %s: %w", e.cfg.Addr, err)
	}
	s := &Server{
		Emulator:   e,
		URL:        "http://" + ln.Addr().String(),
		Token:      e.cfg.Token,
		httpServer: &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second},
		listener:   ln,
		done:       make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		_ = s.httpServer.Serve(ln)
	}()
	return s, nil
}

// Close stops the server immediately, closing open connections, then the
// data plane's servers.
func (s *Server) Close() error {
	err := s.httpServer.Close()
	<-s.done
	s.Emulator.Close()
	return err
}
