package emulator

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/digitalocean/godo"
	"github.com/jackc/pgx/v5"
)

// startDataPlaneTest runs an emulator with the data plane on, skipping
// (outside CI) when the server programs are not installed.
func startDataPlaneTest(t *testing.T) (*Server, *godo.Client) {
	t.Helper()
	if err := DataPlaneAvailable(); err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("data plane servers not installed (%v); CI installs them in .ci/run", err)
		}
		t.Fatalf("CI must run the data-plane tests: %v", err)
	}
	return startTest(t, Config{DataPlane: true, DataPlaneLogf: t.Logf})
}

// waitOnline polls until the cluster is online: with the data plane, that
// includes its server's start, so the wait is longer than eventually's.
func waitOnline(t *testing.T, c *godo.Client, id string) *godo.Database {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		db, _, err := c.Databases.Get(ctx, id)
		if err == nil && db.Status == dbStatusOnline {
			return db
		}
		if err != nil && apiStatus(err) != 404 {
			t.Fatalf("get %s: %v", id, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster %s not online after 90s (last: %v %v)", id, db, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pgConnect connects with sslmode=verify-full against the cluster's CA.
func pgConnect(host string, port int, user, password, db, caFile string, simple bool) (*pgx.Conn, error) {
	dsn := fmt.Sprintf("host=%s port=%d user=%s password=%s dbname=%s sslmode=verify-full sslrootcert=%s connect_timeout=5", host, port, user, password, db, caFile)
	if simple {
		// PgBouncer 1.18 in transaction mode has no prepared statements.
		dsn += " default_query_exec_mode=simple_protocol"
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return pgx.Connect(cctx, dsn)
}

// selectOne logs in and runs SELECT 1, or says why it could not.
func selectOne(host string, port int, user, password, db, caFile string, simple bool) error {
	conn, err := pgConnect(host, port, user, password, db, caFile, simple)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return err
	}
	if one != 1 {
		return fmt.Errorf("SELECT 1 returned %d", one)
	}
	return nil
}

// processGroupGone reports whether no process of group pgid is left.
func processGroupGone(pgid int) bool {
	return errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH)
}

func TestDataPlanePostgresAndValkey(t *testing.T) {
	srv, c := startDataPlaneTest(t)
	began := time.Now()
	pgDB := createDB(t, c, dbRequest("dp-pg", "pg"))
	kvDB := createDB(t, c, dbRequest("dp-kv", "valkey"))
	pgDB = waitOnline(t, c, pgDB.ID)
	t.Logf("PostgreSQL cluster online %s after its create", time.Since(began).Round(time.Millisecond))
	kvDB = waitOnline(t, c, kvDB.ID)

	// Connection details point at the real server, and the API's CA verifies it.
	if pgDB.Connection.Host != "127.0.0.1" || pgDB.PrivateConnection.Host != "127.0.0.1" || pgDB.Connection.Port == 25060 {
		t.Fatalf("data-plane connection details should name 127.0.0.1 and the server's port, got %+v / %+v", pgDB.Connection, pgDB.PrivateConnection)
	}
	if !strings.Contains(pgDB.Connection.URI, "@127.0.0.1:"+strconv.Itoa(pgDB.Connection.Port)+"/defaultdb") {
		t.Fatalf("URI should point at the server: %s", pgDB.Connection.URI)
	}
	ca, _, err := c.Databases.GetCA(ctx, pgDB.ID)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(caFile, ca.Certificate, 0o600); err != nil {
		t.Fatal(err)
	}
	host, port := pgDB.Connection.Host, pgDB.Connection.Port
	admin := pgDB.Connection
	if err := selectOne(host, port, admin.User, admin.Password, admin.Database, caFile, false); err != nil {
		t.Fatalf("doadmin with verify-full: %v", err)
	}
	// Also by name: the certificate names localhost too.
	if err := selectOne("localhost", port, admin.User, admin.Password, admin.Database, caFile, false); err != nil {
		t.Fatalf("doadmin at localhost with verify-full: %v", err)
	}
	// Only TLS is accepted, as on DigitalOcean.
	if conn, err := pgx.Connect(ctx, fmt.Sprintf("host=127.0.0.1 port=%d user=doadmin password=%s dbname=defaultdb sslmode=disable", port, admin.Password)); err == nil {
		conn.Close(ctx)
		t.Fatal("a connection without TLS was accepted")
	}

	// A user and a database made through the API exist in the server.
	user, _, err := c.Databases.CreateUser(ctx, pgDB.ID, &godo.DatabaseCreateUserRequest{Name: "app"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Databases.CreateDB(ctx, pgDB.ID, &godo.DatabaseCreateDBRequest{Name: "appdb"}); err != nil {
		t.Fatal(err)
	}
	if err := selectOne(host, port, "app", user.Password, "appdb", caFile, false); err != nil {
		t.Fatalf("app user in appdb: %v", err)
	}

	// A transaction-mode pool reached through its own pgbouncer.
	pool, _, err := c.Databases.CreatePool(ctx, pgDB.ID, &godo.DatabaseCreatePoolRequest{Name: "app-pool", Mode: "transaction", Size: 1, Database: "appdb"})
	if err != nil {
		t.Fatal(err)
	}
	pc := pool.Connection
	if pc.Host != "127.0.0.1" || pc.Port == port || pc.Port == 25061 {
		t.Fatalf("pool connection should name its own loopback port, got %+v", pc)
	}
	if err := selectOne(pc.Host, pc.Port, "app", user.Password, "app-pool", caFile, true); err != nil {
		t.Fatalf("app user through the transaction pool: %v", err)
	}
	// The pool really is in transaction mode: with one server connection,
	// an idle client holds none, so a second client gets through (in
	// session mode it would wait for the first to disconnect).
	idle, err := pgConnect(pc.Host, pc.Port, "app", user.Password, "app-pool", caFile, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := idle.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	if err := selectOne(pc.Host, pc.Port, "app", user.Password, "app-pool", caFile, true); err != nil {
		t.Fatalf("second client through the one-connection transaction pool: %v", err)
	}
	idle.Close(ctx)
	// A pool with a fixed user serves its connection details' credentials.
	fixed, _, err := c.Databases.CreatePool(ctx, pgDB.ID, &godo.DatabaseCreatePoolRequest{Name: "fixed-pool", Mode: "session", Size: 2, Database: "defaultdb", User: "doadmin"})
	if err != nil {
		t.Fatal(err)
	}
	fc := fixed.Connection
	if err := selectOne(fc.Host, fc.Port, fc.User, fc.Password, fc.Database, caFile, true); err != nil {
		t.Fatalf("fixed-user pool with its connection details: %v", err)
	}

	// reset_auth: the old password stops working, the new one works, directly and through the pool.
	reset, _, err := c.Databases.ResetUserAuth(ctx, pgDB.ID, "app", &godo.DatabaseResetUserAuthRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if reset.Password == user.Password {
		t.Fatal("reset_auth kept the password")
	}
	if err := selectOne(host, port, "app", user.Password, "appdb", caFile, false); err == nil {
		t.Fatal("the old password still logs in after reset_auth")
	}
	if err := selectOne(host, port, "app", reset.Password, "appdb", caFile, false); err != nil {
		t.Fatalf("the new password after reset_auth: %v", err)
	}
	if err := selectOne(pc.Host, pc.Port, "app", user.Password, "app-pool", caFile, true); err == nil {
		t.Fatal("the old password still logs in through the pool after reset_auth")
	}
	if err := selectOne(pc.Host, pc.Port, "app", reset.Password, "app-pool", caFile, true); err != nil {
		t.Fatalf("the new password through the pool after reset_auth: %v", err)
	}
	// doadmin's reset moves the fixed-user pool along.
	adminReset, _, err := c.Databases.ResetUserAuth(ctx, pgDB.ID, "doadmin", &godo.DatabaseResetUserAuthRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if err := selectOne(fc.Host, fc.Port, "doadmin", adminReset.Password, fc.Database, caFile, true); err != nil {
		t.Fatalf("fixed-user pool after doadmin's reset_auth: %v", err)
	}

	// Deleting the user, pool and database removes them from the servers.
	waitGone := func(what string, cond func() bool) {
		deadline := time.Now().Add(30 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s still there 30s later", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	srv.dp.mu.Lock()
	appPool := srv.dp.pg[pgDB.ID].pools["app-pool"]
	srv.dp.mu.Unlock()
	if _, err := c.Databases.DeletePool(ctx, pgDB.ID, "app-pool"); err != nil {
		t.Fatal(err)
	}
	waitGone("pgbouncer of the deleted pool", func() bool { return processGroupGone(appPool.proc.cmd.Process.Pid) })
	waitGone("directory of the deleted pool", func() bool { _, err := os.Stat(appPool.dir); return os.IsNotExist(err) })
	if err := selectOne(pc.Host, pc.Port, "app", reset.Password, "app-pool", caFile, true); err == nil {
		t.Fatal("the deleted pool still answers")
	}
	if _, err := c.Databases.DeleteUser(ctx, pgDB.ID, "app"); err != nil {
		t.Fatal(err)
	}
	if err := selectOne(host, port, "app", reset.Password, "appdb", caFile, false); err == nil || !strings.Contains(err.Error(), "password authentication failed") {
		t.Fatalf("a deleted user should fail to log in with a password error, got %v", err)
	}
	if _, err := c.Databases.DeleteDB(ctx, pgDB.ID, "appdb"); err != nil {
		t.Fatal(err)
	}
	if err := selectOne(host, port, "doadmin", adminReset.Password, "appdb", caFile, false); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("a deleted database should be gone, got %v", err)
	}

	// Valkey: AUTH and PING over TLS verified with the CA.
	kc := kvDB.Connection
	if kc.Host != "127.0.0.1" || !strings.HasPrefix(kc.URI, "rediss://default:") {
		t.Fatalf("valkey connection details should name 127.0.0.1, got %+v", kc)
	}
	if got, err := valkeyPing(kc.Host, kc.Port, kc.User, kc.Password, ca.Certificate); err != nil || got != "PONG" {
		t.Fatalf("valkey PING with verified TLS: %q, %v", got, err)
	}
	if _, err := valkeyPing(kc.Host, kc.Port, kc.User, "wrong", ca.Certificate); err == nil {
		t.Fatal("valkey accepted a wrong password")
	}
	if _, err := c.Databases.SetEvictionPolicy(ctx, kvDB.ID, "allkeys_lru"); err != nil {
		t.Fatal(err)
	}

	times := srv.DataPlaneStartupTimes()
	for what, d := range times {
		t.Logf("start-up time: %s %s", what, d.Round(time.Millisecond))
	}

	// Deleting a cluster stops its server; closing the emulator stops the rest and removes every directory.
	var groups []int
	var dirs []string
	srv.dp.mu.Lock()
	for _, in := range srv.dp.pg {
		dirs = append(dirs, in.dir)
		for _, p := range in.procs {
			groups = append(groups, p.cmd.Process.Pid)
		}
		for _, pl := range in.pools {
			dirs = append(dirs, pl.dir)
			groups = append(groups, pl.proc.cmd.Process.Pid)
		}
	}
	kvInstance := srv.dp.kv[kvDB.ID]
	dirs = append(dirs, kvInstance.dir)
	kvGroup := kvInstance.procs[0].cmd.Process.Pid
	srv.dp.mu.Unlock()
	if len(groups) != 3 {
		t.Fatalf("want initdb (finished), postgres and one pgbouncer, got %d process groups", len(groups))
	}
	if _, err := c.Databases.Delete(ctx, kvDB.ID); err != nil {
		t.Fatal(err)
	}
	waitGone("valkey server of the deleted cluster", func() bool { return processGroupGone(kvGroup) })
	waitGone("valkey directory of the deleted cluster", func() bool { _, err := os.Stat(kvInstance.dir); return os.IsNotExist(err) })
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		if !processGroupGone(g) {
			t.Errorf("process group %d still has processes after Close", g)
		}
	}
	for _, d := range dirs {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("directory %s still exists after Close (%v)", d, err)
		}
	}
}

// valkeyPing does AUTH and PING over TLS verified with caPEM, by hand.
func valkeyPing(host string, port int, user, password string, caPEM []byte) (string, error) {
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return "", errors.New("no certificate in the CA")
	}
	conn, err := tls.Dial("tcp", net.JoinHostPort(host, strconv.Itoa(port)), &tls.Config{RootCAs: roots, ServerName: host, MinVersion: tls.VersionTLS12})
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	send := func(args ...string) (string, error) {
		msg := fmt.Sprintf("*%d\r\n", len(args))
		for _, a := range args {
			msg += fmt.Sprintf("$%d\r\n%s\r\n", len(a), a)
		}
		if _, err := io.WriteString(conn, msg); err != nil {
			return "", err
		}
		line, err := r.ReadString('\n')
		if err != nil {
			return "", err
		}
		line = strings.TrimRight(line, "\r\n")
		if strings.HasPrefix(line, "-") {
			return "", errors.New(line[1:])
		}
		return strings.TrimPrefix(line, "+"), nil
	}
	if _, err := send("AUTH", user, password); err != nil {
		return "", fmt.Errorf("AUTH: %w", err)
	}
	return send("PING")
}
