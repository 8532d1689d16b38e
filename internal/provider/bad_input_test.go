package provider

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
)

// Bad input is refused at plan time, with the attribute named, before a
// single write reaches DigitalOcean. This table extends
// TestAccInferenceStackPlanValidation (which it does not repeat) to every
// kind of invalid input issue 5 lists, plus malformed import ids of the
// three importable resources (import blocks, so they too fail at plan).
//
// Each case's regexp names the attribute: either its path as the
// framework's validators print it, or the configuration line Terraform
// quotes under the error.

const biPG = `
  databases = {
    vectors = {
      engine = "pg"
      size   = "db-s-2vcpu-4gb"
      %s
    }
  }
`

func biDB(engine, size, extra string) string {
	return fmt.Sprintf(`
  databases = {
    vectors = {
      engine = %q
      size   = %q
      %s
    }
  }
`, engine, size, extra)
}

func biGPU(pool string) string {
	return lcCluster(`
    gpu_pools = {
      accel = {
        ` + pool + `
      }
    }
`)
}

type badInputCase struct {
	name, stack, region, body, want string
}

func badInputCases() []badInputCase {
	c := lcCluster("")
	pg := func(extra string) string { return c + fmt.Sprintf(biPG, extra) }
	long40 := "s" + strings.Repeat("x", 38) + "s"
	return []badInputCase{
		// ---- networks ----
		{"vpc range prefix /33", "bix", "tor1", `  vpc_ip_range = "10.0.0.0/33"` + c,
			`Invalid CIDR.*vpc_ip_range\s+= "10\.0\.0\.0/33".*not an IPv4 CIDR`},
		{"vpc range octet 300", "bix", "tor1", `  vpc_ip_range = "300.1.0.0/16"` + c,
			`Invalid CIDR.*vpc_ip_range\s+= "300\.1\.0\.0/16"`},
		{"vpc range shared address space", "bix", "tor1", `  vpc_ip_range = "100.64.0.0/16"` + c,
			`CIDR is not private.*vpc_ip_range\s+= "100\.64\.0\.0/16"`},
		{"vpc range host bits", "bix", "tor1", `  vpc_ip_range = "10.20.1.0/16"` + c,
			`CIDR has host bits set.*vpc_ip_range.*use 10\.20\.0\.0/16`},
		{"vpc range too small", "bix", "tor1", `  vpc_ip_range = "10.20.0.0/28"` + c,
			`CIDR size out of range.*vpc_ip_range.*between /16 and /24`},
		{"pod network overlaps the vpc", "bix", "tor1", `  vpc_ip_range = "10.100.0.0/16"` + lcCluster(`
    cluster_subnet = "10.100.64.0/18"`),
			`Overlapping networks.*10\.100\.64\.0/18 overlaps 10\.100\.0\.0/16.*Attribute:\s+cluster\.cluster_subnet`},
		{"service network ipv6", "bix", "tor1", lcCluster(`
    service_subnet = "fd00::/108"`),
			`Invalid CIDR.*"fd00::/108" is not an IPv4 CIDR.*Attribute:\s+cluster\.service_subnet`},
		// ---- sizes and regions ----
		{"gpu size the region lacks", "bix", "ams3", biGPU(`size = "gpu-h100x1-80gb"
        max_nodes = 1`),
			`Node size not offered in the region.*gpu-h100x1-80gb is not offered in ams3.*Regions offering it: .*tor1.*Attribute:\s+cluster\.gpu_pools\["accel"\]\.size`},
		{"unknown gpu size", "bix", "tor1", biGPU(`size = "gpu-b200x1-180gb"
        max_nodes = 1`),
			`Unknown node size.*"gpu-b200x1-180gb".*Attribute:\s+cluster\.gpu_pools\["accel"\]\.size`},
		{"cpu size in a gpu pool", "bix", "tor1", biGPU(`size = "s-4vcpu-8gb"
        max_nodes = 1`),
			`Not a GPU size.*"s-4vcpu-8gb" has no GPU.*Attribute:\s+cluster\.gpu_pools\["accel"\]\.size`},
		{"unknown region", "bix", "mars1", c,
			`Region not offered.*region\s+= "mars1".*tor1`},
		// ---- engine features ----
		{"pool on mysql", "bix", "tor1", c + biDB("mysql", "db-s-2vcpu-4gb", `pools = { app = { size = 5 } }`),
			`Connection pools need PostgreSQL.*this database is mysql.*Attribute:\s+databases\["vectors"\]\.pools`},
		{"users on valkey", "bix", "tor1", c + biDB("valkey", "db-s-1vcpu-2gb", `users = ["app"]`),
			`Users not supported on Valkey.*User management is not supported for Caching or Valkey clusters.*Remove the user, or use a PostgreSQL, MySQL or MongoDB database.*Attribute:\s+databases\["vectors"\]\.users`},
		{"pool on an unmanaged db", "bix", "tor1", pg(`pools = { app = { size = 5, db = "nope" } }`),
			`Pool database not managed.*"nope".*Attribute:\s+databases\["vectors"\]\.pools\["app"\]\.db`},
		{"replicas on an attached database", "bix", "tor1", c + `
  databases = {
    shared = {
      existing_id = "9cc10173-e9ea-4176-9dbc-a4cee4c4ff30"
      replicas    = { dr = {} }
    }
  }
`, `Replicas of an attached database.*Attribute:\s+databases\["shared"\]\.replicas`},
		{"engine missing", "bix", "tor1", c + `
  databases = {
    vectors = { size = "db-s-2vcpu-4gb" }
  }
`, `Database engine missing.*Attribute:\s+databases\["vectors"\]\.engine`},
		// ---- zero nodes where one is needed ----
		{"system pool of zero nodes", "bix", "tor1", strings.Replace(c, "node_count = 2", "node_count = 0", 1),
			`cluster\.system_pool\.node_count value must be between 1 and 100, got: 0`},
		{"system pool scaling to zero", "bix", "tor1", strings.Replace(c, "node_count = 2", "max_nodes = 3", 1),
			`System pool cannot scale to zero.*Attribute:\s+cluster\.system_pool\.min_nodes`},
		{"gpu pool of at most zero nodes", "bix", "tor1", biGPU(`size = "gpu-h100x1-80gb"
        max_nodes = 0`),
			`cluster\.gpu_pools\["accel"\]\.max_nodes value must be between 1 and 100, got: 0`},
		{"database of zero nodes", "bix", "tor1", pg(`node_count = 0`),
			`Node count not offered.*pg clusters come with 1, 2, 3 nodes, not 0.*Attribute:\s+databases\["vectors"\]\.node_count`},
		{"kafka of one node", "bix", "tor1", c + biDB("kafka", "db-s-2vcpu-4gb", `node_count = 1`),
			`Node count not offered.*kafka clusters come with 3, 6, 9, 15 nodes, not 1.*Attribute:\s+databases\["vectors"\]\.node_count`},
		// ---- duplicate and reserved names ----
		{"gpu pool named like the system pool", "bix", "tor1", lcCluster(`
    gpu_pools = {
      system = {
        size      = "gpu-h100x1-80gb"
        max_nodes = 1
      }
    }`), `GPU pool name taken by the system pool.*Attribute:\s+cluster\.gpu_pools\["system"\]`},
		{"replica named like another database", "bix", "tor1", c + `
  databases = {
    vectors = {
      engine   = "pg"
      size     = "db-s-2vcpu-4gb"
      replicas = { dr = {} }
    }
    vectors-dr = {
      engine = "pg"
      size   = "db-s-2vcpu-4gb"
    }
  }
`, `Duplicate name.*would be named "bix-vectors-dr", which database\s+"vectors-dr" already uses.*Attribute:\s+databases\["vectors"\]\.replicas\["dr"\]`},
		{"reserved user", "bix", "tor1", pg(`users = ["doadmin"]`),
			`Reserved user name.*"doadmin" is reserved.*Attribute:\s+databases\["vectors"\]\.users`},
		{"reserved db", "bix", "tor1", pg(`dbs = ["template1"]`),
			`Reserved database name.*"template1" is reserved on pg.*Attribute:\s+databases\["vectors"\]\.dbs`},
		{"mysql user too long", "bix", "tor1", c + biDB("mysql", "db-s-2vcpu-4gb", `users = ["`+strings.Repeat("u", 33)+`"]`),
			`User name too long.*33 characters; mysql allows 32.*Attribute:\s+databases\["vectors"\]\.users`},
		// ---- maintenance windows ----
		{"cluster window on funday", "bix", "tor1", lcCluster(`
    maintenance_window = { day = "funday", start_time = "04:00" }`),
			`cluster\.maintenance_window\.day.*must be any, monday`},
		{"cluster window at 7pm", "bix", "tor1", lcCluster(`
    maintenance_window = { start_time = "7pm" }`),
			`cluster\.maintenance_window\.start_time.*HH:MM`},
		{"database window on funday", "bix", "tor1", pg(`maintenance_window = { day = "funday", hour = "05:00" }`),
			`databases\["vectors"\]\.maintenance_window\.day value must be one of`},
		{"database window at 7pm", "bix", "tor1", pg(`maintenance_window = { day = "monday", hour = "7pm" }`),
			`databases\["vectors"\]\.maintenance_window\.hour.*HH:MM`},
		// ---- control plane firewall ----
		{"firewall address octet 300", "bix", "tor1", lcCluster(`
    control_plane_firewall = { allowed_addresses = ["203.0.113.300"] }`),
			`Invalid address.*"203\.0\.113\.300".*cluster\.control_plane_firewall\.allowed_addresses.*IP address`},
		{"firewall cidr host bits", "bix", "tor1", lcCluster(`
    control_plane_firewall = { allowed_addresses = ["203.0.113.7/24"] }`),
			`CIDR has host bits set.*"203\.0\.113\.7/24".*use 203\.0\.113\.0/24`},
		{"firewall on with no address", "bix", "tor1", lcCluster(`
    control_plane_firewall = { allowed_addresses = [] }`),
			`Control plane firewall with no address.*locks every client.*Attribute:\s+cluster\.control_plane_firewall\.allowed_addresses`},
		{"firewall without addresses", "bix", "tor1", lcCluster(`
    control_plane_firewall = { enabled = true }`),
			`Incorrect attribute value type.*attribute "allowed_addresses" is required`},
		// ---- cluster autoscaler ----
		{"autoscaler threshold above 1", "bix", "tor1", lcCluster(`
    cluster_autoscaler_configuration = { scale_down_utilization_threshold = 1.5 }`),
			`cluster\.cluster_autoscaler_configuration\.scale_down_utilization_threshold.*between 0\.000000 and 1\.000000, got: 1\.500000`},
		{"autoscaler time in words", "bix", "tor1", lcCluster(`
    cluster_autoscaler_configuration = { scale_down_unneeded_time = "5 minutes" }`),
			`Invalid duration.*cluster\.cluster_autoscaler_configuration\.scale_down_unneeded_time = "5 minutes".*duration such as 5m`},
		{"autoscaler negative time", "bix", "tor1", lcCluster(`
    cluster_autoscaler_configuration = { scale_down_unneeded_time = "-5m" }`),
			`Invalid duration.*scale_down_unneeded_time = "-5m"`},
		{"autoscaler unknown expander", "bix", "tor1", lcCluster(`
    cluster_autoscaler_configuration = { expanders = ["most_pods"] }`),
			`cluster\.cluster_autoscaler_configuration\.expanders.*value must be one of.*"least_waste".*"most_pods"`},
		{"autoscaler expander twice", "bix", "tor1", lcCluster(`
    cluster_autoscaler_configuration = { expanders = ["least_waste", "least_waste"] }`),
			`Expander listed twice.*"least_waste" appears more than once.*Attribute:\s+cluster\.cluster_autoscaler_configuration\.expanders`},
		// ---- kubeconfig lifetime ----
		{"kubeconfig for a minute", "bix", "tor1", lcCluster(`
    kubeconfig_expiry_seconds = 60`),
			`cluster\.kubeconfig_expiry_seconds value must be between 3600 and 315360000, got: 60`},
		{"kubeconfig beyond ten years", "bix", "tor1", lcCluster(`
    kubeconfig_expiry_seconds = 315360001`),
			`cluster\.kubeconfig_expiry_seconds value must be between 3600 and 315360000, got: 315360001`},
		// ---- node pool tags ----
		{"pool tag with a space", "bix", "tor1", biGPU(`size = "gpu-h100x1-80gb"
        max_nodes = 1
        tags = ["cost center"]`),
			`cluster\.gpu_pools\["accel"\]\.tags.*must be 1-255 letters, digits, colons, dashes and underscores`},
		// ---- taints ----
		{"taint effect in lowercase", "bix", "tor1", strings.Replace(c, "node_count = 2", `node_count = 2
      taints     = [{ key = "dedicated", effect = "noschedule" }]`, 1),
			`cluster\.system_pool\.taints\[0\]\.effect value must be one of`},
		{"taint key with two slashes", "bix", "tor1", biGPU(`size = "gpu-h100x1-80gb"
        max_nodes = 1
        taints = [{ key = "nvidia.com/gpu/x", effect = "NoSchedule" }]`),
			`Invalid taint key.*"nvidia\.com/gpu/x" is not a valid Kubernetes taint key.*Attribute:\s+cluster\.gpu_pools\["accel"\]\.taints\[0\]\.key`},
		// ---- names: length and characters ----
		{"stack name too long", long40 + "x", "tor1", c, `Attribute name must be 3-40 lowercase letters`},
		{"stack name with underscore", "ml_prod", "tor1", c, `Attribute name must be 3-40 lowercase letters`},
		{"stack name ending in a dash", "ml-", "tor1", c, `Attribute name must be 3-40 lowercase letters`},
		{"database key too long", "bix", "tor1", c + `
  databases = {
    ` + strings.Repeat("v", 21) + ` = {
      engine = "pg"
      size   = "db-s-2vcpu-4gb"
    }
  }
`, `Attribute databases\["v{21}"\] must be 2-20 lowercase letters`},
		{"gpu pool key with capitals", "bix", "tor1", lcCluster(`
    gpu_pools = {
      GPU_1 = {
        size      = "gpu-h100x1-80gb"
        max_nodes = 1
      }
    }`), `Attribute cluster\.gpu_pools\["GPU_1"\] must be 2-20 lowercase letters`},
		{"connection pool key with a space", "bix", "tor1", pg(`pools = { "app pool" = { size = 5 } }`),
			`Attribute databases\["vectors"\]\.pools\["app pool"\] must be 3-60 characters`},
		{"connection pool name of two characters", "bix", "tor1", pg(`pools = { ab = { size = 5 } }`),
			`Attribute databases\["vectors"\]\.pools\["ab"\] must be 3-60 characters \(DigitalOcean's limit for connection pool names\)`},
		{"connection pool name of 61 characters", "bix", "tor1", pg(`pools = { ` + strings.Repeat("p", 61) + ` = { size = 5 } }`),
			`Attribute databases\["vectors"\]\.pools\["p{61}"\] must be 3-60 characters`},
		{"replica key with punctuation", "bix", "tor1", pg(`replicas = { "dr!" = {} }`),
			`Attribute databases\["vectors"\]\.replicas\["dr!"\] must be 2-20 lowercase letters`},
		{"replica name too long", long40, "tor1", c + `
  databases = {
    ` + strings.Repeat("v", 20) + ` = {
      engine   = "pg"
      size     = "db-s-2vcpu-4gb"
      replicas = { ` + strings.Repeat("r", 20) + ` = {} }
    }
  }
`, `Replica name too long.*\(82\s+characters\); DigitalOcean allows 63.*Attribute:\s+databases\["vvvvvvvvvvvvvvvvvvvv"\]\.replicas\["rrrrrrrrrrrrrrrrrrrr"\]`},
		{"user name with a space", "bix", "tor1", pg(`users = ["app user"]`),
			`databases\["vectors"\]\.users\[Value\("app user"\)\] must be 1-63 letters`},
		{"db name starting with a dash", "bix", "tor1", pg(`dbs = ["-app"]`),
			`databases\["vectors"\]\.dbs\[Value\("-app"\)\] must be 1-63 letters`},
		// ---- trusted sources and other values ----
		{"trusted source not an ip", "bix", "tor1", pg(`trusted_sources = [{ type = "ip_addr", value = "not-an-ip" }]`),
			`Invalid address.*"not-an-ip" is neither an IP address nor a CIDR.*Attribute:\s+databases\["vectors"\]\.trusted_sources\[0\]\.value`},
		{"trusted source ipv6 address", "bix", "tor1", pg(`trusted_sources = [{ type = "ip_addr", value = "2001:db8::10" }]`),
			`IPv6 trusted source.*"2001:db8::10" is an IPv6 address: DigitalOcean refuses IPv6 trusted sources.*Use IPv4 addresses or CIDR blocks.*Attribute:\s+databases\["vectors"\]\.trusted_sources\[0\]\.value`},
		{"trusted source ipv6 prefix", "bix", "tor1", pg(`trusted_sources = [{ type = "ip_addr", value = "10.0.0.5" }, { type = "ip_addr", value = "fd00:ab::/64" }]`),
			`IPv6 trusted source.*"fd00:ab::/64".*Use IPv4 addresses or CIDR blocks.*Attribute:\s+databases\["vectors"\]\.trusted_sources\[1\]\.value`},
		{"trusted source ipv6 on an attached database", "bix", "tor1", c + `
  databases = {
    shared = {
      existing_id     = "9cc10173-e9ea-4176-9dbc-a4cee4c4ff30"
      trusted_sources = [{ type = "ip_addr", value = "::ffff:10.0.0.5" }]
    }
  }
`, `IPv6 trusted source.*DigitalOcean refuses IPv6 trusted sources.*Attribute:\s+databases\["shared"\]\.trusted_sources\[0\]\.value`},
		{"100 trusted sources and the cluster", "bix", "tor1", pg(`trusted_sources = [` + biSources(100) + `]`),
			`Too many firewall rules.*Database vectors would have 101 firewall rules \(100 configured trusted sources, 1 for the cluster \(its k8s rule\)\); DigitalOcean allows 100 per database.*Remove trusted_sources.*Attribute:\s+databases\["vectors"\]\.trusted_sources`},
		{"trusted source of unknown type", "bix", "tor1", pg(`trusted_sources = [{ type = "cidr", value = "10.0.0.0/8" }]`),
			`databases\["vectors"\]\.trusted_sources\[0\]\.type value must be one of`},
		{"storage of zero MiB", "bix", "tor1", pg(`storage_size_mib = 0`),
			`databases\["vectors"\]\.storage_size_mib value must be at least 1`},
		{"connection pool of zero connections", "bix", "tor1", pg(`pools = { app = { size = 0 } }`),
			`databases\["vectors"\]\.pools\["app"\]\.size value must be between 1 and 10000`},
		{"connection pool mode", "bix", "tor1", pg(`pools = { app = { size = 5, mode = "batch" } }`),
			`databases\["vectors"\]\.pools\["app"\]\.mode value must be one of`},
		// ---- the connection budget (issue 10): 25 per GiB of RAM less 3 ----
		{"pools over the connection budget of a new database", "bix", "tor1", pg(`pools = { app = { size = 60 }, batch = { size = 40 } }`),
			`Connection pools over the database's budget.*Database vectors \(db-s-2vcpu-4gb\) has 97 backend connections.*these pools would take 100: app 60, batch 40.*Lower the pool sizes to total at most 97.*db-s-4vcpu-8gb allows 197.*Attribute:\s+databases\["vectors"\]\.pools\["batch"\]\.size`},
		{"one pool over the connection budget", "bix", "tor1", c + biDB("pg", "db-s-1vcpu-2gb", `pools = { app = { size = 48 } }`),
			`Connection pools over the database's budget.*\(db-s-1vcpu-2gb\) has 47 backend connections.*would take 48: app 48.*Attribute:\s+databases\["vectors"\]\.pools\["app"\]\.size`},
		{"region typo with a gpu pool", "bix", "tor2", biGPU(`size = "gpu-h100x1-80gb"
        max_nodes = 1`),
			`Region not offered.*DOKS does not run in "tor2"`}, // ---- storage autoscaling (issue 12) ----
		{"storage autoscale threshold below the spec's 15", "bix", "tor1", pg(`storage_autoscale = { enabled = true, threshold_percent = 10 }`),
			`databases\["vectors"\]\.storage_autoscale\.threshold_percent value must be between 15 and 95, got: 10`},
		{"storage autoscale increment above the spec's 500", "bix", "tor1", pg(`storage_autoscale = { enabled = true, increment_gib = 600 }`),
			`databases\["vectors"\]\.storage_autoscale\.increment_gib value must be between 10 and 500, got: 600`},
		{"storage autoscale on valkey", "bix", "tor1", c + biDB("valkey", "db-s-1vcpu-2gb", `storage_autoscale = { enabled = true }`),
			`Storage autoscaling not on Valkey.*this database is valkey.*Remove storage_autoscale.*Attribute:\s+databases\["vectors"\]\.storage_autoscale`},
		// ---- user settings and topics ----
		{"user settings for a user not in users", "bix", "tor1", pg(`users = ["app"]
      user_settings = { ghost = { mysql_auth_plugin = "mysql_native_password" } }`),
			`User settings for a user not in users.*"ghost", which is not in users \(app\).*Add "ghost" to users.*Attribute:\s+databases\["vectors"\]\.user_settings\["ghost"\]`},
		{"kafka acls on pg", "bix", "tor1", pg(`users = ["app"]
      user_settings = { app = { kafka_acls = [{ topic = "t", permission = "produce" }] } }`),
			`Kafka ACLs need Kafka.*this database is pg.*Remove kafka_acls from user "app".*Attribute:\s+databases\["vectors"\]\.user_settings\["app"\]\.kafka_acls`},
		{"opensearch acls on kafka", "bix", "tor1", c + biDB("kafka", "gd-2vcpu-8gb", `node_count = 3
      users = ["app"]
      user_settings = { app = { opensearch_acls = [{ index = "i", permission = "read" }] } }`),
			`OpenSearch ACLs need OpenSearch.*this database is kafka.*Attribute:\s+databases\["vectors"\]\.user_settings\["app"\]\.opensearch_acls`},
		{"auth plugin on pg", "bix", "tor1", pg(`users = ["app"]
      user_settings = { app = { mysql_auth_plugin = "mysql_native_password" } }`),
			`Auth plugin needs MySQL.*this database is pg.*Attribute:\s+databases\["vectors"\]\.user_settings\["app"\]\.mysql_auth_plugin`},
		{"auth plugin unknown", "bix", "tor1", pg(`users = ["app"]
      user_settings = { app = { mysql_auth_plugin = "sha256_password" } }`),
			`databases\["vectors"\]\.user_settings\["app"\]\.mysql_auth_plugin value must be one of`},
		{"kafka acl permission unknown", "bix", "tor1", c + biDB("kafka", "gd-2vcpu-8gb", `node_count = 3
      users = ["app"]
      user_settings = { app = { kafka_acls = [{ topic = "t", permission = "write" }] } }`),
			`user_settings\["app"\]\.kafka_acls.*permission value must be one of.*produceconsume`},
		{"opensearch acl permission unknown", "bix", "tor1", c + biDB("opensearch", "db-s-1vcpu-2gb", `node_count = 1
      users = ["app"]
      user_settings = { app = { opensearch_acls = [{ index = "i", permission = "all" }] } }`),
			`user_settings\["app"\]\.opensearch_acls.*permission value must be one of.*readwrite`},
		{"topics on pg", "bix", "tor1", pg(`topics = { events = {} }`),
			`Topics need Kafka.*this database is pg.*Attribute:\s+databases\["vectors"\]\.topics`},
		{"topic with 2 partitions", "bix", "tor1", c + biDB("kafka", "gd-2vcpu-8gb", `node_count = 3
      topics = { events = { partitions = 2 } }`),
			`databases\["vectors"\]\.topics\["events"\]\.partitions value must be between 3 and 2048, got: 2`},
		{"topic replicated beyond the nodes", "bix", "tor1", c + biDB("kafka", "gd-2vcpu-8gb", `node_count = 3
      topics = { events = { replication_factor = 4 } }`),
			`Replication factor above the node count.*database has 3 nodes.*Attribute:\s+databases\["vectors"\]\.topics\["events"\]\.replication_factor`},
		{"topic setting unknown", "bix", "tor1", c + biDB("kafka", "gd-2vcpu-8gb", `node_count = 3
      topics = { events = { config = { retention_hours = "1" } } }`),
			`Invalid topic setting.*"retention_hours" is not a Kafka topic setting.*retention_ms.*Attribute:\s+databases\["vectors"\]\.topics\["events"\]\.config\["retention_hours"\]`},
		{"topic setting value", "bix", "tor1", c + biDB("kafka", "gd-2vcpu-8gb", `node_count = 3
      topics = { events = { config = { cleanup_policy = "forever" } } }`),
			`Invalid topic setting.*cleanup_policy = "forever" is not valid: use one of compact, compact_delete, delete`},
		{"topic name", "bix", "tor1", c + biDB("kafka", "gd-2vcpu-8gb", `node_count = 3
      topics = { "bad name" = {} }`),
			`databases\["vectors"\]\.topics.*must be 1-249 letters, digits, dots, underscores and dashes`},
		{"topic named ..", "bix", "tor1", c + biDB("kafka", "gd-2vcpu-8gb", `node_count = 3
      topics = { ".." = {} }`),
			`databases\["vectors"\]\.topics.*value must be none of`},
		{"topic message format", "bix", "tor1", c + biDB("kafka", "gd-2vcpu-8gb", `node_count = 3
      topics = { events = { config = { message_format_version = "9.9" } } }`),
			`Invalid topic setting.*message_format_version = "9.9" is not valid: use one of`},
	}
}

