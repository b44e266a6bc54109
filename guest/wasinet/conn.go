package wasinet

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/wasitls/wasitls/guest/cabi"
	"github.com/wasitls/wasitls/guest/io/poll"
	"github.com/wasitls/wasitls/guest/sockets/ipnamelookup"
	"github.com/wasitls/wasitls/guest/sockets/network"
	"github.com/wasitls/wasitls/guest/sockets/tcp"
)

// Conn is a TCP connection over wasi-sockets. It is a net.Conn; Client
// upgrades it to TLS.
type Conn struct {
	duplex
	sock     tcp.TCPSocket
	upgraded bool // the streams belong to a TLS connection now
}

var _ net.Conn = (*Conn)(nil)

// Read reads plaintext. It returns io.EOF when the peer closed its side, a
// net.Error with Timeout() true once the read deadline passed.
func (c *Conn) Read(b []byte) (int, error) { return c.read(b) }

// Write writes b completely, unless the write deadline passes or the
// connection fails.
func (c *Conn) Write(b []byte) (int, error) { return c.write(b) }

// CloseWrite shuts down the sending side (the peer reads EOF), after what
// was written has been sent.
func (c *Conn) CloseWrite() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.upgraded {
		return c.opError("close", net.ErrClosed)
	}
	if err := c.sock.Shutdown(tcp.ShutdownSend); err != nil {
		return c.opError("close", &SocketError{Code: codeOf(err)})
	}
	return nil
}

// Close closes the connection. Data already written is sent first (for at
// most a few seconds); parked reads and writes return net.ErrClosed.
func (c *Conn) Close() error {
	if !c.markClosed() {
		return c.opError("close", net.ErrClosed)
	}
	// Readers and writers see closed and touch no handle any more.
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.upgraded {
		return nil // the TLS connection owns the socket now
	}
	c.drain(closeFlushTimeout)
	c.dropPollables()
	c.in.Drop()
	c.out.Drop()
	c.sock.Drop()
	return nil
}

func codeOf(err error) network.ErrorCode {
	var code network.ErrorCode
	if errors.As(err, &code) {
		return code
	}
	return network.Unknown
}

// ErrUnsupportedPlatform is returned outside a GOOS=wasip1 guest: the
// package builds everywhere (for its documentation and for code that
// refers to it), but connections need a wasitls host.
var ErrUnsupportedPlatform = cabi.ErrUnsupportedPlatform

// Dialer dials TCP connections through wasi-sockets. The zero value is
// ready to use.
type Dialer struct {
	// Timeout bounds name resolution plus connecting (and the handshake,
	// for DialTLSContext). Zero: only the context's deadline applies.
	Timeout time.Duration

	// NextProtos, when not nil, are the ALPN protocols DialTLSContext and
	// ClientContext ask the host for (in preference order), through the
	// project's extension wasitls:tls/connection; the host offers those
	// its policy allows, and TLSConn.ConnectionState says what the server
	// chose. Nil leaves ALPN to the host's policy. Asking needs package
	// tlsext imported (the dial fails with ErrNoExtension otherwise); a
	// guest that does not import it does not import the extension and
	// runs on any wasi-tls host.
	NextProtos []string
}

// DialContext connects to address ("host:port") on network "tcp", "tcp4"
// or "tcp6": it resolves host through wasi:sockets/ip-name-lookup and tries
// the addresses in the order the host returned them. Its signature fits
// http.Transport.DialContext.
func DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := (&Dialer{}).dial(ctx, network, address)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// DialContext is the package's DialContext with the Dialer's settings.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if d.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.Timeout)
		defer cancel()
	}
	c, err := d.dial(ctx, network, address)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// DialTCP is DialContext returning the concrete type.
func DialTCP(ctx context.Context, network, address string) (*Conn, error) {
	return (&Dialer{}).dial(ctx, network, address)
}

// instanceNetwork is the network capability, taken once and kept.
var instanceNetwork = sync.OnceValue(network.InstanceNetwork)

