################################################################################
# Stack
################################################################################

variable "name" {
  description = "Stack name: 3-40 lowercase letters, digits and dashes. Names the VPC (`<name>-vpc`), the cluster (`<name>`), the databases (`<name>-<key>`) and the tag `attach-stack:<name>` an app workspace finds them by."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,38}[a-z0-9]$", var.name))
    error_message = "name must be 3-40 lowercase letters, digits and dashes, starting with a letter and not ending with a dash, not \"${var.name}\"."
  }
}

variable "region" {
  description = "DigitalOcean region of the VPC, cluster and databases, e.g. `tor1` (see `gpu_sizes_by_region` of the `attach_kubernetes_options` data source for GPU regions)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{3}[0-9]$", var.region))
    error_message = "region must be a DigitalOcean region slug such as tor1, nyc2 or atl1, not \"${var.region}\"."
  }
}

variable "project_id" {
  description = "DigitalOcean project every part is assigned to. Null: the account's default project."
  type        = string
  default     = null
}

variable "tags" {
  description = "Extra tags on every part (the stack tag `attach-stack:<name>` is always added)."
  type        = set(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for t in var.tags : can(regex("^[A-Za-z0-9:_-]{1,255}$", t))])
    error_message = "tags may contain only letters, digits, colons, dashes and underscores (at most 255 characters each): ${join(", ", [for t in var.tags : "\"${t}\"" if !can(regex("^[A-Za-z0-9:_-]{1,255}$", t))])}."
  }
}

variable "vpc_id" {
  description = "An existing VPC in `region` to build in; the stack never modifies or deletes it. Null: the stack creates `<name>-vpc`."
  type        = string
  default     = null
}

variable "vpc_ip_range" {
  description = "CIDR of the VPC the stack creates: a private (RFC 1918) range from /16 to /24. Null: DigitalOcean picks a free /20. Ignored with `vpc_id`."
  type        = string
  default     = null

  validation {
    condition = var.vpc_ip_range == null || try(
      tonumber(split("/", var.vpc_ip_range)[1]) >= 16 &&
      tonumber(split("/", var.vpc_ip_range)[1]) <= 24 &&
      (
        cidrhost("${split("/", var.vpc_ip_range)[0]}/8", 0) == "10.0.0.0" ||
        cidrhost("${split("/", var.vpc_ip_range)[0]}/12", 0) == "172.16.0.0" ||
        cidrhost("${split("/", var.vpc_ip_range)[0]}/16", 0) == "192.168.0.0"
      ),
      false
    )
    error_message = "vpc_ip_range must be a private (RFC 1918: 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16) CIDR from /16 to /24, e.g. 10.20.0.0/20, not \"${coalesce(var.vpc_ip_range, "-")}\"."
  }
}

variable "timeouts" {
  description = "Create, update and delete timeouts of the stack (e.g. `60m`). Null: the provider's defaults (60m, 60m, 30m)."
  type = object({
    create = optional(string)
    update = optional(string)
    delete = optional(string)
  })
  default = null

  validation {
    condition = var.timeouts == null ? true : alltrue([
      for t in [var.timeouts.create, var.timeouts.update, var.timeouts.delete] : t == null ? true : can(regex("^([0-9]+h)?([0-9]+m)?([0-9]+s)?$", t)) && t != ""
    ])
    error_message = "timeouts.create, update and delete must be durations such as 45m, 1h or 1h30m: ${join(", ", [for k, t in(var.timeouts == null ? {} : { create = var.timeouts.create, update = var.timeouts.update, delete = var.timeouts.delete }) : "timeouts.${k} = \"${t}\"" if t != null && !(can(regex("^([0-9]+h)?([0-9]+m)?([0-9]+s)?$", coalesce(t, "-"))) && t != "")])}."
  }
}

################################################################################
# Cluster: the stateless execution layer
################################################################################

variable "kubernetes_version" {
  description = "DOKS version: a prefix such as `1.33` (the newest matching release) or a full slug such as `1.33.1-do.0`. Null: the newest. Raising it upgrades in place."
  type        = string
  default     = null

  validation {
    condition     = var.kubernetes_version == null || can(regex("^[0-9]+\\.[0-9]+(\\.[0-9]+-do\\.[0-9]+)?$", var.kubernetes_version))
    error_message = "kubernetes_version must be a prefix such as 1.33 or a DOKS slug such as 1.33.1-do.0, not \"${coalesce(var.kubernetes_version, "-")}\"."
  }
}

variable "maintenance_window" {
  description = "When DOKS may apply automatic patch upgrades (surge upgrades keep capacity up meanwhile): `day` (`any` or a lowercase weekday) and `start_time` (`HH:MM`, UTC)."
  type = object({
    day        = optional(string, "sunday")
    start_time = optional(string, "04:00")
  })
  default  = {}
  nullable = false

  validation {
    condition     = contains(["any", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"], var.maintenance_window.day)
    error_message = "maintenance_window.day must be any or a lowercase weekday (monday ... sunday), not \"${var.maintenance_window.day}\"."
  }

  validation {
    condition     = can(regex("^([01][0-9]|2[0-3]):[0-5][0-9]$", var.maintenance_window.start_time))
    error_message = "maintenance_window.start_time must be HH:MM in 24-hour UTC, e.g. 04:00, not \"${var.maintenance_window.start_time}\"."
  }
}

variable "cluster_subnet" {
  description = "Pod network CIDR. Null: the DOKS default `10.244.0.0/16`. Changing it replaces the cluster only (databases stay)."
  type        = string
  default     = null
}

variable "service_subnet" {
  description = "Service network CIDR. Null: the DOKS default `10.245.0.0/16`. Changing it replaces the cluster only (databases stay)."
  type        = string
  default     = null
}

variable "control_plane_allowed_addresses" {
  description = "Required: the IP addresses and CIDR blocks allowed to reach the Kubernetes API (the cluster's control plane firewall, on by default): your operators, CI runners (a Terraform Cloud agent's or runner's egress addresses), VPN. The cluster's own nodes always reach it. `0.0.0.0/0` is refused; to leave the API reachable from anywhere, set `disable_control_plane_firewall = true` (and `[]` here)."
  type        = list(string)
  nullable    = false

  validation {
    condition = alltrue([
      for a in var.control_plane_allowed_addresses :
      can(cidrhost(strcontains(a, "/") ? a : (strcontains(a, ":") ? "${a}/128" : "${a}/32"), 0)) && (!strcontains(a, "/") || try(cidrhost(a, 0) == split("/", a)[0], false))
    ])
    error_message = "control_plane_allowed_addresses must be IP addresses (203.0.113.7) or CIDR blocks without host bits (203.0.113.0/24), not ${join(", ", [for a in var.control_plane_allowed_addresses : "\"${a}\"" if !(can(cidrhost(strcontains(a, "/") ? a : (strcontains(a, ":") ? "${a}/128" : "${a}/32"), 0)) && (!strcontains(a, "/") || try(cidrhost(a, 0) == split("/", a)[0], false)))])}."
  }
}

