package stack

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-log/tflog"
)

// How the DOKS cluster is managed. The cluster is created with all its node
// pools in one request, so the GPU pools provision alongside the control
// plane. Changes DOKS can make in place are made in place (settings, version
// upgrades, pools); a change that needs a new cluster (region, VPC, subnets,
// turning HA off) replaces the cluster only: the new one comes up, every
// database's firewall is re-pointed to it, then the old one is deleted
// (retire-old-cluster). Databases never move.

func clusterName(stack string, generation int) string {
	if generation <= 1 {
		return stack
	}
	return fmt.Sprintf("%s-g%d", stack, generation)
}

// ClusterReplacementReason says why spec needs a new cluster rather than an
// update of cur ("" when it can be updated in place). The provider calls it
// at plan time to warn the user.
func ClusterReplacementReason(spec Spec, vpcID string, cur *ClusterStatus) string {
	var reasons []string
	if cur.Region != "" && cur.Region != spec.Region {
		reasons = append(reasons, fmt.Sprintf("region %s -> %s", cur.Region, spec.Region))
	}
	if vpcID != "" && cur.VPCID != "" && cur.VPCID != vpcID {
		reasons = append(reasons, "VPC "+cur.VPCID+" -> "+vpcID)
	}
	if s := spec.Cluster.ClusterSubnet; s != "" && cur.ClusterSubnet != "" && s != cur.ClusterSubnet {
		reasons = append(reasons, fmt.Sprintf("cluster_subnet %s -> %s", cur.ClusterSubnet, s))
	}
	if s := spec.Cluster.ServiceSubnet; s != "" && cur.ServiceSubnet != "" && s != cur.ServiceSubnet {
		reasons = append(reasons, fmt.Sprintf("service_subnet %s -> %s", cur.ServiceSubnet, s))
	}
	if cur.HA && !spec.Cluster.HA {
		reasons = append(reasons, "high availability cannot be turned off in place")
	}
	return strings.Join(reasons, ", ")
}

func (r *run) ensureCluster(ctx context.Context) error {
	cur, vpcID := view2(r, func(st *Status) (*ClusterStatus, string) { return st.Cluster.clone(), st.VPCID })
	generation := 1
	if retiring := view(r, func(st *Status) *ClusterStatus { return st.RetiringCluster.clone() }); cur == nil && retiring != nil {
		// A replacement whose new cluster is not recorded yet (it failed
		// before its create, or the stack is replaced whole: HandOver):
		// the next generation, never the retiring cluster's own name.
		generation = retiring.Generation + 1
	}
	if cur != nil {
		reason := ClusterReplacementReason(r.spec, vpcID, cur)
		if reason == "" {
			return r.updateCluster(ctx, cur)
		}
		r.warn("The cluster was replaced", "Cluster %s was replaced (%s); the databases kept their ids and now trust the new cluster.", cur.Name, reason)
		r.update(func(st *Status) { st.RetiringCluster, st.Cluster = st.Cluster, nil })
		generation = cur.Generation + 1
	}
	return r.createCluster(ctx, vpcID, generation)
}

