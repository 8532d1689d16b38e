output "standby_cluster_id" {
  description = "The standby cluster."
  value       = module.disaster_recovery.cluster_id
}

output "replicas" {
  description = "The replicas (promoted after failover)."
  value       = module.disaster_recovery.replicas
}
