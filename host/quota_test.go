package host

import (
	"bytes"
	"io"
	"net"
	"net/netip"
	"testing"

	"github.com/wasitls/wasitls/internal/cabi"
	"github.com/wasitls/wasitls/internal/testkit/loopback"
	"github.com/wasitls/wasitls/internal/witnames"
)

// checkFDs makes sure, after the test and its servers are gone, that no
// file descriptor was left open.
func checkFDs(t *testing.T) {
	fds := countFDs(t)
	t.Cleanup(func() {
		if n := countFDs(t); n > fds {
			t.Errorf("fds: %d before, %d after", fds, n)
		}
	})
}

// floodServer writes a counting byte pattern to every connection until the
// connection fails, never reading.
func floodServer(t *testing.T) netip.AddrPort {
	return loopback.Serve(t, func(c net.Conn) {
		buf := make([]byte, 32<<10)
		for i := range buf {
			buf[i] = byte(i % 251)
		}
		for {
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	}).AddrPort()
}

// With several connections flooding a guest that reads only one of them,
// the bytes the host buffers for the guest never exceed
// Limits.BufferedBytes, and the stream the guest reads still progresses.
func TestBufferedBytesQuotaReads(t *testing.T) {
	const limit = 1 << 20
	checkFDs(t)
	addr := floodServer(t)
	ctx, r := newRuntime(t)
	x := newTG(t, ctx, New(r), "0.2.6", WithPolicy(&Policy{
		Allow: []string{"127.0.0.1:*"}, Limits: Limits{BufferedBytes: limit},
	}))
	var socks, ins []uint32
	for range 8 {
		sock, in, out, code := x.connect(addr)
		if code >= 0 {
			t.Fatalf("connect: %d", code)
		}
		x.drop(ioStreamsName, "output-stream", out)
		socks, ins = append(socks, sock), append(ins, in)
		// ready starts the stream's reader (block alone would read
		// inline, and read ahead no further).
		p := x.call1(ioStreamsName, witnames.InputStreamSubscribe, uint64(in))
		x.call1(ioPollName, witnames.PollableReady, uint64(p))
		x.call(ioPollName, witnames.PollableBlock, uint64(p))
		x.drop(ioPollName, "pollable", p)
	}
	// Read 4 MiB (4x the limit) from the first stream while the other
	// seven keep flooding unread: each read has to find room.
	var got int
	for got < 4<<20 {
		b, closed := x.readSome(ins[0], 64<<10)
		if closed {
			t.Fatal("stream closed")
		}
		for i, c := range b {
			if c != byte((got+i)%(32<<10)%251) {
				t.Fatalf("byte %d = %d, want %d", got+i, c, (got+i)%(32<<10)%251)
			}
		}
		got += len(b)
		if n := x.g.BufferedBytes(); n > limit {
			t.Fatalf("buffered %d bytes, limit %d", n, limit)
		}
	}
	x.g.quota.mu.Lock()
	peak := x.g.quota.peak
	x.g.quota.mu.Unlock()
	if peak > limit {
		t.Fatalf("peak buffered %d bytes, limit %d", peak, limit)
	}
	if peak < limit/2 {
		t.Fatalf("peak buffered %d bytes: the unread streams did not fill the quota (limit %d)", peak, limit)
	}
	t.Logf("read %d bytes; peak buffered %d of %d", got, peak, limit)
	// Dropping the streams gives their bytes back.
	for i := range ins {
		x.drop(ioStreamsName, "input-stream", ins[i])
		x.drop(tcpName, "tcp-socket", socks[i])
	}
	// (A read in progress keeps its reservation until the connection's
	// close ends it.)
	if n := x.g.BufferedBytes(); n > pumpSize+headSize {
		t.Fatalf("buffered %d bytes after every stream was dropped", n)
	}
	if err := x.g.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := x.g.BufferedBytes(); n != 0 {
		t.Fatalf("buffered %d bytes after the guest closed", n)
	}
}

// holdServer accepts one connection and does not read from it until
// drain is called; then it reads everything into got.
type holdServer struct {
	addr  netip.AddrPort
	start chan struct{}
	done  chan struct{}
	n     int64
}

func newHoldServer(t *testing.T) *holdServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &holdServer{addr: ln.Addr().(*net.TCPAddr).AddrPort(), start: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		c, err := ln.Accept()
		ln.Close()
		if err != nil {
			return
		}
		defer c.Close()
		<-s.start
		s.n, _ = io.Copy(io.Discard, c)
	}()
	t.Cleanup(func() {
		ln.Close()
		select {
		case <-s.start:
		default:
			close(s.start)
		}
		<-s.done
	})
	return s
}

