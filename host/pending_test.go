package host

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/conformance/pki"
	"github.com/wasitls/wasitls/internal/cabi"
	"github.com/wasitls/wasitls/internal/testkit/loopback"
	"github.com/wasitls/wasitls/internal/witnames"
)

// honoring, embedded beside a provider, declares HonorsContext for it.
type honoring struct{}

func (honoring) Capabilities() api.Capabilities { return api.Capabilities{HonorsContext: true} }

// onStack records whether Client ran inside the guest's pollable.block.
type onStack struct {
	api.Provider
	inline atomic.Int32
	calls  atomic.Int32
}

func (p *onStack) Client(ctx context.Context, t net.Conn, cfg *api.Config) (api.Conn, error) {
	p.calls.Add(1)
	buf := make([]byte, 64<<10)
	if strings.Contains(string(buf[:runtime.Stack(buf, false)]), "host.pollableBlock") {
		p.inline.Add(1)
	}
	return p.Provider.Client(ctx, t, cfg)
}

// A provider that honours its context runs on the goroutine of the guest's
// call that waits for the handshake alone; one that does not runs on a
// worker (and can be abandoned). Either way the handshake succeeds.
func TestHandshakeRunsInlineOnlyWhenProviderHonorsContext(t *testing.T) {
	p := pki.New(t)
	srv := startEcho(t, &tls.Config{Certificates: []tls.Certificate{p.Server().TLS}}, "tcp", "127.0.0.1:0")
	ctx, r := newRuntime(t)
	for _, tc := range []struct {
		name       string
		honors     bool
		wantInline int32
	}{{"honors context", true, 1}, {"does not declare it", false, 0}} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &onStack{Provider: api.ProviderFunc("rec", stdtls.Provider{}.Client)}
			var prov api.Provider = rec
			if tc.honors {
				prov = struct {
					*onStack
					honoring
				}{rec, honoring{}}
			}
			x := newTG(t, ctx, New(r), "0.2.6", WithProvider(prov),
				WithPolicy(&Policy{Allow: []string{"127.0.0.1:*"}, RootCAs: p.Roots}))
			sock, conn, tin, tout := x.openTLS(srv.addr)
			if rec.calls.Load() != 1 || rec.inline.Load() != tc.wantInline {
				t.Fatalf("%d calls, %d inline; want 1 call, %d inline", rec.calls.Load(), rec.inline.Load(), tc.wantInline)
			}
			x.closeTLS(sock, conn, tin, tout)
		})
	}
}

