package provider

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/digitalocean/godo"

	"github.com/attach-labs/terraform-provider-attach/internal/stack"
)

// Kubernetes credentials expiry bounds, in seconds: the default is the one
// hour the issue asks for (DigitalOcean's own default is seven days), the
// most is what DigitalOcean accepts for expiry_seconds (ten years, as the
// emulator enforces), and the least leaves a plan and an apply time to use it.
const (
	defaultK8sCredentialExpiry = 3600
	minK8sCredentialExpiry     = 60
	maxK8sCredentialExpiry     = 10 * 365 * 24 * 3600
)

var (
	_ ephemeral.EphemeralResourceWithConfigure      = (*kubernetesCredentialsEphemeral)(nil)
	_ ephemeral.EphemeralResourceWithValidateConfig = (*kubernetesCredentialsEphemeral)(nil)
)

// NewKubernetesCredentialsEphemeral is ephemeral "attach_kubernetes_credentials":
// a DOKS cluster's API host, CA and a short-lived token, for the kubernetes
// and helm providers, that never reach state or plan files.
func NewKubernetesCredentialsEphemeral() ephemeral.EphemeralResource {
	return &kubernetesCredentialsEphemeral{}
}

type kubernetesCredentialsEphemeral struct{ client *Client }

type kubernetesCredentialsModel struct {
	StackName            types.String `tfsdk:"stack_name"`
	ClusterID            types.String `tfsdk:"cluster_id"`
	ExpirySeconds        types.Int64  `tfsdk:"expiry_seconds"`
	Host                 types.String `tfsdk:"host"`
	ClusterCACertificate types.String `tfsdk:"cluster_ca_certificate"`
	Token                types.String `tfsdk:"token"`
	ExpiresAt            types.String `tfsdk:"expires_at"`
}

func (e *kubernetesCredentialsEphemeral) Metadata(_ context.Context, req ephemeral.MetadataRequest, resp *ephemeral.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_kubernetes_credentials"
}

func (e *kubernetesCredentialsEphemeral) Schema(_ context.Context, _ ephemeral.SchemaRequest, resp *ephemeral.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Credentials for a DOKS cluster's Kubernetes API: its host, CA certificate and a short-lived bearer " +
			"token (DigitalOcean's `expiry_seconds`), ready for the `kubernetes` and `helm` provider blocks. An ephemeral resource " +
			"(Terraform 1.10+, OpenTofu 1.11+): the values are read at every plan and apply and never written to state or plan " +
			"files, so no long-lived kubeconfig needs to exist anywhere.\n\n" +
			"Look the cluster up by `stack_name` (an `attach_inference_stack`, e.g. from another workspace) or by `cluster_id`. " +
			"In the configuration that creates the stack, use `cluster_id = attach_inference_stack.<name>.cluster_id`: it is " +
			"unknown until the cluster exists, so Terraform opens the credentials only once it does.",
		Attributes: map[string]schema.Attribute{
			"stack_name": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "Name of the `attach_inference_stack` whose cluster to connect to. Exactly one of `stack_name` and `cluster_id`.",
				Validators: []validator.String{
					stringvalidator.RegexMatches(stackNamePattern, "must be a stack name: 3-40 lowercase letters, digits and dashes"),
				},
			},
			"cluster_id": schema.StringAttribute{
				Optional:            true,
				Computed:            true,
				MarkdownDescription: "Id of the DOKS cluster. Exactly one of `stack_name` and `cluster_id`; with `stack_name`, the stack's cluster.",
				Validators:          []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"expiry_seconds": schema.Int64Attribute{
				Optional: true,
				Computed: true,
				MarkdownDescription: fmt.Sprintf("How long the token is valid, in seconds, from when it is read. Default `%d` "+
					"(one hour); from `%d` to `%d`.", defaultK8sCredentialExpiry, minK8sCredentialExpiry, maxK8sCredentialExpiry),
				Validators: []validator.Int64{int64validator.Between(minK8sCredentialExpiry, maxK8sCredentialExpiry)},
			},
			"host": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The cluster's Kubernetes API URL, for the `host` argument of the kubernetes and helm providers.",
			},
			"cluster_ca_certificate": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The cluster's CA certificate, PEM-encoded (already decoded from base64), for `cluster_ca_certificate`.",
			},
			"token": schema.StringAttribute{
				Computed:            true,
				Sensitive:           true,
				MarkdownDescription: "A bearer token for the cluster that expires at `expires_at`.",
			},
			"expires_at": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "When `token` expires (RFC 3339, UTC).",
			},
		},
	}
}

func (e *kubernetesCredentialsEphemeral) Configure(_ context.Context, req ephemeral.ConfigureRequest, resp *ephemeral.ConfigureResponse) {
	e.client = clientFrom(req.ProviderData, resp.Diagnostics.AddError)
}

