package emulator

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The PostgreSQL data plane: one PostgreSQL server per cluster, one
// pgbouncer per connection pool. The server's bootstrap superuser is
// _dodb, which the emulator manages it as; doadmin is an ordinary role with
// CREATEDB, CREATEROLE and REPLICATION, as on DigitalOcean, and owns the
// databases the API creates. Only TLS connections from loopback are
// accepted (hostssl lines only: DigitalOcean refuses unencrypted ones).

type pgInstance struct {
	dpInstance
	ca        *dbCA
	superPass string

	// sqlMu serialises the emulator's SQL on admin.
	sqlMu sync.Mutex
	admin *pgx.Conn
	pools map[string]*pgPoolInstance // guarded by mu
}

// pgPoolInstance is the pgbouncer behind one connection pool.
type pgPoolInstance struct {
	dpInstance
	pg     *pgInstance
	spec   dbPool
	forced string // the pool's fixed user's password ("" for inbound-user pools)
	proc   *dpProcess
}

// startPostgres registers cluster cl's server and starts it in the
// background; the cluster comes online once it accepts connections.
func (dp *dataPlane) startPostgres(cl *dbCluster, ca *dbCA) error {
	if dp == nil {
		return nil
	}
	dp.mu.Lock()
	defer dp.mu.Unlock()
	port, dir, err := dp.reserveLocked("pg")
	if err != nil {
		return err
	}
	in := &pgInstance{dpInstance: dpInstance{dp: dp, label: fmt.Sprintf("PostgreSQL of cluster %q", cl.Name), dir: dir, port: port},
		ca: ca, superPass: randomHex(16), pools: map[string]*pgPoolInstance{}}
	dp.pg[cl.ID] = in
	adminPass, adminDB := cl.admin().Password, cl.Engine.AdminDB
	dp.async(func() {
		began := time.Now()
		in.finish(began, in.start(ca, adminPass, adminDB))
	})
	return nil
}

func (in *pgInstance) start(ca *dbCA, adminPass, adminDB string) error {
	dp := in.dp
	deadline := time.Now().Add(dpStartTimeout)
	if err := dp.writeTLS(in.dir, ca); err != nil {
		return fmt.Errorf("%s: %w", in.label, err)
	}
	pwfile := filepath.Join(in.dir, "pwfile")
	if err := dp.writeFile(pwfile, []byte(in.superPass+"\n"), 0o600); err != nil {
		return fmt.Errorf("%s: writing the superuser password: %w", in.label, err)
	}
	data := filepath.Join(in.dir, "data")
	initdb := dp.command(in.dir, filepath.Join(dp.bins.PGBin, "initdb"), "-D", data, "-U", dpSuperUser, "--pwfile="+pwfile,
		"--auth=scram-sha-256", "--no-locale", "-E", "UTF8", "--no-sync", "--no-instructions")
	if err := in.run("initdb", initdb, dpStartTimeout); err != nil {
		return err
	}
	_ = os.Remove(pwfile)
	hba := "# TLS from loopback only, as DigitalOcean accepts TLS only.\n" +
		"hostssl all all 127.0.0.1/32 scram-sha-256\nhostssl all all ::1/128 scram-sha-256\n"
	if err := dp.writeFile(filepath.Join(data, "pg_hba.conf"), []byte(hba), 0o600); err != nil {
		return fmt.Errorf("%s: writing pg_hba.conf: %w", in.label, err)
	}
	postgres := dp.command(in.dir, filepath.Join(dp.bins.PGBin, "postgres"), "-D", data,
		"-c", "listen_addresses="+dpLoopback, "-c", "port="+strconv.Itoa(in.port), "-c", "unix_socket_directories=",
		"-c", "ssl=on", "-c", "ssl_cert_file="+filepath.Join(in.dir, "server.crt"), "-c", "ssl_key_file="+filepath.Join(in.dir, "server.key"),
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "shared_buffers=16MB", "-c", "dynamic_shared_memory_type=mmap", "-c", "max_connections=100",
		"-c", "logging_collector=off", "-c", "log_min_messages=warning")
	// SIGINT is PostgreSQL's fast shutdown.
	proc, err := in.spawn("postgres", postgres, syscall.SIGINT)
	if err != nil {
		return err
	}
	conn, err := in.waitConnect(proc, deadline)
	if err != nil {
		return err
	}
	in.mu.Lock()
	in.admin = conn
	in.closers = append(in.closers, func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Close(ctx)
	})
	in.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), dpOpTimeout)
	defer cancel()
	return in.exec(ctx, "creating doadmin and "+adminDB,
		"CREATE ROLE doadmin LOGIN CREATEDB CREATEROLE REPLICATION PASSWORD "+pgLiteral(adminPass),
		"CREATE DATABASE "+pgIdent(adminDB)+" OWNER doadmin")
}

