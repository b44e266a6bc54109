package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
	"go.uber.org/goleak"

	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/conformance/pki"
	"github.com/wasitls/wasitls/host"
	"github.com/wasitls/wasitls/internal/guestbuild"
	"github.com/wasitls/wasitls/internal/peers"
)

const (
	httpsget = "./internal/testguests/httpsget"
	relay    = "./internal/testguests/relay"
	probe    = "./internal/testguests/probe"
)

// One runtime and one host for the whole package: guests are isolated by
// the host (each has its own handle table and policy), and modules compile
// once.
var (
	rt  wazero.Runtime
	hst *host.Host
)

func TestMain(m *testing.M) {
	ctx := context.Background()
	rt = wazero.NewRuntimeWithConfig(ctx, guestbuild.RuntimeConfig())
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	hst = host.New(rt, host.WithProvider(stdtls.Provider{}))
	warmUp()
	fdsBefore := openFDs()
	code := m.Run()
	hst.Close(ctx)
	rt.Close(ctx)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
		// Every socket a guest opened must be closed with it.
		if after := openFDs(); fdsBefore >= 0 && after > fdsBefore {
			fmt.Fprintf(os.Stderr, "open file descriptors: %d before the tests, %d after\n%s", fdsBefore, after, describeFDs())
			code = 1
		}
	}
	os.Exit(code)
}

// warmUp makes the process create its long-lived descriptors (the network
// poller, os/exec's) before the baseline count, and builds the guests.
func warmUp() {
	if ln, err := net.Listen("tcp4", "127.0.0.1:0"); err == nil {
		ln.Close()
	}
	for _, pkg := range []string{httpsget, relay, probe} {
		guestbuild.BuildErr(pkg) // errors surface again in the tests
	}
	exec.Command("true").Run()
}

// openFDs counts this process's open file descriptors (-1 if unknown).
func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// describeFDs lists the open descriptors, for the failure message.
func describeFDs() string {
	ents, _ := os.ReadDir("/proc/self/fd")
	var b strings.Builder
	for _, e := range ents {
		target, _ := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		fmt.Fprintf(&b, "  fd %s -> %s\n", e.Name(), target)
	}
	return b.String()
}

var (
	compileMu sync.Mutex
	compiled  = map[string]wazero.CompiledModule{}
)

// compile builds and compiles a guest once per test binary.
func compile(t testing.TB, pkg string) wazero.CompiledModule {
	t.Helper()
	compileMu.Lock()
	defer compileMu.Unlock()
	if cm, ok := compiled[pkg]; ok {
		return cm
	}
	cm := guestbuild.Compile(context.Background(), t, rt, pkg)
	compiled[pkg] = cm
	return cm
}

