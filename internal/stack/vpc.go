package stack

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-log/tflog"
)

// How the stack's VPC is managed: an existing VPC (spec.VPC.ID) is only
// checked and never modified or deleted; otherwise the stack creates
// "<name>-vpc" and deletes it on destroy once nothing else lives in it.

func vpcName(stack string) string { return stack + "-vpc" }

func (r *run) ensureVPC(ctx context.Context) error {
	if id, owned := r.spec.VPC.ID, view(r, func(st *Status) bool { return st.VPCOwned && st.VPCID == r.spec.VPC.ID }); id != "" && !owned {
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
		v, _, err := r.e.API.VPCs.Get(ctx, existing)
		if err == nil {
			return r.ensureVPCIdentity(ctx, v)
		}
		if !isNotFound(err) {
			return apiErr(fmt.Sprintf("reading VPC %s", existing), err)
		}
		r.warn("The stack's VPC was gone", "The stack's VPC %s no longer exists; a new one is created.", existing)
	}
	v, _, err := r.e.API.VPCs.Create(ctx, &godo.VPCCreateRequest{
		Name:        vpcName(r.spec.Name),
		RegionSlug:  r.spec.Region,
		IPRange:     r.spec.VPC.IPRange,
		Description: vpcDescription(r.spec.Name, r.spec.Owner),
	})
	if err != nil {
		var other *godo.VPC
		adopted := adoptAfterFailedCreate(ctx, err, true, func(ctx context.Context) (bool, error) {
			v, named, err := r.findOwnVPC(ctx)
			if v != nil {
				r.update(func(st *Status) {
					st.VPCID, st.VPCOwned, st.VPCIPRange, st.VPCOwner = v.ID, true, v.IPRange, r.spec.Owner
				})
			}
			other = named
			return v != nil, err
		})
		if !adopted && other != nil {
			return r.foreignError(ForeignObject{Kind: "VPC", Name: other.Name, ID: other.ID, Owner: OwnerInDescription(other.Description)})
		}
		if !adopted || ctx.Err() != nil {
			return apiErr(fmt.Sprintf("creating VPC %s in %s", vpcName(r.spec.Name), r.spec.Region), err)
		}
		return nil
	}
	r.update(func(st *Status) {
		st.VPCID, st.VPCOwned, st.VPCIPRange, st.VPCOwner = v.ID, true, v.IPRange, r.spec.Owner
	})
	return nil
}

// vpcDescription is what the stack writes on its VPC: VPCs carry no tags,
// so the description holds the stack's identity (ownership.go).
func vpcDescription(stack, owner string) string {
	d := "attach inference stack " + stack
	if owner != "" {
		d += ", " + OwnerTag(owner)
	}
	return d
}

// ensureVPCIdentity writes the stack's identity into the description of
// its VPC when it lacks it (a VPC made before identities, or imported).
func (r *run) ensureVPCIdentity(ctx context.Context, v *godo.VPC) error {
	have := OwnerInDescription(v.Description)
	if have == r.spec.Owner {
		r.update(func(st *Status) { st.VPCOwner = have })
		return nil
	}
	takeover := view(r, func(st *Status) bool { return st.ImportedByID })
	if have != "" && !takeover {
		return r.claimedError(ForeignObject{Kind: "VPC", Name: v.Name, ID: v.ID, Owner: have})
	}
	// A description of the team's own (a VPC adopted by id) is kept, the
	// identity added after it; DigitalOcean allows 255 characters.
	desc := vpcDescription(r.spec.Name, r.spec.Owner)
	if have != "" {
		// Another state's identity, taken over on purpose: replaced.
		desc = strings.Replace(v.Description, OwnerTag(have), OwnerTag(r.spec.Owner), 1)
	} else if v.Description != "" && v.Description != vpcDescription(r.spec.Name, "") {
		desc = v.Description + " (" + OwnerTag(r.spec.Owner) + ")"
		if len(desc) > 255 {
			desc = strings.ToValidUTF8(v.Description[:255-len(OwnerTag(r.spec.Owner))-3], "") + " (" + OwnerTag(r.spec.Owner) + ")"
		}
	}
	if _, _, err := r.e.API.VPCs.Update(ctx, v.ID, &godo.VPCUpdateRequest{Name: v.Name, Description: desc}); err != nil {
		return apiErr(fmt.Sprintf("writing the stack's identity into the description of VPC %s (%s)", v.Name, v.ID), err)
	}
	r.update(func(st *Status) { st.VPCOwner = r.spec.Owner })
	return nil
}

