package modules_test

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/attach-labs/terraform-provider-attach/internal/dataplanecheck"
	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
	"github.com/attach-labs/terraform-provider-attach/internal/stack"
)

// The module's default connection Secrets, applied for real: an emulator
// with its data plane runs a kube-apiserver (with its own etcd) behind each
// DOKS cluster and real PostgreSQL, PgBouncer and Valkey servers behind the
// databases, so the Secret the provider writes can be read with client-go
// and its URLs connect.

// startKubeEmulator is startEmulator with the data plane on. Outside CI it
// skips the test, saying why, when the servers are not installed (make
// tools-kube builds etcd and kube-apiserver; .ci/run installs PostgreSQL,
// PgBouncer and Redis); under CI it fails instead.
func startKubeEmulator(t *testing.T) *emulator.Server {
	t.Helper()
	if err := emulator.KubeDataPlaneAvailable(); err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("SKIPPING: this test applies the module's default connection Secrets against a real kube-apiserver, "+
				"and the emulator's data plane is not available here (%v); CI runs it", err)
		}
		t.Fatalf("CI must run the module's Secret delivery against the data plane: %v", err)
	}
	srv, err := emulator.Start(emulator.Config{TimeScale: 1000, RateLimitPerMinute: -1, RateLimitPerHour: -1,
		DataPlane: true, DataPlaneLogf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	if err := srv.KubeDataPlaneErr(); err != nil {
		t.Fatalf("the data plane runs no kube-apiserver behind clusters: %v", err)
	}
	return srv
}

// withKubernetesSecrets drops the harness's opt-out, so the module's
// default (a Secret per app database) applies.
func (w *workspace) withKubernetesSecrets() {
	w.env = slices.DeleteFunc(w.env, func(kv string) bool { return strings.HasPrefix(kv, "TF_VAR_disable_kubernetes_secrets=") })
}

// wantSecret is one Secret the module should have written.
type wantSecret struct {
	key, database, pool, namespace, name string
	user                                 string // the user its URLs connect as
}

// checkModuleSecrets reads the Secrets the apply reported (the example's
// kubernetes_secrets output) from the cluster with client-go, through the
// stack's own kubeconfig (the kubeconfig output), as a workload would: the
// namespace holds exactly the wanted Secrets, each with the stack's labels,
// connection_env's keys and ca.crt, the output's fingerprint, and a pool URL
// that runs SELECT 1 with TLS verified against its ca.crt.
func checkModuleSecrets(t *testing.T, out map[string]any, want []wantSecret) {
	t.Helper()
	ctx := t.Context()
	kc, _ := out["kubeconfig"].(string)
	cfg, err := clientcmd.RESTConfigFromKubeConfig([]byte(kc))
	if err != nil {
		t.Fatalf("the stack's kubeconfig output does not load: %v", err)
	}
	if !strings.HasPrefix(cfg.Host, "https://127.0.0.1:") {
		t.Fatalf("kubeconfig server %s is not the data plane's kube-apiserver", cfg.Host)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	reported, _ := out["kubernetes_secrets"].(map[string]any)
	var wantKeys []string
	for _, w := range want {
		wantKeys = append(wantKeys, w.key)
	}
	if got := sortedKeys(reported); !slices.Equal(got, sortedCopy(wantKeys)) {
		t.Fatalf("kubernetes_secrets output has %v, want %v", got, sortedCopy(wantKeys))
	}
	byNamespace := map[string][]string{}
	for _, w := range want {
		byNamespace[w.namespace] = append(byNamespace[w.namespace], w.name)
		rep, _ := reported[w.key].(map[string]any)
		expect(t, w.key+".namespace", rep["namespace"], w.namespace)
		expect(t, w.key+".name", rep["name"], w.name)
		s, err := cs.CoreV1().Secrets(w.namespace).Get(ctx, w.name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("reading Secret %s/%s with client-go through the stack's kubeconfig: %v", w.namespace, w.name, err)
		}
		labels := map[string]string{
			stack.LabelManagedBy: stack.ManagedByValue, stack.LabelStack: fmt.Sprint(out["name"]),
			stack.LabelDatabase: w.database, stack.LabelSecretKey: w.key,
		}
		for k, v := range labels {
			if s.Labels[k] != v {
				t.Errorf("Secret %s/%s label %s = %q, want %q (labels %v)", w.namespace, w.name, k, s.Labels[k], v, s.Labels)
			}
		}
		keys := sortedKeys(s.Data)
		if wk := stack.SecretKeyNames(w.database, w.pool); !slices.Equal(keys, wk) {
			t.Errorf("Secret %s/%s keys %v, want %v", w.namespace, w.name, keys, wk)
		}
		var reportedKeys []string
		for _, k := range rep["keys"].([]any) {
			reportedKeys = append(reportedKeys, fmt.Sprint(k))
		}
		if !slices.Equal(reportedKeys, keys) {
			t.Errorf("the output says Secret %s/%s holds %v; the cluster's holds %v", w.namespace, w.name, reportedKeys, keys)
		}
		if fp := stack.SecretFingerprint(s.Data); rep["fingerprint"] != fp {
			t.Errorf("the output's fingerprint of %s/%s is %v; the cluster's Secret has %s", w.namespace, w.name, rep["fingerprint"], fp)
		}
		poolKey := stack.EnvPrefix(w.database) + "_" + stack.EnvPrefix(w.pool) + "_POOL_URL"
		q, err := dataplanecheck.Postgres(ctx, string(s.Data[poolKey]), s.Data[stack.CACertSecretKey], true)
		if err != nil {
			t.Fatalf("%s from Secret %s/%s (sslmode=verify-full, its ca.crt): %v", poolKey, w.namespace, w.name, err)
		}
		if q.User != w.user || q.Result != "1" {
			t.Errorf("%s from Secret %s/%s: %s as %s -> %s, want 1 as %s", poolKey, w.namespace, w.name, q.Query, q.User, q.Result, w.user)
		}
		t.Logf("Secret %s/%s: %s through %s as %s on %s/%s -> %s", w.namespace, w.name, q.Query, poolKey, q.User, q.Addr, q.Database, q.Result)
	}
	// Nothing else the stack wrote: one Secret per app database.
	for ns, names := range byNamespace {
		list, err := cs.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{LabelSelector: stack.LabelManagedBy + "=" + stack.ManagedByValue})
		if err != nil {
			t.Fatalf("listing Secrets in %s: %v", ns, err)
		}
		var got []string
		for _, s := range list.Items {
			got = append(got, s.Name)
		}
		if !slices.Equal(sortedCopy(got), sortedCopy(names)) {
			t.Errorf("the stack's Secrets in namespace %s are %v, want %v", ns, got, names)
		}
	}
}

// requireNoKube waits for the data plane to stop every etcd and
// kube-apiserver (a deleted cluster's go in the background).
func requireNoKube(t *testing.T, srv *emulator.Server) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for len(srv.KubePIDs()) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("etcd/kube-apiserver processes left after destroy: %v", srv.KubePIDs())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
