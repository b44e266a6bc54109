package wasinet

import (
	"context"
	"errors"
	"net"
	"runtime"
	"unicode/utf8"

	"github.com/wasitls/wasitls/guest/io/poll"
	"github.com/wasitls/wasitls/guest/io/streams"
	"github.com/wasitls/wasitls/guest/sockets/tcp"
	"github.com/wasitls/wasitls/guest/tls"
)

// TLSConn is a TLS client connection run by the host through wasi-tls. The
// host verifies the server and picks versions, ciphers, ALPN and any client
// certificate by its own policy; the guest only names the server.
type TLSConn struct {
	duplex
	tcp        *Conn     // owns the socket; its streams went to the handshake
	conn       tlsHandle // tls.ClientConnection or server.Connection
	serverName string
	wclosed    bool // close_notify queued
	alpn       alpnState
}

var _ net.Conn = (*TLSConn)(nil)

// ErrNotWasiConn is returned by Client for a connection that did not come
// from this package.
var ErrNotWasiConn = errors.New("wasinet: TLS needs a connection dialed with wasinet")

// Client runs a TLS handshake over conn (from DialContext, possibly after a
// plaintext exchange: STARTTLS) for serverName and returns the TLS
// connection. The handshake is bounded by conn's deadlines, if set. On
// failure conn is closed.
func Client(conn net.Conn, serverName string) (*TLSConn, error) {
	return ClientContext(context.Background(), conn, serverName)
}

// ClientContext is Client bounded by ctx as well.
func ClientContext(ctx context.Context, conn net.Conn, serverName string) (*TLSConn, error) {
	return (&Dialer{}).ClientContext(ctx, conn, serverName)
}

// ClientContext is the package's ClientContext with the Dialer's ALPN
// protocols (NextProtos); its Timeout does not apply.
func (d *Dialer) ClientContext(ctx context.Context, conn net.Conn, serverName string) (*TLSConn, error) {
	if runtime.GOOS != "wasip1" {
		return nil, &net.OpError{Op: "tls handshake", Net: "tcp", Err: ErrUnsupportedPlatform}
	}
	c := unwrap(conn)
	if c == nil {
		return nil, ErrNotWasiConn
	}
	opErr := func(err error) error {
		return &net.OpError{Op: "tls handshake", Net: c.netw, Source: c.laddr, Addr: c.raddr, Err: err}
	}
	if !utf8.ValidString(serverName) {
		// WIT strings must be UTF-8; the host would trap.
		c.Close()
		return nil, opErr(errors.New("wasinet: server name is not valid UTF-8"))
	}
	in, out, hsDeadline, err := c.detachStreams()
	if err != nil {
		return nil, opErr(err)
	}
	hs := tls.NewClientHandshake(serverName, in, out)
	alpn, err := askALPN(hs, d.NextProtos)
	if err != nil {
		hs.Drop()
		c.closeSocket()
		return nil, opErr(err)
	}
	tconn, tin, tout, err := awaitHandshake(ctx, tls.Finish(hs), hsDeadline, nil)
	if err != nil {
		c.closeSocket()
		return nil, opErr(handshakeError(serverName, err))
	}
	t := c.tlsOver(tconn, tin, tout, serverName)
	t.alpn = alpn
	return t, nil
}

// detachStreams takes the streams away from the TCP connection for a
// handshake, with the nearer of its deadlines (a monotonic instant, 0:
// none). Readers and writers must be done; the handshake needs the
// streams without pollables. On failure c is closed, unless it was
// already.
func (c *Conn) detachStreams() (streams.InputStream, streams.OutputStream, uint64, error) {
	c.rmu.Lock()
	c.wmu.Lock()
	c.mu.Lock()
	if c.closed || c.upgraded {
		c.mu.Unlock()
		c.wmu.Unlock()
		c.rmu.Unlock()
		return 0, 0, 0, net.ErrClosed
	}
	if len(c.rbuf) > 0 {
		c.mu.Unlock()
		c.wmu.Unlock()
		c.rmu.Unlock()
		c.Close()
		return 0, 0, 0, errors.New("wasinet: plaintext data is buffered past the point of the TLS upgrade")
	}
	c.releaseAheadLocked()
	// What was written in plaintext goes first, and completely: a host
	// whose streams are idle can hand the socket itself to TLS.
	if err := c.out.BlockingFlush(); err != nil {
		_ = streamErr(err)
	}
	c.dropPollables()
	in, out := c.in, c.out
	c.in, c.out = 0, 0
	c.upgraded = true
	hsDeadline := c.wdl.at.Load()
	if r := c.rdl.at.Load(); r != 0 && (hsDeadline == 0 || r < hsDeadline) {
		hsDeadline = r
	}
	c.mu.Unlock()
	c.wmu.Unlock()
	c.rmu.Unlock()
	return in, out, hsDeadline, nil
}

