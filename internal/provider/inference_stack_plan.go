package provider

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/attach-labs/terraform-provider-attach/internal/stack"
)

// ModifyPlan is where the stack is checked against what DigitalOcean offers
// today and against the rules that keep data safe, before anything is
// touched: unknown versions, sizes a region lacks, engine features an
// engine lacks and overlapping networks are errors naming the attribute;
// deleting a protected database (removal, replacement, destroy) is refused;
// a cluster replacement is announced. It also fills defaults that depend on
// other values and marks what a change will recompute.
func (r *inferenceStackResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if r.client == nil {
		return
	}
	ctx = r.client.LogContext(ctx)

	var state *stackModel
	var status *stack.Status
	if !req.State.Raw.IsNull() {
		state = &stackModel{}
		resp.Diagnostics.Append(req.State.Get(ctx, state)...)
		var diags diag.Diagnostics
		status, diags = loadPrivateStatus(ctx, req.Private)
		resp.Diagnostics.Append(diags...)
		if resp.Diagnostics.HasError() {
			return
		}
	}

	if req.Plan.Raw.IsNull() {
		checkDestroy(state, status, &resp.Diagnostics)
		checkDestroyClaims(state, status, &resp.Diagnostics)
		warnAttachedElsewhere(ctx, r.client.Godo, state, status, &resp.Diagnostics)
		if state != nil {
			warnWorkloadResources(ctx, r.client.Godo, state.ClusterID.ValueString(), clusterNameOf(state, status), "Destroying the stack", keepsWorkloadResources(state), &resp.Diagnostics)
		}
		return
	}

	var plan stackModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	opts, err := r.client.Options(ctx)
	if err != nil {
		resp.Diagnostics.AddError("Unable to read DigitalOcean's live options", err.Error()+
			"\n\nThe plan checks sizes, versions and regions against what DigitalOcean offers; check the token and api_endpoint.")
		return
	}

	var config stackModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}

	p := &planner{ctx: ctx, api: r.client.Godo, opts: opts, plan: &plan, config: &config, state: state, status: status, diags: &resp.Diagnostics,
		owners: &r.client.stateOwners}
	if state != nil {
		r.client.stateOwners.add(state.Name.ValueString(), status.Owner)
	}
	p.regionOffered()
	p.cluster()
	p.databases()
	p.names()
	p.poolNameCollisions()
	p.networks()
	p.restoreFrom()
	p.ownership()
	if state != nil {
		// resp.RequiresReplace does not carry the schema's RequiresReplace
		// paths here (the framework hands ModifyPlan an empty list), so the
		// planner works out a whole-stack replacement itself.
		replacingStack := len(resp.RequiresReplace) > 0 || p.replacesStack()
		p.protectData(replacingStack)
		if replacingStack {
			warnWorkloadResources(ctx, p.api, state.ClusterID.ValueString(), clusterNameOf(state, status), "Replacing the stack", keepsWorkloadResources(state), p.diags)
		}
		p.markRecomputed()
		p.authPluginResets()
		p.continueUnfinished()
		p.warnPoolReplacement()
	}
	p.secrets()
	p.kubernetesSecrets()
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

// continueUnfinished plans an update when an earlier apply stopped waiting
// for DigitalOcean (its timeout ran out): the configuration is unchanged, so
// only this marks the stack as having work left, and the apply picks the
// wait up where it stopped.
func (p *planner) continueUnfinished() {
	pending := p.status.Pending()
	if len(pending) == 0 {
		return
	}
	p.plan.Pending = types.StringUnknown()
	p.diags.AddAttributeWarning(path.Root("pending"), "The last apply left work unfinished: this apply continues it",
		"DigitalOcean was still working when the last apply's timeout ran out:\n  - "+strings.Join(pending, "\n  - ")+
			"\nThis apply waits for it again (raise timeouts.update if it keeps running out; GPU capacity can take long).")
}

// checkDestroy refuses to destroy a stack holding protected databases.
func checkDestroy(state *stackModel, status *stack.Status, diags *diag.Diagnostics) {
	if state == nil {
		return
	}
	for _, key := range sortedKeys(state.Databases) {
		d := state.Databases[key]
		if blocksDeletion(d, status, key) {
			diags.AddAttributeError(path.Root("databases").AtMapKey(key).AtName("deletion_protection"),
				fmt.Sprintf("Destroying stack %s would delete protected database %q", state.Name.ValueString(), key),
				fmt.Sprintf("Database %s (%s) has deletion_protection = true. Nothing was deleted. To destroy the stack, set "+
					"deletion_protection = false on it and apply, or set retain_on_destroy = true to keep it running "+
					"(detached from the cluster) when the stack goes.", key, d.ID.ValueString()))
		}
	}
}

// blocksDeletion: an owned, protected database that is not retained cannot
// be deleted, whether or not it finished provisioning: a database the state
// recorded may hold data from the moment it is online (an adopted one
// after a lost answer, an interrupted create's).
func blocksDeletion(d *databaseModel, status *stack.Status, key string) bool {
	if !d.ExistingID.IsNull() || !d.DeletionProtection.ValueBool() || d.RetainOnDestroy.ValueBool() {
		return false
	}
	if status != nil {
		return status.Databases[key] != nil
	}
	return true
}

