package emulator

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"math/big"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The data plane (Config.DataPlane): real local servers behind the API's
// clusters, so the credentials the API hands out can be used.
//
//   - PostgreSQL clusters: a PostgreSQL server (initdb + postgres) whose
//     users, databases and passwords follow the API (dataplane_pg.go);
//   - PgBouncer pools: one pgbouncer per pool, in the pool's mode;
//   - Valkey clusters: a Redis-compatible server (dataplane_valkey.go);
//   - DOKS clusters: a kube-apiserver with its own etcd (dataplane_kube.go),
//     when etcd and kube-apiserver are found (make tools-kube); without
//     them DOKS clusters keep their DigitalOcean-shaped endpoints.
//
// Every server listens on a free 127.0.0.1 port, speaks TLS only, and
// presents a certificate for localhost/127.0.0.1 signed by the account's
// database CA, the one GET /v2/databases/{id}/ca returns (as DigitalOcean
// does: its servers' certificates chain to that CA, so sslmode=verify-full
// works with it). Connection details then point at 127.0.0.1 and those ports.
// MySQL, MongoDB, OpenSearch and Kafka have no data plane: their connection
// details stay the DigitalOcean-shaped hosts nothing answers on.
//
// Servers run as the postgres system user when the emulator runs as root
// (PostgreSQL and PgBouncer refuse root), in their own process group, with
// their files in a temporary directory; deleting the cluster or pool, Reset
// and Close stop them and remove the directory.

// dpSuperUser is the server's superuser the emulator manages it with
// (DigitalOcean's own service user has this name, which is why the API
// reserves it).
const dpSuperUser = "_dodb"

// dpLoopback is the host connection details name in data-plane mode.
const dpLoopback = "127.0.0.1"

// dpOpTimeout bounds one mirrored change (a user, a database, a pool).
const dpOpTimeout = 10 * time.Second

// dpStartTimeout bounds a server's start.
const dpStartTimeout = 60 * time.Second

// dataPlaneBinaries are the server programs the data plane runs.
type dataPlaneBinaries struct {
	PGBin     string // directory of initdb and postgres
	PgBouncer string
	Redis     string
}

// findDataPlaneBinaries locates PostgreSQL (the newest under
// /usr/lib/postgresql, or initdb on PATH), pgbouncer and a Valkey or Redis
// server, naming the Debian packages of whatever is missing.
func findDataPlaneBinaries() (dataPlaneBinaries, error) {
	var b dataPlaneBinaries
	var missing []string
	if dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres"); len(dirs) > 0 {
		sort.Slice(dirs, func(i, j int) bool { return pgMajor(dirs[i]) > pgMajor(dirs[j]) })
		b.PGBin = filepath.Dir(dirs[0])
	} else if p, err := exec.LookPath("initdb"); err == nil {
		b.PGBin = filepath.Dir(p)
	} else {
		missing = append(missing, "PostgreSQL server (initdb, postgres; Debian package postgresql-15)")
	}
	b.PgBouncer = lookBinary("pgbouncer")
	if b.PgBouncer == "" {
		missing = append(missing, "pgbouncer (Debian package pgbouncer)")
	}
	if b.Redis = lookBinary("valkey-server"); b.Redis == "" {
		b.Redis = lookBinary("redis-server")
	}
	if b.Redis == "" {
		missing = append(missing, "valkey-server or redis-server (Debian package redis-server)")
	}
	if len(missing) > 0 {
		return b, fmt.Errorf("the data plane needs %s: install them (apt-get install postgresql-15 pgbouncer redis-server) or run without -data-plane", strings.Join(missing, ", "))
	}
	return b, nil
}

func pgMajor(path string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(path))))
	return n
}

