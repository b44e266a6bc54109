package host

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/internal/cabi"
)

// The server side of wasi:sockets/tcp: start-bind, finish-bind,
// start-listen, finish-listen, accept and set-listen-backlog-size. The
// native bind and listen run inside start-bind and start-listen (tcp.wit
// lets a host do so); finish-bind and finish-listen complete the state
// change. Binding is decided by Policy.Listen.

// Listen backlog bounds: the default of a socket that never set one, and
// the largest value kept (the kernel clamps further, to somaxconn). The
// backlog is the kernel's memory, not the host's; with 128 a burst of a
// thousand clients waited for SYN retransmissions (seconds).
const (
	defaultBacklog = 1024
	maxBacklog     = 4096
)

// parseListenPatterns parses Policy.Listen: address patterns only, since a
// bind names no host.
func parseListenPatterns(ss []string) ([]pattern, error) {
	pts, err := parsePatterns(ss)
	if err != nil {
		return nil, err
	}
	for _, pt := range pts {
		if !pt.isIP {
			return nil, fmt.Errorf("host: bad listen pattern %q: want an IP address or CIDR range, not a name", pt.src)
		}
	}
	return pts, nil
}

// CheckListenPattern reports whether s is a valid Policy.Listen pattern
// ("ADDR:PORT" with an IP address or CIDR range), for tools that check
// their input before building a policy.
func CheckListenPattern(s string) error {
	_, err := parseListenPatterns([]string{s})
	return err
}

// allowBind decides a bind to local. Port 0 passes when some pattern
// covers the address; the port the system picks is checked after the
// bind (see startBind).
func (p *policy) allowBind(local netip.AddrPort) error {
	a := local.Addr().Unmap()
	for i := range p.listen {
		pt := &p.listen[i]
		if pt.matchAddr(a) && (local.Port() == 0 || pt.portOK(local.Port())) {
			return nil
		}
	}
	return fmt.Errorf("binding %s is not allowed", local)
}

// allowBind applies the guest's policy to a bind, reporting a denial to
// the observer.
func (g *Guest) allowBind(local netip.AddrPort) error {
	err := g.pol.allowBind(local)
	if err != nil {
		g.observe(ConnEvent{Phase: PhaseDenied, Addr: local, Err: &api.Error{Kind: api.KindPolicyDenied, Err: err}})
	}
	return err
}

// listener is what a listening tcp-socket holds: the host listener and at
// most one connection accepted ahead of the guest (the kernel's backlog
// holds the rest, so a guest that does not accept costs the host nothing).
type listener struct {
	ln   *net.TCPListener
	want chan struct{} // the guest took what was accepted ahead
}

// startBind: (self, borrow<network>, ip-socket-address as 12 flat values,
// retptr) -> result<_, error-code>: +0 tag, +1 code.
func startBind(c *call, stack []uint64) {
	s, ap, ret, ok := sockAddrArgs(c, stack)
	if !ok {
		return
	}
	a := cabi.UnitCodeArea
	addr := ap.Addr()
	switch {
	case addr.Is4In6(), addr.IsMulticast(), addr == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		putCode(c, a, ret, ecInvalidArgument) // mapped, or not unicast
		return
	}
	s.mu.Lock()
	st := s.state
	s.mu.Unlock()
	switch st {
	case tcpUnbound:
	case tcpBinding:
		putCode(c, a, ret, ecConcurrencyConflict)
		return
	default:
		putCode(c, a, ret, ecInvalidState) // already bound (or further)
		return
	}
	if err := c.g.allowBind(ap); err != nil {
		putCode(c, a, ret, ecAccessDenied)
		return
	}
	fd, local, err := bindSocket(s.family == 1, ap)
	if err != nil {
		putCode(c, a, ret, codeOf(err))
		return
	}
	if ap.Port() == 0 {
		if err := c.g.allowBind(local); err != nil {
			closeFD(fd)
			putCode(c, a, ret, ecAccessDenied)
			return
		}
	}
	s.mu.Lock()
	if s.state != tcpUnbound {
		s.mu.Unlock()
		closeFD(fd)
		putCode(c, a, ret, ecConcurrencyConflict)
		return
	}
	s.state, s.bindFD, s.local = tcpBinding, fd, local
	s.mu.Unlock()
	okArea(c, a, ret)
}

