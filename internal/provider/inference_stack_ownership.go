package provider

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/attach-labs/terraform-provider-attach/internal/stack"
)

// How the plan keeps a stack to the one state that owns it (the engine's
// side is internal/stack/ownership.go). A stack's objects carry its state's
// identity, owner_id, as the tag attach-owner:<owner_id>; its name is for
// people, and another workspace can declare the same one. So:
//   - a create whose names are held by live objects is refused at plan,
//     before anything is written, naming them and the import that adopts
//     them on purpose;
//   - a state whose parts lack its identity (made by a provider before
//     identities, or imported by id) plans the apply that writes it, and
//     says on which parts;
//   - parts that another state took over (they carry its identity) refuse
//     every plan but letting them go.
//
// One provider process (one Client) serves one Terraform run of one state,
// so the identities it reads from that state are this state's: Terraform
// plans the replacement of a tainted stack as a create with no prior state,
// and the objects it meets then are its own, not another's.

// stateOwners remembers, by stack name, the identities read from state.
type stateOwners struct {
	mu     sync.Mutex
	owners map[string][]string
}

func (s *stateOwners) add(name, owner string) {
	if owner == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.owners == nil {
		s.owners = map[string][]string{}
	}
	if !slices.Contains(s.owners[name], owner) {
		s.owners[name] = append(s.owners[name], owner)
	}
}

// replacements pass a stack's status from the destroy half of its
// replacement (stack.Engine.HandOver) to the create half, which Terraform
// runs next in the same apply, through the same provider.
type replacements struct {
	mu     sync.Mutex
	byName map[string]*stack.Status
}

func (r *replacements) put(name string, st *stack.Status) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byName == nil {
		r.byName = map[string]*stack.Status{}
	}
	r.byName[name] = st
}

// take returns and forgets the status handed over for name (nil: none).
func (r *replacements) take(name string) *stack.Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.byName[name]
	delete(r.byName, name)
	return st
}

func (s *stateOwners) has(name, owner string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return owner != "" && slices.Contains(s.owners[name], owner)
}

// ownState reports an identity read from this run's own state for the
// stack name.
func (p *planner) ownState(name, owner string) bool {
	return p.owners != nil && p.owners.has(name, owner)
}

// ownership runs the plan's ownership checks.
func (p *planner) ownership() {
	if p.state == nil {
		p.namesFree()
		return
	}
	owner := p.status.Owner
	if claimed := p.status.Claimed(owner); len(claimed) > 0 && !p.status.ImportedByID {
		p.attrError(path.Root("owner_id"), fmt.Sprintf("Parts of stack %s belong to another state now", p.plan.Name.ValueString()),
			(&stack.ClaimedError{Stack: p.plan.Name.ValueString(), Objects: claimed}).Error()+".")
		return
	}
	unmarked := p.status.Unmarked(owner)
	if owner == "" {
		p.plan.OwnerID = types.StringUnknown()
	}
	if len(unmarked) == 0 {
		return
	}
	p.plan.Pending = types.StringUnknown()
	what := "This apply writes the stack's identity tag " + stack.OwnerTag(owner)
	if owner == "" {
		what = "This stack has no identity yet (it was imported by id, or made by a provider version before identities): " +
			"this apply gives it one, owner_id, and writes it as the tag attach-owner:<owner_id>"
	}
	if claimed := p.status.Claimed(owner); len(claimed) > 0 && p.status.ImportedByID {
		var names []string
		for _, o := range claimed {
			names = append(names, o.String())
		}
		what += ", replacing the identity of the state that had them (imported by id: taken over on purpose: " +
			strings.Join(names, "; ") + "; that state's next plan refuses to change or delete them)"
	}
	p.diags.AddAttributeWarning(path.Root("owner_id"), "The apply marks the stack's parts as this state's",
		what+" on:\n  - "+strings.Join(unmarked, "\n  - ")+
			"\nTags are added in place (the VPC, which has no tags, gets it in its description); nothing is replaced. "+
			"From then on this provider adopts, changes and deletes only objects carrying this state's identity.")
}