func (r *run) createCluster(ctx context.Context, vpcID string, generation int) error {
	c := r.spec.Cluster
	name := clusterName(r.spec.Name, generation)
	req := &godo.KubernetesClusterCreateRequest{
		Name:          name,
		RegionSlug:    r.spec.Region,
		VersionSlug:   c.Version,
		Tags:          r.spec.AllTags(),
		VPCUUID:       vpcID,
		ClusterSubnet: c.ClusterSubnet,
		ServiceSubnet: c.ServiceSubnet,
		HA:            godo.PtrTo(c.HA),
		AutoUpgrade:   c.AutoUpgrade,
		SurgeUpgrade:  c.SurgeUpgrade,
		NodePools:     nodePoolCreateRequests(r.spec),
	}
	if c.MaintenanceStart != "" || c.MaintenanceDay != "" {
		req.MaintenancePolicy = maintenancePolicy(c)
	}
	if c.ControlPlaneFirewall != nil {
		req.ControlPlaneFirewall = firewallRequest(c.ControlPlaneFirewall)
	}
	req.ClusterAutoscalerConfiguration = autoscalerRequest(c.Autoscaler)
	c.Plugins.setOn(req)
	created, err := r.createClusterOnceNameFree(ctx, req)
	// The cluster's provisioning started now, unless it is adopted below
	// (created by an earlier, failed attempt: its age is unknown).
	createdAt, typical := time.Now(), TypicalClusterCreate
	if err != nil {
		typical = 0
		// Only a live cluster carrying the stack's tag is adopted, never
		// the deleted one still holding the name.
		var other *godo.KubernetesCluster
		adopted := adoptAfterFailedCreate(ctx, err, true, func(ctx context.Context) (bool, error) {
			c, named, err := r.findOwnCluster(ctx, name)
			if c != nil {
				created = c
			}
			other = named
			return c != nil, err
		})
		if !adopted && other != nil {
			return r.foreignError(ForeignObject{Kind: "cluster", Name: other.Name, ID: other.ID, Owner: OwnerIn(other.Tags)})
		}
		if !adopted && nameHeld(err) {
			return fmt.Errorf("%w; DigitalOcean still holds the name of a cluster deleted minutes ago: apply again in a few minutes",
				apiErr(fmt.Sprintf("creating cluster %s in %s", name, r.spec.Region), err))
		}
		if !adopted {
			return apiErr(fmt.Sprintf("creating cluster %s in %s", name, r.spec.Region), err)
		}
		r.update(func(st *Status) { st.Cluster = r.clusterStatusFrom(created, generation, nil) })
		if ctx.Err() != nil {
			return apiErr(fmt.Sprintf("creating cluster %s in %s", name, r.spec.Region), err)
		}
	}
	// Record the id before waiting: if the wait fails the cluster is in
	// state (and the resource tainted), never orphaned.
	r.update(func(st *Status) { st.Cluster = r.clusterStatusFrom(created, generation, nil) })
	// Every pool is new: each needs the nodes it was created with.
	want := map[string]int{}
	for _, p := range req.NodePools {
		want[p.Name] = requiredNodes(desiredPools(r.spec)[p.Name])
	}
	if typical > 0 {
		typical = max(typical, r.typicalPoolWait(want))
	}
	return r.waitClusterReady(ctx, created.ID, want, createdAt, typical)
}

// createClusterOnceNameFree creates the cluster, waiting while DigitalOcean
// still holds its name: the name of a cluster deleted minutes ago (the
// stack replaced whole, or destroyed and applied again) is refused with 422
// "is not available" until DigitalOcean releases it.
func (r *run) createClusterOnceNameFree(ctx context.Context, req *godo.KubernetesClusterCreateRequest) (*godo.KubernetesCluster, error) {
	var created *godo.KubernetesCluster
	var createErr, held error
	since := time.Now()
	waitErr := r.e.Poll.waitUntil(ctx, "DigitalOcean to release the cluster name "+req.Name, func(ctx context.Context) (bool, error) {
		created, _, createErr = r.e.API.Kubernetes.Create(ctx, req)
		if createErr != nil && ctx.Err() != nil && held != nil {
			// Out of time mid-request: the refusal is the news.
			createErr = held
		}
		if createErr == nil || !nameHeld(createErr) {
			return true, nil
		}
		held = createErr
		// Our own create whose answer was lost is not held, but taken:
		// only a live cluster carrying the stack's tag is adopted.
		if own, named, err := r.findOwnCluster(ctx, req.Name); err == nil && (own != nil || named != nil) {
			return true, nil
		}
		tflog.Info(ctx, "cluster name still held after a recent delete; retrying the create", map[string]any{
			"cluster": req.Name, "waited": time.Since(since).Round(time.Second).String()})
		return false, nil
	})
	if waitErr != nil && createErr == nil {
		return nil, waitErr
	}
	// Out of time while the name was held, createErr is the refusal.
	return created, createErr
}

