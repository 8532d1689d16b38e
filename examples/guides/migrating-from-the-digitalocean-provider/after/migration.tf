# One apply: Terraform forgets the official provider's resources (nothing is
# destroyed) and the stack adopts the same objects by their ids. Delete this
# file after that apply.

removed {
  from = digitalocean_vpc.ml
  lifecycle {
    destroy = false
  }
}

removed {
  from = digitalocean_kubernetes_cluster.ml
  lifecycle {
    destroy = false
  }
}

removed {
  from = digitalocean_kubernetes_node_pool.h100
  lifecycle {
    destroy = false
  }
}

removed {
  from = digitalocean_database_cluster.pg
  lifecycle {
    destroy = false
  }
}

removed {
  from = digitalocean_database_firewall.pg
  lifecycle {
    destroy = false
  }
}

removed {
  from = digitalocean_database_user.inference
  lifecycle {
    destroy = false
  }
}

removed {
  from = digitalocean_database_db.rag
  lifecycle {
    destroy = false
  }
}

removed {
  from = digitalocean_database_connection_pool.rag
  lifecycle {
    destroy = false
  }
}

removed {
  from = digitalocean_database_cluster.cache
  lifecycle {
    destroy = false
  }
}

removed {
  from = digitalocean_database_firewall.cache
  lifecycle {
    destroy = false
  }
}

# The ids are the official resources' ids (step 1 of the guide).
import {
  to = attach_inference_stack.ml
  id = join(",", [
    "ml-prod",
    "cluster=bd5f5959-5e1e-4205-a714-a914373942af",          # digitalocean_kubernetes_cluster.ml
    "database.vectors=9cc10173-e9ea-4176-9dbc-a4cee4c4ff30", # digitalocean_database_cluster.pg
    "database.cache=2e4c8f0a-6b1d-4e3a-9c57-d8f0a1b2c3d4",   # digitalocean_database_cluster.cache
    "vpc=5f1b2a3c-0d4e-4f60-8a71-92b3c4d5e6f7",              # digitalocean_vpc.ml
    "system_pool=workers",                                   # the cluster's node_pool, by name
    "gpu_pool.h100=h100",                                    # digitalocean_kubernetes_node_pool.h100, by name
  ])
}
