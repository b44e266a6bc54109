package utls

import (
	stdtls "crypto/tls"
	"net"

	tls "github.com/refraction-networking/utls"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/api/backendkit"
)

// Conn is an established uTLS connection. Read and Write return classified
// *api.Error values, except io.EOF after the peer's close_notify and
// deadline errors, which stay as net.Conn callers expect them.
type Conn struct {
	*tls.UConn
	transport   *sniffConn
	serverName  string
	fingerprint string
	group       stdtls.CurveID
	hrr         bool
}

func newConn(u *tls.UConn, tr *sniffConn, serverName, fp string) *Conn {
	c := &Conn{UConn: u, transport: tr, serverName: serverName, fingerprint: fp}
	hrr, group12 := tr.result()
	c.hrr = hrr
	// uTLS's ConnectionState has no group: TLS 1.3 takes it from the
	// ServerHello's key share, TLS 1.2 from the ServerKeyExchange (none on
	// a resumed TLS 1.2 session: 0).
	switch u.ConnectionState().Version {
	case tls.VersionTLS13:
		if sh := u.HandshakeState.ServerHello; sh != nil {
			c.group = stdtls.CurveID(sh.ServerShare.Group)
		}
	case tls.VersionTLS12:
		c.group = stdtls.CurveID(group12)
	}
	return c
}

// Read reads plaintext. It returns io.EOF only after close_notify; a
// transport closed without one is a KindTransport error (truncation).
func (c *Conn) Read(b []byte) (int, error) {
	n, err := c.UConn.Read(b)
	if err != nil {
		err = c.classify(err)
	}
	return n, err
}

// Write writes plaintext as one or more records.
func (c *Conn) Write(b []byte) (int, error) {
	n, err := c.UConn.Write(b)
	if err != nil {
		err = c.classify(err)
	}
	return n, err
}

func (c *Conn) classify(err error) error {
	return backendkit.ConnError(err, c.transport.Ended(), Name, classify)
}

// NetConn returns the transport passed to Client.
func (c *Conn) NetConn() net.Conn { return c.transport.Conn }

// Flush is a no-op: uTLS writes a record per Write.
func (*Conn) Flush() error { return nil }

// CloseWrite sends close_notify, then half-closes the TCP connection so that
// peers that wait for a FIN see the end too.
func (c *Conn) CloseWrite() error {
	if err := c.UConn.CloseWrite(); err != nil {
		return c.classify(err)
	}
	if hc, ok := c.transport.Conn.(interface{ CloseWrite() error }); ok {
		return hc.CloseWrite()
	}
	return nil
}

// State reports what the handshake negotiated.
func (c *Conn) State() api.ConnectionState {
	cs := c.UConn.ConnectionState()
	return api.ConnectionState{
		Version:            cs.Version,
		CipherSuite:        cs.CipherSuite,
		Group:              c.group,
		HelloRetryRequest:  c.hrr,
		NegotiatedProtocol: cs.NegotiatedProtocol,
		ServerName:         c.serverName,
		PeerCertificates:   cs.PeerCertificates,
		VerifiedChains:     cs.VerifiedChains,
		DidResume:          cs.DidResume,
		Backend:            Name,
		Fingerprint:        c.fingerprint,
	}
}

var (
	_ api.Conn          = (*Conn)(nil)
	_ api.Provider      = (*Provider)(nil)
	_ api.Capable       = (*Provider)(nil)
	_ api.Fingerprinter = (*Provider)(nil)
)
