package provider

import (
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/attach-labs/terraform-provider-attach/internal/stack"
)

// secrets plans store_secrets and rotate_passwords: rotation versions are
// checked (a managed user or the admin, never going down, not on valkey);
// what a rotation or turning store_secrets back on will fill in is marked
// unknown; with store_secrets = false every credential is planned null, so
// the plan after an apply is empty.
func (p *planner) secrets() {
	for _, key := range sortedKeys(p.plan.Databases) {
		d := p.plan.Databases[key]
		at := path.Root("databases").AtMapKey(key).AtName("rotate_passwords")
		var ds *stack.DatabaseStatus
		if p.status != nil {
			ds = p.status.Databases[key]
		}
		rotates := false
		for _, name := range sortedKeys(d.RotatePasswords) {
			v := d.RotatePasswords[name]
			if !known(v) {
				continue
			}
			if known(d.Engine) && d.Engine.ValueString() == "valkey" {
				p.attrError(at.AtMapKey(name), "Password rotation not supported on Valkey",
					fmt.Sprintf("Database %s is valkey, whose only user's password DigitalOcean cannot reset (\"User management is not supported for Caching or Valkey clusters\"). Remove rotate_passwords.", key))
				continue
			}
			if name != stack.AdminUser && !containsValue(d.Users, name) && !anyUnknown(d.Users) {
				p.attrError(at.AtMapKey(name), "Rotating the password of an unmanaged user",
					fmt.Sprintf("rotate_passwords of database %s names %q, which is neither in users nor %s (the admin). Add it to users, or use one of: %s.",
						key, name, stack.AdminUser, userChoices(d.Users)))
				continue
			}
			if ds == nil {
				continue
			}
			have, want := ds.Rotated[name], int(v.ValueInt64())
			if want < have {
				p.attrError(at.AtMapKey(name), "Password version lowered",
					fmt.Sprintf("The password of %s in database %s is at version %d; rotate_passwords asks for %d. Versions only go up (raise it to %d to rotate again), or remove the entry to forget it.",
						name, key, have, want, have+1))
				continue
			}
			if want == have {
				continue
			}
			_, managed := ds.Users[name]
			if name == stack.AdminUser && !managed {
				rotates = true
				d.Password, d.PrivateURI = types.StringUnknown(), types.StringUnknown()
				for _, pool := range d.Pools {
					if !known(pool.User) || pool.User.ValueString() == stack.AdminUser {
						pool.PrivateURI = types.StringUnknown()
					}
				}
			} else if managed {
				rotates = true
				for _, pool := range d.Pools {
					if !known(pool.User) || pool.User.ValueString() == name {
						pool.PrivateURI = types.StringUnknown()
					}
				}
			}
		}
		if rotates {
			p.plan.ConnectionEnv = types.MapUnknown(types.StringType)
		}
	}
	if p.state != nil && p.state.secretsOmitted() && !p.plan.secretsOmitted() {
		// Turned back on: the apply reads every credential again.
		p.plan.Kubeconfig, p.plan.KubeconfigExpiresAt = types.StringUnknown(), types.StringUnknown()
		p.plan.ConnectionEnv = types.MapUnknown(types.StringType)
		for _, d := range p.plan.Databases {
			d.Password, d.PrivateURI = types.StringUnknown(), types.StringUnknown()
			for _, pool := range d.Pools {
				pool.PrivateURI = types.StringUnknown()
			}
		}
	}
	if p.plan.secretsOmitted() {
		p.plan.dropSecrets()
	}
}

func anyUnknown(list []types.String) bool {
	for _, v := range list {
		if v.IsUnknown() {
			return true
		}
	}
	return false
}

func userChoices(users []types.String) string {
	out := stack.AdminUser
	for _, u := range users {
		out += ", " + u.ValueString()
	}
	return out
}
