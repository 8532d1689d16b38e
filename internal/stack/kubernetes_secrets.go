package stack

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-log/tflog"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// How connection Secrets are delivered into the stack's cluster: for each
// entry of Spec.KubernetesSecrets the engine reads the database's connection
// details from DigitalOcean (GET /v2/databases/{id}, .../users/{name},
// .../pools/{name} and .../ca) and writes them as a Secret through the
// Kubernetes API with client-go, authenticated by short-lived credentials
// (GET /v2/kubernetes/clusters/{id}/credentials?expiry_seconds=...). The
// values go from DigitalOcean to Kubernetes only: the status records the
// Secret's uid, its keys and a SHA-256 fingerprint of its content.
//
// Ordering: a Secret is written after its database is provisioned (users,
// rotations and pools done) and the cluster runs; a replaced cluster is
// retired only after every Secret is in the new one. Refresh reads each
// Secret and the content it should hold; when they differ (a key edited,
// the Secret deleted, a password changed elsewhere) the next apply writes it
// again. A removed entry's Secret is deleted unless RetainOnDestroy.
// Namespaces are never deleted, not even those the stack created: deleting a
// namespace deletes everything in it, which the stack cannot vouch for.

// KubernetesSecretSpec is one Secret the stack keeps in its cluster.
type KubernetesSecretSpec struct {
	// Database is the key of the database in Spec.Databases.
	Database string
	// User is the user the Secret connects as ("": the admin).
	User string
	// Pool adds the URL of this connection pool of the database.
	Pool      string
	Namespace string
	Name      string
	// CreateNamespace creates Namespace when it does not exist.
	CreateNamespace bool
	// RetainOnDestroy leaves the Secret in the cluster when the entry is
	// removed or the stack destroyed.
	RetainOnDestroy bool
}

// KubernetesSecretStatus is a delivered Secret as last written or read.
type KubernetesSecretStatus struct {
	Spec KubernetesSecretSpec
	// ClusterID is the cluster the Secret was written into.
	ClusterID string
	// UID is the Secret's metadata.uid ("" when it was not found).
	UID string
	// Keys are the Secret's data keys, sorted.
	Keys []string
	// Fingerprint is SecretFingerprint of the Secret's data as found in
	// the cluster ("" when it was not found).
	Fingerprint string
	// Want is the fingerprint of what the Secret should hold, as of the
	// last read of DigitalOcean ("" when it could not be read).
	Want string `json:",omitempty"`
	// NamespaceCreated says the stack created the namespace.
	NamespaceCreated bool `json:",omitempty"`
}

// InSync reports that the Secret exists and holds what it should.
func (s *KubernetesSecretStatus) InSync() bool {
	return s.UID != "" && s.Fingerprint != "" && (s.Want == "" || s.Want == s.Fingerprint)
}

func (s *KubernetesSecretStatus) clone() *KubernetesSecretStatus {
	out := *s
	out.Keys = slices.Clone(s.Keys)
	return &out
}

// Labels on every Secret the stack writes.
const (
	LabelManagedBy  = "app.kubernetes.io/managed-by"
	ManagedByValue  = "attach"
	LabelStack      = "attach.dev/stack"
	LabelDatabase   = "attach.dev/database"
	LabelSecretKey  = "attach.dev/secret"
	CACertSecretKey = "ca.crt"
)

// KubeCredentialLifetime is the lifetime of the credentials the engine asks
// for to write Secrets: long enough for one operation, short enough that a
// leaked token (it is never stored) is soon useless.
const KubeCredentialLifetime = 15 * time.Minute

// KubeClientFunc builds a Kubernetes client from a REST configuration; the
// Engine's Kube field overrides kubernetes.NewForConfig in tests.
type KubeClientFunc func(cfg *rest.Config) (kubernetes.Interface, error)

