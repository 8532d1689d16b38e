package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/attach-labs/terraform-provider-attach/internal/dataplanecheck"
	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
	"github.com/attach-labs/terraform-provider-attach/internal/stack"
)

// These tests run the stack against the emulator's data plane with a real
// kube-apiserver (and etcd) behind the cluster and a real PostgreSQL and
// PgBouncer behind the database: the Secret the stack writes is read with
// client-go through the stack's own kubeconfig, and its URLs connect.

// requireKubeDataPlane skips (outside CI) when PostgreSQL or the Kubernetes
// servers (make tools-kube) are not installed; CI must run the tests.
func requireKubeDataPlane(t *testing.T) {
	t.Helper()
	requireDataPlane(t)
	if err := emulator.KubeDataPlaneAvailable(); err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("kube-apiserver and etcd not built (%v); run make tools-kube (CI builds them)", err)
		}
		t.Fatalf("CI must run the Kubernetes data-plane tests: %v", err)
	}
}

const secretNS, secretName = "apps", "vectors-conn"

// kubeSecretsConfig is a PostgreSQL stack delivering the app user's
// connection details with its pool's URL into apps/vectors-conn.
func kubeSecretsConfig(srv *emulator.Server, store, ha, deliver bool, appVersion int) string {
	secrets := ""
	if deliver {
		secrets = fmt.Sprintf(`
  kubernetes_secrets = {
    app = { database = "vectors", user = "app", pool = "app", namespace = %q, name = %q, create_namespace = true }
  }`, secretNS, secretName)
	}
	return providerBlock(srv) + fmt.Sprintf(`
resource "attach_inference_stack" "test" {
  name          = "ksec"
  region        = "tor1"
  store_secrets = %t

  cluster = {
    version = "1.33"
    ha      = %t
    system_pool = {
      size       = "s-2vcpu-4gb"
      node_count = 2
    }
  }

  databases = {
    vectors = {
      engine              = "pg"
      version             = "17"
      size                = "db-s-2vcpu-4gb"
      dbs                 = ["app"]
      users               = ["app"]
      rotate_passwords    = { app = %d }
      deletion_protection = false
      pools = {
        app = { mode = "transaction", size = 5, db = "app", user = "app" }
      }
    }
  }
%s
}
`, store, ha, appVersion, secrets)
}

// kubeView is what a workload sees: the cluster through the stack's own
// kubeconfig (from state, or from GET .../kubeconfig when it is kept out of
// state), and what the checks saw last.
type kubeView struct {
	t   *testing.T
	srv *emulator.Server
	mu  sync.Mutex
	// data is the Secret's content at the last check.
	data map[string][]byte
	// clusterID is the cluster of the last check.
	clusterID string
	// seen collects every value the Secret held, for the out-of-state search.
	seen *secretSet
}

