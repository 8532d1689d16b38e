package provider

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/attach-labs/terraform-provider-attach/internal/stack"
)

// How attachments sharing a database know what the others use. Firewall
// rules, users, dbs and pools carry no tags, and a name (of a user, a pool)
// is something any workspace can also declare. So each attachment gets an
// identity (owner_id: random, made at its create or at its first apply
// after an import or an upgrade, kept in state) and records its claim on
// the database as a tag of its own:
//
//	attach-attachment:<database id>:<owner_id>:rule_made_<h>:user_kept_<h>:db_made_<h>:pool_made_<h>
//
// one part per object it uses, <h> a short hash of the object's name (the
// cluster id for the rule). "made" means an attachment created it (or an
// import adopted it as its own), so the last claim on it removes it; "kept"
// means it was there before any attachment, and none ever removes it. An
// attachment that joins an object another claim says is made takes "made"
// too, so whichever attachment is destroyed last cleans up.
//
// Destroy removes an object only when its own claim says made and no other
// claim uses it. A hash collision can only make destroy keep an object.
//
// The claim is a tag that tags nothing, not a tag on the database: a
// stack's databases carry exactly the stack's tags (the stack retags them
// and plans the drift), as do databases whose tags the official provider
// manages, so a tag on the database would be removed by the next apply of
// whoever manages its tags. A tag with no resources persists (the official
// provider's digitalocean_tag creates and reads back such tags).

// claimTagPrefix starts every attachment claim.
const claimTagPrefix = "attach-attachment:"

// claimKinds are the objects a claim can cover, in the order of its parts.
var claimKinds = []string{"rule", "user", "db", "pool"}

