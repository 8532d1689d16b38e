package provider

import (
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/attach-labs/terraform-provider-attach/internal/stack"
)

// kubernetes_secrets: connection Secrets the stack writes into its own
// cluster (the engine's side is internal/stack/kubernetes_secrets.go). The
// schema holds no value of a Secret: only its uid, its keys and a
// fingerprint of its content, which is what lets a plan show that a Secret
// will change (drift, a rotation) without showing anything of it.

type kubeSecretModel struct {
	Database        types.String `tfsdk:"database"`
	User            types.String `tfsdk:"user"`
	Pool            types.String `tfsdk:"pool"`
	Namespace       types.String `tfsdk:"namespace"`
	Name            types.String `tfsdk:"name"`
	CreateNamespace types.Bool   `tfsdk:"create_namespace"`
	RetainOnDestroy types.Bool   `tfsdk:"retain_on_destroy"`

	UID         types.String `tfsdk:"uid"`
	Keys        types.List   `tfsdk:"keys"`
	Fingerprint types.String `tfsdk:"fingerprint"`
}

func kubernetesSecretsSchema() schema.MapNestedAttribute {
	return schema.MapNestedAttribute{
		Optional: true,
		MarkdownDescription: "Kubernetes Secrets holding a database's connection details, written by the provider into the " +
			"stack's own cluster, by a key of your choice. Each Secret holds, named like `connection_env`, " +
			"`<KEY>_DATABASE_URL`, `<KEY>_HOST`, `<KEY>_PORT`, `<KEY>_USER`, `<KEY>_PASSWORD`, `<KEY>_DATABASE`, " +
			"`<KEY>_<POOL>_POOL_URL` when `pool` is set, and `ca.crt`, the database's CA certificate (connect with " +
			"`sslmode=verify-full` and `sslrootcert` pointing at it). The provider reads the credentials from DigitalOcean " +
			"and writes them through the Kubernetes API directly: with `store_secrets = false` none of them is in state or " +
			"plan. The Secret is rewritten when a password rotates, its pool changes or the database is replaced, written " +
			"into the new cluster before an old one is deleted when the cluster is replaced, and repaired when it is " +
			"edited or deleted in the cluster (refresh compares its `fingerprint`). Its labels are " +
			"`app.kubernetes.io/managed-by=attach`, `attach.dev/stack=<name>`, `attach.dev/database=<database>` and " +
			"`attach.dev/secret=<key>`; a Secret of that name without them is never overwritten. " +
			"The provider talks to the Kubernetes API from where Terraform runs, with short-lived credentials (15 minutes, " +
			"never stored): with `cluster.control_plane_firewall` enabled, `allowed_addresses` must include the runner's address.",
		NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
			"database": schema.StringAttribute{Required: true, MarkdownDescription: "Key of the database in `databases`."},
			"user": schema.StringAttribute{Optional: true, MarkdownDescription: "A user in the database's `users` the Secret " +
				"connects as (when a db of the same name is in `dbs`, the URL and `<KEY>_DATABASE` name it). Unset: the admin user."},
			"pool":      schema.StringAttribute{Optional: true, MarkdownDescription: "A connection pool (key of the database's `pools`) whose URL is added as `<KEY>_<POOL>_POOL_URL`."},
			"namespace": schema.StringAttribute{Required: true, MarkdownDescription: "Namespace of the Secret (a DNS-1123 label)."},
			"name":      schema.StringAttribute{Required: true, MarkdownDescription: "Name of the Secret (a DNS-1123 subdomain)."},
			"create_namespace": schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(false),
				MarkdownDescription: "Create the namespace when it does not exist. The provider never deletes a namespace, not even one " +
					"it created: deleting a namespace deletes everything in it. Default `false`: a missing namespace fails the apply."},
			"retain_on_destroy": schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(false),
				MarkdownDescription: "Leave the Secret in the cluster when the entry is removed (on destroy it goes with the cluster)."},
			"uid":         computedString("The Secret's `metadata.uid`; empty when the Secret is not in the cluster."),
			"keys":        schema.ListAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "The Secret's data keys, sorted."},
			"fingerprint": computedString("SHA-256 digest of the Secret's content (keys and values), never a value: it changes in the plan when the Secret will be rewritten. Empty when the Secret is not in the cluster."),
		}},
	}
}

func (m *stackModel) kubernetesSecretsSpec() map[string]stack.KubernetesSecretSpec {
	if len(m.KubernetesSecrets) == 0 {
		return nil
	}
	out := map[string]stack.KubernetesSecretSpec{}
	for k, e := range m.KubernetesSecrets {
		out[k] = e.toSpec()
	}
	return out
}