func (d *Dialer) dial(ctx context.Context, netw, address string) (*Conn, error) {
	opErr := func(err error) error { return &net.OpError{Op: "dial", Net: netw, Err: err} }
	host, port, err := splitAddress(netw, address)
	if err != nil {
		return nil, opErr(err)
	}
	addrs, err := resolve(ctx, host)
	if err != nil {
		return nil, opErr(err)
	}
	var firstErr error
	tried := 0
	for _, a := range addrs {
		if (netw == "tcp4" && !a.Unmap().Is4()) || (netw == "tcp6" && a.Unmap().Is4()) {
			continue
		}
		tried++
		c, err := connect(ctx, a, port)
		if err == nil {
			c.netw = netw
			return c, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	if tried == 0 {
		return nil, opErr(&net.AddrError{Err: "no suitable address found", Addr: host})
	}
	return nil, &net.OpError{Op: "dial", Net: netw, Addr: &net.TCPAddr{IP: addrs[0].AsSlice(), Port: int(port)}, Err: firstErr}
}

// splitAddress checks the platform and the network ("tcp", "tcp4" or
// "tcp6") and splits address into its host and port.
func splitAddress(netw, address string) (string, uint16, error) {
	if runtime.GOOS != "wasip1" {
		return "", 0, ErrUnsupportedPlatform
	}
	switch netw {
	case "tcp", "tcp4", "tcp6":
	default:
		return "", 0, net.UnknownNetworkError(netw)
	}
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return "", 0, err
	}
	port, err := parsePort(portStr)
	if err != nil {
		return "", 0, err
	}
	return host, port, nil
}

func parsePort(s string) (uint16, error) {
	p, err := strconv.ParseUint(s, 10, 16)
	if err == nil {
		return uint16(p), nil
	}
	// A service name; Go's net package knows the common ones without files.
	n, err := net.LookupPort("tcp", s)
	if err != nil {
		return 0, err
	}
	return uint16(n), nil
}

// resolve returns host's addresses: an IP literal as is, a name through the
// host's resolver.
func resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, nil
	}
	dnsErr := func(code network.ErrorCode) error {
		return &net.DNSError{
			Err: code.String(), Name: host,
			IsNotFound:  code == network.NameUnresolvable,
			IsTemporary: code == network.TemporaryResolverFailure,
			UnwrapErr:   &SocketError{Code: code},
		}
	}
	rs, err := ipnamelookup.ResolveAddresses(instanceNetwork(), host)
	if err != nil {
		return nil, dnsErr(codeOf(err))
	}
	defer rs.Drop()
	var p poll.Pollable
	defer func() {
		if p != 0 {
			p.Drop()
		}
	}()
	var addrs []netip.Addr
	for {
		a, ok, err := rs.ResolveNextAddress()
		switch {
		case errors.Is(err, network.WouldBlock):
			if p == 0 {
				p = rs.Subscribe()
			}
			if err := await(ctx, p, nil, nil); err != nil {
				return nil, err
			}
			continue
		case err != nil:
			return nil, dnsErr(codeOf(err))
		case !ok:
			if len(addrs) == 0 {
				return nil, dnsErr(network.NameUnresolvable)
			}
			return addrs, nil
		}
		addrs = append(addrs, a)
	}
}

// connect opens one TCP connection.
func connect(ctx context.Context, a netip.Addr, port uint16) (*Conn, error) {
	sock, err := tcp.CreateTCPSocket(network.FamilyOf(a))
	if err != nil {
		return nil, &SocketError{Code: codeOf(err)}
	}
	remote := network.IPSocketAddress{Addr: a, Port: port}
	if a.Is4In6() {
		remote.Addr = a.Unmap()
	}
	if err := sock.StartConnect(instanceNetwork(), remote); err != nil {
		sock.Drop()
		return nil, &SocketError{Code: codeOf(err)}
	}
	p := sock.Subscribe()
	for {
		in, out, err := sock.FinishConnect()
		if errors.Is(err, network.WouldBlock) {
			if werr := await(ctx, p, nil, nil); werr != nil {
				p.Drop()
				sock.Drop()
				return nil, werr
			}
			continue
		}
		p.Drop()
		if err != nil {
			sock.Drop()
			return nil, &SocketError{Code: codeOf(err)}
		}
		c := &Conn{sock: sock}
		c.in, c.out, c.netw = in, out, "tcp"
		c.raddr = tcpAddr(sock.RemoteAddress())
		c.laddr = tcpAddr(sock.LocalAddress())
		return c, nil
	}
}

func tcpAddr(a network.IPSocketAddress, err error) net.Addr {
	if err != nil {
		return &net.TCPAddr{}
	}
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(a.Addr, a.Port))
}
