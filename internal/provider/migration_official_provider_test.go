package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/digitalocean/godo"

	"github.com/attach-labs/terraform-provider-attach/internal/emulator"
)

// TestAccMigrationFromOfficialProvider runs the migration of
// docs/guides/migrating-from-the-digitalocean-provider.md end to end, under
// Terraform (>= 1.7, for removed blocks: ./bin/terraform-1.8, built by
// `make tools-migration`) and OpenTofu (>= 1.10: ./bin/tofu-1.12, built by
// `make tools-ephemeral`), each against its own emulator:
//
//  1. The estate of the guide's examples/.../before configuration is made
//     through godo with the requests the official provider sends, names
//     and tags as it sets them (official_provider_estate_test.go), and its
//     terraform.tfstate is written as that provider leaves it: every
//     digitalocean_* resource with the id the provider gives it.
//  2. The guide's after/ files (stack.tf and migration.tf, the ids in its
//     import block replaced by the estate's) go into that workspace.
//
// The official provider cannot be installed here (its registry is out of
// reach, and the Go module proxy does not serve it), and both CLIs need the
// provider of every resource in the state before they plan anything, a
// removed block included: `init` fails on digitalocean/digitalocean. A
// stand-in provider would prove nothing about the real one, so the test
// does the one thing a `removed { lifecycle { destroy = false } }` block
// does to a resource, which needs no provider: it drops the entry from the
// state, with `<cli> state rm` on exactly the addresses of the guide's
// removed blocks (and the test first checks that those are every resource
// of the before configuration and of the state, so none is left behind or
// forgotten that the state does not hold). A team runs the same removed
// blocks with the official provider still installed (the guide keeps it for
// that apply): Terraform forgets the resources without calling it to
// delete anything, which is Terraform's documented behaviour, not this
// provider's. Everything after that runs as the guide says: init, the plan
// with the removed blocks and the import block, the apply, the next plans.
//
// It proves:
//   - nothing is created or destroyed: during plan and apply the emulator
//     sees no DELETE, no POST but tagging (so no object created, no upgrade,
//     no password reset) and no resize, and its inventory (every VPC, cluster,
//     node pool, database, user, db and pool, by kind, id, name and parent)
//     is the same before and after; the plan's only change is the import
//     of attach_inference_stack.ml (no create, no delete, no replace);
//   - every id is unchanged: the inventory above, the stack's state holds
//     the estate's cluster and database ids, the firewall rules keep their
//     uuids, and the user's tag team-ml is still on every object;
//   - the plan after the apply is empty, and stays empty once migration.tf
//     is deleted (the guide's last step).
func TestAccMigrationFromOfficialProvider(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1")
	}
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	guide := filepath.Join(root, "examples", "guides", "migrating-from-the-digitalocean-provider")
	clis := migrationCLIs(root)
	provider := ""
	for _, cli := range clis {
		if cli.missing == "" && provider == "" {
			provider = filepath.Join(t.TempDir(), "terraform-provider-attach_v"+migrationProviderVersion)
			buildProvider(t, provider)
		}
	}
	for _, cli := range clis {
		t.Run(cli.name, func(t *testing.T) {
			if cli.missing != "" {
				if os.Getenv("CI") == "true" {
					t.Fatal(cli.missing)
				}
				t.Skip("SKIPPING: " + cli.missing)
			}
			runMigration(t, cli, guide, provider)
		})
	}
}

// migrationCLI is one CLI the migration runs under.
type migrationCLI struct {
	name, bin string
	// host is the registry host "attach-labs/attach" and
	// "digitalocean/digitalocean" resolve to under this CLI.
	host    string
	missing string // why the CLI cannot run, with what to run
}

// envTerraformMigration names the Terraform the migration runs under;
// EnvTofuEphemeral (ATTACH_TOFU_EPHEMERAL) names the OpenTofu. make test
// sets both.
const envTerraformMigration = "ATTACH_TERRAFORM_MIGRATION"