// connString reaches the server as the superuser over verified TLS.
func (in *pgInstance) connString(db string) string {
	return fmt.Sprintf("host=%s port=%d user=%s password=%s dbname=%s sslmode=verify-full sslrootcert=%s connect_timeout=5",
		dpLoopback, in.port, dpSuperUser, in.superPass, db, filepath.Join(in.dir, "ca.crt"))
}

// waitConnect polls until the server accepts the superuser over TLS.
func (in *pgInstance) waitConnect(proc *dpProcess, deadline time.Time) (*pgx.Conn, error) {
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		conn, err := pgx.Connect(ctx, in.connString("postgres"))
		cancel()
		if err == nil {
			return conn, nil
		}
		select {
		case <-proc.done:
			return nil, fmt.Errorf("%s: postgres exited (%v): %s", in.label, proc.err, proc.out.String())
		case <-time.After(25 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s: no TLS connection within %s (%v): %s", in.label, dpStartTimeout, err, proc.out.String())
		}
	}
}

// exec runs statements as the superuser.
func (in *pgInstance) exec(ctx context.Context, what string, stmts ...string) error {
	in.sqlMu.Lock()
	defer in.sqlMu.Unlock()
	in.mu.Lock()
	conn := in.admin
	in.mu.Unlock()
	if conn == nil {
		return fmt.Errorf("%s is not running", in.label)
	}
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			return fmt.Errorf("%s: %s: %w", in.label, what, err)
		}
	}
	return nil
}

// teardown stops the pools' pgbouncers, then the server.
func (in *pgInstance) teardown() {
	in.mu.Lock()
	pools := make([]*pgPoolInstance, 0, len(in.pools))
	for _, p := range in.pools {
		pools = append(pools, p)
	}
	in.pools = map[string]*pgPoolInstance{}
	in.mu.Unlock()
	for _, p := range pools {
		p.teardownFiles()
	}
	in.teardownFiles()
}

func pgLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
func pgIdent(s string) string   { return pgx.Identifier{s}.Sanitize() }

// pgFor finds cluster id's running server; nil when it has none.
func (dp *dataPlane) pgFor(id string) *pgInstance {
	if dp == nil {
		return nil
	}
	dp.mu.Lock()
	defer dp.mu.Unlock()
	return dp.pg[id]
}

func dpContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), dpOpTimeout)
}

// ---- users and databases ----

func (dp *dataPlane) pgCreateUser(id string, u *dbUser) error {
	in := dp.pgFor(id)
	if in == nil {
		return nil
	}
	ctx, cancel := dpContext()
	defer cancel()
	return in.exec(ctx, "creating user "+u.Name, "CREATE ROLE "+pgIdent(u.Name)+" LOGIN "+pgReplication(u.settings)+" PASSWORD "+pgLiteral(u.Password))
}

// pgReplication renders settings.pg_allow_replication as a role option.
func pgReplication(st *dbUserSettings) string {
	if st != nil && st.PGAllowReplication != nil && *st.PGAllowReplication {
		return "REPLICATION"
	}
	return "NOREPLICATION"
}

func (dp *dataPlane) pgUpdateUser(id string, u *dbUser) error {
	in := dp.pgFor(id)
	if in == nil {
		return nil
	}
	ctx, cancel := dpContext()
	defer cancel()
	return in.exec(ctx, "updating user "+u.Name, "ALTER ROLE "+pgIdent(u.Name)+" "+pgReplication(u.settings))
}

// pgSetPassword follows reset_auth: the role's password, and the
// pgbouncers of pools with that fixed user.
func (dp *dataPlane) pgSetPassword(id string, u *dbUser) error {
	in := dp.pgFor(id)
	if in == nil {
		return nil
	}
	ctx, cancel := dpContext()
	defer cancel()
	if err := in.exec(ctx, "resetting the password of "+u.Name, "ALTER ROLE "+pgIdent(u.Name)+" PASSWORD "+pgLiteral(u.Password)); err != nil {
		return err
	}
	in.mu.Lock()
	var pools []*pgPoolInstance
	for _, p := range in.pools {
		if p.spec.User == u.Name {
			pools = append(pools, p)
		}
	}
	in.mu.Unlock()
	for _, p := range pools {
		if err := p.reconfigure(p.spec, u.Password); err != nil {
			return err
		}
	}
	return nil
}

