variable "stack_name" {
  description = "Name of the `attach_inference_stack` (usually in another workspace) that owns the databases."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,38}[a-z0-9]$", var.stack_name))
    error_message = "stack_name must be 3-40 lowercase letters, digits and dashes, starting with a letter and not ending with a dash."
  }
}

variable "cluster_id" {
  description = "Id of this app's DOKS cluster: the only new source each database firewall trusts."
  type        = string

  validation {
    condition     = can(regex("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", var.cluster_id))
    error_message = "cluster_id must be a DOKS cluster id (a lowercase UUID such as bd5f5959-5e1e-4205-a714-a914373942af)."
  }
}

variable "app_name" {
  description = "The app's name: the default name of its user, its logical database and its PgBouncer pool on every attached database."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,62}$", var.app_name))
    error_message = "app_name must be 1-63 lowercase letters, digits and underscores, starting with a letter."
  }
}

variable "databases" {
  description = <<-EOT
    The stack's databases to attach, by their key in the stack (e.g. `vectors`). Per database: `user` and `db` (default
    `app_name`; a user is created on engines with users, i.e. all but valkey, where setting `user` is refused, and a db on pg,
    mysql and mongodb) and, for pg, a PgBouncer pool named after the db (so 3-60 characters) with `pool_size` backend
    connections in `pool_mode` (default transaction).
  EOT
  type = map(object({
    user      = optional(string)
    db        = optional(string)
    pool_size = optional(number, 10)
    pool_mode = optional(string, "transaction")
  }))
  nullable = false

  validation {
    condition     = length(var.databases) > 0
    error_message = "databases must name at least one database of the stack to attach."
  }

  validation {
    condition = alltrue(flatten([
      for d in var.databases : [for n in [d.user, d.db] : n == null || can(regex("^[a-z][a-z0-9_]{0,62}$", n))]
    ]))
    error_message = "databases[*].user and db must be 1-63 lowercase letters, digits and underscores, starting with a letter."
  }

  validation {
    condition     = alltrue([for d in var.databases : floor(d.pool_size) == d.pool_size && d.pool_size >= 1 && d.pool_size <= 10000])
    error_message = "databases[*].pool_size must be a whole number of backend connections from 1 to 10000."
  }

  validation {
    condition     = alltrue([for d in var.databases : contains(["transaction", "session", "statement"], d.pool_mode)])
    error_message = "databases[*].pool_mode must be transaction, session or statement."
  }
}
