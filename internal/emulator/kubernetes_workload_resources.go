package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Workload resources: the load balancers (Kubernetes LoadBalancer Services)
// and volumes (PersistentVolumes) a cluster's workloads create. They are
// billed on their own and are not the cluster's nodes, so how a cluster is
// deleted decides whether they go with it. The emulator runs no workloads:
// tests and users add them with AddWorkloadResources or
// POST /_emulator/kubernetes/clusters/{id}/workload_resources.

// k8sWorkloadResource is a load balancer or volume created for a cluster.
type k8sWorkloadResource struct {
	kind      string // "load_balancer" or "volume"
	id, name  string
	clusterID string
	vpcID     string // load balancers sit in the cluster's VPC
}

// WorkloadResources names the load balancers and volumes to add to a cluster.
type WorkloadResources struct {
	LoadBalancers []string `json:"load_balancers"`
	Volumes       []string `json:"volumes"`
}

// AddWorkloadResources adds load balancers and volumes, as the cluster's
// workloads would create them, and returns their ids by name.
func (e *Emulator) AddWorkloadResources(clusterID string, res WorkloadResources) (map[string]string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.advanceLocked()
	s := e.k8s
	cl, ok := s.clusters[clusterID]
	if !ok {
		return nil, fmt.Errorf("no live cluster %q", clusterID)
	}
	ids := map[string]string{}
	add := func(kind, name string) {
		r := &k8sWorkloadResource{kind: kind, id: newID(), name: name, clusterID: cl.id}
		if kind == "load_balancer" {
			r.vpcID = cl.vpcID
		}
		s.workloadResources = append(s.workloadResources, r)
		ids[name] = r.id
	}
	for _, n := range res.LoadBalancers {
		add("load_balancer", n)
	}
	for _, n := range res.Volumes {
		add("volume", n)
	}
	return ids, nil
}

// workloadResourcesOf lists the resources of kind created for a cluster.
func (s *kubernetesStore) workloadResourcesOf(clusterID, kind string) []k8sAssociatedResourceJSON {
	out := []k8sAssociatedResourceJSON{}
	for _, r := range s.workloadResources {
		if r.clusterID == clusterID && r.kind == kind {
			out = append(out, k8sAssociatedResourceJSON{ID: r.id, Name: r.name})
		}
	}
	return out
}

// releaseWorkloadResources runs when a cluster is deleted: the resources
// doomed picks go with it, the others stay, billed, with no cluster. A
// plain DELETE leaves them all (official provider docs kubernetes_cluster.md,
// destroy_all_associated_resources: only then are they "destroyed along with the cluster").
func (s *kubernetesStore) releaseWorkloadResources(clusterID string, doomed func(*k8sWorkloadResource) bool) {
	s.workloadResources = slices.DeleteFunc(s.workloadResources, func(r *k8sWorkloadResource) bool {
		return r.clusterID == clusterID && doomed(r)
	})
}

// workloadResourceItems lists the workload resources for the inventory:
// a kept one has outlived its cluster and keeps billing.
func (s *kubernetesStore) workloadResourceItems() []Item {
	var items []Item
	for _, r := range s.workloadResources {
		items = append(items, Item{Kind: r.kind, ID: r.id, Name: r.name, Status: "active", Parent: r.clusterID})
	}
	return items
}

// workloadVPCMembers lists the load balancers in a VPC: a kept one holds
// the VPC like any member (spec vpcs_delete: a VPC with members answers 403).
func (s *kubernetesStore) workloadVPCMembers(vpcID string) []vpcMember {
	var out []vpcMember
	for _, r := range s.workloadResources {
		if r.kind == "load_balancer" && r.vpcID == vpcID {
			out = append(out, vpcMember{Name: r.name, URN: "do:loadbalancer:" + r.id})
		}
	}
	return out
}

// serveWorkloadResourcesAdmin answers POST /_emulator/kubernetes/clusters/{id}/workload_resources.
func (e *Emulator) serveWorkloadResourcesAdmin(w http.ResponseWriter, path string, body []byte) bool {
	rest, ok := strings.CutPrefix(path, "kubernetes/clusters/")
	if !ok {
		return false
	}
	clusterID, ok := strings.CutSuffix(rest, "/workload_resources")
	if !ok || clusterID == "" || strings.Contains(clusterID, "/") {
		return false
	}
	var req WorkloadResources
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "workload_resources: "+err.Error(), "")
		return true
	}
	ids, err := e.AddWorkloadResources(clusterID, req)
	if err != nil {
		writeError(w, http.StatusNotFound, "not_found", err.Error(), "")
		return true
	}
	writeJSON(w, http.StatusCreated, map[string]any{"ids": ids})
	return true
}
