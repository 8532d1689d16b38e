package stack

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/digitalocean/godo"
)

// How a stack is found again: by its tag. Clusters and databases carrying
// attach-stack:<name> are its own; the VPC is the cluster's (its own when
// named <name>-vpc); databases on that VPC whose firewall trusts the cluster
// but which lack the tag are attached ones.
//
// Discover reads a stack for another workspace (the attach_inference_stack
// data source, the ephemeral credentials) and takes whatever carries the
// name tag. ImportByName, which takes the stack into a state, takes only a
// stack whose objects all carry one identity (ownership.go) besides the
// name tag, and that identity with them: objects of the name with no
// identity, or with two, are refused (ImportRefusedError), naming each and
// the import by ids that adopts them on purpose (adopt_by_id.go).

// defaultUsers and defaultDBs are what DigitalOcean creates in every
// database; they are never the stack's.
var (
	defaultUsers = map[string]bool{"doadmin": true, "default": true, "admin": true}
	defaultDBs   = map[string]bool{"defaultdb": true, "admin": true, "_dodb": true, "postgres": true, "local": true, "config": true}
)

// ErrNoStack is Discover's answer when nothing carries the stack's tag (as
// opposed to an API error, which says nothing of whether the stack exists).
var ErrNoStack = errors.New("no stack")

// Discover finds every part of the stack called name by its name tag. The
// returned Spec describes the parts as they are (engine, sizes, pools...).
func (e *Engine) Discover(ctx context.Context, name string) (Spec, *Status, error) {
	return e.discoverByName(ctx, name, false)
}

// ImportByName is Discover for an import: it takes only objects that carry
// the name tag and one identity, the same on all, and the status takes
// that identity (Status.Owner). Anything else carrying the name tag is
// refused with an *ImportRefusedError.
func (e *Engine) ImportByName(ctx context.Context, name string) (Spec, *Status, error) {
	return e.discoverByName(ctx, name, true)
}

