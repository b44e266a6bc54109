package wasinet

import (
	"context"
	"crypto/x509"
	"net"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/wasitls/wasitls/guest/tls/server"
)

// ListenTLS listens as Listen does and returns a listener whose
// connections speak TLS: the host runs each server handshake
// (wasitls:tls/server) with the certificate its policy holds for the name
// the client asks for; the guest never sees a key. So
//
//	l, _ := wasinet.ListenTLS("tcp", ":8443")
//	http.Serve(l, handler)
//
// serves HTTPS. The handshake runs on the connection's first Read or Write
// (or Handshake), in the goroutine serving it, so a slow client holds up
// no other.
func ListenTLS(network, address string) (net.Listener, error) {
	l, err := ListenTCP(context.Background(), network, address)
	if err != nil {
		return nil, err
	}
	return &TLSListener{l}, nil
}

// TLSListener is a Listener whose Accept returns *ServerConn.
type TLSListener struct{ *Listener }

// Accept waits for the next client and returns its connection, before the
// handshake.
func (l *TLSListener) Accept() (net.Conn, error) {
	c, err := l.Listener.AcceptTCP()
	if err != nil {
		return nil, err
	}
	return NewServerConn(c), nil
}

// ServerConn is the server side of a TLS connection run by the host. It
// is a net.Conn carrying plaintext; the handshake happens on first use.
type ServerConn struct {
	raw *Conn

	hmu    sync.Mutex // held for the handshake
	mu     sync.Mutex // guards the fields below
	tc     *TLSConn
	err    error
	sess   server.Connection
	done   bool
	closed bool

	// What the handshake settled, asked of the host once (a handler may
	// read it on every request).
	alpnOnce  sync.Once
	alpn      string
	certsOnce sync.Once
	certs     []*x509.Certificate
	certsErr  error
}

var _ net.Conn = (*ServerConn)(nil)

// NewServerConn makes c the transport of a TLS server connection. c must
// be a connection this package accepted, not yet read from.
func NewServerConn(c *Conn) *ServerConn { return &ServerConn{raw: c} }

// Handshake runs the server handshake if it has not run yet. It is bounded
// by the connection's deadlines.
func (s *ServerConn) Handshake() error { return s.HandshakeContext(context.Background()) }

// HandshakeContext is Handshake bounded by ctx as well.
func (s *ServerConn) HandshakeContext(ctx context.Context) error {
	s.hmu.Lock()
	defer s.hmu.Unlock()
	s.mu.Lock()
	done, err := s.done, s.err
	s.mu.Unlock()
	if done {
		return err
	}
	tc, sess, err := s.handshake(ctx)
	s.mu.Lock()
	if s.closed && tc != nil {
		// Closed while the handshake ran, before it parked where Close
		// could reach it.
		s.mu.Unlock()
		_ = tc.Close()
		tc, err = nil, &net.OpError{Op: "tls handshake", Net: s.raw.netw, Source: s.raw.laddr, Addr: s.raw.raddr, Err: net.ErrClosed}
		s.mu.Lock()
	}
	s.done, s.tc, s.sess, s.err = true, tc, sess, err
	s.mu.Unlock()
	return err
}

func (s *ServerConn) handshake(ctx context.Context) (*TLSConn, server.Connection, error) {
	c := s.raw
	opErr := func(err error) error {
		return &net.OpError{Op: "tls handshake", Net: c.netw, Source: c.laddr, Addr: c.raddr, Err: err}
	}
	if runtime.GOOS != "wasip1" {
		return nil, 0, opErr(ErrUnsupportedPlatform)
	}
	in, out, hsDeadline, err := c.detachStreams()
	if err != nil {
		return nil, 0, opErr(err)
	}
	sess, tin, tout, err := awaitHandshake(ctx, server.Finish(server.NewHandshake(in, out)), hsDeadline, s)
	if err != nil {
		c.closeSocket()
		return nil, 0, opErr(handshakeError("", err))
	}
	return c.tlsOver(sess, tin, tout, sess.ServerName()), sess, nil
}

