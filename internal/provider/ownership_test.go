package provider

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
	"github.com/attach-labs/terraform-provider-attach/internal/stack"
)

// One stack, one owner (issue 18): a stack's objects belong to the state
// that created them, by the identity it writes on them, never by the name
// another workspace can also declare.

func teamStackConfig(srv *emulator.Server) string {
	return teamStackConfigProtected(srv, false)
}

// teamStackConfigProtected is teamStackConfig with deletion_protection as
// given on the database.
func teamStackConfigProtected(srv *emulator.Server, protect bool) string {
	return providerBlock(srv) + fmt.Sprintf(`
resource "attach_inference_stack" "test" {
  name   = "team-ml"
  region = "tor1"
  tags   = ["team-ml"]

  cluster = {
    system_pool = {
      size       = "s-2vcpu-4gb"
      node_count = 1
    }
  }

  databases = {
    vectors = {
      engine = "pg"
      size   = "db-s-1vcpu-2gb"
      users  = ["app"]
      dbs    = ["app"]
      # Off (but where a test says), so that nothing but ownership stands
      # between a second workspace and this database.
      deletion_protection = %t
    }
  }
}
`, protect)
}

// A second workspace declaring a running stack's name is refused at plan,
// names what it found and the import that would adopt it on purpose, and
// deletes nothing: the first workspace's stack keeps its ids and plans empty.
func TestAccInferenceStackSecondWorkspaceSameNameRefused(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	config := teamStackConfig(srv)
	var first map[string]string
	record := func(s *terraform.State) error {
		first = s.RootModule().Resources["attach_inference_stack.test"].Primary.Attributes
		if !stack.ValidOwner(first["owner_id"]) {
			return fmt.Errorf("owner_id = %q, want a 16-digit identity", first["owner_id"])
		}
		return nil
	}
	secondWorkspace := func() {
		var mu sync.Mutex
		var writes []string
		srv.SetRecorder(func(x emulator.Exchange) {
			if x.Method != http.MethodGet {
				mu.Lock()
				writes = append(writes, x.Method+" "+x.Path)
				mu.Unlock()
			}
		})
		defer srv.SetRecorder(nil)
		// Its own working directory and state: another workspace.
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
			Steps: []resource.TestStep{
				{Config: config, PlanOnly: true, ExpectError: regexp.MustCompile(`(?s)Stack team-ml exists in another state.*cluster team-ml.*database team-ml-vectors.*terraform import`)},
				{Config: config, ExpectError: regexp.MustCompile(`Stack team-ml exists in another state`)},
			},
		})
		mu.Lock()
		defer mu.Unlock()
		if len(writes) > 0 {
			t.Errorf("the second workspace wrote to DigitalOcean: %v", writes)
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: config, Check: record},
			{
				PreConfig: secondWorkspace,
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: func(s *terraform.State) error {
					now := s.RootModule().Resources["attach_inference_stack.test"].Primary.Attributes
					for _, k := range []string{"owner_id", "vpc_id", "cluster_id", "databases.vectors.id"} {
						if now[k] != first[k] {
							return fmt.Errorf("%s changed: %q -> %q", k, first[k], now[k])
						}
					}
					return ownerTagsOn(testGodo(t, srv), first["owner_id"], first["cluster_id"], first["databases.vectors.id"])
				},
			},
		},
	})
}

// ownerTagsOn checks that the cluster, its pools and the database carry
// the identity tag of owner.
func ownerTagsOn(api *godo.Client, owner, clusterID, databaseID string) error {
	ctx := context.Background()
	tag := stack.OwnerTag(owner)
	c, _, err := api.Kubernetes.Get(ctx, clusterID)
	if err != nil {
		return err
	}
	if !slices.Contains(c.Tags, tag) {
		return fmt.Errorf("cluster tags %v lack %s", c.Tags, tag)
	}
	for _, p := range c.NodePools {
		if !slices.Contains(p.Tags, tag) {
			return fmt.Errorf("pool %s tags %v lack %s", p.Name, p.Tags, tag)
		}
	}
	db, _, err := api.Databases.Get(ctx, databaseID)
	if err != nil {
		return err
	}
	if !slices.Contains(db.Tags, tag) {
		return fmt.Errorf("database tags %v lack %s", db.Tags, tag)
	}
	return nil
}

// Parts that lack the stack's identity tag (made by a provider before
// identities, or by hand) are shown in the plan, tagged in place by the
// apply (same ids), and the plan after it is empty.
func TestAccInferenceStackWritesMissingIdentityTagsInPlace(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	config := teamStackConfig(srv)
	var first map[string]string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: config, Check: func(s *terraform.State) error {
				first = s.RootModule().Resources["attach_inference_stack.test"].Primary.Attributes
				return nil
			}},
			{
				PreConfig: func() {
					stripOwnerTags(t, testGodo(t, srv), first["owner_id"], first["cluster_id"], first["databases.vectors.id"])
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("attach_inference_stack.test", plancheck.ResourceActionUpdate),
						plancheck.ExpectUnknownValue("attach_inference_stack.test", tfjsonpath.New("pending")),
					},
				},
				Check: func(s *terraform.State) error {
					now := s.RootModule().Resources["attach_inference_stack.test"].Primary.Attributes
					for _, k := range []string{"owner_id", "vpc_id", "cluster_id", "databases.vectors.id"} {
						if now[k] != first[k] {
							return fmt.Errorf("%s changed: %q -> %q", k, first[k], now[k])
						}
					}
					return ownerTagsOn(testGodo(t, srv), first["owner_id"], first["cluster_id"], first["databases.vectors.id"])
				},
			},
			{Config: config, PlanOnly: true},
		},
	})
}