type planner struct {
	ctx context.Context
	// api reads attached databases (engine, firewall) at plan time; the
	// planner never writes.
	api  *godo.Client
	opts *liveOptions
	plan *stackModel
	// config is the configuration as written (computed values null).
	config *stackModel
	state  *stackModel
	status *stack.Status
	diags  *diag.Diagnostics
	// owners are the stack identities this run read from its own state.
	owners *stateOwners
	// regionRefused is set once the region is refused: the checks that
	// depend on it then say nothing more (a typo is an unknown region,
	// not a region lacking every size).
	regionRefused bool
}

// attrError reports an error on an attribute, naming it in the detail too:
// Terraform quotes the configuration line only for top-level attributes,
// so without the path an error inside cluster or databases would not say
// which value is wrong.
func (p *planner) attrError(at path.Path, summary, detail string) {
	p.diags.AddAttributeError(at, summary, detail+"\n\nAttribute: "+at.String())
}

type attrValue interface {
	IsUnknown() bool
	IsNull() bool
}

func known(v attrValue) bool { return !v.IsUnknown() && !v.IsNull() }

func (p *planner) region() (string, bool) {
	return p.plan.Region.ValueString(), known(p.plan.Region) && !p.regionRefused
}

// regionOffered refuses a region DOKS does not run in (a typo would
// otherwise surface as every size "not offered").
func (p *planner) regionOffered() {
	region, ok := p.region()
	if !ok || p.plan.Cluster == nil || p.opts.Kubernetes == nil {
		return
	}
	var slugs []string
	for _, r := range p.opts.Kubernetes.Regions {
		if r == nil {
			continue
		}
		if r.Slug == region {
			return
		}
		slugs = append(slugs, r.Slug)
	}
	slices.Sort(slugs)
	p.regionRefused = true
	p.attrError(path.Root("region"), "Region not offered",
		fmt.Sprintf("DOKS does not run in %q. Regions offering it: %s.", region, strings.Join(slugs, ", ")))
}

func (p *planner) cluster() {
	c := p.plan.Cluster
	if c == nil {
		return
	}
	clusterPath := path.Root("cluster")
	region, regionKnown := p.region()

	// Version: a prefix resolved to the newest matching slug; the running
	// version is kept while it matches (patch upgrades are DOKS's job).
	if !c.Version.IsUnknown() {
		prefix := c.Version.ValueString()
		var slugs []string
		for _, v := range p.opts.Kubernetes.Versions {
			slugs = append(slugs, v.Slug)
		}
		newest, ok := stack.NewestVersion(slugs, prefix)
		if !ok {
			p.attrError(clusterPath.AtName("version"), "Kubernetes version not offered",
				fmt.Sprintf("No DOKS version matches %q. Offered: %s. Use a prefix such as %q, or leave version unset for the newest.",
					prefix, strings.Join(slugs, ", "), majorMinor(slugs)))
		} else {
			p.plan.ClusterVersion = types.StringValue(newest)
			if p.state != nil && p.stateHasCluster() {
				current := p.state.ClusterVersion.ValueString()
				if stack.VersionMatches(current, prefix) {
					p.plan.ClusterVersion = p.state.ClusterVersion
				} else if compareVersionSlugs(current, newest) > 0 {
					p.attrError(clusterPath.AtName("version"), "Kubernetes version would go down",
						fmt.Sprintf("The cluster runs %s; %q resolves to %s and DOKS cannot downgrade. Raise version to at least %s.",
							current, prefix, newest, majorMinor([]string{current})))
				} else {
					p.upgradeReachable(clusterPath.AtName("version"), p.state.ClusterID.ValueString(), current, newest, prefix)
				}
			}
		}
	}

	if c.SystemPool != nil {
		p.pool(clusterPath.AtName("system_pool"), c.SystemPool, false, region, regionKnown)
	}
	for _, name := range sortedKeys(c.GPUPools) {
		if name == stack.SystemPoolName {
			p.attrError(clusterPath.AtName("gpu_pools").AtMapKey(name), "GPU pool name taken by the system pool",
				fmt.Sprintf("The system pool is the DOKS node pool named %q, and pool names are unique in a cluster. Rename this GPU pool, e.g. %q.",
					stack.SystemPoolName, "gpu"))
			continue
		}
		p.pool(clusterPath.AtName("gpu_pools").AtMapKey(name), c.GPUPools[name], true, region, regionKnown)
	}
	p.controlPlaneFirewall(c)
	p.autoscalerExpandersOnce(c)
	p.clusterPlugins()
}

func (p *planner) stateHasCluster() bool {
	return p.state.ClusterID.ValueString() != "" && p.status != nil && p.status.Cluster != nil
}