// tagNamePattern: the spec's tags.name pattern ^[a-zA-Z0-9_\-\:]+$, maxLength 255.
var tagNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_:\-]{1,255}$`)

// newAttachmentOwner returns a fresh identity, of the stack's form.
func newAttachmentOwner() string { return stack.NewOwner() }

// objectHash names an object in a claim: names may hold characters a tag
// may not, and a hash keeps the tag short.
func objectHash(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:4])
}

type claimPart struct {
	Hash string
	Made bool
}

// attachClaim is one attachment's claim on a database.
type attachClaim struct {
	Tag   string
	Owner string
	Parts map[string]claimPart
	// Unreadable: a claim on this database in a form this provider does not
	// know (a later version's, a hand-made one): it is taken to use
	// everything, so destroy keeps everything.
	Unreadable bool
}

// uses reports whether the claim uses the object kind of name hash, and
// whether it says an attachment made it.
func (c attachClaim) uses(kind, hash string) (uses, made bool) {
	if c.Unreadable {
		return true, false
	}
	p, ok := c.Parts[kind]
	return ok && p.Hash == hash, ok && p.Hash == hash && p.Made
}

// tagName is the claim's tag on database dbID.
func (c attachClaim) tagName(dbID string) string {
	var b strings.Builder
	b.WriteString(claimTagPrefix + dbID + ":" + c.Owner)
	for _, kind := range claimKinds {
		if p, ok := c.Parts[kind]; ok {
			flag := "kept"
			if p.Made {
				flag = "made"
			}
			b.WriteString(":" + kind + "_" + flag + "_" + p.Hash)
		}
	}
	return b.String()
}

// parseClaim reads tag as a claim on database dbID; false when it is not one.
func parseClaim(tag, dbID string) (attachClaim, bool) {
	rest, ok := strings.CutPrefix(tag, claimTagPrefix+dbID+":")
	if !ok {
		return attachClaim{}, false
	}
	fields := strings.Split(rest, ":")
	c := attachClaim{Tag: tag, Owner: fields[0], Parts: map[string]claimPart{}}
	if !stack.ValidOwner(c.Owner) {
		c.Unreadable = true
		return c, true
	}
	for _, f := range fields[1:] {
		kind, flagHash, _ := strings.Cut(f, "_")
		flag, hash, _ := strings.Cut(flagHash, "_")
		if !slices.Contains(claimKinds, kind) || (flag != "made" && flag != "kept") || len(hash) != 8 {
			c.Unreadable = true
			return c, true
		}
		c.Parts[kind] = claimPart{Hash: hash, Made: flag == "made"}
	}
	return c, true
}

// attachmentObjects is what an attachment uses, by kind: the cluster's rule
// and the user, db and pool it names.
func attachmentObjects(m *attachmentModel) map[string]string {
	out := map[string]string{"rule": m.ClusterID.ValueString()}
	if v := m.User.ValueString(); v != "" {
		out["user"] = v
	}
	if v := m.DB.ValueString(); v != "" {
		out["db"] = v
	}
	if m.Pool != nil && m.Pool.Name.ValueString() != "" {
		out["pool"] = m.Pool.Name.ValueString()
	}
	return out
}

// recordMade is what the private record says this attachment made (or
// adopted as its own on import): what an attachment without a claim (one
// from before identities) may remove.
func recordMade(rec attachmentRecord) map[string]bool {
	return map[string]bool{"rule": rec.RuleAdded, "user": rec.UserCreated, "db": rec.DBCreated, "pool": rec.PoolCreated}
}

// claimsOn lists the claims on database dbID: this owner's (more than one
// only after an interrupted rewrite) and the others'.
func claimsOn(ctx context.Context, api *godo.Client, dbID, owner string) (own, others []attachClaim, err error) {
	tags, err := stack.ListAll(ctx, func(opt *godo.ListOptions) ([]godo.Tag, *godo.Response, error) {
		return api.Tags.List(ctx, opt)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("%s", APIError("listing tags (attachment claims on database "+dbID+")", err))
	}
	for _, t := range tags {
		c, ok := parseClaim(t.Name, dbID)
		switch {
		case !ok:
		case owner != "" && c.Owner == owner:
			own = append(own, c)
		default:
			others = append(others, c)
		}
	}
	return own, others, nil
}

// wantClaim is the claim of owner for what m uses: a part is made when
// made says this attachment made it, or when this owner's or another
// claim says an attachment made that object.
func wantClaim(owner string, m *attachmentModel, made map[string]bool, claims ...[]attachClaim) attachClaim {
	c := attachClaim{Owner: owner, Parts: map[string]claimPart{}}
	for kind, name := range attachmentObjects(m) {
		p := claimPart{Hash: objectHash(name), Made: made[kind]}
		for _, cs := range claims {
			for _, other := range cs {
				if _, m := other.uses(kind, p.Hash); m {
					p.Made = true
				}
			}
		}
		c.Parts[kind] = p
	}
	return c
}

// writeClaim makes the claim's tag exist (a tag that exists already is
// fine: creating it again answers it or a refusal, by API version).
func writeClaim(ctx context.Context, api *godo.Client, tag string) error {
	if !tagNamePattern.MatchString(tag) {
		return fmt.Errorf("the claim %q is not a valid DigitalOcean tag name (letters, digits, ':', '-', '_', at most 255): is database_id a database cluster's UUID?", tag)
	}
	if _, _, err := api.Tags.Create(ctx, &godo.TagCreateRequest{Name: tag}); err != nil {
		if _, _, gerr := api.Tags.Get(ctx, tag); gerr == nil {
			return nil
		}
		return fmt.Errorf("%s", APIError("creating the attachment's claim (tag "+tag+")", err))
	}
	return nil
}

// deleteClaim removes a claim's tag; one already gone is fine.
func deleteClaim(ctx context.Context, api *godo.Client, tag string) error {
	if _, err := api.Tags.Delete(ctx, tag); err != nil && !IsNotFound(err) {
		return fmt.Errorf("%s", APIError("deleting the attachment's claim (tag "+tag+")", err))
	}
	return nil
}

// syncClaim makes want this owner's only claim on dbID: the new tag is
// written before the old ones go, so the attachment is never unclaimed.
func syncClaim(ctx context.Context, api *godo.Client, dbID string, want attachClaim, own []attachClaim) error {
	tag := want.tagName(dbID)
	if len(own) == 1 && own[0].Tag == tag {
		return nil
	}
	if !slices.ContainsFunc(own, func(c attachClaim) bool { return c.Tag == tag }) {
		if err := writeClaim(ctx, api, tag); err != nil {
			return err
		}
	}
	for _, c := range own {
		if c.Tag != tag {
			if err := deleteClaim(ctx, api, c.Tag); err != nil {
				return err
			}
		}
	}
	tflog.Info(ctx, "Recorded the attachment's claim", map[string]any{"database_id": dbID, "claim": tag})
	return nil
}

// releasePlan is what destroying an attachment does with what it uses.
type releasePlan struct {
	// Remove: the objects it deletes (made by attachments, used by no
	// other claim).
	Remove map[string]bool
	// KeptFor: the owners of the claims that keep an object in place.
	KeptFor map[string][]string
	// HandOver: other claims rewritten to say made, for objects this
	// attachment made that they use but took as kept (they joined before
	// this attachment had a claim), so the last of them removes them.
	HandOver []attachClaim
}

// planRelease decides, for the objects objs an attachment uses, what its
// destroy removes: made says what it made (its claims and its record);
// others are the other attachments' claims on the database.
func planRelease(objs map[string]string, made map[string]bool, others []attachClaim) releasePlan {
	rp := releasePlan{Remove: map[string]bool{}, KeptFor: map[string][]string{}}
	handOver := map[string]attachClaim{}
	for kind, name := range objs {
		h := objectHash(name)
		var users []attachClaim
		anyMade := false
		for _, c := range others {
			if u, m := c.uses(kind, h); u {
				users = append(users, c)
				anyMade = anyMade || m
			}
		}
		if len(users) == 0 {
			rp.Remove[kind] = made[kind]
			continue
		}
		for _, c := range users {
			rp.KeptFor[kind] = append(rp.KeptFor[kind], c.Owner)
		}
		if !made[kind] || anyMade {
			continue
		}
		for _, c := range users {
			if c.Unreadable {
				continue
			}
			next, ok := handOver[c.Tag]
			if !ok {
				next = attachClaim{Tag: c.Tag, Owner: c.Owner, Parts: map[string]claimPart{}}
				for k, p := range c.Parts {
					next.Parts[k] = p
				}
			}
			next.Parts[kind] = claimPart{Hash: h, Made: true}
			handOver[c.Tag] = next
		}
	}
	for _, tag := range slices.Sorted(maps.Keys(handOver)) {
		rp.HandOver = append(rp.HandOver, handOver[tag])
	}
	return rp
}

// mergeMade is what this attachment may remove: what its record says it
// made, and what its own claims say attachments made.
func mergeMade(rec attachmentRecord, objs map[string]string, own []attachClaim) map[string]bool {
	made := recordMade(rec)
	for kind, name := range objs {
		for _, c := range own {
			if _, m := c.uses(kind, objectHash(name)); m && !c.Unreadable {
				made[kind] = true
			}
		}
	}
	return made
}

// poolDifference describes how an existing pool differs from the one the
// attachment declares ("" when it does not): sharing a pool means declaring
// it alike, since changing it changes it for its other clients.
func poolDifference(have *godo.DatabasePool, want *godo.DatabaseUpdatePoolRequest) string {
	var diffs []string
	if have.Mode != want.Mode {
		diffs = append(diffs, fmt.Sprintf("mode %s (this attachment: %s)", have.Mode, want.Mode))
	}
	if have.Size != want.Size {
		diffs = append(diffs, fmt.Sprintf("size %d (this attachment: %d)", have.Size, want.Size))
	}
	if have.Database != want.Database {
		diffs = append(diffs, fmt.Sprintf("db %s (this attachment: %s)", have.Database, want.Database))
	}
	if have.User != want.User {
		diffs = append(diffs, fmt.Sprintf("user %s (this attachment: %s)", have.User, want.User))
	}
	return strings.Join(diffs, ", ")
}
