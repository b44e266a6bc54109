// Package postgres runs a real PostgreSQL 15 server for tests: in a temporary
// directory, as an unprivileged user, on 127.0.0.1 with a free port, with
// TLS on (certificates from a fresh test PKI) and client-certificate
// authentication as the only way in over TCP.
//
//	srv := postgres.Start(t)                  // stopped and removed at test end
//	// TCP: hostssl + cert clientcert=verify-full, role = srv.Client's CN
//	cfg := &tls.Config{RootCAs: srv.PKI.Roots, ServerName: "localhost",
//		Certificates: []tls.Certificate{srv.Client.TLS}}
//	out := srv.Query(t, "SELECT count(*) FROM pg_stat_ssl") // superuser, unix socket
//
// The server's pg_hba.conf has exactly two lines:
//
//	local   all  postgres                 trust
//	hostssl all  all      127.0.0.1/32    cert clientcert=verify-full
//
// The local line lets the test itself inspect the server (Query) through a
// unix socket in the temporary directory, which only root and the server's
// user can reach; over TCP there is no password, no plaintext and no other
// method. Running as root (as CI does) the server runs as the system user
// "postgres" (PostgreSQL refuses to run as root); as any other user it runs
// as that user.
package postgres

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wasitls/wasitls/conformance/pki"
	"github.com/wasitls/wasitls/internal/testkit/peers"
)

// DefaultRole is the client role (and client certificate CN) when no
// WithRole option is given.
const DefaultRole = "wasitls_guest"

// Database is the database that the client role owns and may create tables in.
const Database = "wasitls"

// Server is a running PostgreSQL server.
type Server struct {
	// Addr is the TCP address, "127.0.0.1:port".
	Addr string
	// Port is the TCP port (also the unix socket's port number).
	Port int
	// Dir is the temporary directory holding everything (data, sockets,
	// certificate files); it is removed when the server stops.
	Dir string
	// SocketDir holds the server's unix socket.
	SocketDir string
	// Role is the client role, the CN of Client.
	Role string
	// PKI issued the server certificate and Client; its root is the
	// server's ssl_ca_file.
	PKI *pki.PKI
	// ServerCert is the server's certificate (localhost, 127.0.0.1, ::1).
	ServerCert *pki.Cert
	// Client is a client certificate the server accepts for Role.
	Client *pki.Cert

	bin  string
	cred *syscall.Credential
	cmd  *exec.Cmd
	// logDone is closed when the server's stderr reaches EOF (the server
	// and every child process have exited).
	logDone chan struct{}

	mu    sync.Mutex
	log   bytes.Buffer
	grew  chan struct{} // closed and replaced whenever a log line arrives
	ready chan struct{} // closed when the log says the server accepts connections

	stopOnce sync.Once
	stopErr  error
}

type options struct {
	role    string
	pki     *pki.PKI
	timeout time.Duration
	conf    []string
}

// Option configures Start.
type Option func(*options)

// WithRole sets the client role's name (the client certificate's CN).
func WithRole(name string) Option { return func(o *options) { o.role = name } }

// WithPKI issues the server and client certificates from p instead of a
// fresh PKI.
func WithPKI(p *pki.PKI) Option { return func(o *options) { o.pki = p } }

// WithStartTimeout bounds startup (default 60 s).
func WithStartTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithConfig adds postgresql.conf lines (e.g. "ssl_min_protocol_version = 'TLSv1.3'").
func WithConfig(lines ...string) Option {
	return func(o *options) { o.conf = append(o.conf, lines...) }
}

