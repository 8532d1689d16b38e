// Package provider implements the attach Terraform provider: the attach
// architecture on DigitalOcean, GPU compute in DOKS and data in Managed
// Databases, decoupled.
package provider

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"
)

// RegistryAddress is where the provider is published.
const RegistryAddress = "registry.terraform.io/attach-labs/attach"

// Environment variables the provider reads when its block leaves a value out,
// the same ones the official DigitalOcean provider and doctl use.
const (
	EnvToken       = "DIGITALOCEAN_TOKEN"
	EnvAccessToken = "DIGITALOCEAN_ACCESS_TOKEN"
	EnvAPIURL      = "DIGITALOCEAN_API_URL"
)

var (
	_ provider.Provider                       = (*attachProvider)(nil)
	_ provider.ProviderWithEphemeralResources = (*attachProvider)(nil)
)

type attachProvider struct {
	version string
	commit  string
}

type providerModel struct {
	Token            types.String `tfsdk:"token"`
	APIEndpoint      types.String `tfsdk:"api_endpoint"`
	HTTPRetryMax     types.Int64  `tfsdk:"http_retry_max"`
	HTTPRetryWaitMin types.Int64  `tfsdk:"http_retry_wait_min"`
	HTTPRetryWaitMax types.Int64  `tfsdk:"http_retry_wait_max"`
}

// New returns a constructor for the provider at the given build version.
func New(version, commit string) func() provider.Provider {
	return func() provider.Provider { return &attachProvider{version: version, commit: commit} }
}

func (p *attachProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "attach"
	resp.Version = p.version
}

func (p *attachProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "The attach provider stands up the *attach architecture* on DigitalOcean: " +
			"GPU compute in DigitalOcean Kubernetes (DOKS) and data in Managed Databases, decoupled, " +
			"so that replacing a cluster never costs a database.",
		Attributes: map[string]schema.Attribute{
			"token": schema.StringAttribute{
				Optional:  true,
				Sensitive: true,
				MarkdownDescription: "DigitalOcean API token. Falls back to the `" + EnvToken + "` environment variable, " +
					"then `" + EnvAccessToken + "`.",
			},
			"api_endpoint": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Base URL of the DigitalOcean API. Falls back to `" + EnvAPIURL + "`, then `" +
					DefaultAPIEndpoint + "`. Point it at the emulator (`make emulator`) to plan and apply offline.",
			},
			"http_retry_max": schema.Int64Attribute{
				Optional: true,
				MarkdownDescription: fmt.Sprintf("How many times a request is retried after a 5xx, a dropped connection "+
					"or a 429 that does not say when to retry. A 429 with `Retry-After` or `RateLimit-Reset` is waited out "+
					"without using up retries, within the resource's timeout. `0` disables retries. Default `%d`.", DefaultRetryMax),
				Validators: []validator.Int64{int64validator.Between(0, 100)},
			},
			"http_retry_wait_min": schema.Int64Attribute{
				Optional: true,
				MarkdownDescription: fmt.Sprintf("Shortest wait before a retry, in seconds. Default `%d`.",
					int(DefaultRetryWaitMin.Seconds())),
				Validators: []validator.Int64{int64validator.Between(0, 3600)},
			},
			"http_retry_wait_max": schema.Int64Attribute{
				Optional: true,
				MarkdownDescription: fmt.Sprintf("Longest wait before a retry, in seconds; also caps how long a 429's "+
					"`Retry-After` is honoured. Default `%d`.", int(DefaultRetryWaitMax.Seconds())),
				Validators: []validator.Int64{int64validator.Between(1, 3600)},
			},
		},
	}
}

