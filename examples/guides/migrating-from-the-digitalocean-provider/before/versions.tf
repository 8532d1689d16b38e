terraform {
  required_version = ">= 1.7"
  required_providers {
    digitalocean = {
      source  = "digitalocean/digitalocean"
      version = "~> 2.0"
    }
  }
}

provider "digitalocean" {} # DIGITALOCEAN_TOKEN
