// Command emulator runs the DigitalOcean API emulator on its own, so a user
// can plan and apply their own configurations offline:
//
//	go run ./internal/cmd/emulator -addr 127.0.0.1:8080 -time-scale 120
//
// It prints the API URL, the token, and the environment variables that point
// the attach provider at it, and stops cleanly on Ctrl-C.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
)

func main() {
	cfg := emulator.ConfigFromEnv()
	flag.StringVar(&cfg.Addr, "addr", firstNonEmpty(cfg.Addr, "127.0.0.1:8080"), "listen address (env ATTACH_EMULATOR_ADDR); use 127.0.0.1:0 for any free port")
	flag.StringVar(&cfg.Token, "token", firstNonEmpty(cfg.Token, emulator.DefaultToken), "bearer token to accept (env ATTACH_EMULATOR_TOKEN)")
	timeScale := cfg.TimeScale
	if timeScale == 0 {
		timeScale = emulator.DefaultTimeScale
	}
	flag.Float64Var(&cfg.TimeScale, "time-scale", timeScale, "divide DigitalOcean's real provisioning times by this (env ATTACH_EMULATOR_TIME_SCALE); 1 is real time")
	noRateLimit := flag.Bool("no-rate-limit", false, "disable DigitalOcean's per-token rate limits")
	verbose := flag.Bool("v", false, "log every request")
	flag.BoolVar(&cfg.Realism.Ideal, "ideal", cfg.Realism.Ideal, "the happy path: turn off DigitalOcean's rough edges (404s right after a create, held names, replica preconditions, lingering VPC members, GPU capacity waits, autoscaler activity); env ATTACH_EMULATOR_IDEAL=1")
	flag.BoolVar(&cfg.DataPlane, "data-plane", false, "back PostgreSQL clusters, PgBouncer pools and Valkey clusters with real local servers on 127.0.0.1 (needs postgresql-15, pgbouncer and redis-server installed), and DOKS clusters with a real kube-apiserver and etcd each when found (make tools-kube, or ATTACH_KUBE_APISERVER and ATTACH_ETCD)")
	flag.Parse()

	if cfg.TimeScale <= 0 {
		log.Fatalf("-time-scale must be positive, got %v", cfg.TimeScale)
	}
	if *noRateLimit {
		cfg.RateLimitPerMinute, cfg.RateLimitPerHour = -1, -1
	}
	if *verbose {
		cfg.Logf = log.Printf
	}

	srv, err := emulator.Start(cfg)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("DigitalOcean API emulator listening on %s (time scale %g)\n\n", srv.URL, srv.TimeScale())
	if cfg.Realism.Ideal {
		fmt.Printf("Happy path (-ideal): DigitalOcean's rough edges are off.\n\n")
	} else {
		fmt.Printf("DigitalOcean's rough edges are on: 404s right after a create, replicas refused until the first backup,\n" +
			"names held after deletes, VPC members lingering, slow GPU capacity, an autoscaler at work (-ideal turns them off).\n\n")
	}
	if cfg.DataPlane {
		fmt.Printf("Data plane (-data-plane): PostgreSQL clusters, their PgBouncer pools and Valkey clusters run as real servers.\n" +
			"Their connection details name 127.0.0.1 and loopback ports (not DigitalOcean hosts), TLS only, with certificates\n" +
			"signed by the CA that GET /v2/databases/{id}/ca returns. MySQL, MongoDB, OpenSearch and Kafka have no data plane.\n")
		if err := srv.KubeDataPlaneErr(); err != nil {
			fmt.Printf("DOKS clusters keep DigitalOcean-shaped endpoints: %v\n\n", err)
		} else {
			fmt.Printf("DOKS clusters each run a real kube-apiserver and etcd on 127.0.0.1: their endpoint, CA and tokens\n" +
				"(GET .../kubeconfig, .../credentials with expiry_seconds) work with kubectl and client-go.\n\n")
		}
	}
	fmt.Printf("Point the attach provider (or doctl/godo) at it:\n\n")
	fmt.Printf("  export DIGITALOCEAN_API_URL=%s\n", srv.URL)
	fmt.Printf("  export DIGITALOCEAN_TOKEN=%s\n\n", srv.Token)
	fmt.Printf("Control API: %s/_emulator/inventory, /_emulator/requests, /_emulator/faults, /_emulator/reset\n", srv.URL)
	fmt.Printf("Press Ctrl-C to stop.\n")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	inv := srv.Inventory()
	if err := srv.Close(); err != nil {
		log.Printf("stopping: %v", err)
	}
	fmt.Printf("\nEmulator stopped; %d objects were live and are gone with it.\n", len(inv.Items))
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
