package emulator

// The regions the emulated account can use. Which Kubernetes versions, node
// sizes (GPU sizes included) and database engines each region offers lives
// with the family that serves them (kubernetes_catalog.go, database_catalog.go).

type regionInfo struct {
	Slug string
	Name string
}

var regions = []regionInfo{
	{"nyc1", "New York 1"},
	{"nyc2", "New York 2"},
	{"nyc3", "New York 3"},
	{"sfo2", "San Francisco 2"},
	{"sfo3", "San Francisco 3"},
	{"ams3", "Amsterdam 3"},
	{"sgp1", "Singapore 1"},
	{"lon1", "London 1"},
	{"fra1", "Frankfurt 1"},
	{"tor1", "Toronto 1"},
	{"blr1", "Bangalore 1"},
	{"syd1", "Sydney 1"},
	{"atl1", "Atlanta 1"},
}

func regionBySlug(slug string) (regionInfo, bool) {
	for _, r := range regions {
		if r.Slug == slug {
			return r, true
		}
	}
	return regionInfo{}, false
}
