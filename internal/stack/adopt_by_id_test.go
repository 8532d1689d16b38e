package stack

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/digitalocean/godo"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
)

// Import by name takes only a stack whose objects carry one identity;
// import by ids adopts objects made elsewhere; pools are mapped by the ids
// or names given, else by identity tag, else by name, the only CPU pool
// being the system pool whatever it is called.

// madeElsewhere is a cluster and a PostgreSQL database created outside the
// stack (as doctl or the official provider makes them), in their own VPC.
type madeElsewhere struct {
	vpc     *godo.VPC
	cluster *godo.KubernetesCluster
	db      *godo.Database
}

// makeElsewhere creates a VPC, a cluster with a CPU pool called cpuPool (2
// nodes) and an autoscaled GPU pool h100, and a database trusting the
// cluster, each tagged as given; it waits until all run.
func makeElsewhere(t *testing.T, e *Engine, prefix, cpuPool string, clusterTags, dbTags []string) madeElsewhere {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var m madeElsewhere
	var err error
	if m.vpc, _, err = e.API.VPCs.Create(ctx, &godo.VPCCreateRequest{Name: prefix + "-net", RegionSlug: "tor1"}); err != nil {
		t.Fatal(err)
	}
	if m.cluster, _, err = e.API.Kubernetes.Create(ctx, &godo.KubernetesClusterCreateRequest{
		Name: prefix + "-k8s", RegionSlug: "tor1", VersionSlug: "1.33.1-do.0", VPCUUID: m.vpc.ID, Tags: clusterTags,
		NodePools: []*godo.KubernetesNodePoolCreateRequest{{Name: cpuPool, Size: "s-2vcpu-4gb", Count: 2, Tags: clusterTags}},
	}); err != nil {
		t.Fatal(err)
	}
	if _, _, err = e.API.Kubernetes.CreateNodePool(ctx, m.cluster.ID, &godo.KubernetesNodePoolCreateRequest{
		Name: "h100", Size: "gpu-h100x1-80gb", AutoScale: true, MinNodes: 0, MaxNodes: 2, Tags: clusterTags}); err != nil {
		t.Fatal(err)
	}
	if m.db, _, err = e.API.Databases.Create(ctx, &godo.DatabaseCreateRequest{
		Name: prefix + "-vectors", EngineSlug: "pg", Version: "17", SizeSlug: "db-s-2vcpu-4gb", NumNodes: 1, Region: "tor1",
		PrivateNetworkUUID: m.vpc.ID, Tags: dbTags}); err != nil {
		t.Fatal(err)
	}
	for {
		c, _, err := e.API.Kubernetes.Get(ctx, m.cluster.ID)
		if err != nil {
			t.Fatal(err)
		}
		// A new database reads 404 for a while (realism.go).
		db, _, err := e.API.Databases.Get(ctx, m.db.ID)
		if err != nil && !isNotFound(err) {
			t.Fatal(err)
		}
		if c.Status != nil && c.Status.State == "running" && db != nil && db.Status == "online" {
			m.cluster, m.db = c, db
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the estate did not come up: cluster %+v, database %+v", c.Status, db)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := e.API.Databases.UpdateFirewallRules(ctx, m.db.ID, &godo.DatabaseUpdateFirewallRulesRequest{
		Rules: []*godo.DatabaseFirewallRule{{Type: "k8s", Value: m.cluster.ID}, {Type: "ip_addr", Value: "203.0.113.7"}}}); err != nil {
		t.Fatal(err)
	}
	return m
}

func pool(id, name, size string, tags ...string) *godo.KubernetesNodePool {
	return &godo.KubernetesNodePool{ID: id, Name: name, Size: size, Tags: tags}
}

// draining gives p one node, draining (the pool's only node being removed).
func draining(p *godo.KubernetesNodePool) *godo.KubernetesNodePool {
	p.Nodes = []*godo.KubernetesNode{{ID: p.ID + "-n1", Status: &godo.KubernetesNodeStatus{State: "draining"}}}
	return p
}

