package provider

import (
	"context"
	"fmt"
	"maps"
	"regexp"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/mapplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

var (
	stackNamePattern = regexp.MustCompile(`^[a-z][a-z0-9-]{1,38}[a-z0-9]$`)
	keyPattern       = regexp.MustCompile(`^[a-z][a-z0-9-]{0,18}[a-z0-9]$`)
	dayPattern       = regexp.MustCompile(`^(any|monday|tuesday|wednesday|thursday|friday|saturday|sunday)$`)
	hhmmPattern      = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)
	// DigitalOcean's rules for the names of pools, users and logical dbs.
	// Pools: "Must be between 3 and 60 characters" (spec
	// resources/databases/models/connection_pool.yml, name).
	poolNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9_-]{2,59}$`)
	userNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,62}$`)
	dbNamePattern   = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9_$-]{0,62}$`)
	// DigitalOcean's tag names (spec components/schemas/tags, name:
	// pattern ^[a-zA-Z0-9_\-\:]+$, maxLength 255).
	tagPattern = regexp.MustCompile(`^[a-zA-Z0-9_:-]{1,255}$`)
)

// poolNameRule is the message of a pool name DigitalOcean would refuse.
const poolNameRule = "must be 3-60 characters (DigitalOcean's limit for connection pool names): letters, digits, underscores and dashes, not starting with a dash"

const stackNameRule = "must be 3-40 lowercase letters, digits and dashes, starting with a letter and not ending with a dash"

// validStackName is the one check of a stack name (configuration and import id).
func validStackName(name string) error {
	if !stackNamePattern.MatchString(name) {
		return fmt.Errorf("%q is not a stack name: it %s", name, stackNameRule)
	}
	return nil
}

// stable keeps a computed value from the prior state in plans: ModifyPlan
// marks it unknown where a change really alters it.
var (
	stableString = []planmodifier.String{stringplanmodifier.UseNonNullStateForUnknown()}
	stableInt64  = []planmodifier.Int64{int64planmodifier.UseNonNullStateForUnknown()}
)

func computedString(desc string) schema.StringAttribute {
	return schema.StringAttribute{Computed: true, MarkdownDescription: desc, PlanModifiers: stableString}
}

func sensitiveString(desc string) schema.StringAttribute {
	return schema.StringAttribute{Computed: true, Sensitive: true, MarkdownDescription: desc, PlanModifiers: stableString}
}

func (r *inferenceStackResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "One attach architecture: a VPC, a DOKS cluster with a CPU system pool and GPU pools, and managed " +
			"databases reached privately over the VPC and locked by their firewalls to the cluster. Compute and data " +
			"are decoupled: a change that needs a new cluster replaces the cluster only, and re-points every database " +
			"firewall to it; databases carry deletion protection and can outlive the stack (`retain_on_destroy`).",
		Attributes: map[string]schema.Attribute{
			"id": computedString("The stack's id: its name."),
			"owner_id": computedString("The identity of the Terraform state that owns the stack: made at create (or at the " +
				"first apply after an import or an upgrade from a provider without identities), kept in state, and written on " +
				"every object the stack owns as the tag `attach-owner:<owner_id>` (the VPC, which has no tags, carries it in its " +
				"description). A stack's `name` is not unique to one state; this is. The provider adopts, changes or deletes only " +
				"objects carrying this identity, or objects imported on purpose by id."),
			"name": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "Stack name: 3-40 lowercase letters, digits and dashes. Names the parts (`<name>-vpc`, " +
					"the cluster `<name>`, databases `<name>-<key>`) and the tag `attach-stack:<name>` they all carry. " +
					"Changing it replaces the whole stack.",
				Validators:    []validator.String{stringvalidator.RegexMatches(stackNamePattern, stackNameRule)},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"region": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "Region of the VPC, cluster and databases, e.g. `tor1`. Databases cannot move between " +
					"regions, so changing it replaces the whole stack (refused while a database is protected).",
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"project_id": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "Project every part is assigned to. Unset: DigitalOcean's default project.",
			},
			"tags": schema.SetAttribute{
				Optional:            true,
				ElementType:         types.StringType,
				MarkdownDescription: "Extra tags on every part (the stack tag `attach-stack:<name>` is always added). Changed in place, read replicas included; a tag added or removed outside Terraform on a database or replica shows as drift.",
				Validators:          []validator.Set{},
			},
			"vpc_id": schema.StringAttribute{
				Optional: true,
				Computed: true,
				MarkdownDescription: "An existing VPC (in `region`) to build in; the stack never modifies or deletes it. Unset: " +
					"the stack creates `<name>-vpc`. Changing it replaces the whole stack.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown(), stringplanmodifier.RequiresReplaceIfConfigured()},
			},
			"vpc_ip_range": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "CIDR of the VPC the stack creates (a private range, /16 to /24). Unset: DigitalOcean " +
					"picks a free /20. Ignored with `vpc_id`.",
				// Replace only when a known range changes: a range first
				// written into configuration after an import is adopted (and
				// the next refresh shows the VPC's real range).
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplaceIf(rangeChanged,
					"Changing the VPC's range replaces the whole stack.", "Changing the VPC's range replaces the whole stack.")},
			},
			"store_secrets": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(true),
				MarkdownDescription: "Keep credentials in state. Default `true`: `kubeconfig`, `connection_env` and the " +
					"databases' `password` and `private_uri` (and the pools' `private_uri`) are in state, as sensitive values. " +
					"`false`: they are null in plan and state, and nothing in the provider's private state holds them either " +
					"(no password, credentialed URI or kubeconfig token); read them at apply time from the ephemeral resources. " +
					"Changing it is an in-place update.",
			},
			"cluster":   clusterSchema(),
			"databases": databasesSchema(),

			"kubernetes_secrets": kubernetesSecretsSchema(),
			"timeouts": timeouts.Attributes(ctx, timeouts.Opts{
				Create: true, Update: true, Delete: true,
				CreateDescription: "Default 60m. On timeout the parts that exist are in state and the resource is tainted.",
				UpdateDescription: "Default 60m.",
				DeleteDescription: "Default 30m.",
			}),
			"cluster_id":       computedString("Id of the DOKS cluster."),
			"cluster_urn":      computedString("URN of the DOKS cluster."),
			"cluster_endpoint": computedString("Kubernetes API endpoint."),
			"cluster_version":  computedString("The cluster's version slug, e.g. `1.33.1-do.0`."),
			"kubeconfig": sensitiveString("Kubeconfig for the cluster, with a token valid for `cluster.kubeconfig_expiry_seconds` " +
				"(default 7 days); refresh fetches a new one when less than half of that (at most 2 days) remains. Kept only in " +
				"state, never written to disk."),
			"kubeconfig_expires_at": computedString("When the kubeconfig's token expires (RFC 3339)."),
			"pending": computedString("What the last apply left unfinished because its timeout ran out while DigitalOcean was " +
				"still working (GPU nodes waiting for capacity, a database or replica not yet online); empty when nothing is. " +
				"While it is not empty, the plan shows an update that continues the wait."),
			"connection_env": schema.MapAttribute{
				Computed:      true,
				PlanModifiers: []planmodifier.Map{mapplanmodifier.UseStateForUnknown()},
				Sensitive:     true,
				ElementType:   types.StringType,
				MarkdownDescription: "Ready-to-use environment for a Kubernetes Secret, per database key (upper-cased, dashes " +
					"as underscores): `<KEY>_DATABASE_URL` (private URI), `<KEY>_HOST`, `<KEY>_PORT`, `<KEY>_USER`, " +
					"`<KEY>_PASSWORD`, `<KEY>_DATABASE`, `<KEY>_<POOL>_POOL_URL` per pool and `<KEY>_<USER>_PASSWORD` per user. " +
					"When the database has `users`, `<KEY>_DATABASE_URL`, `_USER`, `_PASSWORD` and `_DATABASE` are an app " +
					"user's: the first user (in sort order) named like one of its `dbs`, connecting to that db, else the " +
					"first user in sort order and the default db. The admin (`doadmin`) URL is `<KEY>_ADMIN_DATABASE_URL`, " +
					"never the default a workload reads. Without users, both are the admin's. Stored in the state (see the " +
					"provider docs on where secrets live).",
			},
		},
	}
}

func clusterSchema() schema.SingleNestedAttribute {
	s := schema.SingleNestedAttribute{
		Required:            true,
		MarkdownDescription: "The DOKS cluster: the stateless execution layer.",
		Attributes: map[string]schema.Attribute{
			"version": schema.StringAttribute{
				// Computed only so that an imported stack (which records the
				// cluster's minor, what configurations usually pin) plans
				// empty whether or not its configuration sets a version.
				Optional: true, Computed: true,
				PlanModifiers: []planmodifier.String{keepStateWhenUnset{}},
				MarkdownDescription: "Kubernetes version: a prefix such as `1.33` (the newest matching release) or a full " +
					"slug. Unset: the newest at create (an imported stack keeps its minor). Raising it upgrades in place; " +
					"DOKS cannot downgrade.",
			},
			"ha": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(true),
				MarkdownDescription: "Highly available control plane. Default `true`. Turning it off needs a new cluster (the databases stay).",
			},
			"auto_upgrade": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(true),
				MarkdownDescription: "Patch upgrades in the maintenance window. Default `true`.",
			},
			"keep_associated_resources": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(false),
				MarkdownDescription: "Keep the load balancers and volumes the cluster's workloads created (Kubernetes `LoadBalancer` " +
					"Services, PersistentVolumes) when the cluster is deleted, by destroy or by a cluster replacement. Default `false`: " +
					"they are deleted with the cluster (DigitalOcean's `destroy_with_associated_resources`), so nothing keeps billing. " +
					"`true`: they stay in the account, still billed, for you to reuse or delete (a kept load balancer also keeps the " +
					"stack's VPC). Either way, a plan that deletes the cluster (destroy, a cluster or stack replacement) names them in a warning first.",
			},
			"surge_upgrade": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(true),
				MarkdownDescription: "Upgrade with extra nodes so capacity never drops. Default `true`.",
			},
			"maintenance_window": schema.SingleNestedAttribute{
				Optional:            true,
				MarkdownDescription: "When DOKS may upgrade and maintain the cluster. Unset: DigitalOcean's default (any day, 00:00 UTC).",
				Attributes: map[string]schema.Attribute{
					"day": schema.StringAttribute{
						Optional: true, Computed: true, Default: stringdefault.StaticString("any"),
						MarkdownDescription: "`any`, or a weekday in lowercase (`sunday`...). Default `any`.",
						Validators:          []validator.String{stringvalidator.RegexMatches(dayPattern, "must be any, monday, tuesday, wednesday, thursday, friday, saturday or sunday")},
					},
					"start_time": schema.StringAttribute{
						Required:            true,
						MarkdownDescription: "Start, `HH:MM` in UTC.",
						Validators:          []validator.String{stringvalidator.RegexMatches(hhmmPattern, "must be HH:MM (24-hour, UTC)")},
					},
				},
			},
			"cluster_subnet": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "Pod network CIDR (DOKS default `10.244.0.0/16`). Changing it replaces the cluster only.",
			},
			"service_subnet": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "Service network CIDR (DOKS default `10.245.0.0/16`). Changing it replaces the cluster only.",
			},
			"system_pool": schema.SingleNestedAttribute{
				Required:            true,
				MarkdownDescription: "The CPU pool for system workloads (CoreDNS, controllers, ingress).",
				Attributes:          nodePoolAttributes(false),
			},
			"gpu_pools": schema.MapNestedAttribute{
				Optional:            true,
				MarkdownDescription: "GPU pools by name (the DOKS pool name: lowercase letters, digits, dashes).",
				NestedObject:        schema.NestedAttributeObject{Attributes: nodePoolAttributes(true)},
				Validators:          []validator.Map{mapvalidator.KeysAre(stringvalidator.RegexMatches(keyPattern, "must be 2-20 lowercase letters, digits and dashes, starting with a letter"))},
			},
			"control_plane_firewall":           controlPlaneFirewallSchema(),
			"cluster_autoscaler_configuration": autoscalerSchema(),
			"kubeconfig_expiry_seconds":        kubeconfigExpirySchema(),
		},
	}
	maps.Copy(s.Attributes, clusterPluginAttributes())
	return s
}

func nodePoolAttributes(gpu bool) map[string]schema.Attribute {
	taintDesc := "Kubernetes taints on the pool's nodes."
	if gpu {
		taintDesc = "Kubernetes taints on the pool's nodes. Default: the taint DOKS puts on GPU nodes " +
			"(`nvidia.com/gpu:NoSchedule`, or `amd.com/gpu:NoSchedule` for AMD sizes), so only GPU workloads land there."
	}
	return map[string]schema.Attribute{
		"size": schema.StringAttribute{
			Required:            true,
			MarkdownDescription: "Node size, e.g. `s-4vcpu-8gb` or `gpu-h100x1-80gb`; must be offered in the region (see `attach_kubernetes_options`). Changing it replaces the pool (new pool first).",
		},
		"node_count": schema.Int64Attribute{
			Optional:            true,
			MarkdownDescription: "Fixed number of nodes (1-100). Set either this or `max_nodes` (autoscaling).",
			Validators:          []validator.Int64{int64validator.Between(1, 100)},
		},
		"min_nodes": schema.Int64Attribute{
			Optional: true, Computed: true, Default: int64default.StaticInt64(0),
			MarkdownDescription: "Autoscaling lower bound; `0` lets an idle GPU pool cost nothing. Default `0`.",
			Validators:          []validator.Int64{int64validator.Between(0, 100)},
		},
		"max_nodes": schema.Int64Attribute{
			Optional:            true,
			MarkdownDescription: "Autoscaling upper bound (1-100); setting it turns autoscaling on.",
			Validators:          []validator.Int64{int64validator.Between(1, 100)},
		},
		"labels": schema.MapAttribute{
			Optional:            true,
			ElementType:         types.StringType,
			MarkdownDescription: "Kubernetes labels on the pool's nodes (DOKS adds its own `doks.digitalocean.com/*` labels).",
		},
		"tags": schema.SetAttribute{
			Optional:    true,
			ElementType: types.StringType,
			MarkdownDescription: "Tags on the pool and its nodes' Droplets, on top of the stack's `tags` and `attach-stack:<name>` " +
				"(which every pool carries): e.g. a cost center per GPU pool for billing reports. Changed in place; a tag added " +
				"or removed outside Terraform shows as drift.",
			Validators: []validator.Set{setvalidator.ValueStringsAre(stringvalidator.RegexMatches(tagPattern,
				"must be 1-255 letters, digits, colons, dashes and underscores (DigitalOcean's tag names)"))},
		},
		"taints": schema.ListNestedAttribute{
			Optional:            true,
			Computed:            gpu,
			PlanModifiers:       taintPlanModifiers(gpu),
			MarkdownDescription: taintDesc,
			NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
				"key":   schema.StringAttribute{Required: true, MarkdownDescription: "Taint key."},
				"value": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(""), MarkdownDescription: "Taint value (may be empty)."},
				"effect": schema.StringAttribute{
					Required:            true,
					MarkdownDescription: "`NoSchedule`, `PreferNoSchedule` or `NoExecute`.",
					Validators:          []validator.String{stringvalidator.OneOf("NoSchedule", "PreferNoSchedule", "NoExecute")},
				},
			}},
		},
	}
}

func taintPlanModifiers(gpu bool) []planmodifier.List {
	if gpu {
		return []planmodifier.List{listplanmodifier.UseNonNullStateForUnknown()}
	}
	return nil
}

func databasesSchema() schema.MapNestedAttribute {
	return schema.MapNestedAttribute{
		Optional: true,
		MarkdownDescription: "Managed databases by logical name (`vectors`, `cache`...; 2-20 lowercase letters, digits, " +
			"dashes): the stateful memory layer, on the stack's VPC, trusted by the cluster only.",
		Validators: []validator.Map{mapvalidator.KeysAre(stringvalidator.RegexMatches(keyPattern, "must be 2-20 lowercase letters, digits and dashes, starting with a letter"))},
		NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
			"existing_id": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Attach a database this stack does not own (it must be on the stack's VPC): the stack " +
					"adds its trusted sources, users and pools and never deletes the database.",
			},
			"engine": schema.StringAttribute{
				Optional: true, Computed: true,
				MarkdownDescription: "`pg`, `mysql`, `valkey`, `mongodb`, `opensearch` or `kafka`. Required unless `existing_id` is set.",
				Validators:          []validator.String{stringvalidator.OneOf("pg", "mysql", "valkey", "mongodb", "opensearch", "kafka")},
				PlanModifiers:       stableString,
			},
			"version": schema.StringAttribute{
				Optional: true, Computed: true,
				MarkdownDescription: "Engine version, e.g. `17`. Unset: the newest DigitalOcean offers. Changing it replaces the database.",
				PlanModifiers:       stableString,
			},
			"size": schema.StringAttribute{
				Optional: true, Computed: true,
				MarkdownDescription: "Node size, e.g. `db-s-2vcpu-4gb`. Required unless `existing_id` is set. Resized in place.",
				PlanModifiers:       stableString,
			},
			"node_count": schema.Int64Attribute{
				Optional: true, Computed: true,
				MarkdownDescription: "Nodes, the primary included. Default: one standby for automatic failover (2 for " +
					"pg, mysql and valkey; 3 for mongodb, opensearch and kafka). Changed in place.",
				PlanModifiers: stableInt64,
			},
			"storage_size_mib": schema.Int64Attribute{
				Optional: true, Computed: true,
				MarkdownDescription: "Disk size in MiB, for engines with configurable storage. Unset: the size's default. At least 1, or `0` on valkey (what the provider reads back where storage is not configurable, so configuration generated on import validates). Grown in place.",
				PlanModifiers:       stableInt64,
				Validators:          []validator.Int64{storageSizeValidator{}},
			},
			"maintenance_window": schema.SingleNestedAttribute{
				Optional:            true,
				MarkdownDescription: "When DigitalOcean may patch the database.",
				Attributes: map[string]schema.Attribute{
					"day": schema.StringAttribute{
						Required:            true,
						MarkdownDescription: "A weekday in lowercase.",
						Validators:          []validator.String{stringvalidator.OneOf("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")},
					},
					"hour": schema.StringAttribute{
						Required:            true,
						MarkdownDescription: "Start, `HH:MM` in UTC.",
						Validators:          []validator.String{stringvalidator.RegexMatches(hhmmPattern, "must be HH:MM (24-hour, UTC)")},
					},
				},
			},
			"dbs": schema.SetAttribute{
				Optional: true, ElementType: types.StringType,
				MarkdownDescription: "Logical databases to create (pg, mysql, mongodb). Removing one drops it: refused while `deletion_protection` is on.",
				Validators: []validator.Set{setvalidator.ValueStringsAre(stringvalidator.RegexMatches(dbNamePattern,
					"must be 1-63 letters, digits, underscores, dollar signs and dashes, not starting with a dash or dollar sign"))},
			},
			"users": schema.SetAttribute{
				Optional: true, ElementType: types.StringType,
				MarkdownDescription: "Users to create; their passwords are in `connection_env`. Not on valkey, which has only its default user.",
				Validators: []validator.Set{setvalidator.ValueStringsAre(stringvalidator.RegexMatches(userNamePattern,
					"must be 1-63 letters, digits, underscores, dots and dashes, not starting with a dot or dash"))},
			},
			"rotate_passwords": schema.MapAttribute{
				Optional: true, ElementType: types.Int64Type,
				MarkdownDescription: "Password rotation on demand: a version per user (a name in `users`, or `doadmin` for " +
					"the admin). Raising a version resets that user's password (DigitalOcean's `reset_auth`) at the next apply; " +
					"the new one reaches `connection_env` and `password`/`private_uri` (when `store_secrets` is on). Versions " +
					"start at 0 and may only go up; a user created with a version gets a fresh password and no reset. Removing " +
					"an entry forgets its version. Not on valkey, which has no password reset.",
				Validators: []validator.Map{mapvalidator.ValueInt64sAre(int64validator.AtLeast(0))},
			},
			"pools": schema.MapNestedAttribute{
				Optional:            true,
				MarkdownDescription: "PgBouncer connection pools by name (pg only; 3-60 letters, digits, underscores and dashes).",
				Validators:          []validator.Map{mapvalidator.KeysAre(stringvalidator.RegexMatches(poolNamePattern, poolNameRule))},
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"mode": schema.StringAttribute{
						Optional: true, Computed: true, Default: stringdefault.StaticString("transaction"),
						MarkdownDescription: "`transaction` (default), `session` or `statement`.",
						Validators:          []validator.String{stringvalidator.OneOf("transaction", "session", "statement")},
					},
					"size": schema.Int64Attribute{
						Required: true, MarkdownDescription: "Backend connections the pool may open.",
						Validators: []validator.Int64{int64validator.Between(1, 10000)},
					},
					"db": schema.StringAttribute{
						Optional: true, Computed: true, Default: stringdefault.StaticString("defaultdb"),
						MarkdownDescription: "Database the pool connects to. Default `defaultdb`.",
					},
					"user": schema.StringAttribute{
						Optional: true, Computed: true, Default: stringdefault.StaticString("doadmin"),
						MarkdownDescription: "User the pool connects as. Default `doadmin`.",
					},
					"private_host": computedString("Private host of the pool."),
					"port":         schema.Int64Attribute{Computed: true, MarkdownDescription: "Port of the pool.", PlanModifiers: stableInt64},
					"private_uri":  sensitiveString("Private connection URI of the pool."),
				}},
			},
			"replicas": schema.MapNestedAttribute{
				Optional: true,
				MarkdownDescription: "Read replicas by key (pg and mysql; 2-20 lowercase letters, digits, dashes), named " +
					"`<name>-<database key>-<key>` (at most 63 characters, unique in the account).",
				Validators: []validator.Map{mapvalidator.KeysAre(stringvalidator.RegexMatches(keyPattern, "must be 2-20 lowercase letters, digits and dashes, starting with a letter"))},
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"region": schema.StringAttribute{
						Optional: true, Computed: true, PlanModifiers: stableString,
						MarkdownDescription: "Region of the replica. Default: the stack's. Changing it replaces the replica.",
					},
					"size": schema.StringAttribute{
						Optional: true, Computed: true, PlanModifiers: stableString,
						MarkdownDescription: "Size of the replica (not smaller than the primary). Default: the primary's. Changed in place: the replica is resized, keeping its id.",
					},
					"id":           computedString("Id of the replica."),
					"private_host": computedString("Private host of the replica."),
				}},
			},
			"eviction_policy": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "Valkey eviction policy: `noeviction`, `allkeys_lru`, `allkeys_random`, `volatile_lru`, `volatile_random` or `volatile_ttl`.",
				Validators:          []validator.String{stringvalidator.OneOf("noeviction", "allkeys_lru", "allkeys_random", "volatile_lru", "volatile_random", "volatile_ttl")},
			},
			"trusted_sources": schema.ListNestedAttribute{
				Optional: true,
				MarkdownDescription: "Extra firewall trusted sources besides the cluster. Rules added outside Terraform are " +
					"preserved; only the stack's own rules are ever changed. DigitalOcean allows 100 rules per database, the " +
					"cluster's rule and rules added outside the stack included, and IPv4 addresses only.",
				NestedObject: schema.NestedAttributeObject{Validators: []validator.Object{trustedSourceValidator{}}, Attributes: map[string]schema.Attribute{
					"type": schema.StringAttribute{
						Required: true, MarkdownDescription: "`ip_addr`, `droplet`, `k8s`, `tag` or `app`.",
						Validators: []validator.String{stringvalidator.OneOf("ip_addr", "droplet", "k8s", "tag", "app")},
					},
					"value": schema.StringAttribute{Required: true, MarkdownDescription: "The address, CIDR, id or tag (`ip_addr`: IPv4 only, as DigitalOcean refuses IPv6 trusted sources)."},
				}},
			},
			"deletion_protection": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(true),
				MarkdownDescription: "Refuse, at plan time, to delete the database (removing it, replacing it, destroying " +
					"the stack) once it has held data. Default `true`.",
			},
			"retain_on_destroy": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(false),
				MarkdownDescription: "Leave the database running, detached from the cluster, when the stack is destroyed or the database removed from it.",
			},
			"id":                  computedString("Id of the database cluster."),
			"urn":                 computedString("URN of the database cluster."),
			"private_host":        computedString("Private host, on the stack's VPC."),
			"port":                schema.Int64Attribute{Computed: true, MarkdownDescription: "Port.", PlanModifiers: stableInt64},
			"user":                computedString("Admin user."),
			"password":            sensitiveString("Admin password."),
			"database":            computedString("Default database."),
			"private_uri":         sensitiveString("Private connection URI (admin user)."),
			"attached_cluster_id": computedString("The cluster the database's firewall trusts; differs from `cluster_id` when the rule was removed outside Terraform."),
			"config":              databaseConfigAttribute(),
			"user_settings":       userSettingsAttribute(),
			"topics":              topicsAttribute(),
			"restore_from":        restoreFromAttribute(),
			"storage_autoscale": schema.SingleNestedAttribute{
				Optional: true,
				MarkdownDescription: "Storage autoscaling (DigitalOcean's `/v2/databases/{id}/autoscale`): DigitalOcean adds " +
					"`increment_gib` of storage whenever usage crosses `threshold_percent`, without an apply. Changed in place; " +
					"a change made outside Terraform shows as drift. Unset: left as DigitalOcean has it. Not on valkey, which " +
					"has no storage to add. Storage DigitalOcean adds shows in `storage_size_mib`: with autoscaling on, leave `storage_size_mib` unset " +
					"(or raise it to match), or the next plan asks to shrink it back.",
				Attributes: map[string]schema.Attribute{
					"enabled": schema.BoolAttribute{
						Required: true, MarkdownDescription: "Whether DigitalOcean grows the storage on its own.",
					},
					"threshold_percent": schema.Int64Attribute{
						Optional: true, Computed: true, Default: int64default.StaticInt64(80),
						MarkdownDescription: "Storage used, in percent (15-95), that triggers a scale-up. Default `80`.",
						Validators:          []validator.Int64{int64validator.Between(15, 95)},
					},
					"increment_gib": schema.Int64Attribute{
						Optional: true, Computed: true, Default: int64default.StaticInt64(10),
						MarkdownDescription: "Storage added per scale-up, in GiB (10-500). Default `10`.",
						Validators:          []validator.Int64{int64validator.Between(10, 500)},
					},
				},
			},
		}},
	}
}

func rangeChanged(_ context.Context, req planmodifier.StringRequest, resp *stringplanmodifier.RequiresReplaceIfFuncResponse) {
	resp.RequiresReplace = !req.StateValue.IsNull() && !req.PlanValue.IsNull() && !req.PlanValue.IsUnknown() &&
		req.StateValue.ValueString() != req.PlanValue.ValueString()
}

// keepStateWhenUnset plans the prior value of an Optional+Computed
// attribute left out of the configuration (null at create), so leaving it
// unset never shows as a change.
type keepStateWhenUnset struct{}

func (keepStateWhenUnset) Description(context.Context) string {
	return "Unset in configuration: keeps the value in state (none at create)."
}

func (m keepStateWhenUnset) MarkdownDescription(ctx context.Context) string {
	return m.Description(ctx)
}

func (keepStateWhenUnset) PlanModifyString(_ context.Context, req planmodifier.StringRequest, resp *planmodifier.StringResponse) {
	if req.ConfigValue.IsNull() {
		resp.PlanValue = req.StateValue
	}
}
