package stack

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-log/tflog"
)

// How node pools are managed: the system pool (SystemPoolName) and one DOKS
// pool per GPU pool key. Count, autoscale bounds, labels and taints change
// in place; a size change needs a new pool, so the replacement is created
// under a suffixed name (ReplacementPoolName) and the old pool deleted once
// it exists; the apply returns once the old pool is gone. Pools removed
// from the configuration are deleted.
//
// A pool's identity is its key, never its DOKS name (which a replacement
// changes): every pool carries the tag PoolTagPrefix+key and the node label
// PoolLabel=key, which refresh and import read back (pools made before the
// tag existed are matched by name, and get the tag on the next apply). Both
// are the stack's own: they never show in the pool's tags or labels.

// PoolTagPrefix + the pool's key is a tag on every node pool of a stack.
// DigitalOcean tags allow letters, digits, colons, dashes and underscores,
// which keys (lowercase letters, digits, dashes) satisfy.
const PoolTagPrefix = "attach-pool:"

// PoolLabel is the Kubernetes node label carrying the pool's key, stable
// across replacements (DOKS's doks.digitalocean.com/node-pool label is the
// DOKS name, which a replacement changes): select nodes with
// attach.dev/pool=<key>.
const PoolLabel = "attach.dev/pool"

// PoolTag is the identity tag of the pool key.
func PoolTag(key string) string { return PoolTagPrefix + key }

// ReplacementPoolName is the DOKS name a pool called current gets when the
// pool key is replaced for a size change: "<key>-b", then "<key>-a",
// alternating ("gpu" -> "gpu-b" -> "gpu-a" -> "gpu-b").
func ReplacementPoolName(key, current string) string {
	return key + "-" + shortSuffix(current)
}

// PoolNamesOf lists every DOKS name the pool key may take: the key and its
// replacement names. No two keys of a stack may share one (see the plan's
// collision check).
func PoolNamesOf(key string) []string { return []string{key, key + "-a", key + "-b"} }

// poolKey is the key of a DOKS pool: its identity tag's, or, for a pool
// made before the tag existed, "" (callers fall back to the name).
func poolKey(p *godo.KubernetesNodePool) string {
	for _, t := range p.Tags {
		if k, ok := strings.CutPrefix(t, PoolTagPrefix); ok && k != "" {
			return k
		}
	}
	return ""
}

// keyOrName is a DOKS pool's key, or its name when it has no identity tag.
func keyOrName(p *godo.KubernetesNodePool) string {
	if k := poolKey(p); k != "" {
		return k
	}
	return p.Name
}

// poolTags is what a pool of key carries: the stack's tags and its identity.
func poolTags(key string, tags []string) []string {
	out := append(slices.Clone(tags), PoolTag(key))
	slices.Sort(out)
	return slices.Compact(out)
}

// poolLabels is what a pool of key labels its nodes with: the user's labels
// and its identity.
func poolLabels(key string, labels map[string]string) map[string]string {
	out := maps.Clone(labels)
	if out == nil {
		out = map[string]string{}
	}
	out[PoolLabel] = key
	return out
}

// poolMarked reports whether a DOKS pool carries the identity of key.
func poolMarked(p *godo.KubernetesNodePool, key string) bool {
	return slices.Contains(p.Tags, PoolTag(key)) && p.Labels[PoolLabel] == key
}

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
		out = append(out, nodePoolCreateRequest(key, key, pools[key], spec.AllTags()))
	}
	return out
}