// finishBind: (self, retptr) -> result<_, error-code>. The bind happened
// in start-bind; this makes the socket bound.
func finishBind(c *call, stack []uint64) {
	finishStep(c, stack, tcpBinding, tcpBound)
}

// finishListen: (self, retptr) -> result<_, error-code>.
func finishListen(c *call, stack []uint64) {
	finishStep(c, stack, tcpListenStarted, tcpListening)
}

// finishStep completes a step started by start-bind or start-listen:
// not-in-progress unless the socket is in state from.
func finishStep(c *call, stack []uint64, from, to tcpState) {
	a := cabi.UnitCodeArea
	s, ret := tcpMethod(c, stack, a)
	s.mu.Lock()
	ok := s.state == from
	if ok {
		s.state = to
	}
	s.mu.Unlock()
	if !ok {
		putCode(c, a, ret, ecNotInProgress)
		return
	}
	okArea(c, a, ret)
}

// startListen: (self, retptr) -> result<_, error-code>. The socket must be
// bound explicitly (invalid-state otherwise, as tcp.wit says).
func startListen(c *call, stack []uint64) {
	a := cabi.UnitCodeArea
	s, ret := tcpMethod(c, stack, a)
	s.mu.Lock()
	st, fd, backlog := s.state, s.bindFD, s.backlog
	s.mu.Unlock()
	switch st {
	case tcpBound:
	case tcpBinding, tcpListenStarted:
		putCode(c, a, ret, ecConcurrencyConflict)
		return
	default: // unbound, connecting, connected, listening, closed
		putCode(c, a, ret, ecInvalidState)
		return
	}
	ln, err := listenFD(fd, backlog)
	if err != nil {
		putCode(c, a, ret, codeOf(err))
		return
	}
	ctx, cancel := context.WithCancel(c.g.ctx)
	l := &listener{ln: ln, want: make(chan struct{}, 1)}
	s.mu.Lock()
	if s.state != tcpBound {
		s.mu.Unlock()
		cancel()
		_ = ln.Close()
		putCode(c, a, ret, ecConcurrencyConflict)
		return
	}
	s.state, s.bindFD, s.ln, s.cancel = tcpListenStarted, -1, l, cancel
	s.done.update(false)
	s.mu.Unlock()
	c.g.goroutine(func() { s.acceptLoop(ctx, l) })
	okArea(c, a, ret)
}

// acceptLoop accepts one connection ahead of the guest and waits until the
// guest takes it (or the error) before accepting the next.
func (s *tcpSocket) acceptLoop(ctx context.Context, l *listener) {
	for {
		conn, err := l.ln.AcceptTCP()
		if err != nil && (errors.Is(err, net.ErrClosed) || ctx.Err() != nil) {
			return
		}
		s.mu.Lock()
		if s.ln != l {
			s.mu.Unlock()
			if conn != nil {
				_ = conn.Close()
			}
			return
		}
		s.accepted, s.acceptErr = conn, err
		s.done.update(true)
		s.mu.Unlock()
		select {
		case <-l.want:
		case <-ctx.Done():
			return
		}
	}
}

// acceptReserve is the handles an accept leaves free after it: an accepted
// connection takes three at once (socket and streams) and about six more
// once its server TLS is up (handshake, future, pollables, connection and
// its streams), and the guest needs a few more to go on serving.
const acceptReserve = 16

