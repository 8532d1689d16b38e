package stack

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/digitalocean/godo"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
)

// Ownership (ownership.go): a stack's objects are the ones carrying its
// state's identity, never the ones that merely carry its name.

// inventoryIDs is what the emulator holds, as "kind id" lines.
func inventoryIDs(srv *emulator.Server) []string {
	var out []string
	for _, it := range srv.Inventory().Items {
		out = append(out, it.Kind+" "+it.ID)
	}
	slices.Sort(out)
	return out
}

// Two states applying the same stack name: the second takes nothing of the
// first's (the old engine adopted the first's VPC, cluster and databases by
// their name tag, and its destroy deleted them).
func TestSecondStateWithTheSameNameTakesNothing(t *testing.T) {
	srv, e := startEngine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	spec := oneDatabaseSpec()
	first, err := e.Apply(ctx, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !ValidOwner(first.Status.Owner) {
		t.Fatalf("the first apply gave the stack identity %q", first.Status.Owner)
	}
	before := inventoryIDs(srv)

	second, err := e.Apply(ctx, spec, nil)
	var foreign *ForeignObjectsError
	if !errors.As(err, &foreign) {
		t.Fatalf("second state's apply: want a refusal naming the first's objects, got %v", err)
	}
	if foreign.Objects[0].Owner != first.Status.Owner || !strings.Contains(err.Error(), "terraform import") {
		t.Fatalf("refusal %v does not name the first state's identity %s and the import", err, first.Status.Owner)
	}
	if !second.Status.Empty() || second.Status.Cluster != nil || len(second.Status.Databases) > 0 {
		t.Fatalf("the second state recorded objects it does not own: %+v", second.Status)
	}
	if _, err := e.Delete(ctx, spec, second.Status, DeleteOptions{}); err != nil {
		t.Fatalf("second state's destroy: %v", err)
	}
	if after := inventoryIDs(srv); !slices.Equal(before, after) {
		t.Fatalf("the second state changed the first's objects:\nbefore %v\nafter  %v", before, after)
	}
	if _, err := e.Delete(ctx, spec, first.Status, DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
}

// A create whose answer was lost adopts only what carries this state's
// identity: a cluster of the stack's name that another state made is
// refused, not taken.
func TestLostClusterAnswerAdoptsOnlyThisIdentity(t *testing.T) {
	_, e := startEngine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	spec := oneDatabaseSpec()
	spec.Databases = nil
	other := spec
	other.Owner = NewOwner()
	if _, err := e.Apply(ctx, other, nil); err != nil {
		t.Fatal(err)
	}
	// This state's VPC exists (given by id), so the cluster create is the
	// first write that meets the other state's objects.
	mine := spec
	mine.VPC.ID = mustVPCID(t, e, vpcName(spec.Name))
	_, err := e.Apply(ctx, mine, nil)
	var foreign *ForeignObjectsError
	if !errors.As(err, &foreign) || foreign.Objects[0].Kind != "cluster" || foreign.Objects[0].Owner != other.Owner {
		t.Fatalf("want the other state's cluster refused, got %v", err)
	}
}

func mustVPCID(t *testing.T, e *Engine, name string) string {
	t.Helper()
	vpcs, _, err := e.API.VPCs.List(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vpcs {
		if v.Name == name {
			return v.ID
		}
	}
	t.Fatalf("no VPC %s", name)
	return ""
}

// A stack made before identities (no Owner, objects without the identity
// tag) gets one at its next apply, written in place on every part: same
// ids, and nothing left unmarked.
func TestStackWithoutIdentityGetsOneInPlace(t *testing.T) {
	_, e := startEngine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	spec := oneDatabaseSpec()
	res, err := e.Apply(ctx, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := res.Status
	stripIdentity(t, e, st)
	st.Owner, st.VPCOwner = "", ""
	ref, err := e.Refresh(ctx, spec, st)
	if err != nil {
		t.Fatal(err)
	}
	if got := ref.Status.Unmarked(""); len(got) < 4 {
		t.Fatalf("unmarked parts of a stack without identity: %v, want the VPC, cluster, pool and database", got)
	}
	res, err = e.Apply(ctx, spec, ref.Status)
	if err != nil {
		t.Fatal(err)
	}
	owner := res.Status.Owner
	if !ValidOwner(owner) || owner == st.Owner {
		t.Fatalf("identity after the apply: %q", owner)
	}
	if res.Status.Cluster.ID != st.Cluster.ID || res.Status.Databases["vectors"].ID != st.Databases["vectors"].ID || res.Status.VPCID != st.VPCID {
		t.Fatal("ids changed")
	}
	ref, err = e.Refresh(ctx, Spec{Name: spec.Name}, res.Status)
	if err != nil {
		t.Fatal(err)
	}
	if got := ref.Status.Unmarked(owner); len(got) > 0 {
		t.Fatalf("still unmarked after the apply: %v", got)
	}
	v, _, err := e.API.VPCs.Get(ctx, st.VPCID)
	if err != nil || OwnerInDescription(v.Description) != owner {
		t.Fatalf("VPC description %q (err %v) lacks identity %s", v.Description, err, owner)
	}
}

// stripIdentity removes the identity tags from the stack's parts, and the
// identity from its VPC's description, as a provider before identities
// left them.
func stripIdentity(t *testing.T, e *Engine, st *Status) {
	t.Helper()
	ctx := context.Background()
	tag := OwnerTag(st.Owner)
	var res []godo.Resource
	for _, d := range st.Databases {
		res = append(res, godo.Resource{ID: d.ID, Type: godo.DatabaseResourceType})
	}
	if _, err := e.API.Tags.UntagResources(ctx, tag, &godo.UntagResourcesRequest{Resources: res}); err != nil {
		t.Fatal(err)
	}
	c, _, err := e.API.Kubernetes.Get(ctx, st.Cluster.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range c.NodePools {
		tags := slices.DeleteFunc(slices.Clone(p.Tags), func(t string) bool { return t == tag || t == "k8s" || strings.HasPrefix(t, "k8s:") })
		if _, _, err := e.API.Kubernetes.UpdateNodePool(ctx, st.Cluster.ID, p.ID, &godo.KubernetesNodePoolUpdateRequest{Name: p.Name, Tags: tags, Labels: p.Labels}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := e.API.Kubernetes.Update(ctx, st.Cluster.ID, &godo.KubernetesClusterUpdateRequest{Name: c.Name, Tags: WithoutIdentityTags(userTags(c.Tags))}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.API.VPCs.Update(ctx, st.VPCID, &godo.VPCUpdateRequest{Name: vpcName(st.Cluster.Name), Description: vpcDescription(st.Cluster.Name, "")}); err != nil {
		t.Fatal(err)
	}
}

// Parts that another state took over (an import by id there wrote its
// identity on them) are neither changed nor deleted by this one.
func TestPartsClaimedByAnotherStateAreLeftAlone(t *testing.T) {
	srv, e := startEngine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	spec := oneDatabaseSpec()
	res, err := e.Apply(ctx, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	db := res.Status.Databases["vectors"]
	other := OwnerTag(NewOwner())
	target := &godo.TagResourcesRequest{Resources: []godo.Resource{{ID: db.ID, Type: godo.DatabaseResourceType}}}
	if _, _, err := e.API.Tags.Create(ctx, &godo.TagCreateRequest{Name: other}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.API.Tags.TagResources(ctx, other, target); err != nil {
		t.Fatal(err)
	}
	if _, err := e.API.Tags.UntagResources(ctx, OwnerTag(res.Status.Owner), &godo.UntagResourcesRequest{Resources: target.Resources}); err != nil {
		t.Fatal(err)
	}
	ref, err := e.Refresh(ctx, spec, res.Status)
	if err != nil {
		t.Fatal(err)
	}
	before := inventoryIDs(srv)
	var claimed *ClaimedError
	if _, err := e.Apply(ctx, spec, ref.Status); !errors.As(err, &claimed) {
		t.Fatalf("apply over a claimed database: want a refusal, got %v", err)
	}
	if _, err := e.Delete(ctx, spec, ref.Status, DeleteOptions{}); !errors.As(err, &claimed) || claimed.Objects[0].ID != db.ID {
		t.Fatalf("destroy over a claimed database: want a refusal naming it, got %v", err)
	}
	if after := inventoryIDs(srv); !slices.Equal(before, after) {
		t.Fatalf("objects changed:\nbefore %v\nafter  %v", before, after)
	}
}

// deletion_protection holds for every database the state recorded, also
// one that never finished provisioning (it may hold data already).
func TestProtectionCoversUnprovisionedDatabases(t *testing.T) {
	srv, e := startEngine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	spec := oneDatabaseSpec()
	res, err := e.Apply(ctx, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := res.Status
	st.Databases["vectors"].Provisioned = false
	before := inventoryIDs(srv)
	_, err = e.Delete(ctx, spec, st, DeleteOptions{Protected: map[string]bool{"vectors": true}})
	if err == nil || !strings.Contains(err.Error(), "deletion_protection") {
		t.Fatalf("destroy of a protected, unprovisioned database: %v", err)
	}
	if after := inventoryIDs(srv); !slices.Equal(before, after) {
		t.Fatal("a refused destroy changed objects")
	}
}
