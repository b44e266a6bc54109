package host

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/conformance/pki"
	"github.com/wasitls/wasitls/internal/cabi"
	"github.com/wasitls/wasitls/internal/testkit/peers"
	"github.com/wasitls/wasitls/internal/witnames"
)

func TestIPv6AndMappedAddresses(t *testing.T) {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		peers.Unavailable(t, "no IPv6 loopback: %v", err)
	}
	ln.Close()
	srv6 := startEcho(t, nil, "tcp6", "[::1]:0")
	srv4 := startEcho(t, nil, "tcp4", "127.0.0.1:0")
	ctx, r := newRuntime(t)
	var mu sync.Mutex
	var denied []ConnEvent
	x := newTG(t, ctx, New(r), "0.2.6", WithPolicy(&Policy{Allow: []string{"[::1]:*", "127.0.0.1:" + strconv.Itoa(int(srv4.addr.Port()))}}),
		WithObserver(func(e ConnEvent) {
			if e.Phase == PhaseDenied {
				mu.Lock()
				denied = append(denied, e)
				mu.Unlock()
			}
		}))
	sock, in, out, code := x.connect(srv6.addr)
	if code >= 0 {
		t.Fatalf("connect [::1]: %d", code)
	}
	x.writeAll(out, []byte("six"))
	if got := x.readN(in, 3); string(got) != "six" {
		t.Fatalf("echo %q", got)
	}
	x.clearRet()
	x.call(tcpName, witnames.TCPSocketLocalAddress, uint64(sock), retArea)
	if got := cabi.GetSockAddr(x.ret(36), 4); got.Addr() != netip.IPv6Loopback() {
		t.Fatalf("local-address %s", got)
	}
	// tcp.wit (upstream): start-connect to an IPv4-mapped IPv6 address is
	// invalid-argument, allowed address or not, and no denial to report.
	mapped := netip.AddrPortFrom(netip.AddrFrom16(srv4.addr.Addr().As16()), srv4.addr.Port())
	if _, _, _, code := x.connect(mapped); code != int(ecInvalidArgument) {
		t.Fatalf("connect to mapped %s (127.0.0.1 is allowed): code %d, want invalid-argument", mapped, code)
	}
	other := netip.AddrPortFrom(netip.AddrFrom16(netip.MustParseAddr("127.0.0.1").As16()), srv4.addr.Port()+1)
	if _, _, _, code := x.connect(other); code != int(ecInvalidArgument) {
		t.Fatalf("mapped address on a port not allowed: code %d, want invalid-argument", code)
	}
	// The same address unmapped, on a port not allowed: access-denied.
	if _, _, _, code := x.connect(netip.AddrPortFrom(srv4.addr.Addr(), srv4.addr.Port()+1)); code != int(ecAccessDenied) {
		t.Fatalf("127.0.0.1 on a port not allowed: code %d", code)
	}
	// Family mismatch: an IPv4 socket to an IPv6 address.
	x.clearRet()
	x.call(tcpCreateName, witnames.CreateTCPSocket, 0, retArea)
	s4 := x.u32(retArea + 4)
	flat := cabi.Flatten(srv6.addr, 0, 0)
	args := append([]uint64{uint64(s4), uint64(x.call1(instNetName, witnames.InstanceNetwork))}, flat[:]...)
	x.clearRet()
	x.call(tcpName, witnames.TCPSocketStartConnect, append(args, retArea)...)
	if r := x.ret(2); r[0] != 1 || r[1] != byte(ecInvalidArgument) {
		t.Fatalf("ipv4 socket to ipv6 address: %v", r)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(denied) != 1 || denied[0].Addr.Port() != srv4.addr.Port()+1 {
		t.Fatalf("denied events: %v", denied)
	}
}

