// Command demo is `make demo`: it starts the DigitalOcean API emulator in
// process, installs the freshly built provider into a private filesystem
// mirror, runs `terraform init` and `terraform apply` on an example, prints
// what the example found, connects to its PostgreSQL pool and Valkey with the
// credentials from connection_env (when the data plane's servers are
// installed), shows a workload's view of the stack (the connection Secret
// the provider wrote into the cluster, read with client-go through the
// stack's kubeconfig from a real kube-apiserver, and a query through its
// pool URL, when etcd and kube-apiserver are built too), and stops the
// emulator. Nothing is downloaded and no cloud account is needed.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/digitalocean/godo"
	"golang.org/x/oauth2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/attach-labs/terraform-provider-attach/internal/dataplanecheck"
	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
	"github.com/attach-labs/terraform-provider-attach/internal/stack"
	"github.com/attach-labs/terraform-provider-attach/internal/tfrun"
)

type options struct {
	terraform string
	provider  string
	version   string
	example   string
	workdir   string
	timeScale float64
	dataPlane bool
}

func main() {
	var o options
	flag.StringVar(&o.terraform, "terraform", "bin/terraform", "Terraform CLI to run (make tools builds v1.5.7 into ./bin)")
	flag.StringVar(&o.provider, "provider", "terraform-provider-attach", "provider binary built by make build")
	flag.StringVar(&o.version, "version", "0.1.0", "version to install the provider binary as")
	flag.StringVar(&o.example, "example", "examples/quickstart", "directory of .tf files to apply")
	flag.StringVar(&o.workdir, "workdir", ".demo", "scratch directory (recreated on every run)")
	flag.Float64Var(&o.timeScale, "time-scale", emulator.DefaultTimeScale, "divide DigitalOcean's real provisioning times by this")
	flag.BoolVar(&o.dataPlane, "data-plane", true, "back the databases with real local servers and connect to them at the end, when PostgreSQL, pgbouncer and redis-server are installed")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintf(os.Stderr, "\ndemo failed: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	for _, p := range []*string{&o.terraform, &o.provider, &o.example, &o.workdir} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		*p = abs
	}
	for name, p := range map[string]string{"Terraform": o.terraform, "provider": o.provider} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%s binary %s not found: run `make demo` (it builds both)", name, p)
		}
	}

	// The data plane (real PostgreSQL, PgBouncer and Valkey servers behind
	// the API) lets the demo prove the credentials work; without the server
	// programs the demo still runs, with the API alone.
	dataPlane := false
	if err := emulator.DataPlaneAvailable(); !o.dataPlane {
		step("data plane off (-data-plane=false): the demo runs with the API alone and skips the connections at the end")
	} else if err == nil {
		dataPlane = true
	} else {
		step("no data plane on this machine (%v): the demo runs with the API alone and skips the connections at the end; "+
			"`sudo apt-get install postgresql-15 pgbouncer redis-server` turns them on", err)
	}
	srv, err := emulator.Start(emulator.Config{TimeScale: o.timeScale, DataPlane: dataPlane, DataPlaneLogf: func(string, ...any) {}})
	if err != nil {
		return err
	}
	defer func() { _ = srv.Close() }()
	// The connection Secret needs a Kubernetes API server behind the
	// cluster: the data plane runs one (etcd and kube-apiserver, built into
	// ./bin by make tools-kube) per DOKS cluster.
	kubeSecrets := false
	if dataPlane {
		step("data plane on: PostgreSQL, PgBouncer and Valkey clusters run as real servers on 127.0.0.1, TLS signed by the account's CA")
		if err := srv.KubeDataPlaneErr(); err != nil {
			step("no Kubernetes API server behind the cluster (%v): the quickstart's connection Secret is turned off "+
				"(disable_kubernetes_secrets = true) and the workload's view skipped", err)
		} else {
			kubeSecrets = true
			step("each DOKS cluster is backed by a real kube-apiserver with its own etcd on 127.0.0.1: the provider writes the app's connection Secret into it")
		}
	}
	scaled := func(d time.Duration) time.Duration {
		return (time.Duration(float64(d) / srv.TimeScale())).Round(10 * time.Millisecond)
	}
	step("DigitalOcean API emulator at %s (time scale %g: a 6-minute cluster takes %s, an 8-minute GPU pool %s), "+
		"with DigitalOcean's rough edges on (404s right after creates, names held after deletes, VPC members lingering, an autoscaler at work)",
		srv.URL, srv.TimeScale(), scaled(emulator.ClusterProvisionDuration), scaled(emulator.GPUPoolProvisionDuration))

	ws, err := tfrun.New(o.workdir, o.terraform, o.provider, o.version, o.example)
	if err != nil {
		return err
	}
	ws.Point(srv.URL, srv.Token)
	if !kubeSecrets {
		ws.Env = append(ws.Env, "TF_VAR_disable_kubernetes_secrets=true")
	}
	tf := func(args ...string) error { return ws.Run(ctx, os.Stdout, args...) }

	step("terraform init (provider %s from a local filesystem mirror)", o.version)
	if err := tf("init", "-input=false", "-no-color"); err != nil {
		return err
	}

	what := "VPC, HA cluster with a system pool and an H100 pool (0..2), PostgreSQL and Valkey with standbys"
	if kubeSecrets {
		what += ", the app's connection Secret in the cluster"
	}
	step("terraform apply: %s", what)
	start := time.Now()
	if err := tf("apply", "-auto-approve", "-input=false", "-no-color"); err != nil {
		return err
	}
	created := time.Since(start)
	// The longest chain no provider can beat: the cluster (its system pool
	// provisions with it; the GPU pool starts at zero nodes) and, alongside,
	// the databases.
	critical := scaled(max(emulator.ClusterProvisionDuration, emulator.DatabaseCreateDuration))
	createRequests := srv.TotalRequests()

	var out bytes.Buffer
	if err := ws.Run(ctx, &out, "output", "-json"); err != nil {
		return err
	}
	if err := printSummary(out.Bytes(), created, critical, createRequests); err != nil {
		return err
	}
	if dataPlane {
		// The servers start in real time, not the API's scaled time: a
		// kube-apiserver with its etcd takes seconds, and the cluster reads
		// running only once it answers, so with the Secret on it is what
		// the apply waits for (the critical path above is the API's).
		times := srv.DataPlaneStartupTimes()
		var started []string
		for _, k := range slices.Sorted(maps.Keys(times)) {
			kind, _, _ := strings.Cut(k, " ")
			started = append(started, fmt.Sprintf("%s %s", kind, times[k].Round(10*time.Millisecond)))
		}
		step("data plane start-up (real time): %s", strings.Join(started, ", "))
		if err := connect(ctx, srv, out.Bytes()); err != nil {
			return err
		}
	}
	if kubeSecrets {
		if err := workloadView(ctx, srv, out.Bytes()); err != nil {
			return err
		}
	}

	step("terraform apply -var gpu_max_nodes=4: the GPU pool's bounds change in place")
	if err := tf("apply", "-auto-approve", "-input=false", "-no-color", "-var", "gpu_max_nodes=4"); err != nil {
		return err
	}

	step("terraform destroy")
	start = time.Now()
	if err := tf("destroy", "-auto-approve", "-input=false", "-no-color", "-var", "gpu_max_nodes=4"); err != nil {
		return err
	}
	destroyed := time.Since(start)

	inv := srv.Inventory()
	step("destroy took %s; %d API requests in all; the emulator holds %d objects", destroyed.Round(time.Millisecond), srv.TotalRequests(), len(inv.Items))
	if !inv.Empty() {
		return fmt.Errorf("objects left in the emulator:\n%s", inv)
	}
	if met := roughEdgesMet(srv.StatusCounts()); met != "" {
		step("rough edges met and waited out, none visible as a failure: %s", met)
	}
	if open := srv.EverOpenDatabases(); len(open) > 0 {
		return fmt.Errorf("databases were open to the internet (no trusted sources) at some moment: %v", open)
	}
	step("done: the whole architecture came up, changed and went away; emulator stopped, scratch files in %s", o.workdir)
	return nil
}

