// Command bench is `make bench`: it measures what users feel of the
// provider against the embedded emulator and prints one table:
//
//   - apply time of the quickstart stack against its critical path (the
//     longest chain of the emulator's scaled provisioning durations, which
//     no provider can beat);
//   - API requests per phase (create, no-op plan, in-place update, destroy);
//   - a 50-stack workspace planned under DigitalOcean's per-token rate
//     limits: wall time, 429s, errors, against the ideal the limit sets;
//   - N workspaces at once (workspaces.go): N separate Terraform processes,
//     one token, each applying and destroying its own stack under the rate
//     limits: errors, 429s, requests, wall against the critical path;
//   - footprint: binary size, provider peak memory, time to serve the schema.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
	"github.com/attach-labs/terraform-provider-attach/internal/provider"
	"github.com/attach-labs/terraform-provider-attach/internal/tfrun"
)

type options struct {
	terraform, provider, version, workdir string
	timeScale                             float64
	stacks                                int
	phases                                map[string]bool
	workspaces                            []workspaceRunSpec
	// scales: extra time scales at which the quickstart lifecycle is run
	// again, to show its request counts do not depend on the scale.
	scales []float64
}

// parseScales reads -compare-scales: comma-separated time scales.
func parseScales(v string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		s, err := strconv.ParseFloat(f, 64)
		if err != nil || s <= 0 {
			return nil, fmt.Errorf("-compare-scales: %q is not a positive number", f)
		}
		out = append(out, s)
	}
	return out, nil
}

// allPhases are the bench's phases, in the order they run.
var allPhases = []string{"quickstart", "scale", "workspaces", "footprint"}

func main() {
	var o options
	flag.StringVar(&o.terraform, "terraform", "bin/terraform", "Terraform CLI")
	flag.StringVar(&o.provider, "provider", "terraform-provider-attach", "provider binary (make build)")
	flag.StringVar(&o.version, "version", "0.1.0", "version to install the provider as")
	flag.StringVar(&o.workdir, "workdir", ".bench", "scratch directory (recreated)")
	// 30: a six-minute cluster takes 12 s, long enough that Terraform's own
	// fixed cost (process start, plan) stays small against it.
	flag.Float64Var(&o.timeScale, "time-scale", 30, "emulator time scale: a 6-minute cluster takes 6m/scale")
	flag.IntVar(&o.stacks, "stacks", 50, "stacks in the scale test")
	phases := flag.String("phases", strings.Join(allPhases, ","), "comma-separated phases to run: "+strings.Join(allPhases, ", "))
	// 30@40: thirty workspaces on a token other tools already spend (40 of
	// DigitalOcean's 250 requests a minute left), so 429s must be met and
	// honoured across processes.
	counts := flag.String("workspaces", "10,30,30@40", "comma-separated runs of the workspaces phase: N Terraform processes at once, or N@L under L requests per DigitalOcean minute")
	scales := flag.String("compare-scales", "", "also run the quickstart lifecycle at these time scales (comma-separated) and compare request counts")
	flag.Parse()
	var err error
	if o.phases, err = parsePhases(*phases); err == nil {
		o.workspaces, err = workspaceCounts(*counts)
	}
	if err == nil {
		o.scales, err = parseScales(*scales)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintf(os.Stderr, "bench failed: %v\n", err)
		os.Exit(1)
	}
}

// recorder keeps per-phase request counts by route and status, with the
// time of each request, from the emulator's exchange hook.
type recorder struct {
	mu     sync.Mutex
	phase  string
	counts map[string]map[string]int // phase -> "METHOD route" -> n
	status map[string]map[int]int    // phase -> status -> n
	first  map[string]time.Time
	last   map[string]time.Time
	writes map[string][2]time.Time // phase -> first and last write
}

func newRecorder() *recorder {
	return &recorder{counts: map[string]map[string]int{}, status: map[string]map[int]int{},
		first: map[string]time.Time{}, last: map[string]time.Time{}, writes: map[string][2]time.Time{}}
}

func (r *recorder) setPhase(p string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.phase = p
}

