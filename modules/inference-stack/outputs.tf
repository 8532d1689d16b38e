output "name" {
  description = "The stack's name (and id): app workspaces look it up with `data \"attach_inference_stack\"`."
  value       = attach_inference_stack.this.id
}

output "region" {
  description = "Region of the stack."
  value       = attach_inference_stack.this.region
}

output "vpc_id" {
  description = "The VPC the cluster and databases share."
  value       = attach_inference_stack.this.vpc_id
}

output "cluster_id" {
  description = "Id of the DOKS cluster."
  value       = attach_inference_stack.this.cluster_id
}

output "cluster_urn" {
  description = "URN of the DOKS cluster."
  value       = attach_inference_stack.this.cluster_urn
}

output "cluster_endpoint" {
  description = "Kubernetes API endpoint."
  value       = attach_inference_stack.this.cluster_endpoint
}

output "cluster_version" {
  description = "The cluster's DOKS version slug."
  value       = attach_inference_stack.this.cluster_version
}

output "cluster_ha" {
  description = "Whether the control plane is highly available."
  value       = attach_inference_stack.this.cluster.ha
}

output "gpu_pools" {
  description = "Each GPU pool's size, autoscaling bounds and taints."
  value = {
    for name in keys(var.gpu_pools) : name => {
      size      = attach_inference_stack.this.cluster.gpu_pools[name].size
      min_nodes = attach_inference_stack.this.cluster.gpu_pools[name].min_nodes
      max_nodes = attach_inference_stack.this.cluster.gpu_pools[name].max_nodes
      taints    = attach_inference_stack.this.cluster.gpu_pools[name].taints
    }
  }
}

# Built by key from the inputs, attribute by attribute: the resource's
# databases also hold passwords and URIs, which stay in connection_env.
output "databases" {
  description = "Each database's id (`existing_id` when attached), engine, node count, private endpoint, deletion protection, users (names only), pools and replicas, and the cluster its firewall trusts (no credentials)."
  value = {
    for key, cfg in var.databases : key => {
      id                  = attach_inference_stack.this.databases[key].id
      existing_id         = attach_inference_stack.this.databases[key].existing_id
      urn                 = attach_inference_stack.this.databases[key].urn
      engine              = attach_inference_stack.this.databases[key].engine
      version             = attach_inference_stack.this.databases[key].version
      size                = attach_inference_stack.this.databases[key].size
      node_count          = attach_inference_stack.this.databases[key].node_count
      private_host        = attach_inference_stack.this.databases[key].private_host
      port                = attach_inference_stack.this.databases[key].port
      database            = attach_inference_stack.this.databases[key].database
      deletion_protection = attach_inference_stack.this.databases[key].deletion_protection
      attached_cluster_id = attach_inference_stack.this.databases[key].attached_cluster_id
      users               = attach_inference_stack.this.databases[key].users
      pools = {
        for app in setunion(cfg.engine == "pg" ? keys(cfg.app_databases) : [], keys(cfg.pools)) : app => {
          mode         = attach_inference_stack.this.databases[key].pools[app].mode
          size         = attach_inference_stack.this.databases[key].pools[app].size
          db           = attach_inference_stack.this.databases[key].pools[app].db
          user         = attach_inference_stack.this.databases[key].pools[app].user
          private_host = attach_inference_stack.this.databases[key].pools[app].private_host
          port         = attach_inference_stack.this.databases[key].pools[app].port
        }
      }
      replicas = {
        for name in keys(cfg.replicas) : name => {
          id           = attach_inference_stack.this.databases[key].replicas[name].id
          region       = attach_inference_stack.this.databases[key].replicas[name].region
          size         = attach_inference_stack.this.databases[key].replicas[name].size
          private_host = attach_inference_stack.this.databases[key].replicas[name].private_host
        }
      }
    }
  }
}

output "connection_env" {
  description = "Environment for a Kubernetes Secret, per database key upper-cased: `<KEY>_DATABASE_URL`, `<KEY>_HOST`, `<KEY>_PORT`, `<KEY>_USER`, `<KEY>_PASSWORD`, `<KEY>_DATABASE`, `<KEY>_<APP>_POOL_URL` per pool and `<KEY>_<APP>_PASSWORD` per user. When the database has users, `<KEY>_DATABASE_URL` (with `_USER`, `_PASSWORD`, `_DATABASE`) connects as an app user: the first user (in sort order) with a db of its own name (an app of `app_databases`), to that db, else the first of `users` in sort order, to the default db. The admin (`doadmin`) URL is `<KEY>_ADMIN_DATABASE_URL`. Private endpoints only; the values live in the Terraform state (null with `store_secrets = false`)."
  value       = attach_inference_stack.this.connection_env
  sensitive   = true
}

output "kubeconfig" {
  description = "Kubeconfig for the cluster (a token valid for `kubeconfig_expiry_seconds`, a day by default, renewed by refresh when less than half of it remains). Null with `store_secrets = false`."
  value       = attach_inference_stack.this.kubeconfig
  sensitive   = true
}

output "kubeconfig_expires_at" {
  description = "When the kubeconfig's token expires (RFC 3339)."
  value       = attach_inference_stack.this.kubeconfig_expires_at
}

output "kubernetes_secrets" {
  description = "The connection Secrets in the cluster, by `<database>-<app>` (an app of `app_databases`, or a key of the database's `kubernetes_secrets`): `namespace`, `name`, `keys` and `fingerprint` (a digest of the content, never a value). Empty with `disable_kubernetes_secrets`."
  value = {
    for key, s in attach_inference_stack.this.kubernetes_secrets == null ? {} : attach_inference_stack.this.kubernetes_secrets : key => {
      namespace   = s.namespace
      name        = s.name
      keys        = s.keys
      fingerprint = s.fingerprint
    }
  }
}
