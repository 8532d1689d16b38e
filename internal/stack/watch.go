package stack

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/digitalocean/godo"
)

// Watcher shares status polling between everything one provider process
// waits for or refreshes: one list request per kind serves every cluster
// (or database) being waited on at that moment, so fifty stacks
// provisioning at once cost two requests per round, not a hundred and
// fifty. A list only answers for an object if it was fetched after the
// caller's notBefore (after the object was created), so a new object is
// never taken for a deleted one; an object missing from a fresh list is
// confirmed with a direct GET (which gives the precise 404).
type Watcher struct {
	clusters listCache[*godo.KubernetesCluster]
	dbs      listCache[*godo.Database]
}

// listCache is one kind's latest list and the fetch in flight.
type listCache[T any] struct {
	mu        sync.Mutex
	started   time.Time // when the cached list's fetch started
	items     map[string]T
	inflight  chan struct{}
	flightAt  time.Time
	flightErr error
}

// get returns a list whose fetch started at or after notBefore and no
// longer than maxAge ago, joining a fetch in flight when it qualifies.
func (c *listCache[T]) get(ctx context.Context, notBefore time.Time, maxAge time.Duration, fetch func(context.Context) (map[string]T, error)) (map[string]T, error) {
	for {
		c.mu.Lock()
		if c.items != nil && !c.started.Before(notBefore) && time.Since(c.started) <= maxAge {
			items := c.items
			c.mu.Unlock()
			return items, nil
		}
		if c.inflight != nil && !c.flightAt.Before(notBefore) {
			ch := c.inflight
			c.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			c.mu.Lock()
			err := c.flightErr
			items := c.items
			c.mu.Unlock()
			if err != nil && ctx.Err() == nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
				continue // the fetch ran out of its starter's time, not ours
			}
			if err != nil {
				return nil, err
			}
			return items, nil
		}
		if c.inflight != nil {
			// A fetch too old for us is running: wait for it, then start ours.
			ch := c.inflight
			c.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			continue
		}
		ch := make(chan struct{})
		start := time.Now()
		c.inflight, c.flightAt = ch, start
		c.mu.Unlock()

		items, err := fetch(ctx)
		c.mu.Lock()
		c.flightErr = err
		if err == nil {
			c.items, c.started = items, start
		}
		c.inflight = nil
		close(ch)
		c.mu.Unlock()
		return items, err
	}
}

// refreshMaxAge is how old a shared list may be for a refresh; it must
// also have been fetched after the refresh started, so a refresh sees
// every write made before it.
const refreshMaxAge = 2 * time.Second

// getCluster reads a cluster through the watcher when the engine has one.
func (r *run) getCluster(ctx context.Context, id string, notBefore time.Time, maxAge time.Duration) (*godo.KubernetesCluster, error) {
	if r.e.Watch == nil {
		c, _, err := r.e.API.Kubernetes.Get(ctx, id)
		return c, err
	}
	return r.e.Watch.Cluster(ctx, r.e.API, id, notBefore, maxAge)
}

// getDatabase reads a database through the watcher when the engine has one.
func (r *run) getDatabase(ctx context.Context, id string, notBefore time.Time, maxAge time.Duration) (*godo.Database, error) {
	if r.e.Watch == nil {
		d, _, err := r.e.API.Databases.Get(ctx, id)
		return d, err
	}
	return r.e.Watch.Database(ctx, r.e.API, id, notBefore, maxAge)
}

// Cluster returns the cluster as listed no earlier than notBefore (and at
// most maxAge ago), or GETs it when the list does not have it.
func (w *Watcher) Cluster(ctx context.Context, api *godo.Client, id string, notBefore time.Time, maxAge time.Duration) (*godo.KubernetesCluster, error) {
	items, err := w.clusters.get(ctx, notBefore, maxAge, func(ctx context.Context) (map[string]*godo.KubernetesCluster, error) {
		all, err := ListAll(ctx, func(opt *godo.ListOptions) ([]*godo.KubernetesCluster, *godo.Response, error) {
			return api.Kubernetes.List(ctx, opt)
		})
		if err != nil {
			return nil, err
		}
		m := make(map[string]*godo.KubernetesCluster, len(all))
		for _, c := range all {
			m[c.ID] = c
		}
		return m, nil
	})
	if err == nil {
		if c, ok := items[id]; ok {
			return c, nil
		}
	}
	c, _, err := api.Kubernetes.Get(ctx, id)
	return c, err
}

// Database is Cluster for database clusters.
func (w *Watcher) Database(ctx context.Context, api *godo.Client, id string, notBefore time.Time, maxAge time.Duration) (*godo.Database, error) {
	items, err := w.dbs.get(ctx, notBefore, maxAge, func(ctx context.Context) (map[string]*godo.Database, error) {
		all, err := ListAll(ctx, func(opt *godo.ListOptions) ([]godo.Database, *godo.Response, error) {
			return api.Databases.List(ctx, opt)
		})
		if err != nil {
			return nil, err
		}
		m := make(map[string]*godo.Database, len(all))
		for i := range all {
			m[all[i].ID] = &all[i]
		}
		return m, nil
	})
	if err == nil {
		if d, ok := items[id]; ok {
			return d, nil
		}
	}
	d, _, err := api.Databases.Get(ctx, id)
	return d, err
}
