package emulator

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"
)

// Tags: /v2/tags. A tag is an account-wide label that resources carry; the
// emulator's taggable resources are database clusters (spec tags.yml: "A tag
// is a label that can be applied to a resource (currently Droplets, Images,
// Volumes, Volume Snapshots, and Database clusters)") and their read-only
// replicas, whose uuids are database ids (setTag). A tag exists once
// created with POST /v2/tags, or while a database carries it (DigitalOcean
// creates the tags named in a create: terraform-provider-digitalocean PR
// #228). Names are case stable: paths use the canonical capitalization, and
// creating a tag that differs only in case returns the existing one (spec
// tags.yml, name).
//
// Tags are labels, not objects anyone cleans up (deleting one untags
// everything that carries it), so the inventory leaves them out, as it
// leaves out the default project.

type tagStore struct {
	e *Emulator
	// known holds the tags made with POST /v2/tags or found through
	// /v2/tags/{tag_id}, by canonical name: they outlive the resources
	// that carry them.
	known map[string]bool
	// lastTagged is the URI of the resource each tag was last applied to.
	lastTagged map[string]string
}

func newTagStore(e *Emulator) *tagStore {
	s := &tagStore{e: e}
	s.reset()
	return s
}

func (s *tagStore) reset() {
	s.known = map[string]bool{}
	s.lastTagged = map[string]string{}
}

func (s *tagStore) advance(time.Time) {}

func (s *tagStore) inventory() []Item { return nil }

func (s *tagStore) register(r *router) {
	r.handle(http.MethodGet, "/v2/tags", s.list)
	r.handle(http.MethodPost, "/v2/tags", s.create)
	r.handle(http.MethodGet, "/v2/tags/{tag_id}", s.get)
	r.handle(http.MethodDelete, "/v2/tags/{tag_id}", s.delete)
	r.handle(http.MethodPost, "/v2/tags/{tag_id}/resources", s.tagResources)
	r.handle(http.MethodDelete, "/v2/tags/{tag_id}/resources", s.untagResources)
}

// ---- database side (database clusters are the taggable resources) ----

// liveCluster returns the cluster with id unless it is gone or being deleted.
func (s *databaseStore) liveCluster(id string) (*dbCluster, bool) {
	cl, ok := s.clusters[id]
	if !ok || cl.deleting {
		return nil, false
	}
	return cl, true
}

// setTag adds (on) or removes tag on the live cluster or read-only replica
// id; it reports false when there is no such cluster or replica. A
// replica's uuid is a database id (the official provider resizes a replica
// with Databases.Resize(replicaUUID, ...), resource_database_replica.go),
// so resource_type "database" takes it too.
func (s *databaseStore) setTag(id, tag string, on bool) bool {
	var tags *[]string
	if cl, ok := s.liveCluster(id); ok {
		tags = &cl.Tags
	} else if _, rp, ok := s.liveReplica(id); ok {
		tags = &rp.Tags
	} else {
		return false
	}
	has := slices.Contains(*tags, tag)
	switch {
	case on && !has:
		*tags = append(*tags, tag)
	case !on && has:
		*tags = slices.DeleteFunc(*tags, func(t string) bool { return t == tag })
	}
	return true
}

// liveReplica finds the read-only replica with id (and its primary) unless
// it or its primary is gone or being deleted.
func (s *databaseStore) liveReplica(id string) (*dbCluster, *dbReplica, bool) {
	for _, cl := range s.live() {
		for _, rp := range cl.replicas {
			if rp.ID == id && !rp.deleting {
				return cl, rp, true
			}
		}
	}
	return nil, nil, false
}

// taggedWith lists the ids of live clusters and replicas carrying tag,
// oldest cluster first, each cluster's replicas after it.
func (s *databaseStore) taggedWith(tag string) []string {
	var out []string
	for _, cl := range s.live() {
		if slices.Contains(cl.Tags, tag) {
			out = append(out, cl.ID)
		}
		for _, rp := range cl.replicas {
			if !rp.deleting && slices.Contains(rp.Tags, tag) {
				out = append(out, rp.ID)
			}
		}
	}
	return out
}