// findOwnVPC finds the VPC the stack created (by name, region and the
// identity in its description), or nil; named is a VPC of the stack's
// VPC name that is not its own.
func (r *run) findOwnVPC(ctx context.Context) (own, named *godo.VPC, err error) {
	vpcs, err := ListAll(ctx, func(opt *godo.ListOptions) ([]*godo.VPC, *godo.Response, error) {
		return r.e.API.VPCs.List(ctx, opt)
	})
	if err != nil {
		return nil, nil, err
	}
	for _, v := range vpcs {
		if v.Name != vpcName(r.spec.Name) {
			continue
		}
		if v.RegionSlug == r.spec.Region && OwnerInDescription(v.Description) == r.spec.Owner && r.spec.Owner != "" {
			return v, nil, nil
		}
		named = v
	}
	return nil, named, nil
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
	r.update(func(st *Status) {
		st.VPCIPRange = v.IPRange
		if st.VPCOwned {
			st.VPCOwner = OwnerInDescription(v.Description)
		}
	})
	return nil
}

// lastRetiredDroplet is when the latest cluster delete retired worker
// Droplets that linger in the VPC (zero: none).
func (r *run) lastRetiredDroplet() time.Time {
	return view(r, func(st *Status) time.Time {
		var last time.Time
		for _, seen := range st.RetiredDroplets {
			if seen.After(last) {
				last = seen
			}
		}
		return last
	})
}

// deleteVPC removes the stack's own VPC. DigitalOcean refuses while members
// remain: 403 while any does, 409 once only lingering ones of deleted
// objects are left. What the stack deleted (its clusters, their worker
// Droplets, its databases) drains out within minutes, so both are retried
// until ctx ends; a member that never leaves (a database destroy keeps
// running, a Droplet or cluster that is not the stack's) leaves the VPC in
// place with a warning naming it.
func (r *run) deleteVPC(ctx context.Context) error {
	id, owned, kept := r.vpcState()
	if id == "" || !owned {
		r.update(func(st *Status) { st.VPCID = "" })
		return nil
	}
	if len(kept) > 0 {
		r.warn("The VPC is kept for databases left running", "VPC %s is kept: databases %v that destroy leaves running still live in it.", id, kept)
		r.update(func(st *Status) { st.VPCID, st.VPCOwned = "", false })
		return nil
	}
	m := r.newMemberCheck(id)
	var running []string
	bare := 0 // refusals in a row with no member listed
	// What lingers is typically the worker Droplets of a cluster the stack
	// deleted, gone a few minutes after that delete: the first attempt goes
	// halfway through that (at once without such a delete, or once it is
	// past), then densely near its end.
	drainFrom, drain := r.lastRetiredDroplet(), TypicalClusterDrain
	if drainFrom.IsZero() {
		drain = 0
	}
	err := r.e.Poll.waitExpecting(ctx, "VPC "+id+" to have no members", drainFrom, drain, func(ctx context.Context) (bool, error) {
		_, delErr := r.e.API.VPCs.Delete(ctx, id)
		switch status := statusOf(delErr); {
		case delErr == nil || isNotFound(delErr):
			return true, nil
		case status == http.StatusConflict || status == http.StatusForbidden:
			var lingering []string
			var listed int
			var err error
			running, lingering, listed, err = m.members(ctx)
			if err != nil {
				return false, err
			}
			if len(running) > 0 {
				return true, nil
			}
			if listed == 0 {
				// The last member may have left between the two requests;
				// a refusal that names no member, time and again, is not
				// about members (a token without the VPC write scope).
				if bare++; bare >= 3 {
					return false, apiErr(fmt.Sprintf("deleting VPC %s (it lists no members)", id), delErr)
				}
				return false, nil
			}
			bare = 0
			tflog.Info(ctx, "waiting for what the stack deleted to leave its VPC", map[string]any{
				"vpc_id": id, "answer": status, "lingering": strings.Join(lingering, ", ")})
			return false, nil
		default:
			return false, apiErr(fmt.Sprintf("deleting VPC %s", id), delErr)
		}
	})
	if err != nil {
		return err
	}
	if len(running) > 0 {
		r.warn("The VPC is kept: something still runs in it", "VPC %s is kept: %v still run in it (left running by the stack, or not the stack's); delete the VPC once they are gone.", id, running)
	}
	r.update(func(st *Status) { st.VPCID, st.VPCOwned = "", false })
	return nil
}