// A guest that starts a connect and a handshake and then waits outside the
// host (here: returns to its embedder) finds both done when it looks: the
// host's sweeper starts pending work it is not asked for.
func TestPendingWorkStartsWhileGuestIsAway(t *testing.T) {
	p := pki.New(t)
	srv := startEcho(t, &tls.Config{Certificates: []tls.Certificate{p.Server().TLS}}, "tcp", "127.0.0.1:0")
	ctx, r := newRuntime(t)
	events := make(chan ConnEvent, 8)
	x := newTG(t, ctx, New(r, WithProvider(stdtls.Provider{})), "0.2.6",
		WithPolicy(&Policy{Allow: []string{"127.0.0.1:*"}, RootCAs: p.Roots}),
		WithObserver(func(e ConnEvent) { events <- e }))
	await := func(phase Phase) {
		t.Helper()
		select {
		case e := <-events:
			if e.Phase != phase || e.Err != nil {
				t.Fatalf("event %v (%v), want %v", e.Phase, e.Err, phase)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no %v while the guest was away", phase)
		}
	}

	netw := x.call1(instNetName, witnames.InstanceNetwork)
	x.clearRet()
	x.call(tcpCreateName, witnames.CreateTCPSocket, 0, retArea)
	sock := cabi.GetU32(x.ret(8), 4)
	flat := cabi.Flatten(srv.addr, 0, 0)
	args := append([]uint64{uint64(sock), uint64(netw)}, flat[:]...)
	x.clearRet()
	x.call(tcpName, witnames.TCPSocketStartConnect, append(args, retArea)...)
	if r := x.ret(2); r[0] != 0 {
		t.Fatalf("start-connect: error-code %d", r[1])
	}
	await(PhaseConnect)
	// The observer hears of the connect just before the socket records it:
	// a block now returns at once.
	p0 := x.call1(tcpName, witnames.TCPSocketSubscribe, uint64(sock))
	x.call(ioPollName, witnames.PollableBlock, uint64(p0))
	x.call(ioPollName, witnames.DropPollable, uint64(p0))
	x.clearRet()
	x.call(tcpName, witnames.TCPSocketFinishConnect, uint64(sock), retArea)
	r0 := x.ret(12)
	if r0[0] != 0 {
		t.Fatalf("finish-connect: error-code %d", r0[4])
	}
	in, out := cabi.GetU32(r0, 4), cabi.GetU32(r0, 8)

	x.put(argArea, []byte("localhost"))
	hs := x.call1(tlsName, witnames.NewClientHandshake, argArea, 9, uint64(in), uint64(out))
	fut := x.call1(tlsName, witnames.ClientHandshakeFinish, uint64(hs))
	await(PhaseHandshake)
	p1 := x.call1(tlsName, witnames.FutureClientStreamsSubscribe, uint64(fut))
	x.call(ioPollName, witnames.PollableBlock, uint64(p1))
	x.call(ioPollName, witnames.DropPollable, uint64(p1))
	a := cabi.FutureGet
	x.clearRet()
	x.call(tlsName, witnames.FutureClientStreamsGet, uint64(fut), retArea)
	r1 := x.ret(a.Size)
	if r1[a.OptionTag] != 1 || r1[a.OuterTag] != 0 || r1[a.InnerTag] != 0 {
		t.Fatalf("get after the handshake: %v", r1)
	}
	x.drop(tlsName, "future-client-streams", fut)
	x.drop(ioStreamsName, "input-stream", cabi.GetU32(r1, a.Input))
	x.drop(ioStreamsName, "output-stream", cabi.GetU32(r1, a.Output))
	x.drop(tlsName, "client-connection", cabi.GetU32(r1, a.Conn))
	x.drop(tcpName, "tcp-socket", sock)
	x.drop(networkName, "network", netw)
}

// Closing the guest while it blocks on a handshake that runs inline (the
// server never answers) ends the call and releases everything; so does
// dropping a future whose handshake never started.
func TestInlineHandshakeEndsWithTheGuest(t *testing.T) {
	fds := countFDs(t)
	// A server that reports the first bytes of each connection (the
	// ClientHello) and its end, and never answers.
	hello, ended := make(chan struct{}, 4), make(chan struct{}, 4)
	srv := loopback.Serve(t, func(c net.Conn) {
		if _, err := c.Read(make([]byte, 1)); err == nil {
			hello <- struct{}{}
			_, _ = io.Copy(io.Discard, c)
		}
		ended <- struct{}{}
	})
	wait := func(ch chan struct{}, what string) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatal(what)
		}
	}
	ctx, r := newRuntime(t)
	h := New(r, WithProvider(stdtls.Provider{}))
	x := newTG(t, ctx, h, "0.2.6", WithPolicy(&Policy{Allow: []string{"127.0.0.1:*"}}))
	addr := srv.AddrPort()

	// Never started: dropped before the guest looked.
	_, in, out, code := x.connect(addr)
	if code >= 0 {
		t.Fatalf("connect: error-code %d", code)
	}
	x.put(argArea, []byte("localhost"))
	hs := x.call1(tlsName, witnames.NewClientHandshake, argArea, 9, uint64(in), uint64(out))
	fut := x.call1(tlsName, witnames.ClientHandshakeFinish, uint64(hs))
	x.drop(tlsName, "future-client-streams", fut)
	wait(ended, "the connection of a dropped, unstarted handshake stayed open")

	// Started inline, then the guest closes.
	_, in, out, code = x.connect(addr)
	if code >= 0 {
		t.Fatalf("connect: error-code %d", code)
	}
	hs = x.call1(tlsName, witnames.NewClientHandshake, argArea, 9, uint64(in), uint64(out))
	fut = x.call1(tlsName, witnames.ClientHandshakeFinish, uint64(hs))
	pl := x.call1(tlsName, witnames.FutureClientStreamsSubscribe, uint64(fut))
	errc := make(chan error, 1)
	go func() {
		_, err := x.fn(ioPollName, witnames.PollableBlock).Call(ctx, uint64(pl))
		errc <- err
	}()
	wait(hello, "no ClientHello from the blocked guest")
	_ = x.g.Close(ctx)
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("block returned no error after the guest closed")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("block on an inline handshake did not return after Close")
	}
	wait(ended, "the handshake's connection stayed open after Close")
	if x.g.OpenHandles() != 0 || h.Guests() != 0 {
		t.Fatalf("%d handles, %d guests after Close", x.g.OpenHandles(), h.Guests())
	}
	if !srv.WaitIdle(10 * time.Second) { // the server's side of each connection closed
		t.Fatal("the server still holds connections")
	}
	if n := countFDs(t); n > fds+1 { // +1: the listener
		t.Fatalf("%d descriptors open, %d before", n, fds)
	}
}