func (p *planner) pool(at path.Path, pool *nodePoolModel, gpu bool, region string, regionKnown bool) {
	fixed, scaled := known(pool.NodeCount), known(pool.MaxNodes)
	switch {
	case fixed && scaled:
		p.attrError(at.AtName("node_count"), "Fixed and autoscaled at once",
			"Set either node_count (a fixed size) or max_nodes (autoscaling between min_nodes and max_nodes), not both.")
	case !fixed && !scaled && !pool.NodeCount.IsUnknown() && !pool.MaxNodes.IsUnknown():
		p.attrError(at.AtName("node_count"), "Pool size missing",
			"Set node_count for a fixed-size pool, or max_nodes (and optionally min_nodes, default 0) to autoscale.")
	case scaled && known(pool.MinNodes) && pool.MinNodes.ValueInt64() > pool.MaxNodes.ValueInt64():
		p.attrError(at.AtName("min_nodes"), "Autoscaling bounds inverted",
			fmt.Sprintf("min_nodes (%d) is above max_nodes (%d).", pool.MinNodes.ValueInt64(), pool.MaxNodes.ValueInt64()))
	case !gpu && scaled && pool.MinNodes.ValueInt64() == 0:
		p.attrError(at.AtName("min_nodes"), "System pool cannot scale to zero",
			"The system pool runs CoreDNS and the controllers; set min_nodes to at least 1.")
	case fixed && known(pool.MinNodes) && pool.MinNodes.ValueInt64() != 0:
		p.attrError(at.AtName("min_nodes"), "min_nodes without autoscaling",
			"min_nodes only applies to autoscaled pools: set max_nodes too, or remove min_nodes.")
	}
	for i, t := range taintsOf(pool.Taints) {
		if known(t.Key) && !validTaintKey(t.Key.ValueString()) {
			p.attrError(at.AtName("taints").AtListIndex(i).AtName("key"), "Invalid taint key",
				fmt.Sprintf("%q is not a valid Kubernetes taint key: an optional DNS prefix and a name of letters, digits, '-', '_' and '.' (at most 63).", t.Key.ValueString()))
		}
	}
	if !known(pool.Size) {
		return
	}
	size := pool.Size.ValueString()
	if gpu && pool.Taints.IsUnknown() {
		key := "nvidia.com/gpu"
		if info, ok := p.opts.Sizes[size]; ok && info.GPUInfo != nil && strings.Contains(strings.ToLower(info.GPUInfo.Model), "amd") || strings.Contains(size, "mi300") {
			key = "amd.com/gpu"
		}
		pool.Taints = taintList([]taintModel{{Key: types.StringValue(key), Value: types.StringValue(""), Effect: types.StringValue("NoSchedule")}})
	}
	knownSize, offered := p.opts.kubernetesSizeIn(size, region)
	switch {
	case !knownSize:
		var slugs []string
		for _, s := range p.opts.Kubernetes.Sizes {
			if p.opts.isGPU(s.Slug) == gpu {
				slugs = append(slugs, s.Slug)
			}
		}
		p.attrError(at.AtName("size"), "Unknown node size",
			fmt.Sprintf("DOKS offers no node size %q. Sizes of this kind: %s (see the attach_kubernetes_options data source).", size, strings.Join(slugs, ", ")))
	case gpu && !p.opts.isGPU(size):
		p.attrError(at.AtName("size"), "Not a GPU size",
			fmt.Sprintf("%q has no GPU; GPU pools need a gpu-* size. Put CPU workloads in system_pool.", size))
	case regionKnown && !offered:
		where := p.opts.regionsOffering(size)
		p.attrError(at.AtName("size"), "Node size not offered in the region",
			fmt.Sprintf("%s is not offered in %s. Regions offering it: %s. Pick one of them as region, or a size available in %s (see gpu_sizes_by_region of attach_kubernetes_options).",
				size, region, strings.Join(where, ", "), region))
	}
}

var taintKeyPattern = regexp.MustCompile(`^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$`)

func validTaintKey(k string) bool { return taintKeyPattern.MatchString(k) }

// defaultNodeCount gives each engine one standby for automatic failover
// (mongodb, opensearch and kafka run three-node clusters for theirs).
func defaultNodeCount(engine string) int64 {
	switch engine {
	case "mongodb", "opensearch", "kafka":
		return 3
	}
	return 2
}

