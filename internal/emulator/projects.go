package emulator

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
)

// Projects: /v2/projects and their resources. Every account has a default
// project; new resources land in it until assigned elsewhere, and a resource
// belongs to exactly one project. Deleted resources drop out of listings.
// Only DigitalOcean's project resource types belong to projects: VPCs do
// not, so they are neither listed nor assignable.

type project struct {
	ID          string    `json:"id"`
	OwnerUUID   string    `json:"owner_uuid"`
	OwnerID     int       `json:"owner_id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Purpose     string    `json:"purpose"`
	Environment string    `json:"environment,omitempty"`
	IsDefault   bool      `json:"is_default"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

type projectResource struct {
	URN        string    `json:"urn"`
	AssignedAt time.Time `json:"assigned_at"`
	Links      struct {
		Self string `json:"self"`
	} `json:"links"`
	Status string `json:"status"`
}

// urnSource is implemented by families whose objects have URNs.
type urnSource interface {
	resolveURN(urn string) bool
}

type projectStore struct {
	e         *Emulator
	ownerUUID string
	projects  map[string]*project
	// assignments maps a URN to the project it belongs to and when.
	assignments map[string]assignment
}

type assignment struct {
	projectID string
	at        time.Time
}

func newProjectStore(e *Emulator) *projectStore {
	s := &projectStore{e: e, ownerUUID: newID()}
	s.reset()
	return s
}

func (s *projectStore) reset() {
	s.projects = map[string]*project{}
	s.assignments = map[string]assignment{}
	now := time.Now().UTC()
	def := &project{
		ID: newID(), OwnerUUID: s.ownerUUID, OwnerID: 1, Name: "first-project",
		Description: "Default project", Purpose: "Just trying out DigitalOcean",
		Environment: "Development", IsDefault: true, CreatedAt: now, UpdatedAt: now,
	}
	s.projects[def.ID] = def
}

func (s *projectStore) advance(time.Time) {}

func (s *projectStore) register(r *router) {
	r.handle(http.MethodGet, "/v2/projects", s.list)
	r.handle(http.MethodPost, "/v2/projects", s.create)
	r.handle(http.MethodGet, "/v2/projects/default", s.getDefault)
	r.handle(http.MethodGet, "/v2/projects/{project_id}", s.get)
	r.handle(http.MethodPut, "/v2/projects/{project_id}", s.update)
	r.handle(http.MethodPatch, "/v2/projects/{project_id}", s.update)
	r.handle(http.MethodDelete, "/v2/projects/{project_id}", s.delete)
	r.handle(http.MethodGet, "/v2/projects/default/resources", s.listDefaultResources)
	r.handle(http.MethodPost, "/v2/projects/default/resources", s.assignDefault)
	r.handle(http.MethodGet, "/v2/projects/{project_id}/resources", s.listResources)
	r.handle(http.MethodPost, "/v2/projects/{project_id}/resources", s.assign)
}

// inventory lists projects users created (the default project is part of
// every account and is left out).
func (s *projectStore) inventory() []Item {
	var items []Item
	for _, p := range s.sorted() {
		if !p.IsDefault {
			items = append(items, Item{Kind: "project", ID: p.ID, Name: p.Name})
		}
	}
	return items
}

func (s *projectStore) sorted() []*project {
	out := make([]*project, 0, len(s.projects))
	for _, p := range s.projects {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].IsDefault != out[j].IsDefault {
			return out[i].IsDefault
		}
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

func (s *projectStore) defaultProject() *project {
	for _, p := range s.projects {
		if p.IsDefault {
			return p
		}
	}
	return nil
}

// urnExists asks every family whether urn names a live object.
func (s *projectStore) urnExists(urn string) bool {
	for _, f := range s.e.families {
		if src, ok := f.(urnSource); ok && src.resolveURN(urn) {
			return true
		}
	}
	return false
}

// urnKind returns the resource type part of a URN ("do:kubernetes:id" ->
// "kubernetes").
func urnKind(urn string) string {
	parts := strings.SplitN(urn, ":", 3)
	if len(parts) != 3 || parts[0] != "do" {
		return ""
	}
	return parts[1]
}

// projectResourceKinds are the URN types a project holds: the official
// provider's docs/resources/project.md ("App Platform Apps, Database
// Clusters, Domains, Droplets, Floating IPs, Kubernetes Clusters, Load
// Balancers, Spaces Buckets, Volumes") with godo's URN spellings (reserved
// IPs are floating IPs renamed). "vpc" is not among them.
var projectResourceKinds = map[string]bool{
	"app": true, "dbaas": true, "domain": true, "droplet": true, "floatingip": true, "reservedip": true,
	"reservedipv6": true, "kubernetes": true, "loadbalancer": true, "space": true, "volume": true,
}

func projectResourceKindList() string {
	kinds := make([]string, 0, len(projectResourceKinds))
	for k := range projectResourceKinds {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	return strings.Join(kinds, ", ")
}

func (s *projectStore) list(c *call) { respondList(c, "projects", s.sorted()) }

func (s *projectStore) find(c *call) (*project, bool) {
	p, ok := s.projects[c.param("project_id")]
	if !ok {
		c.notFound()
	}
	return p, ok
}

func (s *projectStore) get(c *call) {
	if p, ok := s.find(c); ok {
		c.respond(http.StatusOK, map[string]any{"project": p})
	}
}

func (s *projectStore) getDefault(c *call) {
	c.respond(http.StatusOK, map[string]any{"project": s.defaultProject()})
}

type projectRequest struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
	Purpose     *string `json:"purpose"`
	Environment *string `json:"environment"`
	IsDefault   *bool   `json:"is_default"`
}

func (s *projectStore) validate(c *call, req projectRequest, exceptID string) bool {
	if req.Name != nil {
		if *req.Name == "" || len(*req.Name) > 175 {
			c.unprocessable("name must be 1 to 175 characters")
			return false
		}
		for _, p := range s.projects {
			if p.ID != exceptID && p.Name == *req.Name {
				c.conflict("a project named %q already exists", *req.Name)
				return false
			}
		}
	}
	if req.Description != nil && len(*req.Description) > 255 {
		c.unprocessable("description must be at most 255 characters")
		return false
	}
	if req.Purpose != nil && len(*req.Purpose) > 255 {
		c.unprocessable("purpose must be at most 255 characters")
		return false
	}
	if req.Environment != nil && *req.Environment != "" {
		switch *req.Environment {
		case "Development", "Staging", "Production":
		default:
			c.unprocessable("environment must be one of Development, Staging, Production; got %q", *req.Environment)
			return false
		}
	}
	return true
}

func (s *projectStore) create(c *call) {
	var req projectRequest
	if !c.decode(&req) {
		return
	}
	if req.Name == nil || req.Purpose == nil {
		c.unprocessable("name and purpose are required")
		return
	}
	if !s.validate(c, req, "") {
		return
	}
	p := &project{ID: newID(), OwnerUUID: s.ownerUUID, OwnerID: 1, CreatedAt: c.now.UTC(), UpdatedAt: c.now.UTC()}
	s.apply(p, req)
	s.projects[p.ID] = p
	c.respond(http.StatusCreated, map[string]any{"project": p})
}

func (s *projectStore) apply(p *project, req projectRequest) {
	if req.Name != nil {
		p.Name = *req.Name
	}
	if req.Description != nil {
		p.Description = *req.Description
	}
	if req.Purpose != nil {
		p.Purpose = *req.Purpose
	}
	if req.Environment != nil {
		p.Environment = *req.Environment
	}
	if req.IsDefault != nil && *req.IsDefault && !p.IsDefault {
		for _, other := range s.projects {
			other.IsDefault = false
		}
		p.IsDefault = true
	}
}

func (s *projectStore) update(c *call) {
	p, ok := s.find(c)
	if !ok {
		return
	}
	var req projectRequest
	if !c.decode(&req) {
		return
	}
	if c.r.Method == http.MethodPut && (req.Name == nil || req.Description == nil || req.Purpose == nil || req.Environment == nil || req.IsDefault == nil) {
		c.unprocessable("PUT needs name, description, purpose, environment and is_default; use PATCH to change some")
		return
	}
	if req.IsDefault != nil && !*req.IsDefault && p.IsDefault {
		c.unprocessable("the default project cannot be unset: make another project the default instead")
		return
	}
	if !s.validate(c, req, p.ID) {
		return
	}
	s.apply(p, req)
	p.UpdatedAt = c.now.UTC()
	c.respond(http.StatusOK, map[string]any{"project": p})
}

func (s *projectStore) delete(c *call) {
	p, ok := s.find(c)
	if !ok {
		return
	}
	if p.IsDefault {
		c.fail(http.StatusPreconditionFailed, "precondition_failed", "The default project cannot be deleted.")
		return
	}
	if n := len(s.resourcesOf(p.ID)); n > 0 {
		c.fail(http.StatusPreconditionFailed, "precondition_failed", "Cannot delete a project with resources: move or delete its resources first.")
		return
	}
	delete(s.projects, p.ID)
	c.noContent()
}

// resourcesOf lists the live resources of a project. Resources never
// explicitly assigned belong to the default project.
func (s *projectStore) resourcesOf(projectID string) []projectResource {
	var urns []string
	for urn, a := range s.assignments {
		if a.projectID == projectID && projectResourceKinds[urnKind(urn)] && s.urnExists(urn) {
			urns = append(urns, urn)
		}
	}
	if p := s.projects[projectID]; p != nil && p.IsDefault {
		for _, urn := range s.allURNs() {
			if _, assigned := s.assignments[urn]; !assigned && projectResourceKinds[urnKind(urn)] {
				urns = append(urns, urn)
			}
		}
	}
	sort.Strings(urns)
	out := make([]projectResource, 0, len(urns))
	for _, urn := range urns {
		out = append(out, s.resource(urn, s.assignments[urn].at, "ok"))
	}
	return out
}

// urnLister is implemented by families that can enumerate their URNs.
type urnLister interface {
	urns() []string
}

func (s *projectStore) allURNs() []string {
	var urns []string
	for _, f := range s.e.families {
		if l, ok := f.(urnLister); ok {
			urns = append(urns, l.urns()...)
		}
	}
	return urns
}

func (s *projectStore) resource(urn string, at time.Time, status string) projectResource {
	r := projectResource{URN: urn, AssignedAt: at.UTC(), Status: status}
	parts := strings.SplitN(urn, ":", 3)
	if len(parts) == 3 {
		r.Links.Self = "https://api.digitalocean.com/v2/" + selfPath(parts[1]) + "/" + parts[2]
	}
	return r
}

func selfPath(kind string) string {
	switch kind {
	case "dbaas":
		return "databases"
	case "kubernetes":
		return "kubernetes/clusters"
	case "floatingip":
		return "floating_ips"
	case "reservedip":
		return "reserved_ips"
	case "reservedipv6":
		return "reserved_ipv6"
	case "loadbalancer":
		return "load_balancers"
	default:
		return kind + "s"
	}
}

func (s *projectStore) listResources(c *call) {
	if p, ok := s.find(c); ok {
		respondList(c, "resources", s.resourcesOf(p.ID))
	}
}

func (s *projectStore) listDefaultResources(c *call) {
	respondList(c, "resources", s.resourcesOf(s.defaultProject().ID))
}

func (s *projectStore) assign(c *call) {
	if p, ok := s.find(c); ok {
		s.assignTo(c, p)
	}
}

func (s *projectStore) assignDefault(c *call) { s.assignTo(c, s.defaultProject()) }

func (s *projectStore) assignTo(c *call, p *project) {
	var req struct {
		Resources []string `json:"resources"`
	}
	if !c.decode(&req) {
		return
	}
	if len(req.Resources) == 0 {
		c.unprocessable("resources must list at least one URN")
		return
	}
	// A URN DigitalOcean cannot take answers 400 (pulumi-digitalocean #82:
	// "400 resource objects must have an urn in the following format:
	// do:resource_type:resource_id").
	for i, urn := range req.Resources {
		switch kind := urnKind(urn); {
		case kind == "vpc":
			// VPCs are not project resources (official provider docs/resources/project.md).
			c.fail(http.StatusBadRequest, "bad_request", fmt.Sprintf("resources[%d] %q is a VPC, and VPCs are not project resources: leave it out of the assignment (project resources are %s)", i, urn, projectResourceKindList()))
			return
		case !projectResourceKinds[kind]:
			c.fail(http.StatusBadRequest, "bad_request", fmt.Sprintf("resources[%d] %q: resource objects must have an urn in the following format: do:resource_type:resource_id, where resource_type is one of %s", i, urn, projectResourceKindList()))
			return
		}
	}
	out := make([]projectResource, 0, len(req.Resources))
	for _, urn := range req.Resources {
		if !s.urnExists(urn) {
			out = append(out, s.resource(urn, c.now, "not_found"))
			continue
		}
		if a, ok := s.assignments[urn]; ok && a.projectID == p.ID {
			out = append(out, s.resource(urn, a.at, "already_assigned"))
			continue
		}
		s.assignments[urn] = assignment{projectID: p.ID, at: c.now}
		out = append(out, s.resource(urn, c.now, "assigned"))
	}
	c.respond(http.StatusOK, map[string]any{"resources": out})
}