// nameHeld reports DigitalOcean's refusal of a name a deleted object still
// holds (422, "... is not available").
func nameHeld(err error) bool {
	var er *godo.ErrorResponse
	return statusOf(err) == http.StatusUnprocessableEntity && errors.As(err, &er) &&
		strings.Contains(strings.ToLower(er.Message), "not available")
}

// findOwnCluster finds the stack's live cluster called name (it carries
// the stack's identity), or nil; named is a live cluster of that name that
// is not the stack's.
func (r *run) findOwnCluster(ctx context.Context, name string) (own, named *godo.KubernetesCluster, err error) {
	clusters, err := ListAll(ctx, func(opt *godo.ListOptions) ([]*godo.KubernetesCluster, *godo.Response, error) {
		return r.e.API.Kubernetes.List(ctx, opt)
	})
	if err != nil {
		return nil, nil, err
	}
	for _, c := range clusters {
		deleted := c.Status != nil && (c.Status.State == godo.KubernetesClusterStatusDeleted || c.Status.State == "deleting")
		if c.Name != name || deleted {
			continue
		}
		if ownedBy(c.Tags, r.spec.Owner) {
			return c, nil, nil
		}
		named = c
	}
	return nil, named, nil
}

func maintenancePolicy(c ClusterSpec) *godo.KubernetesMaintenancePolicy {
	day := godo.KubernetesMaintenanceDayAny
	if c.MaintenanceDay != "" {
		if d, err := godo.KubernetesMaintenanceToDay(c.MaintenanceDay); err == nil {
			day = d
		}
	}
	start := c.MaintenanceStart
	if start == "" {
		start = "00:00"
	}
	return &godo.KubernetesMaintenancePolicy{StartTime: start, Day: day}
}

// updateCluster makes the in-place changes: settings, version, node pools.
func (r *run) updateCluster(ctx context.Context, cur *ClusterStatus) error {
	c := r.spec.Cluster
	want := r.spec.AllTags()
	if !sameStrings(userTags(cur.Tags), want) || cur.HA != c.HA || cur.AutoUpgrade != c.AutoUpgrade ||
		cur.SurgeUpgrade != c.SurgeUpgrade || (c.MaintenanceDay != "" && cur.MaintenanceDay != c.MaintenanceDay) ||
		(c.MaintenanceStart != "" && cur.MaintenanceStart != c.MaintenanceStart) ||
		!firewallMatches(cur.ControlPlaneFirewall, c.ControlPlaneFirewall) ||
		!AutoscalerMatches(cur.Autoscaler, c.Autoscaler) || !PluginsMatch(cur.Plugins, c.Plugins) {
		req := &clusterUpdate{
			Name:                 cur.Name,
			Tags:                 want,
			AutoUpgrade:          c.AutoUpgrade,
			SurgeUpgrade:         c.SurgeUpgrade,
			HA:                   c.HA,
			ControlPlaneFirewall: firewallRequest(c.ControlPlaneFirewall),
			Autoscaler:           autoscalerRequest(c.Autoscaler),
			clusterPluginsUpdate: c.Plugins.update(),
		}
		if c.MaintenanceStart != "" || c.MaintenanceDay != "" {
			req.MaintenancePolicy = maintenancePolicy(c)
		}
		if err := r.putCluster(ctx, cur.ID, req); err != nil {
			return apiErr("updating cluster "+cur.Name, err)
		}
	}
	if c.Version != "" && !VersionMatches(cur.Version, c.VersionPrefix) {
		if CompareVersions(c.Version, cur.Version) < 0 {
			return fmt.Errorf("cluster %s runs %s, newer than the requested %s: DOKS cannot downgrade; raise the version or replace the stack", cur.Name, cur.Version, c.Version)
		}
		if _, err := r.e.API.Kubernetes.Upgrade(ctx, cur.ID, &godo.KubernetesClusterUpgradeRequest{VersionSlug: c.Version}); err != nil {
			return apiErr(fmt.Sprintf("upgrading cluster %s to %s", cur.Name, c.Version), err)
		}
		// The upgrade is asynchronous: wait for it before touching pools.
		if err := r.waitClusterReady(ctx, cur.ID, nil, time.Now(), TypicalClusterUpgrade); err != nil {
			return err
		}
	}
	replaced, err := r.replaceFailedNodes(ctx, cur)
	if err != nil {
		return err
	}
	touched, err := r.reconcileNodePools(ctx, cur)
	if err != nil {
		return err
	}
	for name, n := range replaced {
		if _, ok := touched[name]; !ok {
			touched[name] = n
		}
	}
	// Pools this apply created or grew are expected to take a pool's
	// typical time; pools only still short from an earlier apply are not.
	return r.waitClusterReady(ctx, cur.ID, r.poolsToWaitFor(cur, touched), time.Now(), r.typicalPoolWait(touched))
}

