# A primary stack in tor1 and its warm standby in atl1. Fail over with
#   terraform apply -var failover=true

module "primary" {
  source = "../../../inference-stack"

  name   = "${var.name}-primary"
  region = "tor1"

  databases = {
    vectors = {
      engine        = "pg"
      size          = "db-s-2vcpu-4gb"
      app_databases = { app = { pool_size = 10 } }
    }
  }

  # The Kubernetes API answers these addresses only: replace this
  # documentation range (TEST-NET-3) with your own.
  control_plane_allowed_addresses = ["203.0.113.0/24"]

  # Applied and destroyed by the module tests; keep protection on for real data.
  disable_deletion_protection = true

  # A connection Secret per app database is written into the cluster's
  # "apps" namespace. The module tests run the emulator without a Kubernetes
  # API server and set TF_VAR_disable_kubernetes_secrets=true; leave it
  # false (the default) to have the Secrets.
  disable_kubernetes_secrets = var.disable_kubernetes_secrets
}

module "disaster_recovery" {
  source = "../.."

  name           = "${var.name}-standby"
  region         = "atl1"
  primary_region = module.primary.region
  primary_databases = {
    for key, db in module.primary.databases : key => { id = db.id, engine = db.engine } if contains(["pg", "mysql"], db.engine)
  }
  gpu_pools  = { h100 = { size = "gpu-h100x1-80gb", max_nodes = 2 } }
  app_access = { vectors = { user = "app", pool_size = 10 } }
  failover   = var.failover

  # The standby's Kubernetes API answers these addresses only (replace
  # this documentation range with your own).
  control_plane_allowed_addresses = ["203.0.113.0/24"]

  # Applied and destroyed by the module tests; keep protection on for real data.
  disable_deletion_protection = true
}
