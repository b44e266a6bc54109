package host

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/api/backendkit"
)

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
		// (backendkit.WithTimeout): a timer a handshake is a cost native Go's
		// Handshake does not have (see deadlines).
		ctx, cancel := g.h.deadlines.withTimeout(ctx, timeout)
		defer cancel()
		stop := context.AfterFunc(ctx, func() { _ = transport.Close() })
		conn, err := g.callDirect(ctx, name, hs)
		return g.handshakeOutcome(ctx, name, stop, conn, err)
	}
	// A little later than the provider's own deadline, so that a provider
	// that honours it reports the timeout itself.
	ctx, cancel := g.h.deadlines.withTimeout(ctx, timeout+min(time.Second, timeout/4))
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
				return nil, backendkit.Classify(fmt.Errorf("%w (provider %s did not return)", ctx.Err(), name), name)
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
		// (backendkit.RunHandshake): one owner, one wrap.
		conn = nil
	}
	if err != nil {
		return nil, backendkit.Classify(err, name)
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

// safeState returns conn.State(), or the zero state if the provider panics.
func safeState(conn api.Conn) (st api.ConnectionState) {
	defer func() {
		if recover() != nil {
			st = api.ConnectionState{}
		}
	}()
	return conn.State()
}
