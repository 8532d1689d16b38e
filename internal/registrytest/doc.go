// Package registrytest proves the release the way users consume it: the
// provider's goreleaser-named artifacts, signed with a throwaway GPG key,
// and the modules packaged by `make release-modules` (internal/release) are
// served over HTTPS on loopback through the Provider and Module Registry
// Protocols, and Terraform and OpenTofu install them from there. The tests
// are in registry_test.go; this package has no non-test code.
package registrytest
