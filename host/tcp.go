package host

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	wapi "github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/internal/cabi"
	"github.com/wasitls/wasitls/internal/witnames"
)

// tcpConn is a connected socket shared by the tcp-socket resource, its two
// streams and whatever took them over (a TLS connection, lingering output);
// the last one to let go closes it and gives back the guest's connection
// slot (Limits.Connections). A guest may drop the socket first: the
// connection lives on in its streams, and stays counted.
type tcpConn struct {
	conn *net.TCPConn
	refs atomic.Int32
	once sync.Once
	slot *atomic.Int32 // the guest's connection count, decremented once at the end
}

func (t *tcpConn) release() {
	if t.refs.Add(-1) == 0 {
		t.closeNow()
		if t.slot != nil {
			t.slot.Add(-1)
		}
	}
}

func (t *tcpConn) closeNow() {
	t.once.Do(func() { _ = t.conn.Close() })
}

// tcpState is where a tcp-socket is in its life.
type tcpState uint8

const (
	tcpUnbound tcpState = iota
	tcpConnecting
	tcpConnectDone // the dial finished; finish-connect reports it
	tcpConnected
	tcpClosed
	tcpBinding       // start-bind bound it; finish-bind completes
	tcpBound         // bound, neither listening nor connecting
	tcpListenStarted // start-listen listens; finish-listen completes
	tcpListening
)

// tcpSocket is the tcp-socket resource.
type tcpSocket struct {
	g      *Guest
	family uint8 // 0 ipv4, 1 ipv6

	mu      sync.Mutex
	state   tcpState
	cancel  context.CancelFunc
	conn    *tcpConn
	dialErr error
	done    signal // the dial finished
	counted bool   // holds a slot of Limits.Connections (until conn takes it over)
	opts    tcpOptions
	out     *outStream      // for a shutdown after the pending writes
	in      *inStream       // for a shutdown(receive), which drops what is buffered
	dialRC  syscall.RawConn // the socket being connected, while the dial runs (see bound)

	// The server side (listen.go).
	bindFD    int            // the bound socket until it listens or connects, or -1
	local     netip.AddrPort // where bindFD is bound
	backlog   int            // set-listen-backlog-size (0: defaultBacklog)
	ln        *listener      // while listening
	accepted  *net.TCPConn   // accepted ahead of the guest (see listener)
	acceptErr error          // or the error of that accept

	dial pending // the connect, until it starts
}

// tcpOptions are the socket options a guest sets; they apply to the
// connection when it exists (and are remembered before).
type tcpOptions struct {
	keepAlive              bool
	keepIdle, keepIntvl    time.Duration
	keepCount              uint32
	hopLimit               uint8
	recvBuf, sendBuf       uint64
	setRecvBuf, setSendBuf bool
	setHopLimit            bool
}

func (s *tcpSocket) ready() bool {
	s.g.kick(&s.dial)
	switch s.state0() {
	case tcpConnecting, tcpListening:
		return s.done.isSet()
	}
	return true
}

func (s *tcpSocket) readyCh() <-chan struct{} {
	s.g.kick(&s.dial)
	return s.done.readyCh()
}

func (s *tcpSocket) watchSignal() *signal {
	s.g.kick(&s.dial)
	return &s.done
}

// blockInline runs the pending connect in the calling host call (see
// pending), reporting false when there is none.
func (s *tcpSocket) blockInline(c *call) bool {
	s.mu.Lock()
	cancel := s.cancel
	s.mu.Unlock()
	return c.runInline(&s.dial, cancel)
}

func (s *tcpSocket) state0() tcpState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

func (s *tcpSocket) close() {
	s.g.take(&s.dial)
	s.mu.Lock()
	cancel, conn, counted := s.cancel, s.conn, s.counted
	s.counted = false
	s.conn = nil
	s.state = tcpClosed
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	if conn != nil {
		conn.release() // the connection holds the slot until its last holder lets go
	}
	if counted {
		s.g.conns.Add(-1)
	}
	s.closeListening()
}

