package provider

import (
	"context"
	"sync"
	"time"

	"github.com/digitalocean/godo"
)

// liveOptions is what DigitalOcean currently offers, read once per provider
// process (plans of many stacks share it) and kept for optionsTTL.
type liveOptions struct {
	Kubernetes *godo.KubernetesOptions
	Sizes      map[string]godo.Size
	Databases  *godo.DatabaseOptions
}

const optionsTTL = 10 * time.Minute

type optionsCache struct {
	mu      sync.Mutex
	value   *liveOptions
	fetched time.Time
}

// Options returns the live options, fetching them when absent or stale.
func (c *Client) Options(ctx context.Context) (*liveOptions, error) {
	c.options.mu.Lock()
	defer c.options.mu.Unlock()
	if c.options.value != nil && time.Since(c.options.fetched) < optionsTTL {
		return c.options.value, nil
	}
	k8s, _, err := c.Godo.Kubernetes.GetOptions(ctx)
	if err != nil {
		return nil, wrapAPI("reading /v2/kubernetes/options", err)
	}
	sizes, err := listAllSizes(ctx, c.Godo)
	if err != nil {
		return nil, wrapAPI("listing /v2/sizes", err)
	}
	dbs, _, err := c.Godo.Databases.ListOptions(ctx)
	if err != nil {
		return nil, wrapAPI("reading /v2/databases/options", err)
	}
	v := &liveOptions{Kubernetes: k8s, Sizes: map[string]godo.Size{}, Databases: dbs}
	for _, s := range sizes {
		v.Sizes[s.Slug] = s
	}
	c.options.value, c.options.fetched = v, time.Now()
	return v, nil
}

type apiCallError struct{ msg string }

func (e apiCallError) Error() string { return e.msg }

func wrapAPI(op string, err error) error { return apiCallError{APIError(op, err)} }

// engineOptions returns one engine's options.
func (o *liveOptions) engineOptions(engine string) (godo.DatabaseEngineOptions, bool) {
	d := o.Databases
	switch engine {
	case "pg":
		return d.PostgresSQLOptions, true
	case "mysql":
		return d.MySQLOptions, true
	case "valkey":
		return d.ValkeyOptions, true
	case "mongodb":
		return d.MongoDBOptions, true
	case "opensearch":
		return d.OpensearchOptions, true
	case "kafka":
		return d.KafkaOptions, true
	}
	return godo.DatabaseEngineOptions{}, false
}

// kubernetesSizeIn reports whether a node size is offered for DOKS in region.
func (o *liveOptions) kubernetesSizeIn(size, region string) (known, offered bool) {
	for _, s := range o.Kubernetes.Sizes {
		if s.Slug == size {
			known = true
		}
	}
	if !known {
		return false, false
	}
	info, ok := o.Sizes[size]
	if !ok || !info.Available {
		return true, false
	}
	for _, r := range info.Regions {
		if r == region {
			return true, true
		}
	}
	return true, false
}

func (o *liveOptions) isGPU(size string) bool {
	info, ok := o.Sizes[size]
	return ok && info.GPUInfo != nil || len(size) > 4 && size[:4] == "gpu-"
}

// regionsOffering lists the regions where a DOKS size is available.
func (o *liveOptions) regionsOffering(size string) []string {
	info, ok := o.Sizes[size]
	if !ok || !info.Available {
		return nil
	}
	return info.Regions
}
