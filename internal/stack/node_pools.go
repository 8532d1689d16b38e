package stack

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/digitalocean/godo"
)

// How node pools are managed: the system pool (SystemPoolName) and one DOKS
// pool per GPU pool key. Count, autoscale bounds, labels and taints change
// in place; a size change needs a new pool, so the replacement is created
// under a suffixed name and the old pool deleted once it exists. Pools
// removed from the configuration are deleted.

// gpuTaintKeys are the taints DOKS puts on GPU nodes by itself.
var gpuTaintKeys = map[string]bool{"nvidia.com/gpu": true, "amd.com/gpu": true}

// doksLabelPrefix marks labels DOKS applies by itself.
const doksLabelPrefix = "doks.digitalocean.com/"

// desiredPools maps pool keys to their specs.
func desiredPools(spec Spec) map[string]NodePoolSpec {
	out := map[string]NodePoolSpec{SystemPoolName: spec.Cluster.SystemPool}
	for k, p := range spec.Cluster.GPUPools {
		out[k] = p
	}
	return out
}

func nodePoolCreateRequests(spec Spec) []*godo.KubernetesNodePoolCreateRequest {
	pools := desiredPools(spec)
	out := make([]*godo.KubernetesNodePoolCreateRequest, 0, len(pools))
	for _, key := range sortedKeys(pools) {
		out = append(out, nodePoolCreateRequest(key, pools[key], spec.AllTags()))
	}
	return out
}

func nodePoolCreateRequest(name string, p NodePoolSpec, tags []string) *godo.KubernetesNodePoolCreateRequest {
	req := &godo.KubernetesNodePoolCreateRequest{
		Name:   name,
		Size:   p.Size,
		Tags:   tags,
		Labels: maps.Clone(p.Labels),
		Taints: godoTaints(p.Taints),
	}
	if p.AutoScale {
		// godo omits zero counts: an autoscaled pool starts at min_nodes,
		// which may be 0.
		req.AutoScale, req.MinNodes, req.MaxNodes, req.Count = true, p.MinNodes, p.MaxNodes, p.MinNodes
	} else {
		req.Count = p.NodeCount
	}
	return req
}

func godoTaints(ts []Taint) []godo.Taint {
	out := make([]godo.Taint, 0, len(ts))
	for _, t := range ts {
		out = append(out, godo.Taint{Key: t.Key, Value: t.Value, Effect: t.Effect})
	}
	return out
}

// poolSpecFor is what the stack wants of a pool (to filter what DOKS adds).
func (r *run) poolSpecFor(key string) NodePoolSpec {
	return desiredPools(r.spec)[key]
}

// poolStatusFrom maps an API pool, keeping the labels and taints the stack
// manages: DOKS's own labels, and its GPU taints unless the spec sets them.
func poolStatusFrom(p *godo.KubernetesNodePool, want NodePoolSpec) *NodePoolStatus {
	spec := NodePoolSpec{Size: p.Size, AutoScale: p.AutoScale, Labels: map[string]string{}}
	if p.AutoScale {
		// The autoscaler moves the count; only the bounds are configuration.
		spec.MinNodes, spec.MaxNodes = p.MinNodes, p.MaxNodes
	} else {
		spec.NodeCount = p.Count
	}
	for k, v := range p.Labels {
		if !strings.HasPrefix(k, doksLabelPrefix) {
			spec.Labels[k] = v
		}
	}
	wantTaint := map[string]bool{}
	for _, t := range want.Taints {
		wantTaint[t.Key] = true
	}
	for _, t := range p.Taints {
		if gpuTaintKeys[t.Key] && !wantTaint[t.Key] {
			continue
		}
		spec.Taints = append(spec.Taints, Taint{Key: t.Key, Value: t.Value, Effect: t.Effect})
	}
	slices.SortFunc(spec.Taints, compareTaints)
	s := &NodePoolStatus{ID: p.ID, Name: p.Name, Spec: spec, Nodes: len(p.Nodes), Tags: userTags(p.Tags)}
	for _, n := range p.Nodes {
		if n.Status != nil && n.Status.State == "running" {
			s.Ready++
		}
	}
	return s
}

func compareTaints(a, b Taint) int {
	return strings.Compare(a.Key+"\x00"+a.Effect+"\x00"+a.Value, b.Key+"\x00"+b.Effect+"\x00"+b.Value)
}

