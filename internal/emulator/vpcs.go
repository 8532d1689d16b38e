package emulator

import (
	"fmt"
	"net/http"
	"net/netip"
	"regexp"
	"sort"
	"time"
)

// VPCs: /v2/vpcs. A VPC can only be deleted once nothing is attached to it:
// 403 while a live member remains (the spec's vpcs_delete), 409 while the
// only members left are lingering ones of deleted objects (a deleted
// cluster's worker Droplets, a deleted database in its grace period), as
// DigitalOcean answers then. A region's default VPC is created on demand
// when a cluster or database is created without one.

type vpc struct {
	ID          string    `json:"id"`
	URN         string    `json:"urn"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Region      string    `json:"region"`
	IPRange     string    `json:"ip_range"`
	Default     bool      `json:"default"`
	CreatedAt   time.Time `json:"created_at"`

	// autoDefault marks a default VPC DigitalOcean created by itself; it is
	// account furniture, not something a user's configuration created.
	autoDefault bool
	prefix      netip.Prefix
}

// vpcMember is something attached to a VPC.
type vpcMember struct {
	Name      string    `json:"name"`
	URN       string    `json:"urn"`
	CreatedAt time.Time `json:"created_at"`

	// lingering marks a member left behind by a deleted object, still
	// being released.
	lingering bool
}

// vpcMemberSource is implemented by families whose objects live in VPCs.
type vpcMemberSource interface {
	vpcMembers(vpcID string) []vpcMember
}

type vpcStore struct {
	e    *Emulator
	vpcs map[string]*vpc
}

func newVPCStore(e *Emulator) *vpcStore { return &vpcStore{e: e, vpcs: map[string]*vpc{}} }

func (s *vpcStore) reset() { s.vpcs = map[string]*vpc{} }

func (s *vpcStore) advance(time.Time) {}

func (s *vpcStore) register(r *router) {
	r.handle(http.MethodGet, "/v2/vpcs", s.list)
	r.handle(http.MethodPost, "/v2/vpcs", s.create)
	r.handle(http.MethodGet, "/v2/vpcs/{vpc_id}", s.get)
	r.handle(http.MethodPut, "/v2/vpcs/{vpc_id}", s.update)
	r.handle(http.MethodPatch, "/v2/vpcs/{vpc_id}", s.update)
	r.handle(http.MethodDelete, "/v2/vpcs/{vpc_id}", s.delete)
	r.handle(http.MethodGet, "/v2/vpcs/{vpc_id}/members", s.members)
}

func (s *vpcStore) inventory() []Item {
	var items []Item
	for _, v := range s.sorted() {
		if v.autoDefault {
			continue
		}
		items = append(items, Item{Kind: "vpc", ID: v.ID, Name: v.Name})
	}
	return items
}

func (s *vpcStore) sorted() []*vpc {
	out := make([]*vpc, 0, len(s.vpcs))
	for _, v := range s.vpcs {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// find returns a VPC by id.
func (s *vpcStore) find(id string) (*vpc, bool) {
	v, ok := s.vpcs[id]
	return v, ok
}

// resolveURN reports whether urn names a live VPC.
func (s *vpcStore) resolveURN(urn string) bool {
	for _, v := range s.vpcs {
		if v.URN == urn {
			return true
		}
	}
	return false
}

// urns lists the URNs of all VPCs (for project listings).
func (s *vpcStore) urns() []string {
	out := make([]string, 0, len(s.vpcs))
	for _, v := range s.vpcs {
		out = append(out, v.URN)
	}
	return out
}

// defaultFor returns region's default VPC, creating it as DigitalOcean does
// the first time something is placed in the region without a VPC.
func (s *vpcStore) defaultFor(region string, now time.Time) *vpc {
	for _, v := range s.vpcs {
		if v.Region == region && v.Default {
			return v
		}
	}
	prefix, ok := s.freeRange(20)
	if !ok {
		prefix = netip.MustParsePrefix("10.255.240.0/20")
	}
	v := s.add("default-"+region, region, prefix, now)
	v.Default, v.autoDefault = true, true
	return v
}

func (s *vpcStore) add(name, region string, prefix netip.Prefix, now time.Time) *vpc {
	id := newID()
	v := &vpc{
		ID: id, URN: "do:vpc:" + id, Name: name, Region: region,
		IPRange: prefix.String(), CreatedAt: now.UTC(), prefix: prefix,
	}
	s.vpcs[id] = v
	return v
}

// freeRange picks the first /bits block of 10.0.0.0/8 that overlaps no VPC,
// skipping the ranges DOKS reserves for pods and services by default.
func (s *vpcStore) freeRange(bits int) (netip.Prefix, bool) {
	base := netip.MustParsePrefix("10.0.0.0/8")
	step := uint32(1) << (32 - bits)
	start := ipv4ToUint(base.Addr())
	for off := uint32(0); off < 1<<24; off += step {
		p := netip.PrefixFrom(uintToIPv4(start+off), bits)
		if overlapsReserved(p) || s.overlapping(p, "") != nil {
			continue
		}
		return p, true
	}
	return netip.Prefix{}, false
}

func (s *vpcStore) overlapping(p netip.Prefix, exceptID string) *vpc {
	for _, v := range s.vpcs {
		if v.ID != exceptID && v.prefix.Overlaps(p) {
			return v
		}
	}
	return nil
}

// Ranges DigitalOcean refuses for VPCs: DOKS's default pod and service
// networks, and the Docker bridge.
var reservedVPCRanges = []netip.Prefix{
	netip.MustParsePrefix("10.244.0.0/16"),
	netip.MustParsePrefix("10.245.0.0/16"),
	netip.MustParsePrefix("10.246.0.0/24"),
	netip.MustParsePrefix("172.17.0.0/16"),
}

func overlapsReserved(p netip.Prefix) bool {
	for _, r := range reservedVPCRanges {
		if r.Overlaps(p) {
			return true
		}
	}
	return false
}

var privateRanges = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
}

// parsePrivateCIDR checks a CIDR the way DigitalOcean does for VPC and DOKS
// subnets: canonical IPv4, inside RFC 1918, prefix length within [minBits, maxBits].
func parsePrivateCIDR(cidr string, minBits, maxBits int) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil || !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("%q is not a valid IPv4 CIDR block", cidr)
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("%q has host bits set; use %s", cidr, p.Masked())
	}
	if p.Bits() < minBits || p.Bits() > maxBits {
		return netip.Prefix{}, fmt.Errorf("%q must have a prefix length between /%d and /%d", cidr, minBits, maxBits)
	}
	for _, r := range privateRanges {
		if r.Contains(p.Addr()) && r.Bits() <= p.Bits() {
			return p, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("%q is not within a private range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)", cidr)
}

func ipv4ToUint(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func uintToIPv4(u uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(u >> 24), byte(u >> 16), byte(u >> 8), byte(u)})
}

var vpcNamePattern = regexp.MustCompile(`^[a-zA-Z0-9\-.]+$`)

func (s *vpcStore) list(c *call) { respondList(c, "vpcs", s.sorted()) }

func (s *vpcStore) get(c *call) {
	v, ok := s.find(c.param("vpc_id"))
	if !ok {
		c.notFound()
		return
	}
	c.respond(http.StatusOK, map[string]any{"vpc": v})
}

func (s *vpcStore) create(c *call) {
	var req struct {
		Name        string `json:"name"`
		Description string `json:"description"`
		Region      string `json:"region"`
		IPRange     string `json:"ip_range"`
	}
	if !c.decode(&req) {
		return
	}
	if !s.validName(c, req.Name, "") || !validDescription(c, req.Description) {
		return
	}
	if req.Region == "" {
		c.unprocessable("region is required")
		return
	}
	if _, ok := regionBySlug(req.Region); !ok {
		c.unprocessable("region %q is not a valid region", req.Region)
		return
	}
	var prefix netip.Prefix
	if req.IPRange == "" {
		p, ok := s.freeRange(20)
		if !ok {
			c.unprocessable("no free /20 range is left in 10.0.0.0/8; specify ip_range")
			return
		}
		prefix = p
	} else {
		p, err := parsePrivateCIDR(req.IPRange, 16, 28)
		if err != nil {
			c.unprocessable("ip_range: %v", err)
			return
		}
		if overlapsReserved(p) {
			c.unprocessable("ip_range %s overlaps a range reserved by DigitalOcean (10.244.0.0/16, 10.245.0.0/16, 10.246.0.0/24, 172.17.0.0/16)", p)
			return
		}
		if other := s.overlapping(p, ""); other != nil {
			c.unprocessable("ip_range %s overlaps VPC %s (%s)", p, other.Name, other.IPRange)
			return
		}
		prefix = p
	}
	v := s.add(req.Name, req.Region, prefix, c.now)
	v.Description = req.Description
	c.respond(http.StatusCreated, map[string]any{"vpc": v})
}

func (s *vpcStore) validName(c *call, name, exceptID string) bool {
	if name == "" {
		c.unprocessable("name is required")
		return false
	}
	if len(name) > 255 || !vpcNamePattern.MatchString(name) {
		c.unprocessable("name %q is invalid: use letters, digits, dashes and dots (at most 255)", name)
		return false
	}
	for _, v := range s.vpcs {
		if v.ID != exceptID && v.Name == name {
			c.conflict("a VPC named %q already exists", name)
			return false
		}
	}
	return true
}

func validDescription(c *call, d string) bool {
	if len(d) > 255 {
		c.unprocessable("description must be at most 255 characters")
		return false
	}
	return true
}

func (s *vpcStore) update(c *call) {
	v, ok := s.find(c.param("vpc_id"))
	if !ok {
		c.notFound()
		return
	}
	var req struct {
		Name        *string `json:"name"`
		Description *string `json:"description"`
		Default     *bool   `json:"default"`
	}
	if !c.decode(&req) {
		return
	}
	if c.r.Method == http.MethodPut && req.Name == nil {
		c.unprocessable("name is required")
		return
	}
	if req.Name != nil && !s.validName(c, *req.Name, v.ID) {
		return
	}
	if req.Description != nil && !validDescription(c, *req.Description) {
		return
	}
	if req.Default != nil && !*req.Default && v.Default {
		c.unprocessable("a region must keep a default VPC: make another VPC the default instead")
		return
	}
	if req.Name != nil {
		v.Name = *req.Name
	}
	if req.Description != nil {
		v.Description = *req.Description
	}
	if req.Default != nil && *req.Default && !v.Default {
		for _, other := range s.vpcs {
			if other.Region == v.Region {
				other.Default = false
			}
		}
		v.Default, v.autoDefault = true, false
	}
	c.respond(http.StatusOK, map[string]any{"vpc": v})
}

func (s *vpcStore) allMembers(vpcID string) []vpcMember {
	var members []vpcMember
	for _, f := range s.e.families {
		if src, ok := f.(vpcMemberSource); ok {
			members = append(members, src.vpcMembers(vpcID)...)
		}
	}
	sort.Slice(members, func(i, j int) bool { return members[i].URN < members[j].URN })
	return members
}

func (s *vpcStore) delete(c *call) {
	v, ok := s.find(c.param("vpc_id"))
	if !ok {
		c.notFound()
		return
	}
	if v.Default {
		c.fail(http.StatusForbidden, "forbidden", "The default VPC of a region cannot be deleted.")
		return
	}
	members := s.allMembers(v.ID)
	var live []vpcMember
	for _, m := range members {
		if !m.lingering {
			live = append(live, m)
		}
	}
	switch {
	case len(live) > 0:
		// Spec vpcs_delete: deleting "a VPC that still has members will result in a 403 Forbidden error response".
		c.fail(http.StatusForbidden, "forbidden", fmt.Sprintf("Can not delete VPC with members: %d resource(s) still use it (first: %s %s); delete them first", len(live), live[0].URN, live[0].Name))
		return
	case len(members) > 0:
		// Members of deleted objects linger and DigitalOcean answers 409 (maintainer comment, terraform-provider-digitalocean #488).
		c.conflict("Can not delete VPC with members: %d member(s) of deleted resources are still being released (first: %s %s); retry in a few minutes", len(members), members[0].URN, members[0].Name)
		return
	}
	delete(s.vpcs, v.ID)
	c.noContent()
}

func (s *vpcStore) members(c *call) {
	v, ok := s.find(c.param("vpc_id"))
	if !ok {
		c.notFound()
		return
	}
	members := s.allMembers(v.ID)
	if rt := c.query("resource_type"); rt != "" {
		filtered := members[:0:0]
		for _, m := range members {
			if urnKind(m.URN) == rt {
				filtered = append(filtered, m)
			}
		}
		members = filtered
	}
	respondList(c, "members", members)
}
