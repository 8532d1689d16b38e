# Against DigitalOcean: export DIGITALOCEAN_TOKEN and leave the block empty.
provider "attach" {}

# Against the emulator (`make emulator` prints these values). The token is
# the emulator's fixed default, not a credential: it opens nothing real.
#tfsec:ignore:custom-custom-attach003
provider "attach" {
  alias        = "offline"
  token        = "emulator-token"
  api_endpoint = "http://127.0.0.1:8080"
}