variable "cluster_autoscaler" {
  description = "How the cluster autoscaler treats the autoscaled pools: what decides how long an idle GPU node keeps costing money. GPU-friendly defaults: `scale_down_unneeded_time = \"5m\"` (the autoscaler's own default is 10m: an idle GPU node is removed after 5 minutes unneeded, halving the idle time billed per scale-down), `scale_down_utilization_threshold = 0.5` (a GPU node whose pods request less than half its GPUs is a candidate; the autoscaler's default, made explicit), `expanders = [\"least_waste\"]` (with several GPU pools, grow the one whose new node leaves the least capacity idle, so a one-GPU pod does not bring up an eight-GPU node). Raise the time for workloads that come back in bursts (a node started again costs minutes of image pulls and model loading)."
  type = object({
    scale_down_utilization_threshold = optional(number, 0.5)
    scale_down_unneeded_time         = optional(string, "5m")
    expanders                        = optional(list(string), ["least_waste"])
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.cluster_autoscaler.scale_down_utilization_threshold >= 0 && var.cluster_autoscaler.scale_down_utilization_threshold <= 1
    error_message = "cluster_autoscaler.scale_down_utilization_threshold must be between 0 and 1, not ${var.cluster_autoscaler.scale_down_utilization_threshold}."
  }

  validation {
    condition     = can(regex("^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$", var.cluster_autoscaler.scale_down_unneeded_time))
    error_message = "cluster_autoscaler.scale_down_unneeded_time must be a duration such as 5m, 90s or 1h30m, not \"${var.cluster_autoscaler.scale_down_unneeded_time}\"."
  }

  validation {
    condition     = length(var.cluster_autoscaler.expanders) > 0 && length(distinct(var.cluster_autoscaler.expanders)) == length(var.cluster_autoscaler.expanders) && alltrue([for e in var.cluster_autoscaler.expanders : contains(["least_waste", "priority", "random"], e)])
    error_message = "cluster_autoscaler.expanders must list least_waste, priority or random, each at most once, not [${join(", ", var.cluster_autoscaler.expanders)}]."
  }
}

variable "kubeconfig_expiry_seconds" {
  description = "Lifetime of the token in the `kubeconfig` output, in seconds (DigitalOcean's `expiry_seconds`): 3600 (an hour) to 315360000. Default `86400` (a day; DigitalOcean's own default is 7 days): refresh fetches a new token when less than half the lifetime remains, so every run of up to 12 hours, plan to apply, finds a working token, and a token copied out of the state stops working within a day. Terraform Cloud runners: each run starts from the remote state, so the half-lifetime must cover the longest run including its wait for approval; raise it (e.g. `172800` for runs that wait up to a day) rather than lowering it, or set `store_secrets = false` and give each run its own short-lived token with the `attach_kubernetes_credentials` ephemeral resource. Changing it fetches a new kubeconfig in place."
  type        = number
  default     = 86400
  nullable    = false

  validation {
    condition     = var.kubeconfig_expiry_seconds >= 3600 && var.kubeconfig_expiry_seconds <= 315360000 && floor(var.kubeconfig_expiry_seconds) == var.kubeconfig_expiry_seconds
    error_message = "kubeconfig_expiry_seconds must be a whole number of seconds from 3600 (an hour) to 315360000 (ten years), not ${var.kubeconfig_expiry_seconds}."
  }
}

variable "cluster_plugins" {
  description = "The cluster's GPU plugins and routing agent. Null keys follow the GPU vendors of `gpu_pools`, decided at plan time and shown in the plan: `nvidia_gpu_device_plugin` on when a pool has an NVIDIA size (every `gpu-` size but `gpu-mi...`), `amd_gpu_device_plugin` on when a pool has an AMD size (`gpu-mi300x...`), `rdma_shared_dev_plugin` on when a pool has 8-GPU machines (`...x8-...`, multi-node RDMA networking), as DigitalOcean does; `amd_gpu_device_metrics_exporter_plugin` on when a pool is AMD (the module's choice: per-GPU utilisation, memory and power as Prometheus metrics; DigitalOcean leaves it off). `routing_agent` defaults to `false` (DOKS's custom node routes, unneeded unless you route egress through a gateway). A device plugin set to `false` while a pool of its vendor exists is refused: that pool's GPUs would not be schedulable."
  type = object({
    nvidia_gpu_device_plugin               = optional(bool)
    amd_gpu_device_plugin                  = optional(bool)
    amd_gpu_device_metrics_exporter_plugin = optional(bool)
    rdma_shared_dev_plugin                 = optional(bool)
    routing_agent                          = optional(bool, false)
  })
  default  = {}
  nullable = false
  # Each key is typed bool; the cross-check against gpu_pools (a device
  # plugin off while its vendor's pool exists) is a precondition in main.tf.
}

variable "system_pool" {
  description = "The CPU pool for system workloads (CoreDNS, controllers, ingress): a CPU `size` and a fixed `node_count` of at least 2, so system workloads survive the loss of a node; `tags` are the pool's own, on top of `tags`."
  type = object({
    size       = optional(string, "s-4vcpu-8gb")
    node_count = optional(number, 2)
    labels     = optional(map(string), {})
    tags       = optional(set(string), [])
  })
  default  = {}
  nullable = false

  validation {
    condition     = !startswith(var.system_pool.size, "gpu-")
    error_message = "system_pool.size must be a CPU size such as s-4vcpu-8gb, not \"${var.system_pool.size}\"; put GPU sizes in gpu_pools."
  }

  validation {
    condition     = floor(var.system_pool.node_count) == var.system_pool.node_count && var.system_pool.node_count >= 2 && var.system_pool.node_count <= 100
    error_message = "system_pool.node_count must be a whole number from 2 to 100, not ${var.system_pool.node_count}: one node would take CoreDNS and the controllers down with it."
  }

  validation {
    condition     = alltrue([for t in var.system_pool.tags : can(regex("^[a-zA-Z0-9_:-]{1,255}$", t))])
    error_message = "system_pool.tags may contain only letters, digits, colons, dashes and underscores (1-255 characters, DigitalOcean's tag names), not ${join(", ", [for t in var.system_pool.tags : "\"${t}\"" if !can(regex("^[a-zA-Z0-9_:-]{1,255}$", t))])}."
  }
}

