variable "failover" {
  description = "Serve from the standby region."
  type        = bool
  default     = false
}

data "attach_inference_stack" "primary" {
  name = "ml-prod"
}

# A warm standby: a cluster whose GPU pool idles at zero.
resource "attach_inference_stack" "standby" {
  name   = "ml-standby"
  region = "atl1"
  cluster = {
    system_pool = { size = "s-2vcpu-4gb", node_count = 2 }
    gpu_pools = {
      h100 = { size = "gpu-h100x1-80gb", min_nodes = 0, max_nodes = 4 }
    }
  }
}

# A replica of the primary's vector database in the standby region;
# failover promotes it.
resource "attach_database_replica" "vectors" {
  database_id = data.attach_inference_stack.primary.databases["vectors"].id
  name        = "ml-vectors-dr"
  region      = "atl1"
  vpc_id      = attach_inference_stack.standby.vpc_id
  promoted    = var.failover
}

resource "attach_database_attachment" "standby" {
  count       = var.failover ? 1 : 0
  database_id = attach_database_replica.vectors.id
  cluster_id  = attach_inference_stack.standby.cluster_id
}
