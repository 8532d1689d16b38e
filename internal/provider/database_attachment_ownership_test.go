package provider

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
	"github.com/attach-labs/terraform-provider-attach/internal/stack"
)

// attObjects reports which of the app's rule, user, db and pool (named as
// attConfig names them) the shared database holds.
func (w *attDataWorkspace) attObjects(t *testing.T, name string) map[string]bool {
	t.Helper()
	ctx := context.Background()
	out := map[string]bool{"rule": w.rules(t)["k8s:"+w.clusters[0]]}
	db, _, err := w.api.Databases.Get(ctx, w.db.ID)
	if err != nil {
		t.Fatal(err)
	}
	out["db"] = containsString(db.DBNames, name+"_db")
	_, _, err = w.api.Databases.GetUser(ctx, w.db.ID, name+"_user")
	out["user"] = err == nil
	_, _, err = w.api.Databases.GetPool(ctx, w.db.ID, name+"_pool")
	out["pool"] = err == nil
	return out
}

// wantObjects fails unless every one of the app's objects is present (or,
// with present false, absent).
func (w *attDataWorkspace) wantObjects(t *testing.T, name string, present bool, when string) error {
	t.Helper()
	for what, has := range w.attObjects(t, name) {
		if has != present {
			return fmt.Errorf("%s: the attachment's %s is present=%v, want %v", when, what, has, present)
		}
	}
	return nil
}

// claimTags lists the attachment claims (tags) of the shared database.
func (w *attDataWorkspace) claimTags(t *testing.T) []string {
	t.Helper()
	tags, _, err := w.api.Tags.List(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, tag := range tags {
		if strings.HasPrefix(tag.Name, claimTagPrefix+w.db.ID+":") {
			out = append(out, tag.Name)
		}
	}
	return out
}

// attClaims parses the attachment claims on the shared database.
func (w *attDataWorkspace) attClaims(t *testing.T) []attachClaim {
	t.Helper()
	var out []attachClaim
	for _, tag := range w.claimTags(t) {
		c, _ := parseClaim(tag, w.db.ID)
		out = append(out, c)
	}
	return out
}

// wantClaims fails unless the database holds one claim per owner in owners,
// each using the rule, user, db and pool of attConfig's name, made as made
// says.
func (w *attDataWorkspace) wantClaims(t *testing.T, name string, made bool, owners ...string) error {
	t.Helper()
	claims := w.attClaims(t)
	if len(claims) != len(owners) {
		return fmt.Errorf("claims %v, want one for each of %v", w.claimTags(t), owners)
	}
	objs := map[string]string{"rule": w.clusters[0], "user": name + "_user", "db": name + "_db", "pool": name + "_pool"}
	for _, c := range claims {
		if !slices.Contains(owners, c.Owner) {
			return fmt.Errorf("claim %s is not one of %v", c.Tag, owners)
		}
		for kind, obj := range objs {
			if u, m := c.uses(kind, objectHash(obj)); !u || m != made {
				return fmt.Errorf("claim %s: %s %s uses=%v made=%v, want made=%v", c.Tag, kind, obj, u, m, made)
			}
		}
	}
	return nil
}

func ownerOf(s *terraform.State, addr string) string {
	return s.RootModule().Resources[addr].Primary.Attributes["owner_id"]
}

// secondWorkspace runs a Terraform configuration in a working directory and
// state of its own (another workspace) beside the test's: its first step
// applies, then waits until the test releases it.
type secondWorkspace struct {
	applied, released, done chan struct{}
	releaseOnce             sync.Once
	started                 bool
}

func newSecondWorkspace() *secondWorkspace {
	return &secondWorkspace{applied: make(chan struct{}), released: make(chan struct{}), done: make(chan struct{})}
}

// start runs tc in the background and returns once its first step applied
// (or the workspace failed).
func (b *secondWorkspace) start(t *testing.T, tc resource.TestCase) {
	b.started = true
	check := tc.Steps[0].Check
	tc.Steps[0].Check = func(s *terraform.State) error {
		if check != nil {
			if err := check(s); err != nil {
				return err
			}
		}
		close(b.applied)
		select {
		case <-b.released:
			return nil
		case <-time.After(3 * time.Minute):
			return fmt.Errorf("the test never released the second workspace")
		}
	}
	go func() {
		defer close(b.done)
		resource.Test(t, tc)
	}()
	select {
	case <-b.applied:
	case <-b.done:
	}
}

func (b *secondWorkspace) release() { b.releaseOnce.Do(func() { close(b.released) }) }

// wait releases the workspace and waits for the end of its run.
func (b *secondWorkspace) wait() {
	b.release()
	if b.started {
		<-b.done
	}
}

// Two workspaces (two working directories and states) declare the same
// attachment: the same cluster on the same database, with the same db, user
// and pool. Destroying the first leaves everything the second uses in
// place, and the second plans empty; destroying the second, the last user,
// removes it all.
func TestAccDatabaseAttachmentTwoWorkspacesSameObjects(t *testing.T) {
	t.Setenv("ATTACH_FIREWALL_SETTLE", "20ms")
	srv := startEmulator(t, emulator.Config{})
	w := newAttDataWorkspace(t, srv, 1)
	config := attConfig(srv, "app", w.db.ID, w.clusters[0], 5)
	const addr = "attach_database_attachment.app"
	var ownerA, ownerB string

	b := newSecondWorkspace()
	bCase := resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy: func(*terraform.State) error {
			if err := w.wantObjects(t, "app", false, "after the last workspace's destroy"); err != nil {
				return err
			}
			if claims := w.claimTags(t); len(claims) > 0 {
				return fmt.Errorf("claims left after both destroys: %v", claims)
			}
			if rules := w.rules(t); len(rules) != 1 || !rules["ip_addr:198.51.100.7"] {
				return fmt.Errorf("after both destroys the firewall should hold only the foreign rule: %v", rules)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				Config: config,
				Check: func(s *terraform.State) error {
					// It joins what the first made: its claim says made too.
					ownerB = ownerOf(s, addr)
					return w.wantClaims(t, "app", true, ownerA, ownerB)
				},
			},
			{
				// After the first workspace's destroy: nothing to do here.
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: func(*terraform.State) error {
					if err := w.wantObjects(t, "app", true, "the second workspace, after the first's destroy"); err != nil {
						return err
					}
					return w.wantClaims(t, "app", true, ownerB)
				},
			},
		},
	}
	defer b.wait()
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				Check: func(s *terraform.State) error {
					ownerA = ownerOf(s, addr)
					if !stack.ValidOwner(ownerA) {
						return fmt.Errorf("owner_id = %q, want 16 hex digits", ownerA)
					}
					if err := w.wantObjects(t, "app", true, "after the first workspace's apply"); err != nil {
						return err
					}
					return w.wantClaims(t, "app", true, ownerA)
				},
			},
			{
				// The second workspace applies while the first's attachment
				// exists, then waits; the first's attachment leaves its
				// configuration and is destroyed.
				PreConfig: func() { b.start(t, bCase) },
				Config:    providerBlock(srv),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionDestroy)},
				},
				Check: func(*terraform.State) error {
					defer b.release()
					return w.wantObjects(t, "app", true, "after the first workspace's destroy")
				},
			},
		},
	})
	b.wait()
	w.teardown(t, srv)
}

