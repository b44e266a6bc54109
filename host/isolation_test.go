package host

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/conformance/pki"
	"github.com/wasitls/wasitls/internal/testkit/wasmenc"
	"github.com/wasitls/wasitls/internal/witnames"
)

// countingProvider wraps stdtls under another name and counts handshakes.
type countingProvider struct {
	name string
	n    atomic.Int32
}

func (p *countingProvider) Name() string { return p.name }
func (p *countingProvider) Client(ctx context.Context, c net.Conn, cfg *api.Config) (api.Conn, error) {
	p.n.Add(1)
	return stdtls.Provider{}.Client(ctx, c, cfg)
}

// Two guests in one runtime, with different providers, roots and policies,
// handshake concurrently; neither can use the other's handles.
func TestTwoGuestsIsolated(t *testing.T) {
	pa, pb := pki.New(t), pki.New(t)
	srvA := startEcho(t, &tls.Config{Certificates: []tls.Certificate{pa.Server().TLS}}, "tcp", "127.0.0.1:0")
	srvB := startEcho(t, &tls.Config{Certificates: []tls.Certificate{pb.Server().TLS}}, "tcp", "127.0.0.1:0")
	ctx, r := newRuntime(t)
	h := New(r)
	provA, provB := &countingProvider{name: "a"}, &countingProvider{name: "b"}
	xa := newTG(t, ctx, h, "0.2.6", WithProvider(provA), WithPolicy(&Policy{Allow: []string{srvA.addr.String()}, RootCAs: pa.Roots}))
	xb := newTG(t, ctx, h, "0.2.1", WithProvider(provB), WithPolicy(&Policy{Allow: []string{srvB.addr.String()}, RootCAs: pb.Roots}))
	for i := 0; i < 32; i++ {
		xa.call1(monoName, witnames.SubscribeDuration, 1)
	}
	if h.Guests() != 2 {
		t.Fatalf("%d guests", h.Guests())
	}

	// Each guest may reach only its own server.
	if _, _, _, code := xa.connect(srvB.addr); code != int(ecAccessDenied) {
		t.Fatalf("guest A to server B: code %d, want access-denied", code)
	}
	if _, _, _, code := xb.connect(srvA.addr); code != int(ecAccessDenied) {
		t.Fatalf("guest B to server A: code %d, want access-denied", code)
	}

	// Handshakes run concurrently (wazero allows concurrent calls into
	// different module instances).
	type res struct {
		x               *tg
		conn, tin, tout uint32
		sock            uint32
		err             string
		srv             *echoServer
	}
	results := []*res{{x: xa, srv: srvA}, {x: xb, srv: srvB}}
	var wg sync.WaitGroup
	for _, rs := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var in, out uint32
			var code int
			rs.sock, in, out, code = rs.x.connect(rs.srv.addr)
			if code >= 0 {
				rs.err = fmt.Sprintf("connect: %d", code)
				return
			}
			rs.conn, rs.tin, rs.tout, rs.err = rs.x.handshake("localhost", in, out)
		}()
	}
	wg.Wait()
	for i, rs := range results {
		if rs.err != "" {
			t.Fatalf("guest %d: %s", i, rs.err)
		}
	}
	if provA.n.Load() != 1 || provB.n.Load() != 1 {
		t.Fatalf("handshakes: provider a %d, provider b %d", provA.n.Load(), provB.n.Load())
	}
	// Guest B cannot use guest A's handles: A's numbers are beyond anything
	// B ever allocated (A made 32 pollables first).
	a := results[0]
	xb.wantTrap([]string{"unknown handle"}, tlsName, witnames.ClientConnectionCloseOutput, uint64(a.conn))
	xb.wantTrap([]string{"unknown handle"}, ioStreamsName, witnames.InputStreamRead, uint64(a.tin), 1, retArea)
	for _, rs := range results {
		rs.x.writeAll(rs.tout, []byte("ping\n"))
		if got := rs.x.readN(rs.tin, 5); string(got) != "ping\n" {
			t.Fatalf("echo %q", got)
		}
	}
	// Closing guest A leaves guest B working.
	_ = xa.g.Close(ctx)
	if h.Guests() != 1 {
		t.Fatalf("%d guests after closing one", h.Guests())
	}
	b := results[1]
	xb.writeAll(b.tout, []byte("still here\n"))
	if got := xb.readN(b.tin, 11); string(got) != "still here\n" {
		t.Fatalf("echo after closing the other guest: %q", got)
	}
}