// clusterUpdate is the PUT body. godo's KubernetesClusterUpdateRequest
// marks surge_upgrade omitempty, so turning surge upgrades off would be
// silently dropped; this body always sends every setting the stack manages.
type clusterUpdate struct {
	Name              string                            `json:"name"`
	Tags              []string                          `json:"tags"`
	MaintenancePolicy *godo.KubernetesMaintenancePolicy `json:"maintenance_policy,omitempty"`
	AutoUpgrade       bool                              `json:"auto_upgrade"`
	SurgeUpgrade      bool                              `json:"surge_upgrade"`
	HA                bool                              `json:"ha"`
	// ControlPlaneFirewall is always sent: without one in the spec, the
	// firewall is turned off (one added outside Terraform is drift).
	ControlPlaneFirewall *godo.KubernetesControlPlaneFirewall `json:"control_plane_firewall"`
	// Autoscaler is omitted when the spec leaves it to DigitalOcean.
	Autoscaler *godo.KubernetesClusterAutoscalerConfiguration `json:"cluster_autoscaler_configuration,omitempty"`
	// The managed plugins, each sent with its enabled value.
	clusterPluginsUpdate
}

// autoscalerRequest is the API's form of a (nil when a is).
func autoscalerRequest(a *AutoscalerConfig) *godo.KubernetesClusterAutoscalerConfiguration {
	if a == nil {
		return nil
	}
	out := &godo.KubernetesClusterAutoscalerConfiguration{ScaleDownUtilizationThreshold: a.ScaleDownUtilizationThreshold,
		Expanders: slices.Clone(a.Expanders)}
	if a.ScaleDownUnneededTime != "" {
		out.ScaleDownUnneededTime = godo.PtrTo(a.ScaleDownUnneededTime)
	}
	return out
}

// AutoscalerMatches reports whether the cluster's autoscaler configuration
// (cur, as read) has every setting want manages: thresholds equal, times
// equal as durations ("5m" is "5m0s"), expanders in the same order.
func AutoscalerMatches(cur, want *AutoscalerConfig) bool {
	if want == nil {
		return true
	}
	if cur == nil {
		cur = &AutoscalerConfig{}
	}
	if t := want.ScaleDownUtilizationThreshold; t != nil &&
		(cur.ScaleDownUtilizationThreshold == nil || math.Abs(*cur.ScaleDownUtilizationThreshold-*t) > 1e-9) {
		return false
	}
	if want.ScaleDownUnneededTime != "" && !SameDuration(cur.ScaleDownUnneededTime, want.ScaleDownUnneededTime) {
		return false
	}
	return want.Expanders == nil || slices.Equal(cur.Expanders, want.Expanders)
}

// SameDuration reports whether a and b are the same duration ("5m" and
// "5m0s"); unparseable values compare as strings.
func SameDuration(a, b string) bool {
	da, errA := time.ParseDuration(a)
	db, errB := time.ParseDuration(b)
	if errA != nil || errB != nil {
		return a == b
	}
	return da == db
}

// firewallRequest is the API's form of f; nil is a disabled firewall.
// allowed_addresses is always a list, never null (the spec's type: array).
func firewallRequest(f *ControlPlaneFirewall) *godo.KubernetesControlPlaneFirewall {
	out := &godo.KubernetesControlPlaneFirewall{Enabled: godo.PtrTo(false), AllowedAddresses: []string{}}
	if f != nil {
		out.Enabled = godo.PtrTo(f.Enabled)
		out.AllowedAddresses = append(out.AllowedAddresses, f.AllowedAddresses...)
	}
	return out
}

