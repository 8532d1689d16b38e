# The app side of the attach architecture across workspaces: the data
# workspace owns the databases (an attach_inference_stack); this module looks
# the stack up by name and attaches the app's own cluster to the databases it
# needs, each with the app's own user, db and PgBouncer pool. Rules, users and
# pools of the stack and of other apps are never touched, and destroying the
# attachment removes exactly what it added.

locals {
  engines_with_users = ["pg", "mysql", "mongodb", "opensearch", "kafka"]
  engines_with_dbs   = ["pg", "mysql", "mongodb"]

  stack_databases = data.attach_inference_stack.this.databases

  # A stack destroyed by its own workspace (its databases gone with it)
  # leaves nothing to attach to: the attachments are planned away, so this
  # workspace can still plan and destroy (the lookup warns that the stack is
  # gone).
  attachments = {
    for key, cfg in var.databases : key => {
      engine = try(local.stack_databases[key].engine, null)
      user   = contains(local.engines_with_users, try(local.stack_databases[key].engine, "")) ? coalesce(cfg.user, var.app_name) : null
      db     = contains(local.engines_with_dbs, try(local.stack_databases[key].engine, "")) ? coalesce(cfg.db, var.app_name) : null
      pool = try(local.stack_databases[key].engine, "") == "pg" ? {
        name = coalesce(cfg.db, var.app_name)
        size = cfg.pool_size
        mode = cfg.pool_mode
      } : null
    } if data.attach_inference_stack.this.found
  }
}

data "attach_inference_stack" "this" {
  name          = var.stack_name
  allow_missing = true

  lifecycle {
    postcondition {
      condition     = !self.found || length(setsubtract(keys(var.databases), keys(self.databases))) == 0
      error_message = "Stack ${var.stack_name} has no database ${join(", ", sort(setsubtract(keys(var.databases), keys(self.databases))))}; its databases are: ${join(", ", sort(keys(self.databases)))}."
    }
  }
}

resource "attach_database_attachment" "this" {
  for_each = local.attachments

  database_id = local.stack_databases[each.key].id
  cluster_id  = var.cluster_id
  user        = each.value.user
  db          = each.value.db
  pool        = each.value.pool

  lifecycle {
    precondition {
      condition     = var.databases[each.key].user == null || each.value.engine != "valkey"
      error_message = "databases[\"${each.key}\"].user = \"${coalesce(var.databases[each.key].user, "-")}\" cannot be created: ${each.key} of stack ${var.stack_name} is valkey, and DigitalOcean says \"User management is not supported for Caching or Valkey clusters\" (Valkey has only its default user). Remove user from databases[\"${each.key}\"]."
    }

    precondition {
      condition     = each.value.pool == null || (length(try(each.value.pool.name, "")) >= 3 && length(try(each.value.pool.name, "")) <= 60)
      error_message = "The PgBouncer pool on databases[\"${each.key}\"] is named after its db (or app_name), \"${try(each.value.pool.name, "")}\", and DigitalOcean's pool names are 3-60 characters. Set databases[\"${each.key}\"].db (or app_name) to a name of 3-60 characters."
    }
  }
}
