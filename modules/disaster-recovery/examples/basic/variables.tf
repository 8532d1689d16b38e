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