var sockTCP = register(&iface{name: witnames.SocketsTCP, fns: []fnDef{
	def(witnames.TCPSocketStartBind, startBind, p(i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32)),
	def(witnames.TCPSocketFinishBind, finishBind, p(i32, i32)),
	def(witnames.TCPSocketStartConnect, startConnect, p(i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32)),
	def(witnames.TCPSocketFinishConnect, finishConnect, p(i32, i32)),
	def(witnames.TCPSocketStartListen, startListen, p(i32, i32)),
	def(witnames.TCPSocketFinishListen, finishListen, p(i32, i32)),
	def(witnames.TCPSocketAccept, accept, p(i32, i32)),
	def(witnames.TCPSocketLocalAddress, func(c *call, s []uint64) { sockAddress(c, s, true) }, p(i32, i32)),
	def(witnames.TCPSocketRemoteAddress, func(c *call, s []uint64) { sockAddress(c, s, false) }, p(i32, i32)),
	def(witnames.TCPSocketIsListening, func(c *call, s []uint64) {
		s[0] = b2u(c.get(wapi.DecodeU32(s[0]), rTCPSocket).(*tcpSocket).state0() == tcpListening)
	}, p(i32), i32),
	def(witnames.TCPSocketAddressFamily, func(c *call, s []uint64) {
		s[0] = uint64(c.get(wapi.DecodeU32(s[0]), rTCPSocket).(*tcpSocket).family)
	}, p(i32), i32),
	def(witnames.TCPSocketSetListenBacklogSize, setListenBacklogSize, p(i32, i64, i32)),
	def(witnames.TCPSocketKeepAliveEnabled, optGet(cabi.BoolCodeArea, func(o *tcpOptions) uint64 { return b2u(o.keepAlive) }), p(i32, i32)),
	def(witnames.TCPSocketSetKeepAliveEnabled, optSet(func(o *tcpOptions, v uint64) errorCode {
		if v > 1 {
			return ecInvalidArgument
		}
		o.keepAlive = v == 1
		return 0
	}, i32), p(i32, i32, i32)),
	def(witnames.TCPSocketKeepAliveIdleTime, optGet(cabi.U64CodeArea, func(o *tcpOptions) uint64 { return uint64(o.keepIdle) }), p(i32, i32)),
	def(witnames.TCPSocketSetKeepAliveIdleTime, optSet(func(o *tcpOptions, v uint64) errorCode {
		if v == 0 {
			return ecInvalidArgument
		}
		o.keepIdle = clampDur(v)
		return 0
	}, i64), p(i32, i64, i32)),
	def(witnames.TCPSocketKeepAliveInterval, optGet(cabi.U64CodeArea, func(o *tcpOptions) uint64 { return uint64(o.keepIntvl) }), p(i32, i32)),
	def(witnames.TCPSocketSetKeepAliveInterval, optSet(func(o *tcpOptions, v uint64) errorCode {
		if v == 0 {
			return ecInvalidArgument
		}
		o.keepIntvl = clampDur(v)
		return 0
	}, i64), p(i32, i64, i32)),
	def(witnames.TCPSocketKeepAliveCount, optGet(cabi.U32CodeArea, func(o *tcpOptions) uint64 { return uint64(o.keepCount) }), p(i32, i32)),
	def(witnames.TCPSocketSetKeepAliveCount, optSet(func(o *tcpOptions, v uint64) errorCode {
		if v == 0 {
			return ecInvalidArgument
		}
		o.keepCount = uint32(v)
		return 0
	}, i32), p(i32, i32, i32)),
	def(witnames.TCPSocketHopLimit, optGet(cabi.U8CodeArea, func(o *tcpOptions) uint64 { return uint64(o.hopLimit) }), p(i32, i32)),
	def(witnames.TCPSocketSetHopLimit, optSet(func(o *tcpOptions, v uint64) errorCode {
		if v == 0 || v > 255 {
			return ecInvalidArgument
		}
		o.hopLimit, o.setHopLimit = uint8(v), true
		return 0
	}, i32), p(i32, i32, i32)),
	def(witnames.TCPSocketReceiveBufferSize, optGet(cabi.U64CodeArea, func(o *tcpOptions) uint64 { return o.recvBuf }), p(i32, i32)),
	def(witnames.TCPSocketSetReceiveBufferSize, optSet(func(o *tcpOptions, v uint64) errorCode {
		if v == 0 {
			return ecInvalidArgument
		}
		o.recvBuf, o.setRecvBuf = min(v, 16<<20), true
		return 0
	}, i64), p(i32, i64, i32)),
	def(witnames.TCPSocketSendBufferSize, optGet(cabi.U64CodeArea, func(o *tcpOptions) uint64 { return o.sendBuf }), p(i32, i32)),
	def(witnames.TCPSocketSetSendBufferSize, optSet(func(o *tcpOptions, v uint64) errorCode {
		if v == 0 {
			return ecInvalidArgument
		}
		o.sendBuf, o.setSendBuf = min(v, 16<<20), true
		return 0
	}, i64), p(i32, i64, i32)),
	def(witnames.TCPSocketSubscribe, func(c *call, s []uint64) {
		h := wapi.DecodeU32(s[0])
		sock := c.get(h, rTCPSocket).(*tcpSocket)
		s[0] = uint64(c.subscribe(sock, h))
	}, p(i32), i32),
	def(witnames.TCPSocketShutdown, tcpShutdown, p(i32, i32, i32)),
	def(witnames.DropTCPSocket, dropOf(rTCPSocket), p(i32)),
}})

