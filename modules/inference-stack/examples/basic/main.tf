# The smallest useful inference stack: an HA cluster with an H100 pool that
# scales from zero, PostgreSQL for the app (with a standby, a db, a user and
# a transaction pool) and Valkey as a cache (with a standby).

module "inference_stack" {
  source = "../.."

  name   = var.name
  region = var.region
  tags   = ["example-basic"]

  gpu_pools = {
    h100 = {
      size      = "gpu-h100x1-80gb"
      min_nodes = 0
      max_nodes = 2
      labels    = { workload = "inference" }
    }
  }

  databases = {
    vectors = {
      engine  = "pg"
      version = "17"
      size    = "db-s-2vcpu-4gb"
      app_databases = {
        app = { pool_size = 20 }
      }
      # Raise a version to reset that password at the next apply.
      rotate_passwords = { app = 0 }
    }
    cache = {
      engine          = "valkey"
      size            = "db-s-1vcpu-2gb"
      eviction_policy = "allkeys_lru"
    }
  }

  # The Kubernetes API answers these addresses only (and the cluster's nodes).
  control_plane_allowed_addresses = var.control_plane_allowed_addresses

  # Credentials in state, as sensitive values (the connection_env and
  # kubeconfig outputs). false keeps every credential out of state; read
  # them from the provider's ephemeral resources then (Terraform 1.10+).
  store_secrets = true

  # This example is applied and destroyed by the module tests, so destroy
  # must be able to delete the databases. Leave this unset (protection on)
  # for data you care about.
  disable_deletion_protection = true

  # A connection Secret per app database is written into the cluster's
  # "apps" namespace (here apps/vectors-app-connection). Leave this false
  # (the default) to have the Secrets; the module tests that run an emulator
  # without a Kubernetes API server behind the cluster set
  # TF_VAR_disable_kubernetes_secrets=true.
  disable_kubernetes_secrets = var.disable_kubernetes_secrets
}