func migrationCLIs(root string) []migrationCLI {
	// removed blocks with lifecycle { destroy = false }: Terraform 1.7,
	// OpenTofu 1.10 (before that, its removed blocks took no lifecycle).
	find := func(name, env, def, host, build string, major, minor int) migrationCLI {
		bin := os.Getenv(env)
		if bin == "" {
			bin = filepath.Join(root, "bin", def)
		}
		c := migrationCLI{name: name, bin: bin, host: host}
		if fi, err := os.Stat(bin); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			c.missing = fmt.Sprintf("the migration needs %s %d.%d or later (removed blocks with lifecycle) at %s (or %s): run `%s`", name, major, minor, bin, env, build)
			return c
		}
		v, err := cliVersion(bin)
		switch {
		case err != nil:
			c.missing = fmt.Sprintf("%s at %s: %v", name, bin, err)
		case versionBelow(v, major, minor):
			c.missing = fmt.Sprintf("%s at %s is %s: removed blocks with lifecycle need %d.%d or later: run `%s` (or point %s at one)", name, bin, v, major, minor, build, env)
		}
		return c
	}
	return []migrationCLI{
		find("terraform", envTerraformMigration, "terraform-1.8", "registry.terraform.io", "make tools-migration", 1, 7),
		find("tofu", EnvTofuEphemeral, "tofu-1.12", "registry.opentofu.org", "make tools-ephemeral", 1, 10),
	}
}

// cliVersion is `<bin> version -json`'s terraform_version (OpenTofu names
// its own version there too).
func cliVersion(bin string) (string, error) {
	cmd := exec.Command(bin, "version", "-json")
	cmd.Env = append(os.Environ(), "CHECKPOINT_DISABLE=1", "TF_CLI_CONFIG_FILE=/dev/null")
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("version -json: %v", err)
	}
	var v struct {
		Version string `json:"terraform_version"`
	}
	if err := json.Unmarshal(out, &v); err != nil || v.Version == "" {
		return "", fmt.Errorf("version -json gave no version: %s", out)
	}
	return v.Version, nil
}

func versionBelow(v string, major, minor int) bool {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return true
	}
	maj, err1 := strconv.Atoi(parts[0])
	mnr, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return true
	}
	return maj < major || maj == major && mnr < minor
}

// migrationPlaceholders are the example ids in the guide's import block,
// each replaced by the id of the estate's object.
var migrationPlaceholders = map[string]func(e *officialEstate) string{
	"bd5f5959-5e1e-4205-a714-a914373942af": func(e *officialEstate) string { return e.Cluster.ID },
	"9cc10173-e9ea-4176-9dbc-a4cee4c4ff30": func(e *officialEstate) string { return e.PG.ID },
	"2e4c8f0a-6b1d-4e3a-9c57-d8f0a1b2c3d4": func(e *officialEstate) string { return e.Cache.ID },
	"5f1b2a3c-0d4e-4f60-8a71-92b3c4d5e6f7": func(e *officialEstate) string { return e.VPC.ID },
}

var (
	resourceBlock = regexp.MustCompile(`(?m)^resource "(digitalocean_[a-z_]+)" "([a-z0-9_-]+)"`)
	removedFrom   = regexp.MustCompile(`(?m)^\s*from\s*=\s*(digitalocean_[a-z_]+\.[a-z0-9_-]+)\s*$`)
)

