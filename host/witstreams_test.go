package host

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/conformance/pki"
	"github.com/wasitls/wasitls/internal/cabi"
	"github.com/wasitls/wasitls/internal/testkit/wasmenc"
	"github.com/wasitls/wasitls/internal/witnames"
)

// The tests in this file drive the host as a guest that follows streams.wit
// to the letter and nothing else (check-write, write, no flush; the way
// wasi-libc's send() and Rust's TcpStream write), so that the host and our
// own guest bindings cannot share a mistake. Each one names the WIT sentence
// it checks.

// streamResult is a stream call's outcome: ok, closed, or
// last-operation-failed (with the io-error handle, dropped by the helper).
type streamResult int

const (
	resOK streamResult = iota
	resClosed
	resFailed
)

func (r streamResult) String() string { return [...]string{"ok", "closed", "last-operation-failed"}[r] }

// result decodes the result<T, stream-error> at retArea, dropping an error.
func (x *tg) result(a cabi.StreamArea) streamResult {
	x.t.Helper()
	r := x.ret(a.Size)
	switch {
	case r[0] == 0:
		return resOK
	case r[a.ErrTag] == 1:
		return resClosed
	}
	x.drop(ioErrorName, "error", cabi.GetU32(r, a.ErrHandle))
	return resFailed
}

// checkWriteRaw calls check-write: the permit, or the error.
func (x *tg) checkWriteRaw(out uint32) (uint64, streamResult) {
	x.t.Helper()
	x.clearRet()
	x.call(ioStreamsName, witnames.OutputStreamCheckWrite, uint64(out), retArea)
	if res := x.result(cabi.U64Area); res != resOK {
		return 0, res
	}
	return cabi.GetU64(x.ret(16), cabi.U64Area.OK), resOK
}

// writeRaw writes data (placed at wasmenc.HeapStart) with write.
func (x *tg) writeRaw(out uint32, data []byte) (streamResult, error) {
	x.t.Helper()
	x.put(wasmenc.HeapStart, data)
	x.clearRet()
	if _, err := x.callErr(ioStreamsName, witnames.OutputStreamWrite, uint64(out), wasmenc.HeapStart, uint64(len(data)), retArea); err != nil {
		return 0, err
	}
	return x.result(cabi.UnitArea), nil
}

// unitCall calls a (self, retptr) -> result<_, stream-error> function.
func (x *tg) unitCall(field string, out uint32) streamResult {
	x.t.Helper()
	x.clearRet()
	x.call(ioStreamsName, field, uint64(out), retArea)
	return x.result(cabi.UnitArea)
}

