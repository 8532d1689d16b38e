package stack

import "github.com/digitalocean/godo"

// ClusterPlugins are the DOKS cluster components a GPU stack needs: the
// device plugins that make GPUs (and RDMA NICs) schedulable, AMD's GPU
// metrics exporter and the routing agent. Each is {"enabled": bool} in the
// cluster's create and update bodies and in what it reads back (spec
// cluster, cluster_update, cluster_read). In a ClusterSpec a nil field is
// not managed (DigitalOcean's default applies); in a ClusterStatus a nil
// field is one DigitalOcean did not report, which is off.
type ClusterPlugins struct {
	// NvidiaGpuDevicePlugin advertises nvidia.com/gpu on NVIDIA nodes;
	// DigitalOcean turns it on for clusters with an NVIDIA GPU pool.
	NvidiaGpuDevicePlugin *bool `json:",omitempty"`
	// AmdGpuDevicePlugin advertises amd.com/gpu on AMD nodes; DigitalOcean
	// turns it on for clusters with an AMD GPU pool.
	AmdGpuDevicePlugin *bool `json:",omitempty"`
	// AmdGpuDeviceMetricsExporter exports AMD GPU metrics (Prometheus).
	AmdGpuDeviceMetricsExporter *bool `json:",omitempty"`
	// RdmaSharedDevicePlugin shares the RDMA NICs of multi-node GPU
	// machines (8-GPU sizes) with pods; DigitalOcean turns it on for them.
	RdmaSharedDevicePlugin *bool `json:",omitempty"`
	// RoutingAgent is DOKS's routing-agent component (custom routes for
	// the cluster's nodes).
	RoutingAgent *bool `json:",omitempty"`
}

// On reports a read-back plugin's state: unreported is off.
func On(b *bool) bool { return b != nil && *b }

// PluginsMatch reports whether cur (as read) has every plugin want manages.
func PluginsMatch(cur, want ClusterPlugins) bool {
	for _, p := range [][2]*bool{
		{cur.NvidiaGpuDevicePlugin, want.NvidiaGpuDevicePlugin},
		{cur.AmdGpuDevicePlugin, want.AmdGpuDevicePlugin},
		{cur.AmdGpuDeviceMetricsExporter, want.AmdGpuDeviceMetricsExporter},
		{cur.RdmaSharedDevicePlugin, want.RdmaSharedDevicePlugin},
		{cur.RoutingAgent, want.RoutingAgent},
	} {
		if p[1] != nil && On(p[0]) != *p[1] {
			return false
		}
	}
	return true
}

func clonePtr(b *bool) *bool {
	if b == nil {
		return nil
	}
	v := *b
	return &v
}

func (p ClusterPlugins) clone() ClusterPlugins {
	return ClusterPlugins{
		NvidiaGpuDevicePlugin:       clonePtr(p.NvidiaGpuDevicePlugin),
		AmdGpuDevicePlugin:          clonePtr(p.AmdGpuDevicePlugin),
		AmdGpuDeviceMetricsExporter: clonePtr(p.AmdGpuDeviceMetricsExporter),
		RdmaSharedDevicePlugin:      clonePtr(p.RdmaSharedDevicePlugin),
		RoutingAgent:                clonePtr(p.RoutingAgent),
	}
}

// setOn puts the managed plugins in a create body.
func (p ClusterPlugins) setOn(req *godo.KubernetesClusterCreateRequest) {
	if p.NvidiaGpuDevicePlugin != nil {
		req.NvidiaGpuDevicePlugin = &godo.KubernetesNvidiaGpuDevicePlugin{Enabled: clonePtr(p.NvidiaGpuDevicePlugin)}
	}
	if p.AmdGpuDevicePlugin != nil {
		req.AmdGpuDevicePlugin = &godo.KubernetesAmdGpuDevicePlugin{Enabled: clonePtr(p.AmdGpuDevicePlugin)}
	}
	if p.AmdGpuDeviceMetricsExporter != nil {
		req.AmdGpuDeviceMetricsExporterPlugin = &godo.KubernetesAmdGpuDeviceMetricsExporterPlugin{Enabled: clonePtr(p.AmdGpuDeviceMetricsExporter)}
	}
	if p.RdmaSharedDevicePlugin != nil {
		req.RdmaSharedDevicePlugin = &godo.KubernetesRdmaSharedDevicePlugin{Enabled: clonePtr(p.RdmaSharedDevicePlugin)}
	}
	if p.RoutingAgent != nil {
		req.RoutingAgent = &godo.KubernetesRoutingAgent{Enabled: clonePtr(p.RoutingAgent)}
	}
}

// pluginUpdate is one plugin in the PUT body; unmanaged plugins are
// omitted, so DigitalOcean keeps them as they are.
type pluginUpdate struct {
	Enabled bool `json:"enabled"`
}

func pluginUpdateOf(b *bool) *pluginUpdate {
	if b == nil {
		return nil
	}
	return &pluginUpdate{Enabled: *b}
}

// clusterPluginsUpdate is the plugins' part of the PUT body (spec
// cluster_update: each plugin an object with enabled).
type clusterPluginsUpdate struct {
	NvidiaGpuDevicePlugin       *pluginUpdate `json:"nvidia_gpu_device_plugin,omitempty"`
	AmdGpuDevicePlugin          *pluginUpdate `json:"amd_gpu_device_plugin,omitempty"`
	AmdGpuDeviceMetricsExporter *pluginUpdate `json:"amd_gpu_device_metrics_exporter_plugin,omitempty"`
	RdmaSharedDevicePlugin      *pluginUpdate `json:"rdma_shared_dev_plugin,omitempty"`
	RoutingAgent                *pluginUpdate `json:"routing_agent,omitempty"`
}

func (p ClusterPlugins) update() clusterPluginsUpdate {
	return clusterPluginsUpdate{
		NvidiaGpuDevicePlugin:       pluginUpdateOf(p.NvidiaGpuDevicePlugin),
		AmdGpuDevicePlugin:          pluginUpdateOf(p.AmdGpuDevicePlugin),
		AmdGpuDeviceMetricsExporter: pluginUpdateOf(p.AmdGpuDeviceMetricsExporter),
		RdmaSharedDevicePlugin:      pluginUpdateOf(p.RdmaSharedDevicePlugin),
		RoutingAgent:                pluginUpdateOf(p.RoutingAgent),
	}
}

// pluginsFrom reads the plugins back from a cluster.
func pluginsFrom(c *godo.KubernetesCluster) ClusterPlugins {
	var out ClusterPlugins
	if p := c.NvidiaGpuDevicePlugin; p != nil {
		out.NvidiaGpuDevicePlugin = godo.PtrTo(On(p.Enabled))
	}
	if p := c.AmdGpuDevicePlugin; p != nil {
		out.AmdGpuDevicePlugin = godo.PtrTo(On(p.Enabled))
	}
	if p := c.AmdGpuDeviceMetricsExporterPlugin; p != nil {
		out.AmdGpuDeviceMetricsExporter = godo.PtrTo(On(p.Enabled))
	}
	if p := c.RdmaSharedDevicePlugin; p != nil {
		out.RdmaSharedDevicePlugin = godo.PtrTo(On(p.Enabled))
	}
	if p := c.RoutingAgent; p != nil {
		out.RoutingAgent = godo.PtrTo(On(p.Enabled))
	}
	return out
}
