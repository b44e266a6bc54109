package host

import (
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/conformance/pki"
	"github.com/wasitls/wasitls/internal/cabi"
	"github.com/wasitls/wasitls/internal/witnames"
)

// The tests in this file drive the host as a guest that follows streams.wit
// to the letter and nothing else (check-write, write, no flush; the way
// wasi-libc's send() and Rust's TcpStream write), so that the host and our
// own guest bindings cannot share a mistake. Each one names the WIT sentence
// it checks.

// streams.wit, write: "Perform a write" — the bytes go out without a
// flush, over TCP and over TLS, small and past what the host buffers.
func TestWITWriteIsSentWithoutFlush(t *testing.T) {
	p := pki.New(t)
	srvCfg := &tls.Config{Certificates: []tls.Certificate{p.Server().TLS}}
	const bulk = 1 << 20
	// Servers first: their cleanups wait for the guest's connections,
	// which the guest's cleanup (later, so run earlier) closes.
	echo := startEcho(t, nil, "tcp", "127.0.0.1:0")
	tlsEcho := startEcho(t, srvCfg, "tcp", "127.0.0.1:0")
	addr, got := countServer(t, nil, bulk)
	tlsAddr, tlsGot := countServer(t, srvCfg, bulk)
	ctx, r := newRuntime(t)
	h := New(r, WithProvider(stdtls.Provider{}))
	x := newTG(t, ctx, h, "0.2.6", WithPolicy(&Policy{Allow: []string{"127.0.0.1:*"}, RootCAs: p.Roots}))

	// A request and its answer: an echo, never flushed.
	_, in, out, code := x.connect(echo.addr)
	if code >= 0 {
		t.Fatalf("connect: %d", code)
	}
	x.sendAll(out, []byte("GET / HTTP/1.0\r\n\r\n"))
	if got := string(x.readWithin(in, 18)); got != "GET / HTTP/1.0\r\n\r\n" {
		t.Fatalf("echo: %q", got)
	}
	_, _, tin, tout := x.openTLS(tlsEcho.addr)
	x.sendAll(tout, []byte("over tls\n"))
	if got := string(x.readWithin(tin, 9)); got != "over tls\n" {
		t.Fatalf("TLS echo: %q", got)
	}

	// More than the host buffers (check-write must keep granting).
	data := make([]byte, bulk)
	for i := range data {
		data[i] = byte(i)
	}
	_, _, out2, code := x.connect(addr)
	if code >= 0 {
		t.Fatalf("connect: %d", code)
	}
	x.sendAll(out2, data)
	waitCount(t, got, bulk)
	_, _, _, tout2 := x.openTLS(tlsAddr)
	x.sendAll(tout2, data)
	waitCount(t, tlsGot, bulk)
}

// streams.wit, flush: "Upon calling this function, the output-stream will
// not accept any writes (check-write will return ok(0)) until the flush
// has completed. The subscribe pollable will become ready when the flush
// has completed and the stream can accept more writes."
func TestWITCheckWriteIsZeroUntilFlushCompletes(t *testing.T) {
	g := newGateServer(t, nil)
	ctx, r := newRuntime(t)
	x := newTG(t, ctx, New(r), "0.2.6", WithPolicy(&Policy{Allow: []string{"127.0.0.1:*"}}))
	_, out := x.connectSmall(g.addr)
	x.stall(out, g)
	if n, res := x.checkWriteRaw(out); res != resOK || n == 0 {
		t.Fatalf("check-write before the flush = %d, %v; want a permit", n, res)
	}
	if res := x.unitCall(witnames.OutputStreamFlush, out); res != resOK {
		t.Fatalf("flush: %v", res)
	}
	p := x.call1(ioStreamsName, witnames.OutputStreamSubscribe, uint64(out))
	defer x.drop(ioPollName, "pollable", p)
	for range 3 {
		if n, res := x.checkWriteRaw(out); res != resOK || n != 0 {
			t.Fatalf("check-write while the flush is pending = %d, %v; want ok(0)", n, res)
		}
		if x.readyWithin(p, 50*time.Millisecond) {
			t.Fatal("the pollable is ready while the flush is pending")
		}
	}
	close(g.all)
	if !x.readyWithin(p, 10*time.Second) {
		t.Fatal("the pollable never became ready once the flush could complete")
	}
	if n, res := x.checkWriteRaw(out); res != resOK || n == 0 {
		t.Fatalf("check-write after the flush = %d, %v; want a permit", n, res)
	}
}

