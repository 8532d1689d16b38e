package provider

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/digitalocean/godo"
	tfjson "github.com/hashicorp/terraform-json"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/echoprovider"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
)

// Ephemeral resources need Terraform 1.10+ or OpenTofu 1.11+, while the
// suite runs under Terraform 1.5.7: each ephemeral-resource test switches
// its own run to the OpenTofu `make tools-ephemeral` builds. The harness
// reads TF_ACC_TERRAFORM_PATH and TF_ACC_PROVIDER_HOST afresh in every
// resource.Test (plugintest.DiscoverConfig, getProviderAddr), and t.Setenv
// restores them when the test ends; these tests are not parallel, so no
// other test runs while they are set.

// EnvTofuEphemeral overrides where the ephemeral-resource tests find OpenTofu.
const EnvTofuEphemeral = "ATTACH_TOFU_EPHEMERAL"

// useEphemeralTofu points this test's Terraform runs at OpenTofu 1.12 (built
// by `make tools-ephemeral`, which `make test` runs first). Without it the
// test skips, except under CI, where it fails.
func useEphemeralTofu(t *testing.T) {
	t.Helper()
	bin := os.Getenv(EnvTofuEphemeral)
	if bin == "" {
		root, err := repoRoot()
		if err != nil {
			t.Fatal(err)
		}
		bin = filepath.Join(root, "bin", "tofu-1.12")
	}
	if fi, err := os.Stat(bin); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		msg := fmt.Sprintf("ephemeral resources need OpenTofu 1.11+ at %s (or %s): run `make tools-ephemeral`", bin, EnvTofuEphemeral)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Setenv("TF_ACC_TERRAFORM_PATH", bin)
	t.Setenv("TF_ACC_PROVIDER_HOST", "registry.opentofu.org")
}

// ephemeralFactories serve the provider and the echo provider, which copies
// an ephemeral value into a managed resource's state for the checks.
func ephemeralFactories() map[string]func() (tfprotov6.ProviderServer, error) {
	return map[string]func() (tfprotov6.ProviderServer, error){
		"attach": providerserver.NewProtocol6WithError(New("test", "test")()),
		"echo":   echoprovider.NewProviderServer(),
	}
}

// ephemeralVersionChecks: what the tests need of the CLI (OpenTofu 1.12
// reports its own version, which is above it).
var ephemeralVersionChecks = []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_10_0)}

type bearer struct{ token string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

// emulatorAPI is a godo client for srv, to read what the API says.
func emulatorAPI(t *testing.T, srv *emulator.Server) *godo.Client {
	t.Helper()
	c, err := godo.New(&http.Client{Timeout: 30 * time.Second, Transport: bearer{srv.Token}}, godo.SetBaseURL(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// echoData is the echo resource's data (the ephemeral values) in req's state.
func echoData(st *tfjson.State, addr string) (map[string]any, error) {
	if st == nil || st.Values == nil || st.Values.RootModule == nil {
		return nil, fmt.Errorf("no state")
	}
	for _, r := range st.Values.RootModule.Resources {
		if r.Address == addr {
			d, ok := r.AttributeValues["data"].(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s.data is %T, not an object", addr, r.AttributeValues["data"])
			}
			return d, nil
		}
	}
	return nil, fmt.Errorf("%s not in state", addr)
}

// ephemeralNotInState checks that none of the named values of the echo
// resource (the ephemeral resource's secrets) appears anywhere in the state
// of the resources under test: every resource but the echo ones.
type ephemeralNotInState struct {
	echo string
	// paths in echo's data: "token", or "reporting.password"
	paths []string
}

func (c ephemeralNotInState) CheckState(_ context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	data, err := echoData(req.State, c.echo)
	if err != nil {
		resp.Error = err
		return
	}
	var secrets []string
	for _, p := range c.paths {
		var v any = data
		for _, k := range strings.Split(p, ".") {
			m, _ := v.(map[string]any)
			v = m[k]
		}
		s, _ := v.(string)
		if s == "" {
			resp.Error = fmt.Errorf("%s.data.%s is empty: the check would prove nothing", c.echo, p)
			return
		}
		secrets = append(secrets, s)
	}
	checked := 0
	for _, r := range req.State.Values.RootModule.Resources {
		if r.Type == "echo" {
			continue
		}
		checked++
		var walk func(at string, v any)
		walk = func(at string, v any) {
			switch x := v.(type) {
			case string:
				for i, s := range secrets {
					if strings.Contains(x, s) {
						resp.Error = fmt.Errorf("ephemeral value %s appears in %s's state at %s", c.paths[i], r.Address, at)
					}
				}
			case map[string]any:
				for k, e := range x {
					walk(at+"."+k, e)
				}
			case []any:
				for i, e := range x {
					walk(fmt.Sprintf("%s[%d]", at, i), e)
				}
			}
		}
		walk("", r.AttributeValues)
	}
	if checked == 0 && resp.Error == nil {
		resp.Error = fmt.Errorf("no resource but echo in state: the check would prove nothing")
	}
}

// The secrets of both ephemeral resources are Sensitive (hidden in plan
// output even where Terraform shows ephemeral values' shapes), and nothing
// else is: hosts and CA certificates are not secret.
func TestEphemeralSchemasMarkSecretsSensitive(t *testing.T) {
	want := map[string][]string{
		"attach_kubernetes_credentials": {"token"},
		"attach_database_credentials":   {"password", "uri", "pool_uri"},
	}
	p := New("test", "test")().(*attachProvider)
	for _, f := range p.EphemeralResources(context.Background()) {
		r := f()
		var meta ephemeral.MetadataResponse
		r.Metadata(context.Background(), ephemeral.MetadataRequest{ProviderTypeName: "attach"}, &meta)
		var sch ephemeral.SchemaResponse
		r.Schema(context.Background(), ephemeral.SchemaRequest{}, &sch)
		if sch.Diagnostics.HasError() {
			t.Fatalf("%s schema: %v", meta.TypeName, sch.Diagnostics)
		}
		secrets, ok := want[meta.TypeName]
		if !ok {
			t.Errorf("unexpected ephemeral resource %s", meta.TypeName)
			continue
		}
		delete(want, meta.TypeName)
		for name, a := range sch.Schema.Attributes {
			if got, should := a.IsSensitive(), slices.Contains(secrets, name); got != should {
				t.Errorf("%s.%s: Sensitive is %t, want %t", meta.TypeName, name, got, should)
			}
		}
		for _, s := range secrets {
			if _, ok := sch.Schema.Attributes[s]; !ok {
				t.Errorf("%s has no attribute %s", meta.TypeName, s)
			}
		}
	}
	for name := range want {
		t.Errorf("%s is not registered in EphemeralResources", name)
	}
}