func (r *recorder) record(x emulator.Exchange) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.phase
	if r.counts[p] == nil {
		r.counts[p], r.status[p] = map[string]int{}, map[int]int{}
		r.first[p] = now
	}
	route := x.Route
	if route == "" {
		route = x.Method + " " + x.Path
	}
	r.counts[p][route]++
	r.status[p][x.Status]++
	r.last[p] = now
	if x.Method != "GET" {
		w := r.writes[p]
		if w[0].IsZero() {
			w[0] = now
		}
		w[1] = now
		r.writes[p] = w
	}
}

func (r *recorder) total(p string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, v := range r.counts[p] {
		n += v
	}
	return n
}

type row struct{ metric, value, target string }

func run(ctx context.Context, o options) error {
	for _, p := range []*string{&o.terraform, &o.provider, &o.workdir} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		*p = abs
	}
	var rows []row
	add := func(metric, value, target string) { rows = append(rows, row{metric, value, target}) }

	var quick string
	var failed error // a workspaces run that failed: reported after the table
	if o.phases["quickstart"] {
		var err error
		if quick, err = quickstart(ctx, o, o.timeScale, add); err != nil {
			return err
		}
		for _, s := range o.scales {
			if _, err := quickstart(ctx, o, s, add); err != nil {
				return err
			}
		}
	}
	if o.phases["scale"] {
		if err := scale(ctx, o, add); err != nil {
			return err
		}
	}
	if o.phases["workspaces"] {
		for _, spec := range o.workspaces {
			if err := workspaces(ctx, o, spec, add); err != nil {
				if ctx.Err() != nil {
					return err
				}
				failed = errors.Join(failed, err)
			}
		}
	}
	if o.phases["footprint"] {
		if err := footprint(ctx, o, add); err != nil {
			return err
		}
	}

	fmt.Printf("\nattach provider benchmark (emulator time scale %g; %s)\n\n", o.timeScale, time.Now().UTC().Format(time.RFC3339))
	w := max(40, maxLen(rows))
	fmt.Printf("| %-*s | %-28s | %s\n", w, "metric", "value", "target")
	fmt.Printf("|%s|%s|%s\n", strings.Repeat("-", w+2), strings.Repeat("-", 30), strings.Repeat("-", 20))
	for _, r := range rows {
		fmt.Printf("| %-*s | %-28s | %s\n", w, r.metric, r.value, r.target)
	}
	fmt.Println()
	if quick != "" {
		fmt.Println(quick)
	}
	return failed
}

// parsePhases reads -phases ("workspaces", "quickstart,scale").
func parsePhases(s string) (map[string]bool, error) {
	known := map[string]bool{}
	for _, p := range allPhases {
		known[p] = true
	}
	phases := map[string]bool{}
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if !known[p] {
			return nil, fmt.Errorf("-phases: unknown phase %q; the phases are %s", p, strings.Join(allPhases, ", "))
		}
		phases[p] = true
	}
	if len(phases) == 0 {
		return nil, fmt.Errorf("-phases %q names no phase; the phases are %s", s, strings.Join(allPhases, ", "))
	}
	return phases, nil
}

func maxLen(rows []row) int {
	n := 0
	for _, r := range rows {
		n = max(n, len(r.metric))
	}
	return n
}

func scaled(d time.Duration, s float64) time.Duration { return time.Duration(float64(d) / s) }

