package stack

import (
	"context"
	"fmt"
)

// How a stack that Terraform replaces whole keeps its data. Terraform
// replaces a tainted stack (a create that failed after some parts existed,
// or terraform taint / -replace) by deleting it, then creating it anew.
// Deleting would take the databases and their data with it; instead the
// destroy half hands the stack's status over (HandOver) and the create
// half applies onto it: the databases, the VPC they live in and their ids
// stay, and only the cluster is replaced, the way any cluster replacement
// is (cluster.go): the new cluster comes up, every database firewall is
// re-pointed to it, then the old one is deleted.

// HandOver prepares st for the create half of a whole-stack replacement:
// its cluster becomes the retiring one. A cluster already retiring (a
// replacement that stopped midway) is deleted first, since a status
// retires one cluster at a time. Nothing else is touched.
func (e *Engine) HandOver(ctx context.Context, spec Spec, st *Status) (Result, error) {
	r := e.newRun(spec, st)
	if err := r.checkClaims(); err != nil {
		return r.result(), err
	}
	if r.st.Cluster == nil {
		return r.result(), nil
	}
	if old := r.st.RetiringCluster.clone(); old != nil {
		if err := r.deleteCluster(ctx, old); err != nil {
			return r.result(), fmt.Errorf("deleting cluster %s, retiring since an earlier replacement: %w", old.Name, err)
		}
	}
	r.st.RetiringCluster, r.st.Cluster = r.st.Cluster, nil
	r.warn("The stack is replaced, its databases kept",
		"Terraform replaces stack %s; its databases (%s) and VPC are kept with their ids and data, and the replacement "+
			"adopts them. Only the cluster is replaced: cluster %s is deleted once every database trusts the new one.",
		spec.Name, partsOf(r.st), r.st.RetiringCluster.Name)
	return r.result(), nil
}

// partsOf names the databases of st, "none" without any.
func partsOf(st *Status) string {
	var out string
	for _, key := range sortedKeys(st.Databases) {
		if out != "" {
			out += ", "
		}
		out += key + " " + st.Databases[key].ID
	}
	if out == "" {
		return "none"
	}
	return out
}
