// Package dataplanecheck proves that connection details work: it connects to
// PostgreSQL (directly or through a PgBouncer pool) and to Valkey with TLS
// verified against a database cluster's CA (GET /v2/databases/{id}/ca), as
// `sslmode=verify-full` would, and runs one harmless command. `make demo`
// and the provider's data-plane acceptance tests share it.
package dataplanecheck

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresQuery is what Postgres ran and where.
type PostgresQuery struct {
	Query    string // the statement run
	User     string // the user it logged in as
	Addr     string // host:port it connected to
	Database string // the database (or, through a pool, the pool) named
	Result   string // the value the statement returned
}

// Postgres connects to uri (postgresql://user:password@host:port/db?...)
// with TLS verified against caPEM and the host name checked (verify-full,
// whatever sslmode uri names), and runs SELECT 1. pooled selects the simple
// query protocol, which a PgBouncer pool in transaction mode needs (it has no
// prepared statements). The error names the address and user, never the
// password.
func Postgres(ctx context.Context, uri string, caPEM []byte, pooled bool) (PostgresQuery, error) {
	const query = "SELECT 1"
	u, err := url.Parse(uri)
	if err != nil || (u.Scheme != "postgresql" && u.Scheme != "postgres") {
		return PostgresQuery{}, fmt.Errorf("not a postgresql:// URL (%s)", redact(uri))
	}
	q := PostgresQuery{Query: query, User: u.User.Username(), Addr: u.Host, Database: strings.TrimPrefix(u.Path, "/")}
	roots, err := certPool(caPEM)
	if err != nil {
		return q, err
	}
	// verify-full with no root file would use the system roots; the TLS
	// configuration is replaced below with one trusting only the CA.
	params := u.Query()
	params.Set("sslmode", "verify-full")
	params.Set("connect_timeout", "10")
	if pooled {
		params.Set("default_query_exec_mode", "simple_protocol")
	}
	u.RawQuery = params.Encode()
	cfg, err := pgx.ParseConfig(u.String())
	if err != nil {
		return q, fmt.Errorf("parsing the URL for %s@%s: %w", q.User, q.Addr, err)
	}
	cfg.TLSConfig = &tls.Config{RootCAs: roots, ServerName: cfg.Host, MinVersion: tls.VersionTLS12}
	cfg.Fallbacks = nil // no retry without TLS or verification
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return q, fmt.Errorf("connecting as %s to %s/%s with TLS verified against the CA: %w", q.User, q.Addr, q.Database, err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	var one int
	if err := conn.QueryRow(ctx, query).Scan(&one); err != nil {
		return q, fmt.Errorf("%s as %s on %s/%s: %w", query, q.User, q.Addr, q.Database, err)
	}
	q.Result = strconv.Itoa(one)
	if one != 1 {
		return q, fmt.Errorf("%s as %s on %s/%s returned %d", query, q.User, q.Addr, q.Database, one)
	}
	return q, nil
}

// ValkeyPing is what Valkey answered and where.
type ValkeyPing struct {
	User  string // the user AUTH named
	Addr  string // host:port it connected to
	Reply string // the reply to PING (PONG)
}

// Valkey connects to uri (rediss://user:password@host:port) over TLS
// verified against caPEM, sends AUTH and PING, and returns PING's reply.
func Valkey(ctx context.Context, uri string, caPEM []byte) (ValkeyPing, error) {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "rediss" {
		return ValkeyPing{}, fmt.Errorf("not a rediss:// URL (%s)", redact(uri))
	}
	password, _ := u.User.Password()
	p := ValkeyPing{User: u.User.Username(), Addr: u.Host}
	roots, err := certPool(caPEM)
	if err != nil {
		return p, err
	}
	dialer := &tls.Dialer{
		NetDialer: &net.Dialer{Timeout: 10 * time.Second},
		Config:    &tls.Config{RootCAs: roots, ServerName: u.Hostname(), MinVersion: tls.VersionTLS12},
	}
	conn, err := dialer.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return p, fmt.Errorf("connecting to Valkey at %s with TLS verified against the CA: %w", p.Addr, err)
	}
	defer func() { _ = conn.Close() }()
	deadline := time.Now().Add(10 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = conn.SetDeadline(deadline)
	r := bufio.NewReader(conn)
	if _, err := Command(conn, r, "AUTH", p.User, password); err != nil {
		return p, fmt.Errorf("AUTH as %s on Valkey at %s: %w", p.User, p.Addr, err)
	}
	if p.Reply, err = Command(conn, r, "PING"); err != nil {
		return p, fmt.Errorf("PING on Valkey at %s: %w", p.Addr, err)
	}
	if p.Reply != "PONG" {
		return p, fmt.Errorf("PING on Valkey at %s answered %q, not PONG", p.Addr, p.Reply)
	}
	return p, nil
}

func certPool(caPEM []byte) (*x509.CertPool, error) {
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("the CA holds no PEM certificate: pass what GET /v2/databases/{id}/ca returns")
	}
	return roots, nil
}

// redact is uri without its password, for errors.
func redact(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return "an unparseable URL"
	}
	return u.Redacted()
}

// Command sends one command in RESP (Redis/Valkey's protocol) and reads a
// simple, integer or bulk reply; an error reply is an error.
func Command(w io.Writer, r *bufio.Reader, args ...string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return "", err
	}
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("empty reply")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", errors.New(line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return "", fmt.Errorf("unexpected reply %q", line)
}
