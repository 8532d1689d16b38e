package provider

import (
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// An OpenSearch user without opensearch_acls can do nothing: plan time warns,
// naming it and the fix; a user with ACLs draws no warning.
func TestPlanWarnsOfOpenSearchUsersWithoutACLs(t *testing.T) {
	at := path.Root("databases").AtMapKey("search")
	d := &databaseModel{
		Users: []types.String{types.StringValue("reader"), types.StringValue("bare")},
		UserSettings: map[string]*userSettingsModel{"reader": {MySQLAuthPlugin: types.StringNull(),
			OpenSearchACLs: []openSearchACLModel{{Index: types.StringValue("logs-*"), Permission: types.StringValue("read")}}}},
	}
	var diags diag.Diagnostics
	p := &planner{diags: &diags}
	p.userSettingsFeature(at, "opensearch", d)
	if diags.HasError() || len(diags) != 1 || diags[0].Severity() != diag.SeverityWarning {
		t.Fatalf("want one warning, got %v", diags)
	}
	if got := diags[0].Summary() + " " + diags[0].Detail(); !strings.Contains(got, "can do nothing") || !strings.Contains(got, "bare") || strings.Contains(got, "reader have") || !strings.Contains(got, "opensearch_acls") {
		t.Fatalf("warning does not name the bare user and the fix: %s", got)
	}
	d.UserSettings["bare"] = &userSettingsModel{MySQLAuthPlugin: types.StringNull(),
		OpenSearchACLs: []openSearchACLModel{{Index: types.StringValue("*"), Permission: types.StringValue("deny")}}}
	diags = nil
	p.userSettingsFeature(at, "opensearch", d)
	if len(diags) != 0 {
		t.Fatalf("users with ACLs: %v", diags)
	}
	// Other engines: no warning.
	p.userSettingsFeature(at, "pg", &databaseModel{Users: []types.String{types.StringValue("app")}})
	if len(diags) != 0 {
		t.Fatalf("pg users: %v", diags)
	}
}

// A MySQL auth plugin change resets the password: connection_env is
// recomputed; the same plugin leaves it known.
func TestPlanAuthPluginChangeRecomputesConnectionEnv(t *testing.T) {
	db := func(plugin string) *databaseModel {
		return &databaseModel{Users: []types.String{types.StringValue("app")},
			UserSettings: map[string]*userSettingsModel{"app": {MySQLAuthPlugin: types.StringValue(plugin)}}}
	}
	env := types.MapValueMust(types.StringType, map[string]attr.Value{"MEMORY_APP_PASSWORD": types.StringValue("x")})
	for _, tc := range []struct {
		from, to string
		unknown  bool
	}{{"caching_sha2_password", "mysql_native_password", true}, {"caching_sha2_password", "caching_sha2_password", false}} {
		state := &stackModel{Databases: map[string]*databaseModel{"memory": db(tc.from)}}
		plan := &stackModel{ConnectionEnv: env, Databases: map[string]*databaseModel{"memory": db(tc.to)}}
		p := &planner{plan: plan, state: state}
		p.authPluginResets()
		if plan.ConnectionEnv.IsUnknown() != tc.unknown {
			t.Fatalf("%s -> %s: connection_env unknown = %v, want %v", tc.from, tc.to, plan.ConnectionEnv.IsUnknown(), tc.unknown)
		}
	}
}
