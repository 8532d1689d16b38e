# A stack this provider made (its objects carry one identity,
# attach-owner:<id>) is imported by its name; the state takes that identity.
terraform import attach_inference_stack.ml ml-prod

# Objects made elsewhere (the DigitalOcean provider, doctl, the control
# panel), or a stack whose state was lost, are adopted by their ids; nothing
# needs tagging first, and the first apply writes the stack's identity on
# them in place:
#   <name>,cluster=<cluster id>,database.<key>=<database id>[,vpc=<vpc id>]
#         [,system_pool=<pool id or name>][,gpu_pool.<key>=<pool id or name>]
# vpc= adopts the VPC as the stack's own (left out, the cluster's VPC is
# attached as vpc_id and never changed or deleted). Pools not named map by
# their name, and the only CPU pool is the system pool. Imported databases
# get deletion_protection = true.
terraform import attach_inference_stack.ml \
  'ml-prod,cluster=bd5f5959-4b2e-4b79-9d5c-2a2c0b9d1c11,database.vectors=9cc10173-e9ea-4176-9dbc-a4cee4c4ff30,vpc=5a4981aa-9653-4bd1-bef5-d6bff52042e4,gpu_pool.h100=h100'
