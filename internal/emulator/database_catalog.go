package emulator

import (
	"slices"
	"sort"
	"strconv"
	"strings"
)

// What Managed Databases offers: engines with their versions, regions and
// node-count layouts, and the sizes those layouts use. GET
// /v2/databases/options is rendered from these tables and every create,
// resize and replica request is validated against them.

// dbSize is a database node plan. Storage is the total disk of a node; a
// cluster can grow it from the plan's base in 10 GiB steps up to MaxDiskMiB.
type dbSize struct {
	Slug       string
	VCPUs      int
	MemoryGiB  int
	DiskMiB    int
	MaxDiskMiB int
}

// dbStorageStepMiB is the increment DigitalOcean adds storage in.
const dbStorageStepMiB = 10 * 1024

func dbGiB(n int) int { return n * 1024 }

var dbSizes = []dbSize{
	{"db-s-1vcpu-1gb", 1, 1, dbGiB(10), dbGiB(30)},
	{"db-s-1vcpu-2gb", 1, 2, dbGiB(30), dbGiB(90)},
	{"db-s-2vcpu-4gb", 2, 4, dbGiB(60), dbGiB(180)},
	{"db-s-4vcpu-8gb", 4, 8, dbGiB(140), dbGiB(420)},
	{"db-s-6vcpu-16gb", 6, 16, dbGiB(290), dbGiB(870)},
	{"db-s-8vcpu-32gb", 8, 32, dbGiB(580), dbGiB(1740)},
	{"db-s-16vcpu-64gb", 16, 64, dbGiB(1120), dbGiB(3360)},
	{"gd-2vcpu-8gb", 2, 8, dbGiB(60), dbGiB(600)},
	{"gd-4vcpu-16gb", 4, 16, dbGiB(120), dbGiB(1200)},
	{"gd-8vcpu-32gb", 8, 32, dbGiB(240), dbGiB(2400)},
	{"gd-16vcpu-64gb", 16, 64, dbGiB(480), dbGiB(4800)},
	{"so1_5-2vcpu-16gb", 2, 16, dbGiB(400), dbGiB(1200)},
	{"so1_5-4vcpu-32gb", 4, 32, dbGiB(800), dbGiB(2400)},
	{"so1_5-8vcpu-64gb", 8, 64, dbGiB(1600), dbGiB(4800)},
	{"m-2vcpu-16gb", 2, 16, 0, 0},
	{"m-4vcpu-32gb", 4, 32, 0, 0},
}

func dbSizeBySlug(slug string) (dbSize, bool) {
	for _, s := range dbSizes {
		if s.Slug == slug {
			return s, true
		}
	}
	return dbSize{}, false
}

// pgConnectionLimit is how many backend connections a PostgreSQL node of
// this size has for connection pools: 25 per GiB of RAM, less 3 that
// DigitalOcean reserves for maintenance.
func (s dbSize) pgConnectionLimit() int { return 25*s.MemoryGiB - 3 }

// smallerThan orders plans by memory, then vCPUs: a read-only node may not be
// smaller than its primary.
func (s dbSize) smallerThan(o dbSize) bool {
	if s.MemoryGiB != o.MemoryGiB {
		return s.MemoryGiB < o.MemoryGiB
	}
	return s.VCPUs < o.VCPUs
}

type dbVersion struct {
	Version  string
	Semantic string
	// EndOfLife and EndOfAvailability are dates DigitalOcean publishes for
	// versions being retired; empty when none is announced.
	EndOfLife         string
	EndOfAvailability string
}

type dbLayout struct {
	NumNodes int
	Sizes    []string
}

// dbEngine describes one engine and what the API lets you do with it.
type dbEngine struct {
	Slug     string
	Name     string
	Versions []dbVersion // oldest first; the newest is the default
	Regions  []string
	Layouts  []dbLayout

	Protocol string
	Port     int
	// AdminUser is the primary user DigitalOcean creates; AdminDB the
	// database connections open by default ("" when the engine has none).
	AdminUser string
	AdminDB   string

	Databases   bool // the dbs endpoints
	AddUsers    bool // POST users
	Pools       bool // PgBouncer connection pools
	Replicas    bool // read-only nodes
	Eviction    bool // eviction_policy
	Storage     bool // storage_size_mib is configurable
	Standby     bool // standby_connection when num_nodes > 1
	ReservedDBs []string
}