func (e *Engine) discoverByName(ctx context.Context, name string, strict bool) (Spec, *Status, error) {
	tag := StackTagPrefix + name
	spec := Spec{Name: name, Databases: map[string]DatabaseSpec{}}
	r := e.newRun(spec, nil)

	clusters, err := ListAll(ctx, func(opt *godo.ListOptions) ([]*godo.KubernetesCluster, *godo.Response, error) {
		return e.API.Kubernetes.List(ctx, opt)
	})
	if err != nil {
		return spec, nil, apiErr("listing clusters", err)
	}
	var mine []*godo.KubernetesCluster
	for _, c := range clusters {
		if slices.Contains(c.Tags, tag) {
			mine = append(mine, c)
		}
	}
	// A replacement in flight leaves two: the newest generation is current.
	sort.Slice(mine, func(i, j int) bool { return generationOf(name, mine[i].Name) > generationOf(name, mine[j].Name) })
	dbs, err := ListAll(ctx, func(opt *godo.ListOptions) ([]godo.Database, *godo.Response, error) {
		return e.API.Databases.List(ctx, opt)
	})
	if err != nil {
		return spec, nil, apiErr("listing databases", err)
	}
	var tagged []*godo.Database
	for i := range dbs {
		if slices.Contains(dbs[i].Tags, tag) {
			tagged = append(tagged, &dbs[i])
		}
	}
	// A reader takes the identity too when the objects agree on one.
	owner, refusal := singleIdentity(name, mine, tagged)
	if refusal != nil && strict {
		return spec, nil, refusal
	}
	spec.Owner, r.spec.Owner, r.st.Owner = owner, owner, owner
	if len(mine) > 0 {
		spec.Tags = userTagsOf(mine[0].Tags)
	} else if len(tagged) > 0 {
		spec.Tags = userTagsOf(tagged[0].Tags)
	}
	r.spec.Tags = spec.Tags
	for i, c := range mine {
		if i > 1 {
			break
		}
		pools, _ := mapPools(c, "", nil, false)
		r.recordDiscoveredCluster(name, c, pools, i == 1)
		if i == 0 {
			spec.Region = c.RegionSlug
			r.st.VPCID = c.VPCUUID
		}
	}

	for i := range dbs {
		db := &dbs[i]
		owned := slices.Contains(db.Tags, tag)
		key := strings.TrimPrefix(db.Name, name+"-")
		if !owned {
			if r.st.Cluster == nil || db.PrivateNetworkUUID != r.st.VPCID {
				continue
			}
			rules, _, err := e.API.Databases.GetFirewallRules(ctx, db.ID)
			if err != nil {
				return spec, nil, apiErr("reading the firewall of database "+db.Name, err)
			}
			if !slices.ContainsFunc(rules, func(fr godo.DatabaseFirewallRule) bool {
				return fr.Type == "k8s" && fr.Value == r.st.Cluster.ID
			}) {
				continue
			}
			key = db.Name
		}
		if spec.Region == "" {
			spec.Region, r.st.VPCID = db.RegionSlug, db.PrivateNetworkUUID
		}
		if err := r.discoverDatabase(ctx, key, db, owned); err != nil {
			return spec, nil, err
		}
		spec.Databases[key] = databaseSpecFrom(r.st.Databases[key])
	}
	if r.st.Cluster == nil && len(r.st.Databases) == 0 {
		return spec, nil, fmt.Errorf("%w named %q: no cluster or database carries the tag %s. To adopt a cluster and databases made "+
			"elsewhere (the DigitalOcean provider, doctl, the control panel), import them by id: %s,cluster=<cluster id>,database.<key>=<database id>",
			ErrNoStack, name, tag, name)
	}
	if r.st.VPCID != "" {
		v, _, err := e.API.VPCs.Get(ctx, r.st.VPCID)
		if err != nil && !isNotFound(err) {
			return spec, nil, apiErr("reading VPC "+r.st.VPCID, err)
		}
		if v != nil {
			r.st.VPCOwned = v.Name == vpcName(name)
			r.st.VPCIPRange = v.IPRange
			// The stack's own VPC carries its identity in its description
			// (or none, made before identities). One carrying another's is
			// that state's: attached, never modified or deleted.
			if o := OwnerInDescription(v.Description); strict && o != "" && o != spec.Owner {
				r.st.VPCOwned = false
			}
			if r.st.VPCOwned {
				r.st.VPCOwner = OwnerInDescription(v.Description)
			}
			spec.VPC.IPRange = v.IPRange
			if !r.st.VPCOwned {
				spec.VPC.ID = v.ID
			}
		}
	}
	if err := r.describeCluster(ctx, &spec); err != nil {
		return spec, nil, err
	}
	return spec, r.st.Clone(), nil
}

// describeCluster fills spec.Cluster from the status's cluster (spec.Tags
// set: a pool's own tags are those the stack's parts do not all carry), and
// fetches its kubeconfig.
func (r *run) describeCluster(ctx context.Context, spec *Spec) error {
	c := r.st.Cluster
	if c == nil {
		return nil
	}
	spec.Cluster = ClusterSpec{Version: c.Version, HA: c.HA, AutoUpgrade: c.AutoUpgrade, SurgeUpgrade: c.SurgeUpgrade,
		MaintenanceDay: c.MaintenanceDay, MaintenanceStart: c.MaintenanceStart, ClusterSubnet: c.ClusterSubnet,
		ServiceSubnet: c.ServiceSubnet, GPUPools: map[string]NodePoolSpec{}}
	// A disabled firewall is what a configuration without one gives.
	if f := c.ControlPlaneFirewall; f != nil && f.Enabled {
		spec.Cluster.ControlPlaneFirewall = f.clone()
	}
	if a := c.Autoscaler; a != nil && (a.ScaleDownUtilizationThreshold != nil || a.ScaleDownUnneededTime != "" || len(a.Expanders) > 0) {
		spec.Cluster.Autoscaler = a.clone()
	}
	// Every plugin as the cluster has it (unreported: off).
	spec.Cluster.Plugins = ClusterPlugins{
		NvidiaGpuDevicePlugin:       godo.PtrTo(On(c.Plugins.NvidiaGpuDevicePlugin)),
		AmdGpuDevicePlugin:          godo.PtrTo(On(c.Plugins.AmdGpuDevicePlugin)),
		AmdGpuDeviceMetricsExporter: godo.PtrTo(On(c.Plugins.AmdGpuDeviceMetricsExporter)),
		RdmaSharedDevicePlugin:      godo.PtrTo(On(c.Plugins.RdmaSharedDevicePlugin)),
		RoutingAgent:                godo.PtrTo(On(c.Plugins.RoutingAgent)),
	}
	stackTags := spec.AllTags()
	for k, p := range c.Pools {
		ps := p.Spec
		// A pool's own tags are those its stack's parts do not all carry
		// (and never another stack's marks).
		ps.Tags = PoolOwnTags(WithoutIdentityTags(p.Tags), stackTags, nil)
		if k == SystemPoolName {
			spec.Cluster.SystemPool = ps
		} else {
			spec.Cluster.GPUPools[k] = ps
		}
	}
	return r.fetchKubeconfig(ctx, true)
}

