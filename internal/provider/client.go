package provider

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/go-retryablehttp"
	"github.com/hashicorp/terraform-plugin-log/tflog"
	"golang.org/x/oauth2"

	"github.com/attach-labs/terraform-provider-attach/internal/stack"
)

// DefaultAPIEndpoint is DigitalOcean's public API.
const DefaultAPIEndpoint = "https://api.digitalocean.com"

// Retry defaults: enough to ride out a rate-limit window or a short outage
// without hiding a persistent failure for minutes.
const (
	DefaultRetryMax     = 5
	DefaultRetryWaitMin = 1 * time.Second
	DefaultRetryWaitMax = 30 * time.Second
)

// ClientConfig is what the provider block resolves to.
type ClientConfig struct {
	Token        string
	APIEndpoint  string
	RetryMax     int
	RetryWaitMin time.Duration
	RetryWaitMax time.Duration
	// UserAgent names the provider, its version and the Terraform version.
	UserAgent string
	// TokenSource and EndpointSource say where Token and APIEndpoint came
	// from (the provider block, which environment variable, the default),
	// so a rejected token or an unreachable endpoint is fixed there.
	TokenSource    string
	EndpointSource string
}

// Client is the one configured DigitalOcean client shared by every resource
// and data source of a provider instance.
type Client struct {
	Godo     *godo.Client
	Endpoint string
	// Poll, when set, overrides how the stack engine polls (tests).
	Poll *stack.PollConfig
	// FirewallSettle, when set, overrides how long a firewall edit waits
	// before checking no concurrent writer undid it (default: adaptive).
	FirewallSettle time.Duration

	token         string
	options       optionsCache
	firewallLocks stack.FirewallLocks
	watcher       stack.Watcher
	clock         apiClock
	// stateOwners are the stack identities read from this run's own state
	// (inference_stack_ownership.go).
	stateOwners stateOwners
	// replacements hold the stacks whose replacement's destroy half kept
	// their data, for the create half to adopt (inference_stack_ownership.go).
	replacements replacements
}

// PollConfig is how the stack engine and the replica resource wait: the
// test override, or the default in the API's own time.
func (c *Client) PollConfig() stack.PollConfig {
	if c.Poll != nil {
		return *c.Poll
	}
	p := stack.DefaultPoll
	p.Scale = c.clock.scale
	return p
}

// firewallSettle is the override, or 0: adapt to the API's latency.
func (c *Client) firewallSettle() time.Duration { return c.FirewallSettle }

// NewClient builds a godo client with godo's own retry support (go-retryablehttp
// underneath), and replaces its backoff with one that honours DigitalOcean's
// rate-limit headers on 429 and adds jitter on 5xx, so parallel applies
// hitting the same outage do not retry in lockstep.
func NewClient(cfg ClientConfig) (*Client, error) {
	if cfg.Token == "" {
		return nil, errors.New("no DigitalOcean API token")
	}
	endpoint := cfg.APIEndpoint
	if endpoint == "" {
		endpoint = DefaultAPIEndpoint
	}
	if err := validateEndpoint(endpoint); err != nil {
		return nil, err
	}
	if cfg.RetryWaitMin <= 0 {
		cfg.RetryWaitMin = DefaultRetryWaitMin
	}
	if cfg.RetryWaitMax <= 0 {
		cfg.RetryWaitMax = DefaultRetryWaitMax
	}
	if cfg.RetryWaitMax < cfg.RetryWaitMin {
		return nil, fmt.Errorf("retry wait max (%s) is below retry wait min (%s)", cfg.RetryWaitMax, cfg.RetryWaitMin)
	}

	httpClient := oauth2.NewClient(context.Background(), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: cfg.Token}))
	httpClient.Timeout = 2 * time.Minute

	opts := []godo.ClientOpt{godo.SetBaseURL(endpoint)}
	if cfg.UserAgent != "" {
		opts = append(opts, godo.SetUserAgent(cfg.UserAgent))
	}
	if cfg.RetryMax > 0 {
		opts = append(opts, godo.WithRetryAndBackoffs(godo.RetryConfig{
			RetryMax:     cfg.RetryMax,
			RetryWaitMin: godo.PtrTo(cfg.RetryWaitMin.Seconds()),
			RetryWaitMax: godo.PtrTo(cfg.RetryWaitMax.Seconds()),
		}))
	}
	gc, err := godo.New(httpClient, opts...)
	if err != nil {
		return nil, fmt.Errorf("creating the DigitalOcean client: %w", err)
	}
	if cfg.RetryMax > 0 {
		rc, err := retryableClientOf(gc)
		if err != nil {
			return nil, err
		}
		rc.Backoff = retryBackoff
		// A rejected token or an endpoint that cannot be reached (refused,
		// unresolvable, not TLS, untrusted certificate) fails at once: 20 s
		// of retries cannot fix either.
		godoCheck := rc.CheckRetry
		rc.CheckRetry = func(ctx context.Context, resp *http.Response, err error) (bool, error) {
			if ctx.Err() == nil && finalRequestError(err) {
				return false, err
			}
			return godoCheck(ctx, resp, err)
		}
	}
	c := &Client{Godo: gc, Endpoint: endpoint, token: cfg.Token}
	reach := reachTransport{endpoint: endpoint, endpointSource: cfg.EndpointSource, tokenSource: cfg.TokenSource}
	if reach.endpointSource == "" {
		reach.endpointSource = endpointFromClient
	}
	if reach.tokenSource == "" {
		reach.tokenSource = tokenFromClient
	}
	if err := installLogging(gc, cfg.RetryMax > 0, &pacer{clock: &c.clock}, reach, cfg.RetryWaitMax); err != nil {
		return nil, err
	}
	return c, nil
}

