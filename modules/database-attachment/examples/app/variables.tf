variable "stack_name" {
  description = "The data team's stack, e.g. one applied from modules/inference-stack/examples/basic."
  type        = string
}

variable "cluster_id" {
  description = "This team's DOKS cluster (in the stack's region and VPC)."
  type        = string
}
