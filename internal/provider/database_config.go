package provider

import (
	"fmt"
	"strings"

	"github.com/attach-labs/terraform-provider-attach/internal/engineconfig"
	"github.com/attach-labs/terraform-provider-attach/internal/stack"
	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// Engine settings of a database (DigitalOcean's /v2/databases/{id}/config):
// databases.<k>.config, validated at plan time against the settings table
// generated from DigitalOcean's OpenAPI spec (internal/engineconfig).

func databaseConfigAttribute() schema.MapAttribute {
	return schema.MapAttribute{
		ElementType: types.StringType,
		Optional:    true,
		MarkdownDescription: "Engine settings (DigitalOcean's `/v2/databases/{id}/config`), by setting name, each value " +
			"written as a string: `\"100\"`, `\"0.5\"`, `\"true\"`, `\"quorum\"`, or JSON for arrays and objects " +
			"(pg's `pgbouncer = jsonencode({min_pool_size = 5})`). The names, types, ranges and enums are those of " +
			"DigitalOcean's spec for the engine (`postgres_advanced_config`, `mysql_advanced_config`, `valkey_advanced_config`, " +
			"`kafka_advanced_config`, `opensearch_advanced_config`, `mongo_advanced_config`); a name the engine does not have, " +
			"a value of the wrong type or out of range is refused at plan time. Changed in place: only the settings listed " +
			"are sent, and only when DigitalOcean's value differs; a setting changed outside Terraform shows as drift. " +
			"DigitalOcean's other settings are left alone and never show as changes. **Removing a setting from `config` " +
			"leaves it as it is on DigitalOcean** (it is not reset to its default). Works for attached (`existing_id`) " +
			"databases too.",
		Validators: []validator.Map{mapvalidator.SizeAtLeast(1)},
	}
}

// configSpec is the settings a database's configuration sets (values not
// known yet are left out: the plan validated what is known).
func (d *databaseModel) configSpec() map[string]string {
	if d.Config.IsNull() || d.Config.IsUnknown() {
		return nil
	}
	out := map[string]string{}
	for name, v := range d.Config.Elements() {
		if s, ok := v.(types.String); ok && known(s) {
			out[name] = s.ValueString()
		}
	}
	return out
}

// observeConfig sets the configuration's settings to DigitalOcean's values
// where they differ (a value equal in meaning, "25.0" for 25, keeps the
// configuration's spelling), so a change made outside Terraform shows in
// the next plan. A setting the stack has not applied (an apply that
// stopped before it) is left out, so the next plan sets it.
func (d *databaseModel) observeConfig(ds *stack.DatabaseStatus) {
	if d.Config.IsNull() || d.Config.IsUnknown() {
		return
	}
	elems := map[string]attr.Value{}
	for name, v := range d.Config.Elements() {
		s, ok := v.(types.String)
		if !ok || !known(s) {
			elems[name] = v
			continue
		}
		got, seen := ds.Config[name]
		if !seen {
			continue
		}
		if set, found := engineconfig.Lookup(ds.Engine, name); found && set.Same(s.ValueString(), got) {
			elems[name] = v
			continue
		}
		elems[name] = types.StringValue(got)
	}
	d.Config = types.MapValueMust(types.StringType, elems)
}

// configSettings refuses settings the engine does not have and values
// DigitalOcean would refuse.
func (p *planner) configSettings(at path.Path, engine string, d *databaseModel) {
	if d.Config.IsNull() || d.Config.IsUnknown() || engine == "" {
		return
	}
	if len(engineconfig.Settings(engine)) == 0 {
		p.attrError(at.AtName("config"), "Engine settings not available",
			fmt.Sprintf("DigitalOcean's spec defines no settings for %s (engines with settings: %s). Remove config.", engine, strings.Join(engineconfig.Engines(), ", ")))
		return
	}
	for _, name := range sortedKeys(d.Config.Elements()) {
		v, ok := d.Config.Elements()[name].(types.String)
		if !ok {
			continue
		}
		setAt := at.AtName("config").AtMapKey(name)
		s, found := engineconfig.Lookup(engine, name)
		if !found {
			hint := "Check the name against DigitalOcean's settings for the engine."
			if close := engineconfig.Close(engine, name); len(close) > 0 {
				hint = "Close names: " + strings.Join(close, ", ") + "."
			}
			p.attrError(setAt, "Unknown engine setting",
				fmt.Sprintf("%q is not a %s setting (DigitalOcean's /v2/databases/{id}/config). %s", name, engine, hint))
			continue
		}
		if !known(v) {
			continue
		}
		if _, err := s.Parse(v.ValueString()); err != nil {
			p.attrError(setAt, "Engine setting value refused",
				fmt.Sprintf("config[%q] = %q: %v. %s %s takes %s.", name, v.ValueString(), err, engine, name, s.Expect()))
		}
	}
}
