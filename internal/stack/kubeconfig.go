package stack

import (
	"context"
	"time"
)

// How the kubeconfig is kept: fetched with a bounded lifetime (the spec's
// KubeconfigLifetime) once the cluster runs, and fetched again by refresh
// when less than KubeconfigRenewal of it remains, or when the lifetime
// asked for changed, so the kubeconfig in state always works. It lives only
// in state (a sensitive attribute), never on disk.

const (
	// KubeconfigLifetime is how long a fetched kubeconfig's token lasts by
	// default (DigitalOcean's own default for expiry_seconds).
	KubeconfigLifetime = 7 * 24 * time.Hour
	// KubeconfigRenewBefore is the most KubeconfigRenewal waits for.
	KubeconfigRenewBefore = 2 * 24 * time.Hour
)

// KubeconfigRenewal is how much of a token's lifetime may remain when
// refresh fetches a new one: half of it, at most KubeconfigRenewBefore. A
// run (plan to the end of apply) shorter than that always finds a working
// token.
func KubeconfigRenewal(lifetime time.Duration) time.Duration {
	return min(KubeconfigRenewBefore, lifetime/2)
}

func (r *run) kubeconfigLifetime() time.Duration {
	if l := r.spec.Cluster.KubeconfigLifetime; l > 0 {
		return l
	}
	return KubeconfigLifetime
}

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
	lifetime, had := r.kubeconfigLifetime(), c.KubeconfigLifetime
	if had == 0 {
		had = KubeconfigLifetime
	}
	if !force && c.Kubeconfig != "" && had == lifetime && time.Until(c.KubeconfigExpiresAt) > KubeconfigRenewal(lifetime) {
		return nil
	}
	cfg, _, err := r.e.API.Kubernetes.GetKubeConfigWithExpiry(ctx, c.ID, int64(lifetime.Seconds()))
	if err != nil {
		return apiErr("fetching the kubeconfig of cluster "+c.Name, err)
	}
	expires := time.Now().Add(lifetime).UTC().Truncate(time.Second)
	r.update(func(st *Status) {
		if st.Cluster != nil && st.Cluster.ID == c.ID {
			st.Cluster.Kubeconfig, st.Cluster.KubeconfigExpiresAt = string(cfg.KubeconfigYAML), expires
			st.Cluster.KubeconfigLifetime = lifetime
		}
	})
	return nil
}
