# From the workspace that deploys onto a stack: connect the kubernetes and
# helm providers with a one-hour token that is never written to state.
ephemeral "attach_kubernetes_credentials" "ml" {
  stack_name = "ml-prod"
  # expiry_seconds = 3600 (the default)
}

provider "kubernetes" {
  host                   = ephemeral.attach_kubernetes_credentials.ml.host
  cluster_ca_certificate = ephemeral.attach_kubernetes_credentials.ml.cluster_ca_certificate
  token                  = ephemeral.attach_kubernetes_credentials.ml.token
}

provider "helm" {
  kubernetes = {
    host                   = ephemeral.attach_kubernetes_credentials.ml.host
    cluster_ca_certificate = ephemeral.attach_kubernetes_credentials.ml.cluster_ca_certificate
    token                  = ephemeral.attach_kubernetes_credentials.ml.token
  }
}

# In the workspace that creates the stack, use its cluster_id instead: it is
# unknown until the cluster exists, so the credentials are opened only then.
#
# ephemeral "attach_kubernetes_credentials" "ml" {
#   cluster_id = attach_inference_stack.ml.cluster_id
# }
