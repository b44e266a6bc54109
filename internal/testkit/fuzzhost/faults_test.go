package fuzzhost

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero/sys"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/host"
	"github.com/wasitls/wasitls/internal/testkit/rawguest"
)

// leakCheck records the descriptor count and, at cleanup, requires it back
// after the fixture's servers are idle. Goroutines are checked by TestMain.
func leakCheck(t *testing.T, f *fixture) {
	fds := openFDs()
	t.Cleanup(func() {
		f.settle(t)
		if after := openFDs(); fds >= 0 && after != fds {
			t.Errorf("file descriptors: %d before, %d after", fds, after)
		}
	})
}

// A guest that traps while a handshake is in flight (against a server that
// never answers) and while a read is pending: the embedder closes it, and
// everything it held goes, long before the handshake timeout.
func TestTrapMidHandshakeAndRead(t *testing.T) {
	f := newFixture(t)
	leakCheck(t, f)
	x := f.guest(t, f.ctx, func(p *host.Policy) { p.HandshakeTimeout = time.Minute })
	_, in, out := must3(t, x, f.quiet)
	fut, err := x.StartHandshake("localhost", in, out)
	if err != nil {
		t.Fatal(err)
	}
	_, conn, tin, _ := dialTLS(t, x, f.echo.AddrPort(), "localhost")
	if _, err := x.Call(rawguest.Streams, "[method]input-stream.subscribe", uint64(tin)); err != nil { // the reader is running
		t.Fatal(err)
	}
	// Trap: a future where a stream is expected.
	_, err = x.Call(rawguest.Streams, "[method]input-stream.read", uint64(fut), 10, rawguest.RetArea)
	if !rawguest.IsTrap(err) {
		t.Fatalf("want a trap, got %v", err)
	}
	// Trap: dropping a connection that still has its streams.
	if err := x.Drop(rawguest.TLS, "client-connection", conn); !rawguest.IsTrap(err) {
		t.Fatalf("want a trap, got %v", err)
	}
	start := time.Now()
	if err := x.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("close took %v with a handshake in flight", d)
	}
	if n := x.G.OpenHandles(); n != 0 {
		t.Errorf("%d handles after close", n)
	}
}

func must3(t *testing.T, x *rawguest.Guest, s *server) (sock, in, out uint32) {
	t.Helper()
	sock, in, out, err := x.Connect(s.AddrPort())
	if err != nil {
		t.Fatal(err)
	}
	return sock, in, out
}

