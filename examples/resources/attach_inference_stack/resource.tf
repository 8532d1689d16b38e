resource "attach_inference_stack" "ml" {
  name       = "ml-prod"
  region     = "tor1"
  project_id = "5a4981aa-9653-4bd1-bef5-d6bff52042e4"
  tags       = ["team-ml"]

  cluster = {
    version = "1.33" # the newest 1.33.x
    maintenance_window = {
      day        = "sunday"
      start_time = "04:00"
    }
    system_pool = {
      size       = "s-4vcpu-8gb"
      node_count = 3
    }
    gpu_pools = {
      h100 = {
        size      = "gpu-h100x1-80gb"
        min_nodes = 0 # idle GPUs cost nothing
        max_nodes = 4
        labels    = { workload = "inference" }
        # taints default to nvidia.com/gpu:NoSchedule
      }
    }
    # Idle GPU nodes go after 5 minutes unneeded (the autoscaler's default: 10).
    cluster_autoscaler_configuration = {
      scale_down_unneeded_time = "5m"
      expanders                = ["least_waste"]
    }
    # The Kubernetes API answers these addresses only (and the nodes).
    control_plane_firewall = {
      allowed_addresses = ["203.0.113.0/24", "198.51.100.7"]
    }
  }

  databases = {
    vectors = {
      engine  = "pg"
      version = "17"
      size    = "db-s-4vcpu-8gb"
      # node_count defaults to 2: a standby for automatic failover
      dbs   = ["rag"]
      users = ["inference"]
      pools = {
        rag = { mode = "transaction", size = 40, db = "rag", user = "inference" }
      }
      replicas = {
        dr = { region = "nyc3" }
      }
      maintenance_window = { day = "sunday", hour = "05:00" }
      trusted_sources    = [{ type = "ip_addr", value = "203.0.113.10" }] # a bastion
      # deletion_protection defaults to true
    }
    cache = {
      engine          = "valkey"
      size            = "db-s-2vcpu-4gb"
      eviction_policy = "allkeys_lru"
    }
    features = {
      existing_id = "9cc10173-e9ea-4176-9dbc-a4cee4c4ff30" # owned by the data team; never deleted here
    }
  }

  timeouts = {
    create = "45m"
  }
}

# Hand the connection details to workloads as a Kubernetes Secret.
output "connection_env" {
  value     = attach_inference_stack.ml.connection_env
  sensitive = true
}