// memberCheck sorts a VPC's members, round after round of deleteVPC, into
// those that still run and those that linger after the stack deleted them.
// A cluster or database once seen gone (404) is not read again.
type memberCheck struct {
	r     *run
	vpcID string
	gone  map[string]bool // URNs seen deleted
	// workers are the Droplet ids of the stack's cluster nodes, current
	// and deleted: as VPC members they linger after their cluster.
	workers map[string]bool
	// pools are the DOKS names of the stack's pools, current and deleted:
	// a Droplet named "<pool>-<5 characters>" is one of their nodes, even
	// one the autoscaler added after the stack last read the cluster.
	pools map[string]bool
}

func (r *run) newMemberCheck(vpcID string) *memberCheck {
	workers, pools := map[string]bool{}, map[string]bool{}
	r.mu.Lock()
	for id := range r.st.RetiredDroplets {
		workers[id] = true
	}
	for name := range r.st.RetiredPools {
		pools[name] = true
	}
	for _, c := range []*ClusterStatus{r.st.Cluster, r.st.RetiringCluster} {
		if c != nil {
			for id := range c.Droplets {
				workers[id] = true
			}
			for _, p := range c.Pools {
				if p != nil && p.Name != "" {
					pools[p.Name] = true
				}
			}
		}
	}
	r.mu.Unlock()
	return &memberCheck{r: r, vpcID: vpcID, gone: map[string]bool{}, workers: workers, pools: pools}
}

// isWorker reports whether a Droplet member is a node of the stack's
// clusters: by its id, or by its name, which DOKS makes "<pool>-<5
// lowercase letters or digits>".
func (m *memberCheck) isWorker(mem *godo.VPCMember) bool {
	id, ok := strings.CutPrefix(mem.URN, "do:droplet:")
	if !ok {
		return false
	}
	if m.workers[id] {
		return true
	}
	pool, suffix, cut := cutLast(mem.Name, "-")
	return cut && m.pools[pool] && nodeSuffix.MatchString(suffix)
}

var nodeSuffix = regexp.MustCompile(`^[a-z0-9]{5}$`)

func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

// members lists the VPC's members: running names those that still exist
// and are not the stack's deleted objects, lingering those on their way
// out; listed is how many members the VPC lists.
func (m *memberCheck) members(ctx context.Context) (running, lingering []string, listed int, err error) {
	r, vpcID := m.r, m.vpcID
	members, err := ListAll(ctx, func(opt *godo.ListOptions) ([]*godo.VPCMember, *godo.Response, error) {
		return r.e.API.VPCs.ListMembers(ctx, vpcID, &godo.VPCListMembersRequest{}, opt)
	})
	if err != nil {
		return nil, nil, 0, apiErr(fmt.Sprintf("listing the members of VPC %s", vpcID), err)
	}
	for _, mem := range members {
		if m.gone[mem.URN] {
			lingering = append(lingering, mem.URN+" ("+mem.Name+")")
			continue
		}
		switch {
		case strings.HasPrefix(mem.URN, "do:dbaas:"):
			_, _, err := r.e.API.Databases.Get(ctx, strings.TrimPrefix(mem.URN, "do:dbaas:"))
			if isNotFound(err) {
				m.gone[mem.URN] = true
				lingering = append(lingering, "database "+mem.Name)
				continue
			}
			if err != nil {
				return nil, nil, 0, apiErr(fmt.Sprintf("reading database %s in VPC %s", mem.Name, vpcID), err)
			}
			running = append(running, "database "+mem.Name)
		case strings.HasPrefix(mem.URN, "do:kubernetes:"):
			c, _, err := r.e.API.Kubernetes.Get(ctx, strings.TrimPrefix(mem.URN, "do:kubernetes:"))
			if isNotFound(err) || err == nil && c.Status != nil && c.Status.State == godo.KubernetesClusterStatusDeleted {
				m.gone[mem.URN] = true
				lingering = append(lingering, "cluster "+mem.Name)
				continue
			}
			if err != nil {
				return nil, nil, 0, apiErr(fmt.Sprintf("reading cluster %s in VPC %s", mem.Name, vpcID), err)
			}
			running = append(running, "cluster "+mem.Name)
		case m.isWorker(mem):
			// A worker node of the stack's cluster: DigitalOcean tears its
			// Droplet down after the cluster (or its pool) is deleted.
			lingering = append(lingering, "worker node "+mem.Name)
		default:
			running = append(running, mem.URN+" ("+mem.Name+")")
		}
	}
	return running, lingering, len(members), nil
}

// vpcState reads what deleteVPC needs: the VPC, whether the stack owns it,
// and the databases destroy left running in it.
func (r *run) vpcState() (string, bool, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.st.VPCID, r.st.VPCOwned, append([]string(nil), r.keptInVPC...)
}
