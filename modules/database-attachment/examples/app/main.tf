# An app team's workspace: find the data team's stack by name and attach this
# team's cluster to its PostgreSQL (own user, db and transaction pool) and to
# its Valkey cache (firewall rule only: Valkey has no users or dbs).

module "database_attachment" {
  source = "../.."

  stack_name = var.stack_name
  cluster_id = var.cluster_id
  app_name   = "search"

  databases = {
    vectors = { pool_size = 10 }
    cache   = {}
  }
}