func ctxFor(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// loopback is the policy part every e2e guest gets: loopback only.
func loopback(p host.Policy) *host.Policy {
	p.Allow = append(p.Allow, "localhost:*", "127.0.0.1:*", "[::1]:*")
	p.NameLookup = true
	return &p
}

func moduleConfig(name string, stdout, stderr io.Writer, args ...string) wazero.ModuleConfig {
	return wazero.NewModuleConfig().
		WithArgs(append([]string{name}, args...)...).
		WithStdout(stdout).WithStderr(stderr).
		WithSysNanosleep().WithSysNanotime().WithSysWalltime().WithRandSource(rand.Reader)
}

type result struct {
	stdout, stderr string
	exit           uint32
}

// run runs a guest command to completion with policy pol.
func run(t *testing.T, pkg string, pol *host.Policy, args ...string) result {
	t.Helper()
	return runWith(t, pkg, []host.Option{host.WithPolicy(pol)}, args...)
}

// runWith runs a guest command to completion with the given host options.
// It may be called from several goroutines of one test.
func runWith(t *testing.T, pkg string, opts []host.Option, args ...string) result {
	t.Helper()
	cm := compile(t, pkg)
	var out, errb bytes.Buffer
	ctx := ctxFor(t)
	g, err := hst.Instantiate(ctx, cm, moduleConfig(filepath.Base(pkg), &out, &errb, args...), opts...)
	if g != nil {
		defer g.Close(ctx)
	}
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *sys.ExitError
	switch {
	case errors.As(err, &ee):
		r.exit = ee.ExitCode()
	case err != nil:
		t.Errorf("%s %q: %v\nstderr: %s", pkg, args, err, r.stderr)
		r.exit = 255
	}
	return r
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
			if r.exit != 0 {
				t.Fatalf("exit %d, stderr:\n%s", r.exit, r.stderr)
			}
			if !strings.HasPrefix(r.stdout, "HTTP/1.1 200 OK\r\n") {
				t.Fatalf("response does not start with a 200 status line:\n%s", r.stdout)
			}
			if want := "hello from crypto/tls /path localhost\n"; !strings.HasSuffix(r.stdout, want) {
				t.Fatalf("response body is not %q:\n%s", want, r.stdout)
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
	if r.exit != 0 {
		t.Fatalf("exit %d, stderr:\n%s", r.exit, r.stderr)
	}
	if !strings.HasPrefix(o.req, "GET / HTTP/1.1\r\nHost: localhost\r\n") {
		t.Errorf("request %q", o.req)
	}
	if !strings.HasSuffix(r.stdout, "\r\n\r\nok") {
		t.Errorf("response %q", r.stdout)
	}
	if o.closeErr != io.EOF {
		t.Errorf("after the response the server read %v, want io.EOF (the guest's close_notify)", o.closeErr)
	}
	if o.rawErr != io.EOF {
		t.Errorf("after close_notify the server's TCP read returned %v, want io.EOF (the guest's shutdown)", o.rawErr)
	}
}

func TestHTTPSGetOpenSSL(t *testing.T) {
	bin := peers.OpenSSL(t)
	p := pki.New(t)
	dir := t.TempDir()
	certFile, keyFile := p.Server().WriteFiles(t, dir, "server")
	// -cert reads only the leaf; the intermediate goes in -cert_chain.
	port := startOpenSSL(t, bin, "-cert", certFile, "-cert_chain", certFile, "-key", keyFile, "-www")
	r := run(t, httpsget, loopback(host.Policy{RootCAs: p.Roots}), "localhost", port, "/", "localhost")
	if r.exit != 0 {
		t.Fatalf("exit %d, stderr:\n%s", r.exit, r.stderr)
	}
	if !strings.HasPrefix(r.stdout, "HTTP/1.0 200 ok\r\n") || !strings.Contains(r.stdout, "s_server -accept") {
		t.Fatalf("not an s_server status page:\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout, "TLSv1.3") {
		t.Errorf("status page does not report TLSv1.3:\n%s", r.stdout)
	}
}

// startOpenSSL runs `openssl s_server` on a free loopback port until the test
// ends and returns the port.
func startOpenSSL(t *testing.T, bin string, args ...string) string {
	t.Helper()
	for attempt := 0; attempt < 5; attempt++ {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
		ln.Close()
		cmd := exec.Command(bin, append([]string{"s_server", "-accept", "127.0.0.1:" + port}, args...)...)
		pr, pw := io.Pipe()
		cmd.Stdout, cmd.Stderr = pw, pw
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		ready := make(chan bool, 1)
		var out bytes.Buffer
		go func() {
			buf := make([]byte, 4096)
			sent := false
			for {
				n, err := pr.Read(buf)
				out.Write(buf[:n])
				if !sent && bytes.Contains(out.Bytes(), []byte("ACCEPT")) {
					ready <- true
					sent = true
				}
				if err != nil {
					if !sent {
						ready <- false
					}
					return
				}
			}
		}()
		exited := make(chan struct{})
		go func() { cmd.Wait(); pw.Close(); close(exited) }()
		if <-ready {
			t.Cleanup(func() { cmd.Process.Kill(); <-exited })
			return port
		}
		<-exited
		if !strings.Contains(out.String(), "in use") {
			t.Fatalf("openssl s_server did not start:\n%s", out.String())
		}
	}
	t.Fatal("openssl s_server: no free port after 5 attempts")
	return ""
}

func TestHTTPSGetWrongName(t *testing.T) {
	p := pki.New(t)
	wrong := p.Issue(pki.Leaf{CommonName: "other.example.test", DNSNames: []string{"other.example.test"}})
	port := httpsServer(t, wrong.TLS, "unreachable")
	r := run(t, httpsget, loopback(host.Policy{RootCAs: p.Roots}), "localhost", port, "/", "localhost")
	if r.exit != 1 || !strings.HasPrefix(r.stderr, "error: tls: name mismatch") {
		t.Fatalf("exit %d, stderr %q; want exit 1 and an io-error naming the name mismatch", r.exit, r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("stdout %q, want nothing", r.stdout)
	}
	t.Logf("guest reported: %s", strings.TrimSpace(r.stderr))
}

func TestHTTPSGetUnknownAuthority(t *testing.T) {
	p, other := pki.New(t), pki.New(t)
	port := httpsServer(t, p.Server().TLS, "unreachable")
	r := run(t, httpsget, loopback(host.Policy{RootCAs: other.Roots}), "localhost", port, "/", "localhost")
	if r.exit != 1 || !strings.HasPrefix(r.stderr, "error: tls: unknown authority") {
		t.Fatalf("exit %d, stderr %q; want exit 1 and an io-error naming the unknown authority", r.exit, r.stderr)
	}
	t.Logf("guest reported: %s", strings.TrimSpace(r.stderr))
}

func TestHTTPSGetConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	r := run(t, httpsget, loopback(host.Policy{}), "127.0.0.1", port, "/", "localhost")
	if r.exit != 1 || strings.TrimSpace(r.stderr) != "error: tcp: connection-refused" {
		t.Fatalf("exit %d, stderr %q; want exit 1 and error: tcp: connection-refused", r.exit, r.stderr)
	}
}

func TestHTTPSGetDeniedByPolicy(t *testing.T) {
	p := pki.New(t)
	port := httpsServer(t, p.Server().TLS, "unreachable")
	r := run(t, httpsget, &host.Policy{Allow: []string{"127.0.0.1:1"}, RootCAs: p.Roots}, "127.0.0.1", port, "/", "localhost")
	if r.exit != 1 || strings.TrimSpace(r.stderr) != "error: tcp: access-denied" {
		t.Fatalf("exit %d, stderr %q; want exit 1 and error: tcp: access-denied", r.exit, r.stderr)
	}
}

func TestHTTPSGetUsage(t *testing.T) {
	r := run(t, httpsget, loopback(host.Policy{}), "localhost")
	if r.exit != 2 || !strings.Contains(r.stderr, "usage:") {
		t.Fatalf("exit %d, stderr %q; want usage and exit 2", r.exit, r.stderr)
	}
}

func TestProbeLookup(t *testing.T) {
	r := run(t, probe, loopback(host.Policy{}), "lookup", "localhost", "127.0.0.1", "::1")
	if r.exit != 0 {
		t.Fatalf("exit %d, stderr %s", r.exit, r.stderr)
	}
	for _, want := range []string{"127.0.0.1 127.0.0.1\n", "::1 ::1\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("lookup output lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stdout, "localhost 127.0.0.1\n") && !strings.Contains(r.stdout, "localhost ::1\n") {
		t.Errorf("localhost resolved to no loopback address:\n%s", r.stdout)
	}

	r = run(t, probe, &host.Policy{Allow: []string{"127.0.0.1:*"}}, "lookup", "localhost")
	if r.exit != 1 || !strings.Contains(r.stdout, "localhost error: tcp: ") {
		t.Fatalf("lookup with name lookup disabled: exit %d, stdout %q", r.exit, r.stdout)
	}
	t.Logf("lookup without permission: %s", strings.TrimSpace(r.stdout))
}

func TestProbeClock(t *testing.T) {
	const ms = 50
	r := run(t, probe, &host.Policy{}, "clock", strconv.Itoa(ms))
	if r.exit != 0 {
		t.Fatalf("exit %d, stderr %s", r.exit, r.stderr)
	}
	var res, dur, inst, pollDur int64
	var ready, longReady bool
	var idx string
	_, err := fmt.Sscanf(r.stdout, "resolution %d\nduration %d ready %t\ninstant %d\npoll %s %d long-ready %t\n",
		&res, &dur, &ready, &inst, &idx, &pollDur, &longReady)
	if err != nil {
		t.Fatalf("parse %q: %v", r.stdout, err)
	}
	min := int64(ms * time.Millisecond)
	if res <= 0 || dur < min || inst < min || pollDur < min || !ready || longReady || idx != "[1]" {
		t.Fatalf("clock probe:\n%s", r.stdout)
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
				t.Skipf("no %s loopback: %v", tc.family, err)
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
			if r.exit != 0 {
				t.Fatalf("exit %d, stderr %s", r.exit, r.stderr)
			}
			guestAddr := <-peer
			for _, want := range []string{"local " + guestAddr + "\n", "remote " + tc.addr + ":" + port + "\n",
				"family " + tc.family + "\n", "listening false\n", "shutdown <nil>\n",
				"keep-alive true\n", "keep-alive-idle 20s\n", "keep-alive-interval 7s\n", "keep-alive-count 4\n",
				"hop-limit 33\n", "receive-buffer true\n", "send-buffer true\n", "listen-on-connected error tcp: "} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("sockinfo lacks %q", want)
				}
			}
			if t.Failed() {
				t.Logf("sockinfo:\n%s", r.stdout)
			}
		})
	}
}