// retryableClientOf reaches the go-retryablehttp client godo wraps in an
// oauth2 transport when retries are enabled.
func retryableClientOf(gc *godo.Client) (*retryablehttp.Client, error) {
	ot, ok := gc.HTTPClient.Transport.(*oauth2.Transport)
	if !ok {
		return nil, fmt.Errorf("unexpected godo transport %T: cannot configure retries", gc.HTTPClient.Transport)
	}
	rt, ok := ot.Base.(*retryablehttp.RoundTripper)
	if !ok || rt.Client == nil {
		return nil, fmt.Errorf("unexpected godo retry transport %T: cannot configure retries", ot.Base)
	}
	return rt.Client, nil
}

func validateEndpoint(endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL such as %s", endpoint, DefaultAPIEndpoint)
	}
	return nil
}

// retryBackoff decides how long to wait before retry attempt (0-based).
//
// On 429 it waits as long as the server asks (Retry-After, else the
// RateLimit-Reset epoch), capped at max. Otherwise it uses exponential
// backoff with full jitter between min and min*2^attempt, capped at max.
func retryBackoff(minWait, maxWait time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil && resp.StatusCode == http.StatusTooManyRequests {
		if d, ok := rateLimitWait(resp.Header, time.Now()); ok {
			return min(max(d, minWait), maxWait)
		}
	}
	ceiling := minWait << min(attempt, 30)
	if ceiling <= 0 || ceiling > maxWait {
		ceiling = maxWait
	}
	if ceiling <= minWait {
		return minWait
	}
	return minWait + rand.N(ceiling-minWait)
}

// rateLimitWait reads how long DigitalOcean asks a client to wait.
func rateLimitWait(h http.Header, now time.Time) (time.Duration, bool) {
	if v := h.Get("Retry-After"); v != "" {
		if secs, err := strconv.ParseFloat(v, 64); err == nil && secs >= 0 {
			return time.Duration(secs * float64(time.Second)), true
		}
		if at, err := http.ParseTime(v); err == nil {
			return max(at.Sub(now), 0), true
		}
	}
	if v := h.Get("Ratelimit-Reset"); v != "" {
		if epoch, err := strconv.ParseInt(v, 10, 64); err == nil {
			return max(time.Unix(epoch, 0).Sub(now), 0), true
		}
	}
	return 0, false
}

// loggingTransport records each HTTP attempt (retries included) at debug
// level: method, path, status and DigitalOcean's request id, never headers or
// bodies, which carry the token and database passwords. It sits below the
// retry layer, where the request still carries the caller's context and so
// tflog's logger and masks.
type loggingTransport struct{ base http.RoundTripper }

