terraform {
  required_version = ">= 1.5"

  required_providers {
    attach = {
      source = "attach-labs/attach"
    }
  }
}
