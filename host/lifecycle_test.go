package host

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/conformance/pki"
	"github.com/wasitls/wasitls/internal/cabi"
	"github.com/wasitls/wasitls/internal/testkit/wasmenc"
	"github.com/wasitls/wasitls/internal/witnames"
)

// silentServer accepts TCP connections and reads until EOF without ever
// answering; it reports each connection's end.
func silentServer(t *testing.T) (net.Listener, chan error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ended := make(chan error, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				_, err := io.Copy(io.Discard, c)
				c.Close()
				ended <- err
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln, ended
}

// Closing a guest closes its sockets, TLS connections and goroutines;
// so does closing the runtime with the guest still open (wazero calls the
// close notifier holding its store's lock: this used to deadlock).
func TestGuestCloseReleasesEverything(t *testing.T) {
	for _, how := range []string{"Guest.Close", "Runtime.Close"} {
		t.Run(how, func(t *testing.T) { testCloseReleasesEverything(t, how == "Runtime.Close") })
	}
}

func testCloseReleasesEverything(t *testing.T, viaRuntime bool) {
	fds := countFDs(t)
	p := pki.New(t)
	srv := startEcho(t, &tls.Config{Certificates: []tls.Certificate{p.Server().TLS}}, "tcp", "127.0.0.1:0")
	silent, ended := silentServer(t)
	ctx, r := newRuntime(t)
	h := New(r, WithProvider(stdtls.Provider{}))
	x := newTG(t, ctx, h, "0.2.6", WithPolicy(&Policy{Allow: []string{"127.0.0.1:*"}, RootCAs: p.Roots}))

	// An established TLS connection with a pending read...
	_, _, tin, _ := x.openTLS(srv.addr)
	x.call1(ioStreamsName, witnames.InputStreamSubscribe, uint64(tin)) // starts the reader
	// ...a handshake in flight against a server that never answers...
	_, in2, out2, _ := x.connect(silent.Addr().(*net.TCPAddr).AddrPort())
	x.put(argArea, []byte("localhost"))
	hs := x.call1(tlsName, witnames.NewClientHandshake, argArea, 9, uint64(in2), uint64(out2))
	x.call1(tlsName, witnames.ClientHandshakeFinish, uint64(hs))
	// ...and a plain socket with buffered, unflushed output.
	_, _, out3, _ := x.connect(silent.Addr().(*net.TCPAddr).AddrPort())
	x.put(argArea, []byte("unflushed"))
	x.call(ioStreamsName, witnames.OutputStreamCheckWrite, uint64(out3), retArea)
	x.call(ioStreamsName, witnames.OutputStreamWrite, uint64(out3), argArea, 9, retArea)

	if during := countFDs(t); during < fds+3 {
		t.Fatalf("fds: %d before, %d with connections open", fds, during)
	}
	closed := make(chan error, 1)
	go func() {
		if viaRuntime {
			closed <- r.Close(ctx)
		} else {
			closed <- x.g.Close(ctx)
		}
	}()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("close did not return")
	}
	for i := 0; i < 2; i++ {
		select {
		case <-ended:
		case <-time.After(10 * time.Second):
			t.Fatal("the silent server's connections stayed open after the guest closed")
		}
	}
	if x.g.OpenHandles() != 0 || h.Guests() != 0 {
		t.Fatalf("%d handles, %d guests after close", x.g.OpenHandles(), h.Guests())
	}
	srv.conns.Wait()                     // the server's side ends when it sees ours close
	if got := countFDs(t); got > fds+2 { // the two listeners
		t.Errorf("fds: %d before, %d after close", fds, got)
	}
	// Calls after close fail instead of hanging.
	if _, err := x.callErr(monoName, "now"); err == nil {
		t.Error("a closed guest still answers")
	}
}

// A blocking call returns when the caller's context ends, and the guest is
// closed (wazero's WithCloseOnContextDone).
func TestBlockingCallCanceled(t *testing.T) {
	silent, _ := silentServer(t)
	ctx, r := newRuntime(t)
	h := New(r)
	x := newTG(t, ctx, h, "0.2.6", WithPolicy(&Policy{Allow: []string{"127.0.0.1:*"}}))
	_, in, _, code := x.connect(silent.Addr().(*net.TCPAddr).AddrPort())
	if code >= 0 {
		t.Fatal(code)
	}
	cctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		_, err := x.fn(ioStreamsName, witnames.InputStreamBlockingRead).Call(cctx, uint64(in), 100, retArea)
		errc <- err
	}()
	// The silent server never sends: the read blocks until the cancel,
	// whether it comes before or during the host call.
	cancel()
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("canceled blocking-read returned no error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("blocking-read did not return after cancel")
	}
	if !x.mod.IsClosed() {
		t.Fatal("the module is open after its context ended in a blocking call")
	}
	if x.g.OpenHandles() != 0 || h.Guests() != 0 {
		t.Fatalf("%d handles after cancel", x.g.OpenHandles())
	}
}

