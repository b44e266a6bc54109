package host

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	wapi "github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/internal/cabi"
	"github.com/wasitls/wasitls/internal/witnames"
)

// TLSModule is the one wasi:tls version core modules can import.
const TLSModule = "wasi:tls/types@0.2.0-draft"

// handshake is the client-handshake resource: a server name and the two
// streams it took from the guest.
type handshake struct {
	name string
	in   *inStream
	out  *outStream
	// alpn is what set-alpn-ids (wit/ext) settled on, when alpnSet; the
	// policy's list otherwise.
	alpn    []string
	alpnSet bool
}

func (h *handshake) close() {
	h.in.close()
	h.out.close()
}

// future is the future-client-streams resource.
type future struct {
	g      *Guest
	cancel context.CancelFunc
	done   signal

	start pending // the handshake, until it starts (see finishHandshake)
	abort func()  // gives back what start holds if it never runs

	mu      sync.Mutex
	fin     bool
	taken   bool
	dropped bool
	conn    *tlsConn
	err     error
}

func (f *future) ready() bool              { f.g.kick(&f.start); return f.done.isSet() }
func (f *future) readyCh() <-chan struct{} { f.g.kick(&f.start); return f.done.readyCh() }
func (f *future) watchSignal() *signal     { f.g.kick(&f.start); return &f.done }
func (f *future) blockInline(c *call) bool { return c.runInline(&f.start, f.cancel) }

func (f *future) close() {
	if f.g.take(&f.start) != nil {
		f.abort()
	}
	f.cancel()
	f.mu.Lock()
	f.dropped = true
	conn := f.conn
	if f.taken {
		conn = nil
	}
	f.conn = nil
	f.mu.Unlock()
	if conn != nil {
		conn.close()
	}
}

// tlsConn is the client-connection resource: an established connection,
// its plaintext streams and what it holds of the TCP socket.
type tlsConn struct {
	g       *Guest
	conn    api.Conn
	release func() // gives back the transport (closes the TCP connection)
	addr    netip.AddrPort
	name    string
	start   time.Time
	once    sync.Once
	in      *inStream
	out     *outStream
	state   *api.ConnectionState // a server connection's, for the guest to read
	// refs counts the holders once the guest has the connection: its
	// handle and its two streams. Streams moved into an inner handshake
	// (TLS in TLS) keep the connection open after its handle is dropped.
	refs atomic.Int32
	// facts is what the connection negotiated, for wit/ext's accessors.
	facts connFacts
}

// close lets go of one holder (see refs); the last one closes the
// connection (sending close_notify) once the writes its output stream
// accepted are out. When the guest is closing, it aborts instead: the
// transport goes first, so nothing waits on a slow peer.
func (t *tlsConn) close() {
	if t.refs.Load() > 0 && t.refs.Add(-1) > 0 {
		return
	}
	if t.out != nil {
		t.g.afterDrain(t.out.s, t.abort, t.closeNow)
		return
	}
	if t.g.ctx.Err() != nil {
		t.abort()
		return
	}
	t.closeNow()
}

func (t *tlsConn) closeNow() { t.shut(false) }
func (t *tlsConn) abort()    { t.shut(true) }

func (t *tlsConn) shut(abort bool) {
	t.once.Do(func() {
		if abort {
			t.release()
		}
		_ = safeCall(t.conn.Close)
		t.release()
		ev := ConnEvent{Phase: PhaseClose, Addr: t.addr, ServerName: t.name, Backend: t.g.s.provider.Name(), Duration: time.Since(t.start), Server: t.state != nil}
		if t.in != nil {
			ev.BytesIn = t.in.p.total.Load()
		}
		if t.out != nil {
			ev.BytesOut = t.out.s.total.Load()
		}
		t.g.observe(ev)
	})
}

var tlsTypes = register(&iface{name: witnames.TLSTypes, exact: TLSModule, fns: []fnDef{
	def(witnames.NewClientHandshake, newHandshake, p(i32, i32, i32, i32), i32),
	def(witnames.ClientHandshakeFinish, finishHandshake, p(i32), i32),
	def(witnames.ClientConnectionCloseOutput, closeOutput, p(i32)),
	def(witnames.FutureClientStreamsSubscribe, func(c *call, s []uint64) {
		h := wapi.DecodeU32(s[0])
		f := c.get(h, rFuture).(*future)
		s[0] = uint64(c.subscribe(f, h))
	}, p(i32), i32),
	def(witnames.FutureClientStreamsGet, futureGet, p(i32, i32)),
	def(witnames.DropClientHandshake, dropOf(rHandshake), p(i32)),
	def(witnames.DropClientConnection, dropOf(rConnection), p(i32)),
	def(witnames.DropFutureClientStreams, dropOf(rFuture), p(i32)),
}})

