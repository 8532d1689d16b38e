output "failover" {
  description = "Whether the standby is serving (replicas promoted and attached)."
  value       = var.failover
}

output "cluster_id" {
  description = "The standby DOKS cluster."
  value       = attach_inference_stack.standby.cluster_id
}

output "vpc_id" {
  description = "The standby VPC."
  value       = attach_inference_stack.standby.vpc_id
}

output "replicas" {
  description = "Per database key: the replica's id (after failover, the id of the database it became), private host, and whether it is promoted."
  value = {
    for key, r in attach_database_replica.this : key => {
      id           = r.id
      private_host = r.private_host
      promoted     = r.promoted
    }
  }
}

output "connection_env" {
  description = "After failover, per database key, `<KEY>_DATABASE_URL` (the app user's private URI) and `<KEY>_POOL_URL` for a Kubernetes Secret on the standby cluster (sensitive; empty before failover)."
  sensitive   = true
  value = merge([
    for key, a in attach_database_attachment.standby : merge(
      { "${upper(replace(key, "-", "_"))}_DATABASE_URL" = a.private_uri },
      a.pool_private_uri != "" ? { "${upper(replace(key, "-", "_"))}_POOL_URL" = a.pool_private_uri } : {}
    )
  ]...)
}

output "kubeconfig" {
  description = "Kubeconfig of the standby cluster (sensitive)."
  value       = attach_inference_stack.standby.kubeconfig
  sensitive   = true
}

output "restored_databases" {
  description = "Per restore_databases key: the restored database's id and private host (on the standby's VPC, trusted by the standby cluster)."
  value = {
    for key, d in(attach_inference_stack.standby.databases != null ? attach_inference_stack.standby.databases : {}) : key => {
      id           = d.id
      private_host = d.private_host
    }
  }
}