// firewallMatches reports whether the cluster's firewall (cur, as read) is
// the one wanted: nil wants it off; addresses are compared as a set.
func firewallMatches(cur, want *ControlPlaneFirewall) bool {
	curOn := cur != nil && cur.Enabled
	if want == nil {
		return !curOn
	}
	var have []string
	if cur != nil {
		have = cur.AllowedAddresses
	}
	return curOn == want.Enabled && sameStrings(have, want.AllowedAddresses)
}

func (r *run) putCluster(ctx context.Context, id string, body *clusterUpdate) error {
	req, err := r.e.API.NewRequest(ctx, http.MethodPut, "v2/kubernetes/clusters/"+id, body)
	if err != nil {
		return err
	}
	_, err = r.e.API.Do(ctx, req, nil)
	return err
}

// waitClusterReady polls the cluster (one GET returns it with its pools and
// nodes) until it runs and each pool in want has at least the nodes the
// apply asked of it running (want: DOKS pool name -> nodes required).
// Nodes beyond those (the autoscaler's) and pools the apply did not touch
// are not waited for. Pools still short when ctx ends are marked, so the
// next apply continues the wait, and the error names them.
//
// What the wait is for started at started and typically takes typical (0:
// unknown), which shapes the polling (PollConfig.waitExpecting).
func (r *run) waitClusterReady(ctx context.Context, id string, want map[string]int, started time.Time, typical time.Duration) error {
	since := time.Now()
	var short []poolShortfall
	err := r.e.Poll.waitExpecting(ctx, "cluster "+id+" to be running", started, typical, func(ctx context.Context) (bool, error) {
		c, err := r.getCluster(ctx, id, since, r.e.Poll.listMaxAge(started, typical))
		if err != nil {
			return false, apiErr("reading cluster "+id, err)
		}
		prior := view(r, func(st *Status) *ClusterStatus { return st.Cluster.clone() })
		generation := 1
		if prior != nil && prior.ID == id {
			generation = prior.Generation
		}
		status := r.clusterStatusFrom(c, generation, prior)
		r.update(func(st *Status) {
			if st.Cluster != nil && st.Cluster.ID == id {
				status.Kubeconfig, status.KubeconfigExpiresAt = st.Cluster.Kubeconfig, st.Cluster.KubeconfigExpiresAt
				status.KubeconfigLifetime = st.Cluster.KubeconfigLifetime
			}
			st.Cluster = status
		})
		if c.Status != nil {
			switch c.Status.State {
			case godo.KubernetesClusterStatusError, godo.KubernetesClusterStatusInvalid:
				return false, fmt.Errorf("cluster %s failed to provision (state %s): %s", c.Name, c.Status.State, c.Status.Message)
			}
		}
		var missing []string
		short, missing = r.poolShortfalls(c, want)
		if len(missing) > 0 {
			return false, fmt.Errorf("cluster %s: node pools %s are gone (deleted outside Terraform?); apply again to recreate them", c.Name, strings.Join(missing, ", "))
		}
		var failed []string
		for _, s := range short {
			failed = append(failed, s.failed...)
		}
		if len(failed) > 0 {
			return false, fmt.Errorf("cluster %s: nodes failed to provision: %s; apply again to replace them", c.Name, strings.Join(failed, ", "))
		}
		// Degraded is a running control plane with unhealthy nodes: those
		// of the pools waited for are checked above, the others are not
		// this apply's to wait for.
		running := c.Status != nil && (c.Status.State == godo.KubernetesClusterStatusRunning ||
			c.Status.State == godo.KubernetesClusterStatusDegraded)
		if running && len(short) > 0 {
			for _, s := range short {
				tflog.Info(ctx, "waiting for node pool nodes to run", map[string]any{
					"cluster": c.Name, "pool": s.pool, "running": s.running, "required": s.required,
					"provisioning": s.provisioning, "provisioning_for": s.longest.Round(time.Second).String()})
			}
		}
		return running && len(short) == 0, nil
	})
	r.markWaiting(id, want, short, err)
	if err != nil && ctx.Err() != nil && len(short) > 0 {
		return fmt.Errorf("%s; the next apply continues the wait: %w", describeShortfalls(short, r.spec.Region), err)
	}
	return err
}