variable "gpu_pools" {
  description = "GPU pools by name (2-20 lowercase letters, digits, dashes). Each autoscales between `min_nodes` (default 0: an idle pool costs nothing) and `max_nodes`, and is tainted (`taints` null: the GPU vendor's `nvidia.com/gpu:NoSchedule` or `amd.com/gpu:NoSchedule`) so only GPU workloads land there. `tags` are the pool's own, on top of `tags` (e.g. a cost center per GPU pool)."
  type = map(object({
    size      = string
    max_nodes = number
    min_nodes = optional(number, 0)
    labels    = optional(map(string), {})
    tags      = optional(set(string), [])
    taints = optional(list(object({
      key    = string
      value  = optional(string, "")
      effect = string
    })))
  }))
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for name in keys(var.gpu_pools) : can(regex("^[a-z][a-z0-9-]{0,18}[a-z0-9]$", name))])
    error_message = "gpu_pools keys must be 2-20 lowercase letters, digits and dashes, starting with a letter and not ending with a dash: rename ${join(", ", [for name in keys(var.gpu_pools) : "gpu_pools[\"${name}\"]" if !can(regex("^[a-z][a-z0-9-]{0,18}[a-z0-9]$", name))])}."
  }

  validation {
    condition     = alltrue([for p in var.gpu_pools : startswith(p.size, "gpu-")])
    error_message = "gpu_pools[*].size must be a GPU size such as gpu-h100x1-80gb, not ${join(", ", [for name, p in var.gpu_pools : "gpu_pools[\"${name}\"].size = \"${p.size}\"" if !startswith(p.size, "gpu-")])}; CPU capacity belongs in system_pool."
  }

  validation {
    condition = alltrue([
      for p in var.gpu_pools :
      floor(p.min_nodes) == p.min_nodes && floor(p.max_nodes) == p.max_nodes &&
      p.min_nodes >= 0 && p.max_nodes >= 1 && p.max_nodes <= 100 && p.min_nodes <= p.max_nodes
    ])
    error_message = "gpu_pools[*] must satisfy 0 <= min_nodes <= max_nodes <= 100 with max_nodes >= 1 (whole numbers), not ${join(", ", [for name, p in var.gpu_pools : "gpu_pools[\"${name}\"] (min_nodes = ${p.min_nodes}, max_nodes = ${p.max_nodes})" if !(floor(p.min_nodes) == p.min_nodes && floor(p.max_nodes) == p.max_nodes && p.min_nodes >= 0 && p.max_nodes >= 1 && p.max_nodes <= 100 && p.min_nodes <= p.max_nodes)])}."
  }

  validation {
    condition = alltrue([
      for p in var.gpu_pools : p.taints == null || (
        length(coalesce(p.taints, [])) > 0 &&
        alltrue([for t in coalesce(p.taints, []) : contains(["NoSchedule", "PreferNoSchedule", "NoExecute"], t.effect)])
      )
    ])
    error_message = "gpu_pools[*].taints must be null (the GPU vendor's taint) or a non-empty list with effects NoSchedule, PreferNoSchedule or NoExecute: an untainted GPU pool lets any pod take a GPU node. Fix ${join(", ", [for name, p in var.gpu_pools : "gpu_pools[\"${name}\"].taints (${length(coalesce(p.taints, [])) == 0 ? "empty" : join(", ", [for t in coalesce(p.taints, []) : "${t.key} ${t.effect}"])})" if !(p.taints == null || (length(coalesce(p.taints, [])) > 0 && alltrue([for t in coalesce(p.taints, []) : contains(["NoSchedule", "PreferNoSchedule", "NoExecute"], t.effect)])))])}."
  }

  validation {
    condition     = alltrue(flatten([for p in var.gpu_pools : [for t in p.tags : can(regex("^[a-zA-Z0-9_:-]{1,255}$", t))]]))
    error_message = "gpu_pools[*].tags may contain only letters, digits, colons, dashes and underscores (1-255 characters, DigitalOcean's tag names), not ${join(", ", flatten([for name, p in var.gpu_pools : [for t in p.tags : "gpu_pools[\"${name}\"].tags \"${t}\"" if !can(regex("^[a-zA-Z0-9_:-]{1,255}$", t))]]))}."
  }
}

################################################################################
# Databases: the stateful memory layer
################################################################################

