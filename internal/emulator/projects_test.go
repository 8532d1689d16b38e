package emulator

import (
	"net/http"
	"strings"
	"testing"

	"github.com/digitalocean/godo"
)

func TestProjectsAndAssignment(t *testing.T) {
	srv, c := startTest(t, Config{})
	def, _, err := c.Projects.GetDefault(ctx)
	if err != nil || !def.IsDefault {
		t.Fatalf("default project: %v %+v", err, def)
	}
	p, resp, err := c.Projects.Create(ctx, &godo.CreateProjectRequest{Name: "inference", Purpose: "AI", Environment: "Production"})
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %v", err)
	}
	v, _, err := c.VPCs.Create(ctx, &godo.VPCCreateRequest{Name: "net", RegionSlug: "nyc3"})
	if err != nil {
		t.Fatal(err)
	}
	req := dbRequest("projected", "pg")
	req.PrivateNetworkUUID = v.ID
	db := createVisibleDB(t, c, req)
	urn := "do:dbaas:" + db.ID

	// New resources land in the default project; VPCs are not project
	// resources and are not listed.
	res, _, err := c.Projects.ListResources(ctx, def.ID, nil)
	if err != nil || len(res) != 1 || res[0].URN != urn {
		t.Fatalf("default project resources: %v %+v", err, res)
	}

	assigned, _, err := c.Projects.AssignResources(ctx, p.ID, urn)
	if err != nil || len(assigned) != 1 || assigned[0].Status != "assigned" {
		t.Fatalf("assign: %v %+v", err, assigned)
	}
	again, _, err := c.Projects.AssignResources(ctx, p.ID, urn)
	if err != nil || again[0].Status != "already_assigned" {
		t.Fatalf("reassign: %v %+v", err, again)
	}
	missing, _, err := c.Projects.AssignResources(ctx, p.ID, "do:kubernetes:"+newID())
	if err != nil || missing[0].Status != "not_found" {
		t.Fatalf("assign missing: %v %+v", err, missing)
	}
	_, _, err = c.Projects.AssignResources(ctx, p.ID, "not-a-urn")
	wantDBError(t, err, http.StatusBadRequest, "not-a-urn", "do:resource_type:resource_id")

	res, _, err = c.Projects.ListResources(ctx, p.ID, nil)
	if err != nil || len(res) != 1 || res[0].URN != urn {
		t.Fatalf("project resources: %v %+v", err, res)
	}
	if res, _, _ := c.Projects.ListResources(ctx, def.ID, nil); len(res) != 0 {
		t.Fatalf("resource still in default project: %+v", res)
	}

	// A project with resources cannot be deleted.
	_, err = c.Projects.Delete(ctx, p.ID)
	wantStatus(t, err, http.StatusPreconditionFailed)
	_, err = c.Projects.Delete(ctx, def.ID)
	wantStatus(t, err, http.StatusPreconditionFailed)

	upd, _, err := c.Projects.Update(ctx, p.ID, &godo.UpdateProjectRequest{Name: "inference-2", Description: "d", Purpose: "AI", Environment: "Staging", IsDefault: false})
	if err != nil || upd.Name != "inference-2" || upd.Environment != "Staging" {
		t.Fatalf("update: %v %+v", err, upd)
	}
	_, _, err = c.Projects.Update(ctx, p.ID, &godo.UpdateProjectRequest{Name: "x", Description: "d", Purpose: "AI", Environment: "Moon", IsDefault: false})
	wantStatus(t, err, http.StatusUnprocessableEntity)
	_, _, err = c.Projects.Create(ctx, &godo.CreateProjectRequest{Name: "inference-2", Purpose: "AI"})
	wantStatus(t, err, http.StatusConflict)

	if _, err := c.Databases.Delete(ctx, db.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Projects.Delete(ctx, p.ID); err != nil {
		t.Fatalf("a project whose resources are gone can be deleted: %v", err)
	}
	_, _, err = c.Projects.Get(ctx, p.ID)
	wantStatus(t, err, http.StatusNotFound)
	eventually(t, "the database gone", func() bool { return srv.Inventory().Count("database_cluster") == 0 })
	if _, err := c.VPCs.Delete(ctx, v.ID); err != nil {
		t.Fatal(err)
	}
	if inv := srv.Inventory(); !inv.Empty() {
		t.Fatalf("inventory:\n%s", inv)
	}
}

// VPCs are not project resources (official provider docs/resources/
// project.md lists the assignable types): assigning one, to a project or to
// the default project, answers 400 and assigns nothing of the request; VPCs
// never appear among a project's resources.
func TestProjectRefusesVPCs(t *testing.T) {
	_, c := startTest(t, Config{})
	def, _, _ := c.Projects.GetDefault(ctx)
	p, _, err := c.Projects.Create(ctx, &godo.CreateProjectRequest{Name: "inference", Purpose: "AI"})
	if err != nil {
		t.Fatal(err)
	}
	v, _, err := c.VPCs.Create(ctx, &godo.VPCCreateRequest{Name: "net", RegionSlug: "nyc3"})
	if err != nil {
		t.Fatal(err)
	}
	k, _, err := c.Kubernetes.Create(ctx, &godo.KubernetesClusterCreateRequest{
		Name: "k", RegionSlug: "nyc3", VersionSlug: "latest", VPCUUID: v.ID,
		NodePools: []*godo.KubernetesNodePoolCreateRequest{{Name: "p", Size: "s-2vcpu-4gb", Count: 1}},
	})
	if err != nil {
		t.Fatal(err)
	}
	kurn := "do:kubernetes:" + k.ID

	_, _, err = c.Projects.AssignResources(ctx, p.ID, v.URN)
	wantDBError(t, err, http.StatusBadRequest, v.URN, "VPCs are not project resources", "dbaas", "kubernetes")
	// One VPC in the list refuses the whole request: the cluster stays put.
	_, _, err = c.Projects.AssignResources(ctx, p.ID, kurn, v.URN)
	wantDBError(t, err, http.StatusBadRequest, "resources[1]", v.URN)
	if res, _, _ := c.Projects.ListResources(ctx, p.ID, nil); len(res) != 0 {
		t.Fatalf("a refused assignment assigned %+v", res)
	}
	r, _ := c.NewRequest(ctx, http.MethodPost, "/v2/projects/default/resources", map[string]any{"resources": []string{v.URN}})
	_, err = c.Do(ctx, r, nil)
	wantDBError(t, err, http.StatusBadRequest, "VPCs are not project resources")
	_, _, err = c.Projects.AssignResources(ctx, def.ID, v.URN)
	wantStatus(t, err, http.StatusBadRequest)

	// The valid neighbour: the cluster is assignable, and listings hold no VPC.
	if got, _, err := c.Projects.AssignResources(ctx, p.ID, kurn); err != nil || got[0].Status != "assigned" {
		t.Fatalf("assign cluster: %v %+v", err, got)
	}
	for _, id := range []string{p.ID, def.ID} {
		res, _, err := c.Projects.ListResources(ctx, id, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if strings.HasPrefix(r.URN, "do:vpc:") {
				t.Fatalf("project %s lists VPC %s: %+v", id, r.URN, res)
			}
		}
		if id == p.ID && (len(res) != 1 || res[0].URN != kurn) {
			t.Fatalf("project resources %+v, want only %s", res, kurn)
		}
	}
}