// conn returns the TLS connection, running the handshake first if needed.
func (s *ServerConn) conn() (*TLSConn, error) {
	s.mu.Lock()
	tc, err, done := s.tc, s.err, s.done
	s.mu.Unlock()
	if done {
		return tc, err
	}
	if err := s.Handshake(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tc, nil
}

// Read reads plaintext, after the handshake. It returns io.EOF after the
// client's close_notify.
func (s *ServerConn) Read(b []byte) (int, error) {
	tc, err := s.conn()
	if err != nil {
		return 0, err
	}
	return tc.Read(b)
}

// Write writes plaintext, after the handshake.
func (s *ServerConn) Write(b []byte) (int, error) {
	tc, err := s.conn()
	if err != nil {
		return 0, err
	}
	return tc.Write(b)
}

// Close closes the connection; a handshake in progress ends with
// net.ErrClosed.
func (s *ServerConn) Close() error {
	s.mu.Lock()
	tc, done := s.tc, s.done
	s.closed = true
	s.mu.Unlock()
	if tc != nil {
		return tc.Close()
	}
	if !done {
		cancel(s, net.ErrClosed) // a handshake parked in awaitHandshake
	}
	return s.raw.Close()
}

// CloseWrite sends close_notify (after the handshake); reading goes on.
func (s *ServerConn) CloseWrite() error {
	tc, err := s.conn()
	if err != nil {
		return err
	}
	return tc.CloseWrite()
}

// LocalAddr is the address the client connected to.
func (s *ServerConn) LocalAddr() net.Addr { return s.raw.LocalAddr() }

// RemoteAddr is the client's address.
func (s *ServerConn) RemoteAddr() net.Addr { return s.raw.RemoteAddr() }

// SetDeadline sets both deadlines; before the handshake they bound it too.
func (s *ServerConn) SetDeadline(t time.Time) error {
	if tc := s.established(); tc != nil {
		return tc.SetDeadline(t)
	}
	return s.raw.SetDeadline(t)
}

// SetReadDeadline sets the read deadline (see SetDeadline).
func (s *ServerConn) SetReadDeadline(t time.Time) error {
	if tc := s.established(); tc != nil {
		return tc.SetReadDeadline(t)
	}
	return s.raw.SetReadDeadline(t)
}

// SetWriteDeadline sets the write deadline (see SetDeadline).
func (s *ServerConn) SetWriteDeadline(t time.Time) error {
	if tc := s.established(); tc != nil {
		return tc.SetWriteDeadline(t)
	}
	return s.raw.SetWriteDeadline(t)
}

func (s *ServerConn) established() *TLSConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tc
}

// NetConn returns the TCP connection underneath.
func (s *ServerConn) NetConn() net.Conn { return s.raw }

// ServerName is the name the client asked for (SNI), "" before the
// handshake or if it sent none.
func (s *ServerConn) ServerName() string {
	if tc := s.established(); tc != nil {
		return tc.ServerName()
	}
	return ""
}

// NegotiatedProtocol is the ALPN protocol agreed on, "" if none.
func (s *ServerConn) NegotiatedProtocol() string {
	s.mu.Lock()
	sess, tc := s.sess, s.tc
	s.mu.Unlock()
	if tc == nil {
		return ""
	}
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if tc.closed {
		return ""
	}
	s.alpnOnce.Do(func() { s.alpn = sess.ALPN() })
	return s.alpn
}

// PeerCertificates parses the client's certificate chain (leaf first):
// nil when the client sent none. When the host requires client
// certificates it verified the chain during the handshake.
func (s *ServerConn) PeerCertificates() ([]*x509.Certificate, error) {
	s.mu.Lock()
	sess, tc := s.sess, s.tc
	s.mu.Unlock()
	if tc == nil {
		return nil, nil
	}
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if tc.closed {
		return nil, net.ErrClosed
	}
	s.certsOnce.Do(func() {
		for _, der := range sess.ClientCertificates() {
			c, err := x509.ParseCertificate(der)
			if err != nil {
				s.certs, s.certsErr = nil, err
				return
			}
			s.certs = append(s.certs, c)
		}
	})
	return slices.Clone(s.certs), s.certsErr
}