func (p *planner) databases() {
	region, regionKnown := p.region()
	for _, key := range sortedKeys(p.plan.Databases) {
		d := p.plan.Databases[key]
		at := path.Root("databases").AtMapKey(key)
		var prior *databaseModel
		if p.state != nil {
			prior = p.state.Databases[key]
		}
		p.firewallRules(key, at, d, prior)
		if known(d.ExistingID) {
			p.attachedDatabase(key, at, d, prior)
			continue
		}
		// engine and size are Optional+Computed (an attached database's come
		// from DigitalOcean), so the plan holds unknown or prior values where
		// the configuration has none: ask the configuration.
		owned := d.ExistingID.IsNull()
		if d.Engine.IsNull() || owned && !p.configured(key, func(c *databaseModel) bool { return !c.Engine.IsNull() }) {
			p.attrError(at.AtName("engine"), "Database engine missing",
				"Set engine (pg, mysql, valkey, mongodb, opensearch or kafka), or existing_id to attach a database the stack does not own.")
			continue
		}
		if d.Size.IsNull() || owned && !p.configured(key, func(c *databaseModel) bool { return !c.Size.IsNull() }) {
			p.attrError(at.AtName("size"), "Database size missing",
				"Set size, e.g. db-s-2vcpu-4gb (see the sizes DigitalOcean offers for the engine in attach_kubernetes_options' sibling, the /v2/databases/options API).")
		}
		if !known(d.Engine) {
			continue
		}
		engine := d.Engine.ValueString()
		eo, _ := p.opts.engineOptions(engine)
		// Defaults: the running value when there is one, else DigitalOcean's newest version and a standby node.
		if d.Version.IsUnknown() {
			if prior != nil && known(prior.Version) && prior.Engine.ValueString() == engine {
				d.Version = prior.Version
			} else if len(eo.Versions) > 0 {
				d.Version = types.StringValue(newestDBVersion(eo.Versions))
			}
		}
		if d.NodeCount.IsUnknown() {
			d.NodeCount = types.Int64Value(defaultNodeCount(engine))
		}
		// Unset storage follows the size: a resize moves it to the new
		// size's default, so the prior value must not be carried over
		// (DigitalOcean refuses a storage size the new plan does not offer).
		if prior != nil && !p.configured(key, func(c *databaseModel) bool { return !c.StorageSizeMiB.IsNull() }) &&
			!d.Size.Equal(prior.Size) {
			d.StorageSizeMiB = types.Int64Unknown()
		}
		if regionKnown && !slices.Contains(eo.Regions, region) {
			p.attrError(at.AtName("engine"), "Engine not offered in the region",
				fmt.Sprintf("DigitalOcean offers %s in %s, not in %s.", engine, strings.Join(eo.Regions, ", "), region))
		}
		if known(d.Version) && !slices.Contains(eo.Versions, d.Version.ValueString()) {
			p.attrError(at.AtName("version"), "Engine version not offered",
				fmt.Sprintf("%s version %q is not offered. Offered: %s.", engine, d.Version.ValueString(), strings.Join(eo.Versions, ", ")))
		}
		if known(d.Size) && known(d.NodeCount) {
			p.dbSize(at, engine, eo, d.Size.ValueString(), int(d.NodeCount.ValueInt64()))
		}
		p.engineFeatures(at, engine, d)
		p.topicsFeature(at, engine, d, prior)
		if known(d.Size) && known(d.NodeCount) {
			dbID := ""
			if prior != nil && prior.ExistingID.IsNull() && known(prior.ID) && prior.Engine.ValueString() == engine && prior.Version.Equal(d.Version) {
				dbID = prior.ID.ValueString()
			}
			p.poolBudget(key, at, d, prior, engine, d.Size.ValueString(), dbID, layoutSizes(eo, int(d.NodeCount.ValueInt64())))
		}
		for _, rk := range sortedKeys(d.Replicas) {
			rep := d.Replicas[rk]
			if rep.Region.IsUnknown() {
				if pr := priorReplica(prior, rk); pr != nil && known(pr.Region) {
					rep.Region = pr.Region
				} else {
					rep.Region = p.plan.Region
				}
			}
			if rep.Size.IsUnknown() {
				if pr := priorReplica(prior, rk); pr != nil && known(pr.Size) && prior.Size.Equal(d.Size) {
					rep.Size = pr.Size
				} else {
					rep.Size = d.Size
				}
			}
			if known(rep.Region) && !slices.Contains(eo.Regions, rep.Region.ValueString()) {
				p.attrError(at.AtName("replicas").AtMapKey(rk).AtName("region"), "Replica region not offered",
					fmt.Sprintf("%s is not offered in %s. Offered: %s.", engine, rep.Region.ValueString(), strings.Join(eo.Regions, ", ")))
			}
		}
	}
}

// configured reports whether set holds for database key as configured.
func (p *planner) configured(key string, set func(c *databaseModel) bool) bool {
	if p.config == nil {
		return true
	}
	c := p.config.Databases[key]
	return c != nil && set(c)
}

func priorReplica(prior *databaseModel, key string) *replicaModel {
	if prior == nil {
		return nil
	}
	return prior.Replicas[key]
}

func (p *planner) attachedDatabase(key string, at path.Path, d *databaseModel, prior *databaseModel) {
	if len(d.Replicas) > 0 {
		p.attrError(at.AtName("replicas"), "Replicas of an attached database",
			"The stack does not own this database, so it cannot add replicas to it; manage replicas where the database is managed.")
	}
	// Attached databases are described by DigitalOcean, not configuration.
	if prior != nil && prior.ExistingID.Equal(d.ExistingID) {
		d.Engine, d.Version, d.Size, d.NodeCount, d.StorageSizeMiB = prior.Engine, prior.Version, prior.Size, prior.NodeCount, prior.StorageSizeMiB
	}
	engine, size, nodes := d.Engine.ValueString(), d.Size.ValueString(), int(d.NodeCount.ValueInt64())
	vpcChanges := p.state != nil && !p.plan.VPCID.Equal(p.state.VPCID)
	if d.Engine.IsUnknown() || vpcChanges {
		// Not attached yet: DigitalOcean knows the engine, so what it
		// would refuse (users on valkey, pools off pg, another VPC...) is
		// refused now.
		db := p.remoteDatabase(d.ExistingID.ValueString())
		if db == nil {
			return
		}
		engine, size, nodes = db.EngineSlug, db.SizeSlug, db.NumNodes
		p.sameVPC(at, db)
	}
	p.engineFeatures(at, engine, d)
	p.topicsFeature(at, engine, d, prior)
	eo, _ := p.opts.engineOptions(engine)
	p.poolBudget(key, at, d, prior, engine, size, d.ExistingID.ValueString(), layoutSizes(eo, nodes))
}