var (
	dbBasicSizes = []string{
		"db-s-1vcpu-1gb", "db-s-1vcpu-2gb", "db-s-2vcpu-4gb", "db-s-4vcpu-8gb",
		"db-s-6vcpu-16gb", "db-s-8vcpu-32gb", "db-s-16vcpu-64gb",
	}
	dbGeneralSizes          = []string{"gd-2vcpu-8gb", "gd-4vcpu-16gb", "gd-8vcpu-32gb", "gd-16vcpu-64gb"}
	dbStorageOptimizedSizes = []string{"so1_5-2vcpu-16gb", "so1_5-4vcpu-32gb", "so1_5-8vcpu-64gb"}
	dbMemorySizes           = []string{"m-2vcpu-16gb", "m-4vcpu-32gb"}

	dbAllRegions = []string{"nyc1", "nyc3", "sfo2", "sfo3", "ams3", "sgp1", "lon1", "fra1", "tor1", "blr1", "syd1", "atl1"}
	// Newer engines are not in every data center yet.
	dbMongoRegions  = []string{"nyc1", "nyc3", "sfo2", "sfo3", "ams3", "sgp1", "lon1", "fra1", "tor1", "blr1", "syd1"}
	dbStreamRegions = []string{"nyc3", "sfo3", "ams3", "sgp1", "lon1", "fra1", "tor1", "blr1", "syd1"}
)

