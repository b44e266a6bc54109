package host

import (
	"context"
	"crypto/tls"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/conformance/pki"
	"github.com/wasitls/wasitls/internal/cabi"
	"github.com/wasitls/wasitls/internal/witnames"
)

// The tests of inline reads: a blocking read of an input stream whose
// goroutine has not started reads on the guest's call (pump.readInline),
// gathering the records of a bulk transfer that are queued in the socket.

// needInline skips where the host has no SIOCINQ: there input streams
// read on their goroutine only (newConnPump).
func needInline(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skipf("inline reads need SIOCINQ (Linux); this is %s", runtime.GOOS)
	}
}

// patternAt is byte i of the stream stepServer sends.
func patternAt(i int) byte { return byte(i % 251) }

// stepServer is a TLS server that, after the handshake, sends the next n
// bytes of a counting pattern for each n received on steps, in writes of
// up to 256 KiB (records of 16 KiB), and closes when steps is closed.
func stepServer(t *testing.T, p *pki.PKI) (netip.AddrPort, chan<- int) {
	steps := make(chan int, 16)
	cfg := &tls.Config{Certificates: []tls.Certificate{p.Server().TLS}}
	addr := serveOne(t, nil, func(c net.Conn) {
		tc := tls.Server(c, cfg)
		defer tc.Close()
		if err := tc.Handshake(); err != nil {
			return
		}
		sent := 0
		buf := make([]byte, 256<<10)
		for n := range steps {
			for n > 0 {
				k := min(n, len(buf))
				for i := range k {
					buf[i] = patternAt(sent + i)
				}
				if _, err := tc.Write(buf[:k]); err != nil {
					return
				}
				sent, n = sent+k, n-k
			}
		}
	})
	t.Cleanup(func() {
		defer func() { _ = recover() }() // closed by the test already
		close(steps)
	})
	return addr, steps
}

// tlsGuest is a raw guest whose TLS connections use provider.
func tlsGuest(t *testing.T, p *pki.PKI, provider api.Provider, addr netip.AddrPort, limits Limits) *tg {
	ctx, r := newRuntime(t)
	return newTG(t, ctx, New(r, WithProvider(provider)), "0.2.6",
		WithPolicy(&Policy{Allow: []string{addr.String()}, RootCAs: p.Roots, Limits: limits}))
}

// inPump returns the pump of input stream h.
func (x *tg) inPump(h uint32) *pump {
	x.t.Helper()
	v, err := x.g.table.get(h, rInput)
	if err != nil {
		x.t.Fatal(err)
	}
	return v.(*inStream).p
}

// checkPattern fails the test unless b is the pattern from offset off.
func checkPattern(t *testing.T, b []byte, off int) {
	t.Helper()
	for i, c := range b {
		if c != patternAt(off+i) {
			t.Fatalf("byte %d is %d, want %d: bytes lost, duplicated or reordered", off+i, c, patternAt(off+i))
		}
	}
}

// readRaw calls read (never blocking) for up to n bytes.
func (x *tg) readRaw(in uint32, n int) []byte {
	x.t.Helper()
	x.clearRet()
	x.call(ioStreamsName, witnames.InputStreamRead, uint64(in), uint64(n), retArea)
	if res := x.result(cabi.ReadArea); res != resOK {
		x.t.Fatalf("read: %v", res)
	}
	r := x.ret(12)
	return x.bytes(cabi.GetU32(r, 4), cabi.GetU32(r, 8))
}

