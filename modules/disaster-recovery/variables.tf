################################################################################
# The standby region
################################################################################

variable "name" {
  description = "Name of the standby stack (3-40 lowercase letters, digits and dashes); replicas are named `<name>-<database key>`."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,38}[a-z0-9]$", var.name))
    error_message = "name must be 3-40 lowercase letters, digits and dashes, starting with a letter and not ending with a dash."
  }
}

variable "region" {
  description = "Standby region, e.g. `nyc3`; it must differ from the primary's."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{3}[0-9]$", var.region))
    error_message = "region must be a DigitalOcean region slug such as nyc3 or ams3."
  }
}

variable "primary_region" {
  description = "Region of the primary stack (the `region` output of the inference-stack module, or of the `attach_inference_stack` data source)."
  type        = string
}

variable "primary_databases" {
  description = "The primary databases to protect with a cross-region read replica (the promotion path), by key: their `id` and `engine` (e.g. from the inference-stack module's `databases` output or `data.attach_inference_stack.<x>.databases`). Only pg and mysql have read replicas."
  type = map(object({
    id     = string
    engine = string
  }))
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for db in var.primary_databases : contains(["pg", "mysql"], db.engine)])
    error_message = "primary_databases may hold only pg and mysql databases: DigitalOcean offers read replicas for those engines only."
  }
}

variable "failover" {
  description = "The failover switch. false: replicas follow the primaries and the standby cluster idles. true: the replicas are promoted into standalone primaries and the standby cluster is attached to them. Promotion cannot be undone."
  type        = bool
  default     = false
  nullable    = false
}

variable "replica_size" {
  description = "Size of the replicas (not smaller than the primaries'). Null: each primary's size."
  type        = string
  default     = null
}

variable "system_pool" {
  description = "The standby cluster's CPU pool. It runs all the time, so it is small by default."
  type = object({
    size       = optional(string, "s-2vcpu-4gb")
    node_count = optional(number, 2)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.system_pool.node_count >= 1 && var.system_pool.node_count <= 100 && floor(var.system_pool.node_count) == var.system_pool.node_count
    error_message = "system_pool.node_count must be a whole number from 1 to 100."
  }
}

variable "gpu_pools" {
  description = "The standby cluster's GPU pools: warm, at zero nodes until failover brings workloads (`min_nodes` is always 0 here)."
  type = map(object({
    size      = string
    max_nodes = number
  }))
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for p in var.gpu_pools : startswith(p.size, "gpu-") && p.max_nodes >= 1 && p.max_nodes <= 100])
    error_message = "gpu_pools[*] need a gpu-* size and 1 <= max_nodes <= 100."
  }
}

variable "app_access" {
  description = "After failover, per database key, the app user and PgBouncer pool (pg) the standby cluster gets on the promoted database; the pool is named after the user (3-60 characters). Null: only the firewall rule."
  type = map(object({
    user      = string
    pool_size = optional(number)
  }))
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for a in var.app_access : a.pool_size == null || (length(a.user) >= 3 && length(a.user) <= 60)])
    error_message = "app_access[*].user also names the PgBouncer pool when pool_size is set, and DigitalOcean's pool names are 3-60 characters: ${join(", ", [for key, a in var.app_access : "app_access[\"${key}\"].user \"${a.user}\" (${length(a.user)} characters)" if a.pool_size != null && (length(a.user) < 3 || length(a.user) > 60)])}. Use a user name of 3-60 characters."
  }
}

variable "disable_deletion_protection" {
  description = "UNSAFE: let destroy delete promoted replicas (which are primaries holding the data). Only for tests and throwaway environments."
  type        = bool
  default     = false
  nullable    = false
}

################################################################################
# The restore path, and the standby cluster's settings
################################################################################

