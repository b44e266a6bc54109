package fuzzhost

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"go.uber.org/goleak"

	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/conformance/pki"
	"github.com/wasitls/wasitls/host"
	"github.com/wasitls/wasitls/internal/testkit/loopback"
	"github.com/wasitls/wasitls/internal/testkit/rawguest"
)

func TestMain(m *testing.M) {
	// Warm up the network poller's descriptors before any baseline.
	if ln, err := net.Listen("tcp4", "127.0.0.1:0"); err == nil {
		ln.Close()
	}
	goleak.VerifyTestMain(m)
}

func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// server is a loopback server; WaitIdle waits until every connection it
// accepted has ended.
type server = loopback.Server

// newServer is a loopback server whose connections are served by fn.
func newServer(t testing.TB, network, addr string, fn func(net.Conn)) *server {
	return loopback.ServeOn(t, network, addr, fn)
}

// tlsEcho serves TLS and echoes plaintext until the client closes.
func tlsEcho(cfg *tls.Config) func(net.Conn) {
	return func(c net.Conn) {
		tc := tls.Server(c, cfg)
		_ = tc.SetDeadline(time.Now().Add(20 * time.Second))
		if tc.Handshake() != nil {
			return
		}
		buf := make([]byte, 32<<10)
		for {
			n, err := tc.Read(buf)
			if n > 0 {
				if _, werr := tc.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				_ = tc.CloseWrite()
				return
			}
		}
	}
}

// silent reads until the client goes away and never answers.
func silent(c net.Conn) { _, _ = io.Copy(io.Discard, c) }

// fixture is a runtime, a host and servers shared by a test.
type fixture struct {
	ctx    context.Context
	r      wazero.Runtime
	h      *host.Host
	cm     wazero.CompiledModule
	pki    *pki.PKI
	echo   *loopback.Server // TLS echo, certificate for localhost / 127.0.0.1 / ::1
	echo6  *loopback.Server // the same on [::1]
	quiet  *loopback.Server // never answers
	policy host.Policy
	mounts wazero.FSConfig
}

func newFixture(t testing.TB, opts ...host.Option) *fixture {
	ctx := context.Background()
	// 64 MiB of guest memory at most, as an embedder would cap it: a moved
	// allocator (set_heap) otherwise grows memory to 4 GiB inside a host
	// call's cabi_realloc, and wazero zeroing that takes seconds, whatever
	// the call's context says.
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(true).WithMemoryLimitPages(1024))
	t.Cleanup(func() { _ = r.Close(ctx) })
	h := host.New(r, append([]host.Option{host.WithProvider(stdtls.Provider{})}, opts...)...)
	t.Cleanup(func() { _ = h.Close(ctx) })
	cm, err := rawguest.Compile(ctx, r, "0.2.6")
	if err != nil {
		t.Fatal(err)
	}
	p := pki.New(t)
	cfg := &tls.Config{Certificates: []tls.Certificate{p.Server().TLS}}
	f := &fixture{ctx: ctx, r: r, h: h, cm: cm, pki: p,
		echo:  newServer(t, "tcp4", "127.0.0.1:0", tlsEcho(cfg)),
		quiet: newServer(t, "tcp4", "127.0.0.1:0", silent),
	}
	if ln, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		ln.Close()
		f.echo6 = newServer(t, "tcp6", "[::1]:0", tlsEcho(cfg))
	}
	f.policy = host.Policy{Allow: []string{"127.0.0.1:*", "[::1]:*", "localhost:*"}, NameLookup: true, RootCAs: p.Roots, HandshakeTimeout: 2 * time.Second}
	// A writable and a read-only mount, with a file, a directory and a link
	// out, so that wasi:filesystem calls reach real files (and every one
	// they open is counted in the descriptor check).
	f.mounts = host.NewFSConfig()
	for i, ro := range []bool{false, true} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "f"), []byte("file"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("..", filepath.Join(dir, "out")); err != nil {
			t.Fatal(err)
		}
		if ro {
			f.mounts = f.mounts.WithReadOnlyDirMount(dir, "/ro")
		} else {
			f.mounts = f.mounts.WithDirMount(dir, "/rw"+strconv.Itoa(i))
		}
	}
	return f
}

// guest instantiates a raw guest with the fixture's policy changed by mod.
func (f *fixture) guest(t testing.TB, ctx context.Context, mod func(*host.Policy), opts ...host.Option) *rawguest.Guest {
	t.Helper()
	pol := f.policy
	if mod != nil {
		mod(&pol)
	}
	mc := host.NewModuleConfig().WithName("").WithRandSource(rand.Reader).WithFSConfig(f.mounts).
		WithStdin(strings.NewReader("stdin")).WithStdout(io.Discard).WithStderr(io.Discard)
	x, err := rawguest.NewWithConfig(ctx, f.h, f.cm, mc, append([]host.Option{host.WithPolicy(&pol)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = x.Close(context.Background()) })
	return x
}

// dialTLS connects and handshakes with name; it returns the connection's
// handles or fails the test.
func dialTLS(t testing.TB, x *rawguest.Guest, dest netip.AddrPort, name string) (sock, conn, tin, tout uint32) {
	t.Helper()
	sock, in, out, err := x.Connect(dest)
	if err != nil {
		t.Fatalf("connect %s: %v", dest, err)
	}
	conn, tin, tout, err = x.Handshake(name, in, out)
	if err != nil {
		t.Fatalf("handshake %s: %v", dest, err)
	}
	return sock, conn, tin, tout
}

// settle checks that nothing the guests held is left: no guest, and the
// servers' connections ended.
func (f *fixture) settle(t testing.TB) {
	t.Helper()
	if n := f.h.Guests(); n != 0 {
		t.Errorf("%d guests still open", n)
	}
	for _, s := range []*loopback.Server{f.echo, f.echo6, f.quiet} {
		if s != nil && !s.WaitIdle(10*time.Second) {
			t.Errorf("server %s still has connections 10 s after the guests closed", s.AddrPort())
		}
	}
}

func fmtErr(err error) string {
	if err == nil {
		return "ok"
	}
	return fmt.Sprint(err)
}