// roughEdgesMet names the realistic answers the run got from the emulator.
func roughEdgesMet(counts map[string]int) string {
	var met []string
	for _, e := range []struct{ answer, what string }{
		{"GET /v2/databases/{database_cluster_uuid} 404", "database reads answering 404 right after the create"},
		{"POST /v2/databases/{database_cluster_uuid}/replicas 412", "replica creates refused before the first backup"},
		{"POST /v2/databases 422", "database creates refused for a held name"},
		{"POST /v2/kubernetes/clusters 422", "cluster creates refused for a held name"},
		{"DELETE /v2/vpcs/{vpc_id} 403", "VPC deletes refused while members remained"},
		{"DELETE /v2/vpcs/{vpc_id} 409", "VPC deletes refused while worker Droplets lingered"},
	} {
		if n := counts[e.answer]; n > 0 {
			met = append(met, fmt.Sprintf("%d %s", n, e.what))
		}
	}
	return strings.Join(met, "; ")
}

// printSummary shows what was built, with credentials masked.
func printSummary(outputJSON []byte, took, critical time.Duration, requests int) error {
	var outputs struct {
		ClusterID       struct{ Value string }
		ClusterEndpoint struct{ Value string }
		GPUPool         struct {
			Value struct {
				Size     string `json:"size"`
				MinNodes int    `json:"min_nodes"`
				MaxNodes int    `json:"max_nodes"`
			}
		}
		Databases struct {
			Value map[string]struct {
				ID                string `json:"id"`
				Engine            string `json:"engine"`
				NodeCount         int    `json:"node_count"`
				PrivateHost       string `json:"private_host"`
				Port              int    `json:"port"`
				AttachedClusterID string `json:"attached_cluster_id"`
			}
		}
		ConnectionEnv struct{ Value map[string]string }
	}
	raw := map[string]json.RawMessage{}
	if err := json.Unmarshal(outputJSON, &raw); err != nil {
		return fmt.Errorf("reading terraform outputs: %w", err)
	}
	for key, dst := range map[string]any{
		"cluster_id": &outputs.ClusterID, "cluster_endpoint": &outputs.ClusterEndpoint, "gpu_pool": &outputs.GPUPool,
		"databases": &outputs.Databases, "connection_env": &outputs.ConnectionEnv,
	} {
		if err := json.Unmarshal(raw[key], dst); err != nil {
			return fmt.Errorf("reading output %s: %w", key, err)
		}
	}
	step("apply took %s for a critical path of %s (ratio %.2f), %d API requests", took.Round(time.Millisecond), critical,
		took.Seconds()/critical.Seconds(), requests)
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "  cluster\t%s\t%s\n", outputs.ClusterID.Value, outputs.ClusterEndpoint.Value)
	g := outputs.GPUPool.Value
	fmt.Fprintf(w, "  gpu pool h100\t%s\tautoscaling %d..%d\n", g.Size, g.MinNodes, g.MaxNodes)
	keys := make([]string, 0, len(outputs.Databases.Value))
	for k := range outputs.Databases.Value {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		d := outputs.Databases.Value[k]
		locked := "firewall trusts the cluster only"
		if d.AttachedClusterID != outputs.ClusterID.Value {
			locked = "NOT attached to the cluster"
		}
		fmt.Fprintf(w, "  database %s\t%s x%d\t%s:%d\t%s\n", k, d.Engine, d.NodeCount, d.PrivateHost, d.Port, locked)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Println("\n  connection_env (for a Kubernetes Secret; secrets masked here):")
	envKeys := make([]string, 0, len(outputs.ConnectionEnv.Value))
	for k := range outputs.ConnectionEnv.Value {
		envKeys = append(envKeys, k)
	}
	sort.Strings(envKeys)
	for _, k := range envKeys {
		fmt.Printf("    %s=%s\n", k, maskSecret(k, outputs.ConnectionEnv.Value[k]))
	}
	return nil
}

