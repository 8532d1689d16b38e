package emulator

import (
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// Kubernetes (DOKS): /v2/kubernetes/clusters and their node pools.
//
// Lifecycles follow DigitalOcean: a cluster is "provisioning" until its
// control plane is up (ClusterProvisionDuration), then "running" (or "error"
// when a transition failure was injected). Nodes are "provisioning" until
// their Droplets join (NodePoolProvisionDuration, GPUPoolProvisionDuration
// for GPU sizes, never before the control plane); GPU nodes added to a pool
// that already exists wait Realism.GPUCapacityWait longer. Node states are
// only provisioning, running, draining and deleting: an injected node pool
// failure leaves the pool's nodes "provisioning" for ever (the cluster stays
// "running"), until they are deleted or replaced. An autoscaled pool moves by
// one node every Realism.AutoscaleInterval on its own (see autoscale). An
// upgrade keeps the cluster "upgrading" for ClusterUpgradeDuration. Deleted
// clusters and pools vanish from the API at once; a deleted cluster stays a
// VPC member (and in the inventory, as "deleting") for DeleteDuration, and
// every worker node is a Droplet member of the VPC while it exists and for
// Realism.DropletLinger after it goes. A deleted cluster's name is held for
// Realism.NameHold.
//
// DigitalOcean tags: every cluster carries "k8s" and "k8s:<cluster-id>", and
// every node pool also "k8s:worker", besides the user's tags. A node pool
// object carries exactly the labels and taints the user set: the GPU labels
// and taints DOKS puts on GPU nodes live on the Kubernetes Node objects, not
// in the API (see gpuSpec).

const (
	k8sMaxNodesPerPool         = 100
	k8sDefaultClusterSubnet    = "10.244.0.0/16"
	k8sDefaultServiceSubnet    = "10.245.0.0/16"
	k8sDefaultCredentialExpiry = 7 * 24 * time.Hour
	k8sMaintenanceWindow       = "4h0m0s"
	// k8sMaxCredentialExpirySeconds bounds expiry_seconds (ten years).
	k8sMaxCredentialExpirySeconds = 10 * 365 * 24 * 3600
)

// Cluster states (only those godo can decode).
const (
	k8sProvisioning = "provisioning"
	k8sRunning      = "running"
	k8sError        = "error"
	k8sUpgrading    = "upgrading"
)

// Node states: spec kubernetes/models/node.yml enumerates provisioning, running, draining, deleting (no error state).
const (
	k8sNodeProvisioning = "provisioning"
	k8sNodeRunning      = "running"
	k8sNodeDraining     = "draining"
	k8sNodeDeleting     = "deleting"
)

type k8sCluster struct {
	id, name, region, version string
	clusterSubnet, serviceSub string
	vpcID, ipv4, secret       string
	userTags                  []string
	pools                     []*k8sPool
	deletingPools             []*k8sPool
	maint                     k8sMaintenancePolicyJSON
	autoUpgrade, surgeUpgrade bool
	ha, isolatedWorkers       bool
	gpuOperatorReady          bool
	controlPlaneFirewall      *k8sControlPlaneFirewallJSON
	autoscalerConfig          *k8sAutoscalerConfigJSON
	sso                       *k8sSSOJSON
	plugins                   map[string]bool // plugins the user set explicitly
	state, message            string
	createdAt, updatedAt      time.Time
	readyAt                   time.Time // end of provisioning
	fails                     bool      // provisioning ends in "error"
	upgradeTo                 string
	upgradeDoneAt             time.Time
	messages                  []k8sStatusMessageJSON
	deleteAt                  time.Time // set once deleted: gone for good then
	// In data-plane mode (dataplane_kube.go): the real API server's
	// endpoint and CA certificate, and the bearer tokens issued with their
	// expiry (the API server asks the emulator about them).
	apiEndpoint string
	apiCA       []byte
	apiErr      error // why the API server did not start (the cluster fails)
	tokens      map[string]time.Time
}

type k8sPool struct {
	id, name, size   string
	count            int
	userTags         []string
	userLabels       map[string]string
	userTaints       []k8sTaintJSON
	autoScale        bool
	minNodes         int
	maxNodes         int
	gpuPartitionMode string
	nodes            []*k8sNode
	fails            bool // the nodes created with the pool never finish provisioning
	createdAt        time.Time
	deleteAt         time.Time
	// nextAutoscale is the autoscaler's next step (zero: none planned);
	// scaleDown is the direction of that step (see autoscale).
	nextAutoscale time.Time
	scaleDown     bool
}

type k8sNode struct {
	id, name, dropletID  string
	state                string
	createdAt, updatedAt time.Time
	readyAt              time.Time // end of provisioning
	drainUntil           time.Time // draining -> deleting
	removeAt             time.Time // deleting -> gone
	fails                bool      // never finishes provisioning
}

// k8sGoneDroplet is a worker node's Droplet after the node went (its
// cluster, pool or itself deleted): still a member of its VPC until until.
type k8sGoneDroplet struct {
	vpcID, name, dropletID string
	createdAt, until       time.Time
}

type kubernetesStore struct {
	e        *Emulator
	clusters map[string]*k8sCluster
	// deleting holds deleted clusters until their teardown completes.
	deleting map[string]*k8sCluster
	// goneDroplets are the Droplets of nodes that went, lingering in their
	// VPC for Realism.DropletLinger.
	goneDroplets []k8sGoneDroplet
	// workloadResources are the load balancers and volumes the clusters'
	// workloads created, kept ones included (see kubernetes_workload_resources.go).
	workloadResources []*k8sWorkloadResource
}

func newKubernetesStore(e *Emulator) *kubernetesStore {
	s := &kubernetesStore{e: e}
	s.reset()
	return s
}

func (s *kubernetesStore) reset() {
	s.clusters = map[string]*k8sCluster{}
	s.deleting = map[string]*k8sCluster{}
	s.goneDroplets = nil
	s.workloadResources = nil
}

// clusterExists reports whether id names a live (not deleted) cluster; the
// database firewall uses it to validate k8s rules.
func (s *kubernetesStore) clusterExists(id string) bool {
	_, ok := s.clusters[id]
	return ok
}

func (s *kubernetesStore) register(r *router) {
	const cluster = "/v2/kubernetes/clusters/{cluster_id}"
	const pool = cluster + "/node_pools/{node_pool_id}"
	r.handle(http.MethodGet, "/v2/kubernetes/clusters", s.list)
	r.handle(http.MethodPost, "/v2/kubernetes/clusters", s.create)
	r.handle(http.MethodGet, cluster, s.get)
	r.handle(http.MethodPut, cluster, s.update)
	r.handle(http.MethodDelete, cluster, s.delete)
	r.handle(http.MethodGet, cluster+"/destroy_with_associated_resources", s.associatedResources)
	r.handle(http.MethodDelete, cluster+"/destroy_with_associated_resources/selective", s.deleteSelective)
	r.handle(http.MethodDelete, cluster+"/destroy_with_associated_resources/dangerous", s.deleteDangerous)
	r.handle(http.MethodGet, cluster+"/kubeconfig", s.kubeconfig)
	r.handle(http.MethodGet, cluster+"/credentials", s.credentials)
	r.handle(http.MethodGet, cluster+"/upgrades", s.upgrades)
	r.handle(http.MethodPost, cluster+"/upgrade", s.upgrade)
	r.handle(http.MethodGet, cluster+"/user", s.user)
	r.handle(http.MethodGet, cluster+"/status_messages", s.statusMessages)
	r.handle(http.MethodGet, cluster+"/node_pools", s.listPools)
	r.handle(http.MethodPost, cluster+"/node_pools", s.createPool)
	r.handle(http.MethodGet, pool, s.getPool)
	r.handle(http.MethodPut, pool, s.updatePool)
	r.handle(http.MethodDelete, pool, s.deletePool)
	r.handle(http.MethodDelete, pool+"/nodes/{node_id}", s.deleteNode)
	k8sCatalog{}.register(r)
}

// ---- time ----

func (s *kubernetesStore) advance(now time.Time) {
	for _, cl := range s.clusters {
		s.advanceCluster(cl, now)
	}
	for id, cl := range s.deleting {
		if !now.Before(cl.deleteAt) {
			delete(s.deleting, id)
		}
	}
	s.goneDroplets = slices.DeleteFunc(s.goneDroplets, func(d k8sGoneDroplet) bool { return !now.Before(d.until) })
}

func (s *kubernetesStore) advanceCluster(cl *k8sCluster, now time.Time) {
	if cl.state == k8sProvisioning && !now.Before(cl.readyAt) && !s.kubeHolds(cl) {
		cl.updatedAt = cl.readyAt
		if cl.fails {
			cl.state = k8sError
			cl.message = "the control plane failed to become healthy (emulated provisioning failure); delete the cluster and create it again"
			if cl.apiErr != nil {
				why := cl.apiErr.Error()
				if len(why) > 600 {
					why = "…" + why[len(why)-600:] // the end of the server's output says why
				}
				cl.message = "the control plane failed to become healthy (emulator data plane: " + why + "); delete the cluster and create it again"
			}
			cl.addMessage(cl.readyAt, "Cluster provisioning failed: the control plane did not become healthy")
		} else {
			cl.state, cl.message = k8sRunning, ""
			cl.addMessage(cl.readyAt, "Cluster is running")
		}
	}
	if cl.state == k8sUpgrading && !now.Before(cl.upgradeDoneAt) {
		cl.version, cl.upgradeTo = cl.upgradeTo, ""
		cl.state, cl.message = k8sRunning, ""
		cl.updatedAt = cl.upgradeDoneAt
		cl.addMessage(cl.upgradeDoneAt, "Cluster upgraded to "+cl.version)
	}
	for _, p := range cl.pools {
		s.autoscale(cl, p, now)
		s.advanceNodes(cl, p, now)
	}
	cl.deletingPools = slices.DeleteFunc(cl.deletingPools, func(p *k8sPool) bool { return !now.Before(p.deleteAt) })
}

// advanceNodes applies the due transitions of p's nodes; a node that goes
// leaves its Droplet lingering in the VPC.
func (s *kubernetesStore) advanceNodes(cl *k8sCluster, p *k8sPool, now time.Time) {
	kept := p.nodes[:0]
	for _, n := range p.nodes {
		if k8sAdvanceNode(n, now, cl.state != k8sError) {
			kept = append(kept, n)
		} else {
			s.dropletGone(cl, n, n.removeAt)
		}
	}
	clear(p.nodes[len(kept):])
	p.nodes = kept
}

// k8sAdvanceNode applies a node's due transitions; it returns false once the
// node is gone. Nodes never come up in a cluster whose control plane failed.
func k8sAdvanceNode(n *k8sNode, now time.Time, controlPlaneOK bool) bool {
	// A failed node stays "provisioning" (spec kubernetes/models/node.yml has no error state).
	if n.state == k8sNodeProvisioning && !n.fails && controlPlaneOK && !now.Before(n.readyAt) {
		n.state, n.updatedAt = k8sNodeRunning, n.readyAt
	}
	if n.state == k8sNodeDraining && !now.Before(n.drainUntil) {
		n.state, n.updatedAt = k8sNodeDeleting, n.drainUntil
	}
	return !(n.state == k8sNodeDeleting && !now.Before(n.removeAt))
}

// dropletGone records that node n of cl went at goneAt: its Droplet stays a
// member of the cluster's VPC for Realism.DropletLinger.
func (s *kubernetesStore) dropletGone(cl *k8sCluster, n *k8sNode, goneAt time.Time) {
	linger := s.e.realism().DropletLinger
	if linger <= 0 {
		return
	}
	s.goneDroplets = append(s.goneDroplets, k8sGoneDroplet{
		vpcID: cl.vpcID, name: n.name, dropletID: n.dropletID, createdAt: n.createdAt, until: goneAt.Add(linger),
	})
}

func (cl *k8sCluster) addMessage(at time.Time, msg string) {
	cl.messages = append(cl.messages, k8sStatusMessageJSON{Message: msg, Timestamp: at.UTC()})
}

// ---- inventory, VPC members, URNs ----

func (s *kubernetesStore) inventory() []Item {
	var items []Item
	add := func(cl *k8sCluster, deleting bool) {
		status := cl.state
		if deleting {
			status = "deleting"
		}
		items = append(items, Item{Kind: "kubernetes_cluster", ID: cl.id, Name: cl.name, Status: status})
		for _, p := range cl.pools {
			ps := p.status(s.e.now())
			if deleting {
				ps = "deleting"
			}
			items = append(items, Item{Kind: "kubernetes_node_pool", ID: p.id, Name: p.name, Status: ps, Parent: cl.id})
		}
		for _, p := range cl.deletingPools {
			items = append(items, Item{Kind: "kubernetes_node_pool", ID: p.id, Name: p.name, Status: "deleting", Parent: cl.id})
		}
	}
	for _, cl := range k8sSortedClusters(s.clusters) {
		add(cl, false)
	}
	for _, cl := range k8sSortedClusters(s.deleting) {
		add(cl, true)
	}
	return append(items, s.workloadResourceItems()...)
}

// status summarises a pool's nodes for the inventory: "failed" when a node
// failed to provision (the API shows it "provisioning" for ever).
func (p *k8sPool) status(now time.Time) string {
	st := "running"
	for _, n := range p.nodes {
		if n.state != k8sNodeProvisioning {
			continue
		}
		if n.fails && !now.Before(n.readyAt) {
			return "failed"
		}
		st = "provisioning"
	}
	return st
}

func k8sSortedClusters(m map[string]*k8sCluster) []*k8sCluster {
	out := make([]*k8sCluster, 0, len(m))
	for _, cl := range m {
		out = append(out, cl)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].createdAt.Equal(out[j].createdAt) {
			return out[i].createdAt.Before(out[j].createdAt)
		}
		return out[i].id < out[j].id
	})
	return out
}

