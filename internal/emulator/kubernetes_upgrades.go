package emulator

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Kubernetes upgrades: /upgrades, /upgrade and /status_messages.

type k8sStatusMessageJSON struct {
	Message   string    `json:"message"`
	Timestamp time.Time `json:"timestamp"`
}

func (s *kubernetesStore) upgrades(c *call) {
	cl, ok := s.find(c)
	if !ok {
		return
	}
	out := upgradesFrom(cl.version)
	if out == nil {
		out = []kubernetesVersion{}
	}
	c.respond(http.StatusOK, map[string]any{"available_upgrade_versions": out})
}

func (s *kubernetesStore) upgrade(c *call) {
	cl, ok := s.find(c)
	if !ok {
		return
	}
	var req struct {
		Version string `json:"version"`
	}
	if !c.decode(&req) {
		return
	}
	options := upgradesFrom(cl.version)
	slugs := make([]string, len(options))
	for i, v := range options {
		slugs[i] = v.Slug
	}
	available := strings.Join(slugs, ", ")
	if available == "" {
		available = "none (the cluster runs the newest version)"
	}
	if req.Version == "" {
		c.unprocessable("version is required; available upgrades: %s", available)
		return
	}
	target := req.Version
	if target == "latest" && len(options) > 0 {
		target = options[0].Slug
	}
	if !slices.Contains(slugs, target) {
		c.unprocessable("version %q is not an available upgrade for a cluster on %s; available upgrades: %s", req.Version, cl.version, available)
		return
	}
	if cl.state != k8sRunning {
		c.unprocessable("cluster %s is %s; it can be upgraded only when running", cl.id, cl.state)
		return
	}
	cl.state, cl.message = k8sUpgrading, "upgrading to "+target
	cl.upgradeTo = target
	cl.upgradeDoneAt = c.now.Add(s.e.scaled(ClusterUpgradeDuration))
	cl.updatedAt = c.now
	cl.addMessage(c.now, "Cluster upgrade to "+target+" started")
	c.w.WriteHeader(http.StatusAccepted)
}

func (s *kubernetesStore) statusMessages(c *call) {
	cl, ok := s.find(c)
	if !ok {
		return
	}
	var since time.Time
	if v := c.query("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			c.fail(http.StatusBadRequest, "bad_request", fmt.Sprintf("since must be an RFC 3339 date-time; got %q", v))
			return
		}
		since = t
	}
	out := []k8sStatusMessageJSON{}
	for _, m := range cl.messages {
		if !m.Timestamp.Before(since) {
			out = append(out, m)
		}
	}
	c.respond(http.StatusOK, map[string]any{"messages": out})
}