// stripOwnerTags removes the identity tag from the cluster, its pools and
// the database, as a provider before identities left them.
func stripOwnerTags(t *testing.T, api *godo.Client, owner, clusterID, databaseID string) {
	t.Helper()
	ctx := context.Background()
	tag := stack.OwnerTag(owner)
	if _, err := api.Tags.UntagResources(ctx, tag, &godo.UntagResourcesRequest{Resources: []godo.Resource{{ID: databaseID, Type: godo.DatabaseResourceType}}}); err != nil {
		t.Fatal(err)
	}
	c, _, err := api.Kubernetes.Get(ctx, clusterID)
	if err != nil {
		t.Fatal(err)
	}
	without := func(tags []string) []string {
		return slices.DeleteFunc(slices.Clone(tags), func(s string) bool { return s == tag || s == "k8s" || strings.HasPrefix(s, "k8s:") })
	}
	for _, p := range c.NodePools {
		if _, _, err := api.Kubernetes.UpdateNodePool(ctx, clusterID, p.ID, &godo.KubernetesNodePoolUpdateRequest{Name: p.Name, Tags: without(p.Tags), Labels: p.Labels, Taints: &p.Taints}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := api.Kubernetes.Update(ctx, clusterID, &godo.KubernetesClusterUpdateRequest{Name: c.Name, Tags: without(c.Tags)}); err != nil {
		t.Fatal(err)
	}
}

// A tainted stack (terraform taint, or a create that failed after some
// parts existed) is replaced by Terraform as destroy-then-create: the
// databases, protected ones included, keep their ids and data, the VPC
// stays, and only the cluster is new. The old provider deleted every part
// (or, with protection on, refused and left the stack stuck).
func TestAccInferenceStackTaintedReplacementKeepsDatabases(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	protected := teamStackConfigProtected(srv, true)
	var first map[string]string
	attrs := func(s *terraform.State) map[string]string {
		return s.RootModule().Resources["attach_inference_stack.test"].Primary.Attributes
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             inventoryEmpty(srv),
		Steps: []resource.TestStep{
			{Config: protected, Check: func(s *terraform.State) error { first = attrs(s); return nil }},
			{
				Taint:  []string{"attach_inference_stack.test"},
				Config: protected,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction("attach_inference_stack.test", plancheck.ResourceActionDestroyBeforeCreate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: func(s *terraform.State) error {
					now := attrs(s)
					for _, k := range []string{"owner_id", "vpc_id", "databases.vectors.id", "databases.vectors.private_host"} {
						if now[k] != first[k] {
							return fmt.Errorf("%s changed through the replacement: %q -> %q", k, first[k], now[k])
						}
					}
					if now["cluster_id"] == first["cluster_id"] {
						return fmt.Errorf("the cluster was not replaced")
					}
					// The old cluster may still be deleting (DigitalOcean deletes
					// asynchronously); only one may be live.
					live := 0
					for _, it := range srv.Inventory().Items {
						if it.Kind == "kubernetes_cluster" && it.Status != "deleting" {
							live++
						}
					}
					if live != 1 {
						return fmt.Errorf("%d live clusters after the replacement, want 1:\n%s", live, srv.Inventory())
					}
					rules, _, err := testGodo(t, srv).Databases.GetFirewallRules(context.Background(), now["databases.vectors.id"])
					if err != nil {
						return err
					}
					if len(rules) != 1 || rules[0].Type != "k8s" || rules[0].Value != now["cluster_id"] {
						return fmt.Errorf("database firewall after the replacement: %+v, want only the new cluster", rules)
					}
					return ownerTagsOn(testGodo(t, srv), now["owner_id"], now["cluster_id"], now["databases.vectors.id"])
				},
			},
			// Let the post-test destroy delete the database.
			{Config: teamStackConfigProtected(srv, false)},
		},
	})
}

// terraform destroy of a tainted stack still destroys it: only the destroy
// half of a replacement (which Terraform gives no private state) hands the
// databases over to a create half.
func TestAccInferenceStackDestroyOfATaintedStackDestroys(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	cfg := partialFailureConfig(srv.URL, srv.Token, "60m")
	cfg = strings.Replace(cfg, "# deletion_protection stays on", "deletion_protection = false\n      #", 1)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             inventoryEmpty(srv),
		Steps: []resource.TestStep{
			{
				PreConfig: func() {
					if _, err := srv.InjectFault(emulator.Fault{Method: "POST", Route: "/v2/databases/{database_cluster_uuid}/pools", Kind: emulator.FaultStatus, Status: 500}); err != nil {
						t.Fatal(err)
					}
				},
				Config:      cfg,
				ExpectError: regexp.MustCompile(`Creating stack acc failed`),
			},
			{PreConfig: srv.ClearFaults, Config: cfg, Destroy: true},
		},
	})
}
