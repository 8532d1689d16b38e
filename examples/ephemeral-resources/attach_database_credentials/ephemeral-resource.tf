# An app's database credentials, straight into a Kubernetes secret through a
# write-only argument: the password is in neither the plan nor the state.
ephemeral "attach_database_credentials" "app" {
  stack_name = "ml-prod"
  database   = "vectors" # the key in the stack's databases
  user       = "app"     # default: the admin user
  pool       = "app"     # optional: a PgBouncer pool, for pool_uri
}

resource "kubernetes_secret_v1" "app_db" {
  metadata {
    name      = "app-db"
    namespace = "default"
  }

  data_wo = {
    DATABASE_URL = ephemeral.attach_database_credentials.app.uri
    POOL_URL     = ephemeral.attach_database_credentials.app.pool_uri
    PGHOST       = ephemeral.attach_database_credentials.app.host
    PGPORT       = tostring(ephemeral.attach_database_credentials.app.port)
    PGUSER       = ephemeral.attach_database_credentials.app.user
    PGPASSWORD   = ephemeral.attach_database_credentials.app.password
    PGDATABASE   = ephemeral.attach_database_credentials.app.db
    "ca.crt"     = ephemeral.attach_database_credentials.app.ca_certificate
  }
  # Bump to write the secret again (e.g. after rotating the user's password):
  # write-only values are not compared between plans.
  data_wo_revision = 1
}