var uriPassword = regexp.MustCompile(`://([^:/@]+):[^@]+@`)

func maskSecret(key, value string) string {
	if strings.HasSuffix(key, "_PASSWORD") {
		return "****"
	}
	return uriPassword.ReplaceAllString(value, "://$1:****@")
}

func step(format string, args ...any) {
	fmt.Printf("\n==> "+format+"\n", args...)
}

// connect proves the stack's credentials work against the data plane's real
// servers: it reads connection_env from the outputs, fetches each database's
// CA through the API as a client would, runs SELECT 1 through every
// PostgreSQL pool URL and AUTH + PING on Valkey, with TLS verified against
// the CA, and prints what it ran.
func connect(ctx context.Context, srv *emulator.Server, outputJSON []byte) error {
	var outputs struct {
		Databases struct {
			Value map[string]struct {
				ID     string `json:"id"`
				Engine string `json:"engine"`
			}
		} `json:"databases"`
		ConnectionEnv struct{ Value map[string]string } `json:"connection_env"`
	}
	if err := json.Unmarshal(outputJSON, &outputs); err != nil {
		return fmt.Errorf("reading terraform outputs: %w", err)
	}
	env := outputs.ConnectionEnv.Value
	api, err := godo.New(oauth2.NewClient(ctx, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: srv.Token})), godo.SetBaseURL(srv.URL))
	if err != nil {
		return err
	}
	step("connecting with connection_env, TLS verified against the CA from GET /v2/databases/{id}/ca (sslmode=verify-full)")
	keys := make([]string, 0, len(outputs.Databases.Value))
	for k := range outputs.Databases.Value {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	ran := 0
	for _, key := range keys {
		db := outputs.Databases.Value[key]
		ca, _, err := api.Databases.GetCA(ctx, db.ID)
		if err != nil {
			return fmt.Errorf("fetching the CA of database %s (%s): %w", key, db.ID, err)
		}
		prefix := stack.EnvPrefix(key)
		switch db.Engine {
		case "pg":
			var pools []string
			for k := range env {
				if strings.HasPrefix(k, prefix+"_") && strings.HasSuffix(k, "_POOL_URL") {
					pools = append(pools, k)
				}
			}
			sort.Strings(pools)
			if len(pools) == 0 {
				return fmt.Errorf("connection_env has no %s_*_POOL_URL for database %s: the example should define a pool", prefix, key)
			}
			for _, k := range pools {
				q, err := dataplanecheck.Postgres(ctx, env[k], ca.Certificate, true)
				if err != nil {
					return fmt.Errorf("%s (%s): %w", k, key, err)
				}
				fmt.Printf("    %s: %s as %s on %s (PgBouncer pool %s, transaction mode, simple protocol) -> %s\n", k, q.Query, q.User, q.Addr, q.Database, q.Result)
				ran++
			}
		case "valkey":
			k := prefix + "_DATABASE_URL"
			p, err := dataplanecheck.Valkey(ctx, env[k], ca.Certificate)
			if err != nil {
				return fmt.Errorf("%s (%s): %w", k, key, err)
			}
			fmt.Printf("    %s: AUTH %s ****, PING on %s (Valkey over TLS) -> %s\n", k, p.User, p.Addr, p.Reply)
			ran++
		}
	}
	if ran == 0 {
		return fmt.Errorf("no PostgreSQL pool or Valkey database in the outputs to connect to")
	}
	return nil
}