// databaseSpecFrom describes a discovered database as a configuration
// would (deletion protection on).
func databaseSpecFrom(ds *DatabaseStatus) DatabaseSpec {
	d := DatabaseSpec{Engine: ds.Engine, Version: ds.Version, Size: ds.Size, NodeCount: ds.NodeCount, StorageMiB: ds.StorageMiB,
		MaintenanceDay: ds.MaintenanceDay, MaintenanceHour: ds.MaintenanceHour, DBs: ds.DBs, Users: sortedKeys(ds.Users),
		Pools: map[string]PoolSpec{}, Replicas: map[string]ReplicaSpec{}, EvictionPolicy: ds.EvictionPolicy,
		TrustedSources: ds.TrustedSources, DeletionProtection: true, StorageAutoscale: ds.StorageAutoscale}
	if !ds.Owned {
		d.ExistingID = ds.ID
	}
	for k, p := range ds.Pools {
		d.Pools[k] = p.Spec
	}
	for k, rep := range ds.Replicas {
		d.Replicas[k] = ReplicaSpec{Region: rep.Region, Size: rep.Size}
	}
	return d
}

// identitiesIn lists the distinct identities tags carry, sorted.
func identitiesIn(tags []string) []string {
	var out []string
	for _, t := range tags {
		if o, ok := strings.CutPrefix(t, OwnerTagPrefix); ok && o != "" {
			out = append(out, o)
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// singleIdentity is the one identity every object carrying the stack's
// name tag carries, or the refusal naming those that do not agree.
func singleIdentity(name string, clusters []*godo.KubernetesCluster, dbs []*godo.Database) (string, *ImportRefusedError) {
	type object struct {
		obj ForeignObject
		ids []string
	}
	var objs []object
	for _, c := range clusters {
		objs = append(objs, object{ForeignObject{Kind: "cluster", Key: c.Name, Name: c.Name, ID: c.ID}, identitiesIn(c.Tags)})
	}
	used := map[string]bool{}
	for _, db := range dbs {
		key := KeyFor(strings.TrimPrefix(db.Name, name+"-"), used)
		objs = append(objs, object{ForeignObject{Kind: "database", Key: key, Name: db.Name, ID: db.ID}, identitiesIn(db.Tags)})
	}
	seen := map[string]bool{}
	ok := true
	for _, o := range objs {
		if len(o.ids) != 1 {
			ok = false
			continue
		}
		seen[o.ids[0]] = true
	}
	if ok && len(seen) <= 1 {
		for id := range seen {
			return id, nil
		}
		return "", nil
	}
	// Group by what they carry: one import by ids per group adopts it.
	refusal := &ImportRefusedError{Stack: name, identities: map[string][]string{}}
	group := map[string]int{}
	for _, o := range objs {
		g := strings.Join(o.ids, ",")
		o.obj.Owner = g
		refusal.identities[o.obj.ID] = o.ids
		i, have := group[g]
		if !have {
			i = len(refusal.Groups)
			group[g] = i
			refusal.Groups = append(refusal.Groups, ForeignObjectsError{Stack: name})
		}
		refusal.Groups[i].Objects = append(refusal.Groups[i].Objects, o.obj)
	}
	return "", refusal
}

// ImportRefusedError refuses an import by name: objects carry the stack's
// name tag but no identity, or not one identity between them. Nothing was
// imported or changed.
type ImportRefusedError struct {
	Stack string
	// Groups are the objects by what they carry (no identity, one, or
	// several), each with the import by ids that adopts it.
	Groups []ForeignObjectsError
	// identities are the identities each object (by id) carries.
	identities map[string][]string
}

func (e *ImportRefusedError) describe(o ForeignObject) string {
	ids := e.identities[o.ID]
	switch len(ids) {
	case 0:
		return fmt.Sprintf("%s %s (%s), carrying no stack identity", o.Kind, o.Name, o.ID)
	case 1:
		return fmt.Sprintf("%s %s (%s), carrying the identity %s", o.Kind, o.Name, o.ID, OwnerTag(ids[0]))
	}
	var tags []string
	for _, id := range ids {
		tags = append(tags, OwnerTag(id))
	}
	return fmt.Sprintf("%s %s (%s), carrying %d identities (%s)", o.Kind, o.Name, o.ID, len(ids), strings.Join(tags, ", "))
}

// ImportIDs are the imports by ids that adopt each group, in Groups' order
// (of two clusters, a replacement in flight, the current one: the stack
// retires the other once adopted).
func (e *ImportRefusedError) ImportIDs() []string {
	var out []string
	for _, g := range e.Groups {
		one := ForeignObjectsError{Stack: g.Stack}
		cluster := false
		for _, o := range g.Objects {
			if o.Kind == "cluster" && cluster {
				continue
			}
			cluster = cluster || o.Kind == "cluster"
			one.Objects = append(one.Objects, o)
		}
		out = append(out, one.ImportID())
	}
	return out
}

func (e *ImportRefusedError) Error() string {
	var objs []string
	for _, g := range e.Groups {
		for _, o := range g.Objects {
			objs = append(objs, e.describe(o))
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "objects tagged %s%s do not all carry one stack identity: %s. An import by name takes only a stack whose every "+
		"object carries the same identity (the tag %s<owner_id> its state wrote), so that it never takes another workspace's objects; "+
		"nothing was imported or changed. If no other workspace manages these objects, adopt them on purpose by id",
		StackTagPrefix, e.Stack, strings.Join(objs, "; "), OwnerTagPrefix)
	ids := e.ImportIDs()
	if len(ids) == 1 {
		fmt.Fprintf(&b, ": terraform import <address> '%s' (or an import block with that id)", ids[0])
		return b.String()
	}
	b.WriteString(", one set of objects per stack:")
	for i, g := range e.Groups {
		fmt.Fprintf(&b, " terraform import <address> '%s' (the objects carrying %s);", ids[i], e.carrying(g))
	}
	return strings.TrimSuffix(b.String(), ";")
}

func (e *ImportRefusedError) carrying(g ForeignObjectsError) string {
	if len(g.Objects) == 0 {
		return "nothing"
	}
	ids := e.identities[g.Objects[0].ID]
	if len(ids) == 0 {
		return "no identity"
	}
	var tags []string
	for _, id := range ids {
		tags = append(tags, OwnerTag(id))
	}
	return strings.Join(tags, " and ")
}

// discoverDatabase records a database and everything in it that is not
// DigitalOcean's default, as if the stack had made it.
func (r *run) discoverDatabase(ctx context.Context, key string, db *godo.Database, owned bool) error {
	r.recordDatabase(key, db, owned)
	d := r.st.Databases[key]
	d.Provisioned, d.DeletionProtection = true, true
	for _, u := range db.Users {
		if !defaultUsers[u.Name] {
			d.Users[u.Name] = u.Password
		}
	}
	for _, n := range db.DBNames {
		if !defaultDBs[n] {
			d.DBs = append(d.DBs, n)
		}
	}
	sort.Strings(d.DBs)
	rules, _, err := r.e.API.Databases.GetFirewallRules(ctx, db.ID)
	if err != nil {
		return apiErr("reading the firewall of database "+key, err)
	}
	for _, fr := range rules {
		if r.st.Cluster != nil && fr.Type == "k8s" && fr.Value == r.st.Cluster.ID {
			d.AttachedClusterID = fr.Value
			continue
		}
		if r.st.RetiringCluster != nil && fr.Type == "k8s" && fr.Value == r.st.RetiringCluster.ID {
			continue
		}
		d.TrustedSources = append(d.TrustedSources, Rule{Type: fr.Type, Value: fr.Value})
	}
	if db.EngineSlug == "pg" {
		pools, _, err := r.e.API.Databases.ListPools(ctx, db.ID, &godo.ListOptions{PerPage: 200})
		if err != nil {
			return apiErr("listing the pools of database "+key, err)
		}
		for i := range pools {
			r.recordPool(key, &pools[i])
		}
	}
	if db.EngineSlug == "pg" || db.EngineSlug == "mysql" {
		reps, _, err := r.e.API.Databases.ListReplicas(ctx, db.ID, &godo.ListOptions{PerPage: 200})
		if err != nil {
			return apiErr("listing the replicas of database "+key, err)
		}
		for i := range reps {
			r.recordReplica(key, strings.TrimPrefix(reps[i].Name, db.Name+"-"), &reps[i])
		}
	}
	if db.EngineSlug == "valkey" {
		policy, _, err := r.e.API.Databases.GetEvictionPolicy(ctx, db.ID)
		if err != nil {
			return apiErr("reading the eviction policy of database "+key, err)
		}
		d.EvictionPolicy = policy
	}
	if StorageAutoscaleEngine(db.EngineSlug) {
		a, err := r.readStorageAutoscale(ctx, key, db.ID)
		if err != nil {
			return err
		}
		if a.configured() {
			d.StorageAutoscale = &a
		}
	}
	return nil
}

// observedGPUTaints describes every GPU pool of c as wanting the GPU
// taints it carries, DOKS's own included whether or not the pool object
// shows it: an imported GPU pool then keeps DOKS's GPU taint, which is what
// a configuration leaving taints to their default gives.
func observedGPUTaints(c *godo.KubernetesCluster) map[string]NodePoolSpec {
	pools, _ := mapPools(c, "", nil, false)
	return observedGPUTaintsOf(pools)
}

// observedGPUTaintsOf is observedGPUTaints for pools mapped to their keys.
func observedGPUTaintsOf(pools map[string]*godo.KubernetesNodePool) map[string]NodePoolSpec {
	out := map[string]NodePoolSpec{}
	for key, p := range pools {
		if key == SystemPoolName {
			continue
		}
		var ts []Taint
		for _, t := range p.Taints {
			if gpuTaintKeys[t.Key] {
				ts = append(ts, Taint{Key: t.Key, Value: t.Value, Effect: t.Effect})
			}
		}
		// DigitalOcean's pool object leaves out the taint DOKS puts on
		// every GPU node; the nodes carry it all the same.
		if isGPUSize(p.Size) && len(ts) == 0 {
			ts = append(ts, doksGPUTaint(p.Size))
		}
		out[key] = NodePoolSpec{Taints: ts}
	}
	return out
}

// generationOf reads the generation from a cluster name ("ml-g3" -> 3).
func generationOf(stack, cluster string) int {
	var g int
	if _, err := fmt.Sscanf(strings.TrimPrefix(cluster, stack), "-g%d", &g); err == nil && g > 1 {
		return g
	}
	return 1
}

// ListAll pages through a godo list call.
func ListAll[T any](ctx context.Context, list func(*godo.ListOptions) ([]T, *godo.Response, error)) ([]T, error) {
	var all []T
	opt := &godo.ListOptions{Page: 1, PerPage: 200}
	for {
		page, resp, err := list(opt)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if resp == nil || resp.Links == nil || resp.Links.IsLastPage() {
			return all, nil
		}
		current, err := resp.Links.CurrentPage()
		if err != nil {
			return nil, err
		}
		opt.Page = current + 1
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
}

// RecoverIDs are the ids a stack's Terraform state shows (vpc_id,
// cluster_id, databases.<key>.id).
type RecoverIDs struct {
	VPCID     string
	ClusterID string
	Databases map[string]string
	// Stalled are the databases the state's pending says an apply gave up
	// waiting for (StalledInPending).
	Stalled map[string]bool
}

// recoverDatabase reads a database the state names. An owned one that
// answers 404 may have been created moments before the apply failed:
// DigitalOcean hides new databases for a while (terraform-provider-digitalocean
// #361, #728, #906), and taking it for gone would leak it. So a 404 is read
// again until NotVisibleWindow (API time) has passed or ctx ends.
func (e *Engine) recoverDatabase(ctx context.Context, key, id string, owned bool) (*godo.Database, error) {
	start := time.Now()
	var db *godo.Database
	err := e.Poll.Retry(ctx, "reading database "+key+" ("+id+")", func(ctx context.Context) error {
		var err error
		db, _, err = e.API.Databases.Get(ctx, id)
		return err
	}, func(err error) string {
		if owned && isNotFound(err) && time.Since(start) < e.Poll.wall(NotVisibleWindow) {
			return "a database created moments ago reads 404 for a while; destroy must not leak it"
		}
		return ""
	})
	var gaveUp *gaveUpError
	if errors.As(err, &gaveUp) {
		err = gaveUp.err
	}
	return db, err
}

// Recover rebuilds the status of the stack described by spec from the ids
// its state shows, for when the detailed status is lost: Terraform hands
// the destroy half of a replacement of a tainted resource no private state.
// Only the objects those ids name are taken (never, say, a database that
// carries the stack's tag but was retained and detached earlier); what the
// stack manages inside attached databases is taken from spec so destroy can
// remove it. A database still being created never held data (Provisioned
// stays false).
func (e *Engine) Recover(ctx context.Context, spec Spec, ids RecoverIDs) (*Status, error) {
	r := e.newRun(spec, nil)
	if ids.VPCID != "" {
		v, _, err := e.API.VPCs.Get(ctx, ids.VPCID)
		switch {
		case isNotFound(err):
		case err != nil:
			return nil, apiErr("reading VPC "+ids.VPCID, err)
		default:
			r.st.VPCID, r.st.VPCOwned = v.ID, v.Name == vpcName(spec.Name)
		}
	}
	if ids.ClusterID != "" {
		c, _, err := e.API.Kubernetes.Get(ctx, ids.ClusterID)
		switch {
		case isNotFound(err):
		case err != nil:
			return nil, apiErr("reading cluster "+ids.ClusterID, err)
		default:
			r.st.Cluster = r.clusterStatusFrom(c, generationOf(spec.Name, c.Name), nil)
		}
	}
	for _, key := range sortedKeys(ids.Databases) {
		id := ids.Databases[key]
		if id == "" {
			continue
		}
		ds := spec.Databases[key]
		db, err := e.recoverDatabase(ctx, key, id, ds.Owned())
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return nil, apiErr(fmt.Sprintf("reading database %s (%s)", key, id), err)
		}
		r.recordDatabase(key, db, ds.Owned())
		d := r.st.Databases[key]
		d.Provisioned = db.Status != "creating"
		d.Stalled = ids.Stalled[key] && db.Status != "online"
		d.DBs = slices.Clone(ds.DBs)
		for _, u := range ds.Users {
			d.Users[u] = ""
		}
		for name, p := range ds.Pools {
			d.Pools[name] = &PoolStatus{Spec: p}
		}
		d.TrustedSources = slices.Clone(ds.TrustedSources)
		if r.st.Cluster != nil {
			d.AttachedClusterID = r.st.Cluster.ID
		}
	}
	return r.st.Clone(), nil
}