// SecretFingerprint is a non-reversible digest of a Secret's data: it
// changes whenever a key or a value does, and names no value.
func SecretFingerprint(data map[string][]byte) string {
	h := sha256.New()
	h.Write([]byte("attach-kubernetes-secret-v1\x00"))
	for _, k := range slices.Sorted(maps.Keys(data)) {
		fmt.Fprintf(h, "%d:%s%d:", len(k), k, len(data[k]))
		h.Write(data[k])
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// SecretKeyNames are the keys a Secret for the database key with pool
// holds, sorted: the connection_env names without the per-user passwords.
func SecretKeyNames(key, pool string) []string {
	p := EnvPrefix(key)
	keys := []string{p + "_DATABASE_URL", p + "_HOST", p + "_PORT", p + "_USER", p + "_PASSWORD", p + "_DATABASE", CACertSecretKey}
	if pool != "" {
		keys = append(keys, p+"_"+EnvPrefix(pool)+"_POOL_URL")
	}
	sort.Strings(keys)
	return keys
}

// kubeClients caches one client per cluster for a run, until its
// credentials come close to expiring.
type kubeClients struct {
	mu sync.Mutex
	by map[string]kubeClient
}

type kubeClient struct {
	cs kubernetes.Interface
	// expires is when the client's token stops working (zero: never).
	expires time.Time
}

// kubeRenewBefore is how long before its token expires a cached client is
// replaced: Secret steps start as their databases come up, which in one
// apply can be further apart than a token lives.
const kubeRenewBefore = 5 * time.Minute

// kube returns a client for cluster c, with credentials fetched once per
// run and again when they are about to expire.
func (r *run) kube(ctx context.Context, c *ClusterStatus) (kubernetes.Interface, error) {
	r.kubeClients.mu.Lock()
	defer r.kubeClients.mu.Unlock()
	if kc, ok := r.kubeClients.by[c.ID]; ok && (kc.expires.IsZero() || time.Until(kc.expires) > kubeRenewBefore) {
		return kc.cs, nil
	}
	secs := int(KubeCredentialLifetime.Seconds())
	creds, _, err := r.e.API.Kubernetes.GetCredentials(ctx, c.ID, &godo.KubernetesClusterCredentialsGetRequest{ExpirySeconds: &secs})
	if err != nil {
		return nil, apiErr("fetching credentials for the Kubernetes API of cluster "+c.Name, err)
	}
	cfg := &rest.Config{
		Host:    creds.Server,
		Timeout: 30 * time.Second,
		TLSClientConfig: rest.TLSClientConfig{
			CAData: creds.CertificateAuthorityData,
		},
		UserAgent: "terraform-provider-attach",
	}
	if creds.Token != "" {
		cfg.BearerToken = creds.Token
	} else {
		cfg.CertData, cfg.KeyData = creds.ClientCertificateData, creds.ClientKeyData
	}
	newClient := r.e.Kube
	if newClient == nil {
		newClient = func(cfg *rest.Config) (kubernetes.Interface, error) { return kubernetes.NewForConfig(cfg) }
	}
	cs, err := newClient(cfg)
	if err != nil {
		// The emulator without its data plane hands out credentials for an
		// API server that does not exist: say what to do about it.
		return nil, fmt.Errorf("building a Kubernetes client for cluster %s (%s): the credentials from GET .../credentials do not load: %w. "+
			"Writing kubernetes_secrets needs the cluster's real Kubernetes API: against the attach emulator, run it with its data plane "+
			"(-data-plane, with etcd and kube-apiserver from make tools-kube); or remove kubernetes_secrets (modules: disable_kubernetes_secrets = true)",
			c.Name, creds.Server, err)
	}
	if r.kubeClients.by == nil {
		r.kubeClients.by = map[string]kubeClient{}
	}
	r.kubeClients.by[c.ID] = kubeClient{cs: cs, expires: creds.ExpiresAt}
	return cs, nil
}

// KubeRetryFor bounds how long a Kubernetes call is retried while it fails
// transiently (the API server unreachable or overloaded, as right after a
// cluster comes up or during a control plane upgrade); the caller's context
// bounds it too.
var KubeRetryFor = 2 * time.Minute

// transientKube reports a Kubernetes API failure worth retrying: no answer
// at all (connection refused, timeouts) or the server saying it is busy.
func transientKube(err error) bool {
	if err == nil {
		return false
	}
	// A certificate the client refuses will be refused again: not worth
	// two minutes of retries.
	var (
		unknownCA   x509.UnknownAuthorityError
		badHost     x509.HostnameError
		badCert     x509.CertificateInvalidError
		verifyError *tls.CertificateVerificationError
	)
	if errors.As(err, &unknownCA) || errors.As(err, &badHost) || errors.As(err, &badCert) || errors.As(err, &verifyError) {
		return false
	}
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return true // no answer from the API server
	}
	return apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) || apierrors.IsTooManyRequests(err) ||
		apierrors.IsServiceUnavailable(err) || apierrors.IsInternalError(err)
}

