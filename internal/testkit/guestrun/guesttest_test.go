package guestrun

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/conformance/pki"
	"github.com/wasitls/wasitls/host"
)

const httpsget = "./internal/guests/httpsget"

var env *Env

func TestMain(m *testing.M) {
	env = MustNew(host.WithProvider(stdtls.Provider{}))
	Main(m, Build(httpsget), Cleanup(env.Close))
}

func TestLoopback(t *testing.T) {
	base := host.Policy{Allow: make([]string, 1, 4)}
	base.Allow[0] = "db:5432"
	p := Loopback(base)
	if !p.NameLookup || strings.Join(p.Allow, " ") != "db:5432 localhost:* 127.0.0.1:* [::1]:*" {
		t.Errorf("Loopback = %+v", p)
	}
	if got := base.Allow[:cap(base.Allow)][1]; got != "" {
		t.Errorf("Loopback wrote %q into the caller's Allow array", got)
	}
}

// TestRun runs a guest to a TLS server and checks what Run captured: the
// page, the exit code, the host's events (also passed to Observe).
func TestRun(t *testing.T) {
	p := pki.New(t)
	cfg := &tls.Config{Certificates: []tls.Certificate{p.Server().TLS}}
	port := Serve(t, func(c net.Conn) {
		tc := tls.Server(c, cfg)
		if _, err := http.ReadRequest(bufio.NewReader(tc)); err != nil {
			return
		}
		io.WriteString(tc, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
		tc.Close()
	})
	var observed atomic.Int32
	r := env.Run(t, httpsget, []string{"localhost", port, "/", "localhost"},
		Policy(Loopback(host.Policy{RootCAs: p.Roots})), Observe(func(host.ConnEvent) { observed.Add(1) }))
	if r.Exit != 0 || r.Err != nil || !strings.HasSuffix(r.Stdout, "\r\n\r\nhello") {
		t.Fatalf("exit %d, err %v, stdout %q, stderr %q", r.Exit, r.Err, r.Stdout, r.Stderr)
	}
	var handshakes int
	for _, e := range r.Events {
		if e.Phase == host.PhaseHandshake && e.Err == nil && e.Backend == stdtls.Name {
			handshakes++
		}
	}
	if handshakes != 1 || int(observed.Load()) != len(r.Events) {
		t.Errorf("%d successful stdtls handshakes in %d events (%d observed), want 1: %v", handshakes, len(r.Events), observed.Load(), r.Events)
	}

	r = env.Run(t, httpsget, []string{"localhost"})
	if r.Exit != 2 || r.Err != nil || !strings.HasPrefix(r.Stderr, "usage: httpsget") {
		t.Errorf("usage: exit %d, err %v, stderr %q; want exit 2 and the usage line", r.Exit, r.Err, r.Stderr)
	}
}

// TestExecTimeout: a guest stopped by its timeout did not exit by itself;
// Exec says so in Err rather than as an exit code.
func TestExecTimeout(t *testing.T) {
	accepted := make(chan struct{})
	port := Serve(t, func(c net.Conn) {
		close(accepted)
		io.Copy(io.Discard, c) // never answers the ClientHello
	})
	start := time.Now()
	r, err := env.Exec(httpsget, []string{"127.0.0.1", port, "/", "localhost"},
		Policy(Loopback(host.Policy{})), Timeout(500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	<-accepted
	if r.Err == nil || r.Exit != 255 {
		t.Fatalf("exit %d, err %v after %v; want Err set and exit 255", r.Exit, r.Err, time.Since(start))
	}
	t.Logf("stopped after %v: %v", time.Since(start).Round(time.Millisecond), r.Err)
}