// quickstart applies examples/quickstart, plans it, updates it, destroys it.
// At a time scale other than -time-scale (a -compare-scales run) it adds
// only the rows that show the request counts and apply time at that scale.
func quickstart(ctx context.Context, o options, timeScale float64, add func(string, string, string)) (string, error) {
	primary := timeScale == o.timeScale
	if !primary {
		inner := add
		add = func(metric, value, target string) {
			if strings.HasPrefix(metric, "quickstart lifecycle") || strings.HasPrefix(metric, "quickstart apply: terraform wall") {
				inner(fmt.Sprintf("[scale %g] %s", timeScale, metric), value, target)
			}
		}
	}
	srv, err := emulator.Start(emulator.Config{TimeScale: timeScale})
	if err != nil {
		return "", err
	}
	defer srv.Close()
	rec := newRecorder()
	srv.SetRecorder(rec.record)
	ws, err := tfrun.New(filepath.Join(o.workdir, fmt.Sprintf("quickstart-%g", timeScale)), o.terraform, o.provider, o.version, "examples/quickstart")
	if err != nil {
		return "", err
	}
	ws.Point(srv.URL, srv.Token)
	// This emulator has no data plane, so no Kubernetes API server behind
	// the cluster to write the quickstart's connection Secret into: the
	// bench measures the API lifecycle, without it.
	ws.Env = append(ws.Env, "TF_VAR_disable_kubernetes_secrets=true")
	quiet := &bytes.Buffer{}
	rec.setPhase("init")
	if err := ws.Run(ctx, quiet, "init", "-input=false", "-no-color"); err != nil {
		return "", err
	}

	rec.setPhase("create")
	start := time.Now()
	if err := ws.Run(ctx, quiet, "apply", "-auto-approve", "-no-color"); err != nil {
		return "", err
	}
	wall := time.Since(start)
	critical := scaled(max(emulator.ClusterProvisionDuration, emulator.DatabaseCreateDuration), timeScale)
	writes := rec.writes["create"]
	providerSide := rec.last["create"].Sub(writes[0])
	add("quickstart apply: terraform wall / critical path", fmt.Sprintf("%.3f (%s / %s)", wall.Seconds()/critical.Seconds(), wall.Round(time.Millisecond), critical), "<= 1.05")
	add("quickstart apply: first write to last call / critical path", fmt.Sprintf("%.3f (%s)", providerSide.Seconds()/critical.Seconds(), providerSide.Round(time.Millisecond)), "<= 1.05")
	add("quickstart create: API requests", fmt.Sprint(rec.total("create")), "")
	rec.mu.Lock()
	counts := rec.counts["create"]
	clusterPolls := counts["GET /v2/kubernetes/clusters"] + counts["GET /v2/kubernetes/clusters/{cluster_id}"]
	dbPolls := counts["GET /v2/databases"] + counts["GET /v2/databases/{database_cluster_uuid}"]
	rec.mu.Unlock()
	add("  cluster wait: status reads per provisioning minute", fmt.Sprintf("%.1f (%d over %s)", float64(clusterPolls)/emulator.ClusterProvisionDuration.Minutes(), clusterPolls, emulator.ClusterProvisionDuration), "a few")
	add("  2 database waits: status reads per provisioning minute", fmt.Sprintf("%.1f (%d over %s, shared)", float64(dbPolls)/emulator.DatabaseCreateDuration.Minutes(), dbPolls, emulator.DatabaseCreateDuration), "a few")

	rec.setPhase("refresh")
	if err := ws.Run(ctx, quiet, "plan", "-detailed-exitcode", "-no-color"); err != nil {
		return "", fmt.Errorf("the plan after apply is not empty (or failed): %w", err)
	}
	add("no-op plan (refresh): API requests", fmt.Sprint(rec.total("refresh")), "each part read once")

	rec.setPhase("update")
	if err := ws.Run(ctx, quiet, "apply", "-auto-approve", "-no-color", "-var", "gpu_max_nodes=4"); err != nil {
		return "", err
	}
	add("in-place update (GPU bounds): API requests", fmt.Sprint(rec.total("update")), "")

	rec.setPhase("destroy")
	start = time.Now()
	if err := ws.Run(ctx, quiet, "destroy", "-auto-approve", "-no-color", "-var", "gpu_max_nodes=4"); err != nil {
		return "", err
	}
	add("destroy: API requests / wall", fmt.Sprintf("%d / %s", rec.total("destroy"), time.Since(start).Round(time.Millisecond)), "")
	if inv := srv.Inventory(); !inv.Empty() {
		return "", fmt.Errorf("destroy left objects:\n%s", inv)
	}
	lifecycle := 0
	for _, p := range []string{"create", "refresh", "update", "destroy"} {
		lifecycle += rec.total(p)
	}
	add("quickstart lifecycle: API requests (create/refresh/update/destroy, 404s in destroy)",
		fmt.Sprintf("%d (%d/%d/%d/%d, %d)", lifecycle, rec.total("create"), rec.total("refresh"), rec.total("update"), rec.total("destroy"), rec.status["destroy"][404]),
		"<= 80 (half the official provider's 160)")
	return phaseTable(rec, "create", "refresh", "update", "destroy"), nil
}