// remoteDatabase reads an attached database at plan time; nil when it
// cannot be read (apply reports that, with the reason).
func (p *planner) remoteDatabase(id string) *godo.Database {
	if p.api == nil {
		return nil
	}
	db, _, err := p.api.Databases.Get(p.ctx, id)
	if err != nil {
		tflog.Debug(p.ctx, "Plan: attached database not readable; its checks wait for apply", map[string]any{"database_id": id, "error": err.Error()})
		return nil
	}
	return db
}

// firewallRules refuses a plan that would put more than DigitalOcean's 100
// rules on a database: the stack's trusted_sources, its k8s rule for the
// cluster, and, on a database that already exists, the rules others put
// there (read from DigitalOcean when the stack's share grows).
func (p *planner) firewallRules(key string, at path.Path, d *databaseModel, prior *databaseModel) {
	configured := distinctRules(d.TrustedSources)
	fix := "Remove trusted_sources (a CIDR block can replace several addresses)."
	detail := tooManyRules(key, len(configured), 1, 0, fix)
	if detail == "" && known(d.ExistingID) && p.stackRulesGrow(d, prior, configured) {
		id := d.ExistingID.ValueString()
		if rules, ok := p.remoteRules(id); ok {
			foreign := 0
			for _, r := range rules {
				k := firewallRuleKey{r.Type, r.Value}
				cluster := k.typ == "k8s" && known(p.plan.ClusterID) && k.value == p.plan.ClusterID.ValueString()
				if !configured[k] && !cluster && !p.ownedRule(prior, k) {
					foreign++
				}
			}
			detail = tooManyRules(key+" ("+id+")", len(configured), 1, foreign,
				"Remove trusted_sources, or remove rules others added to the database's firewall.")
		}
	}
	if detail != "" {
		p.attrError(at.AtName("trusted_sources"), "Too many firewall rules", detail)
	}
}

// stackRulesGrow reports whether the plan adds rules of the stack's to a
// database: a new attachment, or trusted sources not in state.
func (p *planner) stackRulesGrow(d, prior *databaseModel, configured map[firewallRuleKey]bool) bool {
	if prior == nil || !prior.ExistingID.Equal(d.ExistingID) || !known(prior.AttachedClusterID) || prior.AttachedClusterID.ValueString() == "" {
		return true
	}
	had := distinctRules(prior.TrustedSources)
	for k := range configured {
		if !had[k] {
			return true
		}
	}
	return false
}

// ownedRule reports whether rule k on a database is one the stack put
// there (and so is replaced, not added to): its k8s rule for the cluster or
// a trusted source in state.
func (p *planner) ownedRule(prior *databaseModel, k firewallRuleKey) bool {
	if p.state == nil || prior == nil {
		return false
	}
	if k.typ == "k8s" && (k.value == p.state.ClusterID.ValueString() || k.value == prior.AttachedClusterID.ValueString()) {
		return true
	}
	return distinctRules(prior.TrustedSources)[k]
}

func (p *planner) remoteRules(id string) ([]godo.DatabaseFirewallRule, bool) {
	if p.api == nil {
		return nil, false
	}
	rules, _, err := p.api.Databases.GetFirewallRules(p.ctx, id)
	if err != nil {
		tflog.Debug(p.ctx, "Plan: firewall of an attached database not readable; DigitalOcean checks its rule count at apply", map[string]any{"database_id": id, "error": err.Error()})
		return nil, false
	}
	return rules, true
}

func newestDBVersion(versions []string) string {
	best := versions[0]
	for _, v := range versions[1:] {
		if compareVersionSlugs(v, best) > 0 {
			best = v
		}
	}
	return best
}

func (p *planner) dbSize(at path.Path, engine string, eo godo.DatabaseEngineOptions, size string, nodes int) {
	var counts []string
	for _, l := range eo.Layouts {
		counts = append(counts, fmt.Sprint(l.NodeNum))
		if l.NodeNum != nodes {
			continue
		}
		if !slices.Contains(l.Sizes, size) {
			p.attrError(at.AtName("size"), "Database size not offered",
				fmt.Sprintf("%s with %d nodes does not come in size %q. Sizes for %d nodes: %s.", engine, nodes, size, nodes, strings.Join(l.Sizes, ", ")))
		}
		return
	}
	p.attrError(at.AtName("node_count"), "Node count not offered",
		fmt.Sprintf("%s clusters come with %s nodes, not %d.", engine, strings.Join(counts, ", "), nodes))
}