// SamePoolConfig reports whether a pool matches its spec (what drift and
// in-place updates compare).
func SamePoolConfig(have, want NodePoolSpec) bool {
	if have.AutoScale != want.AutoScale || have.Size != want.Size {
		return false
	}
	if want.AutoScale {
		if have.MinNodes != want.MinNodes || have.MaxNodes != want.MaxNodes {
			return false
		}
	} else if have.NodeCount != want.NodeCount {
		return false
	}
	if !maps.Equal(nonNil(have.Labels), nonNil(want.Labels)) {
		return false
	}
	ht, wt := slices.Clone(have.Taints), slices.Clone(want.Taints)
	slices.SortFunc(ht, compareTaints)
	slices.SortFunc(wt, compareTaints)
	return slices.Equal(ht, wt)
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// reconcileNodePools creates, updates, replaces and deletes pools so the
// cluster has exactly the desired ones.
func (r *run) reconcileNodePools(ctx context.Context, cur *ClusterStatus) error {
	want := desiredPools(r.spec)
	tags := r.spec.AllTags()
	for _, key := range sortedKeys(want) {
		spec := want[key]
		have, exists := cur.Pools[key]
		switch {
		case !exists:
			created, _, err := r.e.API.Kubernetes.CreateNodePool(ctx, cur.ID, nodePoolCreateRequest(key, spec, tags))
			if err != nil {
				adopted := adoptAfterFailedCreate(ctx, err, true, func(ctx context.Context) (bool, error) {
					p, err := r.findNodePool(ctx, cur.ID, key)
					if p != nil {
						created = p
					}
					return p != nil, err
				})
				if adopted {
					r.recordNodePool(cur.ID, key, created, spec)
				}
				if !adopted || ctx.Err() != nil {
					return apiErr(fmt.Sprintf("creating node pool %s in cluster %s", key, cur.Name), err)
				}
				continue
			}
			// In state at once: a pool whose nodes never come up is
			// still the stack's.
			r.recordNodePool(cur.ID, key, created, spec)
		case have.Spec.Size != spec.Size:
			if err := r.replaceNodePool(ctx, cur, key, have, spec, tags); err != nil {
				return err
			}
		case !SamePoolConfig(have.Spec, spec) || !sameStrings(have.Tags, tags):
			req := &godo.KubernetesNodePoolUpdateRequest{
				Name:      have.Name,
				Tags:      tags,
				Labels:    nonNil(spec.Labels),
				Taints:    godo.PtrTo(godoTaints(spec.Taints)),
				AutoScale: godo.PtrTo(spec.AutoScale),
			}
			if spec.AutoScale {
				req.MinNodes, req.MaxNodes = godo.PtrTo(spec.MinNodes), godo.PtrTo(spec.MaxNodes)
			} else {
				req.Count = godo.PtrTo(spec.NodeCount)
			}
			if _, _, err := r.e.API.Kubernetes.UpdateNodePool(ctx, cur.ID, have.ID, req); err != nil {
				return apiErr(fmt.Sprintf("updating node pool %s in cluster %s", key, cur.Name), err)
			}
		}
	}
	for _, key := range sortedKeys(cur.Pools) {
		if _, wanted := want[key]; wanted {
			continue
		}
		p := cur.Pools[key]
		if _, err := r.e.API.Kubernetes.DeleteNodePool(ctx, cur.ID, p.ID); err != nil && !isNotFound(err) {
			return apiErr(fmt.Sprintf("deleting node pool %s from cluster %s", key, cur.Name), err)
		}
	}
	return nil
}

// replaceNodePool swaps a pool for one of another size: new pool first, so
// workloads have somewhere to go, then the old one.
func (r *run) replaceNodePool(ctx context.Context, cur *ClusterStatus, key string, have *NodePoolStatus, spec NodePoolSpec, tags []string) error {
	name := key + "-" + shortSuffix(have.Name)
	created, _, err := r.e.API.Kubernetes.CreateNodePool(ctx, cur.ID, nodePoolCreateRequest(name, spec, tags))
	if err != nil {
		return apiErr(fmt.Sprintf("creating replacement node pool %s (size %s) in cluster %s", name, spec.Size, cur.Name), err)
	}
	r.recordNodePool(cur.ID, key, created, spec)
	if _, err := r.e.API.Kubernetes.DeleteNodePool(ctx, cur.ID, have.ID); err != nil && !isNotFound(err) {
		return apiErr(fmt.Sprintf("deleting node pool %s (replaced by %s) from cluster %s", have.Name, name, cur.Name), err)
	}
	return nil
}

func (r *run) recordNodePool(clusterID, key string, p *godo.KubernetesNodePool, spec NodePoolSpec) {
	r.update(func(st *Status) {
		if st.Cluster != nil && st.Cluster.ID == clusterID {
			st.Cluster.Pools[key] = poolStatusFrom(p, spec)
		}
	})
}

// findNodePool finds the cluster's pool called name, or nil.
func (r *run) findNodePool(ctx context.Context, clusterID, name string) (*godo.KubernetesNodePool, error) {
	pools, err := ListAll(ctx, func(opt *godo.ListOptions) ([]*godo.KubernetesNodePool, *godo.Response, error) {
		return r.e.API.Kubernetes.ListNodePools(ctx, clusterID, opt)
	})
	if err != nil {
		return nil, err
	}
	for _, p := range pools {
		if p.Name == name {
			return p, nil
		}
	}
	return nil, nil
}

// replaceFailedNodes asks DOKS for a new node in place of every node that
// failed to provision, so an apply after a failed one heals the pool.
func (r *run) replaceFailedNodes(ctx context.Context, cur *ClusterStatus) error {
	degraded := false
	for _, p := range cur.Pools {
		if p.Ready < p.Nodes {
			degraded = true
		}
	}
	if !degraded {
		return nil
	}
	c, _, err := r.e.API.Kubernetes.Get(ctx, cur.ID)
	if err != nil {
		return apiErr("reading cluster "+cur.Name, err)
	}
	for _, p := range c.NodePools {
		for _, n := range p.Nodes {
			if n.Status == nil || n.Status.State != "error" {
				continue
			}
			if _, err := r.e.API.Kubernetes.DeleteNode(ctx, cur.ID, p.ID, n.ID, &godo.KubernetesNodeDeleteRequest{Replace: true}); err != nil && !isNotFound(err) {
				return apiErr(fmt.Sprintf("replacing failed node %s of pool %s in cluster %s", n.Name, p.Name, cur.Name), err)
			}
		}
	}
	return nil
}

// shortSuffix alternates replacement names: "gpu" -> "gpu-b" -> "gpu".
func shortSuffix(previous string) string {
	if strings.HasSuffix(previous, "-b") {
		return "a"
	}
	return "b"
}
