package stack

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// How a stack knows its own objects. A stack's name, and the tag
// attach-stack:<name>, are for people: any workspace can declare a stack of
// the same name and write the same tag. Ownership is Status.Owner instead:
// a random identity made when the stack is created (or first applied after
// an import or an upgrade), kept in state, and written on every object the
// stack owns:
//
//   - the tag attach-owner:<owner> on the cluster, its node pools, the
//     owned databases and their read replicas (DigitalOcean's tags allow
//     letters, digits, ':', '-' and '_': the spec's tag name pattern);
//   - the VPC's description, since VPCs carry no tags.
//
// The engine adopts an object after a lost create answer only when it
// carries this identity; an object of the stack's name with no identity or
// another one is never adopted, changed or deleted: the apply refuses
// before any write with a ForeignObjectsError, which names the objects and
// the import that adopts them on purpose.

// OwnerTagPrefix starts the tag that carries a stack's identity.
const OwnerTagPrefix = "attach-owner:"

// NewOwner returns a fresh identity: 16 hex digits (64 random bits).
func NewOwner() string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		// crypto/rand does not fail on the platforms Go supports.
		panic(fmt.Sprintf("reading random bytes for a stack identity: %v", err))
	}
	return hex.EncodeToString(b)
}

// ValidOwner reports whether s has the form NewOwner gives.
func ValidOwner(s string) bool {
	if len(s) != 16 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

// OwnerTag is the tag carrying the identity owner ("" for none).
func OwnerTag(owner string) string {
	if owner == "" {
		return ""
	}
	return OwnerTagPrefix + owner
}

// OwnerTag is the tag carrying the stack's identity ("" before it has one).
func (s Spec) OwnerTag() string { return OwnerTag(s.Owner) }

// OwnerIn is the identity a set of tags (or a VPC description) carries, ""
// when none.
func OwnerIn(tags []string) string {
	for _, t := range tags {
		if o, ok := strings.CutPrefix(t, OwnerTagPrefix); ok {
			return o
		}
	}
	return ""
}

// OwnerInDescription is the identity a VPC description carries ("" none).
func OwnerInDescription(desc string) string {
	_, after, ok := strings.Cut(desc, OwnerTagPrefix)
	if !ok {
		return ""
	}
	if end := strings.IndexFunc(after, func(r rune) bool { return !strings.ContainsRune("0123456789abcdef", r) }); end >= 0 {
		after = after[:end]
	}
	return after
}

// ownedBy reports whether tags carry the identity owner.
func ownedBy(tags []string, owner string) bool {
	return owner != "" && slices.Contains(tags, OwnerTag(owner))
}

// claimedElsewhere reports whether tags carry an identity other than owner:
// another state's object, never to be changed or deleted by this one.
func claimedElsewhere(tags []string, owner string) bool {
	o := OwnerIn(tags)
	return o != "" && o != owner
}

// isIdentityTag reports the tags the stack writes to mark its objects (its
// name tag and an identity tag), which are not the user's.
func isIdentityTag(t string) bool {
	return strings.HasPrefix(t, OwnerTagPrefix) || strings.HasPrefix(t, StackTagPrefix)
}

// WithoutIdentityTags is tags less the ones the stack writes to mark its
// objects: what of them is the user's.
func WithoutIdentityTags(tags []string) []string {
	return slices.DeleteFunc(slices.Clone(tags), isIdentityTag)
}

// ForeignObject is an object named like one of the stack's that this state
// does not own.
type ForeignObject struct {
	// Kind is "VPC", "cluster", "database" or "replica"; Key the stack's
	// key for it (a database's key, a replica's "<db>.<replica>").
	Kind, Key string
	Name, ID  string
	// Owner is the identity it carries ("" when none).
	Owner string
}

func (f ForeignObject) String() string {
	whose := "no stack identity"
	if f.Owner != "" {
		whose = "the identity of another state (" + OwnerTag(f.Owner) + ")"
	}
	return fmt.Sprintf("%s %s (%s), carrying %s", f.Kind, f.Name, f.ID, whose)
}

// ForeignObjectsError refuses an apply that would have to take objects
// another state (or no stack) owns: nothing was written.
type ForeignObjectsError struct {
	Stack   string
	Objects []ForeignObject
}

// describeObjects lists objects for a message.
func describeObjects(objects []ForeignObject) string {
	objs := make([]string, len(objects))
	for i, o := range objects {
		objs[i] = o.String()
	}
	return strings.Join(objs, "; ")
}

func (e *ForeignObjectsError) Error() string {
	return fmt.Sprintf("objects with the names of stack %s exist and are not this state's: %s. They were not adopted, changed or deleted. "+
		"Another workspace may own them (a stack's name is not unique to one state): choose another name for this stack, or, to take "+
		"them over on purpose, import them by id: terraform import <address> '%s'",
		e.Stack, describeObjects(e.Objects), e.ImportID())
}

// ImportID is the import id that adopts the objects on purpose (see the
// resource's import docs): <name>,cluster=<id>,database.<key>=<id>,vpc=<id>.
func (e *ForeignObjectsError) ImportID() string {
	parts := []string{e.Stack}
	var dbs, vpc []string
	for _, o := range e.Objects {
		switch o.Kind {
		case "cluster":
			parts = append(parts, "cluster="+o.ID)
		case "database":
			dbs = append(dbs, "database."+o.Key+"="+o.ID)
		case "VPC":
			vpc = append(vpc, "vpc="+o.ID)
		}
	}
	sort.Strings(dbs)
	parts = append(append(parts, dbs...), vpc...)
	return strings.Join(parts, ",")
}

// foreignError refuses to take objects of the stack's names that are not
// this state's.
func (r *run) foreignError(objs ...ForeignObject) error {
	return &ForeignObjectsError{Stack: r.spec.Name, Objects: objs}
}

// ClaimedError refuses to change or delete objects this state recorded
// that now carry another state's identity: another workspace imported them
// by id, and owns them now.
type ClaimedError struct {
	Stack   string
	Objects []ForeignObject
}

func (e *ClaimedError) Error() string {
	return fmt.Sprintf("parts of stack %s now carry another state's identity: %s. Another workspace took them over (an import by id), "+
		"so this state no longer owns them: nothing was changed or deleted. To let them go, remove the stack from this state "+
		"(terraform state rm <address>); to take them back on purpose, remove it and import it here by id",
		e.Stack, describeObjects(e.Objects))
}

func (r *run) claimedError(objs ...ForeignObject) error {
	return &ClaimedError{Stack: r.spec.Name, Objects: objs}
}

// Claimed lists the parts the status records that carried another state's
// identity when last read (owner is this state's; "" for a state that has
// none yet, for which any identity is another's).
func (s *Status) Claimed(owner string) []ForeignObject {
	if s == nil {
		return nil
	}
	var out []ForeignObject
	if s.VPCOwned && s.VPCOwner != "" && s.VPCOwner != owner {
		out = append(out, ForeignObject{Kind: "VPC", ID: s.VPCID, Name: s.VPCID, Owner: s.VPCOwner})
	}
	for _, c := range []*ClusterStatus{s.Cluster, s.RetiringCluster} {
		if c == nil {
			continue
		}
		if claimedElsewhere(c.Tags, owner) {
			out = append(out, ForeignObject{Kind: "cluster", Name: c.Name, ID: c.ID, Owner: OwnerIn(c.Tags)})
		}
		for _, key := range sortedKeys(c.Pools) {
			if p := c.Pools[key]; p != nil && claimedElsewhere(p.Tags, owner) {
				out = append(out, ForeignObject{Kind: "node pool", Key: key, Name: p.Name, ID: p.ID, Owner: OwnerIn(p.Tags)})
			}
		}
	}
	for _, key := range sortedKeys(s.Databases) {
		d := s.Databases[key]
		if !d.Owned {
			continue // attached: not the stack's to own
		}
		if claimedElsewhere(d.Tags, owner) {
			out = append(out, ForeignObject{Kind: "database", Key: key, Name: d.Name, ID: d.ID, Owner: OwnerIn(d.Tags)})
		}
		for _, rk := range sortedKeys(d.Replicas) {
			if rep := d.Replicas[rk]; claimedElsewhere(rep.Tags, owner) {
				out = append(out, ForeignObject{Kind: "replica", Key: key + "." + rk, Name: rep.Name, ID: rep.ID, Owner: OwnerIn(rep.Tags)})
			}
		}
	}
	return out
}

// checkClaims refuses, before any write, to work on parts another state
// has taken over.
func (r *run) checkClaims() error {
	claimed := view(r, func(st *Status) []ForeignObject {
		if st.ImportedByID {
			return nil // taken over on purpose (ImportByIDs)
		}
		return st.Claimed(r.spec.Owner)
	})
	if len(claimed) > 0 {
		return r.claimedError(claimed...)
	}
	return nil
}

// Unmarked lists the parts that do not carry the stack's identity yet (a
// stack made before identities, or imported by id): the next apply writes
// it on them. owner "" (no identity yet) lists every part.
func (s *Status) Unmarked(owner string) []string {
	if s == nil {
		return nil
	}
	var out []string
	if s.VPCOwned && s.VPCID != "" && (owner == "" || s.VPCOwner != owner) {
		out = append(out, "VPC "+s.VPCID+" (in its description)")
	}
	if c := s.Cluster; c != nil {
		if !ownedBy(c.Tags, owner) {
			out = append(out, "cluster "+c.Name)
		}
		for _, key := range sortedKeys(c.Pools) {
			if p := c.Pools[key]; p != nil && !ownedBy(p.Tags, owner) {
				out = append(out, "node pool "+p.Name)
			}
		}
	}
	for _, key := range sortedKeys(s.Databases) {
		d := s.Databases[key]
		if !d.Owned {
			continue
		}
		if !ownedBy(d.Tags, owner) {
			out = append(out, "database "+d.Name)
		}
		for _, rk := range sortedKeys(d.Replicas) {
			if rep := d.Replicas[rk]; !ownedBy(rep.Tags, owner) {
				out = append(out, "replica "+rep.Name)
			}
		}
	}
	return out
}

// claimedFromUs reports whether tags carry another state's identity that
// this state may not override: it may when it imported the stack by id.
func (r *run) claimedFromUs(tags []string) bool {
	return claimedElsewhere(tags, r.spec.Owner) && !view(r, func(st *Status) bool { return st.ImportedByID })
}