// Blocking reads run on the guest's call until the guest looks without
// blocking; then the goroutine takes over where they stopped, and a poll
// of the stream and a clock finds its bytes: every byte arrives once, in
// order, and ConnEvent.BytesIn (the pump's total) counts both readers.
func TestInlineReadThenGoroutineTakesOver(t *testing.T) {
	needInline(t)
	p := pki.New(t)
	addr, steps := stepServer(t, p)
	x := tlsGuest(t, p, stdtls.Provider{}, addr, Limits{})
	sock, conn, tin, tout := x.openTLS(addr)
	pu := x.inPump(tin)

	const first = 300 << 10
	steps <- first
	got := x.readN(tin, first) // blocking-read: inline
	checkPattern(t, got, 0)
	if pu.started.Load() {
		t.Fatal("blocking reads started the stream's goroutine")
	}
	// block on the stream's pollable reads inline too; the bytes wait for
	// the next read.
	const blocked = 10 << 10
	steps <- blocked
	bp := x.call1(ioStreamsName, witnames.InputStreamSubscribe, uint64(tin))
	x.call(ioPollName, witnames.PollableBlock, uint64(bp))
	x.drop(ioPollName, "pollable", bp)
	if pu.started.Load() {
		t.Fatal("block on the stream's pollable started the goroutine")
	}
	checkPattern(t, x.readN(tin, blocked), first)

	// read finds nothing: the goroutine starts, and serves what follows.
	if b := x.readRaw(tin, 100); len(b) != 0 {
		t.Fatalf("read returned %d bytes the server never sent", len(b))
	}
	if !pu.started.Load() {
		t.Fatal("a read that found nothing did not start the goroutine")
	}
	const second = 700 << 10
	steps <- second
	ps := x.call1(ioStreamsName, witnames.InputStreamSubscribe, uint64(tin))
	clock := x.call1(monoName, witnames.SubscribeDuration, uint64(10*time.Second))
	list := x.putList(2, ps, clock)
	off := first + blocked
	for off < first+blocked+second {
		x.clearRet()
		x.call(ioPollName, witnames.Poll, uint64(list), 2, retArea)
		if r := x.pollResult(); len(r) != 1 || r[0] != 0 {
			t.Fatalf("poll answered %v after %d bytes, want [0] (the stream)", r, off)
		}
		b := x.readRaw(tin, 64<<10)
		checkPattern(t, b, off)
		off += len(b)
	}
	x.drop(ioPollName, "pollable", ps)
	x.drop(ioPollName, "pollable", clock)

	// Blocking reads after that wait for the goroutine.
	const third = 50 << 10
	steps <- third
	checkPattern(t, x.readN(tin, third), first+blocked+second)
	if n, want := pu.total.Load(), uint64(first+blocked+second+third); n != want {
		t.Fatalf("BytesIn %d, want %d", n, want)
	}
	x.closeTLS(sock, conn, tin, tout)
}

// A blocking read gathers the records of a bulk transfer that are queued
// in the socket into one answer, whatever the provider (a wrapper that
// declares no Capabilities included).
func TestInlineReadGathersQueuedRecords(t *testing.T) {
	needInline(t)
	p := pki.New(t)
	plain := api.ProviderFunc("plain", stdtls.Provider{}.Client)
	for _, provider := range []api.Provider{stdtls.Provider{}, plain} {
		t.Run(provider.Name(), func(t *testing.T) {
			addr, steps := stepServer(t, p)
			x := tlsGuest(t, p, provider, addr, Limits{})
			sock, conn, tin, tout := x.openTLS(addr)
			const size = 4 << 20
			steps <- size
			most := 0
			for off := 0; off < size; {
				b, closed := x.readSome(tin, 256<<10)
				if closed {
					t.Fatalf("closed after %d bytes", off)
				}
				checkPattern(t, b, off)
				off += len(b)
				most = max(most, len(b))
			}
			t.Logf("largest read %d bytes", most)
			if most <= 16<<10 {
				t.Errorf("no read returned more than one record (%d bytes): nothing was gathered", most)
			}
			x.closeTLS(sock, conn, tin, tout)
		})
	}
}

// holdConn, once armed, passes one Write (a record) and sends only the
// first bytes of the next, holding the rest until release is closed.
type holdConn struct {
	net.Conn
	armed   atomic.Int32
	release chan struct{}
}

func (h *holdConn) Write(b []byte) (int, error) {
	if h.armed.Load() == 0 || h.armed.Add(1) != 3 || len(b) < 12 {
		return h.Conn.Write(b)
	}
	n, err := h.Conn.Write(b[:10])
	if err != nil {
		return n, err
	}
	<-h.release
	k, err := h.Conn.Write(b[10:])
	return n + k, err
}

