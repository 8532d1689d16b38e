package provider

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/float64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/attach-labs/terraform-provider-attach/internal/stack"
)

// Cluster settings beyond the basics: the control plane firewall, the
// cluster autoscaler's configuration and the kubeconfig's lifetime. Their
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

type autoscalerModel struct {
	ScaleDownUtilizationThreshold types.Float64  `tfsdk:"scale_down_utilization_threshold"`
	ScaleDownUnneededTime         types.String   `tfsdk:"scale_down_unneeded_time"`
	Expanders                     []types.String `tfsdk:"expanders"`
}

// autoscalerExpanders are the expanders DigitalOcean accepts (spec
// cluster_autoscaler_configuration.expanders enum).
var autoscalerExpanders = []string{"random", "priority", "least_waste"}

func autoscalerSchema() schema.SingleNestedAttribute {
	return schema.SingleNestedAttribute{
		Optional: true,
		MarkdownDescription: "DOKS's cluster autoscaler configuration, for the autoscaled pools (`max_nodes`): what decides how long an " +
			"idle node, a GPU node above all, keeps costing money. Each setting is managed when set, changed in place, and " +
			"shows as drift when changed outside Terraform; a setting left unset (or the whole block) keeps DigitalOcean's " +
			"value (the autoscaler's defaults: threshold 0.5, 10 minutes).",
		Attributes: map[string]schema.Attribute{
			"scale_down_utilization_threshold": schema.Float64Attribute{
				Optional: true,
				MarkdownDescription: "A node whose pods request less than this share of its capacity (GPU nodes: of their GPUs) " +
					"is a scale-down candidate, between 0 and 1.",
				Validators: []validator.Float64{float64validator.Between(0, 1)},
			},
			"scale_down_unneeded_time": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "How long a candidate stays unneeded before the autoscaler removes it, a duration such as " +
					"`5m` or `1h30m`. Equal durations (`5m`, `5m0s`) are the same value.",
				Validators: []validator.String{durationValidator{}},
			},
			"expanders": schema.ListAttribute{
				Optional:    true,
				ElementType: types.StringType,
				MarkdownDescription: "How the autoscaler picks the pool to grow, tried in order: `least_waste` (the pool whose " +
					"node leaves the least capacity idle), `priority` (a priority ConfigMap in the cluster) or `random`.",
				// Duplicates are refused by the planner (autoscalerExpandersOnce),
				// naming the attribute.
				Validators: []validator.List{listvalidator.SizeAtLeast(1),
					listvalidator.ValueStringsAre(stringvalidator.OneOf(autoscalerExpanders...))},
			},
		},
	}
}

// durationValidator accepts a non-negative duration such as "5m" or
// "1h30m" (what the cluster autoscaler parses).
type durationValidator struct{}

func (durationValidator) Description(context.Context) string {
	return "must be a duration such as 5m, 90s or 1h30m"
}

func (v durationValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v durationValidator) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	s := req.ConfigValue.ValueString()
	if d, err := time.ParseDuration(s); err != nil || d < 0 {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid duration", fmt.Sprintf("%s = %q %s.", req.Path, s, v.Description(ctx)))
	}
}

func (a *autoscalerModel) toSpec() *stack.AutoscalerConfig {
	if a == nil {
		return nil
	}
	out := &stack.AutoscalerConfig{ScaleDownUnneededTime: a.ScaleDownUnneededTime.ValueString(), Expanders: valueStrings(a.Expanders)}
	if t := a.ScaleDownUtilizationThreshold; !t.IsNull() && !t.IsUnknown() {
		out.ScaleDownUtilizationThreshold = t.ValueFloat64Pointer()
	}
	return out
}

