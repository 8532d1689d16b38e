package provider

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/attach-labs/terraform-provider-attach/internal/stack"
)

// databases.<k>.user_settings: per-user Kafka ACLs, OpenSearch ACLs and
// MySQL auth plugin (engine in internal/stack/database_user_settings.go).

type userSettingsModel struct {
	MySQLAuthPlugin types.String         `tfsdk:"mysql_auth_plugin"`
	KafkaACLs       []kafkaACLModel      `tfsdk:"kafka_acls"`
	OpenSearchACLs  []openSearchACLModel `tfsdk:"opensearch_acls"`
}

type kafkaACLModel struct {
	Topic      types.String `tfsdk:"topic"`
	Permission types.String `tfsdk:"permission"`
}

type openSearchACLModel struct {
	Index      types.String `tfsdk:"index"`
	Permission types.String `tfsdk:"permission"`
}

func userSettingsAttribute() schema.MapNestedAttribute {
	return schema.MapNestedAttribute{
		Optional: true,
		MarkdownDescription: "Settings of the users in `users`, by user name: Kafka ACLs, OpenSearch ACLs, the MySQL auth " +
			"plugin. Given when the user is created and changed in place; a change made outside Terraform shows as drift " +
			"and the next apply repairs it. A user without an entry is left as DigitalOcean has it; removing an entry " +
			"clears the user's ACLs (all of them, those added outside Terraform too: DigitalOcean sets a user's ACLs as one list) " +
			"and leaves its auth plugin as it is. Every key must be a name in `users`.",
		NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
			"mysql_auth_plugin": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "MySQL only: `caching_sha2_password` (DigitalOcean's default) or `mysql_native_password` " +
					"(for clients that cannot use the newer plugin). Changing it resets the user's password (DigitalOcean's " +
					"`reset_auth`); the new one reaches `connection_env`. Unset: left as DigitalOcean has it.",
				Validators: []validator.String{stringvalidator.OneOf(stack.MySQLAuthPlugins...)},
			},
			"kafka_acls": schema.SetNestedAttribute{
				Optional: true,
				MarkdownDescription: "Kafka only: the topics the user may use. Exactly these ACLs are kept; unset or empty, " +
					"the user has none.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"topic": schema.StringAttribute{
						Required: true, MarkdownDescription: "A topic name, or a pattern such as `orders.*`.",
						Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
					},
					"permission": schema.StringAttribute{
						Required: true, MarkdownDescription: "`admin`, `consume`, `produce` or `produceconsume`.",
						Validators: []validator.String{stringvalidator.OneOf(stack.KafkaPermissions...)},
					},
				}},
			},
			"opensearch_acls": schema.SetNestedAttribute{
				Optional: true,
				MarkdownDescription: "OpenSearch only: the indexes the user may use. A new OpenSearch user can do nothing " +
					"without ACLs (plan time warns). Exactly these ACLs are kept.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"index": schema.StringAttribute{
						Required: true, MarkdownDescription: "An index name, or a pattern such as `logs-*`.",
						Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
					},
					"permission": schema.StringAttribute{
						Required: true, MarkdownDescription: "`deny`, `admin`, `read`, `write` or `readwrite`.",
						Validators: []validator.String{stringvalidator.OneOf(stack.OpenSearchPermissions...)},
					},
				}},
			},
		}},
	}
}

// userSettingsSpec is the engine's form of the configured settings.
func userSettingsSpec(m map[string]*userSettingsModel) map[string]stack.UserSettings {
	if len(m) == 0 {
		return nil
	}
	out := map[string]stack.UserSettings{}
	for name, u := range m {
		if u == nil {
			continue
		}
		s := stack.UserSettings{MySQLAuthPlugin: u.MySQLAuthPlugin.ValueString()}
		for _, a := range u.KafkaACLs {
			s.KafkaACLs = append(s.KafkaACLs, stack.KafkaACL{Topic: a.Topic.ValueString(), Permission: a.Permission.ValueString()})
		}
		for _, a := range u.OpenSearchACLs {
			s.OpenSearchACLs = append(s.OpenSearchACLs, stack.OpenSearchACL{Index: a.Index.ValueString(), Permission: a.Permission.ValueString()})
		}
		out[name] = s
	}
	return out
}