// ValidateConfig: exactly one of stack_name and cluster_id (an unknown value
// counts as set: it will be).
func (e *kubernetesCredentialsEphemeral) ValidateConfig(ctx context.Context, req ephemeral.ValidateConfigRequest, resp *ephemeral.ValidateConfigResponse) {
	var cfg kubernetesCredentialsModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	switch stackSet, idSet := !cfg.StackName.IsNull(), !cfg.ClusterID.IsNull(); {
	case stackSet && idSet:
		resp.Diagnostics.AddAttributeError(path.Root("cluster_id"), "Both stack_name and cluster_id are set",
			"attach_kubernetes_credentials looks the cluster up by stack_name or by cluster_id, not both: remove one of them.")
	case !stackSet && !idSet:
		resp.Diagnostics.AddAttributeError(path.Root("stack_name"), "Missing stack_name or cluster_id",
			"attach_kubernetes_credentials needs the cluster to connect to: set stack_name (an attach_inference_stack's name) "+
				"or cluster_id (a DOKS cluster id).")
	}
}

func (e *kubernetesCredentialsEphemeral) Open(ctx context.Context, req ephemeral.OpenRequest, resp *ephemeral.OpenResponse) {
	if e.client == nil {
		resp.Diagnostics.AddError("Provider not configured", "The attach provider was not configured before opening attach_kubernetes_credentials.")
		return
	}
	ctx = e.client.LogContext(ctx)
	var data kubernetesCredentialsModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &data)...)
	if resp.Diagnostics.HasError() {
		return
	}
	api := e.client.Godo

	clusterID := data.ClusterID.ValueString()
	if name := data.StackName.ValueString(); name != "" {
		_, st, err := stack.New(api).Discover(ctx, name)
		if errors.Is(err, stack.ErrNoStack) {
			resp.Diagnostics.AddAttributeError(path.Root("stack_name"), "Stack not found",
				fmt.Sprintf("%v. Check the name, and that the token can see the stack's project; in the configuration that "+
					"creates the stack, use cluster_id = attach_inference_stack.<name>.cluster_id instead.", err))
			return
		}
		if err != nil {
			resp.Diagnostics.AddError("Reading stack "+name+" failed", err.Error())
			return
		}
		if st.Cluster == nil || st.Cluster.ID == "" {
			resp.Diagnostics.AddAttributeError(path.Root("stack_name"), "Stack has no cluster",
				fmt.Sprintf("Stack %s has no DOKS cluster (it may be between a cluster's delete and its replacement's create): "+
					"apply the stack, then try again.", name))
			return
		}
		clusterID = st.Cluster.ID
	}

	expiry := int64(defaultK8sCredentialExpiry)
	if !data.ExpirySeconds.IsNull() && !data.ExpirySeconds.IsUnknown() {
		expiry = data.ExpirySeconds.ValueInt64()
	}
	seconds := int(expiry)
	tflog.Debug(ctx, "reading Kubernetes credentials", map[string]any{"cluster_id": clusterID, "expiry_seconds": seconds})
	creds, _, err := api.Kubernetes.GetCredentials(ctx, clusterID, &godo.KubernetesClusterCredentialsGetRequest{ExpirySeconds: &seconds})
	if IsNotFound(err) {
		at := path.Root("cluster_id")
		if !data.StackName.IsNull() {
			at = path.Root("stack_name")
		}
		resp.Diagnostics.AddAttributeError(at, "Cluster not found",
			fmt.Sprintf("DOKS cluster %s does not exist (404): check the id, or that the token's team owns it.", clusterID))
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Reading Kubernetes credentials failed", APIError("reading the credentials of cluster "+clusterID, err))
		return
	}
	if creds.Token == "" {
		resp.Diagnostics.AddError("Cluster credentials carry no token",
			fmt.Sprintf("DigitalOcean answered cluster %s's credentials without a bearer token (a cluster that authenticates "+
				"with client certificates only?): attach_kubernetes_credentials gives token credentials only.", clusterID))
		return
	}
	ctx = tflog.MaskAllFieldValuesStrings(ctx, creds.Token)
	ctx = tflog.MaskMessageStrings(ctx, creds.Token)

	data.ClusterID = types.StringValue(clusterID)
	data.ExpirySeconds = types.Int64Value(expiry)
	data.Host = types.StringValue(creds.Server)
	data.ClusterCACertificate = types.StringValue(string(creds.CertificateAuthorityData))
	data.Token = types.StringValue(creds.Token)
	data.ExpiresAt = types.StringValue(creds.ExpiresAt.UTC().Format(time.RFC3339))
	tflog.Info(ctx, "opened Kubernetes credentials", map[string]any{"cluster_id": clusterID, "expires_at": data.ExpiresAt.ValueString()})
	resp.Diagnostics.Append(resp.Result.Set(ctx, &data)...)
}
