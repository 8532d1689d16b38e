terraform {
  required_version = ">= 1.5"

  required_providers {
    attach = {
      source = "attach-labs/attach"
    }
  }
}

# Token and endpoint from DIGITALOCEAN_TOKEN and DIGITALOCEAN_API_URL (the
# emulator's, in the module tests).
provider "attach" {}