// optGet returns a getter: (self, retptr) -> result<T, error-code>, T of
// a's payload type (bool/u8: 1 byte, u32: 4, u64/duration: 8).
func optGet(a cabi.CodeArea, get func(*tcpOptions) uint64) func(c *call, stack []uint64) {
	return func(c *call, stack []uint64) {
		s := c.get(wapi.DecodeU32(stack[0]), rTCPSocket).(*tcpSocket)
		ret := wapi.DecodeU32(stack[1])
		b := c.Area(ret, a.Size, a.Align)
		s.mu.Lock()
		v := get(&s.opts)
		s.mu.Unlock()
		b[a.Tag] = 0
		switch a {
		case cabi.U64CodeArea:
			cabi.PutU64(b, a.OK, v)
		case cabi.U32CodeArea:
			cabi.PutU32(b, a.OK, uint32(v))
		default:
			b[a.OK] = byte(v)
		}
	}
}

// optSet returns a setter: (self, value, retptr) -> result<_, error-code>.
// Values apply to the connection once it exists.
func optSet(set func(*tcpOptions, uint64) errorCode, vt wapi.ValueType) func(c *call, stack []uint64) {
	return func(c *call, stack []uint64) {
		s := c.get(wapi.DecodeU32(stack[0]), rTCPSocket).(*tcpSocket)
		v := stack[1]
		if vt == i32 {
			v = uint64(wapi.DecodeU32(v))
		}
		ret := wapi.DecodeU32(stack[2])
		a := cabi.UnitCodeArea
		c.Area(ret, a.Size, a.Align)
		s.mu.Lock()
		code := set(&s.opts, v)
		var conn *tcpConn
		if code == 0 && s.conn != nil {
			conn = s.conn
		}
		o := s.opts
		s.mu.Unlock()
		if code != 0 {
			putCode(c, a, ret, code)
			return
		}
		if conn != nil {
			applyOptions(conn.conn, &o)
		}
		okArea(c, a, ret)
	}
}

func applyOptions(conn *net.TCPConn, o *tcpOptions) {
	_ = conn.SetKeepAliveConfig(net.KeepAliveConfig{Enable: o.keepAlive, Idle: o.keepIdle, Interval: o.keepIntvl, Count: int(o.keepCount)})
	applyBuffers(conn, o)
}