// lookBinary finds name on PATH or in the sbin directories a non-root PATH
// often lacks (Debian installs pgbouncer in /usr/sbin).
func lookBinary(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/sbin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// DataPlaneAvailable reports whether this machine has the servers the data
// plane runs, and if not, what to install.
func DataPlaneAvailable() error {
	_, err := findDataPlaneBinaries()
	return err
}

// dataPlane owns the servers. Lock order: Emulator.mu, then dataPlane.mu,
// then an instance's mu; goroutines it starts never take Emulator.mu.
type dataPlane struct {
	bins dataPlaneBinaries
	// kubeBins run DOKS clusters' API servers; kubeErr says why they
	// cannot (then DOKS clusters have no data plane).
	kubeBins kubeBinaries
	kubeErr  error
	logf     func(format string, args ...any)
	// cred runs the servers as another user (postgres, when we are root);
	// nil runs them as ourselves.
	cred     *syscall.Credential
	uid, gid int

	mu     sync.Mutex
	pg     map[string]*pgInstance     // by cluster id
	kv     map[string]*valkeyInstance // by cluster id
	kube   map[string]*kubeInstance   // by DOKS cluster id
	ports  map[int]bool               // handed out, so two servers never get the same one
	dirs   []string                   // every directory made, removed again on close
	closed bool
	wg     sync.WaitGroup // starts and stops under way
}

func newDataPlane(logf func(string, ...any)) (*dataPlane, error) {
	bins, err := findDataPlaneBinaries()
	if err != nil {
		return nil, err
	}
	if logf == nil {
		logf = log.Printf
	}
	dp := &dataPlane{bins: bins, logf: logf, pg: map[string]*pgInstance{}, kv: map[string]*valkeyInstance{}, kube: map[string]*kubeInstance{}, ports: map[int]bool{},
		uid: os.Getuid(), gid: os.Getgid()}
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root ("root" execution of the PostgreSQL server is not permitted).
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("the data plane runs its servers as the postgres user when the emulator runs as root, but there is none (%v): install postgresql-15 or run the emulator as an ordinary user", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		dp.uid, dp.gid = uid, gid
		dp.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	dp.kubeBins, dp.kubeErr = findKubeBinaries()
	return dp, nil
}

// freePort picks a free loopback port no other server of ours was given.
func (dp *dataPlane) freePort() (int, error) {
	for range 20 {
		ln, err := net.Listen("tcp", dpLoopback+":0")
		if err != nil {
			return 0, fmt.Errorf("finding a free loopback port: %w", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
		if !dp.ports[port] {
			dp.ports[port] = true
			return port, nil
		}
	}
	return 0, errors.New("finding a free loopback port: every port offered was already given to another server")
}

// newDir makes a temporary directory owned by the servers' user.
func (dp *dataPlane) newDir(kind string) (string, error) {
	dir, err := os.MkdirTemp("", "attach-emulator-"+kind+"-")
	if err != nil {
		return "", fmt.Errorf("making a directory for %s: %w", kind, err)
	}
	dp.dirs = append(dp.dirs, dir)
	if err := os.Chown(dir, dp.uid, dp.gid); err != nil {
		return "", fmt.Errorf("handing %s to uid %d: %w", dir, dp.uid, err)
	}
	return dir, nil
}

// writeFile writes a file in an instance directory, owned by the servers' user.
func (dp *dataPlane) writeFile(path string, data []byte, mode fs.FileMode) error {
	if err := os.WriteFile(path, data, mode); err != nil {
		return err
	}
	return os.Chown(path, dp.uid, dp.gid)
}

// writeTLS writes ca.crt, server.crt and server.key into dir: a server
// certificate for localhost, 127.0.0.1 and ::1 signed by ca.
func (dp *dataPlane) writeTLS(dir string, ca *dbCA) error {
	certPEM, keyPEM, err := ca.serverCertificate()
	if err != nil {
		return err
	}
	for name, f := range map[string]struct {
		data []byte
		mode fs.FileMode
	}{"ca.crt": {ca.certPEM, 0o644}, "server.crt": {certPEM, 0o644}, "server.key": {keyPEM, 0o600}} {
		if err := dp.writeFile(filepath.Join(dir, name), f.data, f.mode); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
	}
	return nil
}

func (dp *dataPlane) command(dir, bin string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "LC_ALL=C", "HOME=" + dir}
	// Own process group (stopped as a group), killed if the emulator dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: dp.cred}
	return cmd
}

// async runs fn as tracked work Close waits for.
func (dp *dataPlane) async(fn func()) {
	dp.wg.Add(1)
	go func() {
		defer dp.wg.Done()
		fn()
	}()
}

// forget releases an instance's port and directory bookkeeping.
func (dp *dataPlane) forget(in *dpInstance) {
	dp.mu.Lock()
	delete(dp.ports, in.port)
	dp.mu.Unlock()
}

// close stops every server, waits for starts and stops under way, and
// removes every directory the data plane made.
func (dp *dataPlane) close() {
	if dp == nil {
		return
	}
	dp.mu.Lock()
	dp.closed = true
	dp.mu.Unlock()
	dp.stopAll()
	dp.wg.Wait()
	dp.mu.Lock()
	dirs := dp.dirs
	dp.dirs = nil
	dp.mu.Unlock()
	for _, d := range dirs {
		_ = os.RemoveAll(d)
	}
}

// stopAll stops every server (Reset and close).
func (dp *dataPlane) stopAll() {
	if dp == nil {
		return
	}
	dp.mu.Lock()
	var all []func()
	for id, in := range dp.pg {
		all = append(all, in.teardown)
		delete(dp.pg, id)
	}
	for id, in := range dp.kv {
		all = append(all, in.teardown)
		delete(dp.kv, id)
	}
	for id, in := range dp.kube {
		all = append(all, in.teardown)
		delete(dp.kube, id)
	}
	dp.mu.Unlock()
	var wg sync.WaitGroup
	for _, fn := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn()
		}()
	}
	wg.Wait()
}

// ready reports whether the server behind cluster id accepts connections,
// and the error that stopped it from starting. ok is false when the
// cluster has no server.
func (dp *dataPlane) ready(id string) (ready bool, err error, ok bool) {
	if dp == nil {
		return false, nil, false
	}
	dp.mu.Lock()
	var in *dpInstance
	if p := dp.pg[id]; p != nil {
		in = &p.dpInstance
	} else if k := dp.kv[id]; k != nil {
		in = &k.dpInstance
	}
	dp.mu.Unlock()
	if in == nil {
		return false, nil, false
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.ready, in.err, true
}

// endpoint is the loopback port of cluster id's server.
func (dp *dataPlane) endpoint(id string) (int, bool) {
	if dp == nil {
		return 0, false
	}
	dp.mu.Lock()
	defer dp.mu.Unlock()
	if p := dp.pg[id]; p != nil {
		return p.port, true
	}
	if k := dp.kv[id]; k != nil {
		return k.port, true
	}
	return 0, false
}

// removeCluster stops cluster id's servers in the background.
func (dp *dataPlane) removeCluster(id string) {
	if dp == nil {
		return
	}
	dp.mu.Lock()
	var stop func()
	if p := dp.pg[id]; p != nil {
		stop = p.teardown
		delete(dp.pg, id)
	} else if k := dp.kv[id]; k != nil {
		stop = k.teardown
		delete(dp.kv, id)
	}
	dp.mu.Unlock()
	if stop != nil {
		dp.async(stop)
	}
}

// StartupTimes lists how long each running server took to start, by
// "engine cluster-id" (pools: "pgbouncer cluster-id/pool").
func (e *Emulator) DataPlaneStartupTimes() map[string]time.Duration {
	out := map[string]time.Duration{}
	dp := e.dp
	if dp == nil {
		return out
	}
	dp.mu.Lock()
	defer dp.mu.Unlock()
	for id, p := range dp.pg {
		if d := p.startedIn(); d > 0 {
			out["postgresql "+id] = d
		}
		p.mu.Lock()
		for name, pl := range p.pools {
			out["pgbouncer "+id+"/"+name] = pl.startedIn()
		}
		p.mu.Unlock()
	}
	for id, k := range dp.kv {
		if d := k.startedIn(); d > 0 {
			out["valkey "+id] = d
		}
	}
	for id, k := range dp.kube {
		if d := k.startedIn(); d > 0 {
			out["kube-apiserver "+id] = d
		}
	}
	return out
}

// ---- one server's files and processes ----

// dpInstance is what every server has: a directory, a port and processes.
type dpInstance struct {
	dp    *dataPlane
	label string // e.g. `PostgreSQL of cluster "main"`
	dir   string
	port  int

	mu      sync.Mutex
	procs   []*dpProcess
	removed bool
	ready   bool
	err     error
	startup time.Duration
	closers []func() // client connections to close before stopping
}

func (in *dpInstance) startedIn() time.Duration {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.startup
}

// spawn starts cmd as one of the instance's processes, unless the instance
// was removed meanwhile.
func (in *dpInstance) spawn(name string, cmd *exec.Cmd, stopSig syscall.Signal) (*dpProcess, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.removed {
		return nil, fmt.Errorf("%s was stopped while starting", in.label)
	}
	p := &dpProcess{name: name, cmd: cmd, out: &tailBuffer{}, done: make(chan struct{}), stopSig: stopSig}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: starting %s: %w", in.label, name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	in.procs = append(in.procs, p)
	return p, nil
}

// run runs cmd to completion (initdb), as a process teardown can kill.
func (in *dpInstance) run(name string, cmd *exec.Cmd, timeout time.Duration) error {
	p, err := in.spawn(name, cmd, syscall.SIGTERM)
	if err != nil {
		return err
	}
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.stop(time.Second)
		return fmt.Errorf("%s: %s did not finish within %s: %s", in.label, name, timeout, p.out.String())
	}
	if p.err != nil {
		return fmt.Errorf("%s: %s failed (%v): %s", in.label, name, p.err, p.out.String())
	}
	return nil
}

// finish records the outcome of a start, and tears down at once when the
// instance was removed while starting.
func (in *dpInstance) finish(began time.Time, err error) {
	in.mu.Lock()
	removed := in.removed
	if err == nil && !removed {
		in.ready, in.startup = true, time.Since(began)
	}
	in.mu.Unlock()
	switch {
	case removed:
		in.teardownFiles()
	case err != nil:
		in.dp.logf("data plane: %v", err)
		in.teardownFiles()
		// Published once torn down: whoever sees the failure (the
		// cluster's state turning to error) finds nothing left behind.
		in.mu.Lock()
		in.err = err
		in.mu.Unlock()
	default:
		in.dp.logf("data plane: %s listening on %s:%d with TLS (started in %s)", in.label, dpLoopback, in.port, in.startedIn().Round(time.Millisecond))
	}
}

// teardownFiles stops the processes, closes clients and removes the
// directory; the instance stays removed. It is safe to call repeatedly.
func (in *dpInstance) teardownFiles() {
	in.mu.Lock()
	in.removed = true
	procs, closers := in.procs, in.closers
	in.procs, in.closers = nil, nil
	in.mu.Unlock()
	for _, c := range closers {
		c()
	}
	for _, p := range procs {
		p.stop(5 * time.Second)
	}
	if in.dir != "" {
		_ = os.RemoveAll(in.dir)
	}
	in.dp.forget(in)
}

// waitListening polls until something accepts TCP connections on port.
func (in *dpInstance) waitListening(p *dpProcess, deadline time.Time) error {
	for {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(dpLoopback, strconv.Itoa(in.port)), time.Second)
		if err == nil {
			_ = c.Close()
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s: %s exited (%v): %s", in.label, p.name, p.err, p.out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %s did not listen on %s:%d within %s: %s", in.label, p.name, dpLoopback, in.port, dpStartTimeout, p.out.String())
		}
	}
}

