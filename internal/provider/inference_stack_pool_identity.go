package provider

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/path"

	"github.com/attach-labs/terraform-provider-attach/internal/stack"
)

// Plan checks of node pool identity: a pool's key is its identity (the tag
// stack.PoolTagPrefix+key and the node label stack.PoolLabel), while its
// DOKS name changes on a replacement (stack.ReplacementPoolName). Names
// that would collide in DOKS are refused before anything is touched, and a
// size change is announced as the replacement it is.

// poolNameCollisions refuses pool keys that would take a DOKS name another
// pool of the stack may hold: <key>-a and <key>-b are the names a size
// change of <key> gives its replacement, so a pool keyed h100-b beside h100
// would make that change fail with DigitalOcean's 422. It also refuses a new
// key whose name a live pool of another key still holds, and the stack's own
// node label set by hand.
func (p *planner) poolNameCollisions() {
	c := p.plan.Cluster
	if c == nil {
		return
	}
	gpu := path.Root("cluster").AtName("gpu_pools")
	keys := append([]string{stack.SystemPoolName}, sortedKeys(c.GPUPools)...)
	for _, key := range sortedKeys(c.GPUPools) {
		for _, other := range keys {
			if other == key || !slices.Contains(stack.PoolNamesOf(other), key) {
				continue
			}
			p.attrError(gpu.AtMapKey(key), "Node pool key collides with a replacement name",
				fmt.Sprintf("A size change of pool %q replaces its DOKS node pool with one named %q or %q, and pool names are unique in a cluster: "+
					"with a pool keyed %q beside it, that change would fail. Rename pool %q (e.g. %q).",
					other, other+"-b", other+"-a", key, key, strings.ReplaceAll(key, "-", "")))
		}
	}
	if p.status != nil && p.status.Cluster != nil && p.state != nil && p.state.Cluster != nil {
		for _, key := range sortedKeys(c.GPUPools) {
			if _, existed := p.status.Cluster.Pools[key]; existed {
				continue
			}
			for _, other := range sortedKeys(p.status.Cluster.Pools) {
				if held := p.status.Cluster.Pools[other]; other != key && held.Name == key {
					p.attrError(gpu.AtMapKey(key), "Node pool name still held",
						fmt.Sprintf("The DOKS node pool named %q is pool %q's (after a replacement). Apply the removal of %q first, or choose another key.",
							key, other, other))
				}
			}
		}
	}
	check := func(at path.Path, pool *nodePoolModel) {
		if pool == nil {
			return
		}
		if _, set := pool.Labels[stack.PoolLabel]; set {
			p.attrError(at.AtName("labels"), "Label reserved for the stack",
				fmt.Sprintf("The stack labels every node with %s = <pool key> (a name that survives replacements); remove it from labels.", stack.PoolLabel))
		}
	}
	check(path.Root("cluster").AtName("system_pool"), c.SystemPool)
	for _, key := range sortedKeys(c.GPUPools) {
		check(gpu.AtMapKey(key), c.GPUPools[key])
	}
}

// warnPoolReplacement announces a node pool whose size changes: DOKS cannot
// resize a pool's nodes, so a new DOKS pool replaces it (the same key, a new
// name) and the old one is drained and deleted. Not when the whole cluster
// is replaced (its own warning says so).
func (p *planner) warnPoolReplacement() {
	c := p.plan.Cluster
	if c == nil || p.status == nil || p.status.Cluster == nil || p.state == nil || p.state.ClusterID.ValueString() == "" {
		return
	}
	if stack.ClusterReplacementReason(p.plan.toSpec(false), p.status.VPCID, p.status.Cluster) != "" {
		return
	}
	warn := func(at path.Path, key string, pool *nodePoolModel, gpu bool) {
		have := p.status.Cluster.Pools[key]
		if pool == nil || have == nil || !known(pool.Size) || pool.Size.ValueString() == have.Spec.Size {
			return
		}
		kind := "Node pool"
		if gpu {
			kind = "GPU pool"
		}
		next := stack.ReplacementPoolName(key, have.Name)
		p.diags.AddAttributeWarning(at.AtName("size"), fmt.Sprintf("%s %s will be replaced", kind, key),
			fmt.Sprintf("Changing the size of pool %s (%s -> %s) needs new nodes: a new DOKS node pool %s of the new size is created, then the old pool %s "+
				"is drained (its pods evicted) and deleted while the new nodes come up; the apply returns once the old pool is gone. "+
				"Workloads scheduled by the node label %s=%s follow the pool (DOKS's doks.digitalocean.com/node-pool label changes to %s).",
				key, have.Spec.Size, pool.Size.ValueString(), next, have.Name, stack.PoolLabel, key, next))
	}
	warn(path.Root("cluster").AtName("system_pool"), stack.SystemPoolName, c.SystemPool, false)
	for _, key := range sortedKeys(c.GPUPools) {
		warn(path.Root("cluster").AtName("gpu_pools").AtMapKey(key), key, c.GPUPools[key], true)
	}
}