func (r *run) refreshCluster(ctx context.Context) error {
	for _, retiring := range []bool{false, true} {
		cur := view(r, func(st *Status) *ClusterStatus {
			if retiring {
				return st.RetiringCluster.clone()
			}
			return st.Cluster.clone()
		})
		if cur == nil {
			continue
		}
		c, err := r.getCluster(ctx, cur.ID, r.started, refreshMaxAge)
		var status *ClusterStatus
		switch {
		case isNotFound(err):
			// Gone out of band: the next plan rebuilds it.
		case err != nil:
			return apiErr("reading cluster "+cur.Name, err)
		default:
			status = r.clusterStatusFrom(c, cur.Generation, cur)
			status.Kubeconfig, status.KubeconfigExpiresAt = cur.Kubeconfig, cur.KubeconfigExpiresAt
			status.KubeconfigLifetime = cur.KubeconfigLifetime
		}
		r.update(func(st *Status) {
			if retiring {
				st.RetiringCluster = status
			} else {
				st.Cluster = status
			}
		})
	}
	return nil
}

// retireOldCluster deletes the cluster a replacement superseded, now that
// every database trusts the new one.
func (r *run) retireOldCluster(ctx context.Context) error {
	old := view(r, func(st *Status) *ClusterStatus { return st.RetiringCluster.clone() })
	if old == nil {
		return nil
	}
	if err := r.deleteCluster(ctx, old); err != nil {
		return err
	}
	r.update(func(st *Status) { st.RetiringCluster = nil })
	return nil
}

func (r *run) deleteClusterStep(ctx context.Context) error {
	for _, retiring := range []bool{true, false} {
		c := view(r, func(st *Status) *ClusterStatus {
			if retiring {
				return st.RetiringCluster.clone()
			}
			return st.Cluster.clone()
		})
		if c == nil {
			continue
		}
		if err := r.deleteCluster(ctx, c); err != nil {
			return err
		}
		r.update(func(st *Status) {
			if retiring {
				st.RetiringCluster = nil
			} else {
				st.Cluster = nil
			}
		})
	}
	return nil
}

// deleteCluster deletes a cluster with the load balancers and volumes its
// workloads created (destroy_with_associated_resources), so destroy leaves
// nothing billing behind; with KeepAssociatedResources a plain delete
// leaves them in the account.
func (r *run) deleteCluster(ctx context.Context, c *ClusterStatus) error {
	// Its nodes as they are now (the autoscaler adds some between reads):
	// their Droplets linger in the VPC after the delete, and destroy must
	// know them for the stack's.
	live, _, err := r.e.API.Kubernetes.Get(ctx, c.ID)
	switch {
	case err == nil && r.claimedFromUs(live.Tags):
		return r.claimedError(ForeignObject{Kind: "cluster", Name: live.Name, ID: live.ID, Owner: OwnerIn(live.Tags)})
	case err == nil:
		c.Droplets = workerDroplets(live, c, time.Now())
	case !isNotFound(err):
		return apiErr("reading cluster "+c.Name+" before deleting it", err)
	}
	if !isNotFound(err) {
		what := "deleting cluster " + c.Name + " with its load balancers and volumes"
		if r.spec.Cluster.KeepAssociatedResources {
			what = "deleting cluster " + c.Name + " (keeping its load balancers and volumes)"
			_, err = r.e.API.Kubernetes.Delete(ctx, c.ID)
		} else {
			_, err = r.e.API.Kubernetes.DeleteDangerous(ctx, c.ID)
		}
		if err != nil && !isNotFound(err) {
			return apiErr(what, err)
		}
	}
	// Its worker Droplets stay VPC members for a while: remember them so
	// deleting the VPC waits them out.
	now := time.Now()
	r.update(func(st *Status) {
		for id, seen := range st.RetiredDroplets {
			if now.Sub(seen) >= dropletMemory {
				delete(st.RetiredDroplets, id)
			}
		}
		if len(c.Droplets) > 0 && st.RetiredDroplets == nil {
			st.RetiredDroplets = map[string]time.Time{}
		}
		for id := range c.Droplets {
			st.RetiredDroplets[id] = now
		}
		for name, seen := range st.RetiredPools {
			if now.Sub(seen) >= dropletMemory {
				delete(st.RetiredPools, name)
			}
		}
		if len(c.Pools) > 0 && st.RetiredPools == nil {
			st.RetiredPools = map[string]time.Time{}
		}
		for _, p := range c.Pools {
			if p != nil && p.Name != "" {
				st.RetiredPools[p.Name] = now
			}
		}
	})
	return nil
}

