package emulator

import (
	"net/http"
	"testing"

	"github.com/digitalocean/godo"
)

func TestVPCLifecycle(t *testing.T) {
	srv, c := startTest(t, Config{})

	v, resp, err := c.VPCs.Create(ctx, &godo.VPCCreateRequest{Name: "stack-a", RegionSlug: "tor1", IPRange: "10.20.0.0/20", Description: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create status %d, want 201", resp.StatusCode)
	}
	if v.URN != "do:vpc:"+v.ID || v.IPRange != "10.20.0.0/20" || v.RegionSlug != "tor1" || v.CreatedAt.IsZero() {
		t.Fatalf("unexpected VPC %+v", v)
	}

	auto, _, err := c.VPCs.Create(ctx, &godo.VPCCreateRequest{Name: "stack-b", RegionSlug: "tor1"})
	if err != nil {
		t.Fatal(err)
	}
	if auto.IPRange == "" || auto.IPRange == v.IPRange {
		t.Fatalf("auto range %q must be assigned and distinct", auto.IPRange)
	}

	got, _, err := c.VPCs.Get(ctx, v.ID)
	if err != nil || got.Name != "stack-a" {
		t.Fatalf("get: %v %+v", err, got)
	}
	upd, _, err := c.VPCs.Update(ctx, v.ID, &godo.VPCUpdateRequest{Name: "stack-a2", Description: "renamed"})
	if err != nil || upd.Name != "stack-a2" || upd.Description != "renamed" {
		t.Fatalf("update: %v %+v", err, upd)
	}
	patched, _, err := c.VPCs.Set(ctx, v.ID, godo.VPCSetDescription("patched"))
	if err != nil || patched.Description != "patched" || patched.Name != "stack-a2" {
		t.Fatalf("patch: %v %+v", err, patched)
	}

	members, _, err := c.VPCs.ListMembers(ctx, v.ID, nil, nil)
	if err != nil || len(members) != 0 {
		t.Fatalf("members: %v %v", err, members)
	}

	for _, id := range []string{v.ID, auto.ID} {
		resp, err := c.VPCs.Delete(ctx, id)
		if err != nil || resp.StatusCode != http.StatusNoContent {
			t.Fatalf("delete %s: %v", id, err)
		}
	}
	_, _, err = c.VPCs.Get(ctx, v.ID)
	wantStatus(t, err, http.StatusNotFound)
	if inv := srv.Inventory(); !inv.Empty() {
		t.Fatalf("inventory not empty:\n%s", inv)
	}
}

func TestVPCValidation(t *testing.T) {
	_, c := startTest(t, Config{})
	if _, _, err := c.VPCs.Create(ctx, &godo.VPCCreateRequest{Name: "base", RegionSlug: "nyc3", IPRange: "10.10.0.0/16"}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		req  godo.VPCCreateRequest
		code int
	}{
		{"unknown region", godo.VPCCreateRequest{Name: "a", RegionSlug: "mars1"}, http.StatusUnprocessableEntity},
		{"missing region", godo.VPCCreateRequest{Name: "a"}, http.StatusUnprocessableEntity},
		{"bad name", godo.VPCCreateRequest{Name: "has space", RegionSlug: "nyc3"}, http.StatusUnprocessableEntity},
		{"duplicate name", godo.VPCCreateRequest{Name: "base", RegionSlug: "nyc3"}, http.StatusConflict},
		{"not a cidr", godo.VPCCreateRequest{Name: "a", RegionSlug: "nyc3", IPRange: "10.0.0.0"}, http.StatusUnprocessableEntity},
		{"host bits", godo.VPCCreateRequest{Name: "a", RegionSlug: "nyc3", IPRange: "10.30.0.1/20"}, http.StatusUnprocessableEntity},
		{"too large", godo.VPCCreateRequest{Name: "a", RegionSlug: "nyc3", IPRange: "10.0.0.0/8"}, http.StatusUnprocessableEntity},
		{"public", godo.VPCCreateRequest{Name: "a", RegionSlug: "nyc3", IPRange: "8.8.0.0/20"}, http.StatusUnprocessableEntity},
		{"reserved DOKS range", godo.VPCCreateRequest{Name: "a", RegionSlug: "nyc3", IPRange: "10.244.0.0/20"}, http.StatusUnprocessableEntity},
		{"overlap", godo.VPCCreateRequest{Name: "a", RegionSlug: "nyc3", IPRange: "10.10.16.0/20"}, http.StatusUnprocessableEntity},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := c.VPCs.Create(ctx, &tc.req)
			wantStatus(t, err, tc.code)
		})
	}
	_, err := c.VPCs.Delete(ctx, "00000000-0000-4000-8000-000000000000")
	wantStatus(t, err, http.StatusNotFound)
}

func TestVPCListPaginates(t *testing.T) {
	_, c := startTest(t, Config{})
	for i := range 25 {
		if _, _, err := c.VPCs.Create(ctx, &godo.VPCCreateRequest{Name: "v" + string(rune('a'+i)), RegionSlug: "ams3"}); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	opt := &godo.ListOptions{PerPage: 10}
	pages := 0
	for {
		vpcs, resp, err := c.VPCs.List(ctx, opt)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if resp.Meta == nil || resp.Meta.Total != 25 {
			t.Fatalf("meta.total = %+v, want 25", resp.Meta)
		}
		for _, v := range vpcs {
			seen[v.ID] = true
		}
		if resp.Links == nil || resp.Links.IsLastPage() {
			break
		}
		page, err := resp.Links.CurrentPage()
		if err != nil {
			t.Fatal(err)
		}
		opt.Page = page + 1
	}
	if pages != 3 || len(seen) != 25 {
		t.Fatalf("paged %d times and saw %d VPCs; want 3 pages, 25 VPCs", pages, len(seen))
	}
}