// applyBuffers applies what the dialer does not: buffer sizes and the hop
// limit (when the guest set one).
func applyBuffers(conn *net.TCPConn, o *tcpOptions) {
	if o.setHopLimit {
		la, _ := conn.LocalAddr().(*net.TCPAddr)
		_ = setHopLimit(conn, la != nil && la.IP.To4() == nil, o.hopLimit)
	}
	if o.setRecvBuf {
		_ = conn.SetReadBuffer(int(o.recvBuf))
	}
	if o.setSendBuf {
		_ = conn.SetWriteBuffer(int(o.sendBuf))
	}
}

// tcpMethod reads a tcp-socket method's self and its ret-ptr (the last
// argument), checking the handle and then the return area against a.
func tcpMethod(c *call, stack []uint64, a cabi.CodeArea) (*tcpSocket, uint32) {
	s := c.get(wapi.DecodeU32(stack[0]), rTCPSocket).(*tcpSocket)
	ret := wapi.DecodeU32(stack[len(stack)-1])
	c.Area(ret, a.Size, a.Align)
	return s, ret
}

// sockAddrArgs reads the arguments start-bind and start-connect share
// (self, network, ip-socket-address as 12 core values, ret-ptr), checking
// the handles and the return area. ok is false once it has answered
// invalid-argument for an address of the other family than the socket's.
func sockAddrArgs(c *call, stack []uint64) (s *tcpSocket, ap netip.AddrPort, ret uint32, ok bool) {
	const addrAt = 2 // the address's first core value
	s = c.get(wapi.DecodeU32(stack[0]), rTCPSocket).(*tcpSocket)
	c.get(wapi.DecodeU32(stack[1]), rNetwork)
	ret = wapi.DecodeU32(stack[addrAt+cabi.FlatSockAddrLen])
	a := cabi.UnitCodeArea
	c.Area(ret, a.Size, a.Align)
	ap, _, _ = cabi.FlatSockAddr(c.Fn, stack[addrAt:addrAt+cabi.FlatSockAddrLen])
	if addr := ap.Addr(); s.family == 0 && !addr.Is4() || s.family == 1 && addr.Is4() {
		putCode(c, a, ret, ecInvalidArgument) // the wrong address family
		return s, ap, ret, false
	}
	return s, ap, ret, true
}

