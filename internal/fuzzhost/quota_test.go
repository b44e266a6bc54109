package fuzzhost

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/host"
	"github.com/wasitls/wasitls/internal/rawguest"
)

// Per-guest limits: reaching one gives a clear error (a trap naming the
// limit for handles, new-socket-limit for sockets, a policy-denied io-error
// for handshakes), freeing a resource makes room again, and another guest is
// not affected.
func TestQuotas(t *testing.T) {
	f := newFixture(t)
	leakCheck(t, f)
	limits := host.Limits{Handles: 16, Sockets: 2, Handshakes: 1}
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

	t.Run("sockets", func(t *testing.T) {
		var socks []uint32
		for i := 0; i < limits.Sockets; i++ {
			sock, _, _, err := x.Connect(f.echo.AddrPort())
			if err != nil {
				t.Fatal(err)
			}
			socks = append(socks, sock)
		}
		_, _, _, err := x.Connect(f.echo.AddrPort())
		if !errors.Is(err, rawguest.CodeNewSocketLimit) {
			t.Fatalf("socket %d: %v, want new-socket-limit", limits.Sockets+1, err)
		}
		if _, _, _, err := other.Connect(f.echo.AddrPort()); err != nil {
			t.Errorf("another guest: %v", err)
		}
		// Closing one makes room (the streams go too: the connection is
		// counted until the socket and both streams are gone).
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
	limits := host.Limits{Sockets: 3}
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
		if n != limits.Sockets {
			t.Errorf("guest %d opened %d sockets, limit %d", i, n, limits.Sockets)
		}
	}
}