variable "restore_databases" {
  description = <<-EOT
    The second recovery path: databases created in the standby stack from the backups of existing clusters, by key (the restored database is named `<name>-<key>`; keys must differ from `primary_databases`'). Per key: `database_name`, the source cluster's DigitalOcean name (a stack's database is `<stack>-<key>`); `engine` (pg or mysql, the source's); `size` and `node_count` (default 2: a standby node); `point_in_time`, RFC 3339, a moment of the last seven days (DigitalOcean keeps backups that long) or null for the latest backup; `users` the app users to manage (they come with the backup and are adopted). Restoring applies once, when the database is created.
  EOT
  type = map(object({
    database_name = string
    engine        = string
    size          = string
    node_count    = optional(number, 2)
    point_in_time = optional(string)
    users         = optional(list(string), [])
  }))
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for key in keys(var.restore_databases) : can(regex("^[a-z][a-z0-9-]{0,18}[a-z0-9]$", key))])
    error_message = "restore_databases keys must be 2-20 lowercase letters, digits and dashes, starting with a letter: not ${join(", ", [for key in keys(var.restore_databases) : "\"${key}\"" if !can(regex("^[a-z][a-z0-9-]{0,18}[a-z0-9]$", key))])}."
  }

  validation {
    condition     = alltrue([for r in var.restore_databases : contains(["pg", "mysql"], r.engine)])
    error_message = "restore_databases may hold only pg and mysql databases (DigitalOcean restores backups of those engines only): not ${join(", ", [for key, r in var.restore_databases : "restore_databases[\"${key}\"].engine \"${r.engine}\"" if !contains(["pg", "mysql"], r.engine)])}."
  }

  validation {
    condition     = alltrue([for r in var.restore_databases : can(regex("^[a-z][a-z0-9-]{1,61}[a-z0-9]$", r.database_name))])
    error_message = "restore_databases[*].database_name must be a DigitalOcean database cluster name (3-63 lowercase letters, digits and dashes): not ${join(", ", [for key, r in var.restore_databases : "restore_databases[\"${key}\"].database_name \"${r.database_name}\"" if !can(regex("^[a-z][a-z0-9-]{1,61}[a-z0-9]$", r.database_name))])}."
  }

  validation {
    condition     = alltrue([for r in var.restore_databases : r.point_in_time == null || can(formatdate("YYYY", r.point_in_time))])
    error_message = "restore_databases[*].point_in_time must be an RFC 3339 time such as 2026-01-31T19:25:22Z, or null for the latest backup: not ${join(", ", [for key, r in var.restore_databases : "restore_databases[\"${key}\"].point_in_time \"${r.point_in_time}\"" if r.point_in_time != null && !can(formatdate("YYYY", coalesce(r.point_in_time, "x")))])}."
  }

  validation {
    condition     = alltrue([for r in var.restore_databases : r.node_count >= 1 && r.node_count <= 3 && floor(r.node_count) == r.node_count])
    error_message = "restore_databases[*].node_count must be 1, 2 or 3: not ${join(", ", [for key, r in var.restore_databases : "restore_databases[\"${key}\"].node_count ${r.node_count}" if !(r.node_count >= 1 && r.node_count <= 3 && floor(r.node_count) == r.node_count)])}."
  }
}

variable "control_plane_allowed_addresses" {
  description = "Required: the IP addresses and CIDR blocks allowed to reach the standby's Kubernetes API (its control plane firewall, on by default, as in the inference-stack module): your operators, CI runners, VPN. The cluster's own nodes always reach it. `0.0.0.0/0` is refused; to leave the API reachable from anywhere, set `disable_control_plane_firewall = true` (and `[]` here)."
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

variable "disable_control_plane_firewall" {
  description = "UNSAFE opt-out. Turn the standby's control plane firewall off, so its Kubernetes API is reachable from any address (credentials still required); `control_plane_allowed_addresses` is then ignored (pass `[]`). Default `false`."
  type        = bool
  default     = false
  nullable    = false
}

variable "disable_storage_autoscaling" {
  description = "Opt-out. Do not turn on storage autoscaling on the restored databases (DigitalOcean grows the disk by 10 GiB when it is 80% full); a database that fills its disk stops accepting writes. Default `false`: on."
  type        = bool
  default     = false
  nullable    = false
}
