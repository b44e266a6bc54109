// Package stdtls is the wasitls backend built on Go's crypto/tls.
//
// It is the default backend: the reference behaviour the other backends are
// measured against. Importing the package registers it as "stdtls":
//
//	import _ "github.com/wasitls/wasitls/backends/stdtls"
//	p, _ := api.Lookup("stdtls")
package stdtls

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/api/backendkit"
)

// Name is the registry name of this backend.
const Name = "stdtls"

func init() { api.Register(Provider{}) }

// Provider implements api.Provider with crypto/tls. The zero value is ready to use.
type Provider struct{}

// Name returns "stdtls".
func (Provider) Name() string { return Name }

// Capabilities: crypto/tls does everything the suite asks for.
func (Provider) Capabilities() api.Capabilities {
	return api.Capabilities{TLS12: true, Resumption: true, ALPNOverride: true, ClassicalOnly: true, ClientAuth: true, ReportsGroup: true, HonorsContext: true}
}

// Validate refuses what this backend cannot honour whatever the
// destination: any Options (it has none), and version bounds that leave no
// version.
func (Provider) Validate(cfg *api.Config) error {
	for k := range cfg.Options {
		return &api.Error{Kind: api.KindInvalidConfig, Backend: Name, Err: fmt.Errorf("unknown option %q (stdtls has none)", k)}
	}
	if minV, maxV := cfg.Versions(); minV > maxV {
		return &api.Error{Kind: api.KindInvalidConfig, Backend: Name, Err: fmt.Errorf("MinVersion %s is above MaxVersion %s", tls.VersionName(minV), tls.VersionName(maxV))}
	}
	return nil
}

// TLSConfig converts cfg to a crypto/tls client configuration. It is exported
// for wrappers that start from stdtls and change one thing.
func TLSConfig(cfg *api.Config) (*tls.Config, error) {
	if err := api.ValidateServerName(cfg.ServerName); err != nil {
		return nil, err
	}
	if err := (Provider{}).Validate(cfg); err != nil {
		return nil, err
	}
	minV, maxV := cfg.Versions()
	tc := &tls.Config{
		ServerName:         cfg.ServerName,
		NextProtos:         cfg.NextProtos,
		RootCAs:            cfg.RootCAs,
		MinVersion:         minV,
		MaxVersion:         maxV,
		ClientSessionCache: cfg.ClientSessionCache,
	}
	if cert := cfg.ClientCertificate; cert != nil {
		// GetClientCertificate rather than Certificates: send the identity
		// even when the server's CA list does not name its issuer, and let the
		// server decide.
		tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	}
	return tc, nil
}

