variable "name" {
  description = "Prefix of the two stacks."
  type        = string
  default     = "dr-basic"
}

variable "failover" {
  description = "Serve from the standby region."
  type        = bool
  default     = false
}

variable "disable_kubernetes_secrets" {
  description = "Skip writing the connection Secrets into the cluster (the module tests' emulator has no Kubernetes API server)."
  type        = bool
  default     = false
}
