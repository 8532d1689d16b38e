output "attachments" {
  description = "What was attached, without credentials."
  value       = module.database_attachment.attachments
}

output "connection_env" {
  description = "Variables for the app's Kubernetes Secret."
  value       = module.database_attachment.connection_env
  sensitive   = true
}