func (e *kubeSecretModel) toSpec() stack.KubernetesSecretSpec {
	user := e.User.ValueString()
	if user == stack.AdminUser {
		user = ""
	}
	return stack.KubernetesSecretSpec{
		Database: e.Database.ValueString(), User: user, Pool: e.Pool.ValueString(),
		Namespace: e.Namespace.ValueString(), Name: e.Name.ValueString(),
		CreateNamespace: e.CreateNamespace.ValueBool(), RetainOnDestroy: e.RetainOnDestroy.ValueBool(),
	}
}

func stringList(in []string) types.List {
	vals := make([]attr.Value, len(in))
	for i, s := range in {
		vals[i] = types.StringValue(s)
	}
	return types.ListValueMust(types.StringType, vals)
}

// setKubernetesSecrets fills the entries' computed attributes.
func (m *stackModel) setKubernetesSecrets(st *stack.Status) {
	for key, e := range m.KubernetesSecrets {
		s := st.KubernetesSecrets[key]
		if s == nil {
			e.UID, e.Fingerprint, e.Keys = types.StringValue(""), types.StringValue(""), stringList(nil)
			continue
		}
		e.UID, e.Fingerprint, e.Keys = types.StringValue(s.UID), types.StringValue(s.Fingerprint), stringList(s.Keys)
	}
}

// kubernetesSecrets checks the entries and plans their computed values:
// kept while the Secret holds what it should, the fingerprint refresh
// computed when the Secret drifted, unknown when the apply will write new
// content (a new entry, a rotation, a new pool or database, a new cluster).
func (p *planner) kubernetesSecrets() {
	if len(p.plan.KubernetesSecrets) == 0 {
		return
	}
	root := path.Root("kubernetes_secrets")
	seen := map[string]string{}
	clusterChanges := p.plan.ClusterID.IsUnknown()
	for _, key := range sortedKeys(p.plan.KubernetesSecrets) {
		e := p.plan.KubernetesSecrets[key]
		at := root.AtMapKey(key)
		ok := p.checkKubernetesSecret(key, at, e)
		if known(e.Namespace) && known(e.Name) {
			id := e.Namespace.ValueString() + "/" + e.Name.ValueString()
			if other, dup := seen[id]; dup {
				p.attrError(at.AtName("name"), "Two Secrets with the same namespace and name",
					fmt.Sprintf("kubernetes_secrets %s and %s both write Secret %s; give each entry its own name or namespace.", other, key, id))
				ok = false
			}
			seen[id] = key
		}
		e.UID, e.Keys, e.Fingerprint = types.StringUnknown(), types.ListUnknown(types.StringType), types.StringUnknown()
		if !ok || p.status == nil || clusterChanges {
			continue
		}
		ks := p.status.KubernetesSecrets[key]
		if ks == nil || p.status.Cluster == nil || ks.ClusterID != p.status.Cluster.ID || !known(e.Database) || !known(e.User) && !e.User.IsNull() || !known(e.Pool) && !e.Pool.IsNull() {
			continue
		}
		spec := e.toSpec()
		if spec != ks.Spec || p.secretContentChanges(spec) {
			continue
		}
		if ks.UID != "" {
			e.UID, e.Keys = types.StringValue(ks.UID), stringList(ks.Keys)
		}
		switch {
		case ks.Want != "":
			e.Fingerprint = types.StringValue(ks.Want)
		case ks.InSync():
			e.Fingerprint = types.StringValue(ks.Fingerprint)
		}
	}
	if c := p.plan.Cluster; c != nil && c.ControlPlaneFirewall != nil && c.ControlPlaneFirewall.Enabled.ValueBool() {
		p.diags.AddAttributeWarning(root, "Kubernetes Secrets need the runner to reach the Kubernetes API",
			"The cluster's control plane firewall is enabled, and the provider writes kubernetes_secrets through the Kubernetes API "+
				"from where Terraform runs. It cannot tell its own public address: make sure cluster.control_plane_firewall.allowed_addresses "+
				"includes it, or the apply fails reaching the API server (a refresh then keeps what it last saw, with a warning).")
	}
}

