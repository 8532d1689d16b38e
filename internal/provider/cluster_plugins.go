package provider

import (
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/attach-labs/terraform-provider-attach/internal/stack"
)

// The GPU stack's cluster plugins: the device plugins that make the pools'
// GPUs (and the RDMA NICs of 8-GPU machines) schedulable, AMD's GPU metrics
// exporter and DOKS's routing agent. The attributes carry the API's names
// (spec cluster: nvidia_gpu_device_plugin, ...), flattened to booleans on
// cluster. clusterModel embeds clusterPluginsModel and clusterSchema merges
// clusterPluginAttributes.

type clusterPluginsModel struct {
	NvidiaGpuDevicePlugin       types.Bool `tfsdk:"nvidia_gpu_device_plugin"`
	AmdGpuDevicePlugin          types.Bool `tfsdk:"amd_gpu_device_plugin"`
	AmdGpuDeviceMetricsExporter types.Bool `tfsdk:"amd_gpu_device_metrics_exporter_plugin"`
	RdmaSharedDevicePlugin      types.Bool `tfsdk:"rdma_shared_dev_plugin"`
	RoutingAgent                types.Bool `tfsdk:"routing_agent"`
}

func clusterPluginAttributes() map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"nvidia_gpu_device_plugin": schema.BoolAttribute{
			Optional: true, Computed: true,
			MarkdownDescription: "NVIDIA's GPU device plugin, which advertises `nvidia.com/gpu` on NVIDIA nodes: without it pods " +
				"cannot request those GPUs. Unset: on when a pool has an NVIDIA GPU size (`gpu-h100x...`, `gpu-l40sx...`, " +
				"`gpu-4000adax...`, `gpu-6000adax...`), off otherwise, as DigitalOcean does; the plan shows the value. " +
				"`false` with an NVIDIA pool warns that its GPUs will not be schedulable (for a GPU operator you run yourself). " +
				"Changed in place.",
		},
		"amd_gpu_device_plugin": schema.BoolAttribute{
			Optional: true, Computed: true,
			MarkdownDescription: "AMD's GPU device plugin, which advertises `amd.com/gpu` on AMD nodes. Unset: on when a pool has " +
				"an AMD GPU size (`gpu-mi300x...`), off otherwise, as DigitalOcean does; the plan shows the value. `false` with " +
				"an AMD pool warns that its GPUs will not be schedulable. Changed in place.",
		},
		"amd_gpu_device_metrics_exporter_plugin": schema.BoolAttribute{
			Optional: true, Computed: true, Default: booldefault.StaticBool(false),
			MarkdownDescription: "AMD's Device Metrics Exporter: per-GPU utilisation, memory, temperature and power of AMD " +
				"nodes as Prometheus metrics. Default `false` (DigitalOcean leaves it off). Changed in place.",
		},
		"rdma_shared_dev_plugin": schema.BoolAttribute{
			Optional: true, Computed: true,
			MarkdownDescription: "The RDMA shared device plugin, which lets pods use the RDMA network of 8-GPU machines " +
				"(`gpu-h100x8-640gb`, `gpu-mi300x8-1536gb`) for multi-node training and inference. Unset: on when a pool has " +
				"such a size, off otherwise, as DigitalOcean does; the plan shows the value. Changed in place.",
		},
		"routing_agent": schema.BoolAttribute{
			Optional: true, Computed: true, Default: booldefault.StaticBool(false),
			MarkdownDescription: "DOKS's routing agent, which applies custom routes (Route resources) on the nodes, e.g. to " +
				"send egress through a gateway. Default `false` (DigitalOcean leaves it off). Changed in place.",
		},
	}
}

func boolPtr(v types.Bool) *bool {
	if v.IsNull() || v.IsUnknown() {
		return nil
	}
	b := v.ValueBool()
	return &b
}

func (m clusterPluginsModel) toSpec() stack.ClusterPlugins {
	return stack.ClusterPlugins{
		NvidiaGpuDevicePlugin:       boolPtr(m.NvidiaGpuDevicePlugin),
		AmdGpuDevicePlugin:          boolPtr(m.AmdGpuDevicePlugin),
		AmdGpuDeviceMetricsExporter: boolPtr(m.AmdGpuDeviceMetricsExporter),
		RdmaSharedDevicePlugin:      boolPtr(m.RdmaSharedDevicePlugin),
		RoutingAgent:                boolPtr(m.RoutingAgent),
	}
}

