package stack

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/digitalocean/godo"
)

// Adoption by ids (terraform import <address> '<name>,cluster=<id>,...').
// An import by name takes only objects that carry the stack's identity
// (ImportByName); objects made elsewhere (the official DigitalOcean
// provider, doctl, the control panel), or another state's objects taken on
// purpose, are named by their ids instead and adopted with no tag needed
// beforehand:
//
//   - the cluster, its node pools mapped to the stack's keys by
//     the ids or names given (system_pool, gpu_pool.<key>), else by their
//     identity tag (attach-pool:<key>), else by name, the only CPU pool
//     being the system pool whatever it is called. A pool keeps its DOKS
//     name (NodePoolStatus.Name) under its key: it is never renamed or
//     replaced for it;
//   - databases, by the key given, owned by the stack (not existing_id);
//     their dbs, users, pools, replicas and trusted sources read as an
//     import by name reads them, every trusted source but the cluster's k8s
//     rule coming back as the database's trusted_sources;
//   - the VPC: given (vpc=<id>), it is adopted as the stack's own (deleted
//     with the stack once empty); not given, the cluster's VPC is attached
//     (vpc_id), never modified or deleted.
//
// Without a cluster (databases or a VPC only), the next apply creates it.
// The imported status has no identity (Status.Owner ""): the first apply
// gives the stack one and writes it on every object in place. Nothing is
// written by the import itself.

// AdoptIDs names the objects an import by ids takes into a stack.
type AdoptIDs struct {
	ClusterID string
	// Databases are the databases adopted, by the stack's key for each.
	Databases map[string]string
	// VPCID, when set, is adopted as the stack's own VPC; it must be the
	// cluster's.
	VPCID string
	// SystemPool and GPUPools map node pools of the cluster to the stack's
	// pool keys, each by the pool's id or its DOKS name.
	SystemPool string
	GPUPools   map[string]string
}

