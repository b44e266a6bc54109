package e2e

import (
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/conformance"
	"github.com/wasitls/wasitls/conformance/pki"
	"github.com/wasitls/wasitls/host"
	"github.com/wasitls/wasitls/internal/testkit/guestrun"
	"github.com/wasitls/wasitls/internal/testkit/peers"
)

const (
	httpsget = "./internal/guests/httpsget"
	relay    = "./internal/guests/relay"
	probe    = "./internal/guests/probe"
	rusttls  = "./internal/guests/rusttls" // Rust, rustc for wasm32-wasi
	ctls     = "./internal/guests/ctls"    // C, clang + wasi-libc
)

// One runtime and one host for the whole package: guests are isolated by
// the host (each has its own handle table and policy), and modules compile
// once.
var env *guestrun.Env

func TestMain(m *testing.M) {
	env = guestrun.MustNew(host.WithProvider(stdtls.Provider{}))
	guestrun.Main(m, guestrun.Build(httpsget, relay, probe, rusttls, ctls), guestrun.Cleanup(env.Close))
}

// loopback is the policy part every e2e guest gets: loopback only.
var loopback = guestrun.Loopback

// run runs a guest command to completion with policy pol. Under
// TestComponentForm it runs the guest's component form instead.
func run(t *testing.T, pkg string, pol *host.Policy, args ...string) guestrun.Result {
	t.Helper()
	return env.Run(t, asComponent(t, pkg), args, guestrun.Policy(pol))
}

// httpsServer is a net/http HTTPS server on 127.0.0.1 with cert.
func httpsServer(t *testing.T, cert tls.Certificate, body string) (port string) {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s %s\n", body, r.URL.Path, r.Host)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	// Failed handshakes are the point of some tests: keep them out of the log.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port)
}

func TestHTTPSGetCryptoTLS(t *testing.T) {
	p := pki.New(t)
	port := httpsServer(t, p.Server().TLS, "hello from crypto/tls")
	for _, flags := range [][]string{nil, {"-check-write", "-poll-read"}} {
		t.Run(strings.Join(append([]string{"default"}, flags...), ""), func(t *testing.T) {
			r := run(t, httpsget, loopback(host.Policy{RootCAs: p.Roots}), append([]string{"localhost", port, "/path", "localhost"}, flags...)...)
			if r.Exit != 0 {
				t.Fatalf("exit %d, stderr:\n%s", r.Exit, r.Stderr)
			}
			if !strings.HasPrefix(r.Stdout, "HTTP/1.1 200 OK\r\n") {
				t.Fatalf("response does not start with a 200 status line:\n%s", r.Stdout)
			}
			if want := "hello from crypto/tls /path localhost\n"; !strings.HasSuffix(r.Stdout, want) {
				t.Fatalf("response body is not %q:\n%s", want, r.Stdout)
			}
		})
	}
}

