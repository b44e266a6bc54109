package wasinet

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"

	"github.com/wasitls/wasitls/guest/io/poll"
	"github.com/wasitls/wasitls/guest/sockets/network"
	"github.com/wasitls/wasitls/guest/sockets/tcp"
)

// Listener is a TCP listener over wasi-sockets: a net.Listener whose
// Accept returns *Conn, so http.Serve(l, handler) runs in a guest. The
// host decides where a guest may listen (its policy's Listen patterns);
// elsewhere Listen fails with access-denied.
//
// Accept parks only the calling goroutine: while it waits for a client,
// the guest's other goroutines (the connections already accepted) run.
type Listener struct {
	mu     sync.Mutex
	sock   tcp.TCPSocket
	p      poll.Pollable
	addr   *net.TCPAddr
	netw   string
	closed bool
}

var _ net.Listener = (*Listener)(nil)

// Listen listens on address ("host:port", an IP address or a name the
// host resolves; an empty host is 0.0.0.0, or [::] for "tcp6") for network
// "tcp", "tcp4" or "tcp6". Port 0 takes a free port the host picks (when
// its policy allows any); Addr reports it. Its signature is net.Listen's.
func Listen(network, address string) (net.Listener, error) {
	l, err := ListenTCP(context.Background(), network, address)
	if err != nil {
		return nil, err
	}
	return l, nil
}

// ListenTCP is Listen returning the concrete type, with a context that
// bounds the name lookup.
func ListenTCP(ctx context.Context, netw, address string) (*Listener, error) {
	opErr := func(err error) error { return &net.OpError{Op: "listen", Net: netw, Err: err} }
	host, port, err := splitAddress(netw, address)
	if err != nil {
		return nil, opErr(err)
	}
	var a netip.Addr
	switch {
	case host == "" && netw == "tcp6":
		a = netip.IPv6Unspecified()
	case host == "":
		a = netip.IPv4Unspecified()
	default:
		addrs, err := resolve(ctx, host)
		if err != nil {
			return nil, opErr(err)
		}
		for _, x := range addrs {
			if (netw == "tcp4" && !x.Unmap().Is4()) || (netw == "tcp6" && x.Unmap().Is4()) {
				continue
			}
			a = x.Unmap()
			break
		}
		if !a.IsValid() {
			return nil, opErr(&net.AddrError{Err: "no suitable address found", Addr: host})
		}
	}
	local := netip.AddrPortFrom(a, port)
	sock, err := listenOn(ctx, local)
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: netw, Addr: net.TCPAddrFromAddrPort(local), Err: err}
	}
	l := &Listener{sock: sock, p: sock.Subscribe(), netw: netw}
	l.addr, _ = tcpAddr(sock.LocalAddress()).(*net.TCPAddr)
	return l, nil
}

// listenOn creates, binds and listens; each step's finish waits on the
// socket's pollable while it says would-block.
func listenOn(ctx context.Context, local netip.AddrPort) (tcp.TCPSocket, error) {
	sock, err := tcp.CreateTCPSocket(network.FamilyOf(local.Addr()))
	if err != nil {
		return 0, &SocketError{Code: codeOf(err)}
	}
	fail := func(err error) (tcp.TCPSocket, error) {
		sock.Drop()
		return 0, &SocketError{Code: codeOf(err)}
	}
	if err := sock.StartBind(instanceNetwork(), network.IPSocketAddress{Addr: local.Addr(), Port: local.Port()}); err != nil {
		return fail(err)
	}
	for _, finish := range []func() error{sock.FinishBind, sock.StartListen, sock.FinishListen} {
		if err := finishStep(ctx, sock, finish); err != nil {
			sock.Drop()
			return 0, err
		}
	}
	return sock, nil
}

func finishStep(ctx context.Context, sock tcp.TCPSocket, step func() error) error {
	var p poll.Pollable
	defer func() {
		if p != 0 {
			p.Drop()
		}
	}()
	for {
		err := step()
		if !errors.Is(err, network.WouldBlock) {
			if err != nil {
				return &SocketError{Code: codeOf(err)}
			}
			return nil
		}
		if p == 0 {
			p = sock.Subscribe()
		}
		if err := await(ctx, p, nil, nil); err != nil {
			return err
		}
	}
}

// Accept waits for the next connection. Errors the next call may not
// have (new-socket-limit: the guest's connection quota is full;
// connection-aborted) are net.Errors whose Temporary() is true, so that
// http.Server backs off and goes on serving.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.AcceptTCP()
	if err != nil {
		return nil, err
	}
	return c, nil
}

// AcceptTCP is Accept returning the concrete type.
func (l *Listener) AcceptTCP() (*Conn, error) {
	opErr := func(err error) error { return &net.OpError{Op: "accept", Net: l.netw, Addr: l.addr, Err: err} }
	for {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return nil, opErr(net.ErrClosed)
		}
		sock, in, out, err := l.sock.Accept()
		if errors.Is(err, network.WouldBlock) {
			// Enqueued under mu: a Close either came first (seen above)
			// or finds this waiter and cancels it before dropping p.
			w := enqueue(nil, l.p, nil, l)
			l.mu.Unlock()
			if err := w.wait(nil); err != nil {
				return nil, opErr(err)
			}
			continue
		}
		l.mu.Unlock()
		if err != nil {
			return nil, opErr(&acceptError{&SocketError{Code: codeOf(err)}})
		}
		c := &Conn{sock: sock}
		c.in, c.out, c.netw = in, out, l.netw
		c.raddr = tcpAddr(sock.RemoteAddress())
		c.laddr = tcpAddr(sock.LocalAddress())
		return c, nil
	}
}

// Close stops listening; goroutines parked in Accept return net.ErrClosed.
// Connections already accepted stay open.
func (l *Listener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return &net.OpError{Op: "close", Net: l.netw, Addr: l.addr, Err: net.ErrClosed}
	}
	l.closed = true
	cancel(l, net.ErrClosed)
	l.p.Drop()
	l.sock.Drop()
	return nil
}

// Addr is the bound local address (with the port the host picked for 0).
func (l *Listener) Addr() net.Addr { return l.addr }

// acceptError is a failed accept that may succeed next time.
type acceptError struct{ *SocketError }

func (e *acceptError) Unwrap() error   { return e.SocketError }
func (e *acceptError) Temporary() bool { return true }