// newHandshake: (name_ptr, name_len, own<input-stream>, own<output-stream>)
// -> own<client-handshake>. The streams leave the guest's table (it traps
// if they still have pollables). The name is validated by the handshake.
func newHandshake(c *call, stack []uint64) {
	name := c.String(wapi.DecodeU32(stack[0]), wapi.DecodeU32(stack[1]))
	in, out := c.takeStreams(wapi.DecodeU32(stack[2]), wapi.DecodeU32(stack[3]), "moved into a client-handshake")
	stack[0] = uint64(c.push(rHandshake, &handshake{name: name, in: in, out: out}, 0))
}

// takeStreams moves two stream handles out of the guest's table into a
// handshake, trapping (with the table intact) on a bad handle or a stream
// that still has pollables.
func (c *call) takeStreams(hi, ho uint32, fate string) (*inStream, *outStream) {
	// Check both before moving either, so a trap leaves the table intact.
	c.get(hi, rInput)
	c.get(ho, rOutput)
	for _, h := range []uint32{hi, ho} {
		if k, err := c.g.table.children(h); err == nil && k > 0 {
			c.trap("stream handle %d still has %d pollable(s); drop them before handing the stream to TLS", h, k)
		}
	}
	return c.take(hi, rInput, fate).(*inStream), c.take(ho, rOutput, fate).(*outStream)
}

// finishHandshake: (own<client-handshake>) -> own<future-client-streams>.
// The handshake runs when the guest looks for it (see pending) if the
// provider honours its context, and in the background right away if not.
func finishHandshake(c *call, stack []uint64) {
	hs := c.take(wapi.DecodeU32(stack[0]), rHandshake, "consumed by finish").(*handshake)
	g := c.g
	ctx, cancel := context.WithCancel(g.ctx)
	f := &future{g: g, cancel: cancel}
	stack[0] = uint64(c.push(rFuture, f, 0))

	transport, addr, oneConn, release := g.transport(hs)
	dest := tlsDest{addr: addr, ok: oneConn}
	if oneConn {
		dest.names = g.resolvedNames(addr.Addr())
	}
	if err := g.pol.deniedServerName(hs.name, dest); err != nil {
		release()
		err := &api.Error{Kind: api.KindPolicyDenied, Err: err}
		g.observe(ConnEvent{Phase: PhaseDenied, Addr: addr, ServerName: hs.name, Err: err})
		f.complete(nil, err)
		return
	}
	if int(g.handshakes.Add(1)) > g.pol.limits.Handshakes {
		g.handshakes.Add(-1)
		release()
		err := &api.Error{Kind: api.KindPolicyDenied, Err: fmt.Errorf("too many handshakes in flight (limit %d)", g.pol.limits.Handshakes)}
		g.observe(ConnEvent{Phase: PhaseHandshake, Addr: addr, ServerName: hs.name, Backend: g.s.provider.Name(), Err: err})
		f.complete(nil, err)
		return
	}
	run := func() {
		defer g.handshakes.Add(-1)
		cfg, id := g.pol.config(hs.name, dest)
		if hs.alpnSet {
			cfg.NextProtos = hs.alpn
		}
		cfg.ClientSessionCache = newScopedSessions(g.sessions, dest, id)
		start := time.Now()
		conn, err := g.handshake(ctx, transport, cfg)
		cancel()
		ev := ConnEvent{Phase: PhaseHandshake, Addr: addr, ServerName: hs.name, Backend: g.s.provider.Name(), Duration: time.Since(start), Err: err}
		if id >= 0 {
			ev.Identity = g.pol.Identities[id].Dest
		}
		if err != nil {
			release()
			g.observe(ev)
			f.complete(nil, err)
			return
		}
		if g.observed() {
			ev.State = safeState(conn)
			g.observe(ev)
		}
		f.complete(&tlsConn{g: g, conn: conn, release: release, addr: addr, name: hs.name, start: start}, nil)
	}
	g.startHandshake(f, g.direct, run, func() {
		g.handshakes.Add(-1)
		release()
	})
}