// handshakeError turns a failed handshake's *tls.HandshakeError (whose
// io-error it releases) into a *HandshakeError; other errors stay.
func handshakeError(serverName string, err error) error {
	var he *tls.HandshakeError
	if errors.As(err, &he) {
		debug := he.Debug
		he.Release()
		return ParseHandshakeError(serverName, debug)
	}
	return err
}

// handshakeFuture is a future of a client or server handshake.
type handshakeFuture[C any] interface {
	Get() (C, streams.InputStream, streams.OutputStream, error)
	Subscribe() poll.Pollable
	Drop()
}

// awaitHandshake waits for fut's outcome (parking this goroutine only)
// until the monotonic instant hsDeadline (0: none), ctx ends, or
// cancel(owner) is called.
func awaitHandshake[C any](ctx context.Context, fut handshakeFuture[C], hsDeadline uint64, owner any) (C, streams.InputStream, streams.OutputStream, error) {
	p := fut.Subscribe()
	var dl deadline
	dl.at.Store(hsDeadline)
	for {
		conn, in, out, err := fut.Get()
		if errors.Is(err, tls.ErrPending) {
			if werr := await(ctx, p, &dl, owner); werr != nil {
				p.Drop()
				fut.Drop()
				var zero C
				return zero, 0, 0, werr
			}
			continue
		}
		p.Drop()
		fut.Drop()
		return conn, in, out, err
	}
}

// tlsOver is the TLS connection over c once a handshake succeeded.
func (c *Conn) tlsOver(conn tlsHandle, in streams.InputStream, out streams.OutputStream, serverName string) *TLSConn {
	t := &TLSConn{tcp: c, conn: conn, serverName: serverName}
	t.in, t.out, t.ahead = in, out, true
	t.laddr, t.raddr, t.netw = c.laddr, c.raddr, c.netw
	t.rdl.at.Store(c.rdl.at.Load())
	t.wdl.at.Store(c.wdl.at.Load())
	return t
}

// tlsHandle is a client or server connection handle.
type tlsHandle interface {
	CloseOutput()
	Drop()
}

// unwrap finds the *Conn under conn (also through a NetConn method, as
// crypto/tls's and this package's TLS connections have).
func unwrap(conn net.Conn) *Conn {
	for range 8 {
		switch c := conn.(type) {
		case *Conn:
			return c
		case interface{ NetConn() net.Conn }:
			conn = c.NetConn()
		default:
			return nil
		}
	}
	return nil
}

// closeSocket drops the socket of an upgraded connection.
func (c *Conn) closeSocket() {
	c.markClosed()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sock != 0 {
		c.sock.Drop()
		c.sock = 0
	}
}

// DialTLSContext dials address and runs a TLS handshake naming its host
// part. Its signature fits http.Transport.DialTLSContext.
func DialTLSContext(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := (&Dialer{}).dialTLS(ctx, network, address)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// DialTLSContext is the package's DialTLSContext with the Dialer's
// settings; Timeout covers the handshake too.
func (d *Dialer) DialTLSContext(ctx context.Context, network, address string) (net.Conn, error) {
	if d.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.Timeout)
		defer cancel()
	}
	c, err := d.dialTLS(ctx, network, address)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (d *Dialer) dialTLS(ctx context.Context, network, address string) (*TLSConn, error) {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	c, err := d.dial(ctx, network, address)
	if err != nil {
		return nil, err
	}
	return d.ClientContext(ctx, c, host)
}

// Read reads plaintext. It returns io.EOF after the server's close_notify.
func (t *TLSConn) Read(b []byte) (int, error) { return t.read(b) }

// Write writes b completely, unless the write deadline passes or the
// connection fails.
func (t *TLSConn) Write(b []byte) (int, error) { return t.write(b) }

// ServerName is the name the handshake verified.
func (t *TLSConn) ServerName() string { return t.serverName }

// NetConn returns the TCP connection underneath (its streams belong to t).
func (t *TLSConn) NetConn() net.Conn { return t.tcp }

// CloseWrite sends close_notify; reading goes on.
func (t *TLSConn) CloseWrite() error {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return t.opError("close", net.ErrClosed)
	}
	if !t.wclosed {
		t.wclosed = true
		t.conn.CloseOutput()
	}
	return nil
}

// Close sends close_notify (waiting a few seconds at most for it to leave),
// shuts the socket down and releases everything. Parked reads and writes
// return net.ErrClosed.
func (t *TLSConn) Close() error {
	if !t.markClosed() {
		return t.opError("close", net.ErrClosed)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.wclosed {
		t.wclosed = true
		t.conn.CloseOutput()
	}
	// check-write reports 0 until close_notify is out, then closed.
	t.drain(closeFlushTimeout)
	t.dropPollables()
	t.tcp.mu.Lock()
	sock := t.tcp.sock
	t.tcp.sock = 0
	t.tcp.closed = true
	t.tcp.mu.Unlock()
	if sock != 0 {
		_ = sock.Shutdown(tcp.ShutdownBoth)
	}
	t.in.Drop()
	t.out.Drop()
	t.conn.Drop()
	if sock != 0 {
		sock.Drop()
	}
	return nil
}
