package provider

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
	"github.com/hashicorp/terraform-plugin-log/tflog"
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

// ---- connection budget of PostgreSQL pools ----

// pgPoolBudget is how many backend connections the PgBouncer pools of a
// PostgreSQL database of size may hold together. DigitalOcean: "Clusters
// provide 25 connections per 1 GiB of RAM. 3 connections per cluster are
// reserved for maintenance, and all remaining connections can be allocated
// to connection pools" (docs.digitalocean.com/products/databases/postgresql/
// how-to/manage-connection-pools/). /v2/databases/options lists sizes by
// slug only, so the RAM is read from the slug, which ends in it
// ("db-s-2vcpu-4gb", "gd-8vcpu-32gb", "so1_5-2vcpu-16gb"). false when the
// slug carries no RAM (a plan's size DigitalOcean would name differently).
func pgPoolBudget(size string) (int, bool) {
	last := size[strings.LastIndexByte(size, '-')+1:]
	gib, err := strconv.Atoi(strings.TrimSuffix(last, "gb"))
	if err != nil || !strings.HasSuffix(last, "gb") || gib <= 0 {
		return 0, false
	}
	return 25*gib - 3, true
}

// poolUse is one pool's share of a database's connection budget.
type poolUse struct {
	name string
	size int
}

// poolBudgetDetail explains a pool set over budget: what each pool takes,
// and a size (of those offered to nodes nodes) that would hold them.
func poolBudgetDetail(database, size string, budget int, planned []poolUse, foreign int, offered []string, fix string) string {
	total := foreign
	var parts []string
	for _, u := range planned {
		total += u.size
		parts = append(parts, fmt.Sprintf("%s %d", u.name, u.size))
	}
	if foreign > 0 {
		parts = append(parts, fmt.Sprintf("%d by pools created outside this configuration", foreign))
	}
	detail := fmt.Sprintf("Database %s (%s) has %d backend connections for its connection pools (DigitalOcean gives PostgreSQL 25 per GiB of RAM, less 3 it reserves); "+
		"these pools would take %d: %s. DigitalOcean refuses a pool beyond that. %s", database, size, budget, total, strings.Join(parts, ", "), fix)
	if larger := smallestSizeFor(total, offered); larger != "" {
		b, _ := pgPoolBudget(larger)
		detail += fmt.Sprintf(" A larger size holds them: %s allows %d.", larger, b)
	}
	return detail
}

// smallestSizeFor is the offered size with the smallest budget that still
// holds need connections ("" when none does).
func smallestSizeFor(need int, offered []string) string {
	best, bestBudget := "", 0
	for _, s := range offered {
		if b, ok := pgPoolBudget(s); ok && b >= need && (best == "" || b < bestBudget) {
			best, bestBudget = s, b
		}
	}
	return best
}

// poolsOverBudget checks the pools of one database, in the order the
// engine writes them (creates and updates by name, then deletes: a pool
// being removed still holds its connections while the others are
// written). current are the sizes the database's pools have now (nil for
// a database not created yet), planned the sizes wanted, and foreign the
// connections of pools others manage. It returns the pool whose write
// DigitalOcean would refuse and whether the final set fits at all.
func poolsOverBudget(budget int, current, planned map[string]int, foreign int) (refused string, finalFits bool) {
	used := foreign
	final := foreign
	for _, n := range current {
		used += n
	}
	for _, n := range planned {
		final += n
	}
	for _, name := range sortedKeys(planned) {
		others := used - current[name]
		if others+planned[name] > budget {
			return name, final <= budget
		}
		used = others + planned[name]
	}
	return "", true
}

