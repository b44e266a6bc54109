package postgres_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/wasitls/wasitls/conformance/pki"
	"github.com/wasitls/wasitls/internal/testkit/postgres"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// connect connects natively with pgx and crypto/tls, presenting cert (nil:
// none), the way the wasm guest's traffic looks to the server.
func connect(ctx context.Context, t *testing.T, srv *postgres.Server, cert *tls.Certificate, maxVersion uint16) (*pgx.Conn, error) {
	t.Helper()
	cfg, err := pgx.ParseConfig("host=127.0.0.1 port=" + portOf(srv) + " user=" + srv.Role + " dbname=" + postgres.Database + " sslmode=require connect_timeout=10")
	if err != nil {
		t.Fatal(err)
	}
	tc := &tls.Config{RootCAs: srv.PKI.Roots, ServerName: "localhost", MaxVersion: maxVersion}
	if cert != nil {
		tc.Certificates = []tls.Certificate{*cert}
	}
	cfg.TLSConfig = tc
	cfg.Fallbacks = nil
	return pgx.ConnectConfig(ctx, cfg)
}

func portOf(srv *postgres.Server) string {
	_, p, _ := net.SplitHostPort(srv.Addr)
	return p
}

// TestServer checks the server pgtest starts: TLS with the trusted client
// certificate works and shows in pg_stat_ssl; no certificate, an untrusted
// certificate and plaintext are refused; Stop removes everything.
func TestServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	srv := postgres.Start(t)
	t.Logf("started in %v at %s (dir %s)", time.Since(start).Round(time.Millisecond), srv.Addr, srv.Dir)

	if got := srv.Query(t, "SHOW ssl"); got != "on" {
		t.Fatalf("ssl = %q, want on", got)
	}

	t.Run("trusted", func(t *testing.T) {
		c, err := connect(ctx, t, srv, &srv.Client.TLS, 0)
		if err != nil {
			t.Fatalf("connect with the trusted client certificate: %v\nserver log:\n%s", err, srv.Log())
		}
		defer c.Close(ctx)
		var user string
		var pid int
		if err := c.QueryRow(ctx, "SELECT current_user, pg_backend_pid()").Scan(&user, &pid); err != nil {
			t.Fatal(err)
		}
		if user != srv.Role {
			t.Fatalf("current_user = %q, want %q", user, srv.Role)
		}
		// Seen from the server, through the unix socket, while connected.
		row := srv.Query(t, "SELECT ssl, version, client_dn FROM pg_stat_ssl WHERE pid = "+strconv.Itoa(pid))
		dn, err := postgres.OnelineDN(srv.Client.Cert)
		if err != nil {
			t.Fatal(err)
		}
		want := "t|TLSv1.3|" + dn
		if row != want {
			t.Fatalf("pg_stat_ssl = %q, want %q", row, want)
		}
	})

	t.Run("no certificate", func(t *testing.T) {
		_, err := connect(ctx, t, srv, nil, 0)
		if err == nil || !strings.Contains(err.Error(), "connection requires a valid client certificate") {
			t.Fatalf("err = %v, want PostgreSQL's refusal", err)
		}
	})

	t.Run("untrusted certificate", func(t *testing.T) {
		other := pki.New(t).Client(srv.Role)
		// TLS 1.3: the client's handshake is over before the server checks
		// its certificate, so the client sees the unknown_ca alert, or a
		// reset when it writes after the server hung up. The server's log
		// says which certificate failed.
		_, err := connect(ctx, t, srv, &other.TLS, 0)
		if err == nil || !postgres.IsRejection(err.Error()) {
			t.Fatalf("err = %v, want the server's unknown_ca alert or a reset", err)
		}
		// TLS 1.2: the server checks the certificate inside the handshake.
		_, err = connect(ctx, t, srv, &other.TLS, tls.VersionTLS12)
		if err == nil || !strings.Contains(err.Error(), "unknown certificate authority") {
			t.Fatalf("TLS 1.2: err = %v, want the server's unknown_ca alert", err)
		}
		if _, err := srv.WaitLog(ctx, "certificate verify failed"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("plaintext", func(t *testing.T) {
		cfg, err := pgx.ParseConfig("host=127.0.0.1 port=" + portOf(srv) + " user=" + srv.Role + " dbname=" + postgres.Database + " sslmode=disable")
		if err != nil {
			t.Fatal(err)
		}
		_, err = pgx.ConnectConfig(ctx, cfg)
		if err == nil || !strings.Contains(err.Error(), "no encryption") {
			t.Fatalf("err = %v, want no pg_hba.conf entry for a plaintext connection", err)
		}
	})

	dir := srv.Dir
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("server directory still there after Stop: %v", err)
	}
	if c, err := net.Dial("tcp", srv.Addr); err == nil {
		c.Close()
		t.Fatal("server still listening after Stop")
	}
}