// readyWithin reports whether pollable p is ready within d (polled, so the
// guest never blocks in the host).
func (x *tg) readyWithin(p uint32, d time.Duration) bool {
	x.t.Helper()
	end := time.Now().Add(d)
	for {
		if x.call1(ioPollName, witnames.PollableReady, uint64(p)) == 1 {
			return true
		}
		if time.Now().After(end) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// sendAll writes data with check-write, subscribe and write only, as
// wasi-libc's send() does: never a flush.
func (x *tg) sendAll(out uint32, data []byte) {
	x.t.Helper()
	p := x.call1(ioStreamsName, witnames.OutputStreamSubscribe, uint64(out))
	defer x.drop(ioPollName, "pollable", p)
	for len(data) > 0 {
		n, res := x.checkWriteRaw(out)
		if res != resOK {
			x.t.Fatalf("check-write: %v", res)
		}
		if n == 0 {
			if !x.readyWithin(p, 10*time.Second) {
				x.t.Fatalf("check-write stays 0 with %d bytes left to write, and its pollable is never ready", len(data))
			}
			continue
		}
		k := min(int(n), len(data), 32<<10)
		if res, err := x.writeRaw(out, data[:k]); err != nil || res != resOK {
			x.t.Fatalf("write of %d bytes: %v %v", k, res, err)
		}
		data = data[k:]
	}
}

// readWithin reads n bytes with read and the input pollable, failing the
// test if they do not come within 10s (a guest that never blocks in the
// host, so a missing answer is a failure, not a hang).
func (x *tg) readWithin(in uint32, n int) []byte {
	x.t.Helper()
	p := x.call1(ioStreamsName, witnames.InputStreamSubscribe, uint64(in))
	defer x.drop(ioPollName, "pollable", p)
	var got []byte
	end := time.Now().Add(10 * time.Second)
	for len(got) < n {
		x.clearRet()
		x.call(ioStreamsName, witnames.InputStreamRead, uint64(in), uint64(n-len(got)), retArea)
		if res := x.result(cabi.ReadArea); res != resOK {
			x.t.Fatalf("read after %d of %d bytes: %v", len(got), n, res)
		}
		r := x.ret(12)
		got = append(got, x.bytes(cabi.GetU32(r, 4), cabi.GetU32(r, 8))...)
		if len(got) < n && !x.readyWithin(p, time.Until(end)) {
			x.t.Fatalf("got %d of %d bytes: the rest never came (was the request sent?)", len(got), n)
		}
	}
	return got
}

// serveOne accepts one connection on loopback and hands it to serve (which
// need not close it); the test's cleanup waits for serve. lc may be nil.
func serveOne(t *testing.T, lc *net.ListenConfig, serve func(c net.Conn)) netip.AddrPort {
	t.Helper()
	if lc == nil {
		lc = &net.ListenConfig{}
	}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		serve(c)
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().(*net.TCPAddr).AddrPort()
}

// countServer accepts one connection and reports how many bytes it read
// once it has read want (or the connection ended).
func countServer(t *testing.T, cfg *tls.Config, want int64) (netip.AddrPort, chan int64) {
	t.Helper()
	got := make(chan int64, 1)
	addr := serveOne(t, nil, func(c net.Conn) {
		var r io.Reader = c
		if cfg != nil {
			r = tls.Server(c, cfg)
		}
		n, _ := io.CopyN(io.Discard, r, want)
		got <- n
	})
	return addr, got
}

func waitCount(t *testing.T, got chan int64, want int64) {
	t.Helper()
	select {
	case n := <-got:
		if n != want {
			t.Fatalf("the peer got %d bytes, want %d", n, want)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("the peer never got the %d bytes written without a flush", want)
	}
}

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

// gateServer accepts one connection and reads from it only when told:
// step reads n more bytes, all reads everything from then on.
type gateServer struct {
	addr netip.AddrPort
	step chan int
	all  chan struct{}
	read chan int64 // total, once the connection ends
}

func newGateServer(t *testing.T, cfg *tls.Config) *gateServer {
	t.Helper()
	// Small socket buffers on both sides (see connectSmall), so that the
	// kernel holds little and a few small reads move the writer on.
	lc := &net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) {
			_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 16<<10)
		})
	}}
	g := &gateServer{step: make(chan int), all: make(chan struct{}), read: make(chan int64, 1)}
	done := make(chan struct{})
	g.addr = serveOne(t, lc, func(c net.Conn) {
		var r io.Reader = c
		if cfg != nil {
			tc := tls.Server(c, cfg)
			if tc.Handshake() != nil {
				return
			}
			r = tc
		}
		var total int64
		for {
			select {
			case n := <-g.step:
				k, _ := io.CopyN(io.Discard, r, int64(n))
				total += k
			case <-g.all:
				k, _ := io.Copy(io.Discard, r)
				g.read <- total + k
				return
			case <-done:
				return
			}
		}
	})
	t.Cleanup(func() { close(done) }) // runs before serveOne's
	return g
}

// startConnect creates an IPv4 socket, lets setup configure it, and starts
// connecting it to dest.
func (x *tg) startConnect(dest netip.AddrPort, setup func(sock uint32)) uint32 {
	x.t.Helper()
	netw := x.call1(instNetName, witnames.InstanceNetwork)
	defer x.drop(networkName, "network", netw)
	x.clearRet()
	x.call(tcpCreateName, witnames.CreateTCPSocket, 0, retArea)
	sock := x.u32(retArea + 4)
	if setup != nil {
		setup(sock)
	}
	flat := cabi.Flatten(dest, 0, 0)
	args := append([]uint64{uint64(sock), uint64(netw)}, flat[:]...)
	x.clearRet()
	x.call(tcpName, witnames.TCPSocketStartConnect, append(args, retArea)...)
	if r := x.ret(2); r[0] != 0 {
		x.t.Fatalf("start-connect: error-code %d", r[1])
	}
	return sock
}

