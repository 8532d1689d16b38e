package emulator

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/digitalocean/godo"
)

// The load balancers and volumes a cluster's workloads create are listed as
// its associated resources, go with it only through the dangerous or
// selective delete, and otherwise stay billed, a kept load balancer holding
// the cluster's VPC.
func TestKubernetesWorkloadResourcesOutliveAPlainDelete(t *testing.T) {
	srv, c := startTest(t, Config{Realism: Realism{Ideal: true}})
	create := func(name string) (*godo.KubernetesCluster, map[string]string) {
		t.Helper()
		cl, _, err := c.Kubernetes.Create(ctx, simpleCluster(name, "lon1"))
		if err != nil {
			t.Fatal(err)
		}
		ids, err := srv.AddWorkloadResources(cl.ID, WorkloadResources{LoadBalancers: []string{name + "-web"}, Volumes: []string{"pvc-" + name}})
		if err != nil {
			t.Fatal(err)
		}
		return cl, ids
	}
	kinds := func() (lbs, vols []string) {
		for _, it := range srv.Inventory().Items {
			switch it.Kind {
			case "load_balancer":
				lbs = append(lbs, it.Name)
			case "volume":
				vols = append(vols, it.Name)
			}
		}
		return lbs, vols
	}

	plain, plainIDs := create("plain")
	assoc, _, err := c.Kubernetes.ListAssociatedResourcesForDeletion(ctx, plain.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(assoc.LoadBalancers) != 1 || assoc.LoadBalancers[0].ID != plainIDs["plain-web"] || len(assoc.Volumes) != 1 || assoc.Volumes[0].Name != "pvc-plain" {
		t.Fatalf("associated resources: %+v", assoc)
	}
	if _, err := c.Kubernetes.Delete(ctx, plain.ID); err != nil {
		t.Fatal(err)
	}
	if lbs, vols := kinds(); !slices.Equal(lbs, []string{"plain-web"}) || !slices.Equal(vols, []string{"pvc-plain"}) {
		t.Fatalf("after a plain delete, load balancers %v and volumes %v; want both kept", lbs, vols)
	}
	members, _, err := c.VPCs.ListMembers(ctx, plain.VPCUUID, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(members, func(m *godo.VPCMember) bool { return m.URN == "do:loadbalancer:"+plainIDs["plain-web"] }) {
		t.Errorf("the kept load balancer is not a member of VPC %s: %+v", plain.VPCUUID, members)
	}

	dangerous, _ := create("dangerous")
	if _, err := c.Kubernetes.DeleteDangerous(ctx, dangerous.ID); err != nil {
		t.Fatal(err)
	}
	if lbs, vols := kinds(); slices.Contains(lbs, "dangerous-web") || slices.Contains(vols, "pvc-dangerous") {
		t.Fatalf("after the dangerous delete, load balancers %v and volumes %v remain", lbs, vols)
	}

	selective, selIDs := create("selective")
	_, err = c.Kubernetes.DeleteSelective(ctx, selective.ID, &godo.KubernetesClusterDeleteSelectiveRequest{Volumes: []string{selIDs["pvc-selective"]}})
	if err != nil {
		t.Fatal(err)
	}
	if lbs, vols := kinds(); !slices.Contains(lbs, "selective-web") || slices.Contains(vols, "pvc-selective") {
		t.Fatalf("after a selective delete of the volume, load balancers %v and volumes %v", lbs, vols)
	}
}

func TestKubernetesSelectiveDeleteRefusesForeignIDs(t *testing.T) {
	srv, c := startTest(t, Config{Realism: Realism{Ideal: true}})
	a, _, err := c.Kubernetes.Create(ctx, simpleCluster("a", "lon1"))
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := c.Kubernetes.Create(ctx, simpleCluster("b", "lon1"))
	if err != nil {
		t.Fatal(err)
	}
	ids, err := srv.AddWorkloadResources(b.ID, WorkloadResources{Volumes: []string{"pvc-b"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Kubernetes.DeleteSelective(ctx, a.ID, &godo.KubernetesClusterDeleteSelectiveRequest{Volumes: []string{ids["pvc-b"]}})
	if e := wantStatus(t, err, http.StatusUnprocessableEntity); !strings.Contains(e.Message, "not associated with cluster "+a.ID) {
		t.Errorf("message %q", e.Message)
	}
	if _, err := srv.AddWorkloadResources("nope", WorkloadResources{Volumes: []string{"x"}}); err == nil {
		t.Error("workload resources added to a cluster that does not exist")
	}
	status, _ := rawPost(t, srv, "/_emulator/kubernetes/clusters/"+a.ID+"/workload_resources", `{"load_balancers":["api"]}`)
	if status != http.StatusCreated {
		t.Fatalf("admin endpoint answered %d", status)
	}
	assoc, _, err := c.Kubernetes.ListAssociatedResourcesForDeletion(ctx, a.ID)
	if err != nil || len(assoc.LoadBalancers) != 1 || assoc.LoadBalancers[0].Name != "api" {
		t.Fatalf("after the admin endpoint: %+v, %v", assoc, err)
	}
}