// ServerTLSConfig converts cfg to a crypto/tls server configuration: the
// certificate chosen per client server name by cfg.Certificate, client
// certificates required and verified when cfg.ClientCAs is set, ALPN in the
// server's order of preference. Exported for backends built on crypto/tls.
func ServerTLSConfig(cfg *api.ServerConfig) (*tls.Config, error) {
	if cfg.Certificate == nil {
		return nil, &api.Error{Kind: api.KindInvalidConfig, Backend: Name, Err: fmt.Errorf("no server certificate")}
	}
	if err := (Provider{}).Validate(&api.Config{MinVersion: cfg.MinVersion, MaxVersion: cfg.MaxVersion, Options: cfg.Options}); err != nil {
		return nil, err
	}
	minV, maxV := cfg.Versions()
	get := cfg.Certificate
	tc := &tls.Config{
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) { return get(hello.ServerName) },
		NextProtos:     cfg.NextProtos,
		MinVersion:     minV,
		MaxVersion:     maxV,
		// Tickets would need a key shared across handshakes; each
		// handshake has its own config, so resumption is off rather than
		// keyed per connection.
		SessionTicketsDisabled: true,
	}
	if cfg.ClientCAs != nil {
		tc.ClientCAs = cfg.ClientCAs
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

// Server runs a crypto/tls server handshake over transport.
func (Provider) Server(ctx context.Context, transport net.Conn, cfg *api.ServerConfig) (api.Conn, error) {
	tc, err := ServerTLSConfig(cfg)
	if err != nil {
		return nil, err
	}
	c, err := ServerHandshake(ctx, transport, tc, cfg.Timeout(), Name)
	if err != nil {
		return nil, backendkit.Classify(err, Name)
	}
	return c, nil
}

// Client runs a crypto/tls client handshake over transport.
func (Provider) Client(ctx context.Context, transport net.Conn, cfg *api.Config) (api.Conn, error) {
	tc, err := TLSConfig(cfg)
	if err != nil {
		return nil, err
	}
	c, err := Handshake(ctx, transport, tc, cfg.Timeout(), Name, "")
	if err != nil {
		return nil, backendkit.Classify(err, Name)
	}
	return c, nil
}

// Handshake runs a crypto/tls client handshake with tc over transport, bounded
// by timeout and ctx, and wraps the result as a *Conn that reports backend and
// fingerprint in its state. The error is returned unclassified (but naming the
// context's verdict when ctx ended), so that backends built on crypto/tls can
// classify it their own way before falling back to backendkit.Classify.
func Handshake(ctx context.Context, transport net.Conn, tc *tls.Config, timeout time.Duration, backend, fingerprint string) (*Conn, error) {
	return handshake(ctx, transport, tls.Client, tc, timeout, backend, fingerprint)
}

// ServerHandshake is Handshake for the server side (tls.Server).
func ServerHandshake(ctx context.Context, transport net.Conn, tc *tls.Config, timeout time.Duration, backend string) (*Conn, error) {
	return handshake(ctx, transport, tls.Server, tc, timeout, backend, "")
}

func handshake(ctx context.Context, transport net.Conn, side func(net.Conn, *tls.Config) *tls.Conn, tc *tls.Config, timeout time.Duration, backend, fingerprint string) (*Conn, error) {
	raw := &backendkit.EOFWatch{Conn: transport}
	c := side(raw, tc)
	if err := backendkit.RunHandshake(ctx, transport, timeout, c.Handshake); err != nil {
		return nil, err
	}
	return &Conn{Conn: c, raw: raw, backend: backend, fingerprint: fingerprint}, nil
}

// Conn is an established crypto/tls connection. Read and Write return
// classified *api.Error values, except io.EOF after the peer's close_notify
// and deadline errors, which stay as net.Conn callers expect them.
type Conn struct {
	*tls.Conn
	raw         *backendkit.EOFWatch
	backend     string
	fingerprint string
}

// Read reads plaintext. It returns io.EOF only after close_notify; a
// transport closed without one is a KindTransport error (truncation).
func (c *Conn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if err != nil {
		err = c.classify(err)
	}
	return n, err
}

// Write writes plaintext as one or more records.
func (c *Conn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if err != nil {
		err = c.classify(err)
	}
	return n, err
}

func (c *Conn) classify(err error) error {
	return backendkit.ConnError(err, c.raw != nil && c.raw.Ended(), c.backend, func(err error) error { return backendkit.Classify(err, c.backend) })
}

// NetConn returns the transport passed to Client.
func (c *Conn) NetConn() net.Conn {
	if c.raw != nil {
		return c.raw.Conn
	}
	return c.Conn.NetConn()
}

// Flush is a no-op: crypto/tls writes a record per Write.
func (*Conn) Flush() error { return nil }

// CloseWrite sends close_notify, then half-closes the TCP connection so that
// peers that wait for a FIN (rather than the alert) see the end too.
func (c *Conn) CloseWrite() error {
	if err := c.Conn.CloseWrite(); err != nil {
		return c.classify(err)
	}
	if hc, ok := c.NetConn().(interface{ CloseWrite() error }); ok {
		return hc.CloseWrite()
	}
	return nil
}

// State reports what the handshake negotiated.
func (c *Conn) State() api.ConnectionState {
	return FromTLSState(c.Conn.ConnectionState(), c.backend, c.fingerprint)
}

// FromTLSState converts a crypto/tls ConnectionState.
func FromTLSState(cs tls.ConnectionState, backend, fingerprint string) api.ConnectionState {
	return api.ConnectionState{
		Version:            cs.Version,
		CipherSuite:        cs.CipherSuite,
		Group:              cs.CurveID,
		HelloRetryRequest:  cs.HelloRetryRequest,
		NegotiatedProtocol: cs.NegotiatedProtocol,
		ServerName:         cs.ServerName,
		PeerCertificates:   cs.PeerCertificates,
		VerifiedChains:     cs.VerifiedChains,
		DidResume:          cs.DidResume,
		Backend:            backend,
		Fingerprint:        fingerprint,
	}
}
