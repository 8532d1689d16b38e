variable "name" {
  description = "Stack name: names every part and the tag that finds them again."
  type        = string
  default     = "quickstart"
}

variable "region" {
  description = "Region with H100 GPUs (see gpu_sizes_by_region of attach_kubernetes_options)."
  type        = string
  default     = "tor1"
}

variable "gpu_size" {
  description = "GPU node size."
  type        = string
  default     = "gpu-h100x1-80gb"
}

variable "gpu_max_nodes" {
  description = "Upper bound of the GPU pool; it scales from zero, so idle GPUs cost nothing."
  type        = number
  default     = 2

  validation {
    condition     = var.gpu_max_nodes >= 1 && var.gpu_max_nodes <= 100
    error_message = "gpu_max_nodes must be between 1 and 100."
  }
}

variable "disable_kubernetes_secrets" {
  description = "Do not write the app's connection Secret into the cluster (for an emulator without a Kubernetes API server behind its clusters)."
  type        = bool
  default     = false
}
