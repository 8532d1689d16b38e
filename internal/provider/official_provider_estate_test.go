package provider

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/digitalocean/godo"
)

// The estate of docs/guides/migrating-from-the-digitalocean-provider.md as
// the official DigitalOcean provider (digitalocean/digitalocean) makes it,
// for TestAccMigrationFromOfficialProvider. That provider cannot be
// installed here (its registry is out of reach), so these helpers send the
// requests its resources send, with godo as it does, for the configuration
// in examples/guides/migrating-from-the-digitalocean-provider/before, and
// write the state it would leave. The requests follow its code (read in
// github.com/digitalocean/terraform-provider-digitalocean, files named in
// the comments); only the fields that configuration sets are sent.

// officialDefaultNodePoolTag is the tag the official provider adds to the
// cluster's node_pool, to tell it from digitalocean_kubernetes_node_pool
// resources (kubernetes/resource_kubernetes_node_pool.go,
// DigitaloceanKubernetesDefaultNodePoolTag).
const officialDefaultNodePoolTag = "terraform:default-node-pool"

// officialEstate is what the official provider made: the objects by the
// address of the resource that made them, and the state entries.
type officialEstate struct {
	VPC        *godo.VPC
	Cluster    *godo.KubernetesCluster // as read back, with the default pool
	GPUPool    *godo.KubernetesNodePool
	PG, Cache  *godo.Database
	PGRules    []godo.DatabaseFirewallRule
	CacheRules []godo.DatabaseFirewallRule

	// resources are the state entries, sorted by address.
	resources []officialResource
}

// officialResource is one digitalocean_* resource in the state: its
// address, the id the official provider gives it, its attributes.
type officialResource struct {
	Type, Name string
	Attributes map[string]any
	DependsOn  []string
	// SchemaVersion is the resource's SchemaVersion in the official provider.
	SchemaVersion int
}

func (r officialResource) Address() string { return r.Type + "." + r.Name }

// Addresses lists the state's resource addresses, sorted.
func (e *officialEstate) Addresses() []string {
	var out []string
	for _, r := range e.resources {
		out = append(out, r.Address())
	}
	sort.Strings(out)
	return out
}

