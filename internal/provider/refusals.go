package provider

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
)

// What DigitalOcean refuses, checked at plan time so that a configuration
// it would refuse never gets as far as a write.

// maxFirewallRules is DigitalOcean's limit on the trusted sources of one
// database cluster (it answers 422 to a rule set above it).
const maxFirewallRules = 100

// valkeyUsersRefusal is DigitalOcean's answer to a user create on a Valkey
// cluster, and what to do instead.
const valkeyUsersRefusal = "User management is not supported for Caching or Valkey clusters: Valkey has only its default user " +
	"(its password is the database's own). Remove the user, or use a PostgreSQL, MySQL or MongoDB database."

// trustedSourceValidator refuses an ip_addr trusted source DigitalOcean
// would refuse: a value that is no IP address or CIDR, or an IPv6 one.
type trustedSourceValidator struct{}

func (trustedSourceValidator) Description(context.Context) string {
	return "an ip_addr trusted source is an IPv4 address or CIDR"
}

func (v trustedSourceValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (trustedSourceValidator) ValidateObject(ctx context.Context, req validator.ObjectRequest, resp *validator.ObjectResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	var rule ruleModel
	resp.Diagnostics.Append(req.ConfigValue.As(ctx, &rule, basetypes.ObjectAsOptions{})...)
	if resp.Diagnostics.HasError() || !known(rule.Type) || !known(rule.Value) || rule.Type.ValueString() != "ip_addr" {
		return
	}
	at := req.Path.AtName("value")
	if summary, detail := checkIPv4Source(rule.Value.ValueString()); summary != "" {
		resp.Diagnostics.AddAttributeError(at, summary, detail+"\n\nAttribute: "+at.String())
	}
}

// checkIPv4Source returns a summary and detail when DigitalOcean would
// refuse v as an ip_addr trusted source, nothing when it accepts it.
func checkIPv4Source(v string) (summary, detail string) {
	var addr netip.Addr
	if prefix, err := netip.ParsePrefix(v); err == nil {
		addr = prefix.Addr()
	} else if a, err := netip.ParseAddr(v); err == nil {
		addr = a
	} else {
		return "Invalid address", fmt.Sprintf("%q is neither an IP address nor a CIDR. Use an IPv4 address such as 203.0.113.10 or a CIDR block such as 203.0.113.0/24.", v)
	}
	if !addr.Is4() {
		return "IPv6 trusted source", fmt.Sprintf("%q is an IPv6 address: DigitalOcean refuses IPv6 trusted sources (\"You cannot add IPv6 addresses as trusted sources\"). Use IPv4 addresses or CIDR blocks.", v)
	}
	return "", ""
}

// firewallRuleKey identifies a rule as DigitalOcean does: by type and value.
type firewallRuleKey struct{ typ, value string }

// distinctRules is the set of known rules in sources (duplicates are one
// rule: the firewall holds each type and value once).
func distinctRules(sources []ruleModel) map[firewallRuleKey]bool {
	set := map[firewallRuleKey]bool{}
	for _, r := range sources {
		if known(r.Type) && known(r.Value) {
			set[firewallRuleKey{r.Type.ValueString(), r.Value.ValueString()}] = true
		}
	}
	return set
}

// tooManyRules is the error detail when a database would hold more than
// DigitalOcean's 100 rules; empty when it fits.
func tooManyRules(database string, configured, added, foreign int, fix string) string {
	total := configured + added + foreign
	if total <= maxFirewallRules {
		return ""
	}
	var parts []string
	if configured > 0 {
		parts = append(parts, fmt.Sprintf("%d configured trusted sources", configured))
	}
	if added > 0 {
		parts = append(parts, fmt.Sprintf("%d for the cluster (its k8s rule)", added))
	}
	if foreign > 0 {
		parts = append(parts, fmt.Sprintf("%d already on the database from outside this configuration", foreign))
	}
	return fmt.Sprintf("Database %s would have %d firewall rules (%s); DigitalOcean allows %d per database. %s",
		database, total, strings.Join(parts, ", "), maxFirewallRules, fix)
}