// startConnect: (self, borrow<network>, ip-socket-address as 12 flat values,
// retptr) -> result<_, error-code>: +0 tag, +1 code. The dial runs in the
// background; a destination the policy does not allow is access-denied.
func startConnect(c *call, stack []uint64) {
	s, ap, ret, ok := sockAddrArgs(c, stack)
	if !ok {
		return
	}
	a := cabi.UnitCodeArea
	addr := ap.Addr()
	switch {
	case addr.Is4In6():
		// Upstream tcp.wit: invalid-argument when remote-address is an
		// IPv4-mapped IPv6 address.
		putCode(c, a, ret, ecInvalidArgument)
		return
	}
	addr = addr.Unmap()
	dest := netip.AddrPortFrom(addr, ap.Port())
	switch {
	case addr.IsUnspecified(), ap.Port() == 0, addr.IsMulticast(), addr == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		putCode(c, a, ret, ecInvalidArgument)
		return
	}
	s.mu.Lock()
	st := s.state
	s.mu.Unlock()
	switch st {
	case tcpConnecting, tcpConnectDone, tcpBinding, tcpListenStarted:
		putCode(c, a, ret, ecConcurrencyConflict)
		return
	case tcpConnected, tcpClosed, tcpListening:
		putCode(c, a, ret, ecInvalidState)
		return
	}
	if err := c.g.allowConnect(dest); err != nil {
		putCode(c, a, ret, ecAccessDenied)
		return
	}
	ctx, cancel := context.WithCancel(c.g.ctx)
	s.mu.Lock()
	if s.state != st {
		s.mu.Unlock()
		cancel()
		putCode(c, a, ret, ecConcurrencyConflict)
		return
	}
	// A bound socket connects from its address: the dial binds it again
	// (with SO_REUSEADDR) once the held socket is closed.
	var local net.Addr
	if st == tcpBound {
		local = net.TCPAddrFromAddrPort(s.local)
		closeFD(s.bindFD)
		s.bindFD = -1
	}
	s.state = tcpConnecting
	s.cancel = cancel
	s.done.update(false)
	opts := s.opts
	s.mu.Unlock()
	g := c.g
	dial := func() {
		d := net.Dialer{LocalAddr: local, KeepAliveConfig: net.KeepAliveConfig{Enable: opts.keepAlive, Idle: opts.keepIdle, Interval: opts.keepIntvl, Count: int(opts.keepCount)},
			Control: func(_, _ string, rc syscall.RawConn) error {
				if local != nil {
					reuseAddr(rc)
				}
				// local-address may be asked while the connect is in
				// progress (the socket is bound by then).
				s.mu.Lock()
				s.dialRC = rc
				s.mu.Unlock()
				return nil
			}}
		start := time.Now()
		conn, err := d.DialContext(ctx, "tcp", dest.String())
		cancel()
		s.mu.Lock()
		s.dialRC = nil
		s.mu.Unlock()
		var tc *tcpConn
		if err == nil {
			tc = &tcpConn{conn: conn.(*net.TCPConn)}
			tc.refs.Store(1)
			// The dialer set keep-alive already; only buffer sizes remain.
			applyBuffers(tc.conn, &opts)
		}
		g.observe(ConnEvent{Phase: PhaseConnect, Addr: dest, Duration: time.Since(start), Err: err})
		s.mu.Lock()
		if s.state == tcpClosed {
			s.mu.Unlock()
			if tc != nil {
				_ = tc.conn.Close()
			}
			return
		}
		s.state = tcpConnectDone
		s.conn = tc
		s.dialErr = err
		if tc != nil && s.counted {
			// The socket's slot moves to the connection, which may
			// outlive the socket (see tcpConn).
			s.counted = false
			tc.slot = &g.conns
		}
		s.done.update(true)
		s.mu.Unlock()
	}
	g.deferWork(&s.dial, dial)
	okArea(c, a, ret)
}

// finishConnect: (self, retptr) -> result<tuple<own<input-stream>,
// own<output-stream>>, error-code>: +0 tag, +4 input, +8 output | +4 code.
func finishConnect(c *call, stack []uint64) {
	a := cabi.FinishArea
	s, ret := tcpMethod(c, stack, a)
	c.g.kick(&s.dial)
	s.mu.Lock()
	st, conn, err := s.state, s.conn, s.dialErr
	if st == tcpConnectDone {
		if err != nil {
			s.state = tcpClosed
			s.dialErr = nil
		} else {
			s.state = tcpConnected
		}
	}
	s.mu.Unlock()
	switch {
	case st == tcpConnecting:
		putCode(c, a, ret, ecWouldBlock)
		return
	case st != tcpConnectDone:
		putCode(c, a, ret, ecNotInProgress)
		return
	case err != nil:
		putCode(c, a, ret, codeOf(err))
		return
	}
	conn.refs.Add(2)
	in, out := tcpStreams(c.g, conn)
	s.mu.Lock()
	s.out, s.in = out, in
	s.mu.Unlock()
	hi, err1 := c.g.table.push(rInput, in, 0)
	ho, err2 := uint32(0), err1
	if err1 == nil {
		if ho, err2 = c.g.table.push(rOutput, out, 0); err2 != nil {
			_, _ = c.g.table.take(hi, rInput, "closed")
		}
	}
	if err2 != nil {
		in.close()
		out.close()
		c.trap("%v", err2)
	}
	b := okArea(c, a, ret)
	cabi.PutU32(b, cabi.FinishInput, hi)
	cabi.PutU32(b, cabi.FinishOutput, ho)
}

