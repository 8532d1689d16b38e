variable "name" {
  description = "Stack name."
  type        = string
  default     = "basic-inference"
}

variable "region" {
  description = "A region offering H100 nodes."
  type        = string
  default     = "tor1"
}

variable "control_plane_allowed_addresses" {
  description = "Who may reach the Kubernetes API. The default is a documentation range (TEST-NET-3): replace it with your operators', CI runners' and VPN's addresses."
  type        = list(string)
  default     = ["203.0.113.0/24"]
}

variable "disable_kubernetes_secrets" {
  description = "Skip writing the connection Secrets into the cluster (for an emulator without a Kubernetes API server behind the cluster)."
  type        = bool
  default     = false
}
