package conformance

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"syscall"
	"testing"

	"go.uber.org/goleak"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/api/backendkit"
	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/internal/gotls"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRunDialer runs the suite through a custom Dialer with options, the way
// a transport other than Run's (a WebAssembly guest) would.
func TestRunDialer(t *testing.T) {
	var dials atomic.Int64
	base := ProviderDialer(stdtls.Provider{})
	d := DialerFunc(func(ctx context.Context, addr string, cfg *api.Config) (api.Conn, error) {
		dials.Add(1)
		return base.Dial(ctx, addr, cfg)
	})
	var configured atomic.Int64
	RunDialer(t, d, api.CapabilitiesOf(stdtls.Provider{}),
		WithBackendName(stdtls.Name),
		WithBulkBytes(1<<20),
		WithConfig(func(*api.Config) { configured.Add(1) }),
		Skip("ConcurrentHandshakes", "exercised by backends/stdtls"),
		Skip("OpenSSLTLS12/ServesStatusPage", "exercised by backends/stdtls"),
	)
	if dials.Load() == 0 || configured.Load() == 0 {
		t.Fatalf("%d dials, %d configurations: the suite bypassed the Dialer or the options", dials.Load(), configured.Load())
	}
	t.Logf("%d dials through the custom Dialer", dials.Load())
}

// TestCountingServerCounts checks the proof that InvalidServerName relies on:
// bytes a client sent are counted, a silent client counts zero.
func TestCountingServerCounts(t *testing.T) {
	s := startCountingServer(t)
	if n, conns := s.queued(t); n != 0 || conns != 0 {
		t.Fatalf("no client yet: %d bytes over %d connections", n, conns)
	}
	for _, msg := range []string{"", "hello", "ClientHello?"} {
		c, err := net.Dial("tcp4", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte(msg))
		c.Close()
	}
	if n, conns := s.queued(t); n != len("hello")+len("ClientHello?") || conns != 3 {
		t.Fatalf("counted %d bytes over %d connections, want 17 over 3", n, conns)
	}
}

// TestOpenSSLStopped checks that s_server is gone once its test ends.
func TestOpenSSLStopped(t *testing.T) {
	e := &env{}
	e.makePKI(t)
	var addr string
	t.Run("Start", func(t *testing.T) {
		addr = e.startOpenSSLWWW(t, "-tls1_3").Addr()
		c, err := net.Dial("tcp4", addr)
		if err != nil {
			t.Fatalf("s_server is not listening: %v", err)
		}
		c.Close()
	})
	if addr == "" {
		t.Skip("openssl did not start")
	}
	if c, err := net.Dial("tcp4", addr); !errors.Is(err, syscall.ECONNREFUSED) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("after the test, dialing s_server's port gave %v, want connection refused", err)
	}
}

// hybridOnly is a minimal PQ-requiring Provider (crypto/tls limited to the
// hybrid ML-KEM groups and TLS 1.3), to exercise the suite's RequiresPQ
// expectations without the pq backend.
type hybridOnly struct{}

func (hybridOnly) Name() string { return "hybrid-only" }

func (hybridOnly) Capabilities() api.Capabilities {
	return api.Capabilities{Resumption: true, ALPNOverride: true, ClientAuth: true, ReportsGroup: true, RequiresPQ: true}
}

func (hybridOnly) Client(ctx context.Context, transport net.Conn, cfg *api.Config) (api.Conn, error) {
	cfg = cfg.Clone()
	cfg.MinVersion = tls.VersionTLS13
	tc, err := gotls.ClientConfig(cfg, "hybrid-only")
	if err != nil {
		return nil, err
	}
	tc.CurvePreferences = []tls.CurveID{tls.X25519MLKEM768, tls.SecP256r1MLKEM768, tls.SecP384r1MLKEM1024}
	raw := &eofTransport{Conn: transport}
	c := tls.Client(raw, tc)
	hctx, cancel := context.WithTimeout(ctx, cfg.Timeout())
	defer cancel()
	if err := c.HandshakeContext(hctx); err != nil {
		if hctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", hctx.Err(), err)
		}
		err = backendkit.Classify(err, "hybrid-only")
		// A classical-only peer answers hybrid-only shares with
		// handshake_failure, and TLS 1.3-only with protocol_version.
		if errors.Is(err, &api.Error{Kind: api.KindPeerAlert, Alert: api.AlertHandshakeFailure}) || errors.Is(err, api.ErrProtocolVersion) {
			return nil, &api.Error{Kind: api.KindPQRequired, Backend: "hybrid-only", Err: err}
		}
		return nil, err
	}
	return &hybridConn{Conn: c, raw: raw}, nil
}

type eofTransport struct {
	net.Conn
	eof atomic.Bool
}

func (t *eofTransport) Read(b []byte) (int, error) {
	n, err := t.Conn.Read(b)
	if err == io.EOF {
		t.eof.Store(true)
	}
	return n, err
}

type hybridConn struct {
	*tls.Conn
	raw *eofTransport
}

func (c *hybridConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	switch {
	case err == io.EOF && c.raw.eof.Load():
		err = &api.Error{Kind: api.KindTransport, Err: io.ErrUnexpectedEOF}
	case err != nil && err != io.EOF:
		err = backendkit.Classify(err, "hybrid-only")
	}
	return n, err
}

func (c *hybridConn) Flush() error { return nil }

func (c *hybridConn) CloseWrite() error {
	if err := c.Conn.CloseWrite(); err != nil {
		return err
	}
	return c.raw.Conn.(*net.TCPConn).CloseWrite()
}

func (c *hybridConn) State() api.ConnectionState {
	return gotls.State(c.Conn.ConnectionState(), "hybrid-only", "")
}

// TestRequiresPQExpectations checks the suite's RequiresPQ branches: every
// classical-only server must be refused with ErrPQRequired.
func TestRequiresPQExpectations(t *testing.T) {
	Run(t, hybridOnly{}, WithBulkBytes(1<<20), Skip("ConcurrentHandshakes", "exercised by backends/stdtls"))
}