// phaseTable lists requests by route for each phase.
func phaseTable(rec *recorder, phases ...string) string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	routes := map[string]bool{}
	for _, p := range phases {
		for r := range rec.counts[p] {
			routes[r] = true
		}
	}
	sorted := make([]string, 0, len(routes))
	for r := range routes {
		sorted = append(sorted, r)
	}
	sort.Strings(sorted)
	var b strings.Builder
	fmt.Fprintf(&b, "requests by route and phase (quickstart)\n\n| %-70s |", "route")
	for _, p := range phases {
		fmt.Fprintf(&b, " %7s |", p)
	}
	b.WriteString("\n|" + strings.Repeat("-", 72) + "|" + strings.Repeat("---------|", len(phases)) + "\n")
	for _, r := range sorted {
		fmt.Fprintf(&b, "| %-70s |", r)
		for _, p := range phases {
			fmt.Fprintf(&b, " %7d |", rec.counts[p][r])
		}
		b.WriteString("\n")
	}
	return b.String()
}

// stacksConfig is a workspace of n small stacks (cluster + one pg).
func stacksConfig(n int) string {
	return smallStacksConfig(fmt.Sprintf("count  = %d\n  name   = format(\"bench-%%02d\", count.index)", n))
}

// smallStacksConfig is a workspace whose one resource block is a small
// stack (cluster + one pg) named by naming (a name, or count and a name).
func smallStacksConfig(naming string) string {
	return fmt.Sprintf(`
terraform {
  required_providers {
    attach = { source = "attach-labs/attach" }
  }
}

provider "attach" {}

resource "attach_inference_stack" "s" {
  %s
  region = "nyc3"
  cluster = {
    system_pool = { size = "s-2vcpu-4gb", node_count = 1 }
  }
  databases = {
    app = {
      engine              = "pg"
      size                = "db-s-1vcpu-2gb"
      deletion_protection = false
    }
  }
}
`, naming)
}

// scale plans a workspace of many stacks under DigitalOcean's rate limits.
func scale(ctx context.Context, o options, add func(string, string, string)) error {
	srv, err := emulator.Start(emulator.Config{TimeScale: o.timeScale})
	if err != nil {
		return err
	}
	defer srv.Close()
	rec := newRecorder()
	srv.SetRecorder(rec.record)
	ws, err := tfrun.New(filepath.Join(o.workdir, "scale"), o.terraform, o.provider, o.version, "")
	if err != nil {
		return err
	}
	ws.Point(srv.URL, srv.Token)
	if err := ws.WriteFile("main.tf", stacksConfig(o.stacks)); err != nil {
		return err
	}
	quiet := &bytes.Buffer{}
	rec.setPhase("init")
	if err := ws.Run(ctx, quiet, "init", "-input=false", "-no-color"); err != nil {
		return err
	}
	rec.setPhase("create")
	start := time.Now()
	if err := ws.Run(ctx, quiet, "apply", "-auto-approve", "-no-color"); err != nil {
		return err
	}
	add(fmt.Sprintf("%d-stack apply: wall / requests / 429s", o.stacks),
		fmt.Sprintf("%s / %d / %d", time.Since(start).Round(time.Millisecond), rec.total("create"), rec.status["create"][429]), "")

	// Terraform's own cost of planning this workspace, with no API call.
	rec.setPhase("plan-norefresh")
	start = time.Now()
	if err := ws.Run(ctx, quiet, "plan", "-refresh=false", "-detailed-exitcode", "-no-color"); err != nil {
		return fmt.Errorf("the %d-stack plan without refresh failed or was not empty: %w", o.stacks, err)
	}
	add(fmt.Sprintf("%d-stack plan -refresh=false (Terraform's own cost)", o.stacks), time.Since(start).Round(time.Millisecond).String(), "")

	rec.setPhase("plan")
	mem := watchPeakRSS(ctx)
	start = time.Now()
	err = ws.Run(ctx, quiet, "plan", "-detailed-exitcode", "-no-color")
	wall := time.Since(start)
	peak := mem()
	if err != nil {
		return fmt.Errorf("the %d-stack plan failed or was not empty: %w", o.stacks, err)
	}
	perSecond := float64(emulator.DORateLimitPerMinute) * o.timeScale / 60
	ideal := time.Duration(float64(rec.total("plan")) / perSecond * float64(time.Second))
	errs := 0
	for st, n := range rec.status["plan"] {
		if st >= 400 && st != 429 {
			errs += n
		}
	}
	add(fmt.Sprintf("%d-stack plan: wall (API time at the rate limit)", o.stacks), fmt.Sprintf("%s (%s)", wall.Round(time.Millisecond), ideal.Round(time.Millisecond)), "close to ideal + Terraform's cost")
	add(fmt.Sprintf("%d-stack plan: requests / 429s / errors", o.stacks), fmt.Sprintf("%d / %d / %d", rec.total("plan"), rec.status["plan"][429], errs), "errors = 0")
	add("provider peak RSS during the plan", fmt.Sprintf("%.1f MiB", float64(peak)/1024), "")

	rec.setPhase("destroy")
	if err := ws.Run(ctx, quiet, "destroy", "-auto-approve", "-no-color"); err != nil {
		return err
	}
	return nil
}