// tcpStreams makes the input and output streams of a connection; each
// holds a reference to it, which the caller has counted.
func tcpStreams(g *Guest, tc *tcpConn) (*inStream, *outStream) {
	return &inStream{p: newConnPump(g, tc.conn, socketQueued(tc.conn), 1), tcp: tc}, &outStream{s: newSink(g, tc.conn, nil, tc.conn.CloseWrite), tcp: tc}
}

// sockAddress: local-address / remote-address (self, retptr) ->
// result<ip-socket-address, error-code>.
func sockAddress(c *call, stack []uint64, local bool) {
	a := cabi.SockAddrArea
	s, ret := tcpMethod(c, stack, a)
	var ap netip.AddrPort
	if local {
		var ok bool
		if ap, ok = s.bound(c); !ok {
			putCode(c, a, ret, ecInvalidState)
			return
		}
	} else {
		s.mu.Lock()
		conn, st := s.conn, s.state
		s.mu.Unlock()
		if st != tcpConnected || conn == nil {
			putCode(c, a, ret, ecInvalidState)
			return
		}
		ap = conn.conn.RemoteAddr().(*net.TCPAddr).AddrPort()
	}
	if s.family == 1 && ap.Addr().Is4() {
		ap = netip.AddrPortFrom(netip.AddrFrom16(ap.Addr().As16()), ap.Port())
	} else if s.family == 0 {
		ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	b := okArea(c, a, ret)
	cabi.PutSockAddr(b, a.OK, ap, 0, 0)
}

// maxBindWait bounds how long local-address waits for a connect in
// progress to be issued (microseconds, unless the host is overloaded).
const maxBindWait = 100 * time.Millisecond

// bound returns the local address the socket is bound to: once connected,
// and while the connect is in progress (start-connect binds it), from the
// socket being connected. A connect the host has not issued yet is
// started, and waited for until the socket is bound.
func (s *tcpSocket) bound(c *call) (netip.AddrPort, bool) {
	end := time.Now().Add(maxBindWait)
	for {
		s.mu.Lock()
		st, conn, rc := s.state, s.conn, s.dialRC
		if st == tcpBound || st == tcpListenStarted || st == tcpListening {
			local := s.local
			s.mu.Unlock()
			return local, true
		}
		var ap netip.AddrPort
		var ok bool
		if st == tcpConnecting && rc != nil {
			ap, ok = connName(rc)
		}
		s.mu.Unlock()
		switch {
		case (st == tcpConnected || st == tcpConnectDone) && conn != nil:
			return conn.conn.LocalAddr().(*net.TCPAddr).AddrPort(), true
		case st != tcpConnecting:
			return netip.AddrPort{}, false
		case ok && ap.Port() != 0:
			return ap, true
		case time.Now().After(end):
			return netip.AddrPort{}, false
		}
		c.g.kick(&s.dial)
		time.Sleep(50 * time.Microsecond)
	}
}

// tcpShutdown: (self, 0=receive 1=send 2=both, retptr) -> result<_, error-code>.
// A send shutdown waits for writes already flushed to the output stream.
func tcpShutdown(c *call, stack []uint64) {
	a := cabi.UnitCodeArea
	s, ret := tcpMethod(c, stack, a)
	how := wapi.DecodeU32(stack[1])
	if how > 2 {
		c.trap("shutdown-type %d is not 0 (receive), 1 (send) or 2 (both)", how)
	}
	s.mu.Lock()
	conn, st, out, in := s.conn, s.state, s.out, s.in
	s.mu.Unlock()
	if st != tcpConnected || conn == nil {
		putCode(c, a, ret, ecInvalidState)
		return
	}
	if how == 0 || how == 2 {
		_ = conn.conn.CloseRead()
		if in != nil {
			in.p.discard()
		}
	}
	if how == 1 || how == 2 {
		// FIN after the writes already flushed; directly when the output
		// stream is gone (dropped, or handed to TLS).
		if out == nil || !out.s.finish() {
			_ = conn.conn.CloseWrite()
		}
	}
	okArea(c, a, ret)
}