// finishConnect waits for the connect and returns the streams.
func (x *tg) finishConnect(sock uint32) (in, out uint32) {
	x.t.Helper()
	p := x.call1(tcpName, witnames.TCPSocketSubscribe, uint64(sock))
	x.call(ioPollName, witnames.PollableBlock, uint64(p))
	x.drop(ioPollName, "pollable", p)
	x.clearRet()
	x.call(tcpName, witnames.TCPSocketFinishConnect, uint64(sock), retArea)
	r := x.ret(12)
	if r[0] != 0 {
		x.t.Fatalf("finish-connect: error-code %d", r[4])
	}
	return cabi.GetU32(r, 4), cabi.GetU32(r, 8)
}

// connectSmall connects with a small send buffer (set-send-buffer-size),
// for stall.
func (x *tg) connectSmall(dest netip.AddrPort) (in, out uint32) {
	x.t.Helper()
	sock := x.startConnect(dest, func(sock uint32) {
		x.clearRet()
		x.call(tcpName, witnames.TCPSocketSetSendBufferSize, uint64(sock), 16<<10, retArea)
		if x.ret(1)[0] != 0 {
			x.t.Fatal("set-send-buffer-size failed")
		}
	})
	return x.finishConnect(sock)
}

// fill writes (check-write, write-zeroes, and a flush after each write
// if flush is set) until the peer, which reads nothing, holds the output
// stream up.
func (x *tg) fill(out uint32, flush bool) {
	x.t.Helper()
	p := x.call1(ioStreamsName, witnames.OutputStreamSubscribe, uint64(out))
	defer x.drop(ioPollName, "pollable", p)
	for {
		n, res := x.checkWriteRaw(out)
		if res != resOK {
			x.t.Fatalf("check-write: %v", res)
		}
		if n == 0 {
			if !x.readyWithin(p, 300*time.Millisecond) {
				return // held up
			}
			continue
		}
		x.clearRet()
		x.call(ioStreamsName, witnames.OutputStreamWriteZeroes, uint64(out), n, retArea)
		if res := x.result(cabi.UnitArea); res != resOK {
			x.t.Fatalf("write-zeroes: %v", res)
		}
		if flush {
			if res := x.unitCall(witnames.OutputStreamFlush, out); res != resOK {
				x.t.Fatalf("flush: %v", res)
			}
		}
	}
}

// stall fills the output stream (no flush), then lets the peer read a
// little at a time until check-write grants again: the output is then
// writable while bytes written earlier are still unsent.
func (x *tg) stall(out uint32, g *gateServer) {
	x.t.Helper()
	x.fill(out, false)
	p := x.call1(ioStreamsName, witnames.OutputStreamSubscribe, uint64(out))
	defer x.drop(ioPollName, "pollable", p)
	for range 64 {
		select {
		case g.step <- 16 << 10:
		case <-time.After(5 * time.Second):
			x.t.Fatal("the peer waits for bytes that were written but never sent")
		}
		if x.readyWithin(p, 200*time.Millisecond) {
			return
		}
	}
	x.t.Fatal("the output stream never became writable again while the peer read")
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

// resetServer accepts one connection and resets it (SO_LINGER 0) at the
// first byte or after 200ms.
func resetServer(t *testing.T) netip.AddrPort {
	t.Helper()
	return serveOne(t, nil, func(c net.Conn) {
		// After the connect has completed on the guest's side.
		_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		_, _ = c.Read(make([]byte, 1))
		_ = c.(*net.TCPConn).SetLinger(0)
	})
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

func isTrapErr(err error) bool { return err != nil && strings.Contains(err.Error(), "wasitls: trap") }

// tlsInTLSOneLine speaks TLS, and inside it TLS again, echoes one line
// and hangs up (the test need not close what it opened).
func tlsInTLSOneLine(t *testing.T, cfg *tls.Config) netip.AddrPort {
	t.Helper()
	return serveOne(t, nil, func(c net.Conn) {
		inner := tls.Server(tls.Server(c, cfg), cfg)
		if inner.Handshake() != nil {
			return
		}
		line, err := bufio.NewReader(inner).ReadString('\n')
		if err == nil {
			_, _ = inner.Write([]byte(line))
		}
	})
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