// streams.wit, blocking-splice: "blocks until the output-stream is ready
// for writing, and the input-stream is ready for reading, before
// performing the splice" — and flushes nothing: it returns while bytes
// written before it are still unsent.
func TestWITBlockingSpliceDoesNotFlush(t *testing.T) {
	g := newGateServer(t, nil)
	echo := startEcho(t, nil, "tcp", "127.0.0.1:0")
	ctx, r := newRuntime(t)
	x := newTG(t, ctx, New(r), "0.2.6", WithPolicy(&Policy{Allow: []string{"127.0.0.1:*"}}))
	_, out := x.connectSmall(g.addr)
	_, src, srcOut, code := x.connect(echo.addr)
	if code >= 0 {
		t.Fatalf("connect: %d", code)
	}
	x.writeAll(srcOut, []byte("spliced"))
	x.stall(out, g)
	done := make(chan uint64, 1)
	go func() {
		x.clearRet()
		_, err := x.fn(ioStreamsName, witnames.OutputStreamBlockingSplice).Call(x.ctx, uint64(out), uint64(src), 7, retArea)
		if err != nil {
			done <- 0
			return
		}
		done <- cabi.GetU64(x.ret(16), cabi.U64Area.OK)
	}()
	select {
	case n := <-done:
		if n != 7 {
			t.Fatalf("blocking-splice moved %d bytes, want 7", n)
		}
	case <-time.After(5 * time.Second):
		_ = x.g.Close(ctx) // ends the call
		<-done
		t.Fatal("blocking-splice waited for a flush")
	}
}

// streams.wit, stream-error::last-operation-failed: "After this, the
// stream will be closed. All future operations return
// stream-error::closed." Once, not again with a new error each call.
func TestWITLastOperationFailedOnce(t *testing.T) {
	addr := resetServer(t)
	ctx, r := newRuntime(t)
	x := newTG(t, ctx, New(r), "0.2.6", WithPolicy(&Policy{Allow: []string{"127.0.0.1:*"}}))
	_, in, out, code := x.connect(addr)
	if code >= 0 {
		t.Fatalf("connect: %d", code)
	}
	// Write until the reset shows.
	p := x.call1(ioStreamsName, witnames.OutputStreamSubscribe, uint64(out))
	var first streamResult
	deadline := time.Now().Add(10 * time.Second)
	for first == resOK {
		if time.Now().After(deadline) {
			t.Fatal("writes to a reset connection never failed")
		}
		n, res := x.checkWriteRaw(out)
		if res != resOK {
			first = res
			break
		}
		if n == 0 {
			x.readyWithin(p, 100*time.Millisecond)
			continue
		}
		x.clearRet()
		x.call(ioStreamsName, witnames.OutputStreamWriteZeroes, uint64(out), min(n, 1024), retArea)
		if first = x.result(cabi.UnitArea); first == resOK {
			first = x.unitCall(witnames.OutputStreamFlush, out)
		}
		time.Sleep(5 * time.Millisecond)
	}
	x.drop(ioPollName, "pollable", p)
	if first != resFailed {
		t.Fatalf("first failure: %v, want last-operation-failed", first)
	}
	for i := range 3 {
		if _, res := x.checkWriteRaw(out); res != resClosed {
			t.Fatalf("check-write %d after last-operation-failed: %v, want closed", i, res)
		}
		if res := x.unitCall(witnames.OutputStreamFlush, out); res != resClosed {
			t.Fatalf("flush %d after last-operation-failed: %v, want closed", i, res)
		}
		if res := x.unitCall(witnames.OutputStreamBlockingFlush, out); res != resClosed {
			t.Fatalf("blocking-flush %d after last-operation-failed: %v, want closed", i, res)
		}
	}
	// The input side of the reset connection: at most one failure, then
	// closed for good.
	var fails int
	for i := range 4 {
		x.clearRet()
		x.call(ioStreamsName, witnames.InputStreamBlockingRead, uint64(in), 16, retArea)
		switch res := x.result(cabi.ReadArea); res {
		case resFailed:
			fails++
		case resOK:
			t.Fatalf("read %d of a reset connection succeeded", i)
		}
	}
	if fails > 1 {
		t.Fatalf("the input stream reported last-operation-failed %d times", fails)
	}
}