func (t loggingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.base.RoundTrip(req)
	fields := map[string]any{"method": req.Method, "path": req.URL.Path, "duration_ms": time.Since(start).Milliseconds()}
	if err != nil {
		fields["error"] = err.Error()
	}
	if resp != nil {
		fields["status"] = resp.StatusCode
		if id := resp.Header.Get("X-Request-Id"); id != "" {
			fields["request_id"] = id
		}
		if rem := resp.Header.Get("Ratelimit-Remaining"); rem != "" {
			fields["ratelimit_remaining"] = rem
		}
	}
	tflog.Debug(req.Context(), "DigitalOcean API request", fields)
	return resp, err
}

// installLogging puts reach (above), the pacer and loggingTransport under
// godo's retry layer (or under the oauth2 transport when retries are off).
func installLogging(gc *godo.Client, retrying bool, p *pacer, reach reachTransport, waitMax time.Duration) error {
	if retrying {
		rc, err := retryableClientOf(gc)
		if err != nil {
			return err
		}
		reach.base = pacingTransport{base: loggingTransport{base: transportOrDefault(rc.HTTPClient.Transport)}, pacer: p, waitOut: true, waitMax: waitMax}
		rc.HTTPClient.Transport = reach
		return nil
	}
	ot, ok := gc.HTTPClient.Transport.(*oauth2.Transport)
	if !ok {
		return fmt.Errorf("unexpected godo transport %T: cannot install request logging", gc.HTTPClient.Transport)
	}
	reach.base = pacingTransport{base: loggingTransport{base: transportOrDefault(ot.Base)}, pacer: p}
	ot.Base = reach
	return nil
}

func transportOrDefault(rt http.RoundTripper) http.RoundTripper {
	if rt == nil {
		return http.DefaultTransport
	}
	return rt
}

// Credentials embedded in a URI ("scheme://user:password@") and bearer
// tokens are masked wherever they appear in a log line.
var (
	uriCredentials = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]+:[^@\s]+@`)
	bearerToken    = regexp.MustCompile(`(?i)bearer\s+[A-Za-z0-9._~+/=-]+`)
)

// secretFieldKeys are log field names whose values are always masked.
var secretFieldKeys = []string{
	"token", "password", "uri", "private_uri", "connection_uri", "kubeconfig",
	"raw_config", "client_key", "client_certificate", "certificate_authority", "authorization",
}

// LogContext returns ctx with every secret this client knows masked in
// tflog output: the API token, values under secret field keys, credentials
// embedded in URIs, and bearer tokens. Every CRUD entry point calls it.
func (c *Client) LogContext(ctx context.Context) context.Context {
	ctx = tflog.MaskFieldValuesWithFieldKeys(ctx, secretFieldKeys...)
	ctx = tflog.MaskAllFieldValuesRegexes(ctx, uriCredentials, bearerToken)
	ctx = tflog.MaskMessageRegexes(ctx, uriCredentials, bearerToken)
	if c != nil && c.token != "" {
		ctx = tflog.MaskAllFieldValuesStrings(ctx, c.token)
		ctx = tflog.MaskMessageStrings(ctx, c.token)
	}
	return ctx
}

// APIError describes a failed DigitalOcean call with the operation and the
// object it concerned, plus the API's own message and request id.
func APIError(operation string, err error) string { return stack.APIError(operation, err).Error() }

// IsNotFound reports whether err is DigitalOcean's 404.
func IsNotFound(err error) bool {
	var er *godo.ErrorResponse
	return errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == http.StatusNotFound
}

// userAgent names the provider and the Terraform that runs it.
func userAgent(version, terraformVersion string) string {
	ua := "terraform-provider-attach/" + version + " (+https://registry.terraform.io/providers/attach-labs/attach) godo/" + godoVersion()
	if terraformVersion != "" {
		ua = "Terraform/" + terraformVersion + " " + ua
	}
	return ua
}

// godoVersion is the godo module version compiled in.
func godoVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "github.com/digitalocean/godo" {
				return strings.TrimPrefix(dep.Version, "v")
			}
		}
	}
	return "unknown"
}
