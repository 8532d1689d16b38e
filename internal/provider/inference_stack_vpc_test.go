package provider

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
)

// Another team's cluster in the stack's VPC: destroy removes the stack's
// parts, keeps the VPC (with a warning) instead of waiting for a member that
// never leaves, and touches nothing of the other team's.
func TestAccInferenceStackDestroyKeepsVPCWithForeignMembers(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	ctx := context.Background()
	api, err := godo.New(&http.Client{Transport: attBearer(srv.Token)}, godo.SetBaseURL(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	var vpcID, foreignID, stackClusterID string
	config := providerBlock(srv) + `
resource "attach_inference_stack" "test" {
  name   = "shared-vpc"
  region = "tor1"
  cluster = {
    system_pool = { size = "s-2vcpu-4gb", node_count = 1 }
  }
}
`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy: func(*terraform.State) error {
			if _, _, err := api.Kubernetes.Get(ctx, foreignID); err != nil {
				return fmt.Errorf("the other team's cluster is gone: %v", err)
			}
			if _, _, err := api.VPCs.Get(ctx, vpcID); err != nil {
				return fmt.Errorf("the VPC holding the other team's cluster was deleted: %v", err)
			}
			if _, _, err := api.Kubernetes.Get(ctx, stackClusterID); !IsNotFound(err) {
				return fmt.Errorf("the stack's cluster survived destroy: %v", err)
			}
			return nil
		},
		Steps: []resource.TestStep{{
			Config: config,
			Check: func(s *terraform.State) error {
				attrs := s.RootModule().Resources[stackAddr].Primary.Attributes
				vpcID, stackClusterID = attrs["vpc_id"], attrs["cluster_id"]
				c, _, err := api.Kubernetes.Create(ctx, &godo.KubernetesClusterCreateRequest{Name: "other-team", RegionSlug: "tor1", VersionSlug: "latest", VPCUUID: vpcID,
					NodePools: []*godo.KubernetesNodePoolCreateRequest{{Name: "p", Size: "s-2vcpu-4gb", Count: 1}}})
				if err != nil {
					return err
				}
				foreignID = c.ID
				return nil
			},
		}},
	})
	if _, err := api.Kubernetes.Delete(ctx, foreignID); err != nil {
		t.Fatal(err)
	}
	attWaitFor(t, "the VPC to empty", func() bool {
		_, err := api.VPCs.Delete(ctx, vpcID)
		return err == nil
	})
	if err := inventoryEmpty(srv)(nil); err != nil {
		t.Fatal(err)
	}
}