func TestMutualTLSAndTimeout(t *testing.T) {
	p := pki.New(t)
	client := p.Client("guest-7")
	srv := startEcho(t, &tls.Config{Certificates: []tls.Certificate{p.Server().TLS}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: p.Roots}, "tcp", "127.0.0.1:0")
	silent, _ := silentServer(t)
	ctx, r := newRuntime(t)
	h := New(r, WithProvider(stdtls.Provider{}))
	x := newTG(t, ctx, h, "0.2.6", WithPolicy(&Policy{
		Allow:            []string{"127.0.0.1:*"},
		RootCAs:          p.Roots,
		Identities:       []Identity{{Dest: "localhost:" + strconv.Itoa(int(srv.addr.Port())), Certificate: &client.TLS}},
		HandshakeTimeout: 300 * time.Millisecond,
		NameLookup:       true,
	}))
	// A name identity applies to the addresses the guest looked it up for.
	if _, code := x.resolve("localhost"); code != -1 {
		t.Fatalf("lookup of localhost: code %d", code)
	}
	_, _, tin, tout := x.openTLS(srv.addr)
	x.writeAll(tout, []byte("hi\n"))
	x.readN(tin, 3)
	srv.mu.Lock()
	names := strings.Join(srv.peerNames, ",")
	srv.mu.Unlock()
	if names != "guest-7" {
		t.Fatalf("server saw client certificates %q", names)
	}

	start := time.Now()
	_, in2, out2, _ := x.connect(silent.Addr().(*net.TCPAddr).AddrPort())
	_, _, _, errStr := x.handshake("localhost", in2, out2)
	if !strings.HasPrefix(errStr, "tls: handshake timeout") {
		t.Fatalf("silent server: %q", errStr)
	}
	// The provider and the host's backstop both see the deadline; the
	// guest reads it once.
	if n := strings.Count(errStr, "handshake timeout"); n != 1 {
		t.Errorf("silent server: %q says handshake timeout %d times", errStr, n)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("timeout took %v", el)
	}
}