// The sweeper looks less often while guests claim their own work (each
// look wakes an idle CPU), but still starts work a guest leaves pending,
// within two of its longest intervals, and then looks often again.
func TestSweeperBacksOffWhileGuestsClaimTheirWork(t *testing.T) {
	h := &Host{}
	g := &Guest{h: h}
	interval := func() time.Duration {
		h.sweep.mu.Lock()
		defer h.sweep.mu.Unlock()
		return h.sweep.interval
	}
	if maxSweepInterval <= sweepInterval {
		t.Fatalf("maxSweepInterval %v leaves no back-off from %v", maxSweepInterval, sweepInterval)
	}
	// A guest that defers work and claims it at once, as one blocking on
	// each connect and handshake does.
	var p pending
	deadline := time.Now().Add(5 * time.Second)
	for interval() != maxSweepInterval {
		if time.Now().After(deadline) {
			t.Fatalf("interval %v after 5 s of work claimed inline, want %v", interval(), maxSweepInterval)
		}
		g.deferWork(&p, func() {})
		if fn := g.claim(&p); fn != nil {
			fn()
			g.wg.Done()
		}
		time.Sleep(200 * time.Microsecond)
	}
	// Work the guest leaves pending is started by the sweeper, and the look
	// that started it resets the interval, or the sweeper stops (nothing
	// left to look at; it restarts at sweepInterval). The work itself
	// watches for that: the looks that follow a reset, finding nothing,
	// back off again within a few intervals, so a check made afterwards
	// could miss it on a loaded machine.
	type outcome struct {
		at    time.Time
		reset bool
	}
	ran := make(chan outcome, 1)
	start := time.Now()
	g.deferWork(&p, func() {
		o := outcome{at: time.Now()}
		for until := o.at.Add(2 * maxSweepInterval); !o.reset && time.Now().Before(until); {
			h.sweep.mu.Lock()
			o.reset = h.sweep.interval == sweepInterval || !h.sweep.running
			h.sweep.mu.Unlock()
			time.Sleep(50 * time.Microsecond)
		}
		ran <- o
	})
	select {
	case o := <-ran:
		if took := o.at.Sub(start); took > 2*maxSweepInterval+time.Second {
			t.Fatalf("pending work started after %v", took)
		}
		if !o.reset {
			t.Fatalf("interval %v after the sweeper started work, want %v", interval(), sweepInterval)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("pending work never started")
	}
	g.wg.Wait()
}