// streams.wit, read: "When the caller gives a len of 0 ... If the stream
// is still open, this call should succeed and return an empty list, or
// otherwise fail with closed." skip behaves as read.
func TestWITReadZeroOnClosedStream(t *testing.T) {
	addr := serveOne(t, nil, func(c net.Conn) { _, _ = c.Write([]byte("bye")) })
	ctx, r := newRuntime(t)
	x := newTG(t, ctx, New(r), "0.2.6", WithPolicy(&Policy{Allow: []string{"127.0.0.1:*"}}))
	_, in, _, code := x.connect(addr)
	if code >= 0 {
		t.Fatalf("connect: %d", code)
	}
	x.clearRet()
	x.call(ioStreamsName, witnames.InputStreamRead, uint64(in), 0, retArea)
	if res := x.result(cabi.ReadArea); res != resOK {
		t.Fatalf("read(0) of an open stream: %v, want ok", res)
	}
	if got := string(x.readN(in, 3)); got != "bye" {
		t.Fatalf("read %q", got)
	}
	if _, closed := x.readSome(in, 16); !closed {
		t.Fatal("the stream did not end")
	}
	for _, f := range []string{"read", "skip", "blocking-read", "blocking-skip"} {
		x.clearRet()
		x.call(ioStreamsName, "[method]input-stream."+f, uint64(in), 0, retArea)
		a := cabi.ReadArea
		if f == "skip" || f == "blocking-skip" {
			a = cabi.U64Area
		}
		if res := x.result(a); res != resClosed {
			t.Errorf("%s(0) of a closed stream: %v, want closed", f, res)
		}
	}
}

