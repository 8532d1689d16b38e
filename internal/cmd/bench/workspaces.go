package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
	"github.com/attach-labs/terraform-provider-attach/internal/tfrun"
)

// workspaceCounts parses the -workspaces flag ("10,30").
func workspaceCounts(s string) ([]workspaceRunSpec, error) {
	var out []workspaceRunSpec
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		spec := workspaceRunSpec{limit: emulator.DORateLimitPerMinute}
		count, limit, tight := strings.Cut(f, "@")
		n, err := strconv.Atoi(count)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-workspaces %q: %q is not a positive number of workspaces (N, or N@limit)", s, f)
		}
		spec.n = n
		if tight {
			if spec.limit, err = strconv.Atoi(limit); err != nil || spec.limit < 1 {
				return nil, fmt.Errorf("-workspaces %q: %q: the limit after @ is requests per DigitalOcean minute, a positive number", s, f)
			}
		}
		out = append(out, spec)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-workspaces %q names no workspace count, e.g. 10,30", s)
	}
	return out, nil
}

// workspaceRunSpec is one run of the workspaces phase: n processes under a
// per-token limit of requests per DigitalOcean minute (DigitalOcean's 250,
// or less to stand for a token other tools are already spending).
type workspaceRunSpec struct{ n, limit int }

// label names the run in the table.
func (w workspaceRunSpec) label() string {
	if w.limit == emulator.DORateLimitPerMinute {
		return fmt.Sprintf("%d workspaces", w.n)
	}
	return fmt.Sprintf("%d workspaces @%d/min", w.n, w.limit)
}

// oneStackConfig is a workspace of its own small stack (cluster + one pg,
// as stacksConfig), named so that N workspaces never share a stack.
func oneStackConfig(name string) string {
	return smallStacksConfig(fmt.Sprintf("name   = %q", name))
}

// rateLimitBound is the least wall time in which DigitalOcean's fixed
// per-token windows (a minute and an hour, scaled like the emulator's)
// admit requests answered calls: ceil(requests/limit)-1 full windows.
func rateLimitBound(requests, perMinute int, timeScale float64) time.Duration {
	bound := time.Duration(0)
	for _, w := range []struct {
		limit  int
		window time.Duration
	}{{perMinute, time.Minute}, {emulator.DORateLimitPerHour, time.Hour}} {
		full := int(math.Ceil(float64(requests)/float64(w.limit))) - 1
		bound = max(bound, time.Duration(full)*scaled(w.window, timeScale))
	}
	return bound
}

// workspaceRun is one Terraform working directory of the phase.
type workspaceRun struct {
	name string
	ws   *tfrun.Workspace
	out  bytes.Buffer // stdout and stderr of every command
	err  error
}

// workspaces runs n separate Terraform processes at once against one
// emulator and one token, DigitalOcean's rate limits on, each applying and
// then destroying its own stack. The processes share no pacer, so every
// 429 is answered by the provider honouring Retry-After/RateLimit-Reset.
func workspaces(ctx context.Context, o options, spec workspaceRunSpec, add func(string, string, string)) error {
	n, label := spec.n, spec.label()
	srv, err := emulator.Start(emulator.Config{TimeScale: o.timeScale, RateLimitPerMinute: spec.limit})
	if err != nil {
		return err
	}
	defer srv.Close()
	rec := newRecorder()
	srv.SetRecorder(rec.record)
	root := filepath.Join(o.workdir, fmt.Sprintf("workspaces-%d-%d", n, spec.limit))
	runs := make([]*workspaceRun, n)
	for i := range runs {
		r := &workspaceRun{name: fmt.Sprintf("ws%d-%02d", n, i)}
		if r.ws, err = tfrun.New(filepath.Join(root, r.name), o.terraform, o.provider, o.version, ""); err != nil {
			return err
		}
		r.ws.Point(srv.URL, srv.Token)
		r.ws.Stderr = &r.out
		if err := r.ws.WriteFile("main.tf", oneStackConfig(r.name)); err != nil {
			return err
		}
		runs[i] = r
	}

	// init makes no API call: run a few at a time, outside the timing.
	rec.setPhase("init")
	if err := eachRun(runs, 4, func(r *workspaceRun) error {
		return r.ws.Run(ctx, &r.out, "init", "-input=false", "-no-color")
	}); err != nil {
		return err
	}

	phase := fmt.Sprintf("workspaces-%d-%d", n, spec.limit)
	rec.setPhase(phase)
	start := time.Now()
	var wg sync.WaitGroup
	for _, r := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r.err = r.ws.Run(ctx, &r.out, "apply", "-auto-approve", "-no-color"); r.err != nil {
				return
			}
			r.err = r.ws.Run(ctx, &r.out, "destroy", "-auto-approve", "-no-color")
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	if ctx.Err() != nil {
		return ctx.Err()
	}

	failed := 0
	for _, r := range runs {
		if r.err != nil {
			failed++
			fmt.Fprintf(os.Stderr, "\n=== workspace %s failed (%v); its output:\n%s\n", r.name, r.err, r.out.String())
		}
	}
	total := rec.total(phase)
	rec.mu.Lock()
	limited := rec.status[phase][429]
	rec.mu.Unlock()
	answered := total - limited
	// One stack's apply + destroy can take no less than its longest create,
	// then its VPC's wait for the deleted cluster's nodes to leave it.
	critical := scaled(max(emulator.ClusterProvisionDuration, emulator.DatabaseCreateDuration)+
		max(emulator.DeleteDuration, emulator.DefaultRealism.DropletLinger), o.timeScale)
	bound := rateLimitBound(answered, spec.limit, o.timeScale)
	ideal := max(critical, bound)
	add(label+" (processes), apply + destroy each: errors", fmt.Sprint(failed), "0")
	add(label+": requests / 429s answered", fmt.Sprintf("%d / %d", total, limited), "")
	add(label+": wall / one stack's apply+destroy critical path",
		fmt.Sprintf("%.2f (%s / %s)", wall.Seconds()/critical.Seconds(), wall.Round(time.Millisecond), critical), "")
	add(fmt.Sprintf("%s: wall / ideal (rate-limit bound %s)", label, bound.Round(time.Millisecond)),
		fmt.Sprintf("%.2f (ideal %s)", wall.Seconds()/ideal.Seconds(), ideal.Round(time.Millisecond)), "close to 1 + Terraform's cost")

	if inv := srv.Inventory(); !inv.Empty() {
		return fmt.Errorf("%s: the destroys left objects:\n%s", label, inv)
	}
	if failed > 0 {
		return fmt.Errorf("%s: %d of %d workspaces failed to apply or destroy (output above)", label, failed, n)
	}
	return nil
}

// eachRun calls f for every run, at most par at a time; the first error,
// with the run's output, is returned.
func eachRun(runs []*workspaceRun, par int, f func(*workspaceRun) error) error {
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	errs := make([]error, len(runs))
	for i, r := range runs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := f(r); err != nil {
				errs[i] = fmt.Errorf("workspace %s: %w\n%s", r.name, err, r.out.String())
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
