# The attach architecture in one resource: a VPC, an HA DOKS cluster with a
# CPU system pool and an H100 pool that scales from zero, PostgreSQL (with a
# standby node and a PgBouncer transaction pool) and Valkey (with a standby),
# both reachable only privately and only from the cluster. The app's
# connection details (its pool URL and the database's CA included) are
# written by the provider into the cluster as the Secret apps/vectors-app,
# where a workload reads them; they never pass through Terraform state.

data "attach_kubernetes_options" "current" {}

resource "attach_inference_stack" "quickstart" {
  name   = var.name
  region = var.region
  tags   = ["quickstart"]

  cluster = {
    version = "1.33"
    maintenance_window = {
      day        = "sunday"
      start_time = "04:00"
    }
    system_pool = {
      size       = "s-2vcpu-4gb"
      node_count = 2
    }
    gpu_pools = {
      h100 = {
        size      = var.gpu_size
        min_nodes = 0
        max_nodes = var.gpu_max_nodes
        labels    = { workload = "inference" }
      }
    }
  }

  databases = {
    vectors = {
      engine  = "pg"
      version = "17"
      size    = "db-s-2vcpu-4gb"
      dbs     = ["app"]
      users   = ["app"]
      pools = {
        app = { mode = "transaction", size = 20, db = "app", user = "app" }
      }
      # A demo: destroy must be able to delete it. Leave protection on
      # (the default) for data you care about.
      deletion_protection = false
    }
    cache = {
      engine              = "valkey"
      size                = "db-s-1vcpu-2gb"
      eviction_policy     = "allkeys_lru"
      deletion_protection = false
    }
  }

  # What a workload mounts: VECTORS_DATABASE_URL, VECTORS_APP_POOL_URL, host,
  # port, user, password, db and ca.crt (for sslmode=verify-full), kept
  # correct by the stack (rotations, a replaced cluster or database, edits in
  # the cluster). The provider writes it through the cluster's Kubernetes API.
  kubernetes_secrets = var.disable_kubernetes_secrets ? null : {
    app = {
      database         = "vectors"
      user             = "app"
      pool             = "app"
      namespace        = "apps"
      name             = "vectors-app"
      create_namespace = true
    }
  }

  lifecycle {
    precondition {
      condition     = contains(data.attach_kubernetes_options.current.gpu_sizes_by_region[var.region], var.gpu_size)
      error_message = "${var.gpu_size} is not offered in ${var.region}; pick a region from gpu_sizes_by_region."
    }
  }
}
