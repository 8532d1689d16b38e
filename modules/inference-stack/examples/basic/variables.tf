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