variable "databases" {
  description = <<-EOT
    Managed databases by logical key (2-20 lowercase letters, digits, dashes), on the stack's VPC, trusted by the cluster only.
    Each has `engine` (pg, mysql, valkey, mongodb, opensearch or kafka), `size`, optional `version`, `node_count` (null: one
    standby for automatic failover, 2 for pg/mysql/valkey and 3 for mongodb/opensearch/kafka; 1 needs
    `allow_single_node_databases`), `storage_size_mib`, `storage_autoscale` (null: on, at 80% full in 10 GiB steps, unless `disable_storage_autoscaling`; not on Valkey), `app_databases` (pg/mysql/mongodb: per app a db and a user of that
    name and, for pg, a transaction-mode PgBouncer pool of `pool_size` connections, so pg app names are 3-60 characters),
    `dbs` (logical databases of their own, beside the apps', e.g. the dbs of an adopted estate; pg/mysql/mongodb),
    `users` (standalone users, e.g. a read-only analyst or an adopted estate's own user; not on valkey), `rotate_passwords` (a version per app, user or
    `doadmin`: raising one resets that password at the next apply; versions only go up; not on valkey), `pools` (standalone PgBouncer pools on pg,
    each exactly as given and never rewritten: `size`, `mode` (default transaction), `db` (default defaultdb; else an
    `app_databases` key or a `dbs` entry) and `user` (default doadmin; else an `app_databases` key or a `users` entry)),
    `kubernetes_secrets` (connection Secrets beside the apps' defaults, by name (1-63 lowercase letters, digits, dashes):
    Secret `<key>-<name>-connection` connecting as `user` (a `users` entry or `app_databases` key, never doadmin; null: the
    user of `pool`) and holding the URL of `pool` (a `pools` or, on pg, `app_databases` key), if any; an entry named
    like an app (underscores as dashes) replaces that app's default Secret), `replicas` (pg/mysql read replicas),
    `eviction_policy` (valkey), `trusted_sources` (extra firewall rules, IPv4 only, at most 99; public addresses need
    `allow_public_trusted_sources`), `maintenance_window` (null: `database_maintenance_window`), `deletion_protection`
    (default true: the plan refuses to delete the database once it has held data), `retain_on_destroy`, `config`
    (engine settings by name, values as strings: `{ max_connections = "200", work_mem = "16" }`, JSON for arrays and
    objects; names, types and ranges are DigitalOcean's for the engine and checked by the provider at plan time; only the
    settings listed are managed, and removing one leaves it as it is on DigitalOcean),
    `user_settings` (per user, a key of `users` or `app_databases`: `kafka_acls` on kafka, `opensearch_acls` on opensearch
    (an OpenSearch user without them can do nothing), `mysql_auth_plugin` on mysql; changed in place) and `topics`
    (kafka: per topic `partitions` (3-2048, default 3, can only grow), `replication_factor` (default 2, at most
    `node_count`) and `config` (DigitalOcean's kafka_topic_config settings, as strings); removing a topic deletes it,
    refused while `deletion_protection` is on).
    To adopt an estate whose pools connect as users of their own, declare its `dbs`, `users` and `pools` as they are
    rather than `app_databases` (whose pool would connect as the app's user).
    `existing_id` attaches a database the stack does not own (on the stack's VPC): leave `engine`, `version`, `size`,
    `node_count`, `storage_size_mib` and `replicas` unset (DigitalOcean describes it); the stack adds its rule, users, dbs
    and pools and never deletes it.
  EOT
  type = map(object({
    existing_id      = optional(string)
    engine           = optional(string)
    size             = optional(string)
    version          = optional(string)
    node_count       = optional(number)
    storage_size_mib = optional(number)
    storage_autoscale = optional(object({
      enabled           = optional(bool, true)
      threshold_percent = optional(number, 80)
      increment_gib     = optional(number, 10)
    }))
    app_databases = optional(map(object({
      pool_size = optional(number, 20)
    })), {})
    dbs              = optional(set(string), [])
    users            = optional(set(string), [])
    rotate_passwords = optional(map(number), {})
    pools = optional(map(object({
      size = number
      mode = optional(string, "transaction")
      db   = optional(string)
      user = optional(string)
    })), {})
    kubernetes_secrets = optional(map(object({
      user = optional(string)
      pool = optional(string)
    })), {})
    replicas = optional(map(object({
      region = optional(string)
      size   = optional(string)
    })), {})
    eviction_policy = optional(string)
    trusted_sources = optional(list(object({
      type  = string
      value = string
    })), [])
    maintenance_window = optional(object({
      day  = string
      hour = string
    }))
    deletion_protection = optional(bool, true)
    retain_on_destroy   = optional(bool, false)
    config              = optional(map(string), {})
    user_settings = optional(map(object({
      mysql_auth_plugin = optional(string)
      kafka_acls = optional(list(object({
        topic      = string
        permission = string
      })), [])
      opensearch_acls = optional(list(object({
        index      = string
        permission = string
      })), [])
    })), {})
    topics = optional(map(object({
      partitions         = optional(number, 3)
      replication_factor = optional(number, 2)
      config             = optional(map(string), {})
    })), {})
  }))
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for key in keys(var.databases) : can(regex("^[a-z][a-z0-9-]{0,18}[a-z0-9]$", key))])
    error_message = "databases keys must be 2-20 lowercase letters, digits and dashes, starting with a letter and not ending with a dash: rename ${join(", ", [for key in keys(var.databases) : "databases[\"${key}\"]" if !can(regex("^[a-z][a-z0-9-]{0,18}[a-z0-9]$", key))])}."
  }

  validation {
    condition     = alltrue([for db in var.databases : db.engine == null || contains(["pg", "mysql", "valkey", "mongodb", "opensearch", "kafka"], coalesce(db.engine, "pg"))])
    error_message = "databases[*].engine must be pg, mysql, valkey, mongodb, opensearch or kafka, not ${join(", ", [for key, db in var.databases : "databases[\"${key}\"].engine = \"${db.engine}\"" if db.engine != null && !contains(["pg", "mysql", "valkey", "mongodb", "opensearch", "kafka"], coalesce(db.engine, "pg"))])}."
  }

  validation {
    condition = alltrue([
      for db in var.databases : db.node_count == null || (
        floor(coalesce(db.node_count, 0)) == coalesce(db.node_count, 0) && coalesce(db.node_count, 0) >= 1 && coalesce(db.node_count, 0) <= 15
      )
    ])
    error_message = "databases[*].node_count must be null (one standby, the default) or a whole number from 1 to 15, not ${join(", ", [for key, db in var.databases : "databases[\"${key}\"].node_count = ${db.node_count}" if db.node_count != null && !(floor(coalesce(db.node_count, 0)) == coalesce(db.node_count, 0) && coalesce(db.node_count, 0) >= 1 && coalesce(db.node_count, 0) <= 15)])}."
  }

  validation {
    condition = alltrue([
      for db in var.databases : db.size != "db-s-1vcpu-1gb" || db.node_count == 1
    ])
    error_message = "databases[*].size db-s-1vcpu-1gb cannot carry a standby node: choose db-s-1vcpu-2gb or larger (the module's default keeps a standby) for ${join(", ", [for key, db in var.databases : "databases[\"${key}\"].size = \"${db.size}\"" if db.size == "db-s-1vcpu-1gb" && db.node_count != 1])}."
  }

  validation {
    condition     = alltrue([for db in var.databases : db.eviction_policy == null || db.engine == "valkey"])
    error_message = "databases[*].eviction_policy applies to valkey only: remove it from ${join(", ", [for key, db in var.databases : "databases[\"${key}\"] (${coalesce(db.engine, "existing_id")})" if db.eviction_policy != null && db.engine != "valkey"])}."
  }

  validation {
    condition = alltrue([
      for db in var.databases : db.eviction_policy == null ||
      contains(["noeviction", "allkeys_lru", "allkeys_random", "volatile_lru", "volatile_random", "volatile_ttl"], coalesce(db.eviction_policy, "noeviction"))
    ])
    error_message = "databases[*].eviction_policy must be noeviction, allkeys_lru, allkeys_random, volatile_lru, volatile_random or volatile_ttl, not ${join(", ", [for key, db in var.databases : "databases[\"${key}\"].eviction_policy = \"${db.eviction_policy}\"" if db.eviction_policy != null && !contains(["noeviction", "allkeys_lru", "allkeys_random", "volatile_lru", "volatile_random", "volatile_ttl"], coalesce(db.eviction_policy, "noeviction"))])}."
  }

  validation {
    condition     = alltrue([for db in var.databases : length(db.app_databases) == 0 || db.engine == null || contains(["pg", "mysql", "mongodb"], coalesce(db.engine, "pg"))])
    error_message = "databases[*].app_databases is for pg, mysql and mongodb only, not ${join(", ", [for key, db in var.databases : "databases[\"${key}\"] (${db.engine})" if length(db.app_databases) > 0 && db.engine != null && !contains(["pg", "mysql", "mongodb"], coalesce(db.engine, "pg"))])}: each app is a user and a db, and DigitalOcean says \"User management is not supported for Caching or Valkey clusters\" (Valkey has only its default user) while valkey, opensearch and kafka have no logical databases. Remove app_databases there, or use a pg, mysql or mongodb database."
  }

  validation {
    condition = alltrue(flatten([
      for db in var.databases : [for app in keys(db.app_databases) : can(regex("^[a-z][a-z0-9_]{0,62}$", app))]
    ]))
    error_message = "databases[*].app_databases keys name a db, a user and a pool: 1-63 lowercase letters, digits and underscores, starting with a letter. Rename ${join(", ", flatten([for key, db in var.databases : [for app in keys(db.app_databases) : "databases[\"${key}\"].app_databases[\"${app}\"]" if !can(regex("^[a-z][a-z0-9_]{0,62}$", app))]]))}."
  }

  validation {
    condition = alltrue(flatten([
      for db in var.databases : [for app in values(db.app_databases) : floor(app.pool_size) == app.pool_size && app.pool_size >= 1 && app.pool_size <= 10000]
    ]))
    error_message = "databases[*].app_databases[*].pool_size must be a whole number of backend connections from 1 to 10000, not ${join(", ", flatten([for key, db in var.databases : [for app, cfg in db.app_databases : "databases[\"${key}\"].app_databases[\"${app}\"].pool_size = ${cfg.pool_size}" if !(floor(cfg.pool_size) == cfg.pool_size && cfg.pool_size >= 1 && cfg.pool_size <= 10000)]]))}."
  }

  validation {
    condition     = alltrue([for db in var.databases : length(db.replicas) == 0 || contains(["pg", "mysql"], coalesce(db.engine, "-"))])
    error_message = "databases[*].replicas (read replicas) are offered for pg and mysql only, and only on databases the stack owns: remove replicas from ${join(", ", [for key, db in var.databases : "databases[\"${key}\"] (${coalesce(db.engine, "existing_id")})" if length(db.replicas) > 0 && !contains(["pg", "mysql"], coalesce(db.engine, "-"))])}."
  }

  validation {
    condition = alltrue(flatten([
      for db in var.databases : [for s in db.trusted_sources : contains(["ip_addr", "droplet", "k8s", "tag", "app"], s.type)]
    ]))
    error_message = "databases[*].trusted_sources[*].type must be ip_addr, droplet, k8s, tag or app, not ${join(", ", flatten([for key, db in var.databases : [for s in db.trusted_sources : "databases[\"${key}\"].trusted_sources type \"${s.type}\" (value ${s.value})" if !contains(["ip_addr", "droplet", "k8s", "tag", "app"], s.type)]]))}."
  }

  validation {
    condition = alltrue(flatten([
      for db in var.databases : [
        for s in db.trusted_sources : s.type != "ip_addr" || can(cidrhost(strcontains(s.value, "/") ? s.value : "${s.value}/32", 0))
      ]
    ]))
    error_message = "databases[*].trusted_sources[*] of type ip_addr must be an IPv4 address or CIDR, e.g. 10.10.0.5 or 10.10.0.0/24, not ${join(", ", flatten([for key, db in var.databases : [for s in db.trusted_sources : "databases[\"${key}\"].trusted_sources value \"${s.value}\"" if s.type == "ip_addr" && !can(cidrhost(strcontains(s.value, "/") ? s.value : "${s.value}/32", 0))]]))}."
  }

  validation {
    condition = alltrue([
      for db in var.databases : db.maintenance_window == null || try(
        contains(["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"], db.maintenance_window.day) &&
        can(regex("^([01][0-9]|2[0-3]):[0-5][0-9]$", db.maintenance_window.hour)),
        false
      )
    ])
    error_message = "databases[*].maintenance_window must have day as a lowercase weekday (monday ... sunday) and hour as HH:MM in 24-hour UTC, not ${join(", ", [for key, db in var.databases : "databases[\"${key}\"].maintenance_window = { day = \"${try(db.maintenance_window.day, "")}\", hour = \"${try(db.maintenance_window.hour, "")}\" }" if db.maintenance_window != null && !try(contains(["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"], db.maintenance_window.day) && can(regex("^([01][0-9]|2[0-3]):[0-5][0-9]$", db.maintenance_window.hour)), false)])}."
  }

  validation {
    condition = alltrue(flatten([
      for db in var.databases : [for s in db.trusted_sources : s.type != "ip_addr" || !strcontains(s.value, ":")]
    ]))
    error_message = "DigitalOcean refuses IPv6 trusted sources: use IPv4 addresses or CIDR blocks in ${join(", ", flatten([for key, db in var.databases : [for s in db.trusted_sources : "databases[\"${key}\"].trusted_sources value ${s.value}" if s.type == "ip_addr" && strcontains(s.value, ":")]]))}."
  }

  validation {
    condition = alltrue(flatten([
      for db in var.databases : [for app in keys(db.app_databases) : db.engine != "pg" || (length(app) >= 3 && length(app) <= 60)]
    ]))
    error_message = "databases[*].app_databases keys also name the app's PgBouncer pool on pg, and DigitalOcean's pool names are 3-60 characters: rename ${join(", ", flatten([for key, db in var.databases : [for app in keys(db.app_databases) : "databases[\"${key}\"].app_databases[\"${app}\"] (${length(app)} characters)" if db.engine == "pg" && (length(app) < 3 || length(app) > 60)]]))}."
  }

  validation {
    condition     = alltrue([for db in var.databases : length(distinct(db.trusted_sources)) + 1 <= 100])
    error_message = "DigitalOcean allows 100 firewall rules per database and the stack adds one for the cluster, so each database takes at most 99 distinct trusted_sources: ${join(", ", [for key, db in var.databases : "databases[\"${key}\"] has ${length(distinct(db.trusted_sources))}" if length(distinct(db.trusted_sources)) + 1 > 100])}. Merge addresses into CIDR blocks."
  }

  validation {
    condition     = alltrue([for db in var.databases : db.existing_id != null || (db.engine != null && db.size != null)])
    error_message = "Set engine and size on ${join(", ", [for key, db in var.databases : "databases[\"${key}\"] (engine = ${db.engine == null ? "null" : "\"${db.engine}\""}, size = ${db.size == null ? "null" : "\"${db.size}\""})" if db.existing_id == null && (db.engine == null || db.size == null)])}, or existing_id to attach a database the stack does not own."
  }

  validation {
    condition = alltrue([
      for db in var.databases : db.existing_id == null || (
        db.engine == null && db.size == null && db.version == null && db.node_count == null && db.storage_size_mib == null && length(db.replicas) == 0
      )
    ])
    error_message = "A database attached by existing_id is described by DigitalOcean, not by this module: leave engine, version, size, node_count, storage_size_mib and replicas unset on ${join(", ", [for key, db in var.databases : "databases[\"${key}\"] (existing_id = \"${db.existing_id}\")" if db.existing_id != null && !(db.engine == null && db.size == null && db.version == null && db.node_count == null && db.storage_size_mib == null && length(db.replicas) == 0)])}."
  }

  validation {
    condition = alltrue([
      for db in var.databases : db.existing_id == null || can(regex("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", db.existing_id))
    ])
    error_message = "databases[*].existing_id must be a database cluster id (a lowercase UUID), not ${join(", ", [for key, db in var.databases : "databases[\"${key}\"].existing_id = \"${db.existing_id}\"" if db.existing_id != null && !can(regex("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", coalesce(db.existing_id, "-")))])}."
  }

  validation {
    condition = alltrue(flatten([
      for db in var.databases : [for u in db.users : can(regex("^[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,62}$", u)) && db.engine != "valkey"]
    ]))
    error_message = "databases[*].users must be 1-63 letters, digits, underscores, dots and dashes, not starting with a dot or dash, and valkey has only its default user: ${join(", ", flatten([for key, db in var.databases : [for u in db.users : "databases[\"${key}\"].users \"${u}\"${db.engine == "valkey" ? " (valkey)" : ""}" if !can(regex("^[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,62}$", u)) || db.engine == "valkey"]]))}."
  }

  validation {
    condition = alltrue(flatten([
      for db in var.databases : [
        for name, p in db.pools : can(regex("^[a-zA-Z0-9_][a-zA-Z0-9_-]{2,59}$", name)) && contains(["transaction", "session", "statement"], p.mode) &&
        floor(p.size) == p.size && p.size >= 1 && p.size <= 10000 && !contains(db.engine == "pg" ? keys(db.app_databases) : [], name)
      ]
    ]))
    error_message = "databases[*].pools need a name of 3-60 letters, digits, underscores and dashes that no app_databases key of the same pg database already takes (an app's pool connects as the app's own user: to keep a pool's user, declare the pool in pools and its db in dbs instead of the app), mode transaction, session or statement, and size a whole number from 1 to 10000: ${join(", ", flatten([for key, db in var.databases : [for name, p in db.pools : "databases[\"${key}\"].pools[\"${name}\"] (mode ${p.mode}, size ${p.size})" if !(can(regex("^[a-zA-Z0-9_][a-zA-Z0-9_-]{2,59}$", name)) && contains(["transaction", "session", "statement"], p.mode) && floor(p.size) == p.size && p.size >= 1 && p.size <= 10000 && !contains(db.engine == "pg" ? keys(db.app_databases) : [], name))]]))}."
  }

  validation {
    condition     = alltrue([for db in var.databases : length(db.pools) == 0 || db.engine == null || db.engine == "pg"])
    error_message = "databases[*].pools are PgBouncer pools, offered for pg only: remove pools from ${join(", ", [for key, db in var.databases : "databases[\"${key}\"] (${db.engine})" if length(db.pools) > 0 && db.engine != null && db.engine != "pg"])}."
  }

  validation {
    condition = alltrue(flatten([
      for db in var.databases : [
        for name, v in db.rotate_passwords : db.engine != "valkey" && floor(v) == v && v >= 0 &&
        (name == "doadmin" || contains(keys(db.app_databases), name) || contains(db.users, name))
      ]
    ]))
    error_message = "databases[*].rotate_passwords takes a whole-number version from 0 up per app (app_databases key), user (users) or doadmin (the admin), and valkey has no password reset: ${join(", ", flatten([for key, db in var.databases : [for name, v in db.rotate_passwords : "databases[\"${key}\"].rotate_passwords[\"${name}\"] = ${v}" if !(db.engine != "valkey" && floor(v) == v && v >= 0 && (name == "doadmin" || contains(keys(db.app_databases), name) || contains(db.users, name)))]]))}."
  }

  validation {
    condition = alltrue(flatten([
      for db in var.databases : [for name in keys(db.config) : can(regex("^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)?$", name))]
    ]))
    error_message = "databases[*].config keys are DigitalOcean engine setting names, lowercase with underscores (max_connections, work_mem, valkey_timeout; the provider checks each against the engine's settings): rename ${join(", ", flatten([for key, db in var.databases : [for name, v in db.config : "databases[\"${key}\"].config[\"${name}\"] = \"${v}\"" if !can(regex("^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)?$", name))]]))}."
  }

  validation {
    condition = alltrue(flatten([
      for db in var.databases : [for name in keys(db.user_settings) : contains(keys(db.app_databases), name) || contains(db.users, name)]
    ]))
    error_message = "databases[*].user_settings keys must be users of the database (a users entry or an app_databases key): add them there or remove ${join(", ", flatten([for key, db in var.databases : [for name in keys(db.user_settings) : "databases[\"${key}\"].user_settings[\"${name}\"]" if !(contains(keys(db.app_databases), name) || contains(db.users, name))]]))}."
  }

  validation {
    condition = alltrue(flatten([
      for db in var.databases : [
        for name, u in db.user_settings : (length(u.kafka_acls) == 0 || db.engine == "kafka") && (length(u.opensearch_acls) == 0 || db.engine == "opensearch") && (u.mysql_auth_plugin == null || db.engine == "mysql")
      ]
    ]))
    error_message = "databases[*].user_settings: kafka_acls is for kafka, opensearch_acls for opensearch and mysql_auth_plugin for mysql databases only: remove ${join(", ", flatten([for key, db in var.databases : [for name, u in db.user_settings : "databases[\"${key}\"].user_settings[\"${name}\"] (${coalesce(db.engine, "existing_id")}: ${join(", ", compact([length(u.kafka_acls) > 0 && db.engine != "kafka" ? "kafka_acls" : "", length(u.opensearch_acls) > 0 && db.engine != "opensearch" ? "opensearch_acls" : "", u.mysql_auth_plugin != null && db.engine != "mysql" ? "mysql_auth_plugin" : ""]))})" if !((length(u.kafka_acls) == 0 || db.engine == "kafka") && (length(u.opensearch_acls) == 0 || db.engine == "opensearch") && (u.mysql_auth_plugin == null || db.engine == "mysql"))]]))}."
  }

  validation {
    condition = alltrue(flatten([
      for db in var.databases : [
        for name, u in db.user_settings : concat(
          [u.mysql_auth_plugin == null || contains(["mysql_native_password", "caching_sha2_password"], coalesce(u.mysql_auth_plugin, "-"))],
          [for a in u.kafka_acls : contains(["admin", "consume", "produce", "produceconsume"], a.permission) && a.topic != ""],
          [for a in u.opensearch_acls : contains(["deny", "admin", "read", "write", "readwrite"], a.permission) && a.index != ""],
        )
      ]
    ]))
    error_message = "databases[*].user_settings: mysql_auth_plugin must be mysql_native_password or caching_sha2_password, kafka_acls permissions admin, consume, produce or produceconsume (with a topic), opensearch_acls permissions deny, admin, read, write or readwrite (with an index), not ${join(", ", flatten([for key, db in var.databases : [for name, u in db.user_settings : concat(
      u.mysql_auth_plugin != null && !contains(["mysql_native_password", "caching_sha2_password"], coalesce(u.mysql_auth_plugin, "-")) ? ["databases[\"${key}\"].user_settings[\"${name}\"].mysql_auth_plugin = \"${u.mysql_auth_plugin}\""] : [],
      [for a in u.kafka_acls : "databases[\"${key}\"].user_settings[\"${name}\"].kafka_acls { topic = \"${a.topic}\", permission = \"${a.permission}\" }" if !(contains(["admin", "consume", "produce", "produceconsume"], a.permission) && a.topic != "")],
      [for a in u.opensearch_acls : "databases[\"${key}\"].user_settings[\"${name}\"].opensearch_acls { index = \"${a.index}\", permission = \"${a.permission}\" }" if !(contains(["deny", "admin", "read", "write", "readwrite"], a.permission) && a.index != "")],
    )]]))}."
  }

  validation {
    condition     = alltrue([for db in var.databases : length(db.topics) == 0 || db.engine == "kafka"])
    error_message = "databases[*].topics are Kafka topics, for kafka databases only: remove topics from ${join(", ", [for key, db in var.databases : "databases[\"${key}\"] (${coalesce(db.engine, "existing_id")})" if length(db.topics) > 0 && db.engine != "kafka"])}."
  }

  validation {
    condition = alltrue(flatten([
      for db in var.databases : [
        for name, t in db.topics : can(regex("^[a-zA-Z0-9._-]{1,249}$", name)) && floor(t.partitions) == t.partitions && t.partitions >= 3 && t.partitions <= 2048 &&
        floor(t.replication_factor) == t.replication_factor && t.replication_factor >= 2 && t.replication_factor <= coalesce(db.node_count, 3)
      ]
    ]))
    error_message = "databases[*].topics need a name of 1-249 letters, digits, dots, underscores and dashes, a whole number of partitions from 3 to 2048 and a replication_factor from 2 up to the database's node_count (3 by default), not ${join(", ", flatten([for key, db in var.databases : [for name, t in db.topics : "databases[\"${key}\"].topics[\"${name}\"] (partitions = ${t.partitions}, replication_factor = ${t.replication_factor}, node_count = ${coalesce(db.node_count, 3)})" if !(can(regex("^[a-zA-Z0-9._-]{1,249}$", name)) && floor(t.partitions) == t.partitions && t.partitions >= 3 && t.partitions <= 2048 && floor(t.replication_factor) == t.replication_factor && t.replication_factor >= 2 && t.replication_factor <= coalesce(db.node_count, 3))]]))}."
  }

  validation {
    condition     = alltrue([for db in var.databases : length(db.dbs) == 0 || db.engine == null || contains(["pg", "mysql", "mongodb"], coalesce(db.engine, "pg"))])
    error_message = "databases[*].dbs (logical databases) are for pg, mysql and mongodb only (valkey, opensearch and kafka have none): remove dbs from ${join(", ", [for key, db in var.databases : "databases[\"${key}\"] (${db.engine})" if length(db.dbs) > 0 && db.engine != null && !contains(["pg", "mysql", "mongodb"], coalesce(db.engine, "pg"))])}."
  }

  validation {
    condition = alltrue(flatten([
      for db in var.databases : [for name in db.dbs : can(regex("^[a-zA-Z0-9_][a-zA-Z0-9_$-]{0,62}$", name))]
    ]))
    error_message = "databases[*].dbs must be 1-63 letters, digits, underscores, dollar signs and dashes, not starting with a dollar sign or dash: rename ${join(", ", flatten([for key, db in var.databases : [for name in db.dbs : "databases[\"${key}\"].dbs \"${name}\"" if !can(regex("^[a-zA-Z0-9_][a-zA-Z0-9_$-]{0,62}$", name))]]))}."
  }

  validation {
    condition = alltrue(flatten([
      for db in var.databases : [
        for p in values(db.pools) : p.db == null || contains(concat(["defaultdb"], keys(db.app_databases), tolist(db.dbs)), coalesce(p.db, "defaultdb"))
      ]
    ]))
    error_message = "databases[*].pools[*].db must be defaultdb or a db of the database (an app_databases key or a dbs entry), so the pool never points at a db the stack does not know: ${join(", ", flatten([for key, db in var.databases : [for name, p in db.pools : "databases[\"${key}\"].pools[\"${name}\"].db = \"${p.db}\" (add \"${p.db}\" to databases[\"${key}\"].dbs)" if p.db != null && !contains(concat(["defaultdb"], keys(db.app_databases), tolist(db.dbs)), coalesce(p.db, "defaultdb"))]]))}."
  }

  validation {
    condition = alltrue(flatten([
      for db in var.databases : [
        for p in values(db.pools) : p.user == null || contains(concat(["doadmin"], keys(db.app_databases), tolist(db.users)), coalesce(p.user, "doadmin"))
      ]
    ]))
    error_message = "databases[*].pools[*].user must be doadmin or a user of the database (an app_databases key or a users entry): ${join(", ", flatten([for key, db in var.databases : [for name, p in db.pools : "databases[\"${key}\"].pools[\"${name}\"].user = \"${p.user}\" (add \"${p.user}\" to databases[\"${key}\"].users)" if p.user != null && !contains(concat(["doadmin"], keys(db.app_databases), tolist(db.users)), coalesce(p.user, "doadmin"))]]))}."
  }

  validation {
    condition = alltrue(flatten([
      for db in var.databases : [for name in keys(db.kubernetes_secrets) : can(regex("^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$", name))]
    ]))
    error_message = "databases[*].kubernetes_secrets keys name the Secret <database>-<name>-connection: 1-63 lowercase letters, digits and dashes, starting with a letter and not ending with a dash. Rename ${join(", ", flatten([for key, db in var.databases : [for name in keys(db.kubernetes_secrets) : "databases[\"${key}\"].kubernetes_secrets[\"${name}\"]" if !can(regex("^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$", name))]]))}."
  }

  validation {
    condition = alltrue(flatten([
      for db in var.databases : [
        for s in values(db.kubernetes_secrets) : db.engine != "kafka" &&
        (s.pool == null || contains(concat(keys(db.pools), db.engine == "pg" ? keys(db.app_databases) : []), coalesce(s.pool, "-"))) &&
        contains(concat(keys(db.app_databases), tolist(db.users)), coalesce(s.user, try(db.pools[s.pool].user, null), contains(keys(db.app_databases), coalesce(s.pool, "-")) ? s.pool : null, "doadmin"))
      ]
    ]))
    error_message = "databases[*].kubernetes_secrets entries connect as a user of the database (user: a users entry or an app_databases key; null: the user of pool), never as doadmin (the Secret is readable in the cluster), through an optional pool (a pools key, or an app_databases key on pg); kafka gives no connection URL. Fix ${join(", ", flatten([for key, db in var.databases : [for name, s in db.kubernetes_secrets : "databases[\"${key}\"].kubernetes_secrets[\"${name}\"] (user = ${s.user == null ? "null" : "\"${s.user}\""}, pool = ${s.pool == null ? "null" : "\"${s.pool}\""}, connects as ${coalesce(s.user, try(db.pools[s.pool].user, null), contains(keys(db.app_databases), coalesce(s.pool, "-")) ? s.pool : null, "doadmin")}${db.engine == "kafka" ? ", kafka" : ""})" if !(db.engine != "kafka" && (s.pool == null || contains(concat(keys(db.pools), db.engine == "pg" ? keys(db.app_databases) : []), coalesce(s.pool, "-"))) && contains(concat(keys(db.app_databases), tolist(db.users)), coalesce(s.user, try(db.pools[s.pool].user, null), contains(keys(db.app_databases), coalesce(s.pool, "-")) ? s.pool : null, "doadmin")))]]))}."
  }
}