// Start initializes and starts a server; it is stopped (fast shutdown) and
// its directory removed when t's test ends. It fails t when the server
// cannot start, and skips (or fails, under CI=true) when PostgreSQL 15 is
// not installed.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	o := options{role: DefaultRole, timeout: 60 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	bin := peers.PostgresBin(t)
	if o.pki == nil {
		o.pki = pki.New(t)
	}
	cred, uid, gid, err := serverUser()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	// Another process may take the free port between our probe and the
	// server's bind; try a few ports.
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		s := &Server{
			Role:    o.role,
			PKI:     o.pki,
			bin:     bin,
			cred:    cred,
			logDone: make(chan struct{}),
			ready:   make(chan struct{}),
			grew:    make(chan struct{}),
		}
		s.ServerCert = o.pki.Server()
		s.Client = o.pki.Client(o.role)
		err := s.start(o, uid, gid)
		if err == nil {
			t.Cleanup(func() {
				if err := s.Stop(); err != nil {
					t.Errorf("pgtest: %v", err)
				}
			})
			if err := s.setup(); err != nil {
				t.Fatalf("pgtest: %v\nserver log:\n%s", err, s.Log())
			}
			return s
		}
		lastErr = err
		if !strings.Contains(err.Error(), "Address already in use") {
			break
		}
	}
	t.Fatalf("pgtest: %v", lastErr)
	return nil
}

// serverUser returns the credentials to run the server with: the system
// user "postgres" when we are root, else nothing (run as ourselves).
func serverUser() (cred *syscall.Credential, uid, gid int, err error) {
	if os.Geteuid() != 0 {
		return nil, -1, -1, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, 0, 0, fmt.Errorf("running as root, PostgreSQL needs an unprivileged user and %w (install the postgresql package, which creates it)", err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return nil, 0, 0, fmt.Errorf("user postgres has a non-numeric uid/gid %q/%q", u.Uid, u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, uid, gid, nil
}

func (s *Server) start(o options, uid, gid int) (err error) {
	dir, err := os.MkdirTemp("", "wasitls-pg-")
	if err != nil {
		return err
	}
	s.Dir = dir
	defer func() {
		if err != nil {
			s.kill()
			os.RemoveAll(dir)
		}
	}()
	s.SocketDir = filepath.Join(dir, "sock")
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(s.SocketDir, 0o700); err != nil {
		return err
	}
	certFile := filepath.Join(dir, "server.pem")
	keyFile := filepath.Join(dir, "server-key.pem")
	caFile := filepath.Join(dir, "root.pem")
	// PostgreSQL refuses a key file readable by anyone but its owner.
	for _, f := range []struct {
		path string
		data []byte
	}{{certFile, s.ServerCert.ChainPEM}, {keyFile, s.ServerCert.KeyPEM}, {caFile, o.pki.RootPEM}} {
		if err := os.WriteFile(f.path, f.data, 0o600); err != nil {
			return err
		}
	}
	if uid >= 0 {
		for _, p := range []string{dir, s.SocketDir, certFile, keyFile, caFile} {
			if err := os.Chown(p, uid, gid); err != nil {
				return err
			}
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	if out, err := s.run(ctx, "initdb", "-D", data, "-U", "postgres", "--auth=trust",
		"--no-sync", "--no-instructions", "-E", "UTF8", "--locale=C"); err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, out)
	}

	port, err := freePort()
	if err != nil {
		return err
	}
	s.Port = port
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))

	hba := "local   all  postgres               trust\n" +
		"hostssl all  all      127.0.0.1/32  cert clientcert=verify-full\n"
	conf := []string{
		"listen_addresses = '127.0.0.1'",
		"port = " + strconv.Itoa(port),
		"unix_socket_directories = " + quote(s.SocketDir),
		"ssl = on",
		"ssl_cert_file = " + quote(certFile),
		"ssl_key_file = " + quote(keyFile),
		"ssl_ca_file = " + quote(caFile),
		"ssl_min_protocol_version = 'TLSv1.2'",
		"log_connections = on",
		"log_disconnections = on",
		"logging_collector = off",
		"log_line_prefix = '%m [%p] '",
		"fsync = off",
		"synchronous_commit = off",
		"full_page_writes = off",
		"max_connections = 20",
		"shared_buffers = 16MB",
	}
	conf = append(conf, o.conf...)
	if err := appendFile(filepath.Join(data, "postgresql.conf"), strings.Join(conf, "\n")+"\n"); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(data, "pg_hba.conf"), []byte(hba), 0o600); err != nil {
		return err
	}
	if uid >= 0 {
		if err := os.Chown(filepath.Join(data, "pg_hba.conf"), uid, gid); err != nil {
			return err
		}
	}

	// The postmaster is our child (not daemonized by pg_ctl) so that it
	// dies with the test process (Pdeathsig SIGQUIT: immediate shutdown,
	// which still removes its shared memory) and its stderr, the log,
	// tells us when it is ready without polling.
	cmd := exec.Command(filepath.Join(s.bin, "postgres"), "-D", data)
	cmd.Dir = dir
	cmd.Env = s.env()
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Pdeathsig: syscall.SIGQUIT, Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	cmd.Stdout = nil
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	s.cmd = cmd
	go s.readLog(stderr)

	exited := make(chan struct{})
	go func() {
		// Wait must not run before the log reader is done with the pipe;
		// it waits for logDone first.
		<-s.logDone
		close(exited)
	}()
	select {
	case <-s.ready:
	case <-exited:
		_ = cmd.Wait()
		s.cmd = nil
		return fmt.Errorf("postgres exited during startup:\n%s", s.Log())
	case <-ctx.Done():
		return fmt.Errorf("postgres not ready after %v:\n%s", o.timeout, s.Log())
	}
	// The log line is the signal; pg_isready confirms that the socket answers.
	if out, err := s.runAsUs(ctx, filepath.Join(s.bin, "pg_isready"), "-h", s.SocketDir, "-p", strconv.Itoa(port), "-t", "10"); err != nil {
		return fmt.Errorf("pg_isready: %w\n%s\nserver log:\n%s", err, out, s.Log())
	}
	return nil
}

