package emulator

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Kubernetes clusters: the cluster JSON, create and update validation, and
// the /v2/kubernetes/clusters handlers (create, get, list, update, delete,
// and delete with associated resources).

// ---- JSON shapes ----

type k8sMaintenancePolicyJSON struct {
	StartTime string `json:"start_time"`
	Duration  string `json:"duration"`
	Day       string `json:"day"`
}

type k8sControlPlaneFirewallJSON struct {
	Enabled          *bool    `json:"enabled"`
	AllowedAddresses []string `json:"allowed_addresses"`
}

type k8sAutoscalerConfigJSON struct {
	ScaleDownUtilizationThreshold *float64 `json:"scale_down_utilization_threshold,omitempty"`
	ScaleDownUnneededTime         *string  `json:"scale_down_unneeded_time,omitempty"`
	Expanders                     []string `json:"expanders,omitempty"`
}

type k8sSSOJSON struct {
	Enabled   bool   `json:"enabled"`
	Required  bool   `json:"required"`
	IssuerURL string `json:"issuer_url,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
}

type k8sPluginJSON struct {
	Enabled *bool `json:"enabled"`
}

// k8sClusterPlugins are the optional cluster add-ons, each {"enabled": bool}.
type k8sClusterPlugins struct {
	RoutingAgent                      *k8sPluginJSON `json:"routing_agent,omitempty"`
	AmdGpuDevicePlugin                *k8sPluginJSON `json:"amd_gpu_device_plugin,omitempty"`
	AmdGpuDeviceMetricsExporterPlugin *k8sPluginJSON `json:"amd_gpu_device_metrics_exporter_plugin,omitempty"`
	NvidiaGpuDevicePlugin             *k8sPluginJSON `json:"nvidia_gpu_device_plugin,omitempty"`
	NvidiaGpuDraDriver                *k8sPluginJSON `json:"nvidia_gpu_dra_driver,omitempty"`
	AmdGpuDraDriver                   *k8sPluginJSON `json:"amd_gpu_dra_driver,omitempty"`
	RdmaSharedDevicePlugin            *k8sPluginJSON `json:"rdma_shared_dev_plugin,omitempty"`
	CorednsAutoscaler                 *k8sPluginJSON `json:"coredns_autoscaler,omitempty"`
	P2pOciRegistryPlugin              *k8sPluginJSON `json:"p2p_oci_registry_plugin,omitempty"`
	NfsCsiPlugin                      *k8sPluginJSON `json:"nfs_csi_plugin,omitempty"`
}

// fields maps plugin names to the struct's fields, for generic handling.
func (p *k8sClusterPlugins) fields() map[string]**k8sPluginJSON {
	return map[string]**k8sPluginJSON{
		"routing_agent":                          &p.RoutingAgent,
		"amd_gpu_device_plugin":                  &p.AmdGpuDevicePlugin,
		"amd_gpu_device_metrics_exporter_plugin": &p.AmdGpuDeviceMetricsExporterPlugin,
		"nvidia_gpu_device_plugin":               &p.NvidiaGpuDevicePlugin,
		"nvidia_gpu_dra_driver":                  &p.NvidiaGpuDraDriver,
		"amd_gpu_dra_driver":                     &p.AmdGpuDraDriver,
		"rdma_shared_dev_plugin":                 &p.RdmaSharedDevicePlugin,
		"coredns_autoscaler":                     &p.CorednsAutoscaler,
		"p2p_oci_registry_plugin":                &p.P2pOciRegistryPlugin,
		"nfs_csi_plugin":                         &p.NfsCsiPlugin,
	}
}

type k8sClusterStatusJSON struct {
	State   string `json:"state"`
	Message string `json:"message,omitempty"`
}

type k8sClusterJSON struct {
	ID                             string                       `json:"id"`
	Name                           string                       `json:"name"`
	Region                         string                       `json:"region"`
	Version                        string                       `json:"version"`
	ClusterSubnet                  string                       `json:"cluster_subnet"`
	ServiceSubnet                  string                       `json:"service_subnet"`
	VPCUUID                        string                       `json:"vpc_uuid"`
	IPv4                           string                       `json:"ipv4"`
	Endpoint                       string                       `json:"endpoint"`
	Tags                           []string                     `json:"tags"`
	NodePools                      []k8sNodePoolJSON            `json:"node_pools"`
	MaintenancePolicy              *k8sMaintenancePolicyJSON    `json:"maintenance_policy"`
	AutoUpgrade                    bool                         `json:"auto_upgrade"`
	SurgeUpgrade                   bool                         `json:"surge_upgrade"`
	HA                             bool                         `json:"ha"`
	RegistryEnabled                bool                         `json:"registry_enabled"`
	IsolatedWorkers                bool                         `json:"isolated_workers"`
	GPUOperatorReady               bool                         `json:"gpu_operator_ready"`
	ControlPlaneFirewall           *k8sControlPlaneFirewallJSON `json:"control_plane_firewall,omitempty"`
	ClusterAutoscalerConfiguration *k8sAutoscalerConfigJSON     `json:"cluster_autoscaler_configuration,omitempty"`
	SSO                            *k8sSSOJSON                  `json:"sso,omitempty"`
	k8sClusterPlugins
	Status    k8sClusterStatusJSON `json:"status"`
	CreatedAt time.Time            `json:"created_at"`
	UpdatedAt time.Time            `json:"updated_at"`
}

func (cl *k8sCluster) endpoint() string {
	if cl.apiEndpoint != "" {
		return cl.apiEndpoint // data plane: the real API server on loopback
	}
	return "https://" + cl.id + ".k8s.ondigitalocean.com"
}

// systemTags are the tags DOKS adds to a cluster (and, with "k8s:worker",
// to its node pools).
func (cl *k8sCluster) systemTags() []string { return []string{"k8s", "k8s:" + cl.id} }

func k8sMergeTags(system, user []string) []string {
	out := append([]string(nil), system...)
	for _, t := range user {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

func (cl *k8sCluster) toJSON() k8sClusterJSON {
	out := k8sClusterJSON{
		ID: cl.id, Name: cl.name, Region: cl.region, Version: cl.version,
		ClusterSubnet: cl.clusterSubnet, ServiceSubnet: cl.serviceSub, VPCUUID: cl.vpcID,
		IPv4: cl.ipv4, Endpoint: cl.endpoint(), Tags: k8sMergeTags(cl.systemTags(), cl.userTags),
		NodePools:   make([]k8sNodePoolJSON, 0, len(cl.pools)),
		AutoUpgrade: cl.autoUpgrade, SurgeUpgrade: cl.surgeUpgrade, HA: cl.ha,
		IsolatedWorkers: cl.isolatedWorkers, GPUOperatorReady: cl.gpuOperatorReady,
		ControlPlaneFirewall: cl.controlPlaneFirewall, ClusterAutoscalerConfiguration: cl.autoscalerConfig,
		SSO:       cl.sso,
		Status:    k8sClusterStatusJSON{State: cl.state, Message: cl.message},
		CreatedAt: cl.createdAt.UTC(), UpdatedAt: cl.updatedAt.UTC(),
	}
	m := cl.maint
	out.MaintenancePolicy = &m
	for _, p := range cl.pools {
		out.NodePools = append(out.NodePools, cl.poolJSON(p))
	}
	fields := out.k8sClusterPlugins.fields()
	for name, enabled := range cl.effectivePlugins() {
		*fields[name] = &k8sPluginJSON{Enabled: &enabled}
	}
	return out
}

// effectivePlugins is what the user set plus DOKS's defaults: the NVIDIA and
// AMD device plugins are on when a pool has such GPUs, and the RDMA shared
// device plugin when a pool has 8-GPU machines. The defaults follow the
// pools the cluster has now, so a GPU pool added later turns its plugin on;
// a value the user set (on create or PUT) wins over them. Plugins neither
// set nor defaulted are left out of the cluster (each is nullable, spec
// cluster_read).
func (cl *k8sCluster) effectivePlugins() map[string]bool {
	out := map[string]bool{}
	for _, p := range cl.pools {
		size, _ := nodeSizeBySlug(p.size)
		if size.GPU == nil {
			continue
		}
		if size.GPU.Brand == "amd" {
			// openapi kubernetes/models/amd_gpu_device_plugin.yml: "enabled by default for clusters with an AMD GPU node pool".
			out["amd_gpu_device_plugin"] = true
		} else {
			// openapi kubernetes/models/nvidia_gpu_device_plugin.yml: "enabled by default for clusters with an Nvidia GPU node pool".
			out["nvidia_gpu_device_plugin"] = true
		}
		if size.multiNodeGPU() {
			// godo v1.236.0 KubernetesRdmaSharedDevicePlugin: "If a cluster has a multi-node GPU ready slug it will be enabled by default."
			out["rdma_shared_dev_plugin"] = true
		}
	}
	// routing_agent and amd_gpu_device_metrics_exporter_plugin have no default in the spec or godo: off until set.
	for name, v := range cl.plugins {
		out[name] = v
	}
	// A DRA driver replaces the matching device plugin.
	if out["nvidia_gpu_dra_driver"] {
		delete(out, "nvidia_gpu_device_plugin")
	}
	if out["amd_gpu_dra_driver"] {
		delete(out, "amd_gpu_device_plugin")
	}
	return out
}

// ---- requests and validation ----

type k8sMaintenancePolicyRequest struct {
	StartTime string `json:"start_time"`
	Day       string `json:"day"`
}

type k8sClusterCreateRequest struct {
	Name                           string                       `json:"name"`
	Region                         string                       `json:"region"`
	Version                        string                       `json:"version"`
	Tags                           []string                     `json:"tags"`
	VPCUUID                        string                       `json:"vpc_uuid"`
	WorkerSubnetUUID               string                       `json:"worker_subnet_uuid"`
	ClusterSubnet                  string                       `json:"cluster_subnet"`
	ServiceSubnet                  string                       `json:"service_subnet"`
	HA                             *bool                        `json:"ha"`
	NodePools                      []k8sNodePoolRequest         `json:"node_pools"`
	MaintenancePolicy              *k8sMaintenancePolicyRequest `json:"maintenance_policy"`
	AutoUpgrade                    bool                         `json:"auto_upgrade"`
	SurgeUpgrade                   bool                         `json:"surge_upgrade"`
	ControlPlaneFirewall           *k8sControlPlaneFirewallJSON `json:"control_plane_firewall"`
	ClusterAutoscalerConfiguration *k8sAutoscalerConfigJSON     `json:"cluster_autoscaler_configuration"`
	SSO                            *k8sSSOJSON                  `json:"sso"`
	IsolatedWorkers                bool                         `json:"isolated_workers"`
	GPUOperatorReady               bool                         `json:"gpu_operator_ready"`
	k8sClusterPlugins
}

type k8sClusterUpdateRequest struct {
	Name                           *string                      `json:"name"`
	Tags                           []string                     `json:"tags"`
	MaintenancePolicy              *k8sMaintenancePolicyRequest `json:"maintenance_policy"`
	AutoUpgrade                    *bool                        `json:"auto_upgrade"`
	SurgeUpgrade                   bool                         `json:"surge_upgrade"`
	HA                             *bool                        `json:"ha"`
	ControlPlaneFirewall           *k8sControlPlaneFirewallJSON `json:"control_plane_firewall"`
	ClusterAutoscalerConfiguration *k8sAutoscalerConfigJSON     `json:"cluster_autoscaler_configuration"`
	SSO                            *k8sSSOJSON                  `json:"sso"`
	GPUOperatorReady               *bool                        `json:"gpu_operator_ready"`
	k8sClusterPlugins
}

var k8sMaintenanceDays = []string{"any", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}

func k8sValidateClusterName(name string) error {
	if name == "" {
		return errors.New("name is required")
	}
	if len(name) > 255 || !k8sClusterNamePattern.MatchString(name) {
		return fmt.Errorf("name %q is invalid: use letters, digits, dashes and dots, starting and ending with a letter or digit (at most 255 characters)", name)
	}
	return nil
}

func (s *kubernetesStore) nameTaken(name, exceptID string) bool {
	for _, cl := range s.clusters {
		if cl.id != exceptID && cl.name == name {
			return true
		}
	}
	return false
}

func k8sValidateTags(field string, tags []string) error {
	for _, t := range tags {
		if t == "" || len(t) > 255 || !k8sTagPattern.MatchString(t) {
			return fmt.Errorf("%s: tag %q is invalid: use letters, digits, colons, dashes and underscores (at most 255 characters)", field, t)
		}
	}
	return nil
}

func k8sValidateMaintenance(req *k8sMaintenancePolicyRequest, current k8sMaintenancePolicyJSON) (k8sMaintenancePolicyJSON, error) {
	out := current
	if req == nil {
		return out, nil
	}
	if req.StartTime != "" {
		m := k8sStartTimePattern.FindStringSubmatch(req.StartTime)
		if m == nil {
			return out, fmt.Errorf("maintenance_policy.start_time %q is invalid: use HH:MM in UTC, e.g. \"04:00\"", req.StartTime)
		}
		h, _ := strconv.Atoi(m[1])
		out.StartTime = fmt.Sprintf("%02d:%s", h, m[2])
	}
	if req.Day != "" {
		day := strings.ToLower(req.Day)
		if !slices.Contains(k8sMaintenanceDays, day) {
			return out, fmt.Errorf("maintenance_policy.day %q is invalid: use one of %s", req.Day, strings.Join(k8sMaintenanceDays, ", "))
		}
		out.Day = day
	}
	out.Duration = k8sMaintenanceWindow
	return out, nil
}

func k8sValidateControlPlaneFirewall(f *k8sControlPlaneFirewallJSON) error {
	if f == nil {
		return nil
	}
	for i, a := range f.AllowedAddresses {
		if _, err := netip.ParsePrefix(a); err == nil {
			continue
		}
		if _, err := netip.ParseAddr(a); err == nil {
			continue
		}
		return fmt.Errorf("control_plane_firewall.allowed_addresses[%d] %q is not an IP address or CIDR block", i, a)
	}
	return nil
}

func k8sValidateAutoscalerConfig(a *k8sAutoscalerConfigJSON) error {
	if a == nil {
		return nil
	}
	if t := a.ScaleDownUtilizationThreshold; t != nil && (*t < 0 || *t > 1) {
		return fmt.Errorf("cluster_autoscaler_configuration.scale_down_utilization_threshold must be between 0 and 1; got %v", *t)
	}
	if d := a.ScaleDownUnneededTime; d != nil {
		if _, err := time.ParseDuration(*d); err != nil {
			return fmt.Errorf("cluster_autoscaler_configuration.scale_down_unneeded_time %q is not a duration such as \"10m\"", *d)
		}
	}
	for _, e := range a.Expanders {
		if e != "random" && e != "priority" && e != "least_waste" {
			return fmt.Errorf("cluster_autoscaler_configuration.expanders: %q is invalid; use random, priority or least_waste", e)
		}
	}
	return nil
}

func k8sValidateSSO(s *k8sSSOJSON) error {
	if s == nil || !s.Enabled {
		return nil
	}
	if !strings.HasPrefix(s.IssuerURL, "https://") || s.ClientID == "" {
		return errors.New("sso: when enabled, issuer_url (an https URL) and client_id are required")
	}
	return nil
}

// k8sApplyPlugins records the plugins the request sets and checks the
// exclusions godo documents. A plugin the request leaves out (or sends as
// null, or without enabled) keeps its value: spec cluster_update marks none
// of them required.
func k8sApplyPlugins(req k8sClusterPlugins, set map[string]bool, gpuOperatorReady bool) error {
	for name, field := range req.fields() {
		if p := *field; p != nil && p.Enabled != nil {
			set[name] = *p.Enabled
		}
	}
	if set["nvidia_gpu_dra_driver"] && set["nvidia_gpu_device_plugin"] {
		return errors.New("nvidia_gpu_dra_driver and nvidia_gpu_device_plugin are mutually exclusive: enable one")
	}
	if set["amd_gpu_dra_driver"] && set["amd_gpu_device_plugin"] {
		return errors.New("amd_gpu_dra_driver and amd_gpu_device_plugin are mutually exclusive: enable one")
	}
	if gpuOperatorReady && (set["nvidia_gpu_dra_driver"] || set["amd_gpu_dra_driver"]) {
		return errors.New("gpu_operator_ready cannot be combined with a GPU DRA driver (nvidia_gpu_dra_driver, amd_gpu_dra_driver)")
	}
	return nil
}

// k8sCheckSubnets validates the pod and service networks against each other and
// the VPC's range.
func k8sCheckSubnets(clusterSubnet, serviceSubnet string, vpcRange netip.Prefix, vpcDesc string) (string, string, error) {
	cs, ss := k8sDefaultClusterSubnet, k8sDefaultServiceSubnet
	if clusterSubnet != "" {
		cs = clusterSubnet
	}
	if serviceSubnet != "" {
		ss = serviceSubnet
	}
	cp, err := parsePrivateCIDR(cs, 8, 20)
	if err != nil {
		return "", "", fmt.Errorf("cluster_subnet: %v", err)
	}
	sp, err := parsePrivateCIDR(ss, 12, 24)
	if err != nil {
		return "", "", fmt.Errorf("service_subnet: %v", err)
	}
	if cp.Overlaps(sp) {
		return "", "", fmt.Errorf("cluster_subnet %s and service_subnet %s overlap; choose disjoint ranges", cp, sp)
	}
	if vpcRange.IsValid() && cp.Overlaps(vpcRange) {
		return "", "", fmt.Errorf("cluster_subnet %s overlaps the range %s of %s; choose a range outside the VPC", cp, vpcRange, vpcDesc)
	}
	if vpcRange.IsValid() && sp.Overlaps(vpcRange) {
		return "", "", fmt.Errorf("service_subnet %s overlaps the range %s of %s; choose a range outside the VPC", sp, vpcRange, vpcDesc)
	}
	return cp.String(), sp.String(), nil
}

func (s *kubernetesStore) existingDefaultVPC(region string) *vpc {
	for _, v := range s.e.vpcs.vpcs {
		if v.Region == region && v.Default {
			return v
		}
	}
	return nil
}

func k8sRegionSlugList() string {
	out := make([]string, len(regions))
	for i, r := range regions {
		out[i] = r.Slug
	}
	return strings.Join(out, ", ")
}

// ---- handlers ----

func (s *kubernetesStore) find(c *call) (*k8sCluster, bool) {
	cl, ok := s.clusters[c.param("cluster_id")]
	if !ok {
		c.notFound()
	}
	return cl, ok
}

func (s *kubernetesStore) list(c *call) {
	all := k8sSortedClusters(s.clusters)
	out := make([]k8sClusterJSON, 0, len(all))
	for _, cl := range all {
		out = append(out, cl.toJSON())
	}
	respondList(c, "kubernetes_clusters", out)
}

func (s *kubernetesStore) get(c *call) {
	if cl, ok := s.find(c); ok {
		c.respond(http.StatusOK, map[string]any{"kubernetes_cluster": cl.toJSON()})
	}
}

func (s *kubernetesStore) create(c *call) {
	var req k8sClusterCreateRequest
	if !c.decode(&req) {
		return
	}
	cl, err := s.newCluster(req, c.now)
	if err != nil {
		c.unprocessable("%v", err)
		return
	}
	if err := s.startDataPlane(cl); err != nil {
		dataPlaneFailed(c, err)
		return
	}
	s.clusters[cl.id] = cl
	for _, p := range cl.pools {
		s.addNodes(cl, p, p.count, p.fails, false, c.now)
		s.planAutoscale(p, c.now)
	}
	c.respond(http.StatusCreated, map[string]any{"kubernetes_cluster": cl.toJSON()})
}

// newCluster validates a create request and builds the cluster (without
// nodes). Nothing is stored, and no default VPC created, unless it succeeds.
func (s *kubernetesStore) newCluster(req k8sClusterCreateRequest, now time.Time) (*k8sCluster, error) {
	if err := k8sValidateClusterName(req.Name); err != nil {
		return nil, err
	}
	if s.nameTaken(req.Name, "") {
		return nil, fmt.Errorf("name %q is already used by another Kubernetes cluster in this account; choose a unique name", req.Name)
	}
	// Names of deleted clusters are held a while (terraform-provider-digitalocean PR #198 discussion).
	if _, held := s.e.nameHeld(nameSpaceKubernetes, req.Name, now); held {
		return nil, fmt.Errorf("name %q is not available: a Kubernetes cluster with this name was deleted recently and DigitalOcean still holds the name; choose another name or retry in a few minutes", req.Name)
	}
	if req.Region == "" {
		return nil, fmt.Errorf("region is required; regions: %s", k8sRegionSlugList())
	}
	if _, ok := regionBySlug(req.Region); !ok {
		return nil, fmt.Errorf("region %q is not a valid region; regions: %s", req.Region, k8sRegionSlugList())
	}
	if req.Version == "" {
		return nil, fmt.Errorf("version is required: use \"latest\" or one of %s", strings.Join(kubernetesVersionSlugs(), ", "))
	}
	version, ok := kubernetesVersionBySlug(req.Version)
	if !ok {
		return nil, fmt.Errorf("version %q is not offered; use \"latest\" or one of %s", req.Version, strings.Join(kubernetesVersionSlugs(), ", "))
	}
	if len(req.NodePools) == 0 {
		return nil, errors.New("node_pools must contain at least one node pool")
	}
	if err := k8sValidateTags("tags", req.Tags); err != nil {
		return nil, err
	}
	var v *vpc
	if req.VPCUUID != "" {
		found, ok := s.e.vpcs.find(req.VPCUUID)
		if !ok {
			return nil, fmt.Errorf("vpc_uuid %q does not name a VPC in this account", req.VPCUUID)
		}
		if found.Region != req.Region {
			return nil, fmt.Errorf("vpc_uuid %q is a VPC in region %q, but the cluster is in %q; use a VPC in %s", req.VPCUUID, found.Region, req.Region, req.Region)
		}
		v = found
	}
	if req.WorkerSubnetUUID != "" {
		return nil, fmt.Errorf("worker_subnet_uuid %q does not name a subnet of the VPC; omit it to place workers in the VPC itself", req.WorkerSubnetUUID)
	}
	if req.IsolatedWorkers {
		return nil, errors.New("isolated_workers requires the cluster's VPC to have a NAT gateway attached, and it has none; attach a NAT gateway or omit isolated_workers")
	}
	maint, err := k8sValidateMaintenance(req.MaintenancePolicy, k8sMaintenancePolicyJSON{StartTime: "00:00", Day: "any", Duration: k8sMaintenanceWindow})
	if err != nil {
		return nil, err
	}
	if err := k8sValidateControlPlaneFirewall(req.ControlPlaneFirewall); err != nil {
		return nil, err
	}
	if err := k8sValidateAutoscalerConfig(req.ClusterAutoscalerConfiguration); err != nil {
		return nil, err
	}
	if err := k8sValidateSSO(req.SSO); err != nil {
		return nil, err
	}
	plugins := map[string]bool{}
	if err := k8sApplyPlugins(req.k8sClusterPlugins, plugins, req.GPUOperatorReady); err != nil {
		return nil, err
	}
	taken := map[string]bool{}
	var pools []*k8sPool
	for i, pr := range req.NodePools {
		p, err := k8sValidatePool(fmt.Sprintf("node_pools[%d]", i), pr, req.Region, taken)
		if err != nil {
			return nil, err
		}
		taken[p.name] = true
		p.createdAt = now
		pools = append(pools, p)
	}
	// Subnets are checked against the VPC's range. Without a VPC the cluster
	// goes into the region's default VPC, which DigitalOcean creates only
	// when the create succeeds: check against the range it would take.
	vpcRange, vpcDesc := netip.Prefix{}, ""
	if v != nil {
		vpcRange, vpcDesc = v.prefix, fmt.Sprintf("VPC %s (%s)", v.Name, v.ID)
	} else if def := s.existingDefaultVPC(req.Region); def != nil {
		vpcRange, vpcDesc = def.prefix, fmt.Sprintf("the default VPC %s of %s", def.ID, req.Region)
	} else if p, ok := s.e.vpcs.freeRange(20); ok {
		vpcRange, vpcDesc = p, "the default VPC of "+req.Region
	}
	cs, ss, err := k8sCheckSubnets(req.ClusterSubnet, req.ServiceSubnet, vpcRange, vpcDesc)
	if err != nil {
		return nil, err
	}
	if v == nil {
		v = s.e.vpcs.defaultFor(req.Region, now)
	}
	id := newID()
	h := sha256.Sum256([]byte(id))
	cl := &k8sCluster{
		id: id, name: req.Name, region: req.Region, version: version.Slug,
		clusterSubnet: cs, serviceSub: ss, vpcID: v.ID,
		ipv4:     fmt.Sprintf("164.90.%d.%d", h[0], 1+h[1]%254),
		secret:   randomHex(16),
		userTags: req.Tags, pools: pools, maint: maint,
		autoUpgrade: req.AutoUpgrade, surgeUpgrade: req.SurgeUpgrade,
		ha: req.HA != nil && *req.HA, gpuOperatorReady: req.GPUOperatorReady,
		controlPlaneFirewall: req.ControlPlaneFirewall, autoscalerConfig: req.ClusterAutoscalerConfiguration,
		sso: req.SSO, plugins: plugins,
		state: k8sProvisioning, createdAt: now, updatedAt: now,
		readyAt: now.Add(s.e.scaled(ClusterProvisionDuration)),
		fails:   s.e.takeTransitionFailure(TransitionCluster),
	}
	for _, p := range pools {
		p.fails = s.e.takeTransitionFailure(TransitionNodePool)
	}
	cl.addMessage(now, "Cluster provisioning started")
	return cl, nil
}

func (s *kubernetesStore) update(c *call) {
	cl, ok := s.find(c)
	if !ok {
		return
	}
	var req k8sClusterUpdateRequest
	if !c.decode(&req) {
		return
	}
	if req.Name == nil {
		c.unprocessable("name is required: send the cluster's current name (%q) to keep it", cl.name)
		return
	}
	if err := k8sValidateClusterName(*req.Name); err != nil {
		c.unprocessable("%v", err)
		return
	}
	if s.nameTaken(*req.Name, cl.id) {
		c.unprocessable("name %q is already used by another Kubernetes cluster in this account; choose a unique name", *req.Name)
		return
	}
	if err := k8sValidateTags("tags", req.Tags); err != nil {
		c.unprocessable("%v", err)
		return
	}
	maint, err := k8sValidateMaintenance(req.MaintenancePolicy, cl.maint)
	if err != nil {
		c.unprocessable("%v", err)
		return
	}
	if req.HA != nil && !*req.HA && cl.ha {
		c.unprocessable("ha: high availability cannot be disabled once enabled; create a new cluster without it instead")
		return
	}
	for _, check := range []func() error{
		func() error { return k8sValidateControlPlaneFirewall(req.ControlPlaneFirewall) },
		func() error { return k8sValidateAutoscalerConfig(req.ClusterAutoscalerConfiguration) },
		func() error { return k8sValidateSSO(req.SSO) },
	} {
		if err := check(); err != nil {
			c.unprocessable("%v", err)
			return
		}
	}
	gpuReady := cl.gpuOperatorReady
	if req.GPUOperatorReady != nil {
		gpuReady = *req.GPUOperatorReady
	}
	plugins := maps.Clone(cl.plugins)
	if err := k8sApplyPlugins(req.k8sClusterPlugins, plugins, gpuReady); err != nil {
		c.unprocessable("%v", err)
		return
	}
	cl.name = *req.Name
	if req.Tags != nil {
		cl.userTags = req.Tags
	}
	cl.maint = maint
	if req.AutoUpgrade != nil {
		cl.autoUpgrade = *req.AutoUpgrade
	}
	// surge_upgrade defaults to false: godo omits it when false.
	cl.surgeUpgrade = req.SurgeUpgrade
	if req.HA != nil && *req.HA && !cl.ha {
		cl.ha = true
		cl.addMessage(c.now, "Control plane converted to high availability")
	}
	if req.ControlPlaneFirewall != nil {
		cl.controlPlaneFirewall = req.ControlPlaneFirewall
	}
	if req.ClusterAutoscalerConfiguration != nil {
		cl.autoscalerConfig = req.ClusterAutoscalerConfiguration
	}
	if req.SSO != nil {
		cl.sso = req.SSO
	}
	cl.gpuOperatorReady = gpuReady
	cl.plugins = plugins
	cl.updatedAt = c.now
	c.respond(http.StatusAccepted, map[string]any{"kubernetes_cluster": cl.toJSON()})
}

// remove deletes a cluster: it answers 404 from now on, while its Droplets
// are torn down for DeleteDuration (VPC member, inventory "deleting"); its
// nodes' Droplets linger in the VPC and its name is held.
func (s *kubernetesStore) remove(cl *k8sCluster, now time.Time) {
	delete(s.clusters, cl.id)
	s.e.dp.removeKube(cl.id) // the API server goes with the control plane, at once
	cl.deleteAt = now.Add(s.e.scaled(DeleteDuration))
	s.deleting[cl.id] = cl
	for _, p := range cl.pools {
		for _, n := range p.nodes {
			s.dropletGone(cl, n, now)
		}
	}
	// A deleted cluster's name stays unavailable a while (terraform-provider-digitalocean PR #198 discussion).
	s.e.holdName(nameSpaceKubernetes, cl.name, now)
}

func (s *kubernetesStore) delete(c *call) {
	if cl, ok := s.find(c); ok {
		s.remove(cl, c.now)
		c.noContent()
	}
}

type k8sAssociatedResourceJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// associatedResources lists the load balancers, volumes and snapshots the
// cluster's workloads created (spec kubernetes_list_associatedResources).
func (s *kubernetesStore) associatedResources(c *call) {
	if cl, ok := s.find(c); ok {
		c.respond(http.StatusOK, map[string]any{
			"load_balancers":   s.workloadResourcesOf(cl.id, "load_balancer"),
			"volumes":          s.workloadResourcesOf(cl.id, "volume"),
			"volume_snapshots": []k8sAssociatedResourceJSON{},
		})
	}
}

// deleteSelective deletes the cluster and the associated resources listed
// by id; the others stay (spec kubernetes_destroy_associatedResourcesSelective).
func (s *kubernetesStore) deleteSelective(c *call) {
	cl, ok := s.find(c)
	if !ok {
		return
	}
	var req struct {
		LoadBalancers   []string `json:"load_balancers"`
		Volumes         []string `json:"volumes"`
		VolumeSnapshots []string `json:"volume_snapshots"`
	}
	if !c.decode(&req) {
		return
	}
	listed := map[string]bool{}
	for _, f := range []struct {
		field, kind string
		ids         []string
	}{{"load_balancers", "load_balancer", req.LoadBalancers}, {"volumes", "volume", req.Volumes}, {"volume_snapshots", "volume_snapshot", req.VolumeSnapshots}} {
		for _, id := range f.ids {
			if !slices.ContainsFunc(s.workloadResourcesOf(cl.id, f.kind), func(r k8sAssociatedResourceJSON) bool { return r.ID == id }) {
				c.unprocessable("%s: %q is not associated with cluster %s; list its associated resources with GET .../destroy_with_associated_resources", f.field, id, cl.id)
				return
			}
			listed[id] = true
		}
	}
	s.releaseWorkloadResources(cl.id, func(r *k8sWorkloadResource) bool { return listed[r.id] })
	s.remove(cl, c.now)
	c.noContent()
}

// deleteDangerous deletes the cluster with every associated resource (spec
// kubernetes_destroy_associatedResourcesDangerous).
func (s *kubernetesStore) deleteDangerous(c *call) {
	if cl, ok := s.find(c); ok {
		s.releaseWorkloadResources(cl.id, func(*k8sWorkloadResource) bool { return true })
		s.remove(cl, c.now)
		c.noContent()
	}
}