// Every 0.2.x version resolves, those published (0.2.0..0.2.12) and later
// ones (0.2.13 and on only add items); others do not.
func TestVersionsResolve(t *testing.T) {
	ctx, r := newRuntime(t)
	h := New(r)
	for _, v := range []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 99, 1000} {
		ver := fmt.Sprintf("0.2.%d", v)
		x := newTG(t, ctx, h, ver)
		if x.call(monoName, "now")[0] == 0 {
			t.Fatalf("%s: clock at zero", ver)
		}
		_ = x.g.Close(ctx)
	}
	for _, bad := range []string{"wasi:io/streams@0.3.0", "wasi:io/streams@0.2.-1", "wasi:io/streams@0.2.13-rc1", "wasi:io/streams@0.2.+13", "wasi:cli/stdout@1.2.0", "wasi:io/streams@0.2.01", witnames.IOStreams, "wasi:tls/types@0.2.1-draft", "wasi:io/nope@0.2.0"} {
		if _, ok := parseImport(bad); ok {
			t.Errorf("%s resolves", bad)
		}
		cm, err := r.CompileModule(ctx, wasmenc.Module([]wasmenc.Import{{Module: bad, Name: witnames.DropInputStream, Params: p(i32)}}))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.Instantiate(ctx, cm, NewModuleConfig().WithName("").WithRandSource(rand.Reader)); err == nil {
			t.Errorf("a guest importing %s instantiated", bad)
		}
	}
	if n := len(importNames()); n != 27*13+3 { // 27 interfaces at 0.2.0..0.2.12, wasi:tls, wasitls:tls/connection and wasitls:tls/server
		t.Errorf("%d import names", n)
	}
	if h.Guests() != 0 {
		t.Errorf("%d guests left", h.Guests())
	}
}

// A guest can import two versions of one interface at once; both reach the
// same table.
func TestMixedVersionsShareHandles(t *testing.T) {
	ctx, r := newRuntime(t)
	h := New(r)
	imps := []wasmenc.Import{
		{Module: "wasi:clocks/monotonic-clock@0.2.0", Name: witnames.SubscribeDuration, Params: p(i64), Results: p(i32)},
		{Module: "wasi:io/poll@0.2.9", Name: witnames.PollableReady, Params: p(i32), Results: p(i32)},
	}
	cm, err := r.CompileModule(ctx, wasmenc.Module(imps))
	if err != nil {
		t.Fatal(err)
	}
	defer cm.Close(ctx)
	g, err := h.Instantiate(ctx, cm, NewModuleConfig().WithName("mixed").WithRandSource(rand.Reader))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close(ctx)
	res, err := g.Module().ExportedFunction(wasmenc.Export(imps[0].Module, imps[0].Name)).Call(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	ready, err := g.Module().ExportedFunction(wasmenc.Export(imps[1].Module, imps[1].Name)).Call(ctx, res[0])
	if err != nil || ready[0] != 1 {
		t.Fatalf("ready %v %v", ready, err)
	}
	if g.Name() != "mixed" {
		t.Errorf("name %q", g.Name())
	}
}

// Prepare lets an embedder instantiate the module itself.
func TestPrepare(t *testing.T) {
	ctx, r := newRuntime(t)
	h := New(r)
	cm := mustCompile(t, r, "0.2.2")
	g, gctx, mc, err := h.Prepare(ctx, cm, NewModuleConfig().WithName("").WithRandSource(rand.Reader))
	if err != nil {
		t.Fatal(err)
	}
	mod, err := r.InstantiateModule(gctx, cm, mc)
	if err != nil {
		t.Fatal(err)
	}
	x := &tg{t: t, ctx: ctx, g: g, mod: mod, ver: "0.2.2"}
	x.call1(monoName, witnames.SubscribeDuration, 5)
	if g.Module() != mod {
		t.Fatal("the guest did not learn its module from its first call")
	}
	if g.OpenHandles() != 1 {
		t.Fatalf("%d handles", g.OpenHandles())
	}
	// Closing the module (not the Guest) releases the guest.
	_ = mod.Close(ctx)
	if g.OpenHandles() != 0 || h.Guests() != 0 {
		t.Fatalf("after module close: %d handles, %d guests", g.OpenHandles(), h.Guests())
	}
}

func mustCompile(t testing.TB, r wazero.Runtime, ver string) wazero.CompiledModule {
	cm, err := r.CompileModule(context.Background(), wasmenc.Module(allImports(ver)))
	if err != nil {
		t.Fatal(err)
	}
	return cm
}

// Each guest has its own session cache: a guest resumes its own sessions,
// never another guest's.
func TestSessionCachePerGuest(t *testing.T) {
	p := pki.New(t)
	srv := startEcho(t, &tls.Config{Certificates: []tls.Certificate{p.Server().TLS}}, "tcp", "127.0.0.1:0")
	ctx, r := newRuntime(t)
	h := New(r, WithProvider(stdtls.Provider{}))
	var mu sync.Mutex
	resumed := map[string][]bool{}
	obs := func(name string) Option {
		return WithObserver(func(e ConnEvent) {
			if e.Phase == PhaseHandshake && e.Err == nil {
				mu.Lock()
				resumed[name] = append(resumed[name], e.State.DidResume)
				mu.Unlock()
			}
		})
	}
	pol := &Policy{Allow: []string{"127.0.0.1:*"}, RootCAs: p.Roots}
	xa := newTG(t, ctx, h, "0.2.6", WithPolicy(pol), obs("a"))
	xb := newTG(t, ctx, h, "0.2.6", WithPolicy(pol), obs("b"))
	session := func(x *tg) {
		sock, conn, tin, tout := x.openTLS(srv.addr)
		// A round trip makes the client read the server's session ticket.
		x.writeAll(tout, []byte("x\n"))
		x.readN(tin, 2)
		x.closeTLS(sock, conn, tin, tout)
	}
	session(xa)
	session(xa)
	session(xb)
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(resumed["a"]) != "[false true]" || fmt.Sprint(resumed["b"]) != "[false]" {
		t.Fatalf("resumed: a %v, b %v", resumed["a"], resumed["b"])
	}
}
