output "stack_region" {
  description = "Region of the stack (the app's cluster should be in it, on `stack_vpc_id`)."
  value       = data.attach_inference_stack.this.region
}

output "stack_vpc_id" {
  description = "VPC of the stack: the app's cluster reaches the databases privately only from it."
  value       = data.attach_inference_stack.this.vpc_id
}

output "attachments" {
  description = "Per attached database: the attachment id, engine, private endpoint, the app's user, db and pool, and whether the firewall trusts the cluster (no credentials)."
  value = {
    for key, a in attach_database_attachment.this : key => {
      id           = a.id
      database_id  = a.database_id
      engine       = local.attachments[key].engine
      private_host = a.private_host
      port         = a.port
      user         = a.user
      db           = a.db
      pool         = a.pool == null ? null : a.pool.name
      attached     = a.attached
    }
  }
}

output "connection_env" {
  description = "Environment for the app's Kubernetes Secret, per database key upper-cased (dashes as underscores): `<KEY>_DATABASE_URL` (through the pool for pg), `<KEY>_HOST`, `<KEY>_PORT`, `<KEY>_USER`, `<KEY>_PASSWORD` and `<KEY>_DATABASE`. Private endpoints only."
  sensitive   = true
  value = merge([
    for key, a in attach_database_attachment.this : {
      for name, value in {
        DATABASE_URL = a.pool != null ? a.pool_private_uri : a.private_uri
        HOST         = a.private_host
        PORT         = tostring(a.port)
        USER         = a.user
        PASSWORD     = a.user != null ? a.password : null
        DATABASE     = a.db
      } : "${upper(replace(key, "-", "_"))}_${name}" => value if value != null
    }
  ]...)
}