// clusterStatusFrom maps the API's cluster onto the status, keeping only
// what the stack manages of labels and taints (prior tells which).
func (r *run) clusterStatusFrom(c *godo.KubernetesCluster, generation int, prior *ClusterStatus) *ClusterStatus {
	s := &ClusterStatus{
		ID:            c.ID,
		Name:          c.Name,
		URN:           c.URN(),
		Endpoint:      c.Endpoint,
		Region:        c.RegionSlug,
		VPCID:         c.VPCUUID,
		Version:       c.VersionSlug,
		HA:            c.HA,
		AutoUpgrade:   c.AutoUpgrade,
		SurgeUpgrade:  c.SurgeUpgrade,
		ClusterSubnet: c.ClusterSubnet,
		ServiceSubnet: c.ServiceSubnet,
		Tags:          userTags(c.Tags),
		Generation:    generation,
		Pools:         map[string]*NodePoolStatus{},
	}
	if c.Status != nil {
		s.State = string(c.Status.State)
	}
	if mp := c.MaintenancePolicy; mp != nil {
		s.MaintenanceDay, s.MaintenanceStart = mp.Day.String(), mp.StartTime
	}
	if f := c.ControlPlaneFirewall; f != nil {
		s.ControlPlaneFirewall = &ControlPlaneFirewall{Enabled: f.Enabled != nil && *f.Enabled, AllowedAddresses: slices.Clone(f.AllowedAddresses)}
	}
	if a := c.ClusterAutoscalerConfiguration; a != nil {
		s.Autoscaler = &AutoscalerConfig{ScaleDownUtilizationThreshold: a.ScaleDownUtilizationThreshold, Expanders: slices.Clone(a.Expanders)}
		if a.ScaleDownUnneededTime != nil {
			s.Autoscaler.ScaleDownUnneededTime = *a.ScaleDownUnneededTime
		}
	}
	s.Plugins = pluginsFrom(c)
	for key, p := range poolsByKey(c.NodePools, prior) {
		want := r.poolSpecFor(key)
		s.Pools[key] = poolStatusFrom(p, key, want)
		s.Pools[key].Spec.Tags = r.poolOwnTags(s.Pools[key].Tags, want)
	}
	if prior != nil && prior.ID == c.ID {
		for key, p := range s.Pools {
			if old := prior.Pools[key]; old != nil && old.ID == p.ID {
				p.WaitingSince = old.WaitingSince
			}
		}
	}
	s.Droplets = workerDroplets(c, prior, time.Now())
	return s
}