func dbConcat(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// Plans with 1 GiB of RAM cannot carry standby nodes.
var dbHABasicSizes = dbBasicSizes[1:]

var dbEngines = []dbEngine{
	{
		Slug: "pg", Name: "PostgreSQL",
		Versions: []dbVersion{
			{"14", "14.17", "2026-11-12T00:00:00Z", "2026-05-12T00:00:00Z"},
			{"15", "15.12", "", ""},
			{"16", "16.8", "", ""},
			{"17", "17.4", "", ""},
		},
		Regions: dbAllRegions,
		Layouts: []dbLayout{
			{1, dbConcat(dbBasicSizes, dbGeneralSizes, dbStorageOptimizedSizes)},
			{2, dbConcat(dbHABasicSizes, dbGeneralSizes, dbStorageOptimizedSizes)},
			{3, dbConcat(dbHABasicSizes, dbGeneralSizes, dbStorageOptimizedSizes)},
		},
		Protocol: "postgresql", Port: 25060, AdminUser: "doadmin", AdminDB: "defaultdb",
		Databases: true, AddUsers: true, Pools: true, Replicas: true, Storage: true, Standby: true,
		ReservedDBs: []string{"postgres", "template0", "template1", "_dodb"},
	},
	{
		Slug: "mysql", Name: "MySQL",
		Versions: []dbVersion{{"8", "8.0.40", "", ""}},
		Regions:  dbAllRegions,
		Layouts: []dbLayout{
			{1, dbConcat(dbBasicSizes, dbGeneralSizes, dbStorageOptimizedSizes)},
			{2, dbConcat(dbHABasicSizes, dbGeneralSizes, dbStorageOptimizedSizes)},
			{3, dbConcat(dbHABasicSizes, dbGeneralSizes, dbStorageOptimizedSizes)},
		},
		Protocol: "mysql", Port: 25060, AdminUser: "doadmin", AdminDB: "defaultdb",
		Databases: true, AddUsers: true, Replicas: true, Storage: true, Standby: true,
		ReservedDBs: []string{"mysql", "sys", "information_schema", "performance_schema", "_dodb"},
	},
	{
		Slug: "valkey", Name: "Valkey",
		Versions: []dbVersion{{"8", "8.0.2", "", ""}},
		Regions:  dbAllRegions,
		Layouts: []dbLayout{
			{1, dbConcat(dbBasicSizes, dbMemorySizes)},
			{2, dbConcat(dbHABasicSizes, dbMemorySizes)},
			{3, dbConcat(dbHABasicSizes, dbMemorySizes)},
		},
		Protocol: "rediss", Port: 25061, AdminUser: "default",
		Eviction: true,
	},
	{
		Slug: "mongodb", Name: "MongoDB",
		Versions: []dbVersion{{"7.0", "7.0.16", "", ""}, {"8.0", "8.0.4", "", ""}},
		Regions:  dbMongoRegions,
		Layouts: []dbLayout{
			{1, dbConcat(dbBasicSizes, dbStorageOptimizedSizes)},
			{3, dbConcat(dbHABasicSizes, dbStorageOptimizedSizes)},
		},
		Protocol: "mongodb+srv", Port: 27017, AdminUser: "doadmin", AdminDB: "admin",
		Databases: true, AddUsers: true, Storage: true,
		ReservedDBs: []string{"admin", "local", "config"},
	},
	{
		Slug: "opensearch", Name: "OpenSearch",
		Versions: []dbVersion{{"2", "2.17.1", "", ""}},
		Regions:  dbStreamRegions,
		Layouts: []dbLayout{
			{1, dbConcat(dbBasicSizes[1:], dbGeneralSizes)},
			{3, dbConcat(dbBasicSizes[2:], dbGeneralSizes, dbStorageOptimizedSizes)},
			{6, dbConcat(dbGeneralSizes, dbStorageOptimizedSizes)},
			{9, dbConcat(dbGeneralSizes, dbStorageOptimizedSizes)},
			{15, dbConcat(dbGeneralSizes, dbStorageOptimizedSizes)},
		},
		Protocol: "https", Port: 25060, AdminUser: "doadmin",
		AddUsers: true, Storage: true,
	},
	{
		Slug: "kafka", Name: "Kafka",
		Versions: []dbVersion{{"3.8", "3.8.1", "", ""}},
		Regions:  dbStreamRegions,
		Layouts: []dbLayout{
			{3, dbGeneralSizes},
			{6, dbGeneralSizes},
			{9, dbGeneralSizes},
			{15, dbGeneralSizes},
		},
		Protocol: "kafka", Port: 25073, AdminUser: "doadmin",
		AddUsers: true, Storage: true,
	},
}

func dbEngineBySlug(slug string) (*dbEngine, bool) {
	for i := range dbEngines {
		if dbEngines[i].Slug == slug {
			return &dbEngines[i], true
		}
	}
	return nil, false
}

func dbEngineSlugs() []string {
	out := make([]string, len(dbEngines))
	for i, e := range dbEngines {
		out[i] = e.Slug
	}
	return out
}

// enginesWith lists the engines for which has is true, for error messages.
func dbEnginesWith(has func(*dbEngine) bool) string {
	var names []string
	for i := range dbEngines {
		if has(&dbEngines[i]) {
			names = append(names, dbEngines[i].Name)
		}
	}
	return strings.Join(names, ", ")
}

func (en *dbEngine) defaultVersion() dbVersion { return en.Versions[len(en.Versions)-1] }

func (en *dbEngine) version(v string) (dbVersion, bool) {
	for _, ver := range en.Versions {
		if ver.Version == v {
			return ver, true
		}
	}
	return dbVersion{}, false
}

func (en *dbEngine) versionList() []string {
	out := make([]string, len(en.Versions))
	for i, v := range en.Versions {
		out[i] = v.Version
	}
	return out
}

func (en *dbEngine) offeredIn(region string) bool { return slices.Contains(en.Regions, region) }

func (en *dbEngine) layout(numNodes int) (dbLayout, bool) {
	for _, l := range en.Layouts {
		if l.NumNodes == numNodes {
			return l, true
		}
	}
	return dbLayout{}, false
}

func (en *dbEngine) nodeCounts() string {
	out := make([]string, len(en.Layouts))
	for i, l := range en.Layouts {
		out[i] = strconv.Itoa(l.NumNodes)
	}
	return strings.Join(out, ", ")
}

// dbEngineOptions is one engine's entry in GET /v2/databases/options.
type dbEngineOptions struct {
	Regions  []string         `json:"regions"`
	Versions []string         `json:"versions"`
	Layouts  []dbLayoutOption `json:"layouts"`
}

type dbLayoutOption struct {
	NumNodes int      `json:"num_nodes"`
	Sizes    []string `json:"sizes"`
}

type dbVersionAvailability struct {
	Version           string  `json:"version"`
	EndOfLife         *string `json:"end_of_life"`
	EndOfAvailability *string `json:"end_of_availability"`
}

func dbNullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func dbOptionsDocument() map[string]any {
	options := map[string]dbEngineOptions{}
	availability := map[string][]dbVersionAvailability{}
	for _, en := range dbEngines {
		opt := dbEngineOptions{Regions: slices.Clone(en.Regions), Versions: en.versionList()}
		sort.Strings(opt.Regions)
		for _, l := range en.Layouts {
			opt.Layouts = append(opt.Layouts, dbLayoutOption{NumNodes: l.NumNodes, Sizes: slices.Clone(l.Sizes)})
		}
		options[en.Slug] = opt
		for _, v := range en.Versions {
			availability[en.Slug] = append(availability[en.Slug], dbVersionAvailability{
				Version: v.Version, EndOfLife: dbNullable(v.EndOfLife), EndOfAvailability: dbNullable(v.EndOfAvailability),
			})
		}
	}
	return map[string]any{"options": options, "version_availability": availability}
}
