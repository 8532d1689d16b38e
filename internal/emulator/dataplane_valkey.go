package emulator

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/attach-labs/terraform-provider-attach/internal/dataplanecheck"
)

// The Valkey data plane: a Valkey server (or Redis, its Debian-packaged
// ancestor speaking the same protocol) per cluster, on a TLS port only,
// with the default user's password as requirepass, as DigitalOcean's
// "default" user authenticates.

type valkeyInstance struct {
	dpInstance
	ca       *dbCA
	password string
}

// startValkey registers cluster cl's server and starts it in the
// background; the cluster comes online once it answers PING over TLS.
func (dp *dataPlane) startValkey(cl *dbCluster, ca *dbCA) error {
	if dp == nil {
		return nil
	}
	dp.mu.Lock()
	defer dp.mu.Unlock()
	port, dir, err := dp.reserveLocked("valkey")
	if err != nil {
		return err
	}
	in := &valkeyInstance{dpInstance: dpInstance{dp: dp, label: fmt.Sprintf("Valkey of cluster %q", cl.Name), dir: dir, port: port},
		ca: ca, password: cl.admin().Password}
	dp.kv[cl.ID] = in
	policy := cl.eviction
	dp.async(func() {
		began := time.Now()
		in.finish(began, in.start(policy))
	})
	return nil
}

func (in *valkeyInstance) start(policy string) error {
	dp := in.dp
	if err := dp.writeTLS(in.dir, in.ca); err != nil {
		return fmt.Errorf("%s: %w", in.label, err)
	}
	conf := fmt.Sprintf(`bind %s
port 0
tls-port %d
tls-cert-file %s
tls-key-file %s
tls-ca-cert-file %s
tls-auth-clients no
requirepass "%s"
dir %s
save ""
appendonly no
daemonize no
logfile ""
maxmemory-policy %s
`, dpLoopback, in.port, filepath.Join(in.dir, "server.crt"), filepath.Join(in.dir, "server.key"), filepath.Join(in.dir, "ca.crt"),
		in.password, in.dir, valkeyPolicy(policy))
	if err := dp.writeFile(filepath.Join(in.dir, "valkey.conf"), []byte(conf), 0o600); err != nil {
		return fmt.Errorf("%s: writing valkey.conf: %w", in.label, err)
	}
	proc, err := in.spawn(filepath.Base(dp.bins.Redis), dp.command(in.dir, dp.bins.Redis, filepath.Join(in.dir, "valkey.conf")), syscall.SIGTERM)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(dpStartTimeout)
	for {
		_, err := in.do("PING")
		if err == nil {
			return nil
		}
		select {
		case <-proc.done:
			return fmt.Errorf("%s: %s exited (%v): %s", in.label, proc.name, proc.err, proc.out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: no answer to PING over TLS within %s (%v): %s", in.label, dpStartTimeout, err, proc.out.String())
		}
	}
}

// valkeyPolicy turns the API's eviction policy (allkeys_lru) into the
// server's (allkeys-lru).
func valkeyPolicy(p string) string {
	if p == "" {
		return "noeviction"
	}
	return strings.ReplaceAll(p, "_", "-")
}

// do runs one command as the default user over verified TLS.
func (in *valkeyInstance) do(args ...string) (string, error) {
	roots := x509.NewCertPool()
	roots.AddCert(in.ca.cert)
	d := &net.Dialer{Timeout: 2 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", net.JoinHostPort(dpLoopback, strconv.Itoa(in.port)), &tls.Config{RootCAs: roots, ServerName: dpLoopback, MinVersion: tls.VersionTLS12})
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(dpOpTimeout))
	r := bufio.NewReader(conn)
	if _, err := dataplanecheck.Command(conn, r, "AUTH", "default", in.password); err != nil {
		return "", fmt.Errorf("AUTH: %w", err)
	}
	return dataplanecheck.Command(conn, r, args...)
}

// valkeyEviction applies an eviction policy set through the API.
func (dp *dataPlane) valkeyEviction(id, policy string) error {
	if dp == nil {
		return nil
	}
	dp.mu.Lock()
	in := dp.kv[id]
	dp.mu.Unlock()
	if in == nil {
		return nil
	}
	if ready, _, _ := dp.ready(id); !ready {
		return nil // the server starts with the cluster's policy of the moment
	}
	if _, err := in.do("CONFIG", "SET", "maxmemory-policy", valkeyPolicy(policy)); err != nil {
		return fmt.Errorf("%s: setting maxmemory-policy %s: %w", in.label, valkeyPolicy(policy), err)
	}
	return nil
}

func (in *valkeyInstance) teardown() { in.teardownFiles() }