// Plain TCP streams: non-blocking reads, skip, write-zeroes, splice, poll
// over several pollables, shutdown, addresses.
func TestTCPStreams(t *testing.T) {
	srv := startEcho(t, nil, "tcp", "127.0.0.1:0")
	ctx, r := newRuntime(t)
	x := newTG(t, ctx, New(r), "0.2.6", WithPolicy(&Policy{Allow: []string{"127.0.0.1:*"}}))
	sock, in, out, code := x.connect(srv.addr)
	if code >= 0 {
		t.Fatal(code)
	}
	// Addresses.
	x.clearRet()
	x.call(tcpName, witnames.TCPSocketRemoteAddress, uint64(sock), retArea)
	if got := cabi.GetSockAddr(x.ret(36), cabi.SockAddrArea.OK); got != srv.addr {
		t.Fatalf("remote-address %s, want %s", got, srv.addr)
	}
	if x.call1(tcpName, witnames.TCPSocketAddressFamily, uint64(sock)) != 0 {
		t.Fatal("address family")
	}
	// A non-blocking read with nothing there returns an empty list.
	x.clearRet()
	x.call(ioStreamsName, witnames.InputStreamRead, uint64(in), 10, retArea)
	if r := x.ret(12); r[0] != 0 || cabi.GetU32(r, 8) != 0 {
		t.Fatalf("empty read: %v", r)
	}
	x.writeAll(out, []byte("0123456789"))
	x.clearRet()
	x.call(ioStreamsName, witnames.OutputStreamBlockingWriteZeroesAndFlush, uint64(out), 5, retArea)
	// Poll over a far timer and the input stream: the stream wins.
	pin := x.call1(ioStreamsName, witnames.InputStreamSubscribe, uint64(in))
	pt := x.call1(monoName, witnames.SubscribeDuration, uint64(time.Hour))
	x.put(argArea, []byte{byte(pt), 0, 0, 0, byte(pin), 0, 0, 0})
	x.clearRet()
	x.call(ioPollName, "poll", argArea, 2, retArea)
	lp, ln := x.u32(retArea), x.u32(retArea+4)
	if ln != 1 || x.u32(lp) != 1 {
		t.Fatalf("poll returned %d indexes, first %d", ln, x.u32(lp))
	}
	x.drop(ioPollName, "pollable", pin)
	x.drop(ioPollName, "pollable", pt)
	x.clearRet()
	x.call(ioStreamsName, witnames.InputStreamBlockingSkip, uint64(in), 4, retArea)
	if n := cabi.GetU64(x.ret(16), 8); n != 4 {
		t.Fatalf("skipped %d", n)
	}
	got := x.readN(in, 11)
	if string(got) != "456789\x00\x00\x00\x00\x00" {
		t.Fatalf("read %q", got)
	}
	// Splice the echo back into itself: write "abc", read it back through
	// splice into the output, and read it again.
	x.writeAll(out, []byte("abc"))
	x.clearRet()
	x.call(ioStreamsName, witnames.OutputStreamBlockingSplice, uint64(out), uint64(in), 3, retArea)
	if r := x.ret(16); r[0] != 0 || cabi.GetU64(r, 8) == 0 {
		t.Fatalf("splice: %v", r)
	}
	n := cabi.GetU64(x.ret(16), 8)
	if got := x.readN(in, int(n)); string(got) != "abc"[:n] {
		t.Fatalf("after splice %q", got)
	}
	// Shutdown send: the echo server sees EOF and closes; we read the end.
	x.clearRet()
	x.call(tcpName, witnames.TCPSocketShutdown, uint64(sock), 1, retArea)
	if r := x.ret(2); r[0] != 0 {
		t.Fatalf("shutdown: %v", r)
	}
	for {
		_, closed := x.readSome(in, 100)
		if closed {
			break
		}
	}
	// Write after shutdown is an error (closed), not a trap, once the FIN
	// is out (until then check-write grants 0).
	pl := x.call1(ioStreamsName, witnames.OutputStreamSubscribe, uint64(out))
	x.call(ioPollName, witnames.PollableBlock, uint64(pl))
	x.drop(ioPollName, "pollable", pl)
	x.clearRet()
	x.call(ioStreamsName, witnames.OutputStreamCheckWrite, uint64(out), retArea)
	if r := x.ret(16); r[0] != 1 {
		t.Fatalf("check-write after shutdown: %v", r)
	}
	// Options round trip.
	x.clearRet()
	x.call(tcpName, witnames.TCPSocketSetHopLimit, uint64(sock), 0, retArea)
	if r := x.ret(2); r[0] != 1 || r[1] != byte(ecInvalidArgument) {
		t.Fatalf("hop limit 0: %v", r)
	}
	x.call(tcpName, witnames.TCPSocketSetKeepAliveCount, uint64(sock), 3, retArea)
	x.clearRet()
	x.call(tcpName, witnames.TCPSocketKeepAliveCount, uint64(sock), retArea)
	if r := x.ret(8); r[0] != 0 || cabi.GetU32(r, 4) != 3 {
		t.Fatalf("keep-alive-count: %v", r)
	}
	// A connected socket cannot listen (tcp.wit: invalid-state).
	x.clearRet()
	x.call(tcpName, witnames.TCPSocketStartListen, uint64(sock), retArea)
	if r := x.ret(2); r[0] != 1 || r[1] != byte(ecInvalidState) {
		t.Fatalf("start-listen: %v", r)
	}
}

