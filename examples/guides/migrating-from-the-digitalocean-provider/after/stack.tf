terraform {
  required_providers {
    attach = { source = "attach-labs/attach" }
  }
}

provider "attach" {} # DIGITALOCEAN_TOKEN, the same token

# The same estate as one stack. Every value is the one DigitalOcean holds,
# so the stack adopts it as it is: nothing is created, replaced or deleted.
resource "attach_inference_stack" "ml" {
  name         = "ml-prod"
  region       = "tor1"
  vpc_ip_range = "10.20.0.0/20"
  tags         = ["team-ml"]

  cluster = {
    version = "1.33"
    system_pool = {
      size       = "s-4vcpu-8gb"
      node_count = 3
    }
    gpu_pools = {
      h100 = {
        size      = "gpu-h100x1-80gb"
        min_nodes = 0
        max_nodes = 4
        labels    = { workload = "inference" }
        taints    = [{ key = "nvidia.com/gpu", value = "present", effect = "NoSchedule" }]
      }
    }
  }

  databases = {
    vectors = {
      engine  = "pg"
      version = "17"
      size    = "db-s-4vcpu-8gb"
      # node_count defaults to 2: the standby it has
      dbs   = ["rag"]
      users = ["inference"]
      pools = {
        rag = { mode = "transaction", size = 40, db = "rag", user = "inference" }
      }
    }
    cache = {
      engine     = "valkey"
      version    = "8"
      size       = "db-s-2vcpu-4gb"
      node_count = 1 # as it runs today; the default, 2, would add a standby
      # DigitalOcean's default, which the cluster reports: stated, so the
      # plan shows no change for it.
      eviction_policy = "noeviction"
    }
  }
}