func runMigration(t *testing.T, cli migrationCLI, guide, provider string) {
	srv := startEmulator(t, emulator.Config{})
	api := emulatorAPI(t, srv)
	estate := createOfficialEstate(t, api)

	// The guide's removed blocks are exactly the before configuration's
	// resources, which are exactly the state's.
	var declared []string
	for _, m := range resourceBlock.FindAllStringSubmatch(readText(t, filepath.Join(guide, "before", "main.tf")), -1) {
		declared = append(declared, m[1]+"."+m[2])
	}
	var removed []string
	for _, m := range removedFrom.FindAllStringSubmatch(readText(t, filepath.Join(guide, "after", "migration.tf")), -1) {
		removed = append(removed, m[1])
	}
	sort.Strings(declared)
	sort.Strings(removed)
	if !slices.Equal(declared, estate.Addresses()) {
		t.Fatalf("before/main.tf declares %v; the estate the test makes has %v: keep them in step", declared, estate.Addresses())
	}
	if !slices.Equal(removed, declared) {
		t.Fatalf("after/migration.tf has removed blocks for %v; before/main.tf declares %v: one removed block per official resource", removed, declared)
	}

	ws := newMigrationWorkspace(t, cli, srv, provider)
	for _, f := range []string{"stack.tf", "migration.tf"} {
		text := readText(t, filepath.Join(guide, "after", f))
		for placeholder, id := range migrationPlaceholders {
			if f == "migration.tf" && !strings.Contains(text, placeholder) {
				t.Fatalf("after/migration.tf no longer holds the example id %s: update migrationPlaceholders", placeholder)
			}
			text = strings.ReplaceAll(text, placeholder, id(estate))
		}
		ws.write(f, text)
	}
	cliV, err := cliVersion(cli.bin)
	if err != nil {
		t.Fatal(err)
	}
	state, err := officialState(estate, cli.host, cliV)
	if err != nil {
		t.Fatal(err)
	}
	ws.write("terraform.tfstate", string(state))

	before := inventoryOf(srv)
	rulesBefore := firewallRules(t, api, estate.PG.ID, estate.Cache.ID)

	// The CLI reads the official provider's state without the provider.
	if got := strings.Fields(ws.must("state", "list")); !slices.Equal(got, declared) {
		t.Fatalf("state list: %v, want %v", got, declared)
	}
	// What the removed blocks do to the state (see the test's comment).
	ws.must(append([]string{"state", "rm"}, removed...)...)
	if out := strings.TrimSpace(ws.must("state", "list")); out != "" {
		t.Fatalf("state after forgetting the official resources still lists:\n%s", out)
	}

	ws.must("init", "-input=false", "-no-color")
	var mu sync.Mutex
	var writes, refused []string
	srv.SetRecorder(func(x emulator.Exchange) {
		if x.Method == "GET" {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		entry := fmt.Sprintf("%s %d", x.Route, x.Status)
		if x.Route == "" {
			entry = x.Method + " " + x.Path + " " + strconv.Itoa(x.Status)
		}
		writes = append(writes, entry)
		if createsOrDestroys(x) {
			refused = append(refused, entry)
		}
	})

	ws.must("plan", "-input=false", "-no-color", "-out=migration.tfplan")
	checkMigrationPlan(t, ws.must("show", "-json", "migration.tfplan"))
	ws.must("apply", "-input=false", "-no-color", "migration.tfplan")
	ws.emptyPlan("after the migration's apply")
	if err := os.Remove(filepath.Join(ws.dir, "migration.tf")); err != nil {
		t.Fatal(err)
	}
	ws.emptyPlan("once migration.tf is deleted")
	srv.SetRecorder(nil)

	mu.Lock()
	t.Logf("%s: writes during the migration: %v", cli.name, writes)
	if len(refused) > 0 {
		t.Errorf("the migration created, deleted or replaced objects in DigitalOcean: %v", refused)
	}
	mu.Unlock()

	if after := inventoryOf(srv); !slices.Equal(after, before) {
		t.Errorf("the emulator's objects changed in the migration:\nbefore:\n%s\nafter:\n%s", strings.Join(before, "\n"), strings.Join(after, "\n"))
	}
	if rules := firewallRules(t, api, estate.PG.ID, estate.Cache.ID); !slices.Equal(rules, rulesBefore) {
		t.Errorf("firewall rules changed: before %v, after %v", rulesBefore, rules)
	}
	checkStackAdopted(t, ws.must("show", "-json"), estate)
	checkTagsKept(t, api, estate)
}

// createsOrDestroys reports a request the migration must not send: any
// DELETE; any POST but tagging an object (the POSTs that create a VPC,
// cluster, node pool, database, user, db, pool, replica, topic or project,
// upgrade a cluster or reset a password); a database resize.
func createsOrDestroys(x emulator.Exchange) bool {
	switch {
	case x.Method == "DELETE":
		return true
	case x.Method == "POST":
		switch x.Route {
		case "POST /v2/tags", "POST /v2/tags/{tag_id}/resources":
			return false // tagging an object in place
		}
		return true
	case x.Method == "PUT" && strings.HasSuffix(x.Route, "/resize"):
		return true
	}
	return false
}

// checkMigrationPlan: the saved plan's only change is the import of
// attach_inference_stack.ml, in place.
func checkMigrationPlan(t *testing.T, planJSON string) {
	t.Helper()
	var plan struct {
		ResourceChanges []struct {
			Address string `json:"address"`
			Change  struct {
				Actions   []string `json:"actions"`
				Importing *struct {
					ID string `json:"id"`
				} `json:"importing"`
			} `json:"change"`
		} `json:"resource_changes"`
	}
	if err := json.Unmarshal([]byte(planJSON), &plan); err != nil {
		t.Fatalf("reading the plan: %v", err)
	}
	imported := false
	for _, rc := range plan.ResourceChanges {
		acts := rc.Change.Actions
		if slices.Contains(acts, "create") || slices.Contains(acts, "delete") {
			t.Errorf("the migration plans %v for %s: it must only import and update in place", acts, rc.Address)
		}
		if rc.Address != "attach_inference_stack.ml" {
			if !slices.Equal(acts, []string{"no-op"}) {
				t.Errorf("the migration plans %v for %s: only the stack changes", acts, rc.Address)
			}
			continue
		}
		if rc.Change.Importing == nil {
			t.Errorf("attach_inference_stack.ml is not imported by the plan (actions %v)", acts)
			continue
		}
		imported = true
	}
	if !imported {
		t.Fatalf("the plan has no import of attach_inference_stack.ml:\n%s", planJSON)
	}
}

// checkStackAdopted: the stack's state holds the estate's ids, and the
// state no longer holds any digitalocean_* resource.
func checkStackAdopted(t *testing.T, stateJSON string, e *officialEstate) {
	t.Helper()
	var st struct {
		Values struct {
			RootModule struct {
				Resources []struct {
					Address string         `json:"address"`
					Type    string         `json:"type"`
					Values  map[string]any `json:"values"`
				} `json:"resources"`
			} `json:"root_module"`
		} `json:"values"`
	}
	if err := json.Unmarshal([]byte(stateJSON), &st); err != nil {
		t.Fatalf("reading the state: %v", err)
	}
	var stack map[string]any
	for _, r := range st.Values.RootModule.Resources {
		if strings.HasPrefix(r.Type, "digitalocean_") {
			t.Errorf("%s is still in the state", r.Address)
		}
		if r.Address == "attach_inference_stack.ml" {
			stack = r.Values
		}
	}
	if stack == nil {
		t.Fatal("attach_inference_stack.ml is not in the state")
	}
	at := func(path ...string) any {
		var v any = stack
		for _, p := range path {
			m, _ := v.(map[string]any)
			v = m[p]
		}
		return v
	}
	for _, c := range []struct {
		what string
		got  any
		want string
	}{
		{"cluster_id", at("cluster_id"), e.Cluster.ID},
		{"databases.vectors.id", at("databases", "vectors", "id"), e.PG.ID},
		{"databases.cache.id", at("databases", "cache", "id"), e.Cache.ID},
	} {
		if c.got != c.want {
			t.Errorf("the stack's %s is %v, want the estate's %s", c.what, c.got, c.want)
		}
	}
}

// checkTagsKept: the user's tag is still on the cluster, its pools and the
// databases (the stack may add its own beside it).
func checkTagsKept(t *testing.T, api *godo.Client, e *officialEstate) {
	t.Helper()
	ctx := t.Context()
	cl, _, err := api.Kubernetes.Get(ctx, e.Cluster.ID)
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, tags []string) {
		if !slices.Contains(tags, "team-ml") {
			t.Errorf("%s lost the tag team-ml: %v", what, tags)
		}
	}
	check("cluster "+cl.Name, cl.Tags)
	for _, p := range cl.NodePools {
		check("node pool "+p.Name, p.Tags)
	}
	for _, id := range []string{e.PG.ID, e.Cache.ID} {
		db, _, err := api.Databases.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		check("database "+db.Name, db.Tags)
	}
}

