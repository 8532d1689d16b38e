terraform {
  required_version = ">= 1.5"

  required_providers {
    attach = {
      source = "attach-labs/attach"
    }
  }
}

# DIGITALOCEAN_TOKEN and DIGITALOCEAN_API_URL configure the provider.
provider "attach" {}
