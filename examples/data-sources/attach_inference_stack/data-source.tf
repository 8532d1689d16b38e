# From another workspace: ids and private hosts of a stack, found by name.
data "attach_inference_stack" "ml" {
  name = "ml-prod"
}

output "vectors_private_host" {
  value = data.attach_inference_stack.ml.databases["vectors"].private_host
}