// dpProcess is one running server process.
type dpProcess struct {
	name    string
	cmd     *exec.Cmd
	out     *tailBuffer
	done    chan struct{}
	err     error
	stopSig syscall.Signal
}

// stop signals the process's group, then kills it after grace.
func (p *dpProcess) stop(grace time.Duration) {
	select {
	case <-p.done:
		// Already reaped: its group id may belong to someone else by now.
		return
	default:
	}
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, p.stopSig)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
	// Children the leader left behind (PostgreSQL backends) go with the group.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// tailBuffer keeps the last 4 KiB a process wrote, for error messages.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tailBuffer) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if len(t.buf) > 4096 {
		t.buf = t.buf[len(t.buf)-4096:]
	}
	return len(b), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}

// ---- the account's database CA ----

// dbCA is the account's database CA: the certificate GET .../ca returns
// and the key the data plane signs server certificates with.
type dbCA struct {
	certPEM []byte
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
}

// newDBCA makes a self-signed CA, as the account's database CA
// (DigitalOcean has one per account, shared by its clusters).
func newDBCA() *dbCA { return newCA("Project CA (emulator)") }

// newCA makes a self-signed CA named cn.
func newCA(cn string) *dbCA {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          dpSerial(),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"DigitalOcean emulator"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(10, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return &dbCA{certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), cert: cert, key: key}
}

func dpSerial() *big.Int {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		panic(err)
	}
	return serial
}

// serverCertificate issues a certificate for localhost, 127.0.0.1 and ::1.
func (ca *dbCA) serverCertificate() (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: dpSerial(),
		Subject:      pkix.Name{CommonName: "localhost", Organization: []string{"DigitalOcean emulator"}},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, nil, fmt.Errorf("signing a server certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

// reserveLocked takes a free loopback port and a fresh folder for a new
// server of kind; callers hold dp.mu.
func (dp *dataPlane) reserveLocked(kind string) (int, string, error) {
	if dp.closed {
		return 0, "", errors.New("the data plane is closed")
	}
	port, err := dp.freePort()
	if err != nil {
		return 0, "", err
	}
	dir, err := dp.newDir(kind)
	if err != nil {
		return 0, "", err
	}
	return port, dir, nil
}
