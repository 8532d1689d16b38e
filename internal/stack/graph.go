package stack

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/terraform-plugin-log/tflog"
)

// graph is a plan of steps with explicit dependencies. Run starts every step
// as soon as all its dependencies succeeded, so independent parts (the
// cluster and each database) provision at the same time.
//
// A failed step does not cancel the others: a database that is halfway
// through provisioning keeps going and gets recorded, so state always holds
// every object that exists. Steps depending on a failed step are skipped.
type graph struct {
	steps map[string]*step
	order []string
}

type step struct {
	name string
	deps []string
	run  func(ctx context.Context) error
}

func newGraph() *graph { return &graph{steps: map[string]*step{}} }

// add registers a step. Dependencies on steps that are not in the graph are
// ignored, so callers can depend on optional steps by name.
func (g *graph) add(name string, deps []string, run func(ctx context.Context) error) {
	if _, dup := g.steps[name]; dup {
		panic("stack: duplicate step " + name)
	}
	g.steps[name] = &step{name: name, deps: deps, run: run}
	g.order = append(g.order, name)
}

func (g *graph) has(name string) bool { _, ok := g.steps[name]; return ok }

// names lists the steps whose names start with prefix, sorted.
func (g *graph) names(prefix string) []string {
	var out []string
	for _, n := range g.order {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// StepError reports the steps that failed and those skipped because of them.
// Failed and Skipped hold the steps' internal names; its message speaks of
// the parts instead ("the database vectors", "retiring the old cluster").
type StepError struct {
	Failed  map[string]error
	Skipped []string
}

func (e *StepError) Error() string {
	names := make([]string, 0, len(e.Failed))
	for n := range e.Failed {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for i, n := range names {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "could not finish %s: %v", StepPhrase(n), e.Failed[n])
	}
	if len(e.Skipped) > 0 {
		fmt.Fprintf(&b, " (not started because of it: %s)", strings.Join(e.NotStarted(), ", "))
	}
	return b.String()
}

// NotStarted describes the skipped steps in words, in order.
func (e *StepError) NotStarted() []string {
	out := make([]string, len(e.Skipped))
	for i, n := range e.Skipped {
		out[i] = StepPhrase(n)
	}
	return out
}

// StepPhrase names a step for people: "database:vectors" is "the database
// vectors", "retire-old-cluster" is "retiring the old cluster". A step
// the engine does not know keeps its name, quoted.
func StepPhrase(name string) string {
	kind, key, keyed := strings.Cut(name, ":")
	if keyed {
		switch kind {
		case "database":
			return "the database " + key
		case "firewall":
			return "the firewall of database " + key
		case "dbs-users":
			return "the databases and users in database " + key
		case "credentials":
			return "the password rotations of database " + key
		case "pools":
			return "the connection pools of database " + key
		case "eviction-policy":
			return "the eviction policy of database " + key
		case "storage-autoscale":
			return "the storage autoscaling of database " + key
		case "user-settings":
			return "the user settings (ACLs, auth plugin) of database " + key
		case "topics":
			return "the Kafka topics of database " + key
		case "replicas":
			return "the read replicas of database " + key
		case "config":
			return "the engine settings of database " + key
		case "provisioned":
			return "recording that database " + key + " is provisioned"
		case "remove-database":
			return "removing the database " + key + " from the stack"
		case "delete-database":
			return "deleting the database " + key
		case "kubernetes-secret":
			return "the Kubernetes Secret " + key
		case "remove-kubernetes-secret":
			return "removing the Kubernetes Secret " + key
		case "delete-kubernetes-secret":
			return "deleting the Kubernetes Secret " + key
		}
	} else {
		switch name {
		case "vpc":
			return "the VPC"
		case "cluster":
			return "the cluster"
		case "kubeconfig":
			return "the cluster's kubeconfig"
		case "project":
			return "assigning the stack to its project"
		case "retire-old-cluster":
			return "retiring the old cluster"
		case "delete-cluster":
			return "deleting the cluster"
		case "delete-vpc":
			return "deleting the VPC"
		}
	}
	return strconv.Quote(name)
}

// Unwrap exposes the step errors to errors.Is/As.
func (e *StepError) Unwrap() []error {
	out := make([]error, 0, len(e.Failed))
	for _, err := range e.Failed {
		out = append(out, err)
	}
	return out
}

// run executes the graph. It returns nil or a *StepError.
func (g *graph) run(ctx context.Context) error {
	if err := g.check(); err != nil {
		return err
	}
	done := make(map[string]chan struct{}, len(g.steps))
	for n := range g.steps {
		done[n] = make(chan struct{})
	}
	var (
		mu      sync.Mutex
		failed  = map[string]error{}
		skipped []string
		wg      sync.WaitGroup
	)
	for _, name := range g.order {
		s := g.steps[name]
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done[s.name])
			for _, d := range s.deps {
				if ch, ok := done[d]; ok {
					<-ch
				}
			}
			mu.Lock()
			for _, d := range s.deps {
				_, depFailed := failed[d]
				if depFailed || contains(skipped, d) {
					skipped = append(skipped, s.name)
					mu.Unlock()
					return
				}
			}
			mu.Unlock()
			if err := ctx.Err(); err != nil {
				mu.Lock()
				failed[s.name] = fmt.Errorf("not started: %w", err)
				mu.Unlock()
				return
			}
			// Each step logs through its own copy of the logger's fields:
			// tflog's masking rewrites the field map in place, which two
			// goroutines sharing one context would race on.
			stepCtx := tflog.SetField(ctx, "stack_step", s.name)
			if err := s.run(stepCtx); err != nil {
				mu.Lock()
				failed[s.name] = err
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(failed) == 0 {
		return nil
	}
	sort.Strings(skipped)
	return &StepError{Failed: failed, Skipped: skipped}
}

// check rejects cycles, which would deadlock run.
func (g *graph) check() error {
	const (
		unvisited = iota
		visiting
		visited
	)
	state := map[string]int{}
	var visit func(n string) error
	visit = func(n string) error {
		switch state[n] {
		case visiting:
			return errors.New("stack: dependency cycle through step " + n)
		case visited:
			return nil
		}
		state[n] = visiting
		for _, d := range g.steps[n].deps {
			if _, ok := g.steps[d]; ok {
				if err := visit(d); err != nil {
					return err
				}
			}
		}
		state[n] = visited
		return nil
	}
	for _, n := range g.order {
		if err := visit(n); err != nil {
			return err
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
