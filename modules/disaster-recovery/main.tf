# A warm standby in a second region: a cluster whose GPU pools idle at zero
# nodes, and a read replica of every primary database, on the standby's
# VPC. Failover is one variable: `failover = true` promotes the replicas
# into standalone primaries and attaches the standby cluster to them
# (a trusted source, and optionally the app's user and pool).
#
# The second recovery path: `restore_databases` creates databases in the
# standby stack from the primaries' backups (DigitalOcean's backup_restore,
# any moment of the last seven days), for when the replicas carry the
# damage too (a bad migration, a dropped table) or no replica was kept.

locals {
  gpu_pools = { for name, p in var.gpu_pools : name => { size = p.size, min_nodes = 0, max_nodes = p.max_nodes } }

  # Restored databases live in the standby stack: on its VPC, trusted by its
  # cluster, with the users listed (adopted: they come with the backup).
  restored_databases = {
    for key, r in var.restore_databases : key => {
      engine              = r.engine
      size                = r.size
      node_count          = r.node_count
      users               = length(r.users) > 0 ? r.users : null
      deletion_protection = !var.disable_deletion_protection
      # Secure default, as in the inference-stack module: the disk grows before it fills.
      storage_autoscale = var.disable_storage_autoscaling ? null : { enabled = true, threshold_percent = 80, increment_gib = 10 }
      restore_from      = { database_name = r.database_name, point_in_time = r.point_in_time }
    }
  }
  overlapping_keys               = [for key in keys(var.restore_databases) : key if contains(keys(var.primary_databases), key)]
  public_control_plane_addresses = [for a in var.control_plane_allowed_addresses : a if endswith(a, "/0")]
}

resource "attach_inference_stack" "standby" {
  name   = var.name
  region = var.region
  tags   = ["disaster-recovery"]

  cluster = {
    system_pool = var.system_pool
    gpu_pools   = length(local.gpu_pools) > 0 ? local.gpu_pools : null

    # Null (the opt-out): no firewall, the API reachable from anywhere.
    control_plane_firewall = var.disable_control_plane_firewall ? null : {
      enabled           = true
      allowed_addresses = var.control_plane_allowed_addresses
    }
  }

  databases = length(local.restored_databases) > 0 ? local.restored_databases : null

  lifecycle {
    precondition {
      condition     = var.region != var.primary_region
      error_message = "The standby region must differ from the primary's (${var.primary_region}): a regional outage would take both."
    }

    precondition {
      condition     = length(var.primary_databases) + length(var.restore_databases) > 0
      error_message = "primary_databases and restore_databases are both empty: name at least one database to protect, with a replica (primary_databases) or a restore from backups (restore_databases)."
    }

    precondition {
      condition     = length(local.overlapping_keys) == 0
      error_message = "restore_databases key(s) ${join(", ", local.overlapping_keys)} also in primary_databases: the replica and the restored database would both be named <name>-<key>. Use another key for the restored database."
    }

    precondition {
      condition     = var.disable_control_plane_firewall || length(var.control_plane_allowed_addresses) > 0
      error_message = "control_plane_allowed_addresses = [] with the control plane firewall on would lock every client (kubectl, CI, the Kubernetes provider) out of the standby's Kubernetes API. List the addresses that need it, or set disable_control_plane_firewall = true to leave the API reachable from anywhere."
    }

    precondition {
      condition     = var.disable_control_plane_firewall || length(local.public_control_plane_addresses) == 0
      error_message = "control_plane_allowed_addresses value ${join(", ", local.public_control_plane_addresses)} opens the standby's Kubernetes API to every address on the internet. List narrower ranges (your offices, CI runners, VPN), or set disable_control_plane_firewall = true to make that choice explicit."
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