func (v *kubeView) client(ctx context.Context, req statecheck.CheckStateRequest) (kubernetes.Interface, string, error) {
	res := stackResource(req.State)
	if res == nil {
		return nil, "", fmt.Errorf("%s not in state", stackAddr)
	}
	clusterID, _ := res.AttributeValues["cluster_id"].(string)
	kc, _ := res.AttributeValues["kubeconfig"].(string)
	if kc == "" {
		api := secretsGodo(v.t, v.srv.URL, v.srv.Token)
		k, _, err := api.Kubernetes.GetKubeConfig(ctx, clusterID, nil)
		if err != nil {
			return nil, "", fmt.Errorf("kubeconfig of cluster %s: %w", clusterID, err)
		}
		kc = string(k.KubeconfigYAML)
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig([]byte(kc))
	if err != nil {
		return nil, "", fmt.Errorf("the stack's kubeconfig does not load: %w", err)
	}
	if !strings.HasPrefix(cfg.Host, "https://127.0.0.1:") {
		return nil, "", fmt.Errorf("kubeconfig server %s is not the data plane's API server", cfg.Host)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	return cs, clusterID, err
}

func (v *kubeView) secret(ctx context.Context, req statecheck.CheckStateRequest) (*corev1.Secret, string, error) {
	cs, clusterID, err := v.client(ctx, req)
	if err != nil {
		return nil, "", err
	}
	s, err := cs.CoreV1().Secrets(secretNS).Get(ctx, secretName, metav1.GetOptions{})
	return s, clusterID, err
}

// secretConnects checks the Secret as a workload reads it: labels, keys,
// the state's uid and fingerprint, and SELECT 1 through its URL and its
// pool URL with TLS verified against its ca.crt (and refused against a CA
// that signed nothing).
type secretConnects struct{ v *kubeView }

func (c secretConnects) CheckState(ctx context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	v := c.v
	s, clusterID, err := v.secret(ctx, req)
	if err != nil {
		resp.Error = fmt.Errorf("reading Secret %s/%s with client-go: %w", secretNS, secretName, err)
		return
	}
	if s.Labels[stack.LabelManagedBy] != "attach" || s.Labels[stack.LabelStack] != "ksec" || s.Labels[stack.LabelDatabase] != "vectors" {
		resp.Error = fmt.Errorf("Secret labels %v", s.Labels)
		return
	}
	var keys []string
	for k := range s.Data {
		keys = append(keys, k)
	}
	if want := stack.SecretKeyNames("vectors", "app"); len(keys) != len(want) {
		resp.Error = fmt.Errorf("Secret keys %v, want %v", keys, want)
		return
	}
	res := stackResource(req.State)
	entries, _ := res.AttributeValues["kubernetes_secrets"].(map[string]any)
	entry, _ := entries["app"].(map[string]any)
	if entry["uid"] != string(s.UID) || entry["fingerprint"] != stack.SecretFingerprint(s.Data) {
		resp.Error = fmt.Errorf("state says uid %v fingerprint %v; the cluster's Secret has %s %s", entry["uid"], entry["fingerprint"], s.UID, stack.SecretFingerprint(s.Data))
		return
	}
	ca := s.Data[stack.CACertSecretKey]
	for _, k := range []struct {
		key    string
		pooled bool
	}{{"VECTORS_DATABASE_URL", false}, {"VECTORS_APP_POOL_URL", true}} {
		uri := string(s.Data[k.key])
		q, err := dataplanecheck.Postgres(ctx, uri, ca, k.pooled)
		if err != nil {
			resp.Error = fmt.Errorf("%s from the Secret: %w", k.key, err)
			return
		}
		if q.User != "app" || q.Result != "1" {
			resp.Error = fmt.Errorf("%s: %s as %s -> %s", k.key, q.Query, q.User, q.Result)
			return
		}
		if _, err := dataplanecheck.Postgres(ctx, uri, otherCA(v.t), k.pooled); err == nil {
			resp.Error = fmt.Errorf("%s connected with TLS verified against a CA that signed nothing", k.key)
			return
		}
		v.t.Logf("%s from Secret %s/%s (uid %s, cluster %s): %s as %s on %s/%s -> %s", k.key, secretNS, secretName, s.UID, clusterID, q.Query, q.User, q.Addr, q.Database, q.Result)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.data, v.clusterID = s.Data, clusterID
	if v.seen != nil {
		for k, val := range s.Data {
			// The values that are secret: the host, port, user and db
			// name are in state as they are in connection_env's stead.
			if strings.HasSuffix(k, "_PASSWORD") || strings.HasSuffix(k, "_URL") {
				v.seen.add("Secret "+k, string(val))
			}
		}
	}
}

// passwordChanged checks the Secret's password differs from *before.
type passwordChanged struct {
	v      *kubeView
	before *string
}

func (c passwordChanged) CheckState(_ context.Context, _ statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	if now := string(c.v.data["VECTORS_PASSWORD"]); now == "" || now == *c.before {
		resp.Error = fmt.Errorf("the Secret's password did not change with the rotation")
	}
}

// clusterChanged checks the Secret was read from another cluster than
// *before, and that the old cluster is gone.
type clusterChanged struct {
	v      *kubeView
	before *string
}

func (c clusterChanged) CheckState(ctx context.Context, _ statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	if c.v.clusterID == *c.before {
		resp.Error = fmt.Errorf("the Secret was read from the old cluster %s", *c.before)
		return
	}
	api := secretsGodo(c.v.t, c.v.srv.URL, c.v.srv.Token)
	if _, _, err := api.Kubernetes.Get(ctx, *c.before); err == nil {
		resp.Error = fmt.Errorf("the old cluster %s was not retired", *c.before)
	}
}

// secretGone checks the Secret is not in the cluster.
type secretGone struct{ v *kubeView }

func (c secretGone) CheckState(ctx context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	_, _, err := c.v.secret(ctx, req)
	if !apierrors.IsNotFound(err) {
		resp.Error = fmt.Errorf("Secret %s/%s still readable after its entry was removed (%v)", secretNS, secretName, err)
	}
}

// tamper edits (or deletes) the Secret outside Terraform.
func (v *kubeView) tamper(del bool) func() {
	return func() {
		ctx := context.Background()
		api := secretsGodo(v.t, v.srv.URL, v.srv.Token)
		k, _, err := api.Kubernetes.GetKubeConfig(ctx, v.clusterID, nil)
		if err != nil {
			v.t.Fatalf("kubeconfig: %v", err)
		}
		cfg, err := clientcmd.RESTConfigFromKubeConfig(k.KubeconfigYAML)
		if err != nil {
			v.t.Fatal(err)
		}
		cs := kubernetes.NewForConfigOrDie(cfg)
		if del {
			if err := cs.CoreV1().Secrets(secretNS).Delete(ctx, secretName, metav1.DeleteOptions{}); err != nil {
				v.t.Fatalf("deleting the Secret: %v", err)
			}
			return
		}
		s, err := cs.CoreV1().Secrets(secretNS).Get(ctx, secretName, metav1.GetOptions{})
		if err != nil {
			v.t.Fatalf("reading the Secret: %v", err)
		}
		s.Data["VECTORS_PASSWORD"] = []byte("edited-by-hand")
		s.Data["VECTORS_DATABASE_URL"] = []byte("postgresql://nobody@example.invalid/app")
		if _, err := cs.CoreV1().Secrets(secretNS).Update(ctx, s, metav1.UpdateOptions{}); err != nil {
			v.t.Fatalf("editing the Secret: %v", err)
		}
	}
}

var fingerprintPath = tfjsonpath.New("kubernetes_secrets").AtMapKey("app").AtMapKey("fingerprint")

// The Secret follows the stack: delivered, rewritten on rotation, repaired
// after it is deleted or edited, written into a replacement cluster before
// the old one is retired, and deleted when its entry is removed.
func TestAccKubernetesSecretsFollowTheStack(t *testing.T) {
	requireKubeDataPlane(t)
	srv := startEmulator(t, emulator.Config{DataPlane: true, DataPlaneLogf: t.Logf})
	v := &kubeView{t: t, srv: srv}
	var password, cluster string
	keep := func() { password, cluster = string(v.data["VECTORS_PASSWORD"]), v.clusterID }
	update := plancheck.ExpectResourceAction(stackAddr, plancheck.ResourceActionUpdate)
	empty := resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             inventoryEmpty(srv),
		Steps: []resource.TestStep{
			{Config: kubeSecretsConfig(srv, true, true, true, 1), ConfigStateChecks: []statecheck.StateCheck{secretConnects{v}}, ConfigPlanChecks: empty},
			// Rotation: the plan says the Secret changes, the apply rewrites it.
			{PreConfig: keep, Config: kubeSecretsConfig(srv, true, true, true, 2),
				ConfigStateChecks: []statecheck.StateCheck{secretConnects{v}, passwordChanged{v, &password}},
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{update, plancheck.ExpectUnknownValue(stackAddr, fingerprintPath)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				}},
			// Deleted in the cluster: refresh sees it, the plan shows it, the apply writes it again.
			{PreConfig: v.tamper(true), Config: kubeSecretsConfig(srv, true, true, true, 2),
				ConfigStateChecks: []statecheck.StateCheck{secretConnects{v}},
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{update, plancheck.ExpectKnownValue(stackAddr, fingerprintPath, knownvalue.StringRegexp(regexp.MustCompile(`^sha256:`)))},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				}},
			// Edited in the cluster: repaired.
			{PreConfig: v.tamper(false), Config: kubeSecretsConfig(srv, true, true, true, 2),
				ConfigStateChecks: []statecheck.StateCheck{secretConnects{v}},
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{update},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				}},
			// Cluster replacement (HA cannot be turned off in place): the
			// Secret is in the new cluster, the old one retired.
			{PreConfig: keep, Config: kubeSecretsConfig(srv, true, false, true, 2),
				ConfigStateChecks: []statecheck.StateCheck{secretConnects{v}, clusterChanged{v, &cluster}},
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{update, plancheck.ExpectUnknownValue(stackAddr, fingerprintPath)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				}},
			// The entry removed: the Secret is deleted.
			{Config: kubeSecretsConfig(srv, true, false, false, 2), ConfigStateChecks: []statecheck.StateCheck{secretGone{v}}, ConfigPlanChecks: empty},
			// Back, then destroy (the Secret goes before its cluster).
			{Config: kubeSecretsConfig(srv, true, false, true, 2), ConfigStateChecks: []statecheck.StateCheck{secretConnects{v}}, ConfigPlanChecks: empty},
		},
	})
}

