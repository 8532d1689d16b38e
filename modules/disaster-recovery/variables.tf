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
  description = "The primary databases to protect, by key: their `id` and `engine` (e.g. from the inference-stack module's `databases` output or `data.attach_inference_stack.<x>.databases`). Only pg and mysql have read replicas."
  type = map(object({
    id     = string
    engine = string
  }))

  validation {
    condition     = length(var.primary_databases) > 0
    error_message = "primary_databases must name at least one database to replicate."
  }

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