// pgDropUser ends the user's sessions and drops the role; objects it owns
// in dbs pass to doadmin first.
func (dp *dataPlane) pgDropUser(id, name string, dbs []string) error {
	in := dp.pgFor(id)
	if in == nil {
		return nil
	}
	ctx, cancel := dpContext()
	defer cancel()
	terminate := "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = " + pgLiteral(name)
	err := in.exec(ctx, "deleting user "+name, terminate, "DROP ROLE IF EXISTS "+pgIdent(name))
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "2BP01" { // dependent_objects_still_exist
		return err
	}
	for _, db := range dbs {
		conn, err := pgx.Connect(ctx, in.connString(db))
		if err != nil {
			return fmt.Errorf("%s: deleting user %s: connecting to %s: %w", in.label, name, db, err)
		}
		_, err = conn.Exec(ctx, "REASSIGN OWNED BY "+pgIdent(name)+" TO doadmin; DROP OWNED BY "+pgIdent(name))
		_ = conn.Close(ctx)
		if err != nil {
			return fmt.Errorf("%s: deleting user %s: handing its objects in %s to doadmin: %w", in.label, name, db, err)
		}
	}
	return in.exec(ctx, "deleting user "+name, terminate, "DROP ROLE IF EXISTS "+pgIdent(name))
}

func (dp *dataPlane) pgCreateDB(id, name string) error {
	in := dp.pgFor(id)
	if in == nil {
		return nil
	}
	ctx, cancel := dpContext()
	defer cancel()
	return in.exec(ctx, "creating database "+name, "CREATE DATABASE "+pgIdent(name)+" OWNER doadmin")
}

func (dp *dataPlane) pgDropDB(id, name string) error {
	in := dp.pgFor(id)
	if in == nil {
		return nil
	}
	ctx, cancel := dpContext()
	defer cancel()
	return in.exec(ctx, "deleting database "+name, "DROP DATABASE IF EXISTS "+pgIdent(name)+" WITH (FORCE)")
}

// ---- connection pools ----