// startHandshake runs a handshake (run) when the guest looks for its
// future f if the provider honours its context, and in the background
// right away if not. abort gives back what run would have if it never
// runs.
func (g *Guest) startHandshake(f *future, direct bool, run, abort func()) {
	if !direct {
		g.goroutine(run)
		return
	}
	f.abort = abort
	g.deferWork(&f.start, run)
}

// abandonGrace is how long a handshake waits, after its deadline closed the
// transport, for the provider to return before leaving it behind.
const abandonGrace = 500 * time.Millisecond

// handshake runs the provider under the guest's context with the handshake
// timeout as a backstop. A provider that honours ctx runs on the calling
// goroutine. One that does not runs on a worker: if it ignores ctx, closing
// its transport unblocks it; if it ignores that too, it is abandoned after
// abandonGrace (whatever it returns later is closed), so neither the
// guest's future nor Guest.Close waits for it. A panicking provider fails
// the handshake, not the host.
func (g *Guest) handshake(ctx context.Context, transport net.Conn, cfg *api.Config) (api.Conn, error) {
	return g.runProvider(ctx, transport, cfg.Timeout(), g.s.provider.Name(), g.direct, func(ctx context.Context) (api.Conn, error) {
		return g.s.provider.Client(ctx, transport, cfg)
	})
}

// runProvider runs one handshake of the provider called name (hs: its
// Client or Server over transport) as handshake describes; direct: the
// provider honours its context.
func (g *Guest) runProvider(ctx context.Context, transport net.Conn, timeout time.Duration, name string, direct bool, hs func(context.Context) (api.Conn, error)) (api.Conn, error) {
	if direct {
		// The provider's own deadline, set here so that it sets no other
		// (api.WithTimeout): a timer a handshake is a cost native Go's
		// Handshake does not have.
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		stop := context.AfterFunc(ctx, func() { _ = transport.Close() })
		conn, err := g.callDirect(ctx, name, hs)
		return g.handshakeOutcome(ctx, name, stop, conn, err)
	}
	// A little later than the provider's own deadline, so that a provider
	// that honours it reports the timeout itself.
	ctx, cancel := context.WithTimeout(ctx, timeout+min(time.Second, timeout/4))
	defer cancel()
	stop := context.AfterFunc(ctx, func() { _ = transport.Close() })

	type outcome struct {
		conn api.Conn
		err  error
	}
	var (
		mu        sync.Mutex
		abandoned bool
		done      = make(chan outcome, 1)
	)
	// Not under g.wg: a provider that never returns must not hold up Close.
	g.work(func() {
		var o outcome
		defer func() {
			if r := recover(); r != nil {
				o = outcome{err: &api.Error{Kind: api.KindUnknown, Backend: name, Err: fmt.Errorf("provider panicked: %v", r)}}
			}
			mu.Lock()
			defer mu.Unlock()
			if abandoned {
				if o.conn != nil {
					_ = safeCall(o.conn.Close)
				}
				return
			}
			done <- o
		}()
		o.conn, o.err = hs(ctx)
	})

	var o outcome
	select {
	case o = <-done:
	case <-ctx.Done():
		timer := time.NewTimer(abandonGrace)
		select {
		case o = <-done:
			timer.Stop()
		case <-timer.C:
			mu.Lock()
			select {
			case o = <-done:
			default:
				abandoned = true
			}
			mu.Unlock()
			if abandoned {
				g.logger().Warn("wasitls: provider ignored its context and closed transport; handshake abandoned", "backend", name)
				return nil, api.Classify(fmt.Errorf("%w (provider %s did not return)", ctx.Err(), name), name)
			}
		}
	}
	return g.handshakeOutcome(ctx, name, stop, o.conn, o.err)
}

// callDirect calls a provider that honours its context (Capabilities.
// HonorsContext) on the calling goroutine.
func (g *Guest) callDirect(ctx context.Context, name string, hs func(context.Context) (api.Conn, error)) (conn api.Conn, err error) {
	defer func() {
		if r := recover(); r != nil {
			conn, err = nil, &api.Error{Kind: api.KindUnknown, Backend: name, Err: fmt.Errorf("provider panicked: %v", r)}
		}
	}()
	return hs(ctx)
}

