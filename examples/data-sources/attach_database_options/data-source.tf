data "attach_database_options" "pg" {
  engine = "pg"
  region = "tor1"
}

output "pg_latest" {
  value = data.attach_database_options.pg.engines[0].latest_version
}

# Sizes offered for a primary with one standby.
output "pg_ha_sizes" {
  value = one([for l in data.attach_database_options.pg.engines[0].layouts : l.sizes if l.node_count == 2])
}