// streams.wit, write: "Precondition: check-write gave permit of Ok(n) and
// contents has a length of less than or equal to n. Otherwise, this
// function will trap." — and "returns Err(closed) without writing if the
// stream has closed since the last call to check-write provided a permit":
// a 0-byte write while close-output is pending is no trap.
func TestWITWritePermit(t *testing.T) {
	p := pki.New(t)
	srvCfg := &tls.Config{Certificates: []tls.Certificate{p.Server().TLS}}
	echo := startEcho(t, nil, "tcp", "127.0.0.1:0")
	g := newGateServer(t, srvCfg)
	ctx, r := newRuntime(t)
	h := New(r, WithProvider(stdtls.Provider{}))
	pol := &Policy{Allow: []string{"127.0.0.1:*"}, RootCAs: p.Roots}
	x := newTG(t, ctx, h, "0.2.6", WithPolicy(pol))
	_, _, out, code := x.connect(echo.addr)
	if code >= 0 {
		t.Fatalf("connect: %d", code)
	}
	if _, err := x.writeRaw(out, []byte("x")); !isTrapErr(err) {
		t.Fatalf("write without check-write: %v, want a trap", err)
	}
	x = newTG(t, ctx, h, "0.2.6", WithPolicy(pol))
	_, _, out, _ = x.connect(echo.addr)
	n, _ := x.checkWriteRaw(out)
	if n < 2 {
		t.Fatalf("check-write = %d", n)
	}
	// Two writes within one permit are fine.
	if res, err := x.writeRaw(out, make([]byte, n-1)); err != nil || res != resOK {
		t.Fatalf("write within the permit: %v %v", res, err)
	}
	if res, err := x.writeRaw(out, []byte("y")); err != nil || res != resOK {
		t.Fatalf("write of the permit's last byte: %v %v", res, err)
	}
	if _, err := x.writeRaw(out, []byte("z")); !isTrapErr(err) {
		t.Fatalf("write past the permit: %v, want a trap", err)
	}
	// After flush, the permit is gone until check-write gives a new one.
	x = newTG(t, ctx, h, "0.2.6", WithPolicy(pol))
	_, _, out, _ = x.connect(echo.addr)
	x.checkWriteRaw(out)
	if res := x.unitCall(witnames.OutputStreamFlush, out); res != resOK {
		t.Fatalf("flush: %v", res)
	}
	if _, err := x.writeRaw(out, []byte("w")); !isTrapErr(err) {
		t.Fatalf("write after flush without a new permit: %v, want a trap", err)
	}

	// close-output pending (the peer reads nothing): a 0-byte write is no
	// trap, and reports closed.
	x = newTG(t, ctx, h, "0.2.6", WithPolicy(pol))
	in, out := x.connectSmall(g.addr)
	conn, _, tout, errStr := x.handshake("localhost", in, out)
	if errStr != "" {
		t.Fatal(errStr)
	}
	x.fill(tout, true)
	x.call(tlsName, witnames.ClientConnectionCloseOutput, uint64(conn))
	if n, res := x.checkWriteRaw(tout); res != resOK || n != 0 {
		t.Fatalf("check-write with close-output pending = %d, %v; want ok(0)", n, res)
	}
	res, err := x.writeRaw(tout, nil)
	if err != nil {
		t.Fatalf("0-byte write with close-output pending trapped: %v", err)
	}
	if res != resClosed {
		t.Fatalf("0-byte write with close-output pending: %v, want closed", res)
	}
	close(g.all)
}

// wasi:tls: the plaintext streams of a connection moved into an inner
// client-handshake (TLS in TLS) keep working after the outer
// client-connection handle is dropped: the handshake owns them.
func TestWITTLSInTLSOuterHandleDropped(t *testing.T) {
	p := pki.New(t)
	ctx, r := newRuntime(t)
	h := New(r, WithProvider(stdtls.Provider{}))
	x := newTG(t, ctx, h, "0.2.6", WithPolicy(&Policy{Allow: []string{"127.0.0.1:*"}, RootCAs: p.Roots}))
	addr := tlsInTLSOneLine(t, &tls.Config{Certificates: []tls.Certificate{p.Server().TLS}})
	_, conn, tin, tout := x.openTLS(addr)
	x.put(argArea, []byte("localhost"))
	hs := x.call1(tlsName, witnames.NewClientHandshake, argArea, 9, uint64(tin), uint64(tout))
	x.drop(tlsName, "client-connection", conn)
	fut := x.call1(tlsName, witnames.ClientHandshakeFinish, uint64(hs))
	pl := x.call1(tlsName, witnames.FutureClientStreamsSubscribe, uint64(fut))
	x.call(ioPollName, witnames.PollableBlock, uint64(pl))
	x.drop(ioPollName, "pollable", pl)
	a := cabi.FutureGet
	x.clearRet()
	x.call(tlsName, witnames.FutureClientStreamsGet, uint64(fut), retArea)
	res := x.ret(a.Size)
	if res[a.OptionTag] != 1 || res[a.OuterTag] != 0 {
		t.Fatalf("get: %v", res)
	}
	if res[a.InnerTag] != 0 {
		t.Fatalf("inner handshake failed after the outer handle was dropped: %s", x.debugString(cabi.GetU32(res, a.Error)))
	}
	iin, iout := cabi.GetU32(res, a.Input), cabi.GetU32(res, a.Output)
	x.sendAll(iout, []byte("inner\n"))
	if got := string(x.readWithin(iin, 6)); got != "inner\n" {
		t.Fatalf("inner echo: %q", got)
	}
}
