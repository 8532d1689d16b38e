package stack

import (
	"context"
	"time"
)

// How the kubeconfig is kept: fetched with a bounded lifetime once the
// cluster runs, and fetched again by refresh when less than
// KubeconfigRenewBefore of it remains, so the kubeconfig in state always
// works. It lives only in state (a sensitive attribute), never on disk.

const (
	// KubeconfigLifetime is how long a fetched kubeconfig's token lasts.
	KubeconfigLifetime = 7 * 24 * time.Hour
	// KubeconfigRenewBefore is when refresh fetches a new one.
	KubeconfigRenewBefore = 2 * 24 * time.Hour
)

func (r *run) ensureKubeconfig(ctx context.Context) error {
	return r.fetchKubeconfig(ctx, false)
}

func (r *run) refreshKubeconfig(ctx context.Context) error {
	return r.fetchKubeconfig(ctx, false)
}

// fetchKubeconfig gets a kubeconfig unless the one in state is for this
// cluster and far from expiring.
func (r *run) fetchKubeconfig(ctx context.Context, force bool) error {
	if r.spec.OmitSecrets {
		// Kept out of state: nothing would hold it. The ephemeral
		// kubeconfig serves one when needed.
		return nil
	}
	c := view(r, func(st *Status) *ClusterStatus { return st.Cluster.clone() })
	if c == nil || c.State != "running" && c.State != "upgrading" && c.State != "degraded" {
		return nil
	}
	if !force && c.Kubeconfig != "" && time.Until(c.KubeconfigExpiresAt) > KubeconfigRenewBefore {
		return nil
	}
	cfg, _, err := r.e.API.Kubernetes.GetKubeConfigWithExpiry(ctx, c.ID, int64(KubeconfigLifetime.Seconds()))
	if err != nil {
		return apiErr("fetching the kubeconfig of cluster "+c.Name, err)
	}
	expires := time.Now().Add(KubeconfigLifetime).UTC().Truncate(time.Second)
	r.update(func(st *Status) {
		if st.Cluster != nil && st.Cluster.ID == c.ID {
			st.Cluster.Kubeconfig, st.Cluster.KubeconfigExpiresAt = string(cfg.KubeconfigYAML), expires
		}
	})
	return nil
}
