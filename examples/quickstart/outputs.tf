output "cluster_id" {
  description = "The DOKS cluster."
  value       = attach_inference_stack.quickstart.cluster_id
}

output "cluster_endpoint" {
  description = "Kubernetes API endpoint."
  value       = attach_inference_stack.quickstart.cluster_endpoint
}

output "gpu_pool" {
  description = "The GPU pool's bounds."
  value       = attach_inference_stack.quickstart.cluster.gpu_pools["h100"]
}

output "databases" {
  description = "Each database's id, private host and port, and the cluster its firewall trusts."
  value = {
    for key, db in attach_inference_stack.quickstart.databases : key => {
      id                  = db.id
      engine              = db.engine
      node_count          = db.node_count
      private_host        = db.private_host
      port                = db.port
      attached_cluster_id = db.attached_cluster_id
    }
  }
}

output "kubernetes_secrets" {
  description = "The connection Secrets in the cluster: namespace, name, uid and keys (never a value)."
  value = {
    for key, s in coalesce(attach_inference_stack.quickstart.kubernetes_secrets, {}) : key => {
      namespace = s.namespace
      name      = s.name
      uid       = s.uid
      keys      = s.keys
    }
  }
}

output "connection_env" {
  description = "Variables for a Kubernetes Secret (sensitive)."
  value       = attach_inference_stack.quickstart.connection_env
  sensitive   = true
}

output "kubeconfig" {
  description = "Kubeconfig for the cluster (sensitive)."
  value       = attach_inference_stack.quickstart.kubeconfig
  sensitive   = true
}
