package emulator

import (
	"testing"

	"github.com/digitalocean/godo"
)

// Emulator throughput through godo: how much API traffic a test suite or a
// 50-stack plan can push through one emulator.

func BenchmarkEmulatorGetOptions(b *testing.B) {
	_, c := startBench(b)
	for b.Loop() {
		if _, _, err := c.Kubernetes.GetOptions(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEmulatorCreateAndDeleteVPC(b *testing.B) {
	_, c := startBench(b)
	for b.Loop() {
		v, _, err := c.VPCs.Create(ctx, &godo.VPCCreateRequest{Name: "bench", RegionSlug: "nyc3"})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.VPCs.Delete(ctx, v.ID); err != nil {
			b.Fatal(err)
		}
	}
}

func startBench(b *testing.B) (*Server, *godo.Client) {
	b.Helper()
	srv, err := Start(Config{TimeScale: fastScale, RateLimitPerMinute: -1, RateLimitPerHour: -1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srv.Close() })
	c, err := godo.New(nil, godo.SetBaseURL(srv.URL))
	if err != nil {
		b.Fatal(err)
	}
	c.HTTPClient.Transport = bearer{token: srv.Token}
	return srv, c
}
