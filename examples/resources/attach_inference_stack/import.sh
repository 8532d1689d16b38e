# A stack is imported by its name: every part is found by the tag
# attach-stack:<name> it carries (attached databases through their firewall
# rules). Imported databases get deletion_protection = true.
terraform import attach_inference_stack.ml ml-prod