// An attachment without an identity (from a version before owner_id, or
// whose claim was removed outside Terraform) keeps working: its plan shows
// owner_id becoming known and its apply records its claim. A workspace that
// attached the same objects meanwhile took them as kept (it saw no claim);
// destroying the first hands them over, so the second, the last, removes
// them.
func TestAccDatabaseAttachmentWithoutIdentityGetsClaimAndHandsOver(t *testing.T) {
	t.Setenv("ATTACH_FIREWALL_SETTLE", "20ms")
	srv := startEmulator(t, emulator.Config{})
	w := newAttDataWorkspace(t, srv, 1)
	config := attConfig(srv, "app", w.db.ID, w.clusters[0], 5)
	const addr = "attach_database_attachment.app"
	var ownerA, ownerB string

	b := newSecondWorkspace()
	bCase := resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy: func(*terraform.State) error {
			if err := w.wantObjects(t, "app", false, "after the last workspace's destroy"); err != nil {
				return err
			}
			if claims := w.claimTags(t); len(claims) > 0 {
				return fmt.Errorf("claims left after both destroys: %v", claims)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				Config: config,
				Check: func(s *terraform.State) error {
					ownerB = ownerOf(s, addr)
					return w.wantClaims(t, "app", false, ownerB)
				},
			},
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: func(*terraform.State) error {
					if err := w.wantObjects(t, "app", true, "the second workspace, after the first's destroy"); err != nil {
						return err
					}
					return w.wantClaims(t, "app", true, ownerB)
				},
			},
		},
	}
	defer b.wait()
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				Check:  func(s *terraform.State) error { ownerA = ownerOf(s, addr); return nil },
			},
			{
				// Its claim goes (as for a state from before identities):
				// the second workspace, applying now, sees objects no claim
				// names. Then the first's plan records its claim anew.
				PreConfig: func() {
					for _, tag := range w.claimTags(t) {
						if _, err := w.api.Tags.Delete(context.Background(), tag); err != nil {
							t.Fatal(err)
						}
					}
					b.start(t, bCase)
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
						plancheck.ExpectUnknownValue(addr, tfjsonpath.New("owner_id")),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: func(s *terraform.State) error {
					if o := ownerOf(s, addr); o == ownerA || !stack.ValidOwner(o) {
						return fmt.Errorf("owner_id = %q, want a new identity (the old one was %q)", o, ownerA)
					}
					ownerA = ownerOf(s, addr)
					for _, c := range w.attClaims(t) {
						if u, m := c.uses("user", objectHash("app_user")); c.Owner == ownerA && (!u || !m) {
							return fmt.Errorf("the first attachment's claim %s should say it made the user", c.Tag)
						}
					}
					return nil
				},
			},
			{
				Config: providerBlock(srv),
				Check: func(*terraform.State) error {
					defer b.release()
					if err := w.wantObjects(t, "app", true, "after the first workspace's destroy"); err != nil {
						return err
					}
					// Handed over: the second's claim now says made.
					return w.wantClaims(t, "app", true, ownerB)
				},
			},
		},
	})
	b.wait()
	w.teardown(t, srv)
}