// handshakeOutcome checks what the provider returned; stop is the
// transport-closing backstop's.
func (g *Guest) handshakeOutcome(ctx context.Context, name string, stop func() bool, conn api.Conn, err error) (api.Conn, error) {
	if err == nil && conn == nil {
		err = &api.Error{Kind: api.KindUnknown, Backend: name, Err: fmt.Errorf("provider returned no connection and no error")}
	}
	if !stop() {
		// The backstop closed the transport: whatever the provider
		// returned, the cause is the deadline (or the guest closing).
		switch {
		case err == nil:
			_ = safeCall(conn.Close)
			err = fmt.Errorf("%w (during the handshake)", ctx.Err())
		case !errors.Is(err, ctx.Err()):
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		// else the provider reported the deadline itself
		// (api.RunHandshake): one owner, one wrap.
		conn = nil
	}
	if err != nil {
		return nil, api.Classify(err, name)
	}
	return conn, nil
}

// complete records the handshake's outcome.
func (f *future) complete(conn *tlsConn, err error) {
	f.mu.Lock()
	if f.dropped {
		f.mu.Unlock()
		if conn != nil {
			conn.close()
		}
		return
	}
	f.fin, f.conn, f.err = true, conn, err
	f.mu.Unlock()
	f.done.update(true)
}

// transport returns the net.Conn the provider handshakes over. When both
// streams are an untouched host TCP connection it is that connection itself
// (no copy, no goroutine); otherwise an adapter over the streams. addr is
// the remote address of the input stream's TCP connection, if any; oneConn
// reports whether both streams belong to that one connection (only then is
// addr where the handshake goes). release gives back what the streams held.
func (g *Guest) transport(hs *handshake) (conn net.Conn, addr netip.AddrPort, oneConn bool, release func()) {
	in, out := hs.in, hs.out
	oneConn = in.tcp != nil && in.tcp == out.tcp
	if in.tcp != nil {
		if ta, ok := in.tcp.conn.RemoteAddr().(*net.TCPAddr); ok {
			addr = ta.AddrPort()
			addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
		}
	}
	if in.tcp != nil && in.tcp == out.tcp && in.p.detachIfUntouched() && out.s.idle() {
		out.s.detach()
		tc := in.tcp
		var once sync.Once
		release := func() {
			once.Do(func() {
				_ = tc.conn.Close()
				tc.release()
				tc.release()
			})
		}
		return tc.conn, addr, true, release
	}
	sc := &streamConn{in: in, out: out, done: make(chan struct{})}
	if in.tcp != nil {
		sc.local, sc.remote = in.tcp.conn.LocalAddr(), in.tcp.conn.RemoteAddr()
	}
	return sc, addr, oneConn, sc.closeOnce
}

// futureGet: (self, retptr) -> option<result<result<tuple<client-connection,
// input-stream, output-stream>, io-error>>>. Never blocks.
//
//	+0 option tag | +4 outer result tag (1: already taken) | +8 inner tag
//	inner ok:  +12 connection, +16 input-stream, +20 output-stream
//	inner err: +12 io-error
func futureGet(c *call, stack []uint64) { getFuture(c, stack, rFuture, rConnection) }

// getFuture is futureGet for a future of kind fk whose connection is of
// kind ck (client or server).
func getFuture(c *call, stack []uint64, fk, ck rkind) {
	f := c.get(wapi.DecodeU32(stack[0]), fk).(*future)
	c.g.kick(&f.start)
	ret := wapi.DecodeU32(stack[1])
	a := cabi.FutureGet
	c.Area(ret, a.Size, a.Align)
	f.mu.Lock()
	fin, taken, conn, err := f.fin, f.taken, f.conn, f.err
	if fin {
		f.taken = true
	}
	f.mu.Unlock()
	b := c.Area(ret, a.Size, a.Align)
	switch {
	case !fin:
		b[a.OptionTag] = 0
		return
	case taken:
		b[a.OptionTag], b[a.OuterTag] = 1, 1
		return
	case err != nil:
		h := c.push(rError, &ioError{err: err}, 0)
		b = c.Area(ret, a.Size, a.Align)
		b[a.OptionTag], b[a.OuterTag], b[a.InnerTag] = 1, 0, 1
		cabi.PutU32(b, a.Error, h)
		return
	}
	conn.refs.Store(3)
	in := &inStream{p: newPump(c.g, conn.conn), tls: conn}
	conn.in = in
	conn.out = &outStream{s: newSink(c.g, conn.conn, conn.conn.Flush, conn.conn.CloseWrite), tls: conn}
	hc := c.push(ck, conn, 0)
	hi := c.push(rInput, in, hc)
	ho := c.push(rOutput, conn.out, hc)
	b = c.Area(ret, a.Size, a.Align)
	b[a.OptionTag], b[a.OuterTag], b[a.InnerTag] = 1, 0, 0
	cabi.PutU32(b, a.Conn, hc)
	cabi.PutU32(b, a.Input, hi)
	cabi.PutU32(b, a.Output, ho)
}

// closeOutput: (self). Queues close_notify after the writes in flight;
// check-write then reports 0 until it is sent, and closed afterwards.
func closeOutput(c *call, stack []uint64) { closeOutputOf(c, stack, rConnection) }

// closeOutputOf is closeOutput for a connection of kind k.
func closeOutputOf(c *call, stack []uint64, k rkind) {
	t := c.get(wapi.DecodeU32(stack[0]), k).(*tlsConn)
	if t.out != nil {
		t.out.s.finish()
	}
}

// streamConn adapts an input and an output stream to a net.Conn, for a
// handshake over streams that are not (or no longer) a plain TCP socket.
// Reads and writes also end when the guest closes or a deadline passes.
type streamConn struct {
	in            *inStream
	out           *outStream
	done          chan struct{}
	once          sync.Once
	local, remote net.Addr

	mu              sync.Mutex
	readDL, writeDL time.Time
}

func (s *streamConn) deadline(write bool) (<-chan time.Time, func()) {
	s.mu.Lock()
	dl := s.readDL
	if write {
		dl = s.writeDL
	}
	s.mu.Unlock()
	if dl.IsZero() {
		return nil, func() {}
	}
	t := time.NewTimer(time.Until(dl))
	return t.C, func() { t.Stop() }
}

func (s *streamConn) Read(p []byte) (int, error) {
	for {
		a, b, err := s.in.p.peek(uint64(len(p)))
		if len(a) > 0 {
			n := copy(p, a)
			n += copy(p[n:], b)
			s.in.p.consume(uint64(n))
			return n, nil
		}
		if err != nil {
			return 0, err
		}
		if err := s.block(s.in.p, false); err != nil {
			return 0, err
		}
	}
}

// block waits for w, the end of the adapter, the guest, or the deadline.
func (s *streamConn) block(w waitable, write bool) error {
	timeout, stop := s.deadline(write)
	defer stop()
	for !w.ready() {
		select {
		case <-w.readyCh():
		case <-s.done:
			return net.ErrClosed
		case <-s.in.p.g.ctx.Done():
			return net.ErrClosed
		case <-timeout:
			return os.ErrDeadlineExceeded
		}
	}
	return nil
}

func (s *streamConn) Write(p []byte) (int, error) {
	if err := s.out.s.write(p, true); err != nil {
		return 0, err
	}
	if err := s.out.s.startFlush(); err != nil {
		return 0, err
	}
	if err := s.block(s.out.s.flushed(), true); err != nil {
		return 0, err
	}
	if err := s.out.s.failure(); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (s *streamConn) closeOnce() {
	s.once.Do(func() {
		close(s.done)
		s.in.close()
		s.out.close()
	})
}

func (s *streamConn) Close() error { s.closeOnce(); return nil }

func (s *streamConn) CloseWrite() error {
	s.out.s.finish()
	return nil
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "wasi-stream" }
func (pipeAddr) String() string  { return "wasi-stream" }

func (s *streamConn) LocalAddr() net.Addr {
	if s.local != nil {
		return s.local
	}
	return pipeAddr{}
}

func (s *streamConn) RemoteAddr() net.Addr {
	if s.remote != nil {
		return s.remote
	}
	return pipeAddr{}
}

func (s *streamConn) SetDeadline(t time.Time) error {
	s.mu.Lock()
	s.readDL, s.writeDL = t, t
	s.mu.Unlock()
	return nil
}

func (s *streamConn) SetReadDeadline(t time.Time) error {
	s.mu.Lock()
	s.readDL = t
	s.mu.Unlock()
	return nil
}

func (s *streamConn) SetWriteDeadline(t time.Time) error {
	s.mu.Lock()
	s.writeDL = t
	s.mu.Unlock()
	return nil
}

// safeState returns conn.State(), or the zero state if the provider panics.
func safeState(conn api.Conn) (st api.ConnectionState) {
	defer func() {
		if recover() != nil {
			st = api.ConnectionState{}
		}
	}()
	return conn.State()
}
