# Which GPU sizes can a DOKS cluster use, and where? Read live from the API
# (or the emulator: `make demo` points the provider at one).

terraform {
  required_version = ">= 1.5"
  required_providers {
    attach = {
      source = "attach-labs/attach"
    }
  }
}

# The token and endpoint come from DIGITALOCEAN_TOKEN and DIGITALOCEAN_API_URL.
provider "attach" {}

data "attach_kubernetes_options" "current" {}

output "latest_version" {
  description = "The newest DOKS version."
  value       = data.attach_kubernetes_options.current.latest_version
}

output "gpu_sizes_by_region" {
  description = "GPU node sizes each region offers (regions without GPUs left out)."
  value = {
    for region, sizes in data.attach_kubernetes_options.current.gpu_sizes_by_region : region => sizes
    if length(sizes) > 0
  }
}