// engineFeatures rejects what an engine does not have.
func (p *planner) engineFeatures(at path.Path, engine string, d *databaseModel) {
	p.storageAutoscaleFeature(at, engine, d)
	p.configSettings(at, engine, d)
	p.userSettingsFeature(at, engine, d)
	if len(d.Pools) > 0 && engine != "pg" {
		p.attrError(at.AtName("pools"), "Connection pools need PostgreSQL",
			fmt.Sprintf("PgBouncer pools exist only for pg; this database is %s. Remove pools, or use engine = \"pg\".", engine))
	}
	if len(d.Replicas) > 0 && engine != "pg" && engine != "mysql" {
		p.attrError(at.AtName("replicas"), "Read replicas need PostgreSQL or MySQL",
			fmt.Sprintf("DigitalOcean offers read replicas for pg and mysql only; this database is %s.", engine))
	}
	if known(d.EvictionPolicy) && engine != "valkey" {
		p.attrError(at.AtName("eviction_policy"), "Eviction policy needs Valkey",
			fmt.Sprintf("eviction_policy applies to valkey only; this database is %s. Remove it.", engine))
	}
	if len(d.DBs) > 0 && engine != "pg" && engine != "mysql" && engine != "mongodb" {
		p.attrError(at.AtName("dbs"), "Logical databases not supported",
			fmt.Sprintf("%s has no logical databases; dbs applies to pg, mysql and mongodb.", engine))
	}
	if len(d.Users) > 0 && engine == "valkey" {
		p.attrError(at.AtName("users"), "Users not supported on Valkey", valkeyUsersRefusal)
	}
	for name, pool := range d.Pools {
		if known(pool.DB) && pool.DB.ValueString() != "defaultdb" && !containsValue(d.DBs, pool.DB.ValueString()) {
			p.attrError(at.AtName("pools").AtMapKey(name).AtName("db"), "Pool database not managed",
				fmt.Sprintf("Pool %s connects to %q, which is neither defaultdb nor in dbs; add it to dbs.", name, pool.DB.ValueString()))
		}
		if known(pool.User) && pool.User.ValueString() != "doadmin" && !containsValue(d.Users, pool.User.ValueString()) {
			p.attrError(at.AtName("pools").AtMapKey(name).AtName("user"), "Pool user not managed",
				fmt.Sprintf("Pool %s connects as %q, which is neither doadmin nor in users; add it to users.", name, pool.User.ValueString()))
		}
	}
}

func containsValue(list []types.String, s string) bool {
	for _, v := range list {
		if v.ValueString() == s {
			return true
		}
	}
	return false
}

// Names DigitalOcean reserves: the stack cannot create these users or dbs.
var (
	reservedUserNames = []string{"doadmin", "default", "postgres", "root", "admin", "mysql.sys", "mysql.session", "mysql.infoschema", "_dodb", "pgbouncer"}
	reservedDBNames   = map[string][]string{
		"pg":      {"postgres", "template0", "template1", "_dodb"},
		"mysql":   {"mysql", "sys", "information_schema", "performance_schema", "_dodb"},
		"mongodb": {"admin", "local", "config"},
	}
)

// maxClusterNameLen is DigitalOcean's limit on database cluster and replica
// names, which the stack derives from its name and the map keys.
const maxClusterNameLen = 63

// names checks the names the stack derives for DigitalOcean: database and
// replica names (<stack>-<key>[-<replica>]) must fit and be unique in the
// account, users and dbs must be neither reserved nor too long.
func (p *planner) names() {
	if !known(p.plan.Name) {
		return
	}
	stackName := p.plan.Name.ValueString()
	taken := map[string]string{} // derived name -> what claimed it
	for _, key := range sortedKeys(p.plan.Databases) {
		if !known(p.plan.Databases[key].ExistingID) {
			taken[stack.DatabaseName(stackName, key)] = fmt.Sprintf("database %q", key)
		}
	}
	for _, key := range sortedKeys(p.plan.Databases) {
		d := p.plan.Databases[key]
		at := path.Root("databases").AtMapKey(key)
		for _, rk := range sortedKeys(d.Replicas) {
			name := stack.ReplicaName(stackName, key, rk)
			rat := at.AtName("replicas").AtMapKey(rk)
			if len(name) > maxClusterNameLen {
				p.attrError(rat, "Replica name too long",
					fmt.Sprintf("Replica %q of database %q would be named %q (%d characters); DigitalOcean allows %d. Use a shorter replica key (or database key, or stack name).",
						rk, key, name, len(name), maxClusterNameLen))
				continue
			}
			if other, dup := taken[name]; dup {
				p.attrError(rat, "Duplicate name",
					fmt.Sprintf("Replica %q of database %q would be named %q, which %s already uses; names are unique across an account's databases and replicas. Rename the replica.",
						rk, key, name, other))
				continue
			}
			taken[name] = fmt.Sprintf("replica %q of database %q", rk, key)
		}
		engine := d.Engine.ValueString()
		if !known(d.Engine) {
			engine = ""
		}
		for _, u := range d.Users {
			if !known(u) {
				continue
			}
			name := u.ValueString()
			maxLen := 63
			if engine == "mysql" {
				maxLen = 32
			}
			switch {
			case slices.Contains(reservedUserNames, name) || strings.HasPrefix(name, "pg_"):
				p.attrError(at.AtName("users"), "Reserved user name",
					fmt.Sprintf("%q is reserved by DigitalOcean (the admin user doadmin is always there; its password is in connection_env). Choose another name.", name))
			case len(name) > maxLen:
				p.attrError(at.AtName("users"), "User name too long",
					fmt.Sprintf("%q has %d characters; %s allows %d.", name, len(name), engineOrDefault(engine), maxLen))
			}
		}
		for _, db := range d.DBs {
			if known(db) && slices.Contains(reservedDBNames[engine], db.ValueString()) {
				p.attrError(at.AtName("dbs"), "Reserved database name",
					fmt.Sprintf("%q is reserved on %s (reserved: %s). Choose another name.", db.ValueString(), engine, strings.Join(reservedDBNames[engine], ", ")))
			}
		}
	}
}

