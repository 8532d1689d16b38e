output "name" {
  description = "The stack's name, for app workspaces."
  value       = module.inference_stack.name
}

output "vpc_id" {
  description = "The stack's VPC."
  value       = module.inference_stack.vpc_id
}

output "cluster_id" {
  description = "The DOKS cluster."
  value       = module.inference_stack.cluster_id
}

output "gpu_pools" {
  description = "GPU pools with their bounds and taints."
  value       = module.inference_stack.gpu_pools
}

output "databases" {
  description = "Databases without credentials."
  value       = module.inference_stack.databases
}

output "connection_env" {
  description = "Variables for a Kubernetes Secret."
  value       = module.inference_stack.connection_env
  sensitive   = true
}

output "kubernetes_secrets" {
  description = "The connection Secrets written into the cluster: namespace, name, keys and a fingerprint (never a value)."
  value       = module.inference_stack.kubernetes_secrets
}

output "kubeconfig" {
  description = "Kubeconfig for the cluster."
  value       = module.inference_stack.kubeconfig
  sensitive   = true
}

output "kubeconfig_expires_at" {
  description = "When the kubeconfig's token expires: a day after it was fetched, renewed by refresh when less than half of it remains."
  value       = module.inference_stack.kubeconfig_expires_at
}