// A user, db and pool that existed before any attachment (the data team's)
// are used by two workspaces' attachments and never removed, whichever is
// destroyed last; the rule the first attachment added is removed by the
// last.
func TestAccDatabaseAttachmentTwoWorkspacesKeepForeignObjects(t *testing.T) {
	t.Setenv("ATTACH_FIREWALL_SETTLE", "20ms")
	srv := startEmulator(t, emulator.Config{})
	w := newAttDataWorkspace(t, srv, 1)
	ctx := context.Background()
	if _, _, err := w.api.Databases.CreateDB(ctx, w.db.ID, &godo.DatabaseCreateDBRequest{Name: "app_db"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.api.Databases.CreateUser(ctx, w.db.ID, &godo.DatabaseCreateUserRequest{Name: "app_user"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.api.Databases.CreatePool(ctx, w.db.ID, &godo.DatabaseCreatePoolRequest{Name: "app_pool", Mode: "transaction", Size: 5, Database: "app_db", User: "app_user"}); err != nil {
		t.Fatal(err)
	}
	config := attConfig(srv, "app", w.db.ID, w.clusters[0], 5)
	const addr = "attach_database_attachment.app"
	foreignOnly := func(when string) error {
		objs := w.attObjects(t, "app")
		if objs["rule"] || !objs["user"] || !objs["db"] || !objs["pool"] {
			return fmt.Errorf("%s: want the data team's user, db and pool and no rule, have %v", when, objs)
		}
		return nil
	}

	b := newSecondWorkspace()
	bCase := resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy: func(*terraform.State) error {
			if claims := w.claimTags(t); len(claims) > 0 {
				return fmt.Errorf("claims left after both destroys: %v", claims)
			}
			return foreignOnly("after the last workspace's destroy")
		},
		Steps: []resource.TestStep{
			{Config: config},
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: func(*terraform.State) error {
					return w.wantObjects(t, "app", true, "the second workspace, after the first's destroy")
				},
			},
		},
	}
	defer b.wait()
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				Check: func(s *terraform.State) error {
					for _, c := range w.attClaims(t) {
						for kind, name := range map[string]string{"user": "app_user", "db": "app_db", "pool": "app_pool"} {
							if u, m := c.uses(kind, objectHash(name)); !u || m {
								return fmt.Errorf("claim %s should use the data team's %s as kept", c.Tag, kind)
							}
						}
						if u, m := c.uses("rule", objectHash(w.clusters[0])); !u || !m || c.Owner != ownerOf(s, addr) {
							return fmt.Errorf("claim %s should say the attachment made the rule", c.Tag)
						}
					}
					return nil
				},
			},
			{
				PreConfig: func() { b.start(t, bCase) },
				Config:    providerBlock(srv),
				Check: func(*terraform.State) error {
					defer b.release()
					return w.wantObjects(t, "app", true, "after the first workspace's destroy")
				},
			},
		},
	})
	b.wait()
	w.teardown(t, srv)
}