// setup creates the client role and the database it owns (PostgreSQL 15's
// public schema lets only the database owner create tables).
func (s *Server) setup() error {
	r := quoteIdent(s.Role)
	if _, err := s.QueryErr(fmt.Sprintf("CREATE ROLE %s LOGIN", r)); err != nil {
		return err
	}
	_, err := s.QueryErr(fmt.Sprintf("CREATE DATABASE %s OWNER %s", quoteIdent(Database), r))
	return err
}

func (s *Server) readLog(r io.Reader) {
	defer close(s.logDone)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	readyClosed := false
	for sc.Scan() {
		line := sc.Text()
		s.mu.Lock()
		s.log.WriteString(line)
		s.log.WriteByte('\n')
		close(s.grew)
		s.grew = make(chan struct{})
		s.mu.Unlock()
		if !readyClosed && strings.Contains(line, "database system is ready to accept connections") {
			close(s.ready)
			readyClosed = true
		}
	}
	// Drain anything left (a line longer than the scanner's limit) so the
	// server never blocks writing its log.
	_, _ = io.Copy(io.Discard, r)
}

// Log returns the server's log so far.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// WaitLog waits until the server's log contains substr or ctx is done, and
// returns the log. It wakes up on every new log line.
func (s *Server) WaitLog(ctx context.Context, substr string) (string, error) {
	for {
		s.mu.Lock()
		l, grew := s.log.String(), s.grew
		s.mu.Unlock()
		if strings.Contains(l, substr) {
			return l, nil
		}
		select {
		case <-grew:
		case <-ctx.Done():
			return s.Log(), fmt.Errorf("pgtest: server log has no %q: %w", substr, ctx.Err())
		case <-s.logDone:
			if l := s.Log(); strings.Contains(l, substr) {
				return l, nil
			}
			return s.Log(), fmt.Errorf("pgtest: server exited; log has no %q", substr)
		}
	}
}