// The module is closed from another goroutine while the guest blocks on a
// handshake (and, separately, on a read): the blocked call returns an error,
// the handshake stops, and nothing is left.
func TestModuleClosedWhileBlocked(t *testing.T) {
	f := newFixture(t)
	leakCheck(t, f)
	for _, what := range []string{"handshake", "read"} {
		t.Run(what, func(t *testing.T) {
			x := f.guest(t, f.ctx, func(p *host.Policy) { p.HandshakeTimeout = time.Minute })
			var fut, tin uint32
			if what == "handshake" {
				_, in, out := must3(t, x, f.quiet)
				fut = startHS(t, x, in, out)
			} else {
				_, _, tin, _ = dialTLS(t, x, f.echo.AddrPort(), "localhost")
			}
			errc := make(chan error, 1)
			started := make(chan struct{})
			go func() {
				close(started)
				if what == "handshake" {
					_, _, _, err := x.Finish(fut)
					errc <- err
					return
				}
				_, err := x.Read(tin, 100)
				errc <- err
			}()
			<-started
			// Closing concurrently with the call is what an embedder does
			// to stop a guest; the call may not have blocked yet, which
			// the host must handle too.
			start := time.Now()
			if err := x.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-errc:
				if err == nil {
					t.Fatal("the blocked call succeeded after the module closed")
				}
				t.Logf("blocked %s returned after close: %v", what, err)
			case <-time.After(10 * time.Second):
				t.Fatal("the blocked call did not return after the module closed")
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

// The context of a blocking call is canceled: the call ends with wazero's
// exit code for a canceled context, the module is closed and its resources
// released.
func TestContextCancellation(t *testing.T) {
	f := newFixture(t)
	leakCheck(t, f)
	ctx, cancel := context.WithCancel(context.Background())
	x := f.guest(t, ctx, func(p *host.Policy) { p.HandshakeTimeout = time.Minute })
	_, in, out := must3(t, x, f.quiet)
	fut := startHS(t, x, in, out)
	go cancel()
	_, _, _, err := x.Finish(fut)
	var exit *sys.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != sys.ExitCodeContextCanceled {
		t.Fatalf("want exit code %d, got %v", sys.ExitCodeContextCanceled, err)
	}
	if !x.Mod.IsClosed() {
		t.Error("module still open")
	}
	if n := x.G.OpenHandles(); n != 0 {
		t.Errorf("%d handles after the context ended", n)
	}
}

// Providers that panic (in Client, in State) or ignore their context while
// blocked on the transport: the guest gets an io-error within the handshake
// timeout plus the host's backstop, and the host goes on serving other
// guests. (One that never returns: TestProviderThatNeverReturns.)
func TestMisbehavingProviders(t *testing.T) {
	f := newFixture(t)
	leakCheck(t, f)
	cases := []struct {
		name, want string
		dest       *server
		fn         func(context.Context, net.Conn, *api.Config) (api.Conn, error)
	}{
		{"panics", "provider panicked", f.quiet, func(context.Context, net.Conn, *api.Config) (api.Conn, error) {
			panic("boom")
		}},
		{"panics with an error value", "provider panicked", f.quiet, func(context.Context, net.Conn, *api.Config) (api.Conn, error) {
			panic(errors.New("boom"))
		}},
		{"ignores its context", "tls: handshake timeout", f.quiet, func(_ context.Context, c net.Conn, _ *api.Config) (api.Conn, error) {
			_, err := c.Read(make([]byte, 1))
			return nil, err
		}},
		{"state panics", "", f.echo, func(ctx context.Context, c net.Conn, cfg *api.Config) (api.Conn, error) {
			conn, err := stdtls.Provider{}.Client(ctx, c, cfg)
			if err != nil {
				return nil, err
			}
			return statePanics{conn}, nil
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x := f.guest(t, f.ctx, func(p *host.Policy) { p.HandshakeTimeout = 200 * time.Millisecond },
				host.WithProvider(api.ProviderFunc("bad", tc.fn)))
			_, in, out := must3(t, x, tc.dest)
			start := time.Now()
			_, _, _, err := x.Handshake("localhost", in, out)
			d := time.Since(start)
			var ioe *rawguest.IOError
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("handshake: %v", err)
			case tc.want != "" && (!errors.As(err, &ioe) || !strings.Contains(ioe.Debug, tc.want)):
				t.Fatalf("got %v, want an io-error containing %q", err, tc.want)
			}
			if d > 200*time.Millisecond+50*time.Millisecond+3*time.Second {
				t.Errorf("took %v", d)
			}
			t.Logf("%s: %v in %v", tc.name, fmtErr(err), d.Round(time.Millisecond))
			_ = x.Close(context.Background())
		})
	}
	// The host still works.
	x := f.guest(t, f.ctx, nil)
	dialTLS(t, x, f.echo.AddrPort(), "localhost")
	_ = x.Close(context.Background())
}

type statePanics struct{ api.Conn }

func (statePanics) State() api.ConnectionState { panic("state exploded") }

func startHS(t *testing.T, x *rawguest.Guest, in, out uint32) uint32 {
	t.Helper()
	fut, err := x.StartHandshake("localhost", in, out)
	if err != nil {
		t.Fatal(err)
	}
	return fut
}

// A Provider that never returns (it ignores its context and its transport):
// the guest still gets a handshake-timeout io-error in time (the deadline,
// the host's backstop and its grace period for the provider), and closing
// the guest does not wait for the provider.
func TestProviderThatNeverReturns(t *testing.T) {
	f := newFixture(t)
	leakCheck(t, f)
	release := make(chan struct{})
	returned := make(chan struct{})
	stuck := api.ProviderFunc("stuck", func(context.Context, net.Conn, *api.Config) (api.Conn, error) {
		defer close(returned)
		<-release
		return nil, errors.New("released")
	})
	const timeout = 200 * time.Millisecond
	x := f.guest(t, f.ctx, func(p *host.Policy) { p.HandshakeTimeout = timeout }, host.WithProvider(stuck))
	_, in, out := must3(t, x, f.quiet)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	x.Ctx = ctx
	start := time.Now()
	_, _, _, err := x.Handshake("localhost", in, out)
	d := time.Since(start)
	var ioe *rawguest.IOError
	if !errors.As(err, &ioe) || !strings.Contains(ioe.Debug, "handshake timeout") {
		t.Errorf("got %v, want a handshake-timeout io-error", err)
	}
	// deadline + backstop (timeout/4) + grace (500 ms) + a loaded machine
	if limit := timeout + timeout/4 + 500*time.Millisecond + 3*time.Second; d > limit {
		t.Errorf("the io-error came after %v, over %v", d, limit)
	}
	t.Logf("after %v: %v", d.Round(time.Millisecond), err)
	closed := make(chan struct{})
	go func() { _ = x.Close(context.Background()); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Error("closing the guest waits for a provider that never returns")
	}
	close(release)
	<-closed
	<-returned // the abandoned provider goroutine ends once released (goleak checks the rest)
}