// poolEndpoint is the loopback port of pool name of cluster id.
func (dp *dataPlane) poolEndpoint(id, name string) (int, bool) {
	in := dp.pgFor(id)
	if in == nil {
		return 0, false
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if p := in.pools[name]; p != nil {
		return p.port, true
	}
	return 0, false
}

// pgCreatePool starts a pgbouncer for pool p in its mode and waits until it
// listens. forcedPass is the password of the pool's fixed user, if any.
func (dp *dataPlane) pgCreatePool(id string, p dbPool, forcedPass string) error {
	in := dp.pgFor(id)
	if in == nil {
		return nil
	}
	dp.mu.Lock()
	if dp.closed {
		dp.mu.Unlock()
		return errors.New("the data plane is closed")
	}
	port, err := dp.freePort()
	var dir string
	if err == nil {
		dir, err = dp.newDir("pgbouncer")
	}
	dp.mu.Unlock()
	if err != nil {
		return err
	}
	pl := &pgPoolInstance{dpInstance: dpInstance{dp: dp, label: fmt.Sprintf("PgBouncer of pool %q", p.Name), dir: dir, port: port}, pg: in, spec: p, forced: forcedPass}
	began := time.Now()
	if err := pl.start(); err != nil {
		pl.teardownFiles()
		return err
	}
	pl.mu.Lock()
	pl.ready, pl.startup = true, time.Since(began)
	pl.mu.Unlock()
	in.mu.Lock()
	in.pools[p.Name] = pl
	in.mu.Unlock()
	dp.logf("data plane: %s (%s mode) listening on %s:%d with TLS (started in %s)", pl.label, p.Mode, dpLoopback, port, pl.startedIn().Round(time.Millisecond))
	return nil
}

func (pl *pgPoolInstance) start() error {
	dp := pl.dp
	if err := dp.writeTLS(pl.dir, pl.pg.caSource()); err != nil {
		return fmt.Errorf("%s: %w", pl.label, err)
	}
	userlist := fmt.Sprintf("%q %q\n", dpSuperUser, pl.pg.superPass)
	if err := dp.writeFile(filepath.Join(pl.dir, "userlist.txt"), []byte(userlist), 0o600); err != nil {
		return fmt.Errorf("%s: writing userlist.txt: %w", pl.label, err)
	}
	if err := pl.writeConfig(); err != nil {
		return err
	}
	// pgbouncer refuses root; dp.command runs it as the servers' user. SIGTERM is its immediate shutdown.
	proc, err := pl.spawn("pgbouncer", dp.command(pl.dir, dp.bins.PgBouncer, filepath.Join(pl.dir, "pgbouncer.ini")), syscall.SIGTERM)
	if err != nil {
		return err
	}
	pl.proc = proc
	return pl.waitListening(proc, time.Now().Add(dpStartTimeout))
}

// caSource is the CA the server's certificate chains to (its ca.crt).
func (in *pgInstance) caSource() *dbCA {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.ca
}

func (pl *pgPoolInstance) writeConfig() error {
	p := pl.spec
	server := fmt.Sprintf("host=%s port=%d dbname=%s pool_size=%d pool_mode=%s", dpLoopback, pl.pg.port, pgBouncerQuote(p.DB), p.Size, p.Mode)
	if p.User != "" {
		// A pool with a user connects to the server as that user, whatever the client's user.
		server += fmt.Sprintf(" user=%s password=%s", pgBouncerQuote(p.User), pgBouncerQuote(pl.forced))
	}
	ini := fmt.Sprintf(`[databases]
%s = %s

[pgbouncer]
listen_addr = %s
listen_port = %d
unix_socket_dir =
pidfile =
logfile =
auth_type = scram-sha-256
auth_file = %s
auth_user = %s
auth_query = SELECT usename, passwd FROM pg_shadow WHERE usename=$1
pool_mode = %s
default_pool_size = %d
max_client_conn = 200
ignore_startup_parameters = extra_float_digits
client_tls_sslmode = require
client_tls_cert_file = %s
client_tls_key_file = %s
client_tls_ca_file = %s
server_tls_sslmode = verify-full
server_tls_ca_file = %s
`, p.Name, server, dpLoopback, pl.port, filepath.Join(pl.dir, "userlist.txt"), dpSuperUser, p.Mode, p.Size,
		filepath.Join(pl.dir, "server.crt"), filepath.Join(pl.dir, "server.key"), filepath.Join(pl.dir, "ca.crt"), filepath.Join(pl.dir, "ca.crt"))
	if err := pl.dp.writeFile(filepath.Join(pl.dir, "pgbouncer.ini"), []byte(ini), 0o600); err != nil {
		return fmt.Errorf("%s: writing pgbouncer.ini: %w", pl.label, err)
	}
	return nil
}

// pgBouncerQuote quotes a connection-string value for pgbouncer.ini.
func pgBouncerQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// reconfigure rewrites the pool's configuration and has pgbouncer reload
// it (SIGHUP), for pool updates and its fixed user's new password.
func (pl *pgPoolInstance) reconfigure(spec dbPool, forcedPass string) error {
	pl.mu.Lock()
	pl.spec, pl.forced = spec, forcedPass
	pl.mu.Unlock()
	if err := pl.writeConfig(); err != nil {
		return err
	}
	if err := syscall.Kill(pl.proc.cmd.Process.Pid, syscall.SIGHUP); err != nil {
		return fmt.Errorf("%s: reloading its configuration: %w", pl.label, err)
	}
	return nil
}

func (dp *dataPlane) pgUpdatePool(id string, p dbPool, forcedPass string) error {
	in := dp.pgFor(id)
	if in == nil {
		return nil
	}
	in.mu.Lock()
	pl := in.pools[p.Name]
	in.mu.Unlock()
	if pl == nil {
		return nil
	}
	return pl.reconfigure(p, forcedPass)
}

// pgDeletePool stops the pool's pgbouncer in the background.
func (dp *dataPlane) pgDeletePool(id, name string) {
	in := dp.pgFor(id)
	if in == nil {
		return
	}
	in.mu.Lock()
	pl := in.pools[name]
	delete(in.pools, name)
	in.mu.Unlock()
	if pl != nil {
		dp.async(pl.teardownFiles)
	}
}