variable "database_maintenance_window" {
  description = "When DigitalOcean may patch the databases (each database's `maintenance_window` overrides it): `day` (a lowercase weekday) and `hour` (`HH:MM`, UTC). Defaults to an hour after the cluster's window, so the two layers are never maintained at once."
  type = object({
    day  = optional(string, "sunday")
    hour = optional(string, "05:00")
  })
  default  = {}
  nullable = false

  validation {
    condition     = contains(["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"], var.database_maintenance_window.day)
    error_message = "database_maintenance_window.day must be a lowercase weekday (monday ... sunday), not \"${var.database_maintenance_window.day}\"."
  }

  validation {
    condition     = can(regex("^([01][0-9]|2[0-3]):[0-5][0-9]$", var.database_maintenance_window.hour))
    error_message = "database_maintenance_window.hour must be HH:MM in 24-hour UTC, e.g. 05:00, not \"${var.database_maintenance_window.hour}\"."
  }
}

################################################################################
# Named opt-outs of the secure and failover defaults. Each is off by default;
# turning one on is a decision a reviewer should see in the diff.
################################################################################

variable "allow_single_node_databases" {
  description = "UNSAFE opt-out. Allow `node_count = 1` in `databases`: a database without a standby node has no automatic failover and is down during every maintenance and node failure. Default `false`."
  type        = bool
  default     = false
  nullable    = false
}

