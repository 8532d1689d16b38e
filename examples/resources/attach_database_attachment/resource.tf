# In an app team's workspace: find the data team's stack by name, and attach
# this team's cluster to its vector database with a user, a db and a pool
# of its own. Other attachments and the stack's own rules are untouched.
variable "cluster_id" {
  description = "This team's DOKS cluster."
  type        = string
}

data "attach_inference_stack" "data" {
  name = "ml-data"
}

resource "attach_database_attachment" "search" {
  database_id = data.attach_inference_stack.data.databases["vectors"].id
  cluster_id  = var.cluster_id
  db          = "search"
  user        = "search"
  pool = {
    name = "search"
    size = 10
  }
}

output "search_database_url" {
  value     = attach_database_attachment.search.pool_private_uri
  sensitive = true
}