// TestCloseNotifyAndShutdown checks what the guest does after the response:
// the server half-closes (close_notify + TCP FIN) and must then read the
// guest's close_notify (a clean io.EOF) and its TCP FIN.
func TestCloseNotifyAndShutdown(t *testing.T) {
	p := pki.New(t)
	ln, err := tls.Listen("tcp4", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{p.Server().TLS}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type outcome struct {
		req      string
		closeErr error // what reading after our CloseWrite returned
		rawErr   error // what the raw TCP read after that returned
	}
	done := make(chan outcome, 1)
	go func() {
		var o outcome
		defer func() { done <- o }()
		c, err := ln.Accept()
		if err != nil {
			o.closeErr = err
			return
		}
		defer c.Close()
		tc := c.(*tls.Conn)
		buf := make([]byte, 4096)
		n, _ := tc.Read(buf)
		o.req = string(buf[:n])
		io.WriteString(tc, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
		tc.CloseWrite()
		_, o.closeErr = tc.Read(buf)
		_, o.rawErr = tc.NetConn().Read(buf)
	}()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	r := run(t, httpsget, loopback(host.Policy{RootCAs: p.Roots}), "localhost", port, "/", "localhost")
	o := <-done
	if r.Exit != 0 {
		t.Fatalf("exit %d, stderr:\n%s", r.Exit, r.Stderr)
	}
	if !strings.HasPrefix(o.req, "GET / HTTP/1.1\r\nHost: localhost\r\n") {
		t.Errorf("request %q", o.req)
	}
	if !strings.HasSuffix(r.Stdout, "\r\n\r\nok") {
		t.Errorf("response %q", r.Stdout)
	}
	if o.closeErr != io.EOF {
		t.Errorf("after the response the server read %v, want io.EOF (the guest's close_notify)", o.closeErr)
	}
	if o.rawErr != io.EOF {
		t.Errorf("after close_notify the server's TCP read returned %v, want io.EOF (the guest's shutdown)", o.rawErr)
	}
}

func TestHTTPSGetOpenSSL(t *testing.T) {
	p := pki.New(t)
	dir := t.TempDir()
	certFile, keyFile := p.Server().WriteFiles(t, dir, "server")
	// -cert reads only the leaf; the intermediate goes in -cert_chain.
	peers.OpenSSL(t) // fails under CI=true when missing; StartOpenSSL only skips
	port := conformance.StartOpenSSL(t, "-cert", certFile, "-cert_chain", certFile, "-key", keyFile, "-www")
	r := run(t, httpsget, loopback(host.Policy{RootCAs: p.Roots}), "localhost", port, "/", "localhost")
	if r.Exit != 0 {
		t.Fatalf("exit %d, stderr:\n%s", r.Exit, r.Stderr)
	}
	if !strings.HasPrefix(r.Stdout, "HTTP/1.0 200 ok\r\n") || !strings.Contains(r.Stdout, "s_server -accept") {
		t.Fatalf("not an s_server status page:\n%s", r.Stdout)
	}
	if !strings.Contains(r.Stdout, "TLSv1.3") {
		t.Errorf("status page does not report TLSv1.3:\n%s", r.Stdout)
	}
}

func TestHTTPSGetWrongName(t *testing.T) {
	p := pki.New(t)
	wrong := p.Issue(pki.Leaf{CommonName: "other.example.test", DNSNames: []string{"other.example.test"}})
	port := httpsServer(t, wrong.TLS, "unreachable")
	r := run(t, httpsget, loopback(host.Policy{RootCAs: p.Roots}), "localhost", port, "/", "localhost")
	if r.Exit != 1 || !strings.HasPrefix(r.Stderr, "error: tls: name mismatch") {
		t.Fatalf("exit %d, stderr %q; want exit 1 and an io-error naming the name mismatch", r.Exit, r.Stderr)
	}
	if r.Stdout != "" {
		t.Errorf("stdout %q, want nothing", r.Stdout)
	}
	t.Logf("guest reported: %s", strings.TrimSpace(r.Stderr))
}

func TestHTTPSGetUnknownAuthority(t *testing.T) {
	p, other := pki.New(t), pki.New(t)
	port := httpsServer(t, p.Server().TLS, "unreachable")
	r := run(t, httpsget, loopback(host.Policy{RootCAs: other.Roots}), "localhost", port, "/", "localhost")
	if r.Exit != 1 || !strings.HasPrefix(r.Stderr, "error: tls: unknown authority") {
		t.Fatalf("exit %d, stderr %q; want exit 1 and an io-error naming the unknown authority", r.Exit, r.Stderr)
	}
	t.Logf("guest reported: %s", strings.TrimSpace(r.Stderr))
}

func TestHTTPSGetConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	r := run(t, httpsget, loopback(host.Policy{}), "127.0.0.1", port, "/", "localhost")
	if r.Exit != 1 || strings.TrimSpace(r.Stderr) != "error: tcp: connection-refused" {
		t.Fatalf("exit %d, stderr %q; want exit 1 and error: tcp: connection-refused", r.Exit, r.Stderr)
	}
}

func TestHTTPSGetDeniedByPolicy(t *testing.T) {
	p := pki.New(t)
	port := httpsServer(t, p.Server().TLS, "unreachable")
	r := run(t, httpsget, &host.Policy{Allow: []string{"127.0.0.1:1"}, RootCAs: p.Roots}, "127.0.0.1", port, "/", "localhost")
	if r.Exit != 1 || strings.TrimSpace(r.Stderr) != "error: tcp: access-denied" {
		t.Fatalf("exit %d, stderr %q; want exit 1 and error: tcp: access-denied", r.Exit, r.Stderr)
	}
}

func TestHTTPSGetUsage(t *testing.T) {
	r := run(t, httpsget, loopback(host.Policy{}), "localhost")
	if r.Exit != 2 || !strings.Contains(r.Stderr, "usage:") {
		t.Fatalf("exit %d, stderr %q; want usage and exit 2", r.Exit, r.Stderr)
	}
}

func TestProbeLookup(t *testing.T) {
	r := run(t, probe, loopback(host.Policy{}), "lookup", "localhost", "127.0.0.1", "::1")
	if r.Exit != 0 {
		t.Fatalf("exit %d, stderr %s", r.Exit, r.Stderr)
	}
	for _, want := range []string{"127.0.0.1 127.0.0.1\n", "::1 ::1\n"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("lookup output lacks %q:\n%s", want, r.Stdout)
		}
	}
	if !strings.Contains(r.Stdout, "localhost 127.0.0.1\n") && !strings.Contains(r.Stdout, "localhost ::1\n") {
		t.Errorf("localhost resolved to no loopback address:\n%s", r.Stdout)
	}

	r = run(t, probe, &host.Policy{Allow: []string{"127.0.0.1:*"}}, "lookup", "localhost")
	if r.Exit != 1 || !strings.Contains(r.Stdout, "localhost error: tcp: ") {
		t.Fatalf("lookup with name lookup disabled: exit %d, stdout %q", r.Exit, r.Stdout)
	}
	t.Logf("lookup without permission: %s", strings.TrimSpace(r.Stdout))
}