// noSecretValuesInPlan searches the plan JSON for every value the Secret
// held so far.
type noSecretValuesInPlan struct{ seen *secretSet }

func (c noSecretValuesInPlan) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	b, _ := json.Marshal(req.Plan)
	if len(c.seen.list()) == 0 {
		resp.Error = fmt.Errorf("no Secret values collected yet: the search would prove nothing")
		return
	}
	for _, s := range c.seen.list() {
		if strings.Contains(string(b), s.value) {
			resp.Error = fmt.Errorf("the plan JSON holds the value of %s", s.kind)
			return
		}
	}
	if m := credentialedURI.FindString(string(b)); m != "" {
		resp.Error = fmt.Errorf("the plan JSON holds a URI with credentials (%.20s...)", m)
	}
}

// With store_secrets = false, the Secret is delivered and connects, and
// none of its values is in state (JSON and state files, private state
// decoded) or in any plan, also across a rotation.
func TestAccKubernetesSecretsOutOfState(t *testing.T) {
	requireKubeDataPlane(t)
	srv := startEmulator(t, emulator.Config{DataPlane: true, DataPlaneLogf: t.Logf})
	dir := t.TempDir()
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	// Terraform's working directories, state files included. Not TMPDIR
	// (as TestAccSecretsOutOfState does): the data plane's servers run as
	// an unprivileged user under TMPDIR, and a test's temporary directory
	// is private to root.
	t.Setenv("TF_ACC_TEMP_DIR", tmp)
	seen := &secretSet{}
	v := &kubeView{t: t, srv: srv, seen: seen}
	api := secretsGodo(t, srv.URL, srv.Token)
	clean := []statecheck.StateCheck{secretConnects{v}, secretsCollect{api: api, secrets: seen}, noSecretsInState{secrets: seen, tmp: tmp, token: srv.Token}}
	noValues := noSecretValuesInPlan{seen}
	var password string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             inventoryEmpty(srv),
		Steps: []resource.TestStep{
			{Config: kubeSecretsConfig(srv, false, true, true, 1), ConfigStateChecks: clean,
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan(), noValues}}},
			{PreConfig: func() { password = string(v.data["VECTORS_PASSWORD"]) }, Config: kubeSecretsConfig(srv, false, true, true, 2),
				ConfigStateChecks: append(clean, passwordChanged{v, &password}),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(stackAddr, plancheck.ResourceActionUpdate), plancheck.ExpectUnknownValue(stackAddr, fingerprintPath), noValues},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan(), noValues},
				}},
			// Deleted in the cluster: the plan shows the repair, with no value.
			{PreConfig: v.tamper(true), Config: kubeSecretsConfig(srv, false, true, true, 2), ConfigStateChecks: clean,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(stackAddr, plancheck.ResourceActionUpdate), noValues},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan(), noValues},
				}},
		},
	})
	// The Secret's values (the last ones read) were among those searched
	// for (under whichever kind collected them first).
	searched := map[string]bool{}
	for _, x := range seen.list() {
		searched[x.value] = true
	}
	for _, k := range []string{"VECTORS_PASSWORD", "VECTORS_DATABASE_URL", "VECTORS_APP_POOL_URL"} {
		if val := string(v.data[k]); val == "" || !searched[val] {
			t.Errorf("the Secret's %s was not searched for: the test proves nothing about it", k)
		}
	}
}
