package emulator

import (
	"net/http"
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
	v, _, err := c.VPCs.Create(ctx, &godo.VPCCreateRequest{Name: "net", RegionSlug: "tor1"})
	if err != nil {
		t.Fatal(err)
	}

	// New resources land in the default project.
	res, _, err := c.Projects.ListResources(ctx, def.ID, nil)
	if err != nil || len(res) != 1 || res[0].URN != v.URN {
		t.Fatalf("default project resources: %v %+v", err, res)
	}

	assigned, _, err := c.Projects.AssignResources(ctx, p.ID, v.URN)
	if err != nil || len(assigned) != 1 || assigned[0].Status != "assigned" {
		t.Fatalf("assign: %v %+v", err, assigned)
	}
	again, _, err := c.Projects.AssignResources(ctx, p.ID, v.URN)
	if err != nil || again[0].Status != "already_assigned" {
		t.Fatalf("reassign: %v %+v", err, again)
	}
	missing, _, err := c.Projects.AssignResources(ctx, p.ID, "do:kubernetes:"+newID())
	if err != nil || missing[0].Status != "not_found" {
		t.Fatalf("assign missing: %v %+v", err, missing)
	}
	_, _, err = c.Projects.AssignResources(ctx, p.ID, "not-a-urn")
	wantStatus(t, err, http.StatusUnprocessableEntity)

	res, _, err = c.Projects.ListResources(ctx, p.ID, nil)
	if err != nil || len(res) != 1 || res[0].URN != v.URN {
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

	if _, err := c.VPCs.Delete(ctx, v.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Projects.Delete(ctx, p.ID); err != nil {
		t.Fatalf("a project whose resources are gone can be deleted: %v", err)
	}
	_, _, err = c.Projects.Get(ctx, p.ID)
	wantStatus(t, err, http.StatusNotFound)
	if inv := srv.Inventory(); !inv.Empty() {
		t.Fatalf("inventory:\n%s", inv)
	}
}