// secretContentChanges reports that the apply changes what a Secret holds
// before the Secret step runs: its database or pool is new or replaced, its
// user's password rotates or is reset by an auth plugin change, or the
// database's dbs change (a user with a db of its name connects to it).
func (p *planner) secretContentChanges(spec stack.KubernetesSecretSpec) bool {
	d := p.plan.Databases[spec.Database]
	prior := p.state.Databases[spec.Database]
	ds := p.status.Databases[spec.Database]
	if d == nil || prior == nil || ds == nil || d.ID.IsUnknown() {
		return true
	}
	user := spec.User
	if user == "" {
		user = stack.AdminUser
	}
	if v, ok := d.RotatePasswords[user]; ok && (!known(v) || int(v.ValueInt64()) > ds.Rotated[user]) {
		return true
	}
	if !sameValues(d.DBs, prior.DBs) || authPluginChanges(d, prior, user) {
		return true
	}
	if spec.Pool != "" {
		if pool := d.Pools[spec.Pool]; pool != nil && authPluginChanges(d, prior, pool.User.ValueString()) {
			return true
		}
	}
	if spec.Pool != "" {
		pool, pp := d.Pools[spec.Pool], prior.Pools[spec.Pool]
		if pool == nil || pp == nil || !pp.DB.Equal(pool.DB) || !pp.User.Equal(pool.User) {
			return true
		}
		if u := pool.User.ValueString(); u != "" {
			if v, ok := d.RotatePasswords[u]; ok && (!known(v) || int(v.ValueInt64()) > ds.Rotated[u]) {
				return true
			}
		}
	}
	return false
}

// checkKubernetesSecret validates one entry; false when it is wrong or
// cannot be judged yet.
func (p *planner) checkKubernetesSecret(key string, at path.Path, e *kubeSecretModel) bool {
	ok := true
	if known(e.Namespace) {
		if errs := validation.IsDNS1123Label(e.Namespace.ValueString()); len(errs) > 0 {
			p.attrError(at.AtName("namespace"), "Invalid Kubernetes namespace",
				fmt.Sprintf("kubernetes_secrets %s: namespace %q is not a valid namespace name: %s.", key, e.Namespace.ValueString(), strings.Join(errs, "; ")))
			ok = false
		}
	}
	if known(e.Name) {
		if errs := validation.IsDNS1123Subdomain(e.Name.ValueString()); len(errs) > 0 {
			p.attrError(at.AtName("name"), "Invalid Kubernetes Secret name",
				fmt.Sprintf("kubernetes_secrets %s: name %q is not a valid Secret name: %s.", key, e.Name.ValueString(), strings.Join(errs, "; ")))
			ok = false
		}
	}
	if !known(e.Database) {
		return false
	}
	dbKey := e.Database.ValueString()
	d := p.plan.Databases[dbKey]
	if d == nil {
		p.attrError(at.AtName("database"), "Unknown database",
			fmt.Sprintf("kubernetes_secrets %s names database %q, which is not a key of databases (%s).", key, dbKey, strings.Join(sortedKeys(p.plan.Databases), ", ")))
		return false
	}
	engine := ""
	if known(d.Engine) {
		engine = d.Engine.ValueString()
	}
	if engine == "kafka" {
		p.attrError(at.AtName("database"), "Engine without connection details",
			fmt.Sprintf("kubernetes_secrets %s names database %s, a Kafka cluster: DigitalOcean gives it no connection URL to deliver. Remove the entry.", key, dbKey))
		return false
	}
	if known(e.User) && e.User.ValueString() != stack.AdminUser {
		u := e.User.ValueString()
		if engine == "valkey" {
			p.attrError(at.AtName("user"), "Valkey has a single user",
				fmt.Sprintf("kubernetes_secrets %s: database %s is valkey, whose only user is its admin. Remove user.", key, dbKey))
			ok = false
		} else if !containsValue(d.Users, u) && !anyUnknown(d.Users) {
			p.attrError(at.AtName("user"), "Unknown database user",
				fmt.Sprintf("kubernetes_secrets %s names user %q, which is not in the users of database %s. Use one of: %s.", key, u, dbKey, userChoices(d.Users)))
			ok = false
		}
	}
	if known(e.Pool) {
		if _, has := d.Pools[e.Pool.ValueString()]; !has {
			p.attrError(at.AtName("pool"), "Unknown connection pool",
				fmt.Sprintf("kubernetes_secrets %s names pool %q, which is not in the pools of database %s (%s).", key, e.Pool.ValueString(), dbKey, strings.Join(sortedKeys(d.Pools), ", ")))
			ok = false
		}
	}
	return ok
}

// authPluginChanges reports a change of user's MySQL auth plugin, which
// DigitalOcean applies through reset_auth: the user gets a new password.
func authPluginChanges(d, prior *databaseModel, user string) bool {
	plugin := func(m *databaseModel) types.String {
		if u := m.UserSettings[user]; u != nil {
			return u.MySQLAuthPlugin
		}
		return types.StringNull()
	}
	now, was := plugin(d), plugin(prior)
	return !now.IsNull() && !now.Equal(was)
}