// biSources is n distinct ip_addr trusted sources, as HCL list elements.
func biSources(n int) string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf(`{ type = "ip_addr", value = "10.1.%d.%d" }`, i/250, i%250+1))
	}
	return strings.Join(out, ", ")
}

// biPattern matches across lines, and a space matches wherever Terraform
// wrapped the message.
func biPattern(want string) *regexp.Regexp {
	return regexp.MustCompile(`(?s)` + strings.ReplaceAll(want, " ", `\s+`))
}

// biNoWrites fails unless every request the emulator got was a read.
func biNoWrites(t *testing.T, srv *emulator.Server, after string) {
	t.Helper()
	if w := lcWrites(srv); len(w) > 0 {
		t.Fatalf("after %s: a refused plan made write requests: %v", after, w)
	}
	if !srv.Inventory().Empty() {
		t.Fatalf("after %s: a refused plan created something:\n%s", after, srv.Inventory())
	}
}

func TestAccBadInputRefusedAtPlan(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	cases := badInputCases()
	names := map[string]bool{}
	var steps []resource.TestStep
	prev := "start"
	for _, c := range cases {
		if names[c.name] {
			t.Fatalf("duplicate case %q", c.name)
		}
		names[c.name] = true
		after := prev
		steps = append(steps, resource.TestStep{
			PreConfig:   func() { biNoWrites(t, srv, after) },
			Config:      lcStack(srv, c.stack, c.region, c.body),
			PlanOnly:    true,
			ExpectError: biPattern(c.want),
		})
		prev = c.name
	}
	// The scaffolding itself is valid: the same shapes, corrected, plan.
	steps = append(steps, resource.TestStep{
		PreConfig: func() { biNoWrites(t, srv, prev) },
		Config: lcStack(srv, "bix", "tor1", `  vpc_ip_range = "10.100.0.0/16"`+lcCluster(`
    cluster_subnet = "10.244.0.0/16"
    maintenance_window = { day = "sunday", start_time = "19:00" }
    gpu_pools = {
      accel = {
        size      = "gpu-h100x1-80gb"
        max_nodes = 1
        taints    = [{ key = "nvidia.com/gpu", effect = "NoSchedule" }]
      }
    }`)+fmt.Sprintf(biPG, `users = ["app_user"]
      dbs   = ["app"]
      maintenance_window = { day = "monday", hour = "19:00" }
      pools = { app-pool = { size = 90, db = "app", user = "app_user" }, ops = { size = 7 } }
      replicas = { dr = {} }
      trusted_sources = [{ type = "ip_addr", value = "203.0.113.0/24" }, `+biSources(98)+`]`)),
		PlanOnly:           true,
		ExpectNonEmptyPlan: true,
	})
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps:                    steps,
	})
	biNoWrites(t, srv, "the valid plan")
	if srv.TotalRequests() == 0 {
		t.Fatal("the emulator saw no request: the plans never checked the live options, so the test proves nothing")
	}
	t.Logf("%d invalid configurations refused at plan", len(cases))
}