func (p *attachProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var cfg providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}

	for attr, v := range map[string]types.String{"token": cfg.Token, "api_endpoint": cfg.APIEndpoint} {
		if v.IsUnknown() {
			resp.Diagnostics.AddAttributeError(path.Root(attr), "Provider "+attr+" is not known yet",
				"The provider's "+attr+" depends on a value that is only known after apply. Set it from a variable, "+
					"a data source or an environment variable so it is known at plan time.")
		}
	}
	if resp.Diagnostics.HasError() {
		return
	}

	token, tokenSource := firstSet(
		setting{cfg.Token.ValueString(), tokenFromAttribute},
		setting{os.Getenv(EnvToken), tokenFromEnv},
		setting{os.Getenv(EnvAccessToken), tokenFromAccessEnv})
	if token == "" {
		resp.Diagnostics.AddAttributeError(path.Root("token"), "Missing DigitalOcean API token",
			"The provider needs a DigitalOcean API token. Set `token` in the provider block, or export "+
				EnvToken+" (or "+EnvAccessToken+"). Create one at https://cloud.digitalocean.com/account/api/tokens "+
				"with read and write scopes; against the emulator, use the token `make emulator` prints.")
		return
	}
	ctx = tflog.MaskMessageStrings(ctx, token)

	endpoint, endpointSource := firstSet(
		setting{cfg.APIEndpoint.ValueString(), endpointFromAttr},
		setting{os.Getenv(EnvAPIURL), endpointFromEnv},
		setting{DefaultAPIEndpoint, endpointFromDefault})
	if err := validateEndpoint(endpoint); err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("api_endpoint"), "Invalid DigitalOcean API endpoint",
			fmt.Sprintf("api_endpoint (or %s): %v. Use https://api.digitalocean.com, or the URL the emulator printed.", EnvAPIURL, err))
		return
	}

	clientCfg := ClientConfig{
		Token:        token,
		APIEndpoint:  endpoint,
		RetryMax:     DefaultRetryMax,
		RetryWaitMin: DefaultRetryWaitMin,
		RetryWaitMax: DefaultRetryWaitMax,
		UserAgent:    userAgent(p.version, req.TerraformVersion),
		// Where each came from, for the errors a rejected token or an
		// unreachable endpoint produces.
		TokenSource:    tokenSource,
		EndpointSource: endpointSource,
	}
	if !cfg.HTTPRetryMax.IsNull() && !cfg.HTTPRetryMax.IsUnknown() {
		clientCfg.RetryMax = int(cfg.HTTPRetryMax.ValueInt64())
	}
	if !cfg.HTTPRetryWaitMin.IsNull() && !cfg.HTTPRetryWaitMin.IsUnknown() {
		clientCfg.RetryWaitMin = time.Duration(cfg.HTTPRetryWaitMin.ValueInt64()) * time.Second
	}
	if !cfg.HTTPRetryWaitMax.IsNull() && !cfg.HTTPRetryWaitMax.IsUnknown() {
		clientCfg.RetryWaitMax = time.Duration(cfg.HTTPRetryWaitMax.ValueInt64()) * time.Second
	}
	if clientCfg.RetryWaitMax < clientCfg.RetryWaitMin {
		resp.Diagnostics.AddAttributeError(path.Root("http_retry_wait_max"), "Retry wait bounds are inverted",
			fmt.Sprintf("http_retry_wait_max (%s) must be at least http_retry_wait_min (%s); raise the maximum or lower the minimum.",
				clientCfg.RetryWaitMax, clientCfg.RetryWaitMin))
		return
	}
	if clientCfg.RetryWaitMin == 0 {
		// A zero minimum means "retry immediately"; keep a millisecond so
		// the exponential backoff still grows.
		clientCfg.RetryWaitMin = time.Millisecond
	}

	client, err := NewClient(clientCfg)
	if err != nil {
		resp.Diagnostics.AddError("Unable to create the DigitalOcean client", err.Error())
		return
	}
	// A testing knob: how long firewall edits wait before verifying that no
	// concurrent writer undid them (tests shorten it against the emulator).
	if v := os.Getenv("ATTACH_FIREWALL_SETTLE"); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			client.FirewallSettle = d
		}
	}
	tflog.Debug(ctx, "configured DigitalOcean client", map[string]any{
		"api_endpoint": endpoint, "http_retry_max": clientCfg.RetryMax, "provider_commit": p.commit,
	})
	resp.DataSourceData = client
	resp.ResourceData = client
	resp.EphemeralResourceData = client
}

func (p *attachProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{
		NewInferenceStackResource,
		NewDatabaseAttachmentResource,
		NewDatabaseReplicaResource,
	}
}

func (p *attachProvider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{
		NewKubernetesOptionsDataSource,
		NewDatabaseOptionsDataSource,
		NewInferenceStackDataSource,
	}
}

func (p *attachProvider) EphemeralResources(context.Context) []func() ephemeral.EphemeralResource {
	return []func() ephemeral.EphemeralResource{
		NewKubernetesCredentialsEphemeral,
		NewDatabaseCredentialsEphemeral,
	}
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// setting is a value and where it was read from.
type setting struct{ value, source string }

// firstSet is the first non-empty setting's value and source.
func firstSet(settings ...setting) (value, source string) {
	for _, s := range settings {
		if s.value != "" {
			return s.value, s.source
		}
	}
	return "", ""
}

// clientFrom type-asserts provider data in a resource's or data source's
// Configure; nil data (before the provider is configured) is not an error.
func clientFrom(data any, add func(summary, detail string)) *Client {
	if data == nil {
		return nil
	}
	c, ok := data.(*Client)
	if !ok {
		add("Unexpected provider data", fmt.Sprintf("expected *provider.Client, got %T; please report this bug", data))
		return nil
	}
	return c
}
