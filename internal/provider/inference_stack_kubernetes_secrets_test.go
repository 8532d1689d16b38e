package provider

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/attach-labs/terraform-provider-attach/internal/stack"
)

func ksEntry(db, user, pool, ns, name string) *kubeSecretModel {
	s := func(v string) types.String {
		if v == "" {
			return types.StringNull()
		}
		return types.StringValue(v)
	}
	return &kubeSecretModel{Database: s(db), User: s(user), Pool: s(pool), Namespace: s(ns), Name: s(name),
		CreateNamespace: types.BoolValue(false), RetainOnDestroy: types.BoolValue(false),
		UID: types.StringUnknown(), Keys: types.ListUnknown(types.StringType), Fingerprint: types.StringUnknown()}
}

func ksDatabases() map[string]*databaseModel {
	return map[string]*databaseModel{
		"vectors": {Engine: types.StringValue("pg"), Users: []types.String{types.StringValue("app")},
			Pools: map[string]*poolModel{"app": {DB: types.StringValue("app"), User: types.StringValue("app")}},
			ID:    types.StringValue("db-1")},
		"cache":  {Engine: types.StringValue("valkey"), ID: types.StringValue("db-2")},
		"events": {Engine: types.StringValue("kafka"), ID: types.StringValue("db-3")},
	}
}

// Every wrong entry is refused at plan, on its attribute, naming the fix.
func TestPlanKubernetesSecretsRefusals(t *testing.T) {
	cases := map[string]struct {
		entries map[string]*kubeSecretModel
		summary string
		path    string
	}{
		"unknown database": {map[string]*kubeSecretModel{"a": ksEntry("vector", "", "", "apps", "s")}, "Unknown database", `kubernetes_secrets["a"].database`},
		"kafka":            {map[string]*kubeSecretModel{"a": ksEntry("events", "", "", "apps", "s")}, "Engine without connection details", `kubernetes_secrets["a"].database`},
		"unknown user":     {map[string]*kubeSecretModel{"a": ksEntry("vectors", "ap", "", "apps", "s")}, "Unknown database user", `kubernetes_secrets["a"].user`},
		"valkey user":      {map[string]*kubeSecretModel{"a": ksEntry("cache", "app", "", "apps", "s")}, "Valkey has a single user", `kubernetes_secrets["a"].user`},
		"unknown pool":     {map[string]*kubeSecretModel{"a": ksEntry("vectors", "", "batch", "apps", "s")}, "Unknown connection pool", `kubernetes_secrets["a"].pool`},
		"bad namespace":    {map[string]*kubeSecretModel{"a": ksEntry("vectors", "", "", "Apps_1", "s")}, "Invalid Kubernetes namespace", `kubernetes_secrets["a"].namespace`},
		"bad name":         {map[string]*kubeSecretModel{"a": ksEntry("vectors", "", "", "apps", "conn/1")}, "Invalid Kubernetes Secret name", `kubernetes_secrets["a"].name`},
		"duplicate": {map[string]*kubeSecretModel{"a": ksEntry("vectors", "", "", "apps", "s"), "b": ksEntry("cache", "", "", "apps", "s")},
			"Two Secrets with the same namespace and name", `kubernetes_secrets["b"].name`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var diags diag.Diagnostics
			plan := &stackModel{Databases: ksDatabases(), KubernetesSecrets: tc.entries, ClusterID: types.StringUnknown()}
			p := &planner{ctx: context.Background(), plan: plan, diags: &diags}
			p.kubernetesSecrets()
			if len(diags) != 1 || diags[0].Summary() != tc.summary || !strings.Contains(diags[0].Detail(), "Attribute: "+tc.path) {
				t.Fatalf("got %v, want one %q on %s", diags, tc.summary, tc.path)
			}
		})
	}
	// A valid set plans without a word.
	var diags diag.Diagnostics
	plan := &stackModel{Databases: ksDatabases(), ClusterID: types.StringUnknown(), KubernetesSecrets: map[string]*kubeSecretModel{
		"app": ksEntry("vectors", "app", "app", "apps", "vectors-conn"), "admin": ksEntry("vectors", "doadmin", "", "apps", "vectors-admin"),
		"cache": ksEntry("cache", "", "", "default", "cache"),
	}}
	(&planner{ctx: context.Background(), plan: plan, diags: &diags}).kubernetesSecrets()
	if len(diags) > 0 {
		t.Fatalf("valid entries refused: %v", diags)
	}
}