// Import ids of the wrong shape, in import blocks (Terraform 1.5): refused at
// plan with the expected shape in the message, nothing written.
func TestAccBadImportIDsRefusedAtPlan(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	const db, cluster = "9cc10173-e9ea-4176-9dbc-a4cee4c4ff30", "bd5f5959-5e1e-4205-a714-a914373942af"
	// Terraform resolves import blocks before the harness's provider
	// mapping applies, so the configuration names the provider's source.
	const required = `
terraform {
  required_providers {
    attach = { source = "attach-labs/attach" }
  }
}
`
	stackCfg := required + lcStack(srv, "acc", "tor1", lcCluster(""))
	attachCfg := required + providerBlock(srv) + fmt.Sprintf(`
resource "attach_database_attachment" "test" {
  database_id = %q
  cluster_id  = %q
}
`, db, cluster)
	replicaCfg := required + providerBlock(srv) + fmt.Sprintf(`
resource "attach_database_replica" "test" {
  database_id = %q
  name        = "vectors-dr"
  region      = "nyc3"
}
`, db)
	cases := []struct {
		name, config, resource, id, want string
	}{
		{"stack id with capitals", stackCfg, stackAddr, "ACC", `Invalid import id.*"ACC" is not a stack name`},
		{"stack id with a space", stackCfg, stackAddr, "ml prod", `Invalid import id.*"ml prod" is not a stack name`},
		{"stack id of a database", stackCfg, stackAddr, db, `Invalid import id.*is not a stack name`},
		{"attachment id of one uuid", attachCfg, "attach_database_attachment.test", db, `Invalid import id.*<database_id>:<cluster_id>, two UUIDs`},
		{"attachment id in capitals", attachCfg, "attach_database_attachment.test", strings.ToUpper(db + ":" + cluster), `Invalid import id.*<database_id>:<cluster_id>`},
		{"attachment id of three parts", attachCfg, "attach_database_attachment.test", db + ":" + cluster + ":" + cluster, `Invalid import id.*<database_id>:<cluster_id>`},
		{"attachment id of names", attachCfg, "attach_database_attachment.test", "vectors:acc", `Invalid import id.*<database_id>:<cluster_id>`},
		{"replica id without a name", replicaCfg, "attach_database_replica.test", db + ":", `Invalid import id.*<database_id>:<replica_name>`},
		{"replica id with a bad name", replicaCfg, "attach_database_replica.test", db + ":Vectors DR", `Invalid import id.*<database_id>:<replica_name>`},
		{"replica id of a name only", replicaCfg, "attach_database_replica.test", "vectors-dr", `Invalid import id.*<database_id>:<replica_name>`},
	}
	var steps []resource.TestStep
	for _, c := range cases {
		steps = append(steps, resource.TestStep{
			PreConfig:   func() { biNoWrites(t, srv, "an import") },
			Config:      c.config + fmt.Sprintf("\nimport {\n  to = %s\n  id = %q\n}\n", c.resource, c.id),
			PlanOnly:    true,
			ExpectError: biPattern(c.want),
		})
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps:                    steps,
	})
	biNoWrites(t, srv, "the imports")
	t.Logf("%d malformed import ids refused at plan", len(cases))
}