func TestHandshakeLimitAndLogging(t *testing.T) {
	p := pki.New(t)
	silent, _ := silentServer(t)
	srv := startEcho(t, &tls.Config{Certificates: []tls.Certificate{p.Server().TLS}}, "tcp", "127.0.0.1:0")
	ctx, r := newRuntime(t)
	var logs bytes.Buffer
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&logs, &logMu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	x := newTG(t, ctx, New(r, WithProvider(stdtls.Provider{})), "0.2.6", WithLogger(logger), WithPolicy(&Policy{
		Allow: []string{"127.0.0.1:*"}, RootCAs: p.Roots, Limits: Limits{Handshakes: 1},
	}))
	// One handshake hangs against the silent server...
	_, in, out, _ := x.connect(silent.Addr().(*net.TCPAddr).AddrPort())
	x.put(argArea, []byte("localhost"))
	hs := x.call1(tlsName, witnames.NewClientHandshake, argArea, 9, uint64(in), uint64(out))
	fut := x.call1(tlsName, witnames.ClientHandshakeFinish, uint64(hs))
	// ...so the next one is refused with a policy error.
	_, in2, out2, _ := x.connect(srv.addr)
	_, _, _, errStr := x.handshake("localhost", in2, out2)
	if !strings.HasPrefix(errStr, "tls: policy denied") || !strings.Contains(errStr, "too many handshakes") {
		t.Fatalf("second handshake: %q", errStr)
	}
	// get on the pending one never blocks: none.
	x.clearRet()
	x.call(tlsName, witnames.FutureClientStreamsGet, uint64(fut), retArea)
	if r := x.ret(24); r[0] != 0 {
		t.Fatalf("get while pending: %v", r)
	}
	// Dropping the pending future cancels it.
	x.drop(tlsName, "future-client-streams", fut)

	x.wantTrap([]string{"handle 0"}, ioPollName, witnames.PollableReady, 0)
	logMu.Lock()
	out3 := logs.String()
	logMu.Unlock()
	if !strings.Contains(out3, "guest trapped") || !strings.Contains(out3, "handle 0 is never valid") {
		t.Fatalf("trap not logged:\n%s", out3)
	}
	for _, want := range []string{`msg="tcp connect" guest=guest-1 dest=` + srv.addr.String(),
		`level=WARN msg="tls handshake failed" guest=guest-1 dest=` + srv.addr.String() + ` server=localhost backend=stdtls kind="policy denied"`} {
		if !strings.Contains(out3, want) {
			t.Fatalf("connections not logged (%s):\n%s", want, out3)
		}
	}
}

type lockedWriter struct {
	b  *bytes.Buffer
	mu *sync.Mutex
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// A provider that panics, returns nothing, or ignores its context fails the
// handshake; the host neither crashes nor hangs.
func TestMisbehavingProviders(t *testing.T) {
	silent, _ := silentServer(t)
	ctx, r := newRuntime(t)
	h := New(r)
	cases := []struct {
		name string
		fn   func(context.Context, net.Conn, *api.Config) (api.Conn, error)
		want string
	}{
		{"panics", func(context.Context, net.Conn, *api.Config) (api.Conn, error) { panic("boom") }, "provider panicked: boom"},
		{"returns nothing", func(context.Context, net.Conn, *api.Config) (api.Conn, error) { return nil, nil }, "no connection and no error"},
		{"ignores its context", func(_ context.Context, c net.Conn, _ *api.Config) (api.Conn, error) {
			_, err := c.Read(make([]byte, 1)) // until the host closes the transport
			return nil, err
		}, "tls: handshake timeout"},
	}
	for _, tc := range cases {
		// On a worker, and inline in the guest's call for a provider that
		// (wrongly, here) declares it honours its context.
		for _, inline := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/inline=%t", tc.name, inline), func(t *testing.T) {
				var p api.Provider = api.ProviderFunc("bad", tc.fn)
				if inline {
					p = struct {
						api.Provider
						honoring
					}{p, honoring{}}
				}
				x := newTG(t, ctx, h, "0.2.6", WithProvider(p),
					WithPolicy(&Policy{Allow: []string{"127.0.0.1:*"}, HandshakeTimeout: 100 * time.Millisecond}))
				sock, in, out, _ := x.connect(silent.Addr().(*net.TCPAddr).AddrPort())
				_, _, _, errStr := x.handshake("localhost", in, out)
				if !strings.Contains(errStr, tc.want) || !strings.Contains(errStr, "[bad]") {
					t.Fatalf("io-error %q, want %q from backend bad", errStr, tc.want)
				}
				x.drop(tcpName, "tcp-socket", sock)
			})
		}
	}
}