// poolBudget refuses pools a PostgreSQL database cannot hold: the stack's
// pools (their sizes as planned) plus the pools others made on a database
// that exists (read, never written, when the stack's share grows).
func (p *planner) poolBudget(key string, at path.Path, d, prior *databaseModel, engine, size, dbID string, offered []string) {
	if engine != "pg" || len(d.Pools) == 0 || size == "" {
		return
	}
	budget, ok := pgPoolBudget(size)
	if !ok {
		return
	}
	planned := map[string]int{}
	for name, pool := range d.Pools {
		if !known(pool.Size) {
			return
		}
		planned[name] = int(pool.Size.ValueInt64())
	}
	samePlace := prior != nil && prior.ExistingID.Equal(d.ExistingID) && prior.Size.ValueString() == size
	if samePlace && !p.poolsGrow(planned, prior) {
		return // nothing asks for more connections than the database gives now
	}
	var current map[string]int
	foreign := 0
	if dbID != "" {
		current = map[string]int{}
		managed := map[string]bool{}
		if prior != nil && prior.ExistingID.Equal(d.ExistingID) {
			for name := range prior.Pools {
				managed[name] = true
			}
		}
		pools, ok := p.remotePools(dbID)
		if !ok {
			return // apply reports what DigitalOcean says
		}
		for _, rp := range pools {
			switch _, wanted := planned[rp.Name]; {
			case wanted || managed[rp.Name]:
				current[rp.Name] = rp.Size
			default:
				foreign += rp.Size
			}
		}
	}
	refused, finalFits := poolsOverBudget(budget, current, planned, foreign)
	if refused == "" {
		return
	}
	var uses []poolUse
	for _, name := range sortedKeys(planned) {
		uses = append(uses, poolUse{name, planned[name]})
	}
	fix := fmt.Sprintf("Lower the pool sizes to total at most %d.", budget-foreign)
	if finalFits {
		fix = "The pools fit once the ones removed from the configuration are gone, but those are deleted after the others are written: " +
			"remove them (or shrink pools) in one apply, then grow or add the others in the next."
	}
	p.attrError(at.AtName("pools").AtMapKey(refused).AtName("size"), "Connection pools over the database's budget",
		poolBudgetDetail(key, size, budget, uses, foreign, offered, fix))
}

// poolsGrow reports whether the planned pools ask for a connection the
// prior ones did not have: a new pool or a larger one.
func (p *planner) poolsGrow(planned map[string]int, prior *databaseModel) bool {
	for name, n := range planned {
		pp := prior.Pools[name]
		if pp == nil || !known(pp.Size) || int64(n) > pp.Size.ValueInt64() {
			return true
		}
	}
	return false
}

func (p *planner) remotePools(id string) ([]godo.DatabasePool, bool) {
	if p.api == nil {
		return nil, false
	}
	pools, _, err := p.api.Databases.ListPools(p.ctx, id, &godo.ListOptions{PerPage: 200})
	if err != nil {
		tflog.Debug(p.ctx, "Plan: pools of the database not readable; DigitalOcean checks the connection budget at apply", map[string]any{"database_id": id, "error": err.Error()})
		return nil, false
	}
	return pools, true
}

// layoutSizes lists the sizes an engine offers for nodes nodes.
func layoutSizes(eo godo.DatabaseEngineOptions, nodes int) []string {
	for _, l := range eo.Layouts {
		if l.NodeNum == nodes {
			return l.Sizes
		}
	}
	return nil
}

// ---- Kubernetes upgrades: one minor at a time ----

