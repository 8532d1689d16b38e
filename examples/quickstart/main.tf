# The attach architecture in one resource: a VPC, an HA DOKS cluster with a
# CPU system pool and an H100 pool that scales from zero, PostgreSQL (with a
# standby node and a PgBouncer transaction pool) and Valkey (with a standby),
# both reachable only privately and only from the cluster.

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

  lifecycle {
    precondition {
      condition     = contains(data.attach_kubernetes_options.current.gpu_sizes_by_region[var.region], var.gpu_size)
      error_message = "${var.gpu_size} is not offered in ${var.region}; pick a region from gpu_sizes_by_region."
    }
  }
}
