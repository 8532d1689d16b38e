data "attach_kubernetes_options" "current" {
  version_prefix = "1.33"
}

# Pick a region that offers H100 nodes.
locals {
  h100_regions = [
    for region, sizes in data.attach_kubernetes_options.current.gpu_sizes_by_region : region
    if contains(sizes, "gpu-h100x1-80gb")
  ]
}

output "version" {
  value = data.attach_kubernetes_options.current.latest_version
}

output "h100_regions" {
  value = local.h100_regions
}