func TestProbeClock(t *testing.T) {
	const ms = 50
	r := run(t, probe, &host.Policy{}, "clock", strconv.Itoa(ms))
	if r.Exit != 0 {
		t.Fatalf("exit %d, stderr %s", r.Exit, r.Stderr)
	}
	var res, dur, inst, pollDur int64
	var ready, longReady bool
	var idx string
	_, err := fmt.Sscanf(r.Stdout, "resolution %d\nduration %d ready %t\ninstant %d\npoll %s %d long-ready %t\n",
		&res, &dur, &ready, &inst, &idx, &pollDur, &longReady)
	if err != nil {
		t.Fatalf("parse %q: %v", r.Stdout, err)
	}
	min := int64(ms * time.Millisecond)
	if res <= 0 || dur < min || inst < min || pollDur < min || !ready || longReady || idx != "[1]" {
		t.Fatalf("clock probe:\n%s", r.Stdout)
	}
}

func TestProbeSocketInfo(t *testing.T) {
	for _, tc := range []struct{ network, addr, family string }{
		{"tcp4", "127.0.0.1", "ipv4"},
		{"tcp6", "::1", "ipv6"},
	} {
		t.Run(tc.family, func(t *testing.T) {
			ln, err := net.Listen(tc.network, net.JoinHostPort(tc.addr, "0"))
			if err != nil {
				peers.Unavailable(t, "no %s loopback: %v", tc.family, err)
			}
			defer ln.Close()
			peer := make(chan string, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					peer <- ""
					return
				}
				a := c.RemoteAddr().(*net.TCPAddr)
				peer <- fmt.Sprintf("%s:%d", a.IP, a.Port)
				io.Copy(io.Discard, c)
				c.Close()
			}()
			port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
			r := run(t, probe, loopback(host.Policy{}), "sockinfo", tc.addr, port)
			if r.Exit != 0 {
				t.Fatalf("exit %d, stderr %s", r.Exit, r.Stderr)
			}
			guestAddr := <-peer
			for _, want := range []string{"local " + guestAddr + "\n", "remote " + tc.addr + ":" + port + "\n",
				"family " + tc.family + "\n", "listening false\n", "shutdown <nil>\n",
				"keep-alive true\n", "keep-alive-idle 20s\n", "keep-alive-interval 7s\n", "keep-alive-count 4\n",
				"hop-limit 33\n", "receive-buffer true\n", "send-buffer true\n", "listen-on-connected error tcp: "} {
				if !strings.Contains(r.Stdout, want) {
					t.Errorf("sockinfo lacks %q", want)
				}
			}
			if t.Failed() {
				t.Logf("sockinfo:\n%s", r.Stdout)
			}
		})
	}
}

func TestProbeStreams(t *testing.T) {
	port := guestrun.Serve(t, func(c net.Conn) {
		// Echo until the guest's FIN. The wrappers keep io.Copy off
		// splice(2), whose cached pipes would show up as leaked fds.
		io.Copy(struct{ io.Writer }{c}, struct{ io.Reader }{c})
	})
	r := run(t, probe, loopback(host.Policy{}), "streams", "127.0.0.1", port)
	if r.Exit != 0 {
		t.Fatalf("exit %d, stderr %s", r.Exit, r.Stderr)
	}
	// Skipping waits for data, so it may skip fewer than 10 zeroes; the read
	// must then start with the rest of them.
	var skipped int
	var got string
	var spliced, bspliced int
	var gotSpliced string
	if _, err := fmt.Sscanf(r.Stdout, "skipped %d read %q\nspliced %d %d read %q\neof\n", &skipped, &got, &spliced, &bspliced, &gotSpliced); err != nil {
		t.Fatalf("parse %q: %v", r.Stdout, err)
	}
	if want := strings.Repeat("\x00", 10-skipped) + "hello"; skipped < 1 || got != want {
		t.Fatalf("skipped %d then read %q, want %q", skipped, got, want)
	}
	if spliced != 9 || bspliced != 9 || gotSpliced != "splice-me" {
		t.Fatalf("splice round trips: %q", r.Stdout)
	}
}

// TestProbeResetErrorCode: a reset connection fails the guest's read with
// last-operation-failed, whose io-error maps to connection-reset through
// network-error-code.
func TestProbeResetErrorCode(t *testing.T) {
	port := guestrun.Serve(t, func(c net.Conn) {
		var b [1]byte
		if _, err := io.ReadFull(c, b[:]); err != nil { // the guest is connected
			return
		}
		c.Write([]byte("before the reset"))
		c.(*net.TCPConn).SetLinger(0) // close sends RST
	})
	r := run(t, probe, loopback(host.Policy{}), "reset", "127.0.0.1", port)
	if r.Exit != 0 {
		t.Fatalf("exit %d, stderr %s", r.Exit, r.Stderr)
	}
	if !strings.HasPrefix(r.Stdout, "stream error ") || !strings.HasSuffix(r.Stdout, " network-error-code connection-reset true\n") {
		t.Fatalf("probe reset printed %q, want a stream error mapped to connection-reset", r.Stdout)
	}
	t.Logf("%s", strings.TrimSpace(r.Stdout))
}
