// Package faulttest holds the fault matrix: the quickstart-shaped stack's
// create, update and destroy run against the emulator with one fault injected
// on each API call they make, through a client built exactly like the
// provider's (retries, rate-limit pacing). It lives apart from internal/stack
// because it needs internal/provider's client, which imports the engine.
package faulttest