// observeAutoscaler overlays the cluster's values on the settings the
// configuration manages (prior's non-null ones); unmanaged ones stay null.
// A time equal as a duration keeps its configured spelling.
func observeAutoscaler(prior *autoscalerModel, cur *stack.AutoscalerConfig) *autoscalerModel {
	if prior == nil {
		return nil
	}
	if cur == nil {
		cur = &stack.AutoscalerConfig{}
	}
	out := *prior
	if !prior.ScaleDownUtilizationThreshold.IsNull() {
		out.ScaleDownUtilizationThreshold = types.Float64PointerValue(cur.ScaleDownUtilizationThreshold)
	}
	if t := prior.ScaleDownUnneededTime; !t.IsNull() && !stack.SameDuration(t.ValueString(), cur.ScaleDownUnneededTime) {
		out.ScaleDownUnneededTime = types.StringValue(cur.ScaleDownUnneededTime)
		if cur.ScaleDownUnneededTime == "" {
			out.ScaleDownUnneededTime = types.StringNull()
		}
	}
	if prior.Expanders != nil {
		out.Expanders = stringValues(cur.Expanders)
	}
	return &out
}

// importedAutoscaler is the block a configuration describing cur has: the
// settings DigitalOcean reports, nil when it reports none.
func importedAutoscaler(cur *stack.AutoscalerConfig) *autoscalerModel {
	if cur == nil {
		return nil
	}
	return &autoscalerModel{
		ScaleDownUtilizationThreshold: types.Float64PointerValue(cur.ScaleDownUtilizationThreshold),
		ScaleDownUnneededTime:         nullIfEmpty(cur.ScaleDownUnneededTime),
		Expanders:                     nilIfEmpty(cur.Expanders),
	}
}

func nullIfEmpty(s string) types.String {
	if s == "" {
		return types.StringNull()
	}
	return types.StringValue(s)
}

// autoscalerExpandersOnce refuses an expander listed twice.
func (p *planner) autoscalerExpandersOnce(c *clusterModel) {
	if c.Autoscaler == nil {
		return
	}
	seen := map[string]bool{}
	for _, e := range c.Autoscaler.Expanders {
		if e.IsUnknown() || e.IsNull() {
			continue
		}
		if seen[e.ValueString()] {
			p.attrError(path.Root("cluster").AtName("cluster_autoscaler_configuration").AtName("expanders"), "Expander listed twice",
				fmt.Sprintf("%q appears more than once; the autoscaler tries expanders in order, so list each once.", e.ValueString()))
			return
		}
		seen[e.ValueString()] = true
	}
}

// The kubeconfig's token lifetime, in seconds: by default DigitalOcean's
// own (seven days); at least an hour, so that a token fetched at the end of
// an apply outlives the run that uses it; at most what DigitalOcean accepts
// (maxK8sCredentialExpiry).
const (
	defaultKubeconfigExpiry = int64(stack.KubeconfigLifetime / time.Second)
	minKubeconfigExpiry     = 3600
)

func kubeconfigExpirySchema() schema.Int64Attribute {
	return schema.Int64Attribute{
		Optional: true, Computed: true, Default: int64default.StaticInt64(defaultKubeconfigExpiry),
		MarkdownDescription: fmt.Sprintf("Lifetime of the token in `kubeconfig`, in seconds (DigitalOcean's `expiry_seconds`), "+
			"from `%d` (an hour) to `%d`. Default `%d` (7 days). Refresh fetches a new token when less than half the "+
			"lifetime (at most 2 days) remains, so a run (plan, approval, apply) shorter than that always finds a working "+
			"token; changing it fetches a new kubeconfig in place.\n\n"+
			"Terraform Cloud (and any remote runner): the kubeconfig lives in a state stored outside your account, and each "+
			"run starts from it. Choose the shortest lifetime whose half covers your longest run including the wait for "+
			"approval, e.g. `86400` (a day: runs up to 12 hours); or set `store_secrets = false` and give each run its own "+
			"short-lived token with the `attach_kubernetes_credentials` ephemeral resource.",
			minKubeconfigExpiry, maxK8sCredentialExpiry, defaultKubeconfigExpiry),
		Validators: []validator.Int64{int64validator.Between(minKubeconfigExpiry, maxK8sCredentialExpiry)},
	}
}

// kubeconfigExpiry is the lifetime status's kubeconfig was fetched with,
// in seconds (the default when it was fetched before it was recorded).
func kubeconfigExpiry(c *stack.ClusterStatus) types.Int64 {
	if c == nil || c.KubeconfigLifetime == 0 {
		return types.Int64Value(defaultKubeconfigExpiry)
	}
	return types.Int64Value(int64(c.KubeconfigLifetime / time.Second))
}