// Streams that were read before the handshake go through the adapter, and
// the bytes already buffered reach TLS.
func TestHandshakeOverAdaptedStreams(t *testing.T) {
	p := pki.New(t)
	srv := startEcho(t, &tls.Config{Certificates: []tls.Certificate{p.Server().TLS}}, "tcp", "127.0.0.1:0")
	ctx, r := newRuntime(t)
	x := newTG(t, ctx, New(r, WithProvider(stdtls.Provider{})), "0.2.6", WithPolicy(&Policy{Allow: []string{"127.0.0.1:*"}, RootCAs: p.Roots}))
	_, in, out, _ := x.connect(srv.addr)
	// Touch the input stream: its reader starts.
	x.clearRet()
	x.call(ioStreamsName, witnames.InputStreamRead, uint64(in), 1, retArea)
	conn, tin, tout, errStr := x.handshake("localhost", in, out)
	if errStr != "" {
		t.Fatal(errStr)
	}
	x.writeAll(tout, []byte("adapted\n"))
	if got := x.readN(tin, 8); string(got) != "adapted\n" {
		t.Fatalf("echo %q", got)
	}
	x.call(tlsName, witnames.ClientConnectionCloseOutput, uint64(conn))
	// check-write reports closed once close_notify went out.
	for {
		x.clearRet()
		x.call(ioStreamsName, witnames.OutputStreamCheckWrite, uint64(tout), retArea)
		r := x.ret(16)
		if r[0] == 1 {
			if r[8] != 1 {
				t.Fatalf("check-write after close-output: %v", r)
			}
			break
		}
		if cabi.GetU64(r, 8) != 0 {
			t.Fatalf("check-write granted bytes after close-output: %v", r)
		}
		pl := x.call1(ioStreamsName, witnames.OutputStreamSubscribe, uint64(tout))
		x.call(ioPollName, witnames.PollableBlock, uint64(pl))
		x.drop(ioPollName, "pollable", pl)
	}
	if _, closed := x.readSome(tin, 10); !closed {
		t.Fatal("want the end of the stream")
	}
}

// Bytes written (and flushed or not) before the guest drops its streams and
// socket still reach the peer, as with a socket closed after write.
func TestDropDeliversWrittenBytes(t *testing.T) {
	for _, unflushed := range []bool{false, true} {
		t.Run(fmt.Sprintf("unflushed=%v", unflushed), func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			got := make(chan int64, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					got <- -1
					return
				}
				n, _ := io.Copy(io.Discard, c)
				c.Close()
				got <- n
			}()
			ctx, r := newRuntime(t)
			x := newTG(t, ctx, New(r), "0.2.6", WithPolicy(&Policy{Allow: []string{"127.0.0.1:*"}}))
			sock, in, out, code := x.connect(ln.Addr().(*net.TCPAddr).AddrPort())
			if code >= 0 {
				t.Fatal(code)
			}
			const rounds = 8
			for i := 0; i < rounds; i++ {
				pl := x.call1(ioStreamsName, witnames.OutputStreamSubscribe, uint64(out))
				x.call(ioPollName, witnames.PollableBlock, uint64(pl))
				x.drop(ioPollName, "pollable", pl)
				x.clearRet()
				x.call(ioStreamsName, witnames.OutputStreamCheckWrite, uint64(out), retArea)
				if n := cabi.GetU64(x.ret(16), 8); n != sinkBudget {
					t.Fatalf("budget %d", n)
				}
				x.call(ioStreamsName, witnames.OutputStreamWrite, uint64(out), wasmenc.HeapStart, sinkBudget, retArea)
				if !unflushed || i < rounds-1 {
					// Non-blocking: the last flush is still in flight at the drop.
					x.call(ioStreamsName, witnames.OutputStreamFlush, uint64(out), retArea)
				}
			}
			x.drop(ioStreamsName, "output-stream", out)
			x.drop(ioStreamsName, "input-stream", in)
			x.drop(tcpName, "tcp-socket", sock)
			if n := <-got; n != rounds*sinkBudget {
				t.Fatalf("peer got %d bytes, want %d", n, rounds*sinkBudget)
			}
		})
	}
}

// Prepare's context may reach Runtime.Close (an embedder closing with the
// context it instantiated with): wazero calls the close notifier holding
// its store's lock, so the notifier must not close the host-module
// instances there (this deadlocked).
func TestRuntimeCloseWithPreparedContext(t *testing.T) {
	ctx, r := newRuntime(t)
	h := New(r)
	cm, err := r.CompileModule(ctx, wasmenc.Module(allImports("0.2.6")))
	if err != nil {
		t.Fatal(err)
	}
	g, gctx, cfg, err := h.Prepare(ctx, cm, NewModuleConfig().WithName("").WithRandSource(rand.Reader))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.InstantiateModule(gctx, cm, cfg); err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() { closed <- r.Close(gctx) }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Runtime.Close with Prepare's context did not return")
	}
	_ = g.Close(ctx)
	if h.Guests() != 0 {
		t.Fatalf("%d guests after Runtime.Close", h.Guests())
	}
}