// observeUserSettings replaces the configured settings with what
// DigitalOcean reports, keeping the configuration's form (null or empty)
// where both say "none"; an entry whose user is gone is dropped.
func observeUserSettings(prior map[string]*userSettingsModel, observed map[string]stack.UserSettings) map[string]*userSettingsModel {
	if prior == nil {
		return nil
	}
	out := map[string]*userSettingsModel{}
	for name, p := range prior {
		got, ok := observed[name]
		if !ok || p == nil {
			continue
		}
		u := *p
		if known(p.MySQLAuthPlugin) && got.MySQLAuthPlugin != "" {
			u.MySQLAuthPlugin = types.StringValue(got.MySQLAuthPlugin)
		}
		if len(got.KafkaACLs) > 0 || len(p.KafkaACLs) > 0 {
			u.KafkaACLs = []kafkaACLModel{}
			for _, a := range got.KafkaACLs {
				u.KafkaACLs = append(u.KafkaACLs, kafkaACLModel{Topic: types.StringValue(a.Topic), Permission: types.StringValue(a.Permission)})
			}
		}
		if len(got.OpenSearchACLs) > 0 || len(p.OpenSearchACLs) > 0 {
			u.OpenSearchACLs = []openSearchACLModel{}
			for _, a := range got.OpenSearchACLs {
				u.OpenSearchACLs = append(u.OpenSearchACLs, openSearchACLModel{Index: types.StringValue(a.Index), Permission: types.StringValue(a.Permission)})
			}
		}
		out[name] = &u
	}
	return out
}

// userSettingsFeature refuses settings that do not fit: an entry for a user
// not in users, ACLs or an auth plugin on an engine without them; and warns
// of OpenSearch users left without ACLs.
func (p *planner) userSettingsFeature(at path.Path, engine string, d *databaseModel) {
	for _, name := range sortedKeys(d.UserSettings) {
		u := d.UserSettings[name]
		uat := at.AtName("user_settings").AtMapKey(name)
		if !anyUnknown(d.Users) && !containsValue(d.Users, name) {
			p.attrError(uat, "User settings for a user not in users",
				fmt.Sprintf("user_settings has an entry for %q, which is not in users (%s). Add %q to users, or remove its user_settings entry.", name, strings.Join(valueStrings(d.Users), ", "), name))
		}
		if u == nil || engine == "" {
			continue
		}
		if known(u.MySQLAuthPlugin) && engine != "mysql" {
			p.attrError(uat.AtName("mysql_auth_plugin"), "Auth plugin needs MySQL",
				fmt.Sprintf("mysql_auth_plugin applies to mysql users only; this database is %s. Remove mysql_auth_plugin from user %q.", engine, name))
		}
		if len(u.KafkaACLs) > 0 && engine != "kafka" {
			p.attrError(uat.AtName("kafka_acls"), "Kafka ACLs need Kafka",
				fmt.Sprintf("kafka_acls applies to kafka users only; this database is %s. Remove kafka_acls from user %q.", engine, name))
		}
		if len(u.OpenSearchACLs) > 0 && engine != "opensearch" {
			p.attrError(uat.AtName("opensearch_acls"), "OpenSearch ACLs need OpenSearch",
				fmt.Sprintf("opensearch_acls applies to opensearch users only; this database is %s. Remove opensearch_acls from user %q.", engine, name))
		}
	}
	if engine != "opensearch" || anyUnknown(d.Users) {
		return
	}
	var bare []string
	for _, v := range d.Users {
		if u := d.UserSettings[v.ValueString()]; u == nil || len(u.OpenSearchACLs) == 0 {
			bare = append(bare, v.ValueString())
		}
	}
	if len(bare) > 0 {
		slices.Sort(bare)
		p.diags.AddAttributeWarning(at.AtName("user_settings"), "OpenSearch users without ACLs can do nothing",
			fmt.Sprintf("OpenSearch user(s) %s have no opensearch_acls: a new OpenSearch user can read or write no index until it is granted some. "+
				"Add user_settings = { %q = { opensearch_acls = [{ index = \"<pattern>\", permission = \"read\" }] } }.", strings.Join(bare, ", "), bare[0]))
	}
}

// authPluginResets marks what a MySQL auth plugin change alters as unknown:
// DigitalOcean changes the plugin with a password reset, so the user's
// password in connection_env and its pools' URIs change.
func (p *planner) authPluginResets() {
	for key, d := range p.plan.Databases {
		prior := p.state.Databases[key]
		if prior == nil {
			continue
		}
		for name, u := range d.UserSettings {
			if u == nil || !known(u.MySQLAuthPlugin) {
				continue
			}
			// An entry added for an existing user may change its plugin too.
			pu := prior.UserSettings[name]
			if pu != nil && u.MySQLAuthPlugin.Equal(pu.MySQLAuthPlugin) || pu == nil && !containsValue(prior.Users, name) {
				continue
			}
			p.plan.ConnectionEnv = types.MapUnknown(types.StringType)
			for _, pool := range d.Pools {
				if !known(pool.User) || pool.User.ValueString() == name {
					pool.PrivateURI = types.StringUnknown()
				}
			}
		}
	}
}
