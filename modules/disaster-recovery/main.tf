# A warm standby in a second region: a cluster whose GPU pools idle at zero
# nodes, and a read replica of every primary database, on the standby's
# VPC. Failover is one variable: `failover = true` promotes the replicas
# into standalone primaries and attaches the standby cluster to them
# (a trusted source, and optionally the app's user and pool).

locals {
  gpu_pools = { for name, p in var.gpu_pools : name => { size = p.size, min_nodes = 0, max_nodes = p.max_nodes } }
}

resource "attach_inference_stack" "standby" {
  name   = var.name
  region = var.region
  tags   = ["disaster-recovery"]

  cluster = {
    system_pool = var.system_pool
    gpu_pools   = length(local.gpu_pools) > 0 ? local.gpu_pools : null
  }

  lifecycle {
    precondition {
      condition     = var.region != var.primary_region
      error_message = "The standby region must differ from the primary's (${var.primary_region}): a regional outage would take both."
    }
  }
}

resource "attach_database_replica" "this" {
  for_each = var.primary_databases

  database_id         = each.value.id
  name                = "${var.name}-${each.key}"
  region              = var.region
  size                = var.replica_size
  vpc_id              = attach_inference_stack.standby.vpc_id
  tags                = ["disaster-recovery"]
  promoted            = var.failover
  deletion_protection = !var.disable_deletion_protection
}

resource "attach_database_attachment" "standby" {
  for_each = var.failover ? var.primary_databases : {}

  database_id = attach_database_replica.this[each.key].id
  cluster_id  = attach_inference_stack.standby.cluster_id
  user        = try(var.app_access[each.key].user, null)
  pool = try(var.app_access[each.key].pool_size, null) == null || each.value.engine != "pg" ? null : {
    name = var.app_access[each.key].user
    size = var.app_access[each.key].pool_size
  }
}