func TestDatabaseAttachmentClaimTagRoundTrip(t *testing.T) {
	const dbID = "9cc10173-e9ea-4176-9dbc-a4cee4c4ff30"
	m := &attachmentModel{ClusterID: types.StringValue("bd5f5959-5e1e-4205-a714-a914373942af"),
		User: types.StringValue("app.user"), DB: types.StringValue("app_db"),
		Pool: &attachPoolModel{Name: types.StringValue(strings.Repeat("p", 60))}}
	c := wantClaim(newAttachmentOwner(), m, map[string]bool{"rule": true, "user": false, "db": true, "pool": true})
	tag := c.tagName(dbID)
	if !tagNamePattern.MatchString(tag) {
		t.Fatalf("%q (%d characters) is not a DigitalOcean tag name", tag, len(tag))
	}
	back, ok := parseClaim(tag, dbID)
	if !ok || back.Unreadable || back.Owner != c.Owner || len(back.Parts) != 4 {
		t.Fatalf("parseClaim(%q) = %+v, %v", tag, back, ok)
	}
	for kind, want := range map[string]bool{"rule": true, "user": false, "db": true, "pool": true} {
		if u, m := back.uses(kind, c.Parts[kind].Hash); !u || m != want {
			t.Errorf("%s: uses=%v made=%v, want made=%v", kind, u, m, want)
		}
	}
	if _, ok := parseClaim(tag, "another-database"); ok {
		t.Errorf("a claim on another database was read as this one's")
	}
	odd, ok := parseClaim(claimTagPrefix+dbID+":0123456789abcdef:queue_made_12345678", dbID)
	if u, m := odd.uses("pool", "ffffffff"); !ok || !odd.Unreadable || !u || m {
		t.Errorf("a claim of an unknown form should be taken to use everything, made by no attachment: %+v", odd)
	}
}

func TestDatabaseAttachmentPlanRelease(t *testing.T) {
	objs := map[string]string{"rule": "cluster", "user": "u", "pool": "p"}
	claim := func(owner string, made bool, kinds ...string) attachClaim {
		c := attachClaim{Tag: "t-" + owner, Owner: owner, Parts: map[string]claimPart{}}
		for _, k := range kinds {
			c.Parts[k] = claimPart{Hash: objectHash(objs[k]), Made: made}
		}
		return c
	}
	made := map[string]bool{"rule": true, "user": true, "pool": false}

	alone := planRelease(objs, made, nil)
	if !alone.Remove["rule"] || !alone.Remove["user"] || alone.Remove["pool"] || len(alone.HandOver) > 0 {
		t.Errorf("the last attachment removes what attachments made and only that: %+v", alone)
	}

	shared := planRelease(objs, made, []attachClaim{claim("b", true, "rule", "user"), claim("c", false, "pool")})
	if shared.Remove["rule"] || shared.Remove["user"] || shared.Remove["pool"] {
		t.Errorf("what other claims use is kept: %+v", shared.Remove)
	}
	if len(shared.HandOver) != 0 {
		t.Errorf("nothing to hand over to a claim that says made: %+v", shared.HandOver)
	}

	handOver := planRelease(objs, made, []attachClaim{claim("b", false, "rule", "user", "pool")})
	if handOver.Remove["rule"] || handOver.Remove["user"] || len(handOver.HandOver) != 1 {
		t.Fatalf("a claim that took what this one made as kept gets it handed over: %+v", handOver)
	}
	next := handOver.HandOver[0]
	for kind, want := range map[string]bool{"rule": true, "user": true, "pool": false} {
		if _, m := next.uses(kind, objectHash(objs[kind])); m != want {
			t.Errorf("handed-over claim: %s made=%v, want %v", kind, m, want)
		}
	}

	unreadable := planRelease(objs, made, []attachClaim{{Tag: "x", Unreadable: true}})
	if unreadable.Remove["rule"] || unreadable.Remove["user"] || len(unreadable.HandOver) != 0 {
		t.Errorf("an unreadable claim keeps everything: %+v", unreadable)
	}
}

// A pool that exists with other settings is refused at plan, before any
// write: changing it would change it for whoever else uses it.
func TestAccDatabaseAttachmentRefusesPoolWithOtherSettings(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	w := newAttDataWorkspace(t, srv, 1)
	if _, _, err := w.api.Databases.CreatePool(context.Background(), w.db.ID, &godo.DatabaseCreatePoolRequest{Name: "app_pool", Mode: "transaction", Size: 5, Database: "defaultdb", User: "doadmin"}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var writes []string
	srv.SetRecorder(func(x emulator.Exchange) {
		if x.Method != "GET" {
			mu.Lock()
			writes = append(writes, x.Method+" "+x.Path)
			mu.Unlock()
		}
	})
	defer srv.SetRecorder(nil)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      attConfig(srv, "app", w.db.ID, w.clusters[0], 8),
			ExpectError: regexp.MustCompile(`(?s)The pool exists with other settings.*Pool app_pool exists on database shared-pg with size 5 \(this attachment: 8\),\s+db defaultdb \(this attachment: app_db\), user doadmin \(this\s+attachment:\s+app_user\).*choose another pool name`),
		}},
	})
	mu.Lock()
	if len(writes) > 0 {
		t.Errorf("the refused attachment wrote to DigitalOcean: %v", writes)
	}
	mu.Unlock()
	srv.SetRecorder(nil)
	w.teardown(t, srv)
}
