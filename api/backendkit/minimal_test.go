package backendkit_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"testing"

	"go.uber.org/goleak"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/api/backendkit"
	"github.com/wasitls/wasitls/conformance"
	"github.com/wasitls/wasitls/internal/testkit/peers"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// mini is the minimal backend of the package documentation, written out in
// full: crypto/tls plus the kit.
type mini struct{}

func (mini) Name() string { return "mini" }

// Capabilities: the kit's RunHandshake returns once ctx ends.
func (mini) Capabilities() api.Capabilities {
	return api.Capabilities{TLS12: true, Resumption: true, ALPNOverride: true, ClassicalOnly: true,
		ClientAuth: true, ReportsGroup: true, HonorsContext: true}
}

// Validate refuses the Options mini does not have.
func (mini) Validate(cfg *api.Config) error {
	for k := range cfg.Options {
		return fmt.Errorf("unknown option %q", k)
	}
	return nil
}

func (m mini) Client(ctx context.Context, transport net.Conn, cfg *api.Config) (api.Conn, error) {
	if err := api.ValidateServerName(cfg.ServerName); err != nil {
		return nil, err
	}
	if err := api.ValidateConfig(m, cfg); err != nil {
		return nil, err
	}
	minV, maxV := cfg.Versions()
	tc := &tls.Config{ServerName: cfg.ServerName, RootCAs: cfg.RootCAs, MinVersion: minV, MaxVersion: maxV,
		NextProtos: cfg.NextProtos, ClientSessionCache: cfg.ClientSessionCache}
	if cert := cfg.ClientCertificate; cert != nil {
		tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	}
	w := &backendkit.EOFWatch{Conn: transport}
	c := tls.Client(w, tc)
	if err := backendkit.RunHandshake(ctx, transport, cfg.Timeout(), c.Handshake); err != nil {
		return nil, backendkit.Classify(err, "mini")
	}
	return &miniConn{Conn: c, w: w}, nil
}

type miniConn struct {
	*tls.Conn
	w *backendkit.EOFWatch
}

func (c *miniConn) classify(err error) error {
	return backendkit.ConnError(err, c.w.Ended(), "mini", func(err error) error { return backendkit.Classify(err, "mini") })
}

func (c *miniConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	return n, c.classify(err)
}

func (c *miniConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	return n, c.classify(err)
}

func (*miniConn) Flush() error { return nil }

func (c *miniConn) CloseWrite() error { return c.classify(c.Conn.CloseWrite()) }

func (c *miniConn) State() api.ConnectionState {
	cs := c.ConnectionState()
	return api.ConnectionState{Version: cs.Version, CipherSuite: cs.CipherSuite, Group: cs.CurveID,
		HelloRetryRequest: cs.HelloRetryRequest, NegotiatedProtocol: cs.NegotiatedProtocol,
		ServerName: cs.ServerName, PeerCertificates: cs.PeerCertificates, VerifiedChains: cs.VerifiedChains,
		DidResume: cs.DidResume, Backend: "mini"}
}

// TestMinimalBackend holds the package documentation to its word: a backend
// made of crypto/tls and the kit passes the shared suite.
func TestMinimalBackend(t *testing.T) {
	conformance.Run(t, mini{}, conformance.RequirePeers(peers.InCI()))
}