// kubeCall runs fn until it succeeds, fails for good, or KubeRetryFor (or
// ctx) runs out, logging each transient failure.
func kubeCall(ctx context.Context, what string, fn func(ctx context.Context) error) error {
	deadline := time.Now().Add(KubeRetryFor)
	wait := 200 * time.Millisecond
	for {
		err := fn(ctx)
		if !transientKube(err) || time.Now().Add(wait).After(deadline) {
			return err
		}
		tflog.Info(ctx, "the Kubernetes API did not answer; retrying", map[string]any{"operation": what, "error": err.Error(), "retry_in": wait.String()})
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (waiting to retry after: %v)", ctx.Err(), err)
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// kubeErr wraps a Kubernetes API error with the operation and what usually
// fixes an unreachable API server.
func kubeErr(op string, c *ClusterStatus, err error) error {
	if apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) {
		return fmt.Errorf("%s in cluster %s: the Kubernetes API refused the stack's credentials: %w", op, c.Name, err)
	}
	if apierrors.ReasonForError(err) == metav1.StatusReasonUnknown && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) && !apierrors.IsAlreadyExists(err) && !apierrors.IsInvalid(err) {
		return fmt.Errorf("%s in cluster %s: %w (the Kubernetes API at %s must be reachable from where Terraform runs: with cluster.control_plane_firewall enabled, add this runner's address to allowed_addresses)", op, c.Name, err, c.Endpoint)
	}
	return fmt.Errorf("%s in cluster %s: %w", op, c.Name, err)
}

// secretContent reads from DigitalOcean what the Secret key should hold.
func (r *run) secretContent(ctx context.Context, key string, spec KubernetesSecretSpec) (map[string][]byte, error) {
	ds := view(r, func(st *Status) *DatabaseStatus {
		if d := st.Databases[spec.Database]; d != nil {
			c := *d
			c.DBs = slices.Clone(d.DBs)
			return &c
		}
		return nil
	})
	if ds == nil || ds.ID == "" {
		return nil, fmt.Errorf("kubernetes secret %s: database %s does not exist yet", key, spec.Database)
	}
	db, _, err := r.e.API.Databases.Get(ctx, ds.ID)
	if err != nil {
		return nil, apiErr(fmt.Sprintf("reading the connection details of database %s for kubernetes secret %s", spec.Database, key), err)
	}
	conn := db.PrivateConnection
	if conn == nil || conn.Host == "" {
		conn = db.Connection
	}
	if conn == nil || conn.Host == "" {
		return nil, fmt.Errorf("kubernetes secret %s: DigitalOcean reports no connection details for database %s (%s)", key, spec.Database, db.Name)
	}
	user, password, database, uri := conn.User, conn.Password, conn.Database, conn.URI
	if spec.User != "" && spec.User != conn.User {
		u, _, err := r.e.API.Databases.GetUser(ctx, ds.ID, spec.User)
		if err != nil {
			return nil, apiErr(fmt.Sprintf("reading user %s of database %s for kubernetes secret %s", spec.User, spec.Database, key), err)
		}
		user, password = u.Name, u.Password
		// A user named like one of the database's dbs connects to it, as
		// connection_env's app user does.
		if slices.Contains(ds.DBs, spec.User) {
			database = spec.User
		}
		uri = withUser(uri, user, password, database)
	}
	p := EnvPrefix(spec.Database)
	data := map[string][]byte{
		p + "_DATABASE_URL": []byte(uri),
		p + "_HOST":         []byte(conn.Host),
		p + "_PORT":         []byte(strconv.Itoa(conn.Port)),
		p + "_USER":         []byte(user),
		p + "_PASSWORD":     []byte(password),
		p + "_DATABASE":     []byte(database),
	}
	if spec.Pool != "" {
		pool, _, err := r.e.API.Databases.GetPool(ctx, ds.ID, spec.Pool)
		if err != nil {
			return nil, apiErr(fmt.Sprintf("reading connection pool %s of database %s for kubernetes secret %s", spec.Pool, spec.Database, key), err)
		}
		pc := pool.PrivateConnection
		if pc == nil || pc.URI == "" {
			pc = pool.Connection
		}
		if pc == nil || pc.URI == "" {
			return nil, fmt.Errorf("kubernetes secret %s: DigitalOcean reports no URL for pool %s of database %s", key, spec.Pool, spec.Database)
		}
		data[p+"_"+EnvPrefix(spec.Pool)+"_POOL_URL"] = []byte(pc.URI)
	}
	ca, _, err := r.e.API.Databases.GetCA(ctx, ds.ID)
	if err != nil {
		return nil, apiErr(fmt.Sprintf("reading the CA certificate of database %s for kubernetes secret %s", spec.Database, key), err)
	}
	data[CACertSecretKey] = ca.Certificate
	return data, nil
}

