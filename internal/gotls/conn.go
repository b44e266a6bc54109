package gotls

import (
	"context"
	"crypto/tls"
	"net"
	"time"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/api/backendkit"
)

// Client runs a crypto/tls client handshake with tc over transport, bounded
// by timeout and ctx, and wraps the result as a *Conn that reports backend and
// fingerprint in its state. The error is returned unclassified (but naming the
// context's verdict when ctx ended), so that each backend classifies it its
// own way before falling back to backendkit.Classify.
func Client(ctx context.Context, transport net.Conn, tc *tls.Config, timeout time.Duration, backend, fingerprint string) (*Conn, error) {
	return handshake(ctx, transport, tls.Client, tc, timeout, backend, fingerprint)
}

// Server is Client for the server side (tls.Server).
func Server(ctx context.Context, transport net.Conn, tc *tls.Config, timeout time.Duration, backend string) (*Conn, error) {
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
	return State(c.Conn.ConnectionState(), c.backend, c.fingerprint)
}

// State converts a crypto/tls ConnectionState to the api's, naming backend
// and fingerprint.
func State(cs tls.ConnectionState, backend, fingerprint string) api.ConnectionState {
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
