package emulator

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Database firewalls ("trusted sources"): GET lists the rules, PUT replaces
// the whole set (204). A rule whose type and value survive a PUT keeps its
// uuid and created_at, so a client can diff; a rule sent with the uuid of an
// existing rule updates that rule in place. A cluster with no rules accepts
// connections from anywhere, as on DigitalOcean, and the emulator records
// every cluster that was ever in that state (EverOpenDatabases).

type dbRule struct {
	UUID        string    `json:"uuid"`
	ClusterUUID string    `json:"cluster_uuid"`
	Type        string    `json:"type"`
	Value       string    `json:"value"`
	CreatedAt   time.Time `json:"created_at"`
}

// dbRuleRequest is a rule as clients send it. godo's update request also
// carries cluster_uuid and created_at, which are ignored.
type dbRuleRequest struct {
	UUID  string `json:"uuid"`
	Type  string `json:"type"`
	Value string `json:"value"`
}

var dbRuleTypes = []string{"ip_addr", "droplet", "k8s", "tag", "app"}

// dbMaxRules is the most rules a cluster's firewall holds (spec
// databases_update_firewall_rules: "The firewall is limited to 100 rules (or
// trusted sources)").
const dbMaxRules = 100

// dbIPv6Refusal is DigitalOcean's answer to an IPv6 trusted source (spec
// databases_update_firewall_rules: "You cannot add IPv6 addresses as trusted
// sources").
const dbIPv6Refusal = "You cannot add IPv6 addresses as trusted sources"

// validRuleValue checks a rule's value for its type; it returns a
// description of what is wrong, or "".
func (s *databaseStore) validRuleValue(typ, value string) string {
	switch typ {
	case "ip_addr":
		if strings.Contains(value, "/") {
			p, err := netip.ParsePrefix(value)
			if err != nil {
				return "is not an IP address or CIDR block"
			}
			if !p.Addr().Is4() {
				// Spec databases_update_firewall_rules: "You cannot add IPv6 addresses as trusted sources".
				return "is an IPv6 prefix. " + dbIPv6Refusal + ": use an IPv4 address or CIDR block, or reach the cluster over its VPC's private network"
			}
			if p.Masked() != p {
				return "has host bits set; use " + p.Masked().String()
			}
			return ""
		}
		a, err := netip.ParseAddr(value)
		if err != nil {
			return "is not an IP address or CIDR block"
		}
		if !a.Is4() {
			// Spec databases_update_firewall_rules: "You cannot add IPv6 addresses as trusted sources".
			return "is an IPv6 address. " + dbIPv6Refusal + ": use an IPv4 address or CIDR block, or reach the cluster over its VPC's private network"
		}
	case "droplet":
		if n, err := strconv.ParseInt(value, 10, 64); err != nil || n <= 0 {
			return "is not a Droplet id (a positive integer)"
		}
	case "k8s":
		if !s.e.k8s.clusterExists(value) {
			return "is not the id of a Kubernetes cluster of this account"
		}
	case "tag":
		if len(value) > 255 || !dbTagPattern.MatchString(value) {
			return "is not a tag name (letters, digits, colons, dashes and underscores)"
		}
	case "app":
		if !dbUUIDPattern.MatchString(value) {
			return "is not an App Platform app id (a UUID)"
		}
	}
	return ""
}

