package emulator

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Kubernetes node pools: the pool and node JSON, pool validation, the node
// lifecycle (adding, retiring, resizing, the autoscaler), and the
// /node_pools handlers, node delete and replace included.

// ---- JSON shapes ----

type k8sTaintJSON struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Effect string `json:"effect"`
}

// k8sNodeStatusJSON has only a state, as in spec kubernetes/models/node.yml.
type k8sNodeStatusJSON struct {
	State string `json:"state"`
}

type k8sNodeJSON struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	Status    k8sNodeStatusJSON `json:"status"`
	DropletID string            `json:"droplet_id"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
}

type k8sNodePoolJSON struct {
	ID               string            `json:"id"`
	Name             string            `json:"name"`
	Size             string            `json:"size"`
	Count            int               `json:"count"`
	Tags             []string          `json:"tags"`
	Labels           map[string]string `json:"labels"`
	Taints           []k8sTaintJSON    `json:"taints"`
	AutoScale        bool              `json:"auto_scale"`
	MinNodes         int               `json:"min_nodes"`
	MaxNodes         int               `json:"max_nodes"`
	GPUPartitionMode string            `json:"gpu_partition_mode,omitempty"`
	Nodes            []k8sNodeJSON     `json:"nodes"`
}

func (cl *k8sCluster) poolJSON(p *k8sPool) k8sNodePoolJSON {
	// Spec kubernetes/models/node_pool.yml: labels and taints are what the user asks "to apply to all nodes in a pool" (DOKS's own GPU ones are not).
	out := k8sNodePoolJSON{
		ID: p.id, Name: p.name, Size: p.size, Count: p.count,
		Tags:      k8sMergeTags(append(cl.systemTags(), "k8s:worker"), p.userTags),
		Taints:    append([]k8sTaintJSON{}, p.userTaints...),
		AutoScale: p.autoScale, MinNodes: p.minNodes, MaxNodes: p.maxNodes,
		GPUPartitionMode: p.gpuPartitionMode,
		Nodes:            make([]k8sNodeJSON, 0, len(p.nodes)),
	}
	if len(p.userLabels) > 0 {
		out.Labels = maps.Clone(p.userLabels)
	}
	for _, n := range p.nodes {
		out.Nodes = append(out.Nodes, k8sNodeJSON{
			ID: n.id, Name: n.name, Status: k8sNodeStatusJSON{State: n.state},
			DropletID: n.dropletID, CreatedAt: n.createdAt.UTC(), UpdatedAt: n.updatedAt.UTC(),
		})
	}
	return out
}

// ---- requests and validation ----

type k8sNodePoolRequest struct {
	Name             string            `json:"name"`
	Size             string            `json:"size"`
	Count            *int              `json:"count"`
	Tags             []string          `json:"tags"`
	Labels           map[string]string `json:"labels"`
	Taints           []k8sTaintJSON    `json:"taints"`
	AutoScale        bool              `json:"auto_scale"`
	MinNodes         *int              `json:"min_nodes"`
	MaxNodes         *int              `json:"max_nodes"`
	GPUPartitionMode string            `json:"gpu_partition_mode"`
}

var k8sTaintEffects = []string{"NoSchedule", "PreferNoSchedule", "NoExecute"}

// k8sValidateLabelKey checks a Kubernetes qualified name: an optional DNS
// subdomain prefix and "/", then a name of at most 63 characters.
func k8sValidateLabelKey(key string) error {
	prefix, name, hasPrefix := strings.Cut(key, "/")
	if !hasPrefix {
		name, prefix = prefix, ""
	}
	if hasPrefix && (prefix == "" || len(prefix) > 253 || !k8sDnsSubdomain.MatchString(prefix)) {
		return fmt.Errorf("key %q has an invalid prefix: it must be a lowercase DNS subdomain", key)
	}
	if name == "" || len(name) > 63 || !k8sLabelNamePattern.MatchString(name) {
		return fmt.Errorf("key %q is invalid: the name part must be 1-63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit", key)
	}
	return nil
}

func k8sValidateLabelValue(key, value string) error {
	if len(value) > 63 || !k8sLabelNamePattern.MatchString(value) {
		return fmt.Errorf("value %q of %q is invalid: at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit", value, key)
	}
	return nil
}

func k8sValidateLabels(field string, labels map[string]string) error {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := k8sValidateLabelKey(k); err != nil {
			return fmt.Errorf("%s: label %v", field, err)
		}
		if err := k8sValidateLabelValue(k, labels[k]); err != nil {
			return fmt.Errorf("%s: label %v", field, err)
		}
	}
	return nil
}

func k8sValidateTaints(field string, taints []k8sTaintJSON) error {
	seen := map[string]bool{}
	for i, t := range taints {
		if err := k8sValidateLabelKey(t.Key); err != nil {
			return fmt.Errorf("%s[%d]: taint %v", field, i, err)
		}
		if t.Value != "" {
			if err := k8sValidateLabelValue(t.Key, t.Value); err != nil {
				return fmt.Errorf("%s[%d]: taint %v", field, i, err)
			}
		}
		if !slices.Contains(k8sTaintEffects, t.Effect) {
			return fmt.Errorf("%s[%d].effect %q is invalid: use one of %s", field, i, t.Effect, strings.Join(k8sTaintEffects, ", "))
		}
		id := t.Key + ":" + t.Effect
		if seen[id] {
			return fmt.Errorf("%s[%d]: duplicate taint %s", field, i, id)
		}
		seen[id] = true
	}
	return nil
}

// k8sPoolScaling resolves count/min/max. godo omits zero values, so an absent
// min_nodes is 0 and an absent count of an autoscaled pool starts at min_nodes.
func k8sPoolScaling(field string, autoScale bool, count, minNodes, maxNodes *int) (c, lo, hi int, err error) {
	if !autoScale {
		if count == nil || *count < 1 || *count > k8sMaxNodesPerPool {
			got := "none"
			if count != nil {
				got = strconv.Itoa(*count)
			}
			return 0, 0, 0, fmt.Errorf("%s.count must be between 1 and %d for a fixed-size pool; got %s (or set auto_scale with min_nodes 0 to allow an empty pool)", field, k8sMaxNodesPerPool, got)
		}
		return *count, 0, 0, nil
	}
	if minNodes != nil {
		lo = *minNodes
	}
	if maxNodes != nil {
		hi = *maxNodes
	}
	if lo < 0 {
		return 0, 0, 0, fmt.Errorf("%s.min_nodes must be 0 or more; got %d", field, lo)
	}
	if hi < max(1, lo) || hi > k8sMaxNodesPerPool {
		return 0, 0, 0, fmt.Errorf("%s.max_nodes must be between %d and %d for an autoscaled pool (at least 1 and at least min_nodes %d); got %d", field, max(1, lo), k8sMaxNodesPerPool, lo, hi)
	}
	c = lo
	if count != nil {
		c = *count
		if c < lo || c > hi {
			return 0, 0, 0, fmt.Errorf("%s.count %d must be between min_nodes %d and max_nodes %d", field, c, lo, hi)
		}
	}
	return c, lo, hi, nil
}

// k8sValidatePool checks one node pool of a create request. taken holds the
// names already used in the cluster.
func k8sValidatePool(field string, req k8sNodePoolRequest, region string, taken map[string]bool) (*k8sPool, error) {
	if req.Name == "" {
		return nil, fmt.Errorf("%s.name is required", field)
	}
	if len(req.Name) > 57 || !k8sPoolNamePattern.MatchString(req.Name) {
		return nil, fmt.Errorf("%s.name %q is invalid: node names derive from it, so use lowercase letters, digits and dashes, starting and ending with a letter or digit (at most 57 characters)", field, req.Name)
	}
	if taken[req.Name] {
		return nil, fmt.Errorf("%s.name %q is already used by another node pool of this cluster; pool names must be unique", field, req.Name)
	}
	if req.Size == "" {
		return nil, fmt.Errorf("%s.size is required; sizes offered in %s: %s", field, region, strings.Join(sizesOfferedIn(region, false), ", "))
	}
	size, ok := nodeSizeBySlug(req.Size)
	if !ok {
		return nil, fmt.Errorf("%s.size %q is not a DOKS node size; sizes offered in %s: %s", field, req.Size, region, strings.Join(sizesOfferedIn(region, false), ", "))
	}
	if !size.offeredIn(region) {
		offered := sizesOfferedIn(region, size.GPU != nil)
		kind := "sizes"
		if size.GPU != nil {
			kind = "GPU sizes"
		}
		list := strings.Join(offered, ", ")
		if list == "" {
			list = "none"
		}
		return nil, fmt.Errorf("%s.size %q is not offered in region %q (it is offered in %s); %s offered there: %s", field, req.Size, region, strings.Join(size.regionSlugs(), ", "), kind, list)
	}
	count, lo, hi, err := k8sPoolScaling(field, req.AutoScale, req.Count, req.MinNodes, req.MaxNodes)
	if err != nil {
		return nil, err
	}
	if err := k8sValidateTags(field+".tags", req.Tags); err != nil {
		return nil, err
	}
	if err := k8sValidateLabels(field+".labels", req.Labels); err != nil {
		return nil, err
	}
	if err := k8sValidateTaints(field+".taints", req.Taints); err != nil {
		return nil, err
	}
	if req.GPUPartitionMode != "" {
		if size.GPU == nil || size.GPU.Brand != "amd" {
			return nil, fmt.Errorf("%s.gpu_partition_mode is only supported for AMD GPU sizes; %q is not one", field, req.Size)
		}
		if !slices.Contains(amdPartitionModes, req.GPUPartitionMode) {
			return nil, fmt.Errorf("%s.gpu_partition_mode %q is invalid: use one of %s", field, req.GPUPartitionMode, strings.Join(amdPartitionModes, ", "))
		}
	}
	return &k8sPool{
		id: newID(), name: req.Name, size: req.Size, count: count,
		userTags: req.Tags, userLabels: req.Labels, userTaints: req.Taints,
		autoScale: req.AutoScale, minNodes: lo, maxNodes: hi, gpuPartitionMode: req.GPUPartitionMode,
	}, nil
}

// ---- nodes ----

const k8sNodeNameChars = "abcdefghijklmnopqrstuvwxyz0123456789"

func k8sNodeSuffix() string {
	b := make([]byte, 5)
	for i := range b {
		b[i] = k8sNodeNameChars[rand.IntN(len(k8sNodeNameChars))]
	}
	return string(b)
}

// addNodes starts n new nodes in p. A node cannot be ready before the control
// plane, and GPU Droplets take longer to come up than CPU ones; GPU nodes
// added to a pool that already existed (grown: a scale-up, a replacement)
// wait for capacity on top.
func (s *kubernetesStore) addNodes(cl *k8sCluster, p *k8sPool, n int, fails, grown bool, now time.Time) {
	size, _ := nodeSizeBySlug(p.size)
	d := NodePoolProvisionDuration
	if size.GPU != nil {
		d = GPUPoolProvisionDuration
	}
	ready := now.Add(s.e.scaled(d))
	if size.GPU != nil && grown {
		// No source gives GPU node times; capacity is scarce, so the rougher reading: scale-ups stay "provisioning" long (Realism.GPUCapacityWait).
		ready = ready.Add(s.e.realism().GPUCapacityWait)
	}
	if cl.state == k8sProvisioning && ready.Before(cl.readyAt) {
		ready = cl.readyAt
	}
	for range n {
		p.nodes = append(p.nodes, &k8sNode{
			id: newID(), name: p.name + "-" + k8sNodeSuffix(), dropletID: strconv.Itoa(400000000 + rand.IntN(99999999)),
			state: k8sNodeProvisioning, createdAt: now, updatedAt: now, readyAt: ready, fails: fails,
		})
	}
}

// retireNode starts a node's removal: draining first unless skipDrain.
func (s *kubernetesStore) retireNode(n *k8sNode, skipDrain bool, now time.Time) {
	n.updatedAt = now
	n.fails = false
	if skipDrain {
		n.state = k8sNodeDeleting
		n.removeAt = now.Add(s.e.scaled(DeleteDuration))
		return
	}
	n.state = k8sNodeDraining
	n.drainUntil = now.Add(s.e.scaled(DeleteDuration))
	n.removeAt = n.drainUntil.Add(s.e.scaled(DeleteDuration))
}

// activeNodes are the nodes not being removed.
func (p *k8sPool) activeNodes() []*k8sNode {
	var out []*k8sNode
	for _, n := range p.nodes {
		if n.state != k8sNodeDraining && n.state != k8sNodeDeleting {
			out = append(out, n)
		}
	}
	return out
}

// resize brings the pool's active nodes to count: new nodes provision, and
// surplus nodes (the newest first, failed ones before healthy ones) drain.
func (s *kubernetesStore) resize(cl *k8sCluster, p *k8sPool, count int, now time.Time) {
	p.count = count
	active := p.activeNodes()
	if len(active) < count {
		s.addNodes(cl, p, count-len(active), false, true, now)
		return
	}
	sort.SliceStable(active, func(i, j int) bool {
		ei, ej := active[i].fails, active[j].fails
		if ei != ej {
			return ei
		}
		return active[i].createdAt.After(active[j].createdAt)
	})
	for _, n := range active[:len(active)-count] {
		s.retireNode(n, false, now)
	}
}

// autoscale plays the cluster autoscaler of an autoscaled pool with room to
// move (max_nodes > min_nodes): every Realism.AutoscaleInterval from the
// pool's creation (or from when autoscaling was turned on) its count moves
// by one node, alternately up and down starting with up; a step that would
// leave [min_nodes, max_nodes] goes the other way. Steps fall only while
// the control plane runs and the bounds leave room; others are skipped. New
// nodes provision (GPU ones with the capacity wait), surplus ones drain, as
// resize does.
func (s *kubernetesStore) autoscale(cl *k8sCluster, p *k8sPool, now time.Time) {
	interval := s.e.realism().AutoscaleInterval
	if interval <= 0 || !p.autoScale || p.nextAutoscale.IsZero() {
		return
	}
	for !now.Before(p.nextAutoscale) {
		at := p.nextAutoscale
		p.nextAutoscale = at.Add(interval)
		// No room (bounds equal), or no control plane: the step is skipped,
		// and a later change of bounds does not replay the missed ones.
		if p.maxNodes <= p.minNodes || cl.state != k8sRunning && cl.state != k8sUpgrading {
			continue
		}
		// The autoscaler resizes auto_scale pools "within the given min/max range" on its own (official provider docs/resources/kubernetes_node_pool.md; hence its actual_node_count).
		s.advanceNodes(cl, p, at)
		count := p.count
		if p.scaleDown && count-1 < p.minNodes || !p.scaleDown && count+1 > p.maxNodes {
			p.scaleDown = !p.scaleDown
		}
		if p.scaleDown {
			count--
		} else {
			count++
		}
		p.scaleDown = !p.scaleDown
		s.resize(cl, p, min(max(count, p.minNodes), p.maxNodes), at)
		cl.addMessage(at, fmt.Sprintf("Cluster autoscaler resized node pool %q to %d node(s)", p.name, p.count))
	}
}

// planAutoscale (re)starts the autoscaler's steps of p from now, or stops
// them when the pool is not autoscaled.
func (s *kubernetesStore) planAutoscale(p *k8sPool, now time.Time) {
	interval := s.e.realism().AutoscaleInterval
	if interval <= 0 || !p.autoScale {
		p.nextAutoscale = time.Time{}
		return
	}
	p.nextAutoscale, p.scaleDown = now.Add(interval), false
}

// ---- handlers ----

func (s *kubernetesStore) findPool(c *call) (*k8sCluster, *k8sPool, bool) {
	cl, ok := s.find(c)
	if !ok {
		return nil, nil, false
	}
	id := c.param("node_pool_id")
	for _, p := range cl.pools {
		if p.id == id {
			return cl, p, true
		}
	}
	c.notFound()
	return nil, nil, false
}

// k8sChangeable answers 422 unless the cluster accepts node pool changes.
func k8sChangeable(c *call, cl *k8sCluster) bool {
	if cl.state == k8sError {
		c.unprocessable("cluster %s is in state error and cannot be changed; delete it and create it again", cl.id)
		return false
	}
	return true
}

func (s *kubernetesStore) listPools(c *call) {
	cl, ok := s.find(c)
	if !ok {
		return
	}
	out := make([]k8sNodePoolJSON, 0, len(cl.pools))
	for _, p := range cl.pools {
		out = append(out, cl.poolJSON(p))
	}
	respondList(c, "node_pools", out)
}

func (s *kubernetesStore) getPool(c *call) {
	// A deleted pool stays readable, its nodes "deleting", until its Droplets
	// are torn down (the official provider's waitForKubernetesNodePoolDelete
	// polls GET until 404).
	if cl, ok := s.clusters[c.param("cluster_id")]; ok {
		for _, p := range cl.deletingPools {
			if p.id == c.param("node_pool_id") {
				c.respond(http.StatusOK, map[string]any{"node_pool": cl.deletingPoolJSON(p)})
				return
			}
		}
	}
	if cl, p, ok := s.findPool(c); ok {
		c.respond(http.StatusOK, map[string]any{"node_pool": cl.poolJSON(p)})
	}
}

// deletingPoolJSON renders a deleted pool during its teardown: every node
// is being deleted.
func (cl *k8sCluster) deletingPoolJSON(p *k8sPool) k8sNodePoolJSON {
	out := cl.poolJSON(p)
	for i := range out.Nodes {
		out.Nodes[i].Status.State = k8sNodeDeleting
	}
	return out
}

func (s *kubernetesStore) createPool(c *call) {
	cl, ok := s.find(c)
	if !ok {
		return
	}
	var req k8sNodePoolRequest
	if !c.decode(&req) || !k8sChangeable(c, cl) {
		return
	}
	taken := map[string]bool{}
	for _, p := range cl.pools {
		taken[p.name] = true
	}
	p, err := k8sValidatePool("node_pool", req, cl.region, taken)
	if err != nil {
		c.unprocessable("%v", err)
		return
	}
	p.createdAt = c.now
	p.fails = s.e.takeTransitionFailure(TransitionNodePool)
	cl.pools = append(cl.pools, p)
	s.addNodes(cl, p, p.count, p.fails, false, c.now)
	s.planAutoscale(p, c.now)
	cl.updatedAt = c.now
	c.respond(http.StatusCreated, map[string]any{"node_pool": cl.poolJSON(p)})
}

func (s *kubernetesStore) updatePool(c *call) {
	cl, p, ok := s.findPool(c)
	if !ok {
		return
	}
	var req struct {
		Name      *string           `json:"name"`
		Size      *string           `json:"size"`
		Count     *int              `json:"count"`
		Tags      []string          `json:"tags"`
		Labels    map[string]string `json:"labels"`
		Taints    *[]k8sTaintJSON   `json:"taints"`
		AutoScale *bool             `json:"auto_scale"`
		MinNodes  *int              `json:"min_nodes"`
		MaxNodes  *int              `json:"max_nodes"`
	}
	if !c.decode(&req) || !k8sChangeable(c, cl) {
		return
	}
	if req.Name == nil || *req.Name == "" {
		c.unprocessable("name is required: send the pool's current name (%q) to keep it", p.name)
		return
	}
	if *req.Name != p.name {
		if len(*req.Name) > 57 || !k8sPoolNamePattern.MatchString(*req.Name) {
			c.unprocessable("name %q is invalid: node names derive from it, so use lowercase letters, digits and dashes, starting and ending with a letter or digit (at most 57 characters)", *req.Name)
			return
		}
		for _, o := range cl.pools {
			if o != p && o.name == *req.Name {
				c.unprocessable("name %q is already used by another node pool of this cluster; pool names must be unique", *req.Name)
				return
			}
		}
	}
	if req.Size != nil && *req.Size != p.size {
		c.unprocessable("size cannot be changed (the pool runs %s): create a new node pool with size %s and delete this one", p.size, *req.Size)
		return
	}
	autoScale := p.autoScale
	if req.AutoScale != nil {
		autoScale = *req.AutoScale
	}
	minNodes, maxNodes := req.MinNodes, req.MaxNodes
	if autoScale && req.AutoScale == nil {
		// Bounds not resent keep their values.
		if minNodes == nil {
			minNodes = &p.minNodes
		}
		if maxNodes == nil {
			maxNodes = &p.maxNodes
		}
	}
	count := req.Count
	if count == nil {
		cur := p.count
		if autoScale {
			lo, hi := 0, 0
			if minNodes != nil {
				lo = *minNodes
			}
			if maxNodes != nil {
				hi = *maxNodes
			}
			cur = min(max(cur, lo), max(hi, lo))
		}
		count = &cur
	}
	n, lo, hi, err := k8sPoolScaling("node_pool", autoScale, count, minNodes, maxNodes)
	if err != nil {
		c.unprocessable("%v", err)
		return
	}
	if err := k8sValidateTags("tags", req.Tags); err != nil {
		c.unprocessable("%v", err)
		return
	}
	if err := k8sValidateLabels("labels", req.Labels); err != nil {
		c.unprocessable("%v", err)
		return
	}
	if req.Taints != nil {
		if err := k8sValidateTaints("taints", *req.Taints); err != nil {
			c.unprocessable("%v", err)
			return
		}
	}
	p.name = *req.Name
	if req.Tags != nil {
		p.userTags = req.Tags
	}
	if req.Labels != nil {
		p.userLabels = req.Labels
	}
	if req.Taints != nil {
		p.userTaints = *req.Taints
	}
	wasAutoScaled := p.autoScale
	p.autoScale, p.minNodes, p.maxNodes = autoScale, lo, hi
	if autoScale != wasAutoScaled {
		s.planAutoscale(p, c.now)
	}
	if n != p.count || len(p.activeNodes()) != n {
		s.resize(cl, p, n, c.now)
	}
	cl.updatedAt = c.now
	c.respond(http.StatusAccepted, map[string]any{"node_pool": cl.poolJSON(p)})
}

func (s *kubernetesStore) deletePool(c *call) {
	cl, p, ok := s.findPool(c)
	if !ok {
		return
	}
	if len(cl.pools) == 1 {
		c.unprocessable("node pool %q is the cluster's last node pool; a cluster needs at least one (add another pool first, or delete the cluster)", p.name)
		return
	}
	cl.pools = slices.DeleteFunc(cl.pools, func(o *k8sPool) bool { return o == p })
	for _, n := range p.nodes {
		s.dropletGone(cl, n, c.now)
	}
	p.deleteAt = c.now.Add(s.e.scaled(DeleteDuration))
	cl.deletingPools = append(cl.deletingPools, p)
	cl.updatedAt = c.now
	c.noContent()
}

func k8sQueryFlag(c *call, name string) (bool, bool) {
	switch v := c.query(name); v {
	case "", "0", "false":
		return false, true
	case "1", "true":
		return true, true
	default:
		c.fail(http.StatusBadRequest, "bad_request", fmt.Sprintf("%s must be 0 or 1; got %q", name, v))
		return false, false
	}
}

// deleteNode removes one node, draining it first unless skip_drain=1. With
// replace=1 a new node takes its place; otherwise the pool shrinks by one.
func (s *kubernetesStore) deleteNode(c *call) {
	cl, p, ok := s.findPool(c)
	if !ok {
		return
	}
	skipDrain, ok := k8sQueryFlag(c, "skip_drain")
	if !ok {
		return
	}
	replace, ok := k8sQueryFlag(c, "replace")
	if !ok {
		return
	}
	var node *k8sNode
	for _, n := range p.nodes {
		if n.id == c.param("node_id") {
			node = n
		}
	}
	if node == nil {
		c.notFound()
		return
	}
	if !k8sChangeable(c, cl) {
		return
	}
	if node.state == k8sNodeDraining || node.state == k8sNodeDeleting {
		c.unprocessable("node %s is already being deleted (state %s)", node.name, node.state)
		return
	}
	if !replace {
		floor := 1
		if p.autoScale {
			floor = p.minNodes
		}
		if p.count-1 < floor {
			c.unprocessable("deleting node %s would take pool %q below its minimum of %d node(s); pass replace=1 to replace it instead", node.name, p.name, floor)
			return
		}
		p.count--
	}
	s.retireNode(node, skipDrain, c.now)
	if replace {
		s.addNodes(cl, p, 1, false, true, c.now)
	}
	cl.updatedAt = c.now
	c.w.WriteHeader(http.StatusAccepted)
}