// withUser is uri connecting as user with password, to database when set.
func withUser(uri, user, password, database string) string {
	u, err := url.Parse(uri)
	if err != nil || uri == "" {
		return uri
	}
	u.User = url.UserPassword(user, password)
	if database != "" {
		u.Path = "/" + database
	}
	return u.String()
}

func (r *run) secretLabels(key string, spec KubernetesSecretSpec) map[string]string {
	return map[string]string{
		LabelManagedBy: ManagedByValue,
		LabelStack:     r.spec.Name,
		LabelDatabase:  spec.Database,
		LabelSecretKey: key,
	}
}

// ownedBy reports whether a Secret carries this stack's labels.
func (r *run) ownedBy(s *corev1.Secret) bool {
	return s.Labels[LabelManagedBy] == ManagedByValue && s.Labels[LabelStack] == r.spec.Name
}

func (r *run) currentCluster() *ClusterStatus {
	return view(r, func(st *Status) *ClusterStatus { return st.Cluster.clone() })
}

func (r *run) secretStatus(key string) *KubernetesSecretStatus {
	return view(r, func(st *Status) *KubernetesSecretStatus {
		if s := st.KubernetesSecrets[key]; s != nil {
			return s.clone()
		}
		return nil
	})
}

func (r *run) setSecretStatus(key string, s *KubernetesSecretStatus) {
	r.update(func(st *Status) {
		if s == nil {
			delete(st.KubernetesSecrets, key)
			return
		}
		if st.KubernetesSecrets == nil {
			st.KubernetesSecrets = map[string]*KubernetesSecretStatus{}
		}
		st.KubernetesSecrets[key] = s
	})
}