variable "disable_storage_autoscaling" {
  description = "Opt-out. Do not turn on storage autoscaling (DigitalOcean grows a database's disk by `increment_gib` when it is `threshold_percent` full) on the databases the stack owns; a database that fills its disk stops accepting writes. `databases[\"<key>\"].storage_autoscale` still sets one database explicitly. Default `false`: on, at 80% in 10 GiB steps, for every owned database but Valkey (its storage follows its size)."
  type        = bool
  default     = false
  nullable    = false
}

variable "disable_deletion_protection" {
  description = "UNSAFE opt-out. Turn off `deletion_protection` on every database at once, so that removing one from `databases`, replacing it or destroying the stack deletes it and its data. Meant for tests and throw-away stacks; to unprotect one database, set `databases[<key>].deletion_protection = false` instead. Default `false`."
  type        = bool
  default     = false
  nullable    = false
}

variable "allow_public_trusted_sources" {
  description = "UNSAFE opt-out. Allow `trusted_sources` of type `ip_addr` outside the private ranges (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16), i.e. database access from the internet side of the firewall. Default `false`."
  type        = bool
  default     = false
  nullable    = false
}

variable "disable_ha_control_plane" {
  description = "UNSAFE opt-out. Run the Kubernetes control plane without high availability (a control-plane failure stops scheduling and scaling). Turning it off replaces the cluster; the databases stay. Default `false`."
  type        = bool
  default     = false
  nullable    = false
}