// The plan keeps a Secret's values while it holds what it should, shows the
// fingerprint refresh computed when it drifted, and leaves them unknown
// when the apply writes new content (a rotation, a new cluster).
func TestPlanKubernetesSecretsShowChanges(t *testing.T) {
	inSync := &stack.KubernetesSecretStatus{Spec: stack.KubernetesSecretSpec{Database: "vectors", User: "app", Pool: "app", Namespace: "apps", Name: "vectors-conn"},
		ClusterID: "c1", UID: "u1", Keys: []string{"VECTORS_HOST"}, Fingerprint: "sha256:aa", Want: "sha256:aa"}
	drifted := *inSync
	drifted.Fingerprint, drifted.UID = "", ""
	for _, tc := range []struct {
		name      string
		status    *stack.KubernetesSecretStatus
		rotate    int64
		clusterID types.String
		want      string // "" for unknown
		change    func(d *databaseModel)
	}{
		{"in sync", inSync, 0, types.StringValue("c1"), "sha256:aa", nil},
		{"deleted in the cluster", &drifted, 0, types.StringValue("c1"), "sha256:aa", nil},
		{"rotation", inSync, 1, types.StringValue("c1"), "", nil},
		{"new cluster", inSync, 0, types.StringUnknown(), "", nil},
		// reset_auth gives the user a new password.
		{"auth plugin change", inSync, 0, types.StringValue("c1"), "", func(d *databaseModel) {
			d.UserSettings = map[string]*userSettingsModel{"app": {MySQLAuthPlugin: types.StringValue("mysql_native_password")}}
		}},
		// A user with a db of its name connects to it.
		{"dbs change", inSync, 0, types.StringValue("c1"), "", func(d *databaseModel) {
			d.DBs = append(d.DBs, types.StringValue("app"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dbs := ksDatabases()
			if tc.rotate > 0 {
				dbs["vectors"].RotatePasswords = map[string]types.Int64{"app": types.Int64Value(tc.rotate)}
			}
			if tc.change != nil {
				tc.change(dbs["vectors"])
			}
			plan := &stackModel{Databases: dbs, ClusterID: tc.clusterID, KubernetesSecrets: map[string]*kubeSecretModel{"app": ksEntry("vectors", "app", "app", "apps", "vectors-conn")}}
			state := &stackModel{Databases: ksDatabases(), ClusterID: types.StringValue("c1")}
			status := &stack.Status{Cluster: &stack.ClusterStatus{ID: "c1"}, Databases: map[string]*stack.DatabaseStatus{"vectors": {ID: "db-1"}},
				KubernetesSecrets: map[string]*stack.KubernetesSecretStatus{"app": tc.status}}
			var diags diag.Diagnostics
			(&planner{ctx: context.Background(), plan: plan, state: state, status: status, diags: &diags}).kubernetesSecrets()
			if diags.HasError() {
				t.Fatal(diags)
			}
			got := plan.KubernetesSecrets["app"]
			if tc.want == "" {
				if !got.Fingerprint.IsUnknown() {
					t.Fatalf("fingerprint %s, want unknown", got.Fingerprint)
				}
				return
			}
			if got.Fingerprint.ValueString() != tc.want {
				t.Fatalf("fingerprint %s, want %s", got.Fingerprint, tc.want)
			}
			if tc.status.UID == "" && !got.UID.IsUnknown() || tc.status.UID != "" && got.UID.ValueString() != tc.status.UID {
				t.Fatalf("uid %s for a Secret with uid %q", got.UID, tc.status.UID)
			}
			if tc.status.UID != "" && !slices.Equal(valueStringsOfList(got.Keys), tc.status.Keys) {
				t.Fatalf("keys %s", got.Keys)
			}
		})
	}
}

func valueStringsOfList(l types.List) []string {
	var out []string
	for _, v := range l.Elements() {
		out = append(out, v.(types.String).ValueString())
	}
	return out
}