// workloadView shows the stack as a workload in its cluster sees it: it
// loads the stack's kubeconfig from the apply's outputs (or, kept out of
// state, from GET /v2/kubernetes/clusters/{id}/kubeconfig), reads each
// connection Secret the stack wrote with client-go from the cluster's real
// kube-apiserver, prints its labels and keys (values masked), and runs
// SELECT 1 through its pool URL with TLS verified against its ca.crt.
func workloadView(ctx context.Context, srv *emulator.Server, outputJSON []byte) error {
	var outputs struct {
		ClusterID         struct{ Value string } `json:"cluster_id"`
		Kubeconfig        struct{ Value string } `json:"kubeconfig"`
		KubernetesSecrets struct {
			Value map[string]struct {
				Namespace string   `json:"namespace"`
				Name      string   `json:"name"`
				UID       string   `json:"uid"`
				Keys      []string `json:"keys"`
			}
		} `json:"kubernetes_secrets"`
	}
	if err := json.Unmarshal(outputJSON, &outputs); err != nil {
		return fmt.Errorf("reading terraform outputs: %w", err)
	}
	if len(outputs.KubernetesSecrets.Value) == 0 {
		return fmt.Errorf("the example's kubernetes_secrets output is empty: it should deliver a connection Secret into the cluster")
	}
	kc, from := outputs.Kubeconfig.Value, "the apply's kubeconfig output"
	if kc == "" {
		api, err := godo.New(oauth2.NewClient(ctx, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: srv.Token})), godo.SetBaseURL(srv.URL))
		if err != nil {
			return err
		}
		k, _, err := api.Kubernetes.GetKubeConfig(ctx, outputs.ClusterID.Value, nil)
		if err != nil {
			return fmt.Errorf("fetching the kubeconfig of cluster %s: %w", outputs.ClusterID.Value, err)
		}
		kc, from = string(k.KubeconfigYAML), "GET /v2/kubernetes/clusters/{id}/kubeconfig"
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig([]byte(kc))
	if err != nil {
		return fmt.Errorf("loading the kubeconfig of cluster %s: %w", outputs.ClusterID.Value, err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("building a Kubernetes client for %s: %w", cfg.Host, err)
	}
	version, err := cs.Discovery().ServerVersion()
	if err != nil {
		return fmt.Errorf("asking the cluster's API server %s for its version: %w", cfg.Host, err)
	}
	step("a workload's view: the cluster's API server %s (Kubernetes %s) through %s, read with client-go", cfg.Host, version.GitVersion, from)
	for _, key := range slices.Sorted(maps.Keys(outputs.KubernetesSecrets.Value)) {
		want := outputs.KubernetesSecrets.Value[key]
		s, err := cs.CoreV1().Secrets(want.Namespace).Get(ctx, want.Name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("reading Secret %s/%s (kubernetes_secrets[%q]) from the cluster: %w", want.Namespace, want.Name, key, err)
		}
		if string(s.UID) != want.UID {
			return fmt.Errorf("Secret %s/%s has uid %s in the cluster, the apply says %s", want.Namespace, want.Name, s.UID, want.UID)
		}
		var labels []string
		for _, l := range slices.Sorted(maps.Keys(s.Labels)) {
			labels = append(labels, l+"="+s.Labels[l])
		}
		fmt.Printf("  Secret %s/%s (uid %s), labels %s:\n", s.Namespace, s.Name, s.UID, strings.Join(labels, ", "))
		for _, k := range slices.Sorted(maps.Keys(s.Data)) {
			fmt.Printf("    %s=%s\n", k, maskSecretData(k, s.Data[k]))
		}
		ca := s.Data[stack.CACertSecretKey]
		var pools []string
		for k := range s.Data {
			if strings.HasSuffix(k, "_POOL_URL") {
				pools = append(pools, k)
			}
		}
		if len(pools) == 0 {
			return fmt.Errorf("Secret %s/%s has no *_POOL_URL key: the example's kubernetes_secrets entry %q should name a pool", s.Namespace, s.Name, key)
		}
		sort.Strings(pools)
		for _, k := range pools {
			q, err := dataplanecheck.Postgres(ctx, string(s.Data[k]), ca, true)
			if err != nil {
				return fmt.Errorf("%s from Secret %s/%s: %w", k, s.Namespace, s.Name, err)
			}
			fmt.Printf("    %s from the Secret, sslmode=verify-full against its ca.crt: %s as %s on %s (PgBouncer pool %s) -> %s\n",
				k, q.Query, q.User, q.Addr, q.Database, q.Result)
		}
	}
	return nil
}

// maskSecretData shows a Secret's value as a workload's logs may: passwords
// and the passwords in URLs masked, the CA certificate summarised.
func maskSecretData(key string, value []byte) string {
	switch {
	case key == stack.CACertSecretKey:
		return fmt.Sprintf("(PEM certificate, %d bytes)", len(value))
	case strings.HasSuffix(key, "PASSWORD"):
		return "****"
	}
	return maskSecret(key, string(value))
}
