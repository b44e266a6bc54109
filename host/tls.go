package host

import (
	"context"
	"fmt"
	"net/netip"
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

// maxWireRecord is the most bytes one TLS record takes on the wire (a
// header and crypto/tls's largest accepted ciphertext): with that many
// queued in the socket, the next record is there whole.
const maxWireRecord = 5 + 16384 + 2048

// tlsConn is the client-connection resource: an established connection,
// its plaintext streams and what it holds of the TCP socket.
type tlsConn struct {
	g       *Guest
	conn    api.Conn
	release func() // gives back the transport (closes the TCP connection)
	addr    netip.AddrPort
	name    string
	backend string // the provider that made it, for the close event
	start   time.Time
	once    sync.Once
	in      *inStream
	out     *outStream
	state   *api.ConnectionState // a server connection's, for the guest to read
	// queued reports the bytes waiting in the transport's socket (nil:
	// not a host TCP connection), for the input stream's gathering.
	queued func() int
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
		ev := ConnEvent{Phase: PhaseClose, Addr: t.addr, ServerName: t.name, Backend: t.backend, Duration: time.Since(t.start), Server: t.state != nil}
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

// finish consumes the handshake in stack[0] (of kind hk) and returns it
// with the future (of kind fk) that now stands in its place, and the
// context the handshake runs under (cancelled when the future is dropped).
func (c *call) finish(stack []uint64, hk, fk rkind) (*handshake, *future, context.Context) {
	hs := c.take(wapi.DecodeU32(stack[0]), hk, "consumed by finish").(*handshake)
	ctx, cancel := context.WithCancel(c.g.ctx)
	f := &future{g: c.g, cancel: cancel}
	stack[0] = uint64(c.push(fk, f, 0))
	return hs, f, ctx
}

// finishHandshake: (own<client-handshake>) -> own<future-client-streams>.
// The handshake runs when the guest looks for it (see pending) if the
// provider honours its context, and in the background right away if not.
func finishHandshake(c *call, stack []uint64) {
	hs, f, ctx := c.finish(stack, rHandshake, rFuture)
	g := c.g

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
		f.cancel() // the handshake is over: its context goes
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
		f.complete(&tlsConn{g: g, conn: conn, release: release, addr: addr, name: hs.name, backend: ev.Backend, start: start, queued: socketQueued(transport)}, nil)
	}
	g.startHandshake(f, g.direct, run, func() {
		g.handshakes.Add(-1)
		release()
	})
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
	in := &inStream{p: newConnPump(c.g, conn.conn, conn.queued, maxWireRecord), tls: conn}
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
