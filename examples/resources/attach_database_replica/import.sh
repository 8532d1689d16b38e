# <primary database id>:<replica name>
terraform import attach_database_replica.vectors 9cc10173-e9ea-4176-9dbc-a4cee4c4ff30:ml-vectors-dr
