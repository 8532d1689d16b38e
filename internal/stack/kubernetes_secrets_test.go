package stack

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"
)

// These tests drive the Secret logic through the engine against the
// emulator, with client-go's fake clientset standing in for each cluster's
// API server (one per endpoint). The acceptance test in internal/provider
// runs the same lifecycle against a real kube-apiserver.

type fakeClusters struct {
	mu  sync.Mutex
	by  map[string]*fake.Clientset
	uid atomic.Int64
	// onCreate runs before a Secret is created in a cluster (by host).
	onCreate func(host string)
}

func (f *fakeClusters) client(cfg *rest.Config) (kubernetes.Interface, error) {
	if cfg.BearerToken == "" && len(cfg.CertData) == 0 {
		return nil, fmt.Errorf("no credentials for %s", cfg.Host)
	}
	return f.get(cfg.Host), nil
}

func (f *fakeClusters) get(host string) *fake.Clientset {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.by == nil {
		f.by = map[string]*fake.Clientset{}
	}
	if cs := f.by[host]; cs != nil {
		return cs
	}
	cs := fake.NewClientset(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default"}})
	// The fake does not assign uids; an API server does.
	cs.PrependReactor("create", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		obj := a.(k8stesting.CreateAction).GetObject().(metav1.Object)
		obj.SetUID(types.UID(fmt.Sprintf("uid-%d", f.uid.Add(1))))
		if _, isSecret := obj.(*corev1.Secret); isSecret && f.onCreate != nil {
			f.onCreate(host)
		}
		return false, nil, nil
	})
	f.by[host] = cs
	return cs
}

func secretSpecs() map[string]KubernetesSecretSpec {
	return map[string]KubernetesSecretSpec{
		"app":   {Database: "vectors", User: "app", Pool: "app", Namespace: "apps", Name: "vectors-conn", CreateNamespace: true},
		"cache": {Database: "cache", Namespace: "default", Name: "cache-conn"},
	}
}

func getSecret(t *testing.T, cs kubernetes.Interface, ns, name string) *corev1.Secret {
	t.Helper()
	s, err := cs.CoreV1().Secrets(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading Secret %s/%s: %v", ns, name, err)
	}
	return s
}

