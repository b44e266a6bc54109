package fuzzhost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasitls/wasitls/host"
	"github.com/wasitls/wasitls/internal/cabi"
	"github.com/wasitls/wasitls/internal/testkit/rawguest"
)

// Per-guest limits: reaching one gives a clear error (a trap naming the
// limit for handles, new-socket-limit for sockets, a policy-denied io-error
// for handshakes), freeing a resource makes room again, and another guest is
// not affected. Connections count until nothing keeps them open, not just
// while the guest holds the socket handle.
func TestQuotas(t *testing.T) {
	f := newFixture(t)
	leakCheck(t, f)
	limits := host.Limits{Handles: 16, Connections: 2, Handshakes: 1}
	x := f.guest(t, f.ctx, func(p *host.Policy) { p.Limits = limits; p.HandshakeTimeout = time.Minute })
	other := f.guest(t, f.ctx, func(p *host.Policy) { p.Limits = limits })

	t.Run("handles", func(t *testing.T) {
		var hs []uint32
		var err error
		for i := 0; i < 100; i++ {
			var h uint32
			h, err = x.Call1(rawguest.Monotonic, "subscribe-duration", uint64(time.Hour))
			if err != nil {
				break
			}
			hs = append(hs, h)
		}
		if !rawguest.IsTrap(err) || !strings.Contains(err.Error(), "too many open handles (limit 16)") {
			t.Fatalf("after %d handles: %v", len(hs), err)
		}
		if len(hs) != limits.Handles {
			t.Errorf("got %d handles, limit %d", len(hs), limits.Handles)
		}
		// The other guest has its own table.
		if _, err := other.Call1(rawguest.Monotonic, "subscribe-duration", 1); err != nil {
			t.Errorf("another guest: %v", err)
		}
		for _, h := range hs {
			if err := x.Drop(rawguest.Poll, "pollable", h); err != nil {
				t.Fatal(err)
			}
		}
		if n := x.G.OpenHandles(); n != 0 {
			t.Fatalf("%d handles after dropping all", n)
		}
	})

	t.Run("connections", func(t *testing.T) {
		// Two TLS connections whose socket handles the guest dropped (the
		// streams live on in TLS): they still count, and still work.
		type live struct{ conn, tin, tout uint32 }
		var conns []live
		for i := 0; i < limits.Connections; i++ {
			sock, conn, tin, tout := dialTLS(t, x, f.echo.AddrPort(), "localhost")
			if err := x.Drop(rawguest.TCP, "tcp-socket", sock); err != nil {
				t.Fatal(err)
			}
			conns = append(conns, live{conn, tin, tout})
		}
		_, _, _, err := x.Connect(f.echo.AddrPort())
		if !errors.Is(err, rawguest.CodeNewSocketLimit) {
			t.Fatalf("connection %d with %d open (socket handles dropped): %v, want new-socket-limit", limits.Connections+1, limits.Connections, err)
		}
		for i, c := range conns {
			echoOnce(t, x, c.tin, c.tout, fmt.Sprintf("still open %d", i))
		}
		if _, _, _, err := other.Connect(f.echo.AddrPort()); err != nil {
			t.Errorf("another guest: %v", err)
		}
		// Dropping one connection's streams and the connection gives its
		// slot back; the other one still counts.
		c := conns[0]
		for _, d := range []struct {
			ifc, res string
			h        uint32
		}{{rawguest.Streams, "input-stream", c.tin}, {rawguest.Streams, "output-stream", c.tout}, {rawguest.TLS, "client-connection", c.conn}} {
			if err := x.Drop(d.ifc, d.res, d.h); err != nil {
				t.Fatal(err)
			}
		}
		sock := connectEventually(t, x, f.echo.AddrPort())
		if _, _, _, err := x.Connect(f.echo.AddrPort()); !errors.Is(err, rawguest.CodeNewSocketLimit) {
			t.Fatalf("past the limit again: %v, want new-socket-limit", err)
		}
		if err := x.Drop(rawguest.TCP, "tcp-socket", sock); err != nil {
			t.Fatal(err)
		}
		echoOnce(t, x, conns[1].tin, conns[1].tout, "the other one")
		if err := x.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("handshakes", func(t *testing.T) {
		y := f.guest(t, f.ctx, func(p *host.Policy) { p.Limits = limits; p.HandshakeTimeout = time.Second })
		_, in, out := must3(t, y, f.quiet)
		fut1 := startHS(t, y, in, out)
		_, in2, out2 := must3(t, y, f.echo)
		_, _, _, err := y.Handshake("localhost", in2, out2)
		var ioe *rawguest.IOError
		if !errors.As(err, &ioe) || !strings.Contains(ioe.Debug, "tls: policy denied") || !strings.Contains(ioe.Debug, "too many handshakes in flight") {
			t.Fatalf("second handshake in flight: %v", err)
		}
		// The first one times out; then the next handshake has room.
		if _, _, _, err := y.Finish(fut1); !errors.As(err, &ioe) || !strings.Contains(ioe.Debug, "handshake timeout") {
			t.Fatalf("first handshake: %v", err)
		}
		if err := y.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		z := f.guest(t, f.ctx, func(p *host.Policy) { p.Limits = limits })
		dialTLS(t, z, f.echo.AddrPort(), "localhost")
		_ = z.Close(context.Background())
	})
	_ = other.Close(context.Background())
}

// Many guests at their limits at once do not starve each other: each gets
// exactly its quota.
func TestQuotasPerGuest(t *testing.T) {
	f := newFixture(t)
	leakCheck(t, f)
	const guests = 8
	limits := host.Limits{Connections: 3}
	for i := 0; i < guests; i++ {
		x := f.guest(t, f.ctx, func(p *host.Policy) { p.Limits = limits })
		n := 0
		for ; n < 10; n++ {
			if _, _, _, err := x.Connect(f.echo.AddrPort()); err != nil {
				if !errors.Is(err, rawguest.CodeNewSocketLimit) {
					t.Fatalf("guest %d socket %d: %v", i, n, err)
				}
				break
			}
		}
		if n != limits.Connections {
			t.Errorf("guest %d opened %d sockets, limit %d", i, n, limits.Connections)
		}
	}
}

// echoOnce writes msg on a TLS echo connection and reads it back.
func echoOnce(t *testing.T, x *rawguest.Guest, tin, tout uint32, msg string) {
	t.Helper()
	if err := x.Write(tout, []byte(msg)); err != nil {
		t.Fatalf("write %q: %v", msg, err)
	}
	var got []byte
	for len(got) < len(msg) {
		b, err := x.Read(tin, 1024)
		if err != nil {
			t.Fatalf("read back %q: %v", msg, err)
		}
		got = append(got, b...)
	}
	if string(got) != msg {
		t.Fatalf("echo %q, want %q", got, msg)
	}
}

// connectEventually connects once a connection slot is free again (closing
// a connection gives its slot back when the close is done, which may be
// on a host goroutine).
func connectEventually(t *testing.T, x *rawguest.Guest, dest netip.AddrPort) (sock uint32) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		sock, in, out, err := x.Connect(dest)
		if err == nil {
			for _, h := range []struct {
				res string
				h   uint32
			}{{"input-stream", in}, {"output-stream", out}} {
				if err := x.Drop(rawguest.Streams, h.res, h.h); err != nil {
					t.Fatal(err)
				}
			}
			return sock
		}
		if !errors.Is(err, rawguest.CodeNewSocketLimit) || time.Now().After(deadline) {
			t.Fatalf("connect once a slot is free: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A connection whose streams and socket the guest dropped while output was
// still being sent to a peer that does not read lingers until the bytes are
// out, and keeps its slot until then: dropping everything does not let a
// guest hold more connections than Limits.Connections.
func TestQuotaCountsLingeringOutput(t *testing.T) {
	f := newFixture(t)
	leakCheck(t, f)
	read := make(chan struct{})
	var readOnce sync.Once
	startReading := func() { readOnce.Do(func() { close(read) }) }
	t.Cleanup(startReading)
	stalled := newStalledServer(t, read)
	limits := host.Limits{Connections: 2}
	x := f.guest(t, f.ctx, func(p *host.Policy) { p.Limits = limits })
	for i := 0; i < limits.Connections; i++ {
		sock, in, out, err := x.Connect(stalled.AddrPort())
		if err != nil {
			t.Fatal(err)
		}
		fill(t, x, sock, out)
		for _, d := range []struct {
			ifc, res string
			h        uint32
		}{{rawguest.Streams, "input-stream", in}, {rawguest.Streams, "output-stream", out}, {rawguest.TCP, "tcp-socket", sock}} {
			if err := x.Drop(d.ifc, d.res, d.h); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := x.G.OpenHandles(); n != 0 {
		t.Fatalf("%d handles open after dropping everything", n)
	}
	if _, _, _, err := x.Connect(f.echo.AddrPort()); !errors.Is(err, rawguest.CodeNewSocketLimit) {
		t.Fatalf("with %d connections lingering: %v, want new-socket-limit", limits.Connections, err)
	}
	// The peer reads: the output drains, the connections close, and their
	// slots come back.
	startReading()
	start := time.Now()
	sock := connectEventually(t, x, f.echo.AddrPort())
	t.Logf("a slot came back %v after the peer started reading", time.Since(start))
	if err := x.Drop(rawguest.TCP, "tcp-socket", sock); err != nil {
		t.Fatal(err)
	}
	if err := x.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !stalled.WaitIdle(10 * time.Second) {
		t.Error("the stalled server still has connections")
	}
}

// newStalledServer accepts connections and reads nothing from them until
// read is closed, then everything. (Its receive buffer stays the kernel's:
// a tiny one makes the sender wait for zero-window probes, seconds apart.)
func newStalledServer(t *testing.T, read <-chan struct{}) *server {
	return newServer(t, "tcp4", "127.0.0.1:0", func(c net.Conn) {
		select {
		case <-read:
		case <-time.After(30 * time.Second):
		}
		_, _ = io.Copy(io.Discard, c)
	})
}

// fill writes to out with non-blocking writes until the host accepts no
// more (check-write stays at 0): the peer does not read, the kernel's
// buffers are full and the host holds the rest.
func fill(t *testing.T, x *rawguest.Guest, sock, out uint32) {
	t.Helper()
	// A small kernel send buffer, so that little fills it.
	if _, err := x.Call(rawguest.TCP, "[method]tcp-socket.set-send-buffer-size", uint64(sock), 64<<10, rawguest.RetArea); err != nil {
		t.Fatal(err)
	}
	total, zeros := 0, 0
	for zeros < 10 {
		if total > 256<<20 {
			t.Fatalf("the peer took %d bytes without reading", total)
		}
		if _, err := x.Call(rawguest.Streams, "[method]output-stream.check-write", uint64(out), rawguest.RetArea); err != nil {
			t.Fatal(err)
		}
		r, _ := x.Bytes(rawguest.RetArea, cabi.U64Area.Size)
		if r[0] != 0 {
			t.Fatalf("check-write failed: %v", r)
		}
		n := cabi.GetU64(r, cabi.U64Area.OK)
		if n == 0 {
			zeros++
			time.Sleep(20 * time.Millisecond)
			continue
		}
		zeros = 0
		for _, fn := range []struct {
			name string
			args []uint64
		}{{"[method]output-stream.write-zeroes", []uint64{uint64(out), n, rawguest.RetArea}}, {"[method]output-stream.flush", []uint64{uint64(out), rawguest.RetArea}}} {
			if _, err := x.Call(rawguest.Streams, fn.name, fn.args...); err != nil {
				t.Fatal(err)
			}
			if r, _ := x.Bytes(rawguest.RetArea, 1); r[0] != 0 {
				t.Fatalf("%s failed", fn.name)
			}
		}
		total += int(n)
	}
	t.Logf("the host holds output after %d bytes", total)
}