// ensureKubernetesSecretStep writes Secret key into the current cluster.
func (r *run) ensureKubernetesSecretStep(key string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		spec := r.spec.KubernetesSecrets[key]
		c := r.currentCluster()
		if c == nil || c.ID == "" {
			return fmt.Errorf("kubernetes secret %s: the stack has no cluster to write it into", key)
		}
		what := fmt.Sprintf("kubernetes secret %s (%s/%s)", key, spec.Namespace, spec.Name)
		data, err := r.secretContent(ctx, key, spec)
		if err != nil {
			return err
		}
		cs, err := r.kube(ctx, c)
		if err != nil {
			return err
		}
		prior := r.secretStatus(key)
		nsCreated := prior != nil && prior.ClusterID == c.ID && prior.Spec.Namespace == spec.Namespace && prior.NamespaceCreated
		err = kubeCall(ctx, "reading namespace "+spec.Namespace, func(ctx context.Context) error {
			_, err := cs.CoreV1().Namespaces().Get(ctx, spec.Namespace, metav1.GetOptions{})
			return err
		})
		if apierrors.IsNotFound(err) {
			if !spec.CreateNamespace {
				return fmt.Errorf("%s: namespace %s does not exist in cluster %s; create it, or set create_namespace = true on kubernetes_secrets.%s", what, spec.Namespace, c.Name, key)
			}
			ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: spec.Namespace, Labels: map[string]string{LabelManagedBy: ManagedByValue, LabelStack: r.spec.Name}}}
			err := kubeCall(ctx, "creating namespace "+spec.Namespace, func(ctx context.Context) error {
				_, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
				return err
			})
			if err != nil && !apierrors.IsAlreadyExists(err) {
				return kubeErr("creating namespace "+spec.Namespace+" for "+what, c, err)
			}
			tflog.Info(ctx, "created a namespace for a connection Secret", map[string]any{"namespace": spec.Namespace, "cluster": c.Name})
			nsCreated = true
		} else if err != nil {
			return kubeErr("reading namespace "+spec.Namespace+" for "+what, c, err)
		}

		labels := r.secretLabels(key, spec)
		secrets := cs.CoreV1().Secrets(spec.Namespace)
		var found, written *corev1.Secret
		err = kubeCall(ctx, "reading "+what, func(ctx context.Context) (err error) {
			found, err = secrets.Get(ctx, spec.Name, metav1.GetOptions{})
			return err
		})
		switch {
		case apierrors.IsNotFound(err):
			s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: spec.Name, Namespace: spec.Namespace, Labels: labels}, Type: corev1.SecretTypeOpaque, Data: data}
			err = kubeCall(ctx, "creating "+what, func(ctx context.Context) (err error) {
				written, err = secrets.Create(ctx, s, metav1.CreateOptions{})
				return err
			})
			if err != nil {
				return kubeErr("creating "+what, c, err)
			}
			tflog.Info(ctx, "wrote a connection Secret", map[string]any{"secret": key, "namespace": spec.Namespace, "name": spec.Name, "cluster": c.Name})
		case err != nil:
			return kubeErr("reading "+what, c, err)
		default:
			if !r.ownedBy(found) || found.Labels[LabelSecretKey] != "" && found.Labels[LabelSecretKey] != key {
				return fmt.Errorf("%s: a Secret %s/%s already exists in cluster %s and was not written by this entry of stack %s (labels %v); delete or rename it, or choose another name", what, spec.Namespace, spec.Name, c.Name, r.spec.Name, found.Labels)
			}
			written = found
			if SecretFingerprint(found.Data) != SecretFingerprint(data) || !labelsHold(found.Labels, labels) || found.Type != corev1.SecretTypeOpaque {
				upd := found.DeepCopy()
				upd.Data, upd.StringData = data, nil
				if upd.Labels == nil {
					upd.Labels = map[string]string{}
				}
				maps.Copy(upd.Labels, labels)
				err = kubeCall(ctx, "rewriting "+what, func(ctx context.Context) (err error) {
					written, err = secrets.Update(ctx, upd, metav1.UpdateOptions{})
					return err
				})
				if err != nil {
					return kubeErr("rewriting "+what, c, err)
				}
				tflog.Info(ctx, "rewrote a connection Secret", map[string]any{"secret": key, "namespace": spec.Namespace, "name": spec.Name, "cluster": c.Name})
			}
		}
		// The Secret moved (another namespace or name) in the same
		// cluster: the one written before goes, unless retained. It goes
		// before the status moves on, so a failed delete is retried by the
		// next apply (which adopts the new Secret, labelled as ours).
		if prior != nil && prior.ClusterID == c.ID && (prior.Spec.Namespace != spec.Namespace || prior.Spec.Name != spec.Name) && !prior.Spec.RetainOnDestroy {
			if err := r.deleteSecret(ctx, c, key, prior.Spec); err != nil {
				return err
			}
		}
		fp := SecretFingerprint(written.Data)
		r.setSecretStatus(key, &KubernetesSecretStatus{
			Spec: spec, ClusterID: c.ID, UID: string(written.UID),
			Keys: slices.Sorted(maps.Keys(written.Data)), Fingerprint: fp, Want: fp,
			NamespaceCreated: nsCreated,
		})
		return nil
	}
}

