# attach_inference_stack with the secure and failover defaults on: an HA
# control plane upgraded with surge nodes in a maintenance window, GPU pools
# tainted and autoscaled from zero, every database with a standby node,
# private networking only, firewalls trusting the cluster alone, deletion
# protection, and a transaction-mode PgBouncer pool per PostgreSQL app
# database, a Kubernetes API reachable only from the addresses listed, and
# idle GPU nodes scaled down after 5 minutes.
# Each unsafe choice needs a named opt-out variable.

locals {
  # One standby for automatic failover: the smallest node count above one
  # that DigitalOcean offers for each engine.
  standby_node_count = {
    pg         = 2
    mysql      = 2
    valkey     = 2
    mongodb    = 3
    opensearch = 3
    kafka      = 3
  }

  private_ipv4_ranges = {
    "10.0.0.0"    = 8
    "172.16.0.0"  = 12
    "192.168.0.0" = 16
  }

  # "<database>: <address>" for every ip_addr trusted source outside the
  # private ranges (or not parseable, which a validation block reports).
  public_trusted_sources = flatten([
    for key, db in var.databases : [
      for s in db.trusted_sources : "databases[\"${key}\"].trusted_sources value ${s.value}"
      if s.type == "ip_addr" && !try(anytrue([
        for network, bits in local.private_ipv4_ranges :
        tonumber(try(split("/", s.value)[1], "32")) >= bits && cidrhost("${split("/", s.value)[0]}/${bits}", 0) == network
      ]), false)
    ]
  ])

  # From the node counts sent to the provider, so that no default of this
  # module can ever drop a standby without the opt-out either.
  single_node_databases = [for key, db in local.databases : "databases[\"${key}\"].node_count = ${db.node_count}" if db.existing_id == null && coalesce(db.node_count, 2) < 2]

  databases = {
    for key, db in var.databases : key => {
      # A database attached by existing_id is described by DigitalOcean:
      # engine, size and the rest stay null.
      existing_id      = db.existing_id
      engine           = db.engine
      version          = db.version
      size             = db.size
      node_count       = db.existing_id == null ? coalesce(db.node_count, local.standby_node_count[db.engine]) : null
      storage_size_mib = db.storage_size_mib
      # Engine settings: passed through; the provider validates them.
      config = length(db.config) > 0 ? db.config : null
      # Secure default: the memory layer grows without a human (owned
      # databases whose storage can grow, i.e. all but Valkey).
      storage_autoscale = db.storage_autoscale != null ? db.storage_autoscale : (
        var.disable_storage_autoscaling || db.existing_id != null || db.engine == "valkey" ? null :
        { enabled = true, threshold_percent = 80, increment_gib = 10 }
      )

      # Per app: a db and a user of its name; for PostgreSQL also a
      # transaction-mode pool, so short-lived inference requests share a few
      # backend connections. Standalone dbs, users and pools join them, each
      # exactly as given: a pool of pools keeps its own db and user (an
      # adopted estate's pool connecting as its own user stays so), and no
      # app user is added for it.
      dbs   = length(setunion(keys(db.app_databases), db.dbs)) > 0 ? setunion(keys(db.app_databases), db.dbs) : null
      users = length(setunion(keys(db.app_databases), db.users)) > 0 ? setunion(keys(db.app_databases), db.users) : null
      # Raising a version resets that user's password (reset_auth).
      rotate_passwords = length(db.rotate_passwords) > 0 ? db.rotate_passwords : null
      pools = length(db.pools) > 0 || (db.engine == "pg" && length(db.app_databases) > 0) ? merge(
        db.engine == "pg" ? {
          for app, cfg in db.app_databases : app => {
            mode = "transaction"
            size = cfg.pool_size
            db   = app
            user = app
          }
        } : {},
        {
          for name, p in db.pools : name => {
            mode = p.mode
            size = p.size
            db   = p.db
            user = p.user
          }
        }
      ) : null

      replicas        = length(db.replicas) > 0 ? db.replicas : null
      eviction_policy = db.eviction_policy
      # Empty: the firewall trusts the cluster and nothing else.
      trusted_sources     = length(db.trusted_sources) > 0 ? db.trusted_sources : null
      maintenance_window  = db.existing_id == null ? coalesce(db.maintenance_window, var.database_maintenance_window) : db.maintenance_window
      deletion_protection = db.deletion_protection && !var.disable_deletion_protection
      retain_on_destroy   = db.retain_on_destroy
      # Per user: ACLs (kafka, opensearch) and the MySQL auth plugin.
      user_settings = length(db.user_settings) > 0 ? {
        for name, u in db.user_settings : name => {
          mysql_auth_plugin = u.mysql_auth_plugin
          kafka_acls        = length(u.kafka_acls) > 0 ? u.kafka_acls : null
          opensearch_acls   = length(u.opensearch_acls) > 0 ? u.opensearch_acls : null
        }
      } : null
      topics = length(db.topics) > 0 ? {
        for name, t in db.topics : name => {
          partitions         = t.partitions
          replication_factor = t.replication_factor
          config             = length(t.config) > 0 ? t.config : null
        }
      } : null
    }
  }

  gpu_pools = {
    for name, pool in var.gpu_pools : name => {
      size      = pool.size
      min_nodes = pool.min_nodes
      max_nodes = pool.max_nodes
      labels    = length(pool.labels) > 0 ? pool.labels : null
      tags      = length(pool.tags) > 0 ? pool.tags : null
      # Null: the provider applies the GPU vendor's NoSchedule taint.
      taints = pool.taints
    }
  }

  # Allowed addresses that open the Kubernetes API to every address (a /0).
  public_control_plane_addresses = [for a in var.control_plane_allowed_addresses : a if endswith(a, "/0")]

  # GPU vendors of the pools, by slug (gpu_pools sizes start with gpu-):
  # AMD's are gpu-mi..., every other GPU size is NVIDIA's.
  amd_gpu_pools    = [for name, pool in var.gpu_pools : name if startswith(pool.size, "gpu-mi")]
  nvidia_gpu_pools = [for name, pool in var.gpu_pools : name if !startswith(pool.size, "gpu-mi")]
  # A device plugin turned off while a pool of its vendor needs it.
  gpu_plugins_off = concat(
    var.cluster_plugins.nvidia_gpu_device_plugin == false && length(local.nvidia_gpu_pools) > 0 ? ["cluster_plugins.nvidia_gpu_device_plugin = false while gpu_pools ${join(", ", local.nvidia_gpu_pools)} have NVIDIA GPUs"] : [],
    var.cluster_plugins.amd_gpu_device_plugin == false && length(local.amd_gpu_pools) > 0 ? ["cluster_plugins.amd_gpu_device_plugin = false while gpu_pools ${join(", ", local.amd_gpu_pools)} have AMD GPUs"] : [],
  )

  # One connection Secret per app database, written by the provider into
  # the cluster (kubernetes_secrets_namespace, created when missing): the app
  # user's URL, host, port, user, password, db, its pool's URL (pg) and the
  # database's CA, never through Terraform state. A database's own
  # kubernetes_secrets entries add Secrets for its standalone users and pools
  # (user null: the pool's user); one named like an app (underscores as
  # dashes) replaces that app's. Opt-out: disable_kubernetes_secrets.
  kubernetes_secrets = var.disable_kubernetes_secrets ? {} : merge({}, [
    for key, db in var.databases : merge(
      {
        for app in keys(db.app_databases) : "${key}-${replace(app, "_", "-")}" => {
          database         = key
          user             = app
          pool             = db.engine == "pg" ? app : null
          namespace        = var.kubernetes_secrets_namespace
          name             = "${key}-${replace(app, "_", "-")}-connection"
          create_namespace = true
        }
      },
      {
        for name, s in db.kubernetes_secrets : "${key}-${name}" => {
          database = key
          # The validation of var.databases makes this a user of the
          # database, never doadmin.
          user             = coalesce(s.user, try(db.pools[s.pool].user, null), contains(keys(db.app_databases), coalesce(s.pool, "-")) ? s.pool : null, "doadmin")
          pool             = s.pool
          namespace        = var.kubernetes_secrets_namespace
          name             = "${key}-${name}-connection"
          create_namespace = true
        }
      }
    )
  ]...)

  gpu_sizes_not_offered = [
    for name, pool in var.gpu_pools : "gpu_pools[\"${name}\"].size = \"${pool.size}\""
    if !contains(lookup(data.attach_kubernetes_options.current.gpu_sizes_by_region, var.region, []), pool.size)
  ]
}

