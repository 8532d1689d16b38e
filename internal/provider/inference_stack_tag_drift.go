package provider

import (
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/attach-labs/terraform-provider-attach/internal/stack"
)

// observeTagDrift shows, on a read, tags changed outside Terraform on the
// stack's owned databases and their read replicas: the state's tags become
// the user tags the first such part carries, so the next plan updates the
// stack and its apply retags the part in place (Tags API, resource_type
// "database", which takes a replica's uuid too).
func (m *stackModel) observeTagDrift(st *stack.Status) {
	want := m.toSpec(false).AllTags()
	drifted := func(have []string) bool {
		if stackSame(have, want) {
			return false
		}
		// The identity tags are the stack's, never the user's.
		user := stack.WithoutIdentityTags(have)
		m.Tags = stringValues(user)
		if m.Tags == nil {
			m.Tags = []types.String{}
		}
		return true
	}
	for _, key := range sortedKeys(st.Databases) {
		d := st.Databases[key]
		if d.Owned && d.Tags != nil && drifted(d.Tags) {
			return
		}
		for _, rk := range sortedKeys(d.Replicas) {
			if rs := d.Replicas[rk]; d.Owned && rs.Tags != nil && drifted(rs.Tags) {
				return
			}
		}
	}
}