// inventoryOf lists the emulator's objects by kind, id, name and parent
// (statuses left out: a pool scaling is no change of identity), sorted.
func inventoryOf(srv *emulator.Server) []string {
	var out []string
	for _, it := range srv.Inventory().Items {
		out = append(out, strings.Join([]string{it.Kind, it.ID, it.Name, it.Parent}, " "))
	}
	sort.Strings(out)
	return out
}

func firewallRules(t *testing.T, api *godo.Client, dbs ...string) []string {
	t.Helper()
	var out []string
	for _, id := range dbs {
		rules, _, err := api.Databases.GetFirewallRules(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rules {
			out = append(out, strings.Join([]string{id, r.UUID, r.Type, r.Value}, " "))
		}
	}
	sort.Strings(out)
	return out
}

func readText(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// migrationWorkspace is a working directory whose CLI installs the
// provider from a filesystem mirror and reaches the emulator only.
type migrationWorkspace struct {
	t   *testing.T
	cli migrationCLI
	dir string
	env []string
}

const migrationProviderVersion = "0.1.0"

// newMigrationWorkspace installs provider (the binary) in a filesystem
// mirror under cli's registry host.
func newMigrationWorkspace(t *testing.T, cli migrationCLI, srv *emulator.Server, provider string) *migrationWorkspace {
	t.Helper()
	base := t.TempDir()
	mirror := filepath.Join(base, "mirror")
	plugin := filepath.Join(mirror, cli.host, "attach-labs", "attach", migrationProviderVersion, runtime.GOOS+"_"+runtime.GOARCH)
	if err := os.MkdirAll(plugin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(provider, filepath.Join(plugin, filepath.Base(provider))); err != nil {
		t.Fatal(err)
	}
	addr := strconv.Quote(cli.host + "/attach-labs/attach")
	rc := filepath.Join(base, "cli.tfrc")
	if err := os.WriteFile(rc, []byte(fmt.Sprintf("provider_installation {\n  filesystem_mirror {\n    path    = %q\n    include = [%s]\n  }\n  direct {\n    exclude = [%s]\n  }\n}\n", mirror, addr, addr)), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(base, "work")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		key, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(key, "TF_") || strings.HasPrefix(key, "DIGITALOCEAN_") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "TF_CLI_CONFIG_FILE="+rc, "TF_IN_AUTOMATION=1", "TF_INPUT=0", "CHECKPOINT_DISABLE=1",
		"DIGITALOCEAN_TOKEN="+srv.Token, "DIGITALOCEAN_API_URL="+srv.URL)
	return &migrationWorkspace{t: t, cli: cli, dir: dir, env: env}
}

func (w *migrationWorkspace) write(name, content string) {
	w.t.Helper()
	if err := os.WriteFile(filepath.Join(w.dir, name), []byte(content), 0o644); err != nil {
		w.t.Fatal(err)
	}
}

// run runs the CLI in the working directory: its stdout, its stdout and
// stderr, its exit code.
func (w *migrationWorkspace) run(args ...string) (string, string, int) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, w.cli.bin, args...)
	cmd.Dir, cmd.Env = w.dir, w.env
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 30 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	all := stdout.String() + stderr.String()
	w.t.Logf("%s %s: %s", w.cli.name, strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	var exit *exec.ExitError
	switch {
	case err == nil:
		return stdout.String(), all, 0
	case errors.As(err, &exit) && ctx.Err() == nil:
		return stdout.String(), all, exit.ExitCode()
	default:
		w.t.Fatalf("%s %s: %v\n%s", w.cli.name, strings.Join(args, " "), err, all)
		return "", "", -1
	}
}

// must runs the CLI, fails the test on a non-zero exit and returns stdout.
func (w *migrationWorkspace) must(args ...string) string {
	w.t.Helper()
	stdout, all, code := w.run(args...)
	if code != 0 {
		w.t.Fatalf("%s %s exited %d:\n%s", w.cli.name, strings.Join(args, " "), code, all)
	}
	return stdout
}

func (w *migrationWorkspace) emptyPlan(when string) {
	w.t.Helper()
	_, all, code := w.run("plan", "-detailed-exitcode", "-input=false", "-no-color")
	if code != 0 {
		w.t.Fatalf("%s: the plan %s is not empty (exit %d, want 0):\n%s", w.cli.name, when, code, all)
	}
}