// k8sMinor returns (1, 33) for "1.33.1-do.0" or "1.33".
func k8sMinor(slug string) (major, minor int, ok bool) {
	parts := strings.SplitN(slug, ".", 3)
	if len(parts) < 2 {
		return 0, 0, false
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(strings.SplitN(parts[1], "-", 2)[0])
	return major, minor, err1 == nil && err2 == nil
}

// upgradeReachable refuses a version more than one minor ahead of the one
// the cluster runs: DOKS upgrades one minor at a time (GET
// /v2/kubernetes/clusters/{id}/upgrades lists the next minor at most), so
// the upgrade would fail at apply. It names what is reachable now.
func (p *planner) upgradeReachable(at path.Path, clusterID, current, target, prefix string) {
	curMajor, curMinor, ok1 := k8sMinor(current)
	major, minor, ok2 := k8sMinor(target)
	if !ok1 || !ok2 || major != curMajor || minor <= curMinor+1 {
		return
	}
	reachable := p.reachableVersions(clusterID, current)
	next := fmt.Sprintf("%d.%d", curMajor, curMinor+1)
	detail := fmt.Sprintf("The cluster runs %s and version %q resolves to %s, %d minor versions ahead; DOKS upgrades one minor version at a time. ",
		current, prefix, target, minor-curMinor)
	if len(reachable) > 0 {
		detail += "Reachable now: " + strings.Join(reachable, ", ") + ". "
	} else {
		detail += fmt.Sprintf("No upgrade is reachable now (DOKS offers none from %s). ", current)
	}
	detail += fmt.Sprintf("Set version = %q and apply, then raise it one minor at a time up to %q.", next, majorMinor([]string{target}))
	p.attrError(at, "Kubernetes upgrade skips a minor version", detail)
}

// reachableVersions lists the versions the cluster can upgrade to now, as
// DOKS reports them; from the offered versions (newer, at most one minor
// ahead) when the cluster cannot be read.
func (p *planner) reachableVersions(clusterID, current string) []string {
	if p.api != nil && clusterID != "" {
		ups, _, err := p.api.Kubernetes.GetUpgrades(p.ctx, clusterID)
		if err == nil {
			var out []string
			for _, v := range ups {
				out = append(out, v.Slug)
			}
			return out
		}
		tflog.Debug(p.ctx, "Plan: the cluster's upgrades not readable; listing them from the offered versions", map[string]any{"cluster_id": clusterID, "error": err.Error()})
	}
	curMajor, curMinor, _ := k8sMinor(current)
	var out []string
	for _, v := range p.opts.Kubernetes.Versions {
		major, minor, ok := k8sMinor(v.Slug)
		if ok && major == curMajor && minor <= curMinor+1 && compareVersionSlugs(v.Slug, current) > 0 {
			out = append(out, v.Slug)
		}
	}
	return out
}

// ---- attached databases on another VPC ----

// stackVPC is the VPC the stack's cluster is (or will be) on: known
// reports whether the plan knows, creates whether the stack makes a new
// one (no database can be on it yet).
func (p *planner) stackVPC() (id string, creates, isKnown bool) {
	switch {
	case p.config != nil && p.config.VPCID.IsUnknown():
		return "", false, false
	case p.config != nil && known(p.config.VPCID):
		return p.config.VPCID.ValueString(), false, true
	case known(p.plan.VPCID) && p.plan.VPCID.ValueString() != "":
		return p.plan.VPCID.ValueString(), false, true
	case p.state == nil:
		return "", true, true
	}
	return "", false, false
}

// sameVPC refuses an attached database that is not on the stack's VPC: the
// cluster could not reach its private host, and apply would stop there.
func (p *planner) sameVPC(at path.Path, db *godo.Database) {
	vpc, creates, isKnown := p.stackVPC()
	if !isKnown || db == nil || db.PrivateNetworkUUID == vpc {
		return
	}
	where := fmt.Sprintf("the stack's cluster is on VPC %s", vpc)
	if creates {
		where = "the stack creates a VPC of its own (vpc_id is unset), which no existing database is on"
	}
	p.attrError(at.AtName("existing_id"), "Attached database on another VPC",
		fmt.Sprintf("Database %s (%s) is on VPC %s, and %s: the cluster could not reach its private host. "+
			"Set vpc_id = %q to build the stack in the database's VPC, or attach a database on the stack's VPC.",
			db.Name, db.ID, db.PrivateNetworkUUID, where, db.PrivateNetworkUUID))
}