// namesFree refuses to create a stack whose names live objects hold: they
// are another state's (or no stack's), and creating would fail on them or,
// worse, take them.
func (p *planner) namesFree() {
	if !known(p.plan.Name) {
		return
	}
	name := p.plan.Name.ValueString()
	found := &stack.ForeignObjectsError{Stack: name}

	clusters, err := stack.ListAll(p.ctx, func(opt *godo.ListOptions) ([]*godo.KubernetesCluster, *godo.Response, error) {
		return p.api.Kubernetes.List(p.ctx, opt)
	})
	if err != nil {
		p.diags.AddError("Unable to check that the stack's names are free", stack.APIError("listing clusters", err).Error())
		return
	}
	for _, c := range clusters {
		if c.Status != nil && (c.Status.State == godo.KubernetesClusterStatusDeleted || c.Status.State == "deleting") {
			continue
		}
		// The stack's cluster is <name>, or <name>-g<N> after replacements.
		if c.Name == name || slices.Contains(c.Tags, stack.StackTagPrefix+name) {
			found.Objects = append(found.Objects, stack.ForeignObject{Kind: "cluster", Name: c.Name, ID: c.ID, Owner: stack.OwnerIn(c.Tags)})
		}
	}

	wanted := map[string]string{} // database name -> key
	for key, d := range p.plan.Databases {
		if d.ExistingID.IsNull() {
			wanted[stack.DatabaseName(name, key)] = key
		}
	}
	if len(wanted) > 0 {
		dbs, err := stack.ListAll(p.ctx, func(opt *godo.ListOptions) ([]godo.Database, *godo.Response, error) {
			return p.api.Databases.List(p.ctx, opt)
		})
		if err != nil {
			p.diags.AddError("Unable to check that the stack's names are free", stack.APIError("listing databases", err).Error())
			return
		}
		for _, db := range dbs {
			if key, ok := wanted[db.Name]; ok {
				found.Objects = append(found.Objects, stack.ForeignObject{Kind: "database", Key: key, Name: db.Name, ID: db.ID, Owner: stack.OwnerIn(db.Tags)})
			}
		}
	}

	if p.config.VPCID.IsNull() {
		vpcs, err := stack.ListAll(p.ctx, func(opt *godo.ListOptions) ([]*godo.VPC, *godo.Response, error) {
			return p.api.VPCs.List(p.ctx, opt)
		})
		if err != nil {
			p.diags.AddError("Unable to check that the stack's names are free", stack.APIError("listing VPCs", err).Error())
			return
		}
		for _, v := range vpcs {
			if v.Name == name+"-vpc" {
				found.Objects = append(found.Objects, stack.ForeignObject{Kind: "VPC", Name: v.Name, ID: v.ID, Owner: stack.OwnerInDescription(v.Description)})
			}
		}
	}
	// Objects of this run's own state: Terraform is replacing the stack (a
	// tainted one, or -replace), which keeps them.
	var own []string
	found.Objects = slices.DeleteFunc(found.Objects, func(o stack.ForeignObject) bool {
		if p.ownState(name, o.Owner) {
			own = append(own, o.Kind+" "+o.Name+" ("+o.ID+")")
			return true
		}
		return false
	})
	if len(own) > 0 && len(found.Objects) == 0 {
		p.diags.AddAttributeWarning(path.Root("name"), fmt.Sprintf("Replacing stack %s keeps its databases", name),
			"Terraform replaces this stack (it is tainted, or -replace names it). The replacement keeps every database "+
				"with its id and data, and the VPC, and replaces only the cluster: the new cluster comes up, the databases' "+
				"firewalls are re-pointed to it, then the old one is deleted. This state's parts:\n  - "+strings.Join(own, "\n  - "))
	}
	if len(found.Objects) == 0 {
		return
	}
	var lines []string
	for _, o := range found.Objects {
		lines = append(lines, o.String())
	}
	p.attrError(path.Root("name"), fmt.Sprintf("Stack %s exists in another state", name),
		fmt.Sprintf("DigitalOcean already has objects with this stack's names:\n  - %s\n"+
			"A stack belongs to the one Terraform state that created it (its owner_id, written on its objects as the tag "+
			"attach-owner:<owner_id>); a name is not unique to one state, so this plan does not take them, and nothing was "+
			"changed.\n- If another workspace manages them, choose another name for this stack.\n- If they are this stack's "+
			"and this state lost them (a run killed before Terraform saved state, a lost state file), or other tools made "+
			"them, adopt them on purpose, by id:\n    terraform import <address of this attach_inference_stack> '%s'\n"+
			"- If this state holds this stack tainted (a failed create), plan without -refresh=false: Terraform plans a "+
			"tainted stack's replacement as a new one, and only the refresh shows the provider that these are its objects.",
			strings.Join(lines, "\n  - "), found.ImportID()))
}

// checkDestroyClaims refuses to destroy parts another state took over.
func checkDestroyClaims(state *stackModel, status *stack.Status, diags *diag.Diagnostics) {
	if state == nil || status == nil {
		return
	}
	if claimed := status.Claimed(status.Owner); len(claimed) > 0 && !status.ImportedByID {
		diags.AddAttributeError(path.Root("owner_id"), fmt.Sprintf("Destroying stack %s would delete another state's objects", state.Name.ValueString()),
			(&stack.ClaimedError{Stack: state.Name.ValueString(), Objects: claimed}).Error()+".")
	}
}