func TestKubernetesSecretsLifecycle(t *testing.T) {
	_, e := startEngine(t)
	fc := &fakeClusters{}
	e.Kube = fc.client
	ctx := context.Background()
	spec := quickstartSpec()
	vec := spec.Databases["vectors"]
	vec.DeletionProtection = false
	spec.Databases["vectors"] = vec
	spec.KubernetesSecrets = secretSpecs()

	res, err := e.Apply(ctx, spec, nil)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	st := res.Status
	cs := fc.get(st.Cluster.Endpoint)
	app := getSecret(t, cs, "apps", "vectors-conn")
	if got, want := slices.Sorted(maps.Keys(app.Data)), SecretKeyNames("vectors", "app"); !slices.Equal(got, want) {
		t.Fatalf("keys %v, want %v", got, want)
	}
	if app.Labels[LabelManagedBy] != "attach" || app.Labels[LabelStack] != "qs" || app.Labels[LabelDatabase] != "vectors" {
		t.Fatalf("labels %v", app.Labels)
	}
	ds := st.Databases["vectors"]
	if string(app.Data["VECTORS_USER"]) != "app" || string(app.Data["VECTORS_PASSWORD"]) != ds.Users["app"] || ds.Users["app"] == "" {
		t.Fatalf("the Secret does not connect as app with its password: user %q", app.Data["VECTORS_USER"])
	}
	if !strings.Contains(string(app.Data["VECTORS_DATABASE_URL"]), "/app?") || string(app.Data["VECTORS_DATABASE"]) != "app" {
		t.Fatalf("the URL does not name the app db: %s", redactedURL(app.Data["VECTORS_DATABASE_URL"]))
	}
	if string(app.Data["VECTORS_APP_POOL_URL"]) != ds.Pools["app"].PrivateURI {
		t.Fatal("the pool URL is not the pool's private URI")
	}
	if !strings.Contains(string(app.Data[CACertSecretKey]), "BEGIN CERTIFICATE") {
		t.Fatal("no CA certificate in ca.crt")
	}
	ks := st.KubernetesSecrets["app"]
	if ks == nil || ks.UID != string(app.UID) || ks.Fingerprint != SecretFingerprint(app.Data) || !ks.NamespaceCreated || !ks.InSync() {
		t.Fatalf("status %+v", ks)
	}
	cache := getSecret(t, cs, "default", "cache-conn")
	if string(cache.Data["CACHE_USER"]) != "default" || len(cache.Data["CACHE_PASSWORD"]) == 0 {
		t.Fatalf("cache Secret holds user %q", cache.Data["CACHE_USER"])
	}
	if st.KubernetesSecrets["cache"].NamespaceCreated {
		t.Fatal("the stack did not create namespace default")
	}

	// A rotation rewrites the Secret with the new password.
	old := string(app.Data["VECTORS_PASSWORD"])
	vec.Rotations = map[string]int{"app": 1}
	spec.Databases["vectors"] = vec
	if res, err = e.Apply(ctx, spec, res.Status); err != nil {
		t.Fatalf("apply rotation: %v", err)
	}
	app = getSecret(t, cs, "apps", "vectors-conn")
	if pw := string(app.Data["VECTORS_PASSWORD"]); pw == old || pw != res.Status.Databases["vectors"].Users["app"] {
		t.Fatal("the rotated password is not in the Secret")
	}
	if res.Status.KubernetesSecrets["app"].Fingerprint != SecretFingerprint(app.Data) {
		t.Fatal("status fingerprint not the rewritten Secret's")
	}

	// Drift: an edited key and a deleted Secret show in refresh and are
	// repaired by apply.
	edited := app.DeepCopy()
	edited.Data["VECTORS_PASSWORD"] = []byte("tampered")
	if _, err := cs.CoreV1().Secrets("apps").Update(ctx, edited, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cs.CoreV1().Secrets("default").Delete(ctx, "cache-conn", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ref, err := e.Refresh(ctx, spec, res.Status)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if s := ref.Status.KubernetesSecrets["app"]; s.InSync() || s.Want != res.Status.KubernetesSecrets["app"].Fingerprint {
		t.Fatalf("refresh did not see the edit: %+v", s)
	}
	if s := ref.Status.KubernetesSecrets["cache"]; s.UID != "" || s.InSync() || s.Want == "" {
		t.Fatalf("refresh did not see the deletion: %+v", s)
	}
	if res, err = e.Apply(ctx, spec, ref.Status); err != nil {
		t.Fatalf("apply repair: %v", err)
	}
	if got := getSecret(t, cs, "apps", "vectors-conn"); string(got.Data["VECTORS_PASSWORD"]) != res.Status.Databases["vectors"].Users["app"] {
		t.Fatal("the edited key was not repaired")
	}
	getSecret(t, cs, "default", "cache-conn")
	for k, s := range res.Status.KubernetesSecrets {
		if !s.InSync() {
			t.Fatalf("%s not in sync after repair: %+v", k, s)
		}
	}

	// A Secret of the same name that the stack did not write is refused.
	if _, err := cs.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "someone-elses"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	moved := spec
	moved.KubernetesSecrets = secretSpecs()
	c := moved.KubernetesSecrets["cache"]
	c.Name = "someone-elses"
	moved.KubernetesSecrets["cache"] = c
	if _, err := e.Apply(ctx, moved, res.Status); err == nil || !strings.Contains(err.Error(), "was not written by this entry") {
		t.Fatalf("overwrote a foreign Secret: %v", err)
	}
	// Renamed: the new one is written, the old one deleted.
	c.Name = "cache-conn-2"
	moved.KubernetesSecrets["cache"] = c
	if res, err = e.Apply(ctx, moved, res.Status); err != nil {
		t.Fatalf("apply rename: %v", err)
	}
	getSecret(t, cs, "default", "cache-conn-2")
	if _, err := cs.CoreV1().Secrets("default").Get(ctx, "cache-conn", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the renamed Secret's old copy is still there: %v", err)
	}

	// Removing entries: deleted, unless retained.
	a := moved.KubernetesSecrets["app"]
	a.RetainOnDestroy = true
	moved.KubernetesSecrets["app"] = a
	if res, err = e.Apply(ctx, moved, res.Status); err != nil {
		t.Fatalf("apply retain: %v", err)
	}
	moved.KubernetesSecrets = nil
	if res, err = e.Apply(ctx, moved, res.Status); err != nil {
		t.Fatalf("apply removal: %v", err)
	}
	if _, err := cs.CoreV1().Secrets("default").Get(ctx, "cache-conn-2", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("removed entry's Secret still there: %v", err)
	}
	getSecret(t, cs, "apps", "vectors-conn")
	if len(res.Status.KubernetesSecrets) != 0 {
		t.Fatalf("removed entries still in status: %v", res.Status.KubernetesSecrets)
	}
	if _, err := cs.CoreV1().Namespaces().Get(ctx, "apps", metav1.GetOptions{}); err != nil {
		t.Fatalf("the namespace the stack created was deleted: %v", err)
	}

	// Destroy deletes the Secrets before the cluster.
	moved.KubernetesSecrets = secretSpecs()
	if res, err = e.Apply(ctx, moved, res.Status); err != nil {
		t.Fatalf("apply again: %v", err)
	}
	var before []string
	cs.PrependReactor("delete", "secrets", func(a k8stesting.Action) (bool, runtime.Object, error) {
		before = append(before, a.(k8stesting.DeleteAction).GetName())
		return false, nil, nil
	})
	if _, err := e.Delete(ctx, moved, res.Status, DeleteOptions{}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	slices.Sort(before)
	if !slices.Equal(before, []string{"cache-conn", "vectors-conn"}) {
		t.Fatalf("destroy deleted %v", before)
	}
}

func TestKubernetesSecretsFollowClusterReplacement(t *testing.T) {
	_, e := startEngine(t)
	fc := &fakeClusters{}
	e.Kube = fc.client
	ctx := context.Background()
	spec := quickstartSpec()
	spec.KubernetesSecrets = secretSpecs()
	res, err := e.Apply(ctx, spec, nil)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	oldCluster := res.Status.Cluster
	var oldAlive []bool
	fc.onCreate = func(host string) {
		if host == oldCluster.Endpoint {
			return
		}
		_, _, err := e.API.Kubernetes.Get(ctx, oldCluster.ID)
		oldAlive = append(oldAlive, err == nil)
	}
	spec.Cluster.HA = false // cannot be turned off in place: a new cluster
	if res, err = e.Apply(ctx, spec, res.Status); err != nil {
		t.Fatalf("apply replacement: %v", err)
	}
	if res.Status.Cluster.ID == oldCluster.ID || res.Status.Cluster.Endpoint == oldCluster.Endpoint {
		t.Fatal("the cluster was not replaced")
	}
	if !slices.Equal(oldAlive, []bool{true, true}) {
		t.Fatalf("Secrets written into the new cluster with the old one alive: %v (want both before it was retired)", oldAlive)
	}
	cs := fc.get(res.Status.Cluster.Endpoint)
	getSecret(t, cs, "apps", "vectors-conn")
	getSecret(t, cs, "default", "cache-conn")
	for k, s := range res.Status.KubernetesSecrets {
		if s.ClusterID != res.Status.Cluster.ID || !s.InSync() {
			t.Fatalf("%s not recorded in the new cluster: %+v", k, s)
		}
	}
}

func redactedURL(b []byte) string {
	s := string(b)
	if at := strings.Index(s, "@"); at > 0 {
		return "…" + s[at:]
	}
	return s
}

// An API server whose certificate the client refuses is not retried: the
// same certificate would be refused for the whole retry window.
func TestTransientKubeDoesNotRetryRefusedCertificates(t *testing.T) {
	refused := fmt.Errorf("Get \"https://127.0.0.1:6443/api\": %w", &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}})
	if transientKube(refused) {
		t.Error("a certificate signed by an unknown authority is retried")
	}
	if !transientKube(fmt.Errorf("dial tcp 127.0.0.1:6443: connect: connection refused")) {
		t.Error("a refused connection (the API server not up yet) is not retried")
	}
}