// observedPlugins is the plugins as the cluster has them (unreported: off).
func observedPlugins(cur stack.ClusterPlugins) clusterPluginsModel {
	return clusterPluginsModel{
		NvidiaGpuDevicePlugin:       types.BoolValue(stack.On(cur.NvidiaGpuDevicePlugin)),
		AmdGpuDevicePlugin:          types.BoolValue(stack.On(cur.AmdGpuDevicePlugin)),
		AmdGpuDeviceMetricsExporter: types.BoolValue(stack.On(cur.AmdGpuDeviceMetricsExporter)),
		RdmaSharedDevicePlugin:      types.BoolValue(stack.On(cur.RdmaSharedDevicePlugin)),
		RoutingAgent:                types.BoolValue(stack.On(cur.RoutingAgent)),
	}
}

// gpuKind is what a size brings to the cluster's plugins: its GPU vendor
// ("nvidia", "amd" or "" for a CPU size) and whether it is a multi-node
// (8-GPU, RDMA) machine.
func (p *planner) gpuKind(size string) (vendor string, multiNode bool) {
	if info, ok := p.opts.Sizes[size]; ok {
		if info.GPUInfo == nil {
			return "", false
		}
		vendor = "nvidia"
		if strings.Contains(strings.ToLower(info.GPUInfo.Model), "amd") {
			vendor = "amd"
		}
		return vendor, info.GPUInfo.Count >= 8
	}
	// A size DigitalOcean does not list (refused elsewhere): by its slug.
	switch {
	case strings.HasPrefix(size, "gpu-mi"):
		return "amd", strings.Contains(size, "x8-")
	case strings.HasPrefix(size, "gpu-"):
		return "nvidia", strings.Contains(size, "x8-")
	}
	return "", false
}

// clusterPlugins fills the vendor defaults of the device plugins the
// configuration leaves unset (on when a pool has that vendor's GPUs; RDMA
// when a pool has 8-GPU machines), so the plan shows them, and warns when a
// device plugin is turned off while a pool needs it.
func (p *planner) clusterPlugins() {
	if p.config == nil {
		return
	}
	c, cfg := p.plan.Cluster, p.config.Cluster
	if c == nil || cfg == nil {
		return
	}
	pools := map[string]*nodePoolModel{stack.SystemPoolName: c.SystemPool}
	for k, v := range c.GPUPools {
		pools[k] = v
	}
	byKind := map[string][]string{}
	allKnown := true
	for _, name := range sortedKeys(pools) {
		pool := pools[name]
		if pool == nil {
			continue
		}
		if !known(pool.Size) {
			allKnown = allKnown && !pool.Size.IsUnknown()
			continue
		}
		vendor, multi := p.gpuKind(pool.Size.ValueString())
		if vendor != "" {
			byKind[vendor] = append(byKind[vendor], name)
		}
		if multi {
			byKind["rdma"] = append(byKind["rdma"], name)
		}
	}
	at := path.Root("cluster")
	for _, d := range []struct {
		attr         string
		kind         string
		plan, config *types.Bool
		lost         string
	}{
		{"nvidia_gpu_device_plugin", "nvidia", &c.NvidiaGpuDevicePlugin, &cfg.NvidiaGpuDevicePlugin,
			"their GPUs will not be schedulable: nothing advertises nvidia.com/gpu, so pods requesting it stay Pending"},
		{"amd_gpu_device_plugin", "amd", &c.AmdGpuDevicePlugin, &cfg.AmdGpuDevicePlugin,
			"their GPUs will not be schedulable: nothing advertises amd.com/gpu, so pods requesting it stay Pending"},
		{"rdma_shared_dev_plugin", "rdma", &c.RdmaSharedDevicePlugin, &cfg.RdmaSharedDevicePlugin,
			"pods cannot use their RDMA network, so multi-node GPU jobs fall back to slower TCP"},
	} {
		pools := byKind[d.kind]
		if d.config.IsNull() {
			if allKnown {
				*d.plan = types.BoolValue(len(pools) > 0)
			} else {
				*d.plan = types.BoolUnknown()
			}
			continue
		}
		if known(*d.config) && !d.config.ValueBool() && len(pools) > 0 {
			p.diags.AddAttributeWarning(at.AtName(d.attr), fmt.Sprintf("%s is off while pools need it", d.attr),
				fmt.Sprintf("Pools %s need %s, and with it off %s. Remove cluster.%s (it then follows the pools) or set it "+
					"to true, unless you install your own GPU operator.\n\nAttribute: %s",
					strings.Join(pools, ", "), d.attr, d.lost, d.attr, at.AtName(d.attr)))
		}
	}
}