// createOfficialEstate makes the estate through api, resource by resource
// in the order Terraform's graph allows, waiting where the official
// provider waits, and returns it with its state entries.
func createOfficialEstate(t *testing.T, api *godo.Client) *officialEstate {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("official provider's %s: %v", what, err)
		}
	}
	e := &officialEstate{}
	teamTags := []string{"team-ml"}

	// vpc/resource_vpc.go: name, region, ip_range.
	vpc, _, err := api.VPCs.Create(ctx, &godo.VPCCreateRequest{Name: "ml-prod-vpc", RegionSlug: "tor1", IPRange: "10.20.0.0/20"})
	must("digitalocean_vpc create", err)
	e.VPC = vpc

	// kubernetes/resource_kubernetes_cluster.go: the node_pool with the
	// default-pool tag appended to its tags; ha sent only when set; then
	// polling Get until the cluster is running.
	cl, _, err := api.Kubernetes.Create(ctx, &godo.KubernetesClusterCreateRequest{
		Name:         "ml-prod",
		RegionSlug:   "tor1",
		VersionSlug:  "1.33.1-do.0",
		VPCUUID:      vpc.ID,
		Tags:         teamTags,
		HA:           godo.PtrTo(true),
		AutoUpgrade:  true,
		SurgeUpgrade: true,
		NodePools: []*godo.KubernetesNodePoolCreateRequest{{
			Name:  "workers",
			Size:  "s-4vcpu-8gb",
			Count: 3,
			Tags:  append(append([]string{}, teamTags...), officialDefaultNodePoolTag),
		}},
	})
	must("digitalocean_kubernetes_cluster create", err)
	waitReady(t, ctx, "cluster "+cl.ID+" running", func() (bool, error) {
		got, _, err := api.Kubernetes.Get(ctx, cl.ID)
		if err != nil {
			return false, err
		}
		return got.Status != nil && got.Status.State == godo.KubernetesClusterStatusRunning, nil
	})

	// kubernetes/resource_kubernetes_node_pool.go: no extra tag; node_count
	// unset is count 0, which an autoscaled pool from zero takes; then
	// polling until every node it wants is running.
	gpu, _, err := api.Kubernetes.CreateNodePool(ctx, cl.ID, &godo.KubernetesNodePoolCreateRequest{
		Name:      "h100",
		Size:      "gpu-h100x1-80gb",
		Tags:      teamTags,
		Labels:    map[string]string{"workload": "inference"},
		Taints:    []godo.Taint{{Key: "nvidia.com/gpu", Value: "present", Effect: "NoSchedule"}},
		AutoScale: true,
		MinNodes:  0,
		MaxNodes:  4,
	})
	must("digitalocean_kubernetes_node_pool create", err)
	waitReady(t, ctx, "node pool h100 ready", func() (bool, error) {
		p, _, err := api.Kubernetes.GetNodePool(ctx, cl.ID, gpu.ID)
		if err != nil {
			return false, err
		}
		ready := len(p.Nodes) == p.Count
		for _, n := range p.Nodes {
			ready = ready && n.Status != nil && n.Status.State == "running"
		}
		gpu = p
		return ready, nil
	})
	cluster, _, err := api.Kubernetes.Get(ctx, cl.ID)
	must("digitalocean_kubernetes_cluster read", err)
	e.Cluster, e.GPUPool = cluster, gpu

	// database/resource_database_cluster.go: name, engine, version, size,
	// region, node_count, tags, private_network_uuid; then polling until
	// the cluster is online, a 404 read as not yet (waitForDatabaseCluster:
	// a new database answers 404 for a while).
	createDB := func(name, engine, version, size string, nodes int) *godo.Database {
		db, _, err := api.Databases.Create(ctx, &godo.DatabaseCreateRequest{
			Name: name, EngineSlug: engine, Version: version, SizeSlug: size, Region: "tor1",
			NumNodes: nodes, Tags: teamTags, PrivateNetworkUUID: vpc.ID,
		})
		must("digitalocean_database_cluster create ("+name+")", err)
		waitReady(t, ctx, "database "+name+" online", func() (bool, error) {
			got, resp, err := api.Databases.Get(ctx, db.ID)
			if resp != nil && resp.StatusCode == http.StatusNotFound {
				return false, nil
			}
			if err != nil {
				return false, err
			}
			db = got
			return got.Status == "online", nil
		})
		return db
	}
	e.PG = createDB("ml-prod-pg", "pg", "17", "db-s-4vcpu-8gb", 2)
	e.Cache = createDB("ml-prod-valkey", "valkey", "8", "db-s-2vcpu-4gb", 1)

	// database/resource_database_firewall.go: PUT the rules, then read them.
	firewall := func(db *godo.Database) []godo.DatabaseFirewallRule {
		_, err := api.Databases.UpdateFirewallRules(ctx, db.ID, &godo.DatabaseUpdateFirewallRulesRequest{
			Rules: []*godo.DatabaseFirewallRule{{Type: "k8s", Value: cl.ID}},
		})
		must("digitalocean_database_firewall create ("+db.Name+")", err)
		rules, _, err := api.Databases.GetFirewallRules(ctx, db.ID)
		must("digitalocean_database_firewall read ("+db.Name+")", err)
		return rules
	}
	e.PGRules = firewall(e.PG)
	e.CacheRules = firewall(e.Cache)

	// database/resource_database_user.go, resource_database_db.go and
	// resource_database_connection_pool.go: one POST each.
	user, _, err := api.Databases.CreateUser(ctx, e.PG.ID, &godo.DatabaseCreateUserRequest{Name: "inference"})
	must("digitalocean_database_user create", err)
	_, _, err = api.Databases.CreateDB(ctx, e.PG.ID, &godo.DatabaseCreateDBRequest{Name: "rag"})
	must("digitalocean_database_db create", err)
	pool, _, err := api.Databases.CreatePool(ctx, e.PG.ID, &godo.DatabaseCreatePoolRequest{
		Name: "rag", Mode: "transaction", Size: 40, Database: "rag", User: "inference",
	})
	must("digitalocean_database_connection_pool create", err)

	e.resources = officialResources(e, user, pool)
	return e
}

