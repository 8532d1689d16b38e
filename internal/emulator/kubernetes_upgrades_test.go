package emulator

import (
	"net/http"
	"strings"
	"testing"

	"github.com/digitalocean/godo"
)

func TestKubernetesUpgrade(t *testing.T) {
	srv, c := startTest(t, Config{})
	clk := newHandClock(srv)
	req := simpleCluster("old", "sgp1")
	req.VersionSlug = "1.31.9-do.0"
	cl, _, err := c.Kubernetes.Create(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	ups, _, err := c.Kubernetes.GetUpgrades(ctx, cl.ID)
	if err != nil || len(ups) != 1 || ups[0].Slug != "1.32.5-do.0" {
		t.Fatalf("upgrades from 1.31: %v %+v", err, ups)
	}
	_, err = c.Kubernetes.Upgrade(ctx, cl.ID, &godo.KubernetesClusterUpgradeRequest{VersionSlug: "1.32.5-do.0"})
	if er := wantStatus(t, err, http.StatusUnprocessableEntity); !strings.Contains(er.Message, "provisioning") {
		t.Fatalf("upgrade while provisioning: %s", er.Message)
	}
	clk.advance(ClusterProvisionDuration)
	_, err = c.Kubernetes.Upgrade(ctx, cl.ID, &godo.KubernetesClusterUpgradeRequest{VersionSlug: "1.33.1-do.0"})
	if er := wantStatus(t, err, http.StatusUnprocessableEntity); !strings.Contains(er.Message, "1.32.5-do.0") {
		t.Fatalf("skipping a minor: %s", er.Message)
	}
	resp, err := c.Kubernetes.Upgrade(ctx, cl.ID, &godo.KubernetesClusterUpgradeRequest{VersionSlug: "1.32.5-do.0"})
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("upgrade: %v", err)
	}
	got := getCluster(t, c, cl.ID)
	if got.Status.State != godo.KubernetesClusterStatusUpgrading || got.VersionSlug != "1.31.9-do.0" {
		t.Fatalf("during upgrade: %s %s", got.Status.State, got.VersionSlug)
	}
	clk.advance(ClusterUpgradeDuration)
	got = getCluster(t, c, cl.ID)
	if got.Status.State != godo.KubernetesClusterStatusRunning || got.VersionSlug != "1.32.5-do.0" {
		t.Fatalf("after upgrade: %s %s", got.Status.State, got.VersionSlug)
	}
	ups, _, _ = c.Kubernetes.GetUpgrades(ctx, cl.ID)
	if len(ups) != 1 || ups[0].Slug != "1.33.1-do.0" {
		t.Fatalf("upgrades from 1.32: %+v", ups)
	}
}
