# Two GPU pools (H100 for large models, L40S for small ones), both scaling
# from zero and tainted, and several databases: PostgreSQL with two apps
# (each its own db, user and transaction pool) and a read replica, Valkey
# as a cache and MongoDB for documents, each with its standby nodes.

module "inference_stack" {
  source = "../.."

  name               = var.name
  region             = var.region
  kubernetes_version = "1.33"
  vpc_ip_range       = "10.42.0.0/20"
  tags               = ["example-multi-gpu", "team:ml"]

  maintenance_window = {
    day        = "saturday"
    start_time = "03:00"
  }

  system_pool = {
    size       = "s-4vcpu-8gb"
    node_count = 3
  }

  gpu_pools = {
    h100 = {
      size      = "gpu-h100x1-80gb"
      max_nodes = 4
      labels    = { workload = "llm" }
    }
    l40s = {
      size      = "gpu-l40sx1-48gb"
      min_nodes = 0
      max_nodes = 8
      labels    = { workload = "embeddings" }
      taints = [
        { key = "nvidia.com/gpu", effect = "NoSchedule" },
        { key = "workload", value = "embeddings", effect = "NoSchedule" },
      ]
    }
  }

  databases = {
    vectors = {
      engine = "pg"
      size   = "db-s-4vcpu-8gb"
      app_databases = {
        rag       = { pool_size = 40 }
        retrieval = { pool_size = 20 }
      }
      replicas = {
        read = {}
      }
      trusted_sources = [
        { type = "ip_addr", value = "10.42.15.10" }, # a bastion on the VPC
      ]
    }
    cache = {
      engine          = "valkey"
      size            = "db-s-2vcpu-4gb"
      eviction_policy = "allkeys_lru"
    }
    documents = {
      engine = "mongodb"
      size   = "db-s-2vcpu-4gb"
      app_databases = {
        catalog = {}
      }
      maintenance_window = { day = "saturday", hour = "06:00" }
    }
  }

  # The Kubernetes API answers these addresses only (and the cluster's nodes).
  control_plane_allowed_addresses = var.control_plane_allowed_addresses

  # Applied and destroyed by the module tests; leave protection on for
  # real data.
  disable_deletion_protection = true

  # A connection Secret per app database is written into the cluster's
  # "apps" namespace. The module tests run the emulator without a Kubernetes
  # API server and set TF_VAR_disable_kubernetes_secrets=true; leave it
  # false (the default) to have the Secrets.
  disable_kubernetes_secrets = var.disable_kubernetes_secrets
}