// officialResources are the state entries for e: each resource's id as
// the official provider sets it (d.SetId) and the attributes it reads back.
func officialResources(e *officialEstate, user *godo.DatabaseUser, pool *godo.DatabasePool) []officialResource {
	var defaultPool *godo.KubernetesNodePool
	for _, p := range e.Cluster.NodePools {
		for _, tag := range p.Tags {
			if tag == officialDefaultNodePoolTag {
				defaultPool = p
			}
		}
	}
	poolAttrs := func(p *godo.KubernetesNodePool) map[string]any {
		var taints []any
		for _, t := range p.Taints {
			taints = append(taints, map[string]any{"key": t.Key, "value": t.Value, "effect": t.Effect})
		}
		var nodes []any
		for _, n := range p.Nodes {
			state := ""
			if n.Status != nil {
				state = n.Status.State
			}
			nodes = append(nodes, map[string]any{"id": n.ID, "name": n.Name, "status": state, "droplet_id": n.DropletID})
		}
		return map[string]any{
			"name": p.Name, "size": p.Size, "node_count": p.Count, "actual_node_count": len(p.Nodes),
			"auto_scale": p.AutoScale, "min_nodes": p.MinNodes, "max_nodes": p.MaxNodes,
			// kubernetes/kubernetes.go FilterTags: k8s, k8s:* and terraform:* are left out.
			"tags": filterOfficialTags(p.Tags), "labels": p.Labels, "taint": taints, "nodes": nodes,
		}
	}
	dp := poolAttrs(defaultPool)
	dp["id"] = defaultPool.ID
	gp := poolAttrs(e.GPUPool)
	gp["id"], gp["cluster_id"] = e.GPUPool.ID, e.Cluster.ID
	dbAttrs := func(db *godo.Database) map[string]any {
		a := map[string]any{
			"id": db.ID, "name": db.Name, "engine": db.EngineSlug, "version": db.VersionSlug, "size": db.SizeSlug,
			"region": db.RegionSlug, "node_count": db.NumNodes, "private_network_uuid": db.PrivateNetworkUUID,
			"tags": db.Tags, "urn": db.URN(),
		}
		if c := db.Connection; c != nil {
			a["host"], a["port"], a["user"], a["database"] = c.Host, c.Port, c.User, c.Database
		}
		if c := db.PrivateConnection; c != nil {
			a["private_host"] = c.Host
		}
		return a
	}
	ruleAttrs := func(rules []godo.DatabaseFirewallRule) []any {
		var out []any
		for _, r := range rules {
			out = append(out, map[string]any{"uuid": r.UUID, "type": r.Type, "value": r.Value, "created_at": r.CreatedAt.UTC().String()})
		}
		return out
	}
	pg, cache := e.PG.ID, e.Cache.ID
	return []officialResource{
		{Type: "digitalocean_vpc", Name: "ml", Attributes: map[string]any{
			"id": e.VPC.ID, "name": e.VPC.Name, "region": e.VPC.RegionSlug, "ip_range": e.VPC.IPRange,
			"description": e.VPC.Description, "default": e.VPC.Default, "urn": e.VPC.URN,
		}},
		{Type: "digitalocean_kubernetes_cluster", Name: "ml", SchemaVersion: 3, DependsOn: []string{"digitalocean_vpc.ml"}, Attributes: map[string]any{
			"id": e.Cluster.ID, "name": e.Cluster.Name, "region": e.Cluster.RegionSlug, "version": e.Cluster.VersionSlug,
			"vpc_uuid": e.Cluster.VPCUUID, "ha": e.Cluster.HA, "auto_upgrade": e.Cluster.AutoUpgrade,
			"surge_upgrade": e.Cluster.SurgeUpgrade, "tags": filterOfficialTags(e.Cluster.Tags),
			"cluster_subnet": e.Cluster.ClusterSubnet, "service_subnet": e.Cluster.ServiceSubnet,
			"endpoint": e.Cluster.Endpoint, "ipv4_address": e.Cluster.IPv4, "status": string(e.Cluster.Status.State),
			"urn": e.Cluster.URN(), "node_pool": []any{dp},
		}},
		{Type: "digitalocean_kubernetes_node_pool", Name: "h100", SchemaVersion: 1, DependsOn: []string{"digitalocean_kubernetes_cluster.ml", "digitalocean_vpc.ml"}, Attributes: gp},
		{Type: "digitalocean_database_cluster", Name: "pg", DependsOn: []string{"digitalocean_vpc.ml"}, Attributes: dbAttrs(e.PG)},
		{Type: "digitalocean_database_cluster", Name: "cache", DependsOn: []string{"digitalocean_vpc.ml"}, Attributes: dbAttrs(e.Cache)},
		// database/resource_database_firewall.go: id.PrefixedUniqueId(cluster id + "-").
		{Type: "digitalocean_database_firewall", Name: "pg", DependsOn: []string{"digitalocean_database_cluster.pg", "digitalocean_kubernetes_cluster.ml"}, Attributes: map[string]any{
			"id": pg + "-" + uniqueIDSuffix(), "cluster_id": pg, "rule": ruleAttrs(e.PGRules),
		}},
		{Type: "digitalocean_database_firewall", Name: "cache", DependsOn: []string{"digitalocean_database_cluster.cache", "digitalocean_kubernetes_cluster.ml"}, Attributes: map[string]any{
			"id": cache + "-" + uniqueIDSuffix(), "cluster_id": cache, "rule": ruleAttrs(e.CacheRules),
		}},
		// database/resource_database_user.go makeDatabaseUserID: <cluster>/user/<name>.
		{Type: "digitalocean_database_user", Name: "inference", DependsOn: []string{"digitalocean_database_cluster.pg"}, Attributes: map[string]any{
			"id": pg + "/user/" + user.Name, "cluster_id": pg, "name": user.Name, "role": user.Role,
		}},
		// database/resource_database_db.go makeDatabaseDBID: <cluster>/database/<name>.
		{Type: "digitalocean_database_db", Name: "rag", DependsOn: []string{"digitalocean_database_cluster.pg"}, Attributes: map[string]any{
			"id": pg + "/database/rag", "cluster_id": pg, "name": "rag",
		}},
		// database/resource_database_connection_pool.go createConnectionPoolID: <cluster>/<name>.
		{Type: "digitalocean_database_connection_pool", Name: "rag", DependsOn: []string{"digitalocean_database_cluster.pg", "digitalocean_database_db.rag", "digitalocean_database_user.inference"}, Attributes: map[string]any{
			"id": pg + "/" + pool.Name, "cluster_id": pg, "name": pool.Name, "mode": pool.Mode, "size": pool.Size,
			"db_name": pool.Database, "user": pool.User,
		}},
	}
}