// accept: (self, retptr) -> result<tuple<own<tcp-socket>,
// own<input-stream>, own<output-stream>>, error-code>: +0 tag, +4 socket,
// +8 input, +12 output | +4 code. The new socket inherits the listener's
// options and takes a slot of Limits.Connections; past the limit, or with
// fewer than acceptReserve handles left after it, the connection is reset
// and accept reports new-socket-limit.
func accept(c *call, stack []uint64) {
	a := cabi.AcceptArea
	s, ret := tcpMethod(c, stack, a)
	s.mu.Lock()
	st, l, conn, err := s.state, s.ln, s.accepted, s.acceptErr
	if st == tcpListening && (conn != nil || err != nil) {
		s.accepted, s.acceptErr = nil, nil
		s.done.update(false)
	}
	opts := s.opts
	s.mu.Unlock()
	switch {
	case st != tcpListening:
		putCode(c, a, ret, ecInvalidState)
		return
	case conn == nil && err == nil:
		putCode(c, a, ret, ecWouldBlock)
		return
	}
	select {
	case l.want <- struct{}{}:
	default:
	}
	if err != nil {
		putCode(c, a, ret, codeOf(err))
		return
	}
	g := c.g
	// Past Limits.Connections, or with too few handles left to serve one
	// more connection, the client is reset and the guest told
	// new-socket-limit: a remote peer opening connections must not make
	// the guest trap on its handle limit (see acceptReserve).
	full := g.table.room() < acceptReserve+3 // the socket and its streams
	if full || int(g.conns.Add(1)) > g.pol.limits.Connections {
		if !full {
			g.conns.Add(-1)
		}
		_ = conn.SetLinger(0) // a reset: the client learns at once
		_ = conn.Close()
		putCode(c, a, ret, ecNewSocketLimit)
		return
	}
	applyOptions(conn, &opts)
	tc := &tcpConn{conn: conn, slot: &g.conns}
	tc.refs.Store(3) // the socket and its two streams
	ns := &tcpSocket{g: g, family: s.family, state: tcpConnected, conn: tc, opts: opts, bindFD: -1}
	ns.done.update(true)
	in, out := tcpStreams(g, tc)
	ns.in, ns.out = in, out
	hs, err1 := g.table.push(rTCPSocket, ns, 0)
	var hi, ho uint32
	var err2, err3 error
	if err1 == nil {
		if hi, err2 = g.table.push(rInput, in, 0); err2 == nil {
			if ho, err3 = g.table.push(rOutput, out, 0); err3 != nil {
				_, _ = g.table.take(hi, rInput, "closed")
			}
		}
		if err2 != nil || err3 != nil {
			_, _ = g.table.take(hs, rTCPSocket, "closed")
		}
	}
	if err := errors.Join(err1, err2, err3); err != nil {
		in.close()
		out.close()
		ns.close()
		c.trap("%v", err)
	}
	g.observe(ConnEvent{Phase: PhaseAccept, Addr: conn.RemoteAddr().(*net.TCPAddr).AddrPort()})
	b := okArea(c, a, ret)
	cabi.PutU32(b, cabi.AcceptSocket, hs)
	cabi.PutU32(b, cabi.AcceptInput, hi)
	cabi.PutU32(b, cabi.AcceptOutput, ho)
}

// setListenBacklogSize: (self, u64, retptr) -> result<_, error-code>. Zero
// is invalid-argument; other values are clamped. On a listening socket the
// new size applies at once (listen again, as POSIX allows).
func setListenBacklogSize(c *call, stack []uint64) {
	a := cabi.UnitCodeArea
	s, ret := tcpMethod(c, stack, a)
	v := stack[1]
	if v == 0 {
		putCode(c, a, ret, ecInvalidArgument)
		return
	}
	n := int(min(v, maxBacklog))
	s.mu.Lock()
	st, l := s.state, s.ln
	bad := st == tcpConnecting || st == tcpConnectDone || st == tcpConnected
	if !bad {
		s.backlog = n
	}
	s.mu.Unlock()
	if bad {
		putCode(c, a, ret, ecInvalidState)
		return
	}
	if l != nil {
		if err := relisten(l.ln, n); err != nil {
			putCode(c, a, ret, ecNotSupported)
			return
		}
	}
	okArea(c, a, ret)
}

// closeListening releases what the bind and listen steps hold.
func (s *tcpSocket) closeListening() {
	s.mu.Lock()
	fd, l, conn := s.bindFD, s.ln, s.accepted
	s.bindFD, s.ln, s.accepted = -1, nil, nil
	s.mu.Unlock()
	if fd >= 0 {
		closeFD(fd)
	}
	if l != nil {
		_ = l.ln.Close()
	}
	if conn != nil {
		_ = conn.Close()
	}
}
