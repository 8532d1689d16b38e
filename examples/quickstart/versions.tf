terraform {
  required_version = ">= 1.5"
  required_providers {
    attach = {
      source = "attach-labs/attach"
    }
  }
}

# The token and endpoint come from DIGITALOCEAN_TOKEN and DIGITALOCEAN_API_URL
# (`make demo` points them at the embedded emulator).
provider "attach" {}