func nodePoolCreateRequest(name, key string, p NodePoolSpec, tags []string) *godo.KubernetesNodePoolCreateRequest {
	req := &godo.KubernetesNodePoolCreateRequest{
		Name:   name,
		Size:   p.Size,
		Tags:   poolTags(key, append(slices.Clone(tags), p.Tags...)),
		Labels: poolLabels(key, p.Labels),
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

// poolOwnTags is what of a pool's tags (without DOKS's and its identity)
// is the pool's own: those the stack does not put on every part, and those
// want lists (a tag may be both the stack's and the pool's). Sorted; nil
// when none.
func (r *run) poolOwnTags(tags []string, want NodePoolSpec) []string {
	return PoolOwnTags(tags, r.spec.AllTags(), want.Tags)
}

// PoolOwnTags is poolOwnTags for a stack whose parts carry stackTags.
func PoolOwnTags(tags, stackTags, want []string) []string {
	var out []string
	for _, t := range tags {
		if !slices.Contains(stackTags, t) || slices.Contains(want, t) {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// poolStatusFrom maps the API pool of key onto what the stack manages of
// it; the stack's identity tag and label are left out. DOKS
// labels its GPU nodes (doks.digitalocean.com/gpu-brand, .../gpu-model) and
// taints them (nvidia.com/gpu or amd.com/gpu, NoSchedule) by itself; the
// pool object may or may not show those (DigitalOcean's shows only what
// the user set), so both shapes map to the same status: a DOKS label counts
// only when the spec sets it, and DOKS's GPU taint is there exactly when
// the spec wants it (the nodes carry it either way).
func poolStatusFrom(p *godo.KubernetesNodePool, key string, want NodePoolSpec) *NodePoolStatus {
	spec := NodePoolSpec{Size: p.Size, AutoScale: p.AutoScale, Labels: map[string]string{}}
	if p.AutoScale {
		// The autoscaler moves the count; only the bounds are configuration.
		spec.MinNodes, spec.MaxNodes = p.MinNodes, p.MaxNodes
	} else {
		spec.NodeCount = p.Count
	}
	for k, v := range p.Labels {
		if k == PoolLabel {
			continue
		}
		if _, wanted := want.Labels[k]; wanted || !strings.HasPrefix(k, doksLabelPrefix) {
			spec.Labels[k] = v
		}
	}
	for _, t := range p.Taints {
		if !isDOKSGPUTaint(t.Key, t.Value, t.Effect) {
			spec.Taints = append(spec.Taints, Taint{Key: t.Key, Value: t.Value, Effect: t.Effect})
		}
	}
	for _, t := range want.Taints {
		if isDOKSGPUTaint(t.Key, t.Value, t.Effect) && isGPUSize(p.Size) {
			spec.Taints = append(spec.Taints, t)
		}
	}
	slices.SortFunc(spec.Taints, compareTaints)
	spec.Taints = slices.Compact(spec.Taints)
	tags := slices.DeleteFunc(userTags(p.Tags), func(t string) bool { return strings.HasPrefix(t, PoolTagPrefix) })
	s := &NodePoolStatus{ID: p.ID, Name: p.Name, Spec: spec, Nodes: len(p.Nodes), Tags: tags, Marked: poolMarked(p, key)}
	for _, n := range p.Nodes {
		if n.Status != nil && n.Status.State == "running" {
			s.Ready++
		}
	}
	return s
}

// isDOKSGPUTaint reports the taint DOKS puts on GPU nodes by itself.
func isDOKSGPUTaint(key, value, effect string) bool {
	return gpuTaintKeys[key] && value == "" && effect == "NoSchedule"
}

// doksGPUTaint is the taint DOKS puts on nodes of a GPU size.
func doksGPUTaint(size string) Taint {
	key := "nvidia.com/gpu"
	if strings.Contains(size, "mi300") || strings.Contains(size, "amd") {
		key = "amd.com/gpu"
	}
	return Taint{Key: key, Effect: "NoSchedule"}
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
// cluster has exactly the desired ones. It returns the pools whose nodes it
// asked for (created, replaced, resized), by DOKS name, with the number of
// nodes each must have running.
func (r *run) reconcileNodePools(ctx context.Context, cur *ClusterStatus) (map[string]int, error) {
	touched := map[string]int{}
	want := desiredPools(r.spec)
	tags := r.spec.AllTags()
	for _, key := range sortedKeys(want) {
		spec := want[key]
		have, exists := cur.Pools[key]
		switch {
		case !exists:
			created, _, err := r.e.API.Kubernetes.CreateNodePool(ctx, cur.ID, nodePoolCreateRequest(key, key, spec, tags))
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
					return nil, apiErr(fmt.Sprintf("creating node pool %s in cluster %s", key, cur.Name), err)
				}
				touched[created.Name] = requiredNodes(spec)
				continue
			}
			// In state at once: a pool whose nodes never come up is
			// still the stack's.
			r.recordNodePool(cur.ID, key, created, spec)
			touched[created.Name] = requiredNodes(spec)
		case have.Spec.Size != spec.Size:
			name, err := r.replaceNodePool(ctx, cur, key, have, spec, tags)
			if name != "" {
				touched[name] = requiredNodes(spec)
			}
			if err != nil {
				return nil, err
			}
		case !SamePoolConfig(have.Spec, spec) || !sameStrings(have.Tags, append(slices.Clone(tags), spec.Tags...)) || !have.Marked:
			// A pool without its identity (made before the tag existed)
			// gets it here.
			req := &godo.KubernetesNodePoolUpdateRequest{
				Name:      have.Name,
				Tags:      poolTags(key, append(slices.Clone(tags), spec.Tags...)),
				Labels:    poolLabels(key, spec.Labels),
				Taints:    godo.PtrTo(godoTaints(spec.Taints)),
				AutoScale: godo.PtrTo(spec.AutoScale),
			}
			if spec.AutoScale {
				req.MinNodes, req.MaxNodes = godo.PtrTo(spec.MinNodes), godo.PtrTo(spec.MaxNodes)
			} else {
				req.Count = godo.PtrTo(spec.NodeCount)
			}
			if _, _, err := r.e.API.Kubernetes.UpdateNodePool(ctx, cur.ID, have.ID, req); err != nil {
				return nil, apiErr(fmt.Sprintf("updating node pool %s in cluster %s", key, cur.Name), err)
			}
			// A resize asks for nodes; labels, taints and tags do not.
			if have.Spec.AutoScale != spec.AutoScale || requiredNodes(have.Spec) != requiredNodes(spec) {
				touched[have.Name] = requiredNodes(spec)
			}
		}
	}
	for _, key := range sortedKeys(cur.Pools) {
		if _, wanted := want[key]; wanted {
			continue
		}
		p := cur.Pools[key]
		if _, err := r.e.API.Kubernetes.DeleteNodePool(ctx, cur.ID, p.ID); err != nil && !isNotFound(err) {
			return nil, apiErr(fmt.Sprintf("deleting node pool %s from cluster %s", key, cur.Name), err)
		}
	}
	return touched, nil
}

// replaceNodePool swaps a pool for one of another size: new pool first, so
// workloads have somewhere to go, then the old one, waiting until DOKS has
// drained and removed it (the apply returns only when it is gone). It
// returns the new pool's name once it exists.
func (r *run) replaceNodePool(ctx context.Context, cur *ClusterStatus, key string, have *NodePoolStatus, spec NodePoolSpec, tags []string) (string, error) {
	name := ReplacementPoolName(key, have.Name)
	created, _, err := r.e.API.Kubernetes.CreateNodePool(ctx, cur.ID, nodePoolCreateRequest(name, key, spec, tags))
	if err != nil {
		return "", apiErr(fmt.Sprintf("creating replacement node pool %s (size %s) for pool %s in cluster %s", name, spec.Size, key, cur.Name), err)
	}
	r.recordNodePool(cur.ID, key, created, spec)
	if _, err := r.e.API.Kubernetes.DeleteNodePool(ctx, cur.ID, have.ID); err != nil && !isNotFound(err) {
		return name, apiErr(fmt.Sprintf("deleting node pool %s (replaced by %s) from cluster %s", have.Name, name, cur.Name), err)
	}
	return name, r.waitNodePoolGone(ctx, cur, have)
}

// waitNodePoolGone waits until the cluster's pool old answers 404: DOKS
// drains and deletes its nodes first, and the pool (with its name) stays
// until then (terraform-provider-digitalocean's node pool delete waits for
// the same 404).
func (r *run) waitNodePoolGone(ctx context.Context, cur *ClusterStatus, old *NodePoolStatus) error {
	since := time.Now()
	return r.e.Poll.waitUntil(ctx, fmt.Sprintf("node pool %s of cluster %s to be drained and deleted", old.Name, cur.Name), func(ctx context.Context) (bool, error) {
		p, _, err := r.e.API.Kubernetes.GetNodePool(ctx, cur.ID, old.ID)
		switch {
		case isNotFound(err):
			return true, nil
		case err != nil:
			return false, apiErr(fmt.Sprintf("reading node pool %s of cluster %s", old.Name, cur.Name), err)
		}
		tflog.Info(ctx, "waiting for the replaced node pool to drain and go", map[string]any{
			"cluster": cur.Name, "pool": old.Name, "nodes": len(p.Nodes), "waited": time.Since(since).Round(time.Second).String()})
		return false, nil
	})
}

func (r *run) recordNodePool(clusterID, key string, p *godo.KubernetesNodePool, spec NodePoolSpec) {
	r.update(func(st *Status) {
		if st.Cluster != nil && st.Cluster.ID == clusterID {
			s := poolStatusFrom(p, key, spec)
			s.Spec.Tags = r.poolOwnTags(s.Tags, spec)
			st.Cluster.Pools[key] = s
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

// Typical times for a node's Droplet to join its DOKS pool, in
// DigitalOcean time (GPU Droplets take longer). A CPU node provisioning
// stuckFactor times longer is taken as stuck and replaced: DOKS has no
// "error" node state, a node that fails to join stays "provisioning". A GPU
// node may instead be waiting for capacity, which a replacement would only
// send to the back of the queue: it is taken as stuck only after
// gpuStuckAfter.
const (
	nodeProvisionTime    = 5 * time.Minute
	gpuNodeProvisionTime = 10 * time.Minute
	stuckFactor          = 3
	gpuStuckAfter        = 2 * time.Hour
)

// isGPUSize reports whether a node size is a GPU Droplet.
func isGPUSize(size string) bool { return strings.HasPrefix(size, "gpu-") }

// requiredNodes is how many running nodes an apply asks of a pool: its
// count, or min_nodes when autoscaled (the autoscaler decides the rest).
func requiredNodes(p NodePoolSpec) int {
	if p.AutoScale {
		return p.MinNodes
	}
	return p.NodeCount
}

// apiAge is how long ago t was, in the API's time.
func (r *run) apiAge(t time.Time) time.Duration {
	if t.IsZero() {
		return 0
	}
	return time.Duration(float64(time.Since(t)) * r.e.Poll.scale())
}

// stuck reports whether a node of a pool of size has been provisioning far
// longer than DigitalOcean takes, or failed.
func (r *run) stuck(size string, n *godo.KubernetesNode) bool {
	if n.Status == nil {
		return false
	}
	switch n.Status.State {
	case "error":
		// Not a DOKS node state (provisioning, running, draining,
		// deleting), but a failed node reported so is replaced all the same.
		return true
	case "provisioning":
		if isGPUSize(size) {
			return r.apiAge(n.CreatedAt) > gpuStuckAfter
		}
		return r.apiAge(n.CreatedAt) > stuckFactor*nodeProvisionTime
	}
	return false
}

// poolsToWaitFor is what an update waits for: the pools it touched, and
// those an earlier apply gave up waiting for.
func (r *run) poolsToWaitFor(cur *ClusterStatus, touched map[string]int) map[string]int {
	want := desiredPools(r.spec)
	out := maps.Clone(touched)
	if out == nil {
		out = map[string]int{}
	}
	for key, p := range cur.Pools {
		spec, wanted := want[key]
		if _, done := out[p.Name]; wanted && !done && !p.WaitingSince.IsZero() {
			out[p.Name] = requiredNodes(spec)
		}
	}
	return out
}

// typicalPoolWait is how long the new nodes of the pools in want (DOKS
// pool name -> nodes required) typically take: a GPU pool's time when one
// needs nodes, a CPU pool's when only those do, 0 when none needs any.
func (r *run) typicalPoolWait(want map[string]int) time.Duration {
	var d time.Duration
	for key := range desiredPools(r.spec) {
		_, gpu := r.spec.Cluster.GPUPools[key]
		for _, name := range PoolNamesOf(key) {
			switch {
			case want[name] <= 0:
			case gpu:
				d = max(d, TypicalGPUPoolCreate)
			default:
				d = max(d, TypicalNodePoolCreate)
			}
		}
	}
	return d
}

// poolShortfall is a pool with fewer running nodes than the apply asked.
type poolShortfall struct {
	pool              string
	size              string
	required, running int
	provisioning      int
	longest           time.Duration // the longest a node has been provisioning (API time)
	failed            []string      // "pool/node" of nodes reported failed
}

// poolShortfalls lists the pools in want short of their running nodes, and
// those missing from the cluster.
func (r *run) poolShortfalls(c *godo.KubernetesCluster, want map[string]int) ([]poolShortfall, []string) {
	var short []poolShortfall
	var missing []string
	for _, name := range sortedKeys(want) {
		i := slices.IndexFunc(c.NodePools, func(p *godo.KubernetesNodePool) bool { return p.Name == name })
		if i < 0 {
			missing = append(missing, name)
			continue
		}
		p := c.NodePools[i]
		s := poolShortfall{pool: name, size: p.Size, required: want[name]}
		for _, n := range p.Nodes {
			if n.Status == nil {
				continue
			}
			switch n.Status.State {
			case "running":
				s.running++
			case "provisioning":
				s.provisioning++
				s.longest = max(s.longest, r.apiAge(n.CreatedAt))
			case "error":
				s.failed = append(s.failed, p.Name+"/"+n.Name)
			}
		}
		if s.running < s.required {
			short = append(short, s)
		}
	}
	return short, missing
}

// describeShortfalls explains pools whose nodes did not come up in time.
func describeShortfalls(short []poolShortfall, region string) string {
	var parts []string
	for _, s := range short {
		msg := fmt.Sprintf("node pool %s has %d of the %d nodes it needs running, %d still provisioning (the longest for %s)",
			s.pool, s.running, s.required, s.provisioning, s.longest.Round(time.Second))
		if isGPUSize(s.size) {
			msg += fmt.Sprintf("; %s GPU capacity in %s is the likely cause", s.size, region)
		}
		parts = append(parts, msg)
	}
	return strings.Join(parts, "; ")
}

// markWaiting records, after a wait on cluster id, which pools the next
// apply must keep waiting for (those still short when the wait gave up) and
// clears the others.
func (r *run) markWaiting(id string, want map[string]int, short []poolShortfall, err error) {
	now := time.Now()
	r.update(func(st *Status) {
		if st.Cluster == nil || st.Cluster.ID != id {
			return
		}
		for _, p := range st.Cluster.Pools {
			if _, waited := want[p.Name]; !waited {
				continue
			}
			isShort := err != nil && slices.ContainsFunc(short, func(s poolShortfall) bool { return s.pool == p.Name })
			switch {
			case !isShort:
				p.WaitingSince = time.Time{}
			case p.WaitingSince.IsZero():
				p.WaitingSince = now
			}
		}
	})
}

// replaceFailedNodes asks DOKS for a new node in place of every node stuck
// provisioning (a Droplet that never joined) or reported failed, so an
// apply after a failed one heals the pool. It returns the pools it replaced
// nodes in (DOKS name -> nodes required), for the apply to wait for.
func (r *run) replaceFailedNodes(ctx context.Context, cur *ClusterStatus) (map[string]int, error) {
	degraded := false
	for _, p := range cur.Pools {
		if p.Ready < p.Nodes {
			degraded = true
		}
	}
	if !degraded {
		return nil, nil
	}
	c, _, err := r.e.API.Kubernetes.Get(ctx, cur.ID)
	if err != nil {
		return nil, apiErr("reading cluster "+cur.Name, err)
	}
	keyOf := map[string]string{}
	for key, p := range cur.Pools {
		keyOf[p.Name] = key
	}
	want := desiredPools(r.spec)
	replaced := map[string]int{}
	for _, p := range c.NodePools {
		for _, n := range p.Nodes {
			if !r.stuck(p.Size, n) {
				continue
			}
			tflog.Info(ctx, "replacing a node that never finished provisioning", map[string]any{
				"cluster": cur.Name, "pool": p.Name, "node": n.Name, "state": n.Status.State,
				"age": r.apiAge(n.CreatedAt).Round(time.Second).String()})
			if _, err := r.e.API.Kubernetes.DeleteNode(ctx, cur.ID, p.ID, n.ID, &godo.KubernetesNodeDeleteRequest{Replace: true}); err != nil && !isNotFound(err) {
				return replaced, apiErr(fmt.Sprintf("replacing node %s of pool %s in cluster %s (stuck %s for %s)", n.Name, p.Name, cur.Name, n.Status.State, r.apiAge(n.CreatedAt).Round(time.Second)), err)
			}
			// A pool this apply replaces for its size is waited for as new.
			if spec, ok := want[keyOf[p.Name]]; ok && spec.Size == p.Size {
				replaced[p.Name] = requiredNodes(spec)
			}
		}
	}
	return replaced, nil
}

// shortSuffix alternates replacement names: "gpu" -> "gpu-b" -> "gpu".
func shortSuffix(previous string) string {
	if strings.HasSuffix(previous, "-b") {
		return "a"
	}
	return "b"
}