func (cl *k8sCluster) urn() string { return "do:kubernetes:" + cl.id }

func k8sDropletURN(dropletID string) string { return "do:droplet:" + dropletID }

// vpcMembers lists the clusters in the VPC and their worker nodes' Droplets
// (named after the nodes), plus the lingering members of deleted objects: a
// deleted cluster until its teardown ends (DeleteDuration) and the Droplets
// of gone nodes for Realism.DropletLinger.
func (s *kubernetesStore) vpcMembers(vpcID string) []vpcMember {
	var out []vpcMember
	for _, cl := range k8sSortedClusters(s.clusters) {
		if cl.vpcID != vpcID {
			continue
		}
		out = append(out, vpcMember{Name: cl.name, URN: cl.urn(), CreatedAt: cl.createdAt})
		for _, p := range cl.pools {
			for _, n := range p.nodes {
				out = append(out, vpcMember{Name: n.name, URN: k8sDropletURN(n.dropletID), CreatedAt: n.createdAt})
			}
		}
	}
	for _, cl := range k8sSortedClusters(s.deleting) {
		if cl.vpcID == vpcID {
			out = append(out, vpcMember{Name: cl.name, URN: cl.urn(), CreatedAt: cl.createdAt, lingering: true})
		}
	}
	// Deleted clusters' worker Droplets stay VPC members a while (maintainer comment, terraform-provider-digitalocean #488).
	for _, d := range s.goneDroplets {
		if d.vpcID == vpcID {
			out = append(out, vpcMember{Name: d.name, URN: k8sDropletURN(d.dropletID), CreatedAt: d.createdAt, lingering: true})
		}
	}
	return append(out, s.workloadVPCMembers(vpcID)...)
}

func (s *kubernetesStore) resolveURN(urn string) bool {
	id, ok := strings.CutPrefix(urn, "do:kubernetes:")
	return ok && s.clusterExists(id)
}

func (s *kubernetesStore) urns() []string {
	out := make([]string, 0, len(s.clusters))
	for _, cl := range s.clusters {
		out = append(out, cl.urn())
	}
	return out
}

// ---- name patterns (clusters and node pools) ----

var (
	k8sClusterNamePattern = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9.\-]*[a-zA-Z0-9])?$`)
	// Pool names become node (host) names: DNS labels, lowercase.
	k8sPoolNamePattern  = regexp.MustCompile(`^[a-z0-9]([a-z0-9\-]*[a-z0-9])?$`)
	k8sTagPattern       = regexp.MustCompile(`^[a-zA-Z0-9_\-:]+$`)
	k8sLabelNamePattern = regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9_.\-]*[A-Za-z0-9])?)?$`)
	k8sDnsSubdomain     = regexp.MustCompile(`^[a-z0-9]([a-z0-9\-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9\-]*[a-z0-9])?)*$`)
	k8sStartTimePattern = regexp.MustCompile(`^([01]?[0-9]|2[0-3]):([0-5][0-9])$`)
)
