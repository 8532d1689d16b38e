# The estate as the official DigitalOcean provider manages it: a VPC, a DOKS
# cluster with its default node pool and an autoscaled H100 pool, PostgreSQL
# with a standby (its firewall, app user, db and PgBouncer pool) and Valkey.

resource "digitalocean_vpc" "ml" {
  name     = "ml-prod-vpc"
  region   = "tor1"
  ip_range = "10.20.0.0/20"
}

resource "digitalocean_kubernetes_cluster" "ml" {
  name          = "ml-prod"
  region        = "tor1"
  version       = "1.33.1-do.0"
  vpc_uuid      = digitalocean_vpc.ml.id
  ha            = true
  auto_upgrade  = true
  surge_upgrade = true
  tags          = ["team-ml"]

  node_pool {
    name       = "workers"
    size       = "s-4vcpu-8gb"
    node_count = 3
    tags       = ["team-ml"]
  }
}

resource "digitalocean_kubernetes_node_pool" "h100" {
  cluster_id = digitalocean_kubernetes_cluster.ml.id
  name       = "h100"
  size       = "gpu-h100x1-80gb"
  auto_scale = true
  min_nodes  = 0
  max_nodes  = 4
  tags       = ["team-ml"]
  labels     = { workload = "inference" }

  taint {
    key    = "nvidia.com/gpu"
    value  = "present"
    effect = "NoSchedule"
  }
}

resource "digitalocean_database_cluster" "pg" {
  name                 = "ml-prod-pg"
  engine               = "pg"
  version              = "17"
  size                 = "db-s-4vcpu-8gb"
  region               = "tor1"
  node_count           = 2 # a standby
  private_network_uuid = digitalocean_vpc.ml.id
  tags                 = ["team-ml"]
}

resource "digitalocean_database_firewall" "pg" {
  cluster_id = digitalocean_database_cluster.pg.id

  rule {
    type  = "k8s"
    value = digitalocean_kubernetes_cluster.ml.id
  }
}

resource "digitalocean_database_user" "inference" {
  cluster_id = digitalocean_database_cluster.pg.id
  name       = "inference"
}

resource "digitalocean_database_db" "rag" {
  cluster_id = digitalocean_database_cluster.pg.id
  name       = "rag"
}

resource "digitalocean_database_connection_pool" "rag" {
  cluster_id = digitalocean_database_cluster.pg.id
  name       = "rag"
  mode       = "transaction"
  size       = 40
  db_name    = digitalocean_database_db.rag.name
  user       = digitalocean_database_user.inference.name
}

resource "digitalocean_database_cluster" "cache" {
  name                 = "ml-prod-valkey"
  engine               = "valkey"
  version              = "8"
  size                 = "db-s-2vcpu-4gb"
  region               = "tor1"
  node_count           = 1
  private_network_uuid = digitalocean_vpc.ml.id
  tags                 = ["team-ml"]
}

resource "digitalocean_database_firewall" "cache" {
  cluster_id = digitalocean_database_cluster.cache.id

  rule {
    type  = "k8s"
    value = digitalocean_kubernetes_cluster.ml.id
  }
}