// A guest writing to a server that does not read: check-write reaches 0
// (not a trap) once the quota is used up, the output pollable is not ready,
// the buffered total stays within the limit, and blocking-write-and-flush
// still goes through (straight from guest memory) once the server reads.
func TestBufferedBytesQuotaWrites(t *testing.T) {
	const limit = 192 << 10
	checkFDs(t)
	srv := newHoldServer(t)
	ctx, r := newRuntime(t)
	x := newTG(t, ctx, New(r), "0.2.6", WithPolicy(&Policy{
		Allow: []string{"127.0.0.1:*"}, Limits: Limits{BufferedBytes: limit},
	}))
	sock, in, out, code := x.connect(srv.addr)
	if code >= 0 {
		t.Fatalf("connect: %d", code)
	}
	var written uint64
	var p uint32 // the output's pollable, not ready, once the loop ends
	for {
		x.clearRet()
		x.call(ioStreamsName, witnames.OutputStreamCheckWrite, uint64(out), retArea)
		r := x.ret(16)
		if r[0] != 0 {
			t.Fatalf("check-write failed: %v", r)
		}
		n := cabi.GetU64(r, 8)
		if n == 0 {
			// A send in flight may finish and make room meanwhile, until
			// the connection's kernel buffers are full as well.
			p = x.call1(ioStreamsName, witnames.OutputStreamSubscribe, uint64(out))
			if x.call1(ioPollName, witnames.PollableReady, uint64(p)) == 0 {
				break
			}
			x.drop(ioPollName, "pollable", p)
			continue
		}
		if n > sinkBudget {
			t.Fatalf("check-write granted %d", n)
		}
		x.clearRet()
		x.call(ioStreamsName, witnames.OutputStreamWriteZeroes, uint64(out), n, retArea)
		if r := x.ret(12); r[0] != 0 {
			t.Fatalf("write-zeroes: %v", r)
		}
		x.clearRet()
		x.call(ioStreamsName, witnames.OutputStreamFlush, uint64(out), retArea)
		written += n
		if b := x.g.BufferedBytes(); b > limit {
			t.Fatalf("buffered %d bytes, limit %d", b, limit)
		}
		if written > 1<<30 {
			t.Fatal("check-write never reached 0")
		}
	}
	x.g.quota.mu.Lock()
	peak := x.g.quota.peak
	x.g.quota.mu.Unlock()
	if peak > limit {
		t.Fatalf("peak buffered %d bytes, limit %d", peak, limit)
	}
	t.Logf("check-write reached 0 after %d bytes; peak buffered %d of %d", written, peak, limit)

	// The server reads now: the pollable gets ready, and a blocking write
	// larger than the whole quota goes through.
	close(srv.start)
	x.call(ioPollName, witnames.PollableBlock, uint64(p))
	x.drop(ioPollName, "pollable", p)
	big := uint64(4 * limit)
	x.clearRet()
	x.call(ioStreamsName, witnames.OutputStreamBlockingWriteZeroesAndFlush, uint64(out), big, retArea)
	if r := x.ret(12); r[0] != 0 {
		t.Fatalf("blocking-write-zeroes-and-flush: %v", r)
	}
	x.writeAll(out, bytes.Repeat([]byte("q"), 4000))
	written += big + 4000
	if b := x.g.BufferedBytes(); b != 0 {
		t.Fatalf("buffered %d bytes after a blocking flush", b)
	}
	x.drop(ioStreamsName, "output-stream", out)
	x.drop(ioStreamsName, "input-stream", in)
	x.drop(tcpName, "tcp-socket", sock)
	<-srv.done
	if uint64(srv.n) != written {
		t.Fatalf("server read %d bytes, guest wrote %d", srv.n, written)
	}
	if err := x.g.Close(ctx); err != nil {
		t.Fatal(err)
	}
}