func engineOrDefault(engine string) string {
	if engine == "" {
		return "the engine"
	}
	return engine
}

// networks checks the VPC range and the cluster's subnets: valid private
// CIDRs that do not overlap each other.
func (p *planner) networks() {
	type network struct {
		at     path.Path
		prefix netip.Prefix
	}
	var nets []network
	check := func(at path.Path, v types.String, minBits, maxBits int) {
		if !known(v) {
			return
		}
		prefix, err := netip.ParsePrefix(v.ValueString())
		switch {
		case err != nil || !prefix.Addr().Is4():
			p.attrError(at, "Invalid CIDR", fmt.Sprintf("%q is not an IPv4 CIDR such as 10.20.0.0/16.", v.ValueString()))
			return
		case prefix.Masked() != prefix:
			p.attrError(at, "CIDR has host bits set", fmt.Sprintf("%q: use %s.", v.ValueString(), prefix.Masked()))
			return
		case !prefix.Addr().IsPrivate():
			p.attrError(at, "CIDR is not private", fmt.Sprintf("%q is not in 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16.", v.ValueString()))
			return
		case prefix.Bits() < minBits || prefix.Bits() > maxBits:
			p.attrError(at, "CIDR size out of range", fmt.Sprintf("%q: the prefix length must be between /%d and /%d.", v.ValueString(), minBits, maxBits))
			return
		}
		for _, other := range nets {
			if other.prefix.Overlaps(prefix) {
				p.attrError(at, "Overlapping networks",
					fmt.Sprintf("%s overlaps %s (%s); the VPC, pod and service networks must be disjoint.", prefix, other.prefix, other.at))
				return
			}
		}
		nets = append(nets, network{at: at, prefix: prefix})
	}
	check(path.Root("vpc_ip_range"), p.plan.VPCIPRange, 16, 24)
	if c := p.plan.Cluster; c != nil {
		check(path.Root("cluster").AtName("cluster_subnet"), c.ClusterSubnet, 8, 20)
		check(path.Root("cluster").AtName("service_subnet"), c.ServiceSubnet, 12, 24)
	}
}

// replacesStack reports whether the plan changes an attribute that
// replaces the whole stack (those with RequiresReplace in the schema): name,
// region, vpc_ip_range, or a configured vpc_id (unknown counts as a change).
func (p *planner) replacesStack() bool {
	plan, state := p.plan, p.state
	rangeChanges := !state.VPCIPRange.IsNull() && !plan.VPCIPRange.IsNull() && !plan.VPCIPRange.Equal(state.VPCIPRange)
	return !plan.Name.Equal(state.Name) || !plan.Region.Equal(state.Region) || rangeChanges || !plan.VPCID.Equal(state.VPCID)
}

// protectData refuses plans that would delete a protected database.
func (p *planner) protectData(replacingStack bool) {
	name := p.plan.Name.ValueString()
	for _, key := range sortedKeys(p.state.Databases) {
		prior := p.state.Databases[key]
		if !blocksDeletion(prior, p.status, key) {
			continue
		}
		at := path.Root("databases").AtMapKey(key)
		planned, kept := p.plan.Databases[key]
		switch {
		case replacingStack:
			p.attrError(at.AtName("deletion_protection"), fmt.Sprintf("Replacing stack %s would delete protected database %q", name, key),
				"A change to name, region, vpc_id or vpc_ip_range replaces the whole stack, databases included. Nothing was changed. Set deletion_protection = false on the database and apply first, or set retain_on_destroy = true to keep it running outside the stack, or revert the change.")
		case !kept:
			p.attrError(at, fmt.Sprintf("Removing protected database %q", key),
				fmt.Sprintf("Database %s (%s) has deletion_protection = true, so it cannot be removed from the stack: nothing was deleted. Set deletion_protection = false and apply first, or retain_on_destroy = true to detach it and keep it running, then remove it.", key, prior.ID.ValueString()))
		case known(planned.Engine) && !planned.Engine.Equal(prior.Engine) || known(planned.Version) && known(prior.Version) && !planned.Version.Equal(prior.Version):
			p.attrError(at.AtName("version"), fmt.Sprintf("Replacing protected database %q", key),
				fmt.Sprintf("Changing the engine or version of %s (%s -> %s) needs a new database, and deletion_protection = true forbids deleting this one. Set deletion_protection = false and apply first to accept losing its data, or revert the change.",
					key, prior.Engine.ValueString()+" "+prior.Version.ValueString(), planned.Engine.ValueString()+" "+planned.Version.ValueString()))
		default:
			for _, db := range prior.DBs {
				if !containsValue(planned.DBs, db.ValueString()) {
					p.attrError(at.AtName("dbs"), fmt.Sprintf("Dropping db %q of protected database %q", db.ValueString(), key),
						"Removing a name from dbs drops that logical database and its data, and deletion_protection = true forbids it. Set deletion_protection = false first, or keep the name.")
				}
			}
			p.protectTopics(at, key, prior, planned)
		}
	}
}