func labelsHold(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// deleteSecret deletes the Secret spec names in cluster c if this stack
// wrote it; one already gone is fine.
func (r *run) deleteSecret(ctx context.Context, c *ClusterStatus, key string, spec KubernetesSecretSpec) error {
	what := fmt.Sprintf("kubernetes secret %s (%s/%s)", key, spec.Namespace, spec.Name)
	cs, err := r.kube(ctx, c)
	if err != nil {
		return err
	}
	var found *corev1.Secret
	err = kubeCall(ctx, "reading "+what, func(ctx context.Context) (err error) {
		found, err = cs.CoreV1().Secrets(spec.Namespace).Get(ctx, spec.Name, metav1.GetOptions{})
		return err
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return kubeErr("reading "+what+" before deleting it", c, err)
	}
	if !r.ownedBy(found) {
		r.warn("Secret left in place", "%s in cluster %s no longer carries the labels of stack %s, so it was left in place; delete it yourself if it is not used.", what, c.Name, r.spec.Name)
		return nil
	}
	uid := found.UID
	err = kubeCall(ctx, "deleting "+what, func(ctx context.Context) error {
		return cs.CoreV1().Secrets(spec.Namespace).Delete(ctx, spec.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return kubeErr("deleting "+what, c, err)
	}
	tflog.Info(ctx, "deleted a connection Secret", map[string]any{"secret": key, "namespace": spec.Namespace, "name": spec.Name, "cluster": c.Name})
	return nil
}

// removeKubernetesSecretStep deletes the Secret of an entry no longer in
// the spec (unless it was to be retained) and forgets it.
func (r *run) removeKubernetesSecretStep(key string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		prior := r.secretStatus(key)
		if prior == nil {
			return nil
		}
		c := r.currentCluster()
		if !prior.Spec.RetainOnDestroy && c != nil && c.ID == prior.ClusterID {
			if err := r.deleteSecret(ctx, c, key, prior.Spec); err != nil {
				return err
			}
		}
		r.setSecretStatus(key, nil)
		return nil
	}
}

// deleteKubernetesSecretStep removes a Secret before the stack's cluster is
// deleted (destroy). The cluster's deletion takes the Secret with it anyway,
// so a failure is a warning, not a reason to keep the cluster.
func (r *run) deleteKubernetesSecretStep(key string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		prior := r.secretStatus(key)
		if prior == nil {
			return nil
		}
		c := r.currentCluster()
		if !prior.Spec.RetainOnDestroy && c != nil && c.ID == prior.ClusterID {
			if err := r.deleteSecret(ctx, c, key, prior.Spec); err != nil {
				r.warn("Secret not deleted", "%v; it goes with cluster %s, which destroy deletes.", err, c.Name)
			}
		}
		r.setSecretStatus(key, nil)
		return nil
	}
}

// refreshKubernetesSecretStep reads the Secret and what it should hold, so
// drift (deleted, edited, stale credentials) shows in the next plan.
func (r *run) refreshKubernetesSecretStep(key string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		prior := r.secretStatus(key)
		if prior == nil {
			return nil
		}
		spec := prior.Spec
		if s, ok := r.spec.KubernetesSecrets[key]; ok {
			spec = s
		}
		c := r.currentCluster()
		if c == nil || c.ID != prior.ClusterID {
			// Not in the stack's cluster (gone or replaced): the next
			// apply writes it.
			prior.UID, prior.Fingerprint, prior.Keys = "", "", nil
			r.setSecretStatus(key, prior)
			return nil
		}
		cs, err := r.kube(ctx, c)
		if err == nil {
			var found *corev1.Secret
			err = kubeCall(ctx, "reading kubernetes secret "+key, func(ctx context.Context) (err error) {
				found, err = cs.CoreV1().Secrets(prior.Spec.Namespace).Get(ctx, prior.Spec.Name, metav1.GetOptions{})
				return err
			})
			switch {
			case apierrors.IsNotFound(err):
				prior.UID, prior.Fingerprint, prior.Keys = "", "", nil
				err = nil
			case err == nil:
				prior.UID, prior.Fingerprint = string(found.UID), SecretFingerprint(found.Data)
				prior.Keys = slices.Sorted(maps.Keys(found.Data))
			default:
				err = kubeErr(fmt.Sprintf("reading kubernetes secret %s (%s/%s)", key, prior.Spec.Namespace, prior.Spec.Name), c, err)
			}
		}
		if err != nil {
			// An unreachable API server must not block the plan: what was
			// recorded stays, and the apply tries again.
			r.warn("Secret not read", "%v", err)
			return nil
		}
		prior.Want = ""
		if data, err := r.secretContent(ctx, key, spec); err == nil {
			prior.Want = SecretFingerprint(data)
		} else {
			logf(ctx, "could not read what a Secret should hold", map[string]any{"secret": key, "error": err.Error()})
		}
		r.setSecretStatus(key, prior)
		return nil
	}
}

// addKubernetesSecretSteps adds the apply steps: one per wanted Secret,
// after its database is provisioned and the cluster (and kubeconfig) are
// done, and one per Secret no longer wanted. It returns the steps the old
// cluster's retirement waits for.
func (r *run) addKubernetesSecretSteps(g *graph) []string {
	var names []string
	for _, key := range sortedKeys(r.spec.KubernetesSecrets) {
		spec := r.spec.KubernetesSecrets[key]
		name := "kubernetes-secret:" + key
		g.add(name, []string{"cluster", "kubeconfig", "provisioned:" + spec.Database}, r.ensureKubernetesSecretStep(key))
		names = append(names, name)
	}
	for _, key := range sortedKeys(r.st.KubernetesSecrets) {
		if _, wanted := r.spec.KubernetesSecrets[key]; !wanted {
			name := "remove-kubernetes-secret:" + key
			g.add(name, []string{"cluster"}, r.removeKubernetesSecretStep(key))
			names = append(names, name)
		}
	}
	return names
}