// resolveRules validates a requested rule set and returns the new rules for
// cluster clusterID, reusing the identity of existing rules where the
// request keeps them. It answers 422 itself and returns false on bad input.
func (s *databaseStore) resolveRules(c *call, field, clusterID string, reqs []dbRuleRequest, existing []*dbRule) ([]*dbRule, bool) {
	// Spec databases_update_firewall_rules: "The firewall is limited to 100 rules (or trusted sources)".
	if len(reqs) > dbMaxRules {
		c.unprocessable("%s lists %d rules, but a database firewall is limited to %d rules (trusted sources): merge addresses into CIDR blocks, or allow a tag, a Kubernetes cluster or the VPC instead of single addresses", field, len(reqs), dbMaxRules)
		return nil, false
	}
	byUUID := map[string]*dbRule{}
	byKey := map[string]*dbRule{}
	for _, r := range existing {
		byUUID[r.UUID] = r
		byKey[r.Type+"\x00"+r.Value] = r
	}
	seen := map[string]int{}
	usedUUID := map[string]int{}
	out := make([]*dbRule, 0, len(reqs))
	for i, rq := range reqs {
		if rq.Type == "" {
			c.unprocessable("%s[%d].type is required; use one of %s", field, i, strings.Join(dbRuleTypes, ", "))
			return nil, false
		}
		known := false
		for _, t := range dbRuleTypes {
			known = known || t == rq.Type
		}
		if !known {
			c.unprocessable("%s[%d].type %q is not a rule type; use one of %s", field, i, rq.Type, strings.Join(dbRuleTypes, ", "))
			return nil, false
		}
		if rq.Value == "" {
			c.unprocessable("%s[%d].value is required for a %s rule", field, i, rq.Type)
			return nil, false
		}
		if problem := s.validRuleValue(rq.Type, rq.Value); problem != "" {
			c.unprocessable("%s[%d].value %q %s", field, i, rq.Value, problem)
			return nil, false
		}
		key := rq.Type + "\x00" + rq.Value
		if j, dup := seen[key]; dup {
			c.unprocessable("%s[%d] duplicates %s[%d] (%s %s): list each source once", field, i, field, j, rq.Type, rq.Value)
			return nil, false
		}
		seen[key] = i

		var rule *dbRule
		if rq.UUID != "" {
			prev, ok := byUUID[rq.UUID]
			if !ok {
				c.unprocessable("%s[%d].uuid %q is not a rule of this cluster; omit uuid to add a rule", field, i, rq.UUID)
				return nil, false
			}
			if j, twice := usedUUID[rq.UUID]; twice {
				c.unprocessable("%s[%d].uuid %q is also used by %s[%d]", field, i, rq.UUID, field, j)
				return nil, false
			}
			rule = &dbRule{UUID: prev.UUID, CreatedAt: prev.CreatedAt}
		} else if prev, ok := byKey[key]; ok {
			if _, taken := usedUUID[prev.UUID]; !taken {
				rule = &dbRule{UUID: prev.UUID, CreatedAt: prev.CreatedAt}
			}
		}
		if rule == nil {
			rule = &dbRule{UUID: newID(), CreatedAt: c.now.UTC().Truncate(time.Second)}
		}
		usedUUID[rule.UUID] = i
		rule.ClusterUUID, rule.Type, rule.Value = clusterID, rq.Type, rq.Value
		out = append(out, rule)
	}
	return out, true
}

func (s *databaseStore) getFirewall(c *call) {
	cl, ok := s.cluster(c)
	if !ok {
		return
	}
	rules := make([]dbRule, 0, len(cl.rules))
	for _, r := range cl.rules {
		rules = append(rules, *r)
	}
	c.respond(http.StatusOK, map[string]any{"rules": rules})
}

func (s *databaseStore) putFirewall(c *call) {
	cl, ok := s.cluster(c)
	if !ok {
		return
	}
	var req struct {
		Rules json.RawMessage `json:"rules"`
	}
	if !c.decode(&req) {
		return
	}
	// A missing key is refused rather than read as "no rules", which would
	// open the cluster to everyone; null (godo's nil slice) is an empty set.
	if len(req.Rules) == 0 {
		c.unprocessable("rules is required: send the complete rule set (an empty list removes every rule)")
		return
	}
	var reqs []dbRuleRequest
	if err := json.Unmarshal(req.Rules, &reqs); err != nil {
		c.fail(http.StatusBadRequest, "bad_request", "rules must be a list of {type, value} objects: "+err.Error())
		return
	}
	rules, ok := s.resolveRules(c, "rules", cl.ID, reqs, cl.rules)
	if !ok {
		return
	}
	cl.rules = rules
	s.recordIfOpen(cl)
	c.noContent()
}

// recordIfOpen notes cl as open to the internet when it has no firewall
// rules: DigitalOcean then accepts connections from any source (DigitalOcean
// docs, database_firewall module: "By default, database clusters are
// accessible from any source"). Callers hold e.mu.
func (s *databaseStore) recordIfOpen(cl *dbCluster) {
	if len(cl.rules) == 0 {
		s.e.everOpen[cl.Name] = true
	}
}

// EverOpenDatabases names, sorted, every database cluster that at some
// moment had an empty firewall rule set, and so accepted connections from
// anywhere (at its create, or after a PUT of an empty set). Reset forgets
// them.
func (e *Emulator) EverOpenDatabases() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]string, 0, len(e.everOpen))
	for name := range e.everOpen {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}
