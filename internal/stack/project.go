package stack

import (
	"context"
	"fmt"
)

// How project assignment works: when the stack names a project, the parts
// it owns that are project resources (the cluster and its databases) are
// assigned to it. The VPC is not one: DigitalOcean's assignable types are
// Droplets, volumes, load balancers, domains, floating IPs, Kubernetes
// clusters, database clusters, Spaces buckets and App Platform apps
// (official provider docs/resources/project.md), and a do:vpc URN is
// refused. Assigning is idempotent, so every apply re-asserts it (one
// request).

func (r *run) assignProject(ctx context.Context) error {
	if r.spec.ProjectID == "" {
		return nil
	}
	urns := view(r, func(st *Status) []any {
		var urns []any
		if st.Cluster != nil {
			urns = append(urns, st.Cluster.URN)
		}
		for _, key := range sortedKeys(st.Databases) {
			if d := st.Databases[key]; d.Owned {
				urns = append(urns, d.URN)
			}
		}
		return urns
	})
	if len(urns) == 0 {
		return nil
	}
	res, _, err := r.e.API.Projects.AssignResources(ctx, r.spec.ProjectID, urns...)
	if err != nil {
		return apiErr("assigning the stack's resources to project "+r.spec.ProjectID, err)
	}
	for _, a := range res {
		if a.Status == "not_found" {
			return fmt.Errorf("assigning %s to project %s: DigitalOcean does not know it", a.URN, r.spec.ProjectID)
		}
	}
	return nil
}