// filterOfficialTags is what the official provider keeps of DOKS tags in
// state (kubernetes/kubernetes.go FilterTags).
func filterOfficialTags(tags []string) []string {
	out := []string{}
	for _, t := range tags {
		if t == "k8s" || strings.HasPrefix(t, "k8s:") || strings.HasPrefix(t, "terraform:") {
			continue
		}
		out = append(out, t)
	}
	return out
}

// uniqueIDSuffix has the shape of the suffix of the plugin SDK's
// id.PrefixedUniqueId (helper/id): a UTC timestamp to the 1/10000 second
// and an 8-digit hexadecimal counter.
func uniqueIDSuffix() string {
	n := uniqueIDCounter.Add(1)
	return strings.ReplaceAll(time.Now().UTC().Format("20060102150405.0000"), ".", "") + fmt.Sprintf("%08x", n)
}

var uniqueIDCounter atomic.Uint32

// officialState is the terraform.tfstate a run of the official provider
// leaves for e, under the provider address the CLI resolves
// digitalocean/digitalocean to (registry.terraform.io or
// registry.opentofu.org).
func officialState(e *officialEstate, providerHost, cliVersion string) ([]byte, error) {
	type instance struct {
		SchemaVersion       int            `json:"schema_version"`
		Attributes          map[string]any `json:"attributes"`
		SensitiveAttributes []any          `json:"sensitive_attributes"`
		Private             string         `json:"private,omitempty"`
		Dependencies        []string       `json:"dependencies,omitempty"`
	}
	type resource struct {
		Mode      string     `json:"mode"`
		Type      string     `json:"type"`
		Name      string     `json:"name"`
		Provider  string     `json:"provider"`
		Instances []instance `json:"instances"`
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	lineage := fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
	st := map[string]any{
		"version":           4,
		"terraform_version": cliVersion,
		"serial":            len(e.resources) + 1,
		"lineage":           lineage,
		"outputs":           map[string]any{},
		"check_results":     nil,
	}
	var rs []resource
	for _, r := range e.resources {
		rs = append(rs, resource{
			Mode: "managed", Type: r.Type, Name: r.Name,
			Provider: fmt.Sprintf("provider[%q]", providerHost+"/digitalocean/digitalocean"),
			Instances: []instance{{
				SchemaVersion: r.SchemaVersion, Attributes: r.Attributes, SensitiveAttributes: []any{},
				Dependencies: r.DependsOn,
			}},
		})
	}
	st["resources"] = rs
	return json.MarshalIndent(st, "", "  ")
}