// keyPattern is the rule for the stack's keys (databases, GPU pools): the
// provider's schema checks the same.
var keyPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,18}[a-z0-9]$`)

// ValidKey reports whether s may key a database or a GPU pool: 2-20
// lowercase letters, digits and dashes, starting with a letter and not
// ending with a dash.
func ValidKey(s string) bool { return keyPattern.MatchString(s) }

// KeyFor is a key for an object called name, for an import id to name it
// by: the name if it is a valid key not in used, else the name made one
// (lowercased, other characters as dashes, cut to 20), else db<n>. The key
// returned is added to used.
func KeyFor(name string, used map[string]bool) string {
	key := name
	if !ValidKey(key) {
		b := []byte(strings.ToLower(name))
		for i, c := range b {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
				b[i] = '-'
			}
		}
		key = strings.Trim(strings.TrimLeft(string(b), "0123456789-"), "-")
		if len(key) > 20 {
			key = strings.TrimRight(key[:20], "-")
		}
	}
	for n := 1; !ValidKey(key) || used[key]; n++ {
		key = fmt.Sprintf("db%d", n)
	}
	used[key] = true
	return key
}

// AdoptError refuses an import by ids: nothing was imported or written.
type AdoptError struct {
	Stack string
	// Problems each name an object and what to change in the import id.
	Problems []string
}

func (e *AdoptError) Error() string {
	return fmt.Sprintf("cannot adopt these objects into stack %s: %s. Nothing was imported or changed.", e.Stack, strings.Join(e.Problems, "; "))
}

// ImportByIDs describes the objects ids names as stack name, for an import
// that adopts them. The returned Spec describes them as they are; the
// Status carries no identity (Owner ""). Every problem found (an id that
// names nothing, a database on another VPC, a pool that cannot be mapped)
// is refused at once in an *AdoptError, before anything is recorded.
func (e *Engine) ImportByIDs(ctx context.Context, name string, ids AdoptIDs) (Spec, *Status, error) {
	spec := Spec{Name: name, Databases: map[string]DatabaseSpec{}}
	r := e.newRun(spec, nil)
	refuse := &AdoptError{Stack: name}
	if ids.ClusterID == "" && len(ids.Databases) == 0 && ids.VPCID == "" {
		refuse.Problems = append(refuse.Problems, "nothing is named: add cluster=<cluster id> and database.<key>=<database id> parts")
		return spec, nil, refuse
	}
	if ids.ClusterID == "" && (ids.SystemPool != "" || len(ids.GPUPools) > 0) {
		refuse.Problems = append(refuse.Problems, "system_pool and gpu_pool map the pools of a cluster: add cluster=<cluster id>")
		return spec, nil, refuse
	}
	var c *godo.KubernetesCluster
	var pools map[string]*godo.KubernetesNodePool
	vpcID, vpcFrom := ids.VPCID, "vpc="
	if ids.ClusterID != "" {
		var err error
		c, _, err = e.API.Kubernetes.Get(ctx, ids.ClusterID)
		switch {
		case isNotFound(err):
			refuse.Problems = append(refuse.Problems, fmt.Sprintf("no cluster has id %s: check cluster= (doctl kubernetes cluster list)", ids.ClusterID))
			return spec, nil, refuse
		case err != nil:
			return spec, nil, apiErr("reading cluster "+ids.ClusterID, err)
		}
		var problems []string
		pools, problems = mapPools(c, ids.SystemPool, ids.GPUPools, true)
		refuse.Problems = append(refuse.Problems, problems...)
		spec.Region = c.RegionSlug
		if ids.VPCID != "" && ids.VPCID != c.VPCUUID {
			refuse.Problems = append(refuse.Problems, fmt.Sprintf("VPC %s is not the VPC of cluster %s (%s), which is %s: a stack's cluster lives in its VPC. "+
				"Use vpc=%s, or leave vpc= out to attach the cluster's VPC as vpc_id", ids.VPCID, c.Name, c.ID, c.VPCUUID, c.VPCUUID))
		}
		vpcID, vpcFrom = c.VPCUUID, "cluster "+c.Name
	}
	keys := sortedKeys(ids.Databases)
	dbs := map[string]*godo.Database{}
	for _, key := range keys {
		id := ids.Databases[key]
		db, _, err := e.API.Databases.Get(ctx, id)
		if isNotFound(err) {
			refuse.Problems = append(refuse.Problems, fmt.Sprintf("no database has id %s: check database.%s= (doctl databases list)", id, key))
			continue
		}
		if err != nil {
			return spec, nil, apiErr(fmt.Sprintf("reading database %s (%s)", key, id), err)
		}
		if spec.Region == "" {
			spec.Region = db.RegionSlug
		}
		if vpcID == "" {
			vpcID, vpcFrom = db.PrivateNetworkUUID, "database "+db.Name
		}
		switch {
		case db.RegionSlug != spec.Region:
			refuse.Problems = append(refuse.Problems, fmt.Sprintf("database %s (%s) is in region %s, but the stack's other parts are in %s: a stack has one region. Leave database.%s= out",
				db.Name, db.ID, db.RegionSlug, spec.Region, key))
		case db.PrivateNetworkUUID != vpcID:
			refuse.Problems = append(refuse.Problems, fmt.Sprintf("database %s (%s) is on VPC %s, but the stack's VPC is %s (%s): a stack's databases are on its VPC. "+
				"Leave database.%s= out (attach_database_attachment connects a database on another VPC)", db.Name, db.ID, db.PrivateNetworkUUID, vpcID, vpcFrom, key))
		}
		dbs[key] = db
	}
	var vpc *godo.VPC
	if vpcID != "" {
		v, _, err := e.API.VPCs.Get(ctx, vpcID)
		switch {
		case isNotFound(err) && ids.VPCID != "":
			refuse.Problems = append(refuse.Problems, fmt.Sprintf("no VPC has id %s: check vpc= (doctl vpcs list)", vpcID))
		case err != nil && !isNotFound(err):
			return spec, nil, apiErr("reading VPC "+vpcID, err)
		case v != nil && spec.Region == "":
			spec.Region = v.RegionSlug
		}
		vpc = v
	}
	if len(refuse.Problems) > 0 {
		return spec, nil, refuse
	}

	// The stack's tags are its cluster's (else its first database's): what
	// the team put on the objects is kept, and the first apply puts it on
	// every part.
	switch {
	case c != nil:
		spec.Tags = userTagsOf(c.Tags)
	case len(keys) > 0:
		spec.Tags = userTagsOf(dbs[keys[0]].Tags)
	}
	r.spec.Tags, r.spec.Region = spec.Tags, spec.Region
	if c != nil {
		r.recordDiscoveredCluster(name, c, pools, false)
	}
	r.st.VPCID = vpcID
	for _, key := range keys {
		if err := r.discoverDatabase(ctx, key, dbs[key], true); err != nil {
			return spec, nil, err
		}
		spec.Databases[key] = databaseSpecFrom(r.st.Databases[key])
	}
	if vpc != nil {
		// Named, the VPC is the stack's own; otherwise it is attached.
		r.st.VPCOwned = ids.VPCID != ""
		r.st.VPCIPRange = vpc.IPRange
		if r.st.VPCOwned {
			r.st.VPCOwner = OwnerInDescription(vpc.Description)
		}
		spec.VPC.IPRange = vpc.IPRange
		if !r.st.VPCOwned {
			spec.VPC.ID = vpc.ID
		}
	}
	if err := r.describeCluster(ctx, &spec); err != nil {
		return spec, nil, err
	}
	// Adopted on purpose: whatever identity the objects carry, this state
	// takes them over at its first apply.
	r.st.ImportedByID = true
	return spec, r.st.Clone(), nil
}

// userTagsOf is what of an object's tags is the user's: without DOKS's own
// and without the stack's marks (its name tag, an identity), sorted.
func userTagsOf(tags []string) []string {
	out := WithoutIdentityTags(userTags(tags))
	sort.Strings(out)
	out = slices.Compact(out)
	if len(out) == 0 {
		return nil
	}
	return out
}

// mapPools maps the DOKS pools of c to the stack's pool keys:
//
//  1. the pools named by id or DOKS name (systemRef, gpuRefs);
//  2. pools carrying a key's identity tag (PoolTagPrefix), for keys not
//     taken yet;
//  3. for the system pool, if not taken yet: the only CPU pool left, else
//     the CPU pool named "system";
//  4. every other pool by its DOKS name, which must then be a valid key.
//
// A pool whose nodes are all draining (a replaced pool DOKS is deleting)
// is skipped unless named. strict reports the pools that cannot be mapped
// (each problem names the pool and the import id part that maps it);
// without strict they are left out.
func mapPools(c *godo.KubernetesCluster, systemRef string, gpuRefs map[string]string, strict bool) (map[string]*godo.KubernetesNodePool, []string) {
	out := map[string]*godo.KubernetesNodePool{}
	taken := map[string]string{} // pool id -> key
	var problems []string
	describe := func(p *godo.KubernetesNodePool) string {
		return fmt.Sprintf("node pool %s (%s, size %s)", p.Name, p.ID, p.Size)
	}
	find := func(ref string) *godo.KubernetesNodePool {
		for _, p := range c.NodePools {
			if p.ID == ref {
				return p
			}
		}
		for _, p := range c.NodePools {
			if p.Name == ref {
				return p
			}
		}
		return nil
	}
	var names []string
	for _, p := range c.NodePools {
		names = append(names, fmt.Sprintf("%s (%s)", p.Name, p.ID))
	}
	refs := map[string]string{}
	if systemRef != "" {
		refs[SystemPoolName] = systemRef
	}
	for k, v := range gpuRefs {
		refs[k] = v
	}
	for _, key := range sortedKeys(refs) {
		ref := refs[key]
		part := "gpu_pool." + key
		if key == SystemPoolName && systemRef == ref {
			part = "system_pool"
		}
		p := find(ref)
		switch {
		case p == nil:
			problems = append(problems, fmt.Sprintf("cluster %s has no node pool with id or name %q (%s=%s); its pools: %s", c.Name, ref, part, ref, strings.Join(names, ", ")))
		case taken[p.ID] != "":
			problems = append(problems, fmt.Sprintf("%s is named twice (%s and %s): map each pool once", describe(p), taken[p.ID], key))
		case key == SystemPoolName && isGPUSize(p.Size):
			problems = append(problems, fmt.Sprintf("%s is a GPU pool and cannot be the system pool (system_pool=%s): name a CPU pool", describe(p), ref))
		case key != SystemPoolName && !isGPUSize(p.Size):
			problems = append(problems, fmt.Sprintf("%s has no GPU and cannot be a GPU pool (%s=%s): a stack's one CPU pool is its system pool (system_pool=%s)", describe(p), part, ref, ref))
		default:
			out[key], taken[p.ID] = p, key
		}
	}
	var left []*godo.KubernetesNodePool
	for _, p := range c.NodePools {
		if taken[p.ID] == "" {
			left = append(left, p)
		}
	}
	// Identity tags (a pool the stack made, or one tagged by hand). A pool
	// whose nodes all drain keeps its key: an autoscaled pool with
	// min_nodes 0 drains its last node whenever the autoscaler scales it
	// down. Only where two pools carry one key (the old pool of a
	// replacement still draining) does the live one win, the draining one
	// being left out.
	byTag := map[string]bool{}
	var untagged []*godo.KubernetesNodePool
	for _, p := range left {
		key := poolKey(p)
		// Strict, a tag the pool's size contradicts (a CPU pool tagged
		// for a GPU key) is taken for no tag.
		fits := !strict || (key == SystemPoolName) != isGPUSize(p.Size)
		have, had := out[key]
		switch {
		case key == "" || !fits:
		case !had:
			out[key], taken[p.ID], byTag[key] = p, key, true
			continue
		case byTag[key] && poolDraining(have) && !poolDraining(p):
			delete(taken, have.ID)
			out[key], taken[p.ID] = p, key
			continue
		case byTag[key] && poolDraining(p):
			continue
		}
		// An untagged pool is adopted even while its nodes all drain: an
		// autoscaled pool scaling to zero looks the same as one DOKS is
		// deleting, and leaving a live pool out would have the first apply
		// delete it.
		untagged = append(untagged, p)
	}
	left = untagged
	// The system pool: the only CPU pool, whatever it is called.
	if _, have := out[SystemPoolName]; !have {
		var cpu []*godo.KubernetesNodePool
		for _, p := range left {
			if !isGPUSize(p.Size) {
				cpu = append(cpu, p)
			}
		}
		pick := -1
		if len(cpu) == 1 {
			pick = 0
		} else {
			pick = slices.IndexFunc(cpu, func(p *godo.KubernetesNodePool) bool { return p.Name == SystemPoolName })
		}
		switch {
		case pick >= 0:
			out[SystemPoolName], taken[cpu[pick].ID] = cpu[pick], SystemPoolName
		case len(cpu) > 1:
			var cs []string
			for _, p := range cpu {
				cs = append(cs, fmt.Sprintf("%s (%s)", p.Name, p.ID))
			}
			problems = append(problems, fmt.Sprintf("cluster %s has %d CPU node pools (%s) and a stack has one, its system pool: name it with system_pool=<pool id or name>; "+
				"a stack deletes the pools it does not know, so remove or move the others before adopting the cluster", c.Name, len(cpu), strings.Join(cs, ", ")))
		case strict:
			problems = append(problems, fmt.Sprintf("cluster %s has no CPU node pool to be the stack's system pool (its pools: %s): add one to the cluster (doctl kubernetes cluster node-pool create), then import", c.Name, strings.Join(names, ", ")))
		}
	}
	// The rest by name: GPU pools keyed by their DOKS name.
	for _, p := range left {
		if taken[p.ID] != "" {
			continue
		}
		key := p.Name
		_, have := out[key]
		switch {
		case !isGPUSize(p.Size):
			if len(problems) == 0 || !strings.Contains(problems[len(problems)-1], "CPU node pools") {
				problems = append(problems, fmt.Sprintf("%s is a second CPU pool: a stack has one CPU pool, its system pool (%s); the stack would delete this one. "+
					"Remove or move it before adopting the cluster, or name it the system pool with system_pool=%s", describe(p), out[SystemPoolName].Name, p.ID))
			}
		case !ValidKey(key) || key == SystemPoolName || have:
			problems = append(problems, fmt.Sprintf("%s cannot be keyed by its name (a key is 2-20 lowercase letters, digits and dashes, starting with a letter, unique, not %q): "+
				"give it a key with gpu_pool.<key>=%s", describe(p), SystemPoolName, p.ID))
		default:
			out[key], taken[p.ID] = p, key
		}
	}
	if !strict {
		return out, nil
	}
	return out, problems
}

// mappedPools is the prior status poolsByKey and clusterStatusFrom take a
// mapping from: pools known by id and name under their keys.
func mappedPools(c *godo.KubernetesCluster, pools map[string]*godo.KubernetesNodePool) *ClusterStatus {
	prior := &ClusterStatus{ID: c.ID, Pools: map[string]*NodePoolStatus{}}
	for key, p := range pools {
		prior.Pools[key] = &NodePoolStatus{ID: p.ID, Name: p.Name}
	}
	return prior
}

// recordDiscoveredCluster records c (the current cluster, or the one being
// retired) with its pools under the keys pools maps them to.
func (r *run) recordDiscoveredCluster(stack string, c *godo.KubernetesCluster, pools map[string]*godo.KubernetesNodePool, retiring bool) {
	r.spec.Cluster.GPUPools = observedGPUTaintsOf(pools)
	status := r.clusterStatusFrom(c, generationOf(stack, c.Name), mappedPools(c, pools))
	// Exactly the mapping: clusterStatusFrom would also take an untagged
	// pool for the key of its name.
	status.Pools = map[string]*NodePoolStatus{}
	for key, p := range pools {
		want := r.poolSpecFor(key)
		s := poolStatusFrom(p, key, want)
		// Another stack's marks (a takeover by ids) are not the pool's own.
		s.Spec.Tags = r.poolOwnTags(WithoutIdentityTags(s.Tags), want)
		status.Pools[key] = s
	}
	if retiring {
		r.st.RetiringCluster = status
	} else {
		r.st.Cluster = status
	}
}
