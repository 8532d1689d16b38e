package stack

import (
	"context"
	"testing"
)

// Destroy deletes the cluster with the load balancers and volumes its
// workloads created, unless the stack keeps them: then a plain delete.
func TestClusterDeleteKeepsAssociatedResourcesOnlyWhenAsked(t *testing.T) {
	const (
		plain     = "DELETE /v2/kubernetes/clusters/{cluster_id}"
		dangerous = "DELETE /v2/kubernetes/clusters/{cluster_id}/destroy_with_associated_resources/dangerous"
	)
	for _, keep := range []bool{false, true} {
		srv, e := startEngine(t)
		spec := smallSpec("assoc")
		spec.Cluster.KeepAssociatedResources = keep
		st := mustApply(t, e, spec, nil)
		srv.ResetRequestCounts()
		if _, err := e.Delete(context.Background(), spec, st, DeleteOptions{}); err != nil {
			t.Fatalf("keep=%t: destroy: %v", keep, err)
		}
		counts := srv.RequestCounts()
		want, not := dangerous, plain
		if keep {
			want, not = plain, dangerous
		}
		if counts[want] != 1 || counts[not] != 0 {
			t.Errorf("keep=%t: want one %s and no %s, got %d and %d", keep, want, not, counts[want], counts[not])
		}
	}
}