// poolsByKey maps a cluster's DOKS pools to the stack's keys. A pool's key
// is its identity tag's (PoolTagPrefix); a pool without one (made before
// the tag existed) is matched by its name as state knows it, then taken for
// the key of its name, never shadowing a tagged pool. Where two pools claim
// a key (a replacement in flight), the one state knows by id wins, else one
// whose nodes are not all draining.
func poolsByKey(pools []*godo.KubernetesNodePool, prior *ClusterStatus) map[string]*godo.KubernetesNodePool {
	known, priorID := map[string]string{}, map[string]string{}
	if prior != nil {
		for k, p := range prior.Pools {
			known[p.Name], priorID[k] = k, p.ID
		}
	}
	rank := func(key string, p *godo.KubernetesNodePool) int {
		switch {
		case p.ID == priorID[key]:
			return 2
		case !poolDraining(p):
			return 1
		}
		return 0
	}
	out := map[string]*godo.KubernetesNodePool{}
	for _, p := range pools {
		if key := poolKey(p); key != "" {
			if have, taken := out[key]; !taken || rank(key, p) > rank(key, have) {
				out[key] = p
			}
		}
	}
	mapped := map[string]bool{}
	for _, byPrior := range []bool{true, false} {
		for _, p := range pools {
			if poolKey(p) != "" || mapped[p.ID] {
				continue
			}
			key, ok := known[p.Name]
			if !byPrior {
				key, ok = p.Name, true
			}
			if _, taken := out[key]; ok && !taken {
				out[key], mapped[p.ID] = p, true
			}
		}
	}
	return out
}

// poolDraining reports a pool whose nodes are all draining or deleting
// (one DOKS is deleting).
func poolDraining(p *godo.KubernetesNodePool) bool {
	for _, n := range p.Nodes {
		if n.Status == nil || n.Status.State != "draining" && n.Status.State != "deleting" {
			return false
		}
	}
	return len(p.Nodes) > 0
}

// dropletMemory is how long the droplet ids of nodes that left a cluster
// are remembered: far longer than DigitalOcean takes to tear them down.
const dropletMemory = time.Hour

// workerDroplets records the Droplet ids of c's nodes as seen at now, and
// keeps those of nodes that left it (deleted pools, replaced nodes) for
// dropletMemory: they stay VPC members for a while after.
func workerDroplets(c *godo.KubernetesCluster, prior *ClusterStatus, now time.Time) map[string]time.Time {
	out := map[string]time.Time{}
	if prior != nil && prior.ID == c.ID {
		for id, seen := range prior.Droplets {
			if now.Sub(seen) < dropletMemory {
				out[id] = seen
			}
		}
	}
	for _, p := range c.NodePools {
		for _, n := range p.Nodes {
			if n.DropletID != "" {
				out[n.DropletID] = now
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// userTags drops the tags DOKS adds by itself ("k8s", "k8s:<id>", "k8s:worker").
func userTags(tags []string) []string {
	var out []string
	for _, t := range tags {
		if t == "k8s" || strings.HasPrefix(t, "k8s:") {
			continue
		}
		out = append(out, t)
	}
	return out
}

// VersionMatches reports whether slug is within the requested prefix,
// compared by whole dotted components ("1.3" does not match "1.33.1").
func VersionMatches(slug, prefix string) bool {
	return prefix == "" || slug == prefix || strings.HasPrefix(slug, prefix+".") || strings.HasPrefix(slug, prefix+"-")
}

// CompareVersions orders slugs like "1.33.1-do.0" numerically.
func CompareVersions(a, b string) int {
	pa, pb := versionNumbers(a), versionNumbers(b)
	for i := 0; i < max(len(pa), len(pb)); i++ {
		var x, y int
		if i < len(pa) {
			x = pa[i]
		}
		if i < len(pb) {
			y = pb[i]
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return strings.Compare(a, b)
}

func versionNumbers(slug string) []int {
	var nums []int
	n, inNum := 0, false
	for _, r := range slug {
		if r >= '0' && r <= '9' {
			n, inNum = n*10+int(r-'0'), true
			continue
		}
		if inNum {
			nums = append(nums, n)
		}
		n, inNum = 0, false
	}
	if inNum {
		nums = append(nums, n)
	}
	return nums
}

// NewestVersion returns the newest of slugs matching prefix.
func NewestVersion(slugs []string, prefix string) (string, bool) {
	best := ""
	for _, s := range slugs {
		if VersionMatches(s, prefix) && (best == "" || CompareVersions(s, best) > 0) {
			best = s
		}
	}
	return best, best != ""
}

func view2[A, B any](r *run, fn func(st *Status) (A, B)) (A, B) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return fn(r.st)
}