func TestProbeStreams(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		// Echo until the guest's FIN. The wrappers keep io.Copy off
		// splice(2), whose cached pipes would show up as leaked fds.
		io.Copy(struct{ io.Writer }{c}, struct{ io.Reader }{c})
		c.Close()
	}()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	r := run(t, probe, loopback(host.Policy{}), "streams", "127.0.0.1", port)
	if r.exit != 0 {
		t.Fatalf("exit %d, stderr %s", r.exit, r.stderr)
	}
	// Skipping waits for data, so it may skip fewer than 10 zeroes; the read
	// must then start with the rest of them.
	var skipped int
	var got string
	var spliced, bspliced int
	var gotSpliced string
	if _, err := fmt.Sscanf(r.stdout, "skipped %d read %q\nspliced %d %d read %q\neof\n", &skipped, &got, &spliced, &bspliced, &gotSpliced); err != nil {
		t.Fatalf("parse %q: %v", r.stdout, err)
	}
	if want := strings.Repeat("\x00", 10-skipped) + "hello"; skipped < 1 || got != want {
		t.Fatalf("skipped %d then read %q, want %q", skipped, got, want)
	}
	if spliced != 9 || bspliced != 9 || gotSpliced != "splice-me" {
		t.Fatalf("splice round trips: %q", r.stdout)
	}
}

// TestProbeResetErrorCode: a reset connection fails the guest's read with
// last-operation-failed, whose io-error maps to connection-reset through
// network-error-code.
func TestProbeResetErrorCode(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		var b [1]byte
		if _, err := io.ReadFull(c, b[:]); err != nil { // the guest is connected
			c.Close()
			return
		}
		c.Write([]byte("before the reset"))
		c.(*net.TCPConn).SetLinger(0) // close sends RST
		c.Close()
	}()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	r := run(t, probe, loopback(host.Policy{}), "reset", "127.0.0.1", port)
	if r.exit != 0 {
		t.Fatalf("exit %d, stderr %s", r.exit, r.stderr)
	}
	if !strings.HasPrefix(r.stdout, "stream error ") || !strings.HasSuffix(r.stdout, " network-error-code connection-reset true\n") {
		t.Fatalf("probe reset printed %q, want a stream error mapped to connection-reset", r.stdout)
	}
	t.Logf("%s", strings.TrimSpace(r.stdout))
}