// The standalone resources refuse bad names and ids at plan too.
func TestAccBadInputStandaloneResources(t *testing.T) {
	srv := startEmulator(t, emulator.Config{})
	const db = "9cc10173-e9ea-4176-9dbc-a4cee4c4ff30"
	cases := []struct{ name, config, want string }{
		{"replica name with capitals", fmt.Sprintf(`
resource "attach_database_replica" "test" {
  database_id = %q
  name        = "Vectors_DR"
  region      = "nyc3"
}`, db), `Attribute name must be 3-63 lowercase letters`},
		{"attachment pool name of two characters", fmt.Sprintf(`
resource "attach_database_attachment" "test" {
  database_id = %q
  cluster_id  = %q
  pool        = { name = "ab", size = 5 }
}`, db, db), `Attribute pool\.name must be 3-60 characters \(DigitalOcean's limit for connection pool names\)`},
		{"attachment pool name of 61 characters", fmt.Sprintf(`
resource "attach_database_attachment" "test" {
  database_id = %q
  cluster_id  = %q
  pool        = { name = %q, size = 5 }
}`, db, db, strings.Repeat("p", 61)), `Attribute pool\.name must be 3-60 characters`},
		{"attachment pool of zero connections", fmt.Sprintf(`
resource "attach_database_attachment" "test" {
  database_id = %q
  cluster_id  = %q
  pool        = { name = "app", size = 0 }
}`, db, db), `Attribute pool\.size value must be between 1 and 10000`},
	}
	var steps []resource.TestStep
	for _, c := range cases {
		steps = append(steps, resource.TestStep{
			PreConfig:   func() { biNoWrites(t, srv, c.name) },
			Config:      providerBlock(srv) + c.config,
			PlanOnly:    true,
			ExpectError: biPattern(c.want),
		})
	}
	resource.Test(t, resource.TestCase{ProtoV6ProviderFactories: testAccProtoV6ProviderFactories, Steps: steps})
	biNoWrites(t, srv, "the standalone resources")
}