// watchPeakRSS samples the peak resident set (VmHWM, KiB) of running
// terraform-provider-attach processes until the returned func is called.
func watchPeakRSS(ctx context.Context) func() int {
	var mu sync.Mutex
	peak := 0
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
			for _, c := range procs {
				b, err := os.ReadFile(c)
				if err != nil || !bytes.Contains(b, []byte("terraform-provider-attach")) {
					continue
				}
				status, err := os.ReadFile(filepath.Join(filepath.Dir(c), "status"))
				if err != nil {
					continue
				}
				for _, line := range strings.Split(string(status), "\n") {
					var kb int
					if _, err := fmt.Sscanf(line, "VmHWM: %d kB", &kb); err == nil {
						mu.Lock()
						peak = max(peak, kb)
						mu.Unlock()
					}
				}
			}
		}
	}()
	return func() int {
		close(done)
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

// footprint: binary size and time to serve the schema.
func footprint(ctx context.Context, o options, add func(string, string, string)) error {
	st, err := os.Stat(o.provider)
	if err != nil {
		return err
	}
	add("provider binary size", fmt.Sprintf("%.1f MiB", float64(st.Size())/(1<<20)), "")
	server, err := providerserver.NewProtocol6WithError(provider.New("bench", "")())()
	if err != nil {
		return err
	}
	const runs = 20
	start := time.Now()
	for range runs {
		resp, err := server.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
		if err != nil {
			return err
		}
		if len(resp.Diagnostics) > 0 {
			return fmt.Errorf("schema diagnostics: %v", resp.Diagnostics[0].Summary)
		}
	}
	add("GetProviderSchema, in process (mean of 20)", (time.Since(start) / runs).Round(time.Microsecond).String(), "")
	ws, err := tfrun.New(filepath.Join(o.workdir, "schema"), o.terraform, o.provider, o.version, "")
	if err != nil {
		return err
	}
	if err := ws.WriteFile("main.tf", `terraform {
  required_providers {
    attach = { source = "attach-labs/attach" }
  }
}
`); err != nil {
		return err
	}
	quiet := &bytes.Buffer{}
	if err := ws.Run(ctx, quiet, "init", "-input=false", "-no-color"); err != nil {
		return err
	}
	start = time.Now()
	if err := ws.Run(ctx, quiet, "providers", "schema", "-json"); err != nil {
		return err
	}
	add("terraform providers schema -json (wall)", time.Since(start).Round(time.Millisecond).String(), "")
	return nil
}
