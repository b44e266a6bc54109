package host

// The raw-guest side of the wasi:io/streams tests: stream results, writes
// and reads with deadlines, and loopback servers that count, gate, reset or
// wrap what they get.

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

	"github.com/wasitls/wasitls/internal/cabi"
	"github.com/wasitls/wasitls/internal/testkit/wasmenc"
	"github.com/wasitls/wasitls/internal/witnames"
)

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
			_ = setsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUF, 16<<10)
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
