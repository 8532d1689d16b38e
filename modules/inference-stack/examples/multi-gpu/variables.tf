variable "name" {
  description = "Stack name."
  type        = string
  default     = "multi-gpu-inference"
}

variable "region" {
  description = "A region offering both H100 and L40S nodes (tor1 or atl1)."
  type        = string
  default     = "tor1"
}
