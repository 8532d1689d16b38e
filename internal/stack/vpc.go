package stack

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/digitalocean/godo"
)

// How the stack's VPC is managed: an existing VPC (spec.VPC.ID) is only
// checked and never modified or deleted; otherwise the stack creates
// "<name>-vpc" and deletes it on destroy once nothing else lives in it.

func vpcName(stack string) string { return stack + "-vpc" }

func (r *run) ensureVPC(ctx context.Context) error {
	if id := r.spec.VPC.ID; id != "" {
		v, _, err := r.e.API.VPCs.Get(ctx, id)
		if err != nil {
			return apiErr(fmt.Sprintf("reading VPC %s", id), err)
		}
		if v.RegionSlug != r.spec.Region {
			return fmt.Errorf("VPC %s (%s) is in region %s, but the stack is in %s: use a VPC in %s or leave vpc.id unset to create one",
				v.Name, id, v.RegionSlug, r.spec.Region, r.spec.Region)
		}
		r.update(func(st *Status) { st.VPCID, st.VPCOwned = id, false })
		return nil
	}
	existing := view(r, func(st *Status) string {
		if st.VPCOwned {
			return st.VPCID
		}
		return ""
	})
	if existing != "" {
		_, _, err := r.e.API.VPCs.Get(ctx, existing)
		if err == nil {
			return nil
		}
		if !isNotFound(err) {
			return apiErr(fmt.Sprintf("reading VPC %s", existing), err)
		}
		r.warn("The stack's VPC %s no longer exists; a new one is created.", existing)
	}
	v, _, err := r.e.API.VPCs.Create(ctx, &godo.VPCCreateRequest{
		Name:        vpcName(r.spec.Name),
		RegionSlug:  r.spec.Region,
		IPRange:     r.spec.VPC.IPRange,
		Description: vpcDescription(r.spec.Name),
	})
	if err != nil {
		adopted := adoptAfterFailedCreate(ctx, err, true, func(ctx context.Context) (bool, error) {
			v, err := r.findOwnVPC(ctx)
			if v != nil {
				r.update(func(st *Status) { st.VPCID, st.VPCOwned, st.VPCIPRange = v.ID, true, v.IPRange })
			}
			return v != nil, err
		})
		if !adopted || ctx.Err() != nil {
			return apiErr(fmt.Sprintf("creating VPC %s in %s", vpcName(r.spec.Name), r.spec.Region), err)
		}
		return nil
	}
	r.update(func(st *Status) { st.VPCID, st.VPCOwned, st.VPCIPRange = v.ID, true, v.IPRange })
	return nil
}

func vpcDescription(stack string) string { return "attach inference stack " + stack }

// findOwnVPC finds the VPC the stack created (by name, region and the
// description it sets), or nil.
func (r *run) findOwnVPC(ctx context.Context) (*godo.VPC, error) {
	vpcs, err := ListAll(ctx, func(opt *godo.ListOptions) ([]*godo.VPC, *godo.Response, error) {
		return r.e.API.VPCs.List(ctx, opt)
	})
	if err != nil {
		return nil, err
	}
	for _, v := range vpcs {
		if v.Name == vpcName(r.spec.Name) && v.RegionSlug == r.spec.Region && v.Description == vpcDescription(r.spec.Name) {
			return v, nil
		}
	}
	return nil, nil
}

func (r *run) refreshVPC(ctx context.Context) error {
	id := view(r, func(st *Status) string { return st.VPCID })
	if id == "" {
		return nil
	}
	v, _, err := r.e.API.VPCs.Get(ctx, id)
	if isNotFound(err) {
		r.update(func(st *Status) { st.VPCID = "" })
		return nil
	}
	if err != nil {
		return apiErr(fmt.Sprintf("reading VPC %s", id), err)
	}
	r.update(func(st *Status) { st.VPCIPRange = v.IPRange })
	return nil
}

// deleteVPC removes the stack's own VPC. DigitalOcean refuses (409) while
// members remain, and deleted clusters and databases stay members for a
// while, so 409 is retried until ctx ends; a VPC still holding a retained
// database is left in place with a warning.
func (r *run) deleteVPC(ctx context.Context) error {
	id, owned, kept := r.vpcState()
	if id == "" || !owned {
		r.update(func(st *Status) { st.VPCID = "" })
		return nil
	}
	if len(kept) > 0 {
		r.warn("VPC %s is kept: databases %v that destroy leaves running still live in it.", id, kept)
		r.update(func(st *Status) { st.VPCID, st.VPCOwned = "", false })
		return nil
	}
	var running []string
	err := r.e.Poll.waitUntil(ctx, "VPC "+id+" to have no members", func(ctx context.Context) (bool, error) {
		_, err := r.e.API.VPCs.Delete(ctx, id)
		switch {
		case err == nil || isNotFound(err):
			return true, nil
		case statusOf(err) == http.StatusConflict:
			// Members the stack deleted linger for a while; anything still
			// running (a database an earlier apply left running, another
			// team's cluster, a droplet) never leaves.
			running, err = r.runningMembersOf(ctx, id)
			return len(running) > 0, err
		default:
			return false, apiErr(fmt.Sprintf("deleting VPC %s", id), err)
		}
	})
	if err != nil {
		return err
	}
	if len(running) > 0 {
		r.warn("VPC %s is kept: %v still run in it (left running by the stack, or not the stack's); delete the VPC once they are gone.", id, running)
	}
	r.update(func(st *Status) { st.VPCID, st.VPCOwned = "", false })
	return nil
}

// runningMembersOf names the members of the VPC that still exist. Clusters
// and databases being deleted answer 404 (or state "deleted") while they
// drain out; any other kind of member is taken as running.
func (r *run) runningMembersOf(ctx context.Context, vpcID string) ([]string, error) {
	members, _, err := r.e.API.VPCs.ListMembers(ctx, vpcID, &godo.VPCListMembersRequest{}, &godo.ListOptions{PerPage: 200})
	if err != nil {
		return nil, apiErr(fmt.Sprintf("listing the members of VPC %s", vpcID), err)
	}
	var running []string
	for _, m := range members {
		switch {
		case strings.HasPrefix(m.URN, "do:dbaas:"):
			_, _, err := r.e.API.Databases.Get(ctx, strings.TrimPrefix(m.URN, "do:dbaas:"))
			if isNotFound(err) {
				continue
			}
			if err != nil {
				return nil, apiErr(fmt.Sprintf("reading database %s in VPC %s", m.Name, vpcID), err)
			}
			running = append(running, "database "+m.Name)
		case strings.HasPrefix(m.URN, "do:kubernetes:"):
			c, _, err := r.e.API.Kubernetes.Get(ctx, strings.TrimPrefix(m.URN, "do:kubernetes:"))
			if isNotFound(err) || err == nil && c.Status != nil && c.Status.State == godo.KubernetesClusterStatusDeleted {
				continue
			}
			if err != nil {
				return nil, apiErr(fmt.Sprintf("reading cluster %s in VPC %s", m.Name, vpcID), err)
			}
			running = append(running, "cluster "+m.Name)
		default:
			running = append(running, m.URN+" ("+m.Name+")")
		}
	}
	return running, nil
}

// vpcState reads what deleteVPC needs: the VPC, whether the stack owns it,
// and the databases destroy left running in it.
func (r *run) vpcState() (string, bool, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.st.VPCID, r.st.VPCOwned, append([]string(nil), r.keptInVPC...)
}