// tagNames lists the tags live clusters and replicas carry.
func (s *databaseStore) tagNames() []string {
	var out []string
	add := func(tags []string) {
		for _, t := range tags {
			if !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
	}
	for _, cl := range s.live() {
		add(cl.Tags)
		for _, rp := range cl.replicas {
			if !rp.deleting {
				add(rp.Tags)
			}
		}
	}
	return out
}

func dbSelfURI(id string) string { return "https://api.digitalocean.com/v2/databases/" + id }

// ---- tag rendering ----

type tagCountJSON struct {
	Count         int    `json:"count"`
	LastTaggedURI string `json:"last_tagged_uri,omitempty"`
}

type tagResourcesJSON struct {
	Count           int          `json:"count"`
	LastTaggedURI   string       `json:"last_tagged_uri,omitempty"`
	Droplets        tagCountJSON `json:"droplets"`
	Images          tagCountJSON `json:"images"`
	Volumes         tagCountJSON `json:"volumes"`
	VolumeSnapshots tagCountJSON `json:"volume_snapshots"`
	Databases       tagCountJSON `json:"databases"`
}

type tagJSON struct {
	Name      string           `json:"name"`
	Resources tagResourcesJSON `json:"resources"`
}

// exists reports whether tag (exact, canonical name) exists.
func (s *tagStore) exists(tag string) bool {
	if s.known[tag] {
		return true
	}
	return len(s.e.dbs.taggedWith(tag)) > 0
}

// names lists every existing tag, sorted.
func (s *tagStore) names() []string {
	out := s.e.dbs.tagNames()
	for t := range s.known {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return out
}

// canonical returns the existing tag name equal to name but for case.
func (s *tagStore) canonical(name string) (string, bool) {
	for _, t := range s.names() {
		if strings.EqualFold(t, name) {
			return t, true
		}
	}
	return "", false
}

func (s *tagStore) render(tag string) tagJSON {
	dbs := s.e.dbs.taggedWith(tag)
	out := tagJSON{Name: tag, Resources: tagResourcesJSON{Count: len(dbs), Databases: tagCountJSON{Count: len(dbs)}}}
	if len(dbs) > 0 {
		last := dbSelfURI(dbs[len(dbs)-1])
		for _, id := range dbs {
			if dbSelfURI(id) == s.lastTagged[tag] {
				last = s.lastTagged[tag]
			}
		}
		out.Resources.LastTaggedURI, out.Resources.Databases.LastTaggedURI = last, last
	}
	return out
}

// ---- handlers ----

func (s *tagStore) list(c *call) {
	names := s.names()
	out := make([]tagJSON, 0, len(names))
	for _, t := range names {
		out = append(out, s.render(t))
	}
	respondList(c, "tags", out)
}

// badTag answers tags_create's 400, whose body (spec tags_bad_request,
// error_with_root_causes) carries error and root_causes besides
// DigitalOcean's usual id and message.
func badTag(c *call, message string) {
	c.respond(http.StatusBadRequest, map[string]any{
		"id": "bad_request", "message": message, "request_id": c.requestID,
		"error": message, "messages": nil, "root_causes": []string{message},
	})
}

func (s *tagStore) create(c *call) {
	var req struct {
		Name string `json:"name"`
	}
	if !c.decode(&req) {
		return
	}
	switch {
	case req.Name == "":
		badTag(c, "name is required: tags use letters, digits, colons, dashes and underscores (at most 255)")
		return
	case len(req.Name) > 255:
		badTag(c, fmt.Sprintf("Error validating resource tag: tag-name is %d characters long; tags are at most 255 characters", len(req.Name)))
		return
	case !dbTagPattern.MatchString(req.Name):
		// Spec tags_bad_request example: Error validating resource tag: "tag-name \"...\" contains invalid characters".
		badTag(c, fmt.Sprintf("Error validating resource tag: \"tag-name %q contains invalid characters\": use letters, digits, colons, dashes and underscores", req.Name))
		return
	}
	// Spec tags_create answers only 201 (and 400): an existing tag, in any
	// capitalization, is returned as it is (spec tags.yml: the first
	// capitalization is canonical).
	name, ok := s.canonical(req.Name)
	if !ok {
		name = req.Name
		s.known[name] = true
	}
	c.respond(http.StatusCreated, map[string]any{"tag": s.render(name)})
}

// find answers 404 unless the path names an existing tag (exact case).
func (s *tagStore) find(c *call) (string, bool) {
	tag := c.param("tag_id")
	if !s.exists(tag) {
		c.notFound()
		return "", false
	}
	s.known[tag] = true
	return tag, true
}

func (s *tagStore) get(c *call) {
	if tag, ok := s.find(c); ok {
		c.respond(http.StatusOK, map[string]any{"tag": s.render(tag)})
	}
}

// delete removes the tag and untags everything that carries it (spec
// tags_delete: "Deleting a tag also untags all the resources that have
// previously been tagged by the Tag").
func (s *tagStore) delete(c *call) {
	tag, ok := s.find(c)
	if !ok {
		return
	}
	for _, id := range s.e.dbs.taggedWith(tag) {
		s.e.dbs.setTag(id, tag, false)
	}
	delete(s.known, tag)
	delete(s.lastTagged, tag)
	c.noContent()
}

// tagTypes are the resource types spec tags_assign_resources names
// ("droplet, database, image, volume or volume_snapshot").
var tagTypes = []string{"droplet", "database", "image", "volume", "volume_snapshot"}

func (s *tagStore) tagResources(c *call)   { s.apply(c, true) }
func (s *tagStore) untagResources(c *call) { s.apply(c, false) }

// apply tags (on) or untags every listed resource, or none: all are checked
// first. An unknown tag answers 404 (packer-plugin-digitalocean PR #168:
// TagResources with a tag that does not exist "error[s] out with a 404").
func (s *tagStore) apply(c *call, on bool) {
	tag, ok := s.find(c)
	if !ok {
		return
	}
	var req struct {
		Resources []struct {
			ID   string `json:"resource_id"`
			Type string `json:"resource_type"`
		} `json:"resources"`
	}
	if !c.decode(&req) {
		return
	}
	if len(req.Resources) == 0 {
		c.unprocessable("resources must list at least one {resource_id, resource_type} to tag with %q", tag)
		return
	}
	for i, r := range req.Resources {
		switch {
		case r.Type == "":
			c.unprocessable("resources[%d].resource_type is required; use one of %s", i, strings.Join(tagTypes, ", "))
			return
		case !slices.Contains(tagTypes, r.Type):
			c.unprocessable("resources[%d].resource_type %q cannot be tagged through /v2/tags; use one of %s (Kubernetes clusters and node pools take their tags in their own create and update)", i, r.Type, strings.Join(tagTypes, ", "))
			return
		case r.ID == "":
			c.unprocessable("resources[%d].resource_id is required: the id of the %s", i, r.Type)
			return
		case r.Type != "database":
			c.fail(http.StatusNotFound, "not_found", fmt.Sprintf("resources[%d]: %s %q does not exist (the emulator holds no %ss)", i, r.Type, r.ID, r.Type))
			return
		}
		_, live := s.e.dbs.liveCluster(r.ID)
		if _, _, replica := s.e.dbs.liveReplica(r.ID); !live && !replica {
			c.fail(http.StatusNotFound, "not_found", fmt.Sprintf("resources[%d]: no database cluster or read-only replica has id %q", i, r.ID))
			return
		}
	}
	for _, r := range req.Resources {
		s.e.dbs.setTag(r.ID, tag, on)
		if on {
			s.lastTagged[tag] = dbSelfURI(r.ID)
		}
	}
	c.noContent()
}