// Untouched TCP streams give the provider the socket itself; streams the
// guest already read from are adapted (and keep their buffered bytes).
func TestTransportPath(t *testing.T) {
	p := pki.New(t)
	srv := startEcho(t, &tls.Config{Certificates: []tls.Certificate{p.Server().TLS}}, "tcp", "127.0.0.1:0")
	ctx, r := newRuntime(t)
	var mu sync.Mutex
	var kinds []string
	prov := api.ProviderFunc("recording", func(ctx context.Context, c net.Conn, cfg *api.Config) (api.Conn, error) {
		mu.Lock()
		switch c.(type) {
		case *net.TCPConn:
			kinds = append(kinds, "direct")
		case *streamConn:
			kinds = append(kinds, "adapted")
		default:
			kinds = append(kinds, "other")
		}
		mu.Unlock()
		return stdtls.Provider{}.Client(ctx, c, cfg)
	})
	x := newTG(t, ctx, New(r, WithProvider(prov)), "0.2.6", WithPolicy(&Policy{Allow: []string{"127.0.0.1:*"}, RootCAs: p.Roots}))
	for _, touch := range []bool{false, true} {
		_, in, out, _ := x.connect(srv.addr)
		if touch {
			pl := x.call1(ioStreamsName, witnames.OutputStreamSubscribe, uint64(out))
			x.drop(ioPollName, "pollable", pl)
			x.clearRet()
			x.call(ioStreamsName, witnames.InputStreamRead, uint64(in), 1, retArea)
		}
		if _, _, _, errStr := x.handshake("localhost", in, out); errStr != "" {
			t.Fatal(errStr)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(kinds, ",") != "direct,adapted" {
		t.Fatalf("transports: %v", kinds)
	}
}

func TestConnectRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr).AddrPort()
	ln.Close() // nothing listens there now
	ctx, r := newRuntime(t)
	var mu sync.Mutex
	var evs []ConnEvent
	x := newTG(t, ctx, New(r), "0.2.6", WithPolicy(&Policy{Allow: []string{"127.0.0.1:*"}}),
		WithObserver(func(e ConnEvent) { mu.Lock(); evs = append(evs, e); mu.Unlock() }))
	sock, _, _, code := x.connect(addr)
	if code != int(ecConnectionRefused) {
		t.Fatalf("code %d, want connection-refused", code)
	}
	// The socket is spent: another finish-connect is not in progress.
	x.clearRet()
	x.call(tcpName, witnames.TCPSocketFinishConnect, uint64(sock), retArea)
	if r := x.ret(12); r[0] != 1 || r[4] != byte(ecNotInProgress) {
		t.Fatalf("second finish-connect: %v", r)
	}
	x.drop(tcpName, "tcp-socket", sock)
	mu.Lock()
	defer mu.Unlock()
	if len(evs) != 1 || evs[0].Phase != PhaseConnect || evs[0].Err == nil || evs[0].Addr != addr {
		t.Fatalf("events %v", evs)
	}
}

// panickyConn is an established connection whose Read panics.
type panickyConn struct{ api.Conn }

func (panickyConn) Read([]byte) (int, error) { panic("read exploded") }

func TestPanickingConnRead(t *testing.T) {
	p := pki.New(t)
	srv := startEcho(t, &tls.Config{Certificates: []tls.Certificate{p.Server().TLS}}, "tcp", "127.0.0.1:0")
	ctx, r := newRuntime(t)
	prov := api.ProviderFunc("panicky", func(ctx context.Context, c net.Conn, cfg *api.Config) (api.Conn, error) {
		conn, err := stdtls.Provider{}.Client(ctx, c, cfg)
		if err != nil {
			return nil, err
		}
		return panickyConn{conn}, nil
	})
	x := newTG(t, ctx, New(r, WithProvider(prov)), "0.2.6", WithPolicy(&Policy{Allow: []string{"127.0.0.1:*"}, RootCAs: p.Roots}))
	_, in, out, _ := x.connect(srv.addr)
	_, tin, _, errStr := x.handshake("localhost", in, out)
	if errStr != "" {
		t.Fatal(errStr)
	}
	x.clearRet()
	x.call(ioStreamsName, witnames.InputStreamBlockingRead, uint64(tin), 10, retArea)
	r0 := x.ret(12)
	if r0[0] != 1 || r0[4] != 0 {
		t.Fatalf("read from a panicking conn: %v, want last-operation-failed", r0)
	}
	if s := x.debugString(cabi.GetU32(r0, 8)); !strings.Contains(s, "read exploded") {
		t.Fatalf("error %q", s)
	}
}

// A provider that ignores its context and its closed transport is abandoned:
// the guest gets a handshake timeout soon after the deadline, and closing
// the guest does not wait for the provider.
func TestProviderThatNeverReturns(t *testing.T) {
	silent, _ := silentServer(t)
	ctx, r := newRuntime(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	stuck := api.ProviderFunc("stuck", func(context.Context, net.Conn, *api.Config) (api.Conn, error) {
		<-release
		return nil, errors.New("released")
	})
	x := newTG(t, ctx, New(r), "0.2.6", WithProvider(stuck),
		WithPolicy(&Policy{Allow: []string{"127.0.0.1:*"}, HandshakeTimeout: 200 * time.Millisecond}))
	_, in, out, _ := x.connect(silent.Addr().(*net.TCPAddr).AddrPort())
	start := time.Now()
	_, _, _, errStr := x.handshake("localhost", in, out)
	took := time.Since(start)
	if !strings.Contains(errStr, "tls: handshake timeout") || !strings.Contains(errStr, "did not return") {
		t.Fatalf("io-error %q, want a handshake timeout naming the provider that did not return", errStr)
	}
	// 200 ms deadline + 50 ms backstop + abandonGrace, with slack for a loaded machine.
	if limit := 250*time.Millisecond + abandonGrace + 2*time.Second; took > limit {
		t.Errorf("handshake failed after %v, want under %v", took, limit)
	}
	closed := make(chan struct{})
	go func() { x.g.Close(ctx); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Guest.Close waited for a provider that never returns")
	}
}