// markRecomputed marks the computed values a change alters as unknown, and
// announces a cluster replacement.
func (p *planner) markRecomputed() {
	plan, state := p.plan, p.state
	clusterChanges := p.status == nil || p.status.Cluster == nil || state.ClusterID.ValueString() == ""
	if !clusterChanges && plan.Cluster != nil {
		spec := plan.toSpec(false)
		if reason := stack.ClusterReplacementReason(spec, p.status.VPCID, p.status.Cluster); reason != "" {
			clusterChanges = true
			p.diags.AddAttributeWarning(path.Root("cluster"), "The cluster will be replaced",
				fmt.Sprintf("Cluster %s will be replaced (%s): a new cluster is created, every database's firewall is re-pointed to it, then the old cluster is deleted. The databases keep their ids and data.",
					p.status.Cluster.Name, reason))
			warnWorkloadResources(p.ctx, p.api, p.status.Cluster.ID, p.status.Cluster.Name, "Replacing the cluster", keepsWorkloadResources(plan), p.diags)
		}
	}
	if clusterChanges {
		for _, v := range []*types.String{&plan.ClusterID, &plan.ClusterURN, &plan.ClusterEndpoint, &plan.Kubeconfig, &plan.KubeconfigExpiresAt} {
			*v = types.StringUnknown()
		}
	} else if plan.Cluster != nil && state.Cluster != nil && !plan.Cluster.KubeconfigExpiry.Equal(state.Cluster.KubeconfigExpiry) {
		// A new lifetime: the apply fetches a new kubeconfig.
		plan.Kubeconfig, plan.KubeconfigExpiresAt = types.StringUnknown(), types.StringUnknown()
	}
	envChanges := false
	for key, d := range plan.Databases {
		prior := state.Databases[key]
		switch {
		case clusterChanges:
			d.AttachedClusterID = types.StringUnknown()
		default:
			d.AttachedClusterID = plan.ClusterID
		}
		if prior == nil || !prior.ExistingID.Equal(d.ExistingID) || !prior.Engine.Equal(d.Engine) || !prior.Version.Equal(d.Version) {
			envChanges = true
			for _, v := range []*types.String{&d.ID, &d.URN, &d.PrivateHost, &d.User, &d.Password, &d.Database, &d.PrivateURI} {
				*v = types.StringUnknown()
			}
			d.Port = types.Int64Unknown()
			// A new database: everything in it is new too.
			for _, pool := range d.Pools {
				pool.PrivateHost, pool.Port, pool.PrivateURI = types.StringUnknown(), types.Int64Unknown(), types.StringUnknown()
			}
			for _, rep := range d.Replicas {
				rep.ID, rep.PrivateHost = types.StringUnknown(), types.StringUnknown()
			}
			continue
		}
		if !sameValues(prior.Users, d.Users) {
			envChanges = true
		}
		for name, pool := range d.Pools {
			pp := prior.Pools[name]
			if pp == nil || !pp.DB.Equal(pool.DB) || !pp.User.Equal(pool.User) {
				envChanges = true
				pool.PrivateHost, pool.Port, pool.PrivateURI = types.StringUnknown(), types.Int64Unknown(), types.StringUnknown()
			} else if !pp.Size.Equal(pool.Size) || !pp.Mode.Equal(pool.Mode) {
				// The pool is rewritten and read back. Unknown here, its
				// endpoint keeps whatever reads the pool (a module's
				// output of it) from being settled at plan time: Terraform
				// stores a wholly known output when it plans, and a failed
				// apply would leave it claiming the refused size.
				pool.PrivateHost, pool.Port, pool.PrivateURI = types.StringUnknown(), types.Int64Unknown(), types.StringUnknown()
			}
		}
		for name := range prior.Pools {
			if d.Pools[name] == nil {
				envChanges = true
			}
		}
		for name, rep := range d.Replicas {
			pr := prior.Replicas[name]
			// A size change resizes the replica in place (same id); a region change replaces it.
			if pr == nil || !pr.Region.Equal(rep.Region) {
				rep.ID, rep.PrivateHost = types.StringUnknown(), types.StringUnknown()
			}
		}
	}
	if len(plan.Databases) != len(state.Databases) {
		envChanges = true
	}
	if envChanges {
		plan.ConnectionEnv = types.MapUnknown(types.StringType)
	}
}

func sameValues(a, b []types.String) bool {
	return stackSame(valueStrings(a), valueStrings(b))
}

func stackSame(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// storageAutoscaleFeature refuses storage autoscaling where DigitalOcean
// has no storage to add (valkey answers 422 to /autoscale).
func (p *planner) storageAutoscaleFeature(at path.Path, engine string, d *databaseModel) {
	if d.StorageAutoscale != nil && engine != "" && !stack.StorageAutoscaleEngine(engine) {
		p.attrError(at.AtName("storage_autoscale"), "Storage autoscaling not on Valkey",
			fmt.Sprintf("storage_autoscale applies to engines with disk storage (pg, mysql, mongodb, kafka, opensearch); this database is %s, whose plans carry no storage to add. Remove storage_autoscale.", engine))
	}
}