func TestMapPools(t *testing.T) {
	const cpu, gpu = "s-2vcpu-4gb", "gpu-h100x1-80gb"
	cases := []struct {
		name      string
		pools     []*godo.KubernetesNodePool
		system    string
		gpuRefs   map[string]string
		want      map[string]string // key -> pool id
		problems  []string          // phrases, one problem each
		lenientOK map[string]string // without strict
	}{
		{name: "the only CPU pool is the system pool, whatever it is called; GPU pools by name",
			pools: []*godo.KubernetesNodePool{pool("1", "pool-main", cpu), pool("2", "h100", gpu)},
			want:  map[string]string{"system": "1", "h100": "2"}},
		{name: "by the ids and names given",
			pools:  []*godo.KubernetesNodePool{pool("1", "a-cpu", cpu), pool("2", "b-cpu", cpu), pool("3", "GPU_Pool", gpu)},
			system: "b-cpu", gpuRefs: map[string]string{"inference": "3"},
			problems: []string{"a-cpu (1, size s-2vcpu-4gb) is a second CPU pool", "system_pool=1"}},
		{name: "by id, a key other than the name",
			pools:   []*godo.KubernetesNodePool{pool("1", "pool-main", cpu), pool("2", "h100", gpu)},
			gpuRefs: map[string]string{"inference": "2"},
			want:    map[string]string{"system": "1", "inference": "2"}},
		{name: "identity tags before names",
			pools:     []*godo.KubernetesNodePool{pool("1", "system", cpu, PoolTag("old")), pool("2", "pool-main", cpu, PoolTag(SystemPoolName)), pool("3", "h100-b", gpu, PoolTag("h100"))},
			problems:  []string{"system (1, size s-2vcpu-4gb) is a second CPU pool"},
			lenientOK: map[string]string{"system": "2", "h100": "3", "old": "1"}},
		{name: "two CPU pools and no system: name one",
			pools:     []*godo.KubernetesNodePool{pool("1", "web", cpu), pool("2", "jobs", cpu)},
			problems:  []string{"2 CPU node pools (web (1), jobs (2))", "system_pool=<pool id or name>"},
			lenientOK: map[string]string{}},
		{name: "two CPU pools, one called system",
			pools:    []*godo.KubernetesNodePool{pool("1", "system", cpu), pool("2", "jobs", cpu)},
			problems: []string{"jobs (2, size s-2vcpu-4gb) is a second CPU pool"}},
		{name: "a GPU pool whose name is no key",
			pools:     []*godo.KubernetesNodePool{pool("1", "pool-main", cpu), pool("2", "H100_Pool", gpu)},
			problems:  []string{"H100_Pool (2, size gpu-h100x1-80gb) cannot be keyed by its name", "gpu_pool.<key>=2"},
			lenientOK: map[string]string{"system": "1"}},
		{name: "a pool not found",
			pools:    []*godo.KubernetesNodePool{pool("1", "pool-main", cpu)},
			system:   "nope",
			problems: []string{`no node pool with id or name "nope" (system_pool=nope); its pools: pool-main (1)`}},
		{name: "a GPU pool as the system pool",
			pools:    []*godo.KubernetesNodePool{pool("1", "pool-main", cpu), pool("2", "h100", gpu)},
			system:   "2",
			problems: []string{"h100 (2, size gpu-h100x1-80gb) is a GPU pool and cannot be the system pool"}},
		{name: "a CPU pool as a GPU pool",
			pools:    []*godo.KubernetesNodePool{pool("1", "pool-main", cpu), pool("2", "h100", gpu)},
			gpuRefs:  map[string]string{"gpu": "pool-main"},
			problems: []string{"pool-main (1, size s-2vcpu-4gb) has no GPU and cannot be a GPU pool (gpu_pool.gpu=pool-main)"}},
		{name: "a pool named twice",
			pools:    []*godo.KubernetesNodePool{pool("1", "pool-main", cpu), pool("2", "h100", gpu)},
			gpuRefs:  map[string]string{"a": "2", "b": "h100"},
			problems: []string{"node pool h100 (2, size gpu-h100x1-80gb) is named twice (a and b)"}},
		// An autoscaled pool with min_nodes 0 drains its last node when the
		// autoscaler scales it down: it is still the stack's pool.
		{name: "a tagged pool whose only node drains keeps its key",
			pools:     []*godo.KubernetesNodePool{pool("1", "system", cpu, PoolTag(SystemPoolName)), draining(pool("2", "h100", gpu, PoolTag("h100")))},
			want:      map[string]string{"system": "1", "h100": "2"},
			lenientOK: map[string]string{"system": "1", "h100": "2"}},
		{name: "the old pool of a replacement, draining, loses its key to the new one",
			pools: []*godo.KubernetesNodePool{pool("1", "system", cpu, PoolTag(SystemPoolName)), draining(pool("2", "h100", gpu, PoolTag("h100"))),
				pool("3", "h100-b", gpu, PoolTag("h100"))},
			want:      map[string]string{"system": "1", "h100": "3"},
			lenientOK: map[string]string{"system": "1", "h100": "3"}},
		{name: "the new pool of a replacement listed first keeps its key",
			pools: []*godo.KubernetesNodePool{pool("1", "system", cpu, PoolTag(SystemPoolName)), pool("3", "h100-b", gpu, PoolTag("h100")),
				draining(pool("2", "h100", gpu, PoolTag("h100")))},
			want:      map[string]string{"system": "1", "h100": "3"},
			lenientOK: map[string]string{"system": "1", "h100": "3"}},
		// Scaling to zero or being deleted look alike: a live pool left out
		// would be deleted by the first apply, so it is adopted.
		{name: "an untagged GPU pool whose only node drains is adopted by its name",
			pools:     []*godo.KubernetesNodePool{pool("1", "pool-main", cpu), draining(pool("2", "h100", gpu))},
			want:      map[string]string{"system": "1", "h100": "2"},
			lenientOK: map[string]string{"system": "1", "h100": "2"}},
		{name: "no CPU pool",
			pools:     []*godo.KubernetesNodePool{pool("2", "h100", gpu)},
			problems:  []string{"no CPU node pool to be the stack's system pool"},
			lenientOK: map[string]string{"h100": "2"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &godo.KubernetesCluster{ID: "c", Name: "k8s", NodePools: tc.pools}
			got, problems := mapPools(c, tc.system, tc.gpuRefs, true)
			if (len(problems) == 0) != (len(tc.problems) == 0) {
				t.Fatalf("problems %q, want ones saying %q", problems, tc.problems)
			}
			for _, want := range tc.problems {
				if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, want) }) {
					t.Errorf("no problem says %q: %q", want, problems)
				}
			}
			if tc.want != nil {
				ids := map[string]string{}
				for k, p := range got {
					ids[k] = p.ID
				}
				if !mapsEqual(ids, tc.want) {
					t.Errorf("mapped %v, want %v", ids, tc.want)
				}
			}
			if tc.lenientOK != nil {
				lenient, none := mapPools(c, tc.system, tc.gpuRefs, false)
				ids := map[string]string{}
				for k, p := range lenient {
					ids[k] = p.ID
				}
				if none != nil || !mapsEqual(ids, tc.lenientOK) {
					t.Errorf("without strict: mapped %v (problems %q), want %v", ids, none, tc.lenientOK)
				}
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// A stack whose CPU pool is not called "system" (a cluster made elsewhere
// and tagged for the stack by hand, as the trial did) reads back with its
// CPU pool as the system pool: today's code took it for a GPU pool and
// left the system pool empty (cluster.system_pool.node_count got: 0).
func TestDiscoverDefaultPoolNotNamedSystem(t *testing.T) {
	_, e := startEngine(t)
	tags := []string{StackTagPrefix + "hand", "team-ml"}
	m := makeElsewhere(t, e, "hand", "pool-main", tags, tags)
	spec, st, err := e.Discover(context.Background(), "hand")
	if err != nil {
		t.Fatal(err)
	}
	if sp := spec.Cluster.SystemPool; sp.Size != "s-2vcpu-4gb" || sp.NodeCount != 2 {
		t.Fatalf("system pool %+v, want the CPU pool pool-main (s-2vcpu-4gb, 2 nodes); GPU pools %v", sp, sortedKeys(spec.Cluster.GPUPools))
	}
	if keys := sortedKeys(spec.Cluster.GPUPools); !slices.Equal(keys, []string{"h100"}) {
		t.Fatalf("GPU pools %v, want [h100]", keys)
	}
	if p := st.Cluster.Pools[SystemPoolName]; p == nil || p.Name != "pool-main" || p.ID != m.cluster.NodePools[0].ID {
		t.Fatalf("the system pool's status %+v: it must keep its DOKS name and id", p)
	}
	if !slices.Equal(spec.Tags, []string{"team-ml"}) {
		t.Fatalf("stack tags %v, want [team-ml]", spec.Tags)
	}
}

// Import by name takes the identity the stack's objects carry; the
// identity is never taken for a tag of the user's.
func TestImportByNameTakesTheIdentity(t *testing.T) {
	_, e := startEngine(t)
	spec := smallSpec("owned")
	spec.Tags = []string{"team-ml"}
	spec.Databases = map[string]DatabaseSpec{"vectors": {Engine: "pg", Version: "17", Size: "db-s-2vcpu-4gb", NodeCount: 1, DeletionProtection: true}}
	st := mustApply(t, e, spec, nil)
	if !ValidOwner(st.Owner) {
		t.Fatalf("the engine gave the stack no identity (%q)", st.Owner)
	}
	for _, read := range []func(context.Context, string) (Spec, *Status, error){e.ImportByName, e.Discover} {
		found, fst, err := read(context.Background(), "owned")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(found.Tags, []string{"team-ml"}) {
			t.Errorf("imported tags %v, want [team-ml] (never the identity or name tags)", found.Tags)
		}
		for _, p := range found.Cluster.GPUPools {
			if len(p.Tags) > 0 {
				t.Errorf("a pool's own tags %v", p.Tags)
			}
		}
		if len(found.Cluster.SystemPool.Tags) > 0 {
			t.Errorf("the system pool's own tags %v", found.Cluster.SystemPool.Tags)
		}
		if fst.Databases["vectors"] == nil || !fst.Databases["vectors"].Owned {
			t.Errorf("database vectors not found as owned: %+v", fst.Databases)
		}
	}
	_, fst, _ := e.ImportByName(context.Background(), "owned")
	if fst.Owner != st.Owner {
		t.Fatalf("imported identity %q, want the stack's %q", fst.Owner, st.Owner)
	}
}

// Objects carrying the name tag but no identity, or two identities, are
// refused by name, each named with the import by ids that adopts it.
func TestImportByNameRefusesObjectsWithoutOneIdentity(t *testing.T) {
	_, e := startEngine(t)
	name := StackTagPrefix + "hand"
	m := makeElsewhere(t, e, "hand", "pool-main", []string{name, OwnerTag("aaaaaaaaaaaaaaaa")}, []string{name})
	_, _, err := e.ImportByName(context.Background(), "hand")
	var refused *ImportRefusedError
	if !errors.As(err, &refused) {
		t.Fatalf("import by name of objects without one identity: %v", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"cluster hand-k8s (" + m.cluster.ID + "), carrying the identity attach-owner:aaaaaaaaaaaaaaaa",
		"database hand-vectors (" + m.db.ID + "), carrying no stack identity",
		"terraform import <address> 'hand,cluster=" + m.cluster.ID + "' (the objects carrying attach-owner:aaaaaaaaaaaaaaaa)",
		"terraform import <address> 'hand,database.vectors=" + m.db.ID + "' (the objects carrying no identity)",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("the refusal does not say %q:\n%s", want, msg)
		}
	}

	// One object carrying two identities.
	for _, tag := range []string{OwnerTag("aaaaaaaaaaaaaaaa"), OwnerTag("bbbbbbbbbbbbbbbb")} {
		_, _, _ = e.API.Tags.Create(context.Background(), &godo.TagCreateRequest{Name: tag})
		if _, err := e.API.Tags.TagResources(context.Background(), tag, &godo.TagResourcesRequest{Resources: []godo.Resource{{ID: m.db.ID, Type: godo.DatabaseResourceType}}}); err != nil {
			t.Fatal(err)
		}
	}
	_, _, err = e.ImportByName(context.Background(), "hand")
	if !errors.As(err, &refused) || !strings.Contains(err.Error(), "database hand-vectors ("+m.db.ID+"), carrying 2 identities (attach-owner:aaaaaaaaaaaaaaaa, attach-owner:bbbbbbbbbbbbbbbb)") {
		t.Fatalf("an object with two identities: %v", err)
	}
	// A reader (the data source) still reads the stack by its name tag.
	if _, st, err := e.Discover(context.Background(), "hand"); err != nil || st.Cluster == nil {
		t.Fatalf("Discover: %v", err)
	}
}

// Import by ids adopts objects made elsewhere, untagged: the cluster with
// its pools under the stack's keys (names kept), the databases under the
// keys given, owned, every trusted source but the cluster's rule as theirs.
func TestImportByIDs(t *testing.T) {
	_, e := startEngine(t)
	m := makeElsewhere(t, e, "made", "pool-main", []string{"team-ml"}, []string{"team-ml"})
	ids := AdoptIDs{ClusterID: m.cluster.ID, Databases: map[string]string{"vectors": m.db.ID}, GPUPools: map[string]string{"inference": "h100"}}
	spec, st, err := e.ImportByIDs(context.Background(), "ml", ids)
	if err != nil {
		t.Fatal(err)
	}
	if st.Owner != "" || spec.Owner != "" {
		t.Fatalf("an import by ids has no identity until its first apply: %q", st.Owner)
	}
	if st.Cluster.ID != m.cluster.ID || st.VPCID != m.vpc.ID || st.VPCOwned || spec.VPC.ID != m.vpc.ID {
		t.Fatalf("cluster %s, VPC %s (owned %t, spec %q): want the cluster and its VPC attached", st.Cluster.ID, st.VPCID, st.VPCOwned, spec.VPC.ID)
	}
	if p := st.Cluster.Pools[SystemPoolName]; p == nil || p.Name != "pool-main" {
		t.Fatalf("system pool %+v", p)
	}
	if p := st.Cluster.Pools["inference"]; p == nil || p.Name != "h100" || !p.Spec.AutoScale || p.Spec.MaxNodes != 2 {
		t.Fatalf("GPU pool inference %+v, want DOKS pool h100 (autoscaled to 2)", p)
	}
	if g := spec.Cluster.GPUPools["inference"]; len(g.Taints) != 1 || g.Taints[0].Key != "nvidia.com/gpu" {
		t.Fatalf("GPU pool spec %+v: want DOKS's GPU taint", g)
	}
	d := st.Databases["vectors"]
	if d == nil || !d.Owned || d.ID != m.db.ID || d.AttachedClusterID != m.cluster.ID || spec.Databases["vectors"].ExistingID != "" {
		t.Fatalf("database vectors %+v: want it owned, attached to the cluster", d)
	}
	if want := []Rule{{Type: "ip_addr", Value: "203.0.113.7"}}; !slices.Equal(d.TrustedSources, want) {
		t.Fatalf("trusted sources %v, want %v", d.TrustedSources, want)
	}
	if !slices.Equal(spec.Tags, []string{"team-ml"}) || len(spec.Cluster.SystemPool.Tags) > 0 {
		t.Fatalf("tags %v, system pool's own %v: want the team's tag kept as the stack's", spec.Tags, spec.Cluster.SystemPool.Tags)
	}

	// A firewall that trusts the cluster by its tag instead (as the
	// official provider's digitalocean_database_firewall may): the rule
	// is the database's own trusted source, and the stack's k8s rule is
	// missing (the first apply adds it).
	if _, err := e.API.Databases.UpdateFirewallRules(context.Background(), m.db.ID, &godo.DatabaseUpdateFirewallRulesRequest{
		Rules: []*godo.DatabaseFirewallRule{{Type: "tag", Value: "k8s:" + m.cluster.ID}}}); err != nil {
		t.Fatal(err)
	}
	spec, st, err = e.ImportByIDs(context.Background(), "ml", ids)
	if err != nil {
		t.Fatal(err)
	}
	if d := st.Databases["vectors"]; d.AttachedClusterID != "" || !slices.Equal(d.TrustedSources, []Rule{{Type: "tag", Value: "k8s:" + m.cluster.ID}}) ||
		!slices.Equal(spec.Databases["vectors"].TrustedSources, d.TrustedSources) {
		t.Fatalf("trusted by tag: attached to %q, trusted sources %v", d.AttachedClusterID, d.TrustedSources)
	}

	// Given, the VPC is the stack's own.
	ids.VPCID = m.vpc.ID
	if _, st, err := e.ImportByIDs(context.Background(), "ml", ids); err != nil || !st.VPCOwned {
		t.Fatalf("with vpc=: %v, owned %t", err, st != nil && st.VPCOwned)
	}

	// Refusals name the object and the fix.
	other, _, err := e.API.VPCs.Create(context.Background(), &godo.VPCCreateRequest{Name: "other-net", RegionSlug: "tor1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ids  AdoptIDs
		want string
	}{
		{AdoptIDs{ClusterID: "0b7e6f1c-2d3a-4e5f-8a9b-0c1d2e3f4a5b"}, "no cluster has id 0b7e6f1c-2d3a-4e5f-8a9b-0c1d2e3f4a5b: check cluster="},
		{AdoptIDs{ClusterID: m.cluster.ID, Databases: map[string]string{"x": "0b7e6f1c-2d3a-4e5f-8a9b-0c1d2e3f4a5b"}}, "no database has id 0b7e6f1c-2d3a-4e5f-8a9b-0c1d2e3f4a5b: check database.x="},
		{AdoptIDs{ClusterID: m.cluster.ID, VPCID: other.ID}, "VPC " + other.ID + " is not the VPC of cluster made-k8s"},
		{AdoptIDs{ClusterID: m.cluster.ID, SystemPool: "h100"}, "is a GPU pool and cannot be the system pool"},
		{AdoptIDs{}, "nothing is named"},
	} {
		_, _, err := e.ImportByIDs(context.Background(), "ml", tc.ids)
		var refused *AdoptError
		if !errors.As(err, &refused) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "Nothing was imported or changed") {
			t.Errorf("ImportByIDs(%+v): %v, want a refusal saying %q", tc.ids, err, tc.want)
		}
	}

	// Databases only: the next apply makes the cluster.
	spec, st, err = e.ImportByIDs(context.Background(), "ml", AdoptIDs{Databases: map[string]string{"vectors": m.db.ID}})
	if err != nil || st.Cluster != nil || st.VPCID != m.vpc.ID || spec.Region != "tor1" || !slices.Equal(spec.Tags, []string{"team-ml"}) {
		t.Fatalf("databases only: %v, %+v", err, st)
	}
}

func TestKeyFor(t *testing.T) {
	used := map[string]bool{}
	for _, c := range []struct{ name, want string }{
		{"vectors", "vectors"}, {"vectors", "db1"}, {"Team_PG", "team-pg"}, {"x", "db2"},
		{"1st-cache", "st-cache"}, {"a-very-long-database-name-indeed", "a-very-long-database"}, {"--", "db3"},
	} {
		if got := KeyFor(c.name, used); got != c.want || !ValidKey(got) {
			t.Errorf("KeyFor(%q) = %q, want %q", c.name, got, c.want)
		}
	}
}

// What an import by ids describes applies without creating, replacing or
// deleting anything: every id stays, the pools keep their DOKS names under
// their keys, the parts get the stack's identity in place, and the next
// apply writes nothing. Objects another state marked are taken over too:
// importing by id is adopting on purpose.
func TestImportByIDsThenApply(t *testing.T) {
	for _, takeover := range []bool{false, true} {
		t.Run(map[bool]string{false: "made elsewhere", true: "another state's"}[takeover], func(t *testing.T) {
			emu, e := startEngineVia(t, emulator.Config{}, nil)
			var tags []string
			if takeover {
				tags = []string{StackTagPrefix + "old", OwnerTag("aaaaaaaaaaaaaaaa"), "team-ml"}
			} else {
				tags = []string{"team-ml"}
			}
			m := makeElsewhere(t, e, "made", "pool-main", tags, tags)
			before := adoptedInventory(emu)
			ids := AdoptIDs{ClusterID: m.cluster.ID, Databases: map[string]string{"vectors": m.db.ID}, GPUPools: map[string]string{"inference": "h100"}}
			spec, st, err := e.ImportByIDs(context.Background(), "ml", ids)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			res, err := e.Apply(ctx, spec, st)
			if err != nil {
				t.Fatalf("the first apply after an import by ids: %v", err)
			}
			if after := adoptedInventory(emu); !slices.Equal(after, before) {
				t.Fatalf("the apply changed the objects:\nbefore %v\nafter  %v", before, after)
			}
			owner := res.Status.Owner
			if !ValidOwner(owner) {
				t.Fatalf("no identity after the first apply: %q", owner)
			}
			c, _, err := e.API.Kubernetes.Get(ctx, m.cluster.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got := identitiesIn(c.Tags); !slices.Equal(got, []string{owner}) || !slices.Contains(c.Tags, "team-ml") {
				t.Errorf("cluster tags %v: want the new identity only, and team-ml", c.Tags)
			}
			for _, p := range c.NodePools {
				want := map[string]string{"pool-main": SystemPoolName, "h100": "inference"}[p.Name]
				if want == "" || !slices.Contains(p.Tags, PoolTag(want)) || p.Labels[PoolLabel] != want || !slices.Equal(identitiesIn(p.Tags), []string{owner}) {
					t.Errorf("pool %s: tags %v labels %v, want it kept under key %q", p.Name, p.Tags, p.Labels, want)
				}
			}
			db, _, err := e.API.Databases.Get(ctx, m.db.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got := identitiesIn(db.Tags); !slices.Equal(got, []string{owner}) || !slices.Contains(db.Tags, "team-ml") || !slices.Contains(db.Tags, StackTagPrefix+"ml") {
				t.Errorf("database tags %v", db.Tags)
			}
			emu.ResetRequestCounts()
			ref, err := e.Refresh(ctx, spec, res.Status)
			if err != nil {
				t.Fatal(err)
			}
			spec.Owner = owner
			if _, err := e.Apply(ctx, spec, ref.Status); err != nil {
				t.Fatal(err)
			}
			for route, n := range emu.RequestCounts() {
				if !strings.HasPrefix(route, "GET ") {
					t.Errorf("the apply after the adoption wrote: %s x%d", route, n)
				}
			}
		})
	}
}

// adoptedInventory is every object the emulator holds, "kind id name".
func adoptedInventory(emu *emulator.Emulator) []string {
	var out []string
	for _, it := range emu.Inventory().Items {
		out = append(out, it.Kind+" "+it.ID+" "+it.Name)
	}
	slices.Sort(out)
	return out
}