// Query runs sql as the superuser over the unix socket (psql, unaligned,
// tuples only, fields separated by "|") and returns its output without the
// trailing newline. It fails t on error.
func (s *Server) Query(t testing.TB, sql string) string {
	t.Helper()
	out, err := s.QueryErr(sql)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// QueryErr is Query returning the error.
func (s *Server) QueryErr(sql string) (string, error) {
	return s.QueryDB("postgres", sql)
}

// QueryDB runs sql as the superuser in database db.
func (s *Server) QueryDB(db, sql string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := s.runAsUs(ctx, filepath.Join(s.bin, "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
		"-h", s.SocketDir, "-p", strconv.Itoa(s.Port), "-U", "postgres", "-d", db, "-c", sql)
	if err != nil {
		return "", fmt.Errorf("pgtest: psql %q: %w\n%s", sql, err, out)
	}
	return strings.TrimRight(string(out), "\n"), nil
}

// Stop shuts the server down (fast mode: SIGINT, as pg_ctl stop -m fast
// does), waits for every server process to exit and removes Dir. Start
// registers it as a cleanup; calling it earlier is fine. It is idempotent.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		if s.cmd != nil {
			_ = s.cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-s.logDone:
			case <-time.After(30 * time.Second):
				s.stopErr = errors.New("postgres did not stop within 30 s of SIGINT; killed")
				_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
				<-s.logDone
			}
			if err := s.cmd.Wait(); err != nil && s.stopErr == nil {
				var ee *exec.ExitError
				if !errors.As(err, &ee) {
					s.stopErr = fmt.Errorf("postgres: %w", err)
				}
			}
			s.cmd = nil
		}
		if err := os.RemoveAll(s.Dir); err != nil && s.stopErr == nil {
			s.stopErr = err
		}
	})
	return s.stopErr
}

// kill ends a half-started server.
func (s *Server) kill() {
	if s.cmd == nil {
		return
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.logDone
	_ = s.cmd.Wait()
	s.cmd = nil
}

// run runs a PostgreSQL binary as the server's user.
func (s *Server) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, name), args...)
	cmd.Dir = s.Dir
	cmd.Env = s.env()
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	return cmd.CombinedOutput()
}

// runAsUs runs a client binary as ourselves.
func (s *Server) runAsUs(ctx context.Context, path string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = s.env()
	return cmd.CombinedOutput()
}

func (s *Server) env() []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + s.Dir,
		"LANG=C", "LC_ALL=C", "TZ=UTC", "PGTZ=UTC",
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// quote quotes a postgresql.conf string value.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// quoteIdent quotes an SQL identifier.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// QuoteIdent quotes an SQL identifier, for callers building statements.
func QuoteIdent(s string) string { return quoteIdent(s) }

// IsRejection reports whether a client's error message shows that the
// server refused its certificate after a TLS 1.3 handshake: the server's
// unknown_ca alert, or, when the client wrote after the server had closed,
// a reset (the alert is then lost with the connection).
func IsRejection(msg string) bool {
	for _, s := range []string{"unknown certificate authority", "unknown_ca", "connection reset by peer", "broken pipe"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// shortNames are OpenSSL's short names for the attributes test
// certificates use.
var shortNames = map[string]string{
	"2.5.4.3": "CN", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST",
	"2.5.4.10": "O", "2.5.4.11": "OU", "2.5.4.5": "serialNumber",
}

// OnelineDN formats a certificate's subject the way PostgreSQL 15 shows it
// in pg_stat_ssl.client_dn (OpenSSL's X509_NAME_oneline): "/O=org/CN=name",
// in the certificate's own attribute order.
func OnelineDN(c *x509.Certificate) (string, error) {
	var seq pkix.RDNSequence
	if rest, err := asn1.Unmarshal(c.RawSubject, &seq); err != nil || len(rest) != 0 {
		return "", fmt.Errorf("pgtest: bad subject: %v", err)
	}
	var b strings.Builder
	for _, rdn := range seq {
		for _, atv := range rdn {
			name, ok := shortNames[atv.Type.String()]
			if !ok {
				name = atv.Type.String()
			}
			fmt.Fprintf(&b, "/%s=%v", name, atv.Value)
		}
	}
	return b.String(), nil
}
