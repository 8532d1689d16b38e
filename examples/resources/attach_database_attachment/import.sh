# <database_id>:<cluster_id>. The k8s rule is adopted (destroy removes it);
# add user, db and pool to the configuration to manage them.
terraform import attach_database_attachment.search 9cc10173-e9ea-4176-9dbc-a4cee4c4ff30:bd5f5959-5e1e-4205-a714-a914373942af
