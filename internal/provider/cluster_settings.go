package provider

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/attach-labs/terraform-provider-attach/internal/stack"
)

// Cluster settings beyond the basics: the control plane firewall. Their
// schema, model and mapping live here; clusterSchema and clusterModel
// carry one entry each.

type controlPlaneFirewallModel struct {
	Enabled          types.Bool     `tfsdk:"enabled"`
	AllowedAddresses []types.String `tfsdk:"allowed_addresses"`
}

func controlPlaneFirewallSchema() schema.SingleNestedAttribute {
	return schema.SingleNestedAttribute{
		Optional: true,
		MarkdownDescription: "DOKS's control plane firewall: only `allowed_addresses` reach the Kubernetes API (the cluster's own " +
			"nodes always do). Unset: no firewall, DigitalOcean's default (the API is reachable from anywhere, credentials " +
			"still required); a firewall turned on outside Terraform then shows as drift and the next apply turns it off. " +
			"Changed in place.",
		Attributes: map[string]schema.Attribute{
			"enabled": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(true),
				MarkdownDescription: "Whether the firewall is on. Default `true`. `false` keeps the addresses on record and opens the API.",
			},
			"allowed_addresses": schema.SetAttribute{
				Required:    true,
				ElementType: types.StringType,
				MarkdownDescription: "IP addresses (`203.0.113.7`) and CIDR blocks (`203.0.113.0/24`) allowed to reach the API: " +
					"your operators, CI runners (a Terraform Cloud agent's egress address), VPN. At least one while `enabled`.",
				Validators: []validator.Set{setvalidator.ValueStringsAre(ipOrCIDRValidator{})},
			},
		},
	}
}

// ipOrCIDRValidator accepts what DigitalOcean's control plane firewall
// takes: an IP address or a CIDR block.
type ipOrCIDRValidator struct{}

func (ipOrCIDRValidator) Description(context.Context) string {
	return "must be an IP address such as 203.0.113.7 or a CIDR block such as 203.0.113.0/24"
}

func (v ipOrCIDRValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v ipOrCIDRValidator) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	s := req.ConfigValue.ValueString()
	if prefix, err := netip.ParsePrefix(s); err == nil {
		if prefix.Masked() != prefix {
			resp.Diagnostics.AddAttributeError(req.Path, "CIDR has host bits set",
				fmt.Sprintf("%q in %s: use %s.", s, req.Path.ParentPath(), prefix.Masked()))
		}
		return
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return
	}
	resp.Diagnostics.AddAttributeError(req.Path, "Invalid address",
		fmt.Sprintf("%q in %s %s.", s, req.Path.ParentPath(), v.Description(ctx)))
}

func (f *controlPlaneFirewallModel) toSpec() *stack.ControlPlaneFirewall {
	if f == nil {
		return nil
	}
	return &stack.ControlPlaneFirewall{Enabled: f.Enabled.ValueBool(), AllowedAddresses: valueStrings(f.AllowedAddresses)}
}

// observeFirewall is the firewall as the cluster has it: a configured one
// takes the cluster's values; an unconfigured one appears when the cluster
// has a firewall on (drift: the plan turns it off).
func observeFirewall(prior *controlPlaneFirewallModel, cur *stack.ControlPlaneFirewall) *controlPlaneFirewallModel {
	on := cur != nil && cur.Enabled
	switch {
	case prior == nil && !on:
		return nil
	case cur == nil:
		return &controlPlaneFirewallModel{Enabled: types.BoolValue(false), AllowedAddresses: prior.AllowedAddresses}
	}
	return &controlPlaneFirewallModel{Enabled: types.BoolValue(cur.Enabled), AllowedAddresses: stringValues(cur.AllowedAddresses)}
}

// controlPlaneFirewall refuses an enabled firewall with no address: it
// would lock every client out of the Kubernetes API.
func (p *planner) controlPlaneFirewall(c *clusterModel) {
	f := c.ControlPlaneFirewall
	if f == nil || f.Enabled.IsUnknown() || !f.Enabled.ValueBool() {
		return
	}
	for _, a := range f.AllowedAddresses {
		if a.IsUnknown() || !a.IsNull() {
			return
		}
	}
	p.attrError(path.Root("cluster").AtName("control_plane_firewall").AtName("allowed_addresses"), "Control plane firewall with no address",
		"An enabled control plane firewall with no allowed address locks every client (kubectl, CI, Terraform's Kubernetes "+
			"provider) out of the Kubernetes API. List the addresses that need it, or set enabled = false.")
}