// A blocking read that has a record never waits for the rest of the next
// one: gathering reads on only while a whole record is queued, so a server
// that sends a record and the start of another, then stalls, still has the
// first delivered at once.
func TestInlineReadGatherNeverWaits(t *testing.T) {
	needInline(t)
	p := pki.New(t)
	// Full-size records from the first (no dynamic record sizing).
	cfg := &tls.Config{Certificates: []tls.Certificate{p.Server().TLS}, DynamicRecordSizingDisabled: true}
	release := make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	defer free()
	addr := serveOne(t, nil, func(c net.Conn) {
		h := &holdConn{Conn: c, release: release}
		tc := tls.Server(h, cfg)
		if err := tc.Handshake(); err != nil {
			return
		}
		h.armed.Store(1)
		b := make([]byte, 32<<10) // two full records
		for i := range b {
			b[i] = patternAt(i)
		}
		tc.Write(b)
	})
	x := tlsGuest(t, p, stdtls.Provider{}, addr, Limits{})
	sock, conn, tin, tout := x.openTLS(addr)
	// Nothing but this test's call uses the guest until it returns.
	done := make(chan []byte, 1)
	go func() {
		b, _ := x.readSome(tin, 256<<10)
		done <- append([]byte(nil), b...)
	}()
	select {
	case b := <-done:
		if len(b) != 16<<10 {
			t.Fatalf("the read returned %d bytes, want the first record (16384)", len(b))
		}
		checkPattern(t, b, 0)
	case <-time.After(5 * time.Second):
		free() // so that the read, and the test, end
		<-done
		t.Fatal("the read held a record while waiting for the rest of the next one")
	}
	free()
	checkPattern(t, x.readN(tin, 16<<10), 16<<10)
	x.closeTLS(sock, conn, tin, tout)
}

// Inline reads, gathering included, stay within Limits.BufferedBytes.
func TestInlineReadHonoursBufferedBytes(t *testing.T) {
	needInline(t)
	const limit = MinBufferedBytes
	p := pki.New(t)
	addr, steps := stepServer(t, p)
	x := tlsGuest(t, p, stdtls.Provider{}, addr, Limits{BufferedBytes: limit})
	sock, conn, tin, tout := x.openTLS(addr)
	const size = 2 << 20
	steps <- size
	for off := 0; off < size; {
		b, _ := x.readSome(tin, maxRead)
		checkPattern(t, b, off)
		off += len(b)
		if len(b) > limit {
			t.Fatalf("one read returned %d bytes, over the %d-byte limit", len(b), limit)
		}
	}
	x.g.quota.mu.Lock()
	peak := x.g.quota.peak
	x.g.quota.mu.Unlock()
	if peak > limit {
		t.Fatalf("peak buffered %d bytes, limit %d", peak, limit)
	}
	if x.inPump(tin).started.Load() {
		t.Fatal("the goroutine started")
	}
	x.closeTLS(sock, conn, tin, tout)
	if n := x.g.BufferedBytes(); n != 0 {
		t.Fatalf("buffered %d bytes after the connection closed", n)
	}
}

// A guest blocked in an inline read of a silent TLS server is ended by its
// call's context and by the guest's Close: no hang, and (TestMain's goleak)
// no goroutine left behind.
func TestInlineReadInterrupted(t *testing.T) {
	needInline(t)
	p := pki.New(t)
	for _, how := range []string{"context", "close"} {
		t.Run(how, func(t *testing.T) {
			addr, _ := stepServer(t, p) // handshakes, then sends nothing
			x := tlsGuest(t, p, stdtls.Provider{}, addr, Limits{})
			_, _, tin, _ := x.openTLS(addr)
			pu := x.inPump(tin)
			cctx, cancel := context.WithCancel(x.ctx)
			defer cancel()
			errc := make(chan error, 1)
			go func() {
				_, err := x.fn(ioStreamsName, witnames.InputStreamBlockingRead).Call(cctx, uint64(tin), 100, retArea)
				errc <- err
			}()
			// Let the call reach its Read (it may also be ended before).
			time.Sleep(50 * time.Millisecond)
			if how == "context" {
				cancel()
			} else if err := x.g.Close(x.ctx); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-errc:
				if err == nil {
					t.Fatal("the interrupted blocking-read returned no error")
				}
			case <-time.After(10 * time.Second):
				t.Fatal("blocking-read did not return")
			}
			if pu.started.Load() {
				t.Fatal("the read was not inline: the goroutine started")
			}
			if !x.mod.IsClosed() && how == "context" {
				t.Fatal("the module is open after its context ended in a blocking read")
			}
			if x.g.OpenHandles() != 0 {
				t.Fatalf("%d handles open", x.g.OpenHandles())
			}
		})
	}
}