data "attach_kubernetes_options" "current" {}

resource "attach_inference_stack" "this" {
  name         = var.name
  region       = var.region
  project_id   = var.project_id
  tags         = length(var.tags) > 0 ? var.tags : null
  vpc_id       = var.vpc_id
  vpc_ip_range = var.vpc_ip_range

  store_secrets = var.store_secrets

  cluster = {
    version       = var.kubernetes_version
    ha            = !var.disable_ha_control_plane
    auto_upgrade  = !var.disable_auto_upgrade
    surge_upgrade = !var.disable_surge_upgrade

    keep_associated_resources = var.keep_cluster_associated_resources
    cluster_subnet            = var.cluster_subnet
    service_subnet            = var.service_subnet
    maintenance_window = {
      day        = var.maintenance_window.day
      start_time = var.maintenance_window.start_time
    }
    system_pool = {
      size       = var.system_pool.size
      node_count = var.system_pool.node_count
      labels     = length(var.system_pool.labels) > 0 ? var.system_pool.labels : null
      tags       = length(var.system_pool.tags) > 0 ? var.system_pool.tags : null
    }
    gpu_pools = length(local.gpu_pools) > 0 ? local.gpu_pools : null

    kubeconfig_expiry_seconds = var.kubeconfig_expiry_seconds

    # Null device plugins follow the pools' GPU vendors (the provider
    # decides at plan time); AMD's metrics exporter follows the AMD pools.
    nvidia_gpu_device_plugin               = var.cluster_plugins.nvidia_gpu_device_plugin
    amd_gpu_device_plugin                  = var.cluster_plugins.amd_gpu_device_plugin
    rdma_shared_dev_plugin                 = var.cluster_plugins.rdma_shared_dev_plugin
    amd_gpu_device_metrics_exporter_plugin = coalesce(var.cluster_plugins.amd_gpu_device_metrics_exporter_plugin, length(local.amd_gpu_pools) > 0)
    routing_agent                          = var.cluster_plugins.routing_agent

    # GPU-friendly scale-down (see var.cluster_autoscaler).
    cluster_autoscaler_configuration = var.cluster_autoscaler

    # Null (the opt-out): no firewall, the API reachable from anywhere.
    control_plane_firewall = var.disable_control_plane_firewall ? null : {
      enabled           = true
      allowed_addresses = var.control_plane_allowed_addresses
    }
  }

  databases = length(local.databases) > 0 ? local.databases : null

  kubernetes_secrets = length(local.kubernetes_secrets) > 0 ? local.kubernetes_secrets : null

  timeouts = var.timeouts

  lifecycle {
    precondition {
      condition     = length(local.single_node_databases) == 0 || var.allow_single_node_databases
      error_message = "${join(", ", local.single_node_databases)} leaves the database without a standby node for automatic failover. Use the default (node_count unset: one standby) or set allow_single_node_databases = true to accept the downtime."
    }

    precondition {
      condition     = length(local.public_trusted_sources) == 0 || var.allow_public_trusted_sources
      error_message = "trusted_sources outside the private ranges (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16) would open database firewalls beyond the VPC: ${join(", ", local.public_trusted_sources)}. Use private addresses (a bastion on the VPC) or set allow_public_trusted_sources = true."
    }

    precondition {
      condition     = length(local.gpu_sizes_not_offered) == 0
      error_message = "gpu_pools not offered in ${var.region}: ${join(", ", local.gpu_sizes_not_offered)}. See gpu_sizes_by_region of the attach_kubernetes_options data source for where each GPU size is available."
    }

    precondition {
      condition     = var.disable_control_plane_firewall || length(var.control_plane_allowed_addresses) > 0
      error_message = "control_plane_allowed_addresses = [] with the control plane firewall on would lock every client (kubectl, CI, the Kubernetes provider) out of the Kubernetes API. List the addresses that need it, or set disable_control_plane_firewall = true to leave the API reachable from anywhere."
    }

    precondition {
      condition     = var.disable_control_plane_firewall || length(local.public_control_plane_addresses) == 0
      error_message = "control_plane_allowed_addresses value ${join(", ", local.public_control_plane_addresses)} opens the Kubernetes API to every address on the internet. List narrower ranges (your offices, CI runners, VPN), or set disable_control_plane_firewall = true to make that choice explicit."
    }

    precondition {
      condition     = length(local.gpu_plugins_off) == 0
      error_message = "${join("; ", local.gpu_plugins_off)}: those GPUs would not be schedulable (nothing advertises nvidia.com/gpu or amd.com/gpu, so GPU pods stay Pending). Remove the key from cluster_plugins (it then follows the pools) or set it to true."
    }
  }
}