variable "disable_control_plane_firewall" {
  description = "UNSAFE opt-out. Turn the control plane firewall off, so the Kubernetes API is reachable from any address (credentials still required); `control_plane_allowed_addresses` is then ignored (pass `[]`). Default `false`."
  type        = bool
  default     = false
  nullable    = false
}

variable "disable_surge_upgrade" {
  description = "UNSAFE opt-out. Upgrade nodes in place instead of with extra surge nodes, so capacity drops during upgrades. Default `false`."
  type        = bool
  default     = false
  nullable    = false
}

variable "keep_cluster_associated_resources" {
  description = "Keep the load balancers and volumes the cluster's workloads created when the cluster is deleted (destroy, or a cluster replacement); they stay in the account, still billed. Default `false`: they are deleted with the cluster."
  type        = bool
  default     = false
  nullable    = false
}

variable "store_secrets" {
  description = "Keep credentials (the `kubeconfig` and `connection_env` outputs, and the provider's `password`/`private_uri` attributes) in the Terraform state, as sensitive values. Default `true`. `false`: they are null in plan and state and those outputs are null; read them at apply time from the provider's ephemeral resources instead (Terraform 1.10+). Changing it is an in-place update."
  type        = bool
  default     = true
  nullable    = false
}

variable "kubernetes_secrets_namespace" {
  description = "Namespace of the connection Secrets the provider writes into the cluster, one per app database (`<database>-<app>-connection`, underscores as dashes) and per entry of a database's `kubernetes_secrets` (`<database>-<name>-connection`), created when missing and never deleted. Default `apps`."
  type        = string
  default     = "apps"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.kubernetes_secrets_namespace))
    error_message = "kubernetes_secrets_namespace must be a Kubernetes namespace name (1-63 lowercase letters, digits and dashes, starting and ending with a letter or digit), not \"${var.kubernetes_secrets_namespace}\"."
  }
}

variable "disable_kubernetes_secrets" {
  description = "Opt-out. Do not write a connection Secret per app database (nor those of the databases' `kubernetes_secrets`) into the cluster; workloads then need their credentials carried in some other way (the `connection_env` output, the provider's ephemeral resources). Default `false`: the provider writes them through the Kubernetes API from where Terraform runs, so `control_plane_allowed_addresses` must include the runner's address."
  type        = bool
  default     = false
  nullable    = false
}

variable "disable_auto_upgrade" {
  description = "UNSAFE opt-out. Stop DOKS from applying patch upgrades (security fixes) in `maintenance_window`. Default `false`."
  type        = bool
  default     = false
  nullable    = false
}
