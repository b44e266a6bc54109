package serving

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/backends/pq"
	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/conformance/pki"
	"github.com/wasitls/wasitls/host"
	"github.com/wasitls/wasitls/internal/testkit/guestrun"
	"github.com/wasitls/wasitls/internal/testkit/peers"
)

const serverGuest = "./examples/guest-https-server"

var env *guestrun.Env

func TestMain(m *testing.M) {
	env = guestrun.MustNew()
	guestrun.Main(m, guestrun.Build(serverGuest), guestrun.Cleanup(env.Close))
}

// site is the PKI of a test: a root, a certificate for a.test, the
// default certificate (localhost, 127.0.0.1) and a client certificate,
// also as files for the command-line peers.
type testSite struct {
	pki                 *pki.PKI
	a, def, alice       *pki.Cert
	rootFile            string
	aliceCert, aliceKey string
	dir                 string
}

func newSite(t testing.TB) *testSite {
	p := pki.New(t)
	s := &testSite{pki: p, dir: t.TempDir()}
	s.a = p.Issue(pki.Leaf{CommonName: "a.test", DNSNames: []string{"a.test"}})
	s.def = p.Server()
	s.alice = p.Client("alice")
	s.rootFile = p.WriteRoot(t, s.dir, "root.pem")
	s.aliceCert, s.aliceKey = s.alice.WriteFiles(t, s.dir, "alice")
	return s
}

func (s *testSite) serve(mtls bool) *host.ServePolicy {
	sp := &host.ServePolicy{
		Certificates: []host.ServerCertificate{
			{ServerNames: []string{"a.test"}, Certificate: &s.a.TLS},
			{Certificate: &s.def.TLS},
		},
		NextProtos: []string{"h2", "http/1.1"},
	}
	if mtls {
		sp.ClientCAs = s.pki.Roots
	}
	return sp
}

// server is a running server guest.
type server struct {
	addr   netip.AddrPort
	stderr func() string
}

// lineWriter passes each complete line to fn.
type lineWriter struct {
	mu  sync.Mutex
	buf []byte
	fn  func(string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		w.fn(string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
}

// startServer runs the server guest on 127.0.0.1 (a port the host picks)
// under pol until the test ends.
func startServer(t testing.TB, pol *host.Policy, p api.Provider, args ...string) *server {
	t.Helper()
	return startServerOpts(t, pol, p, nil, args...)
}

// startServerOpts is startServer with more run options.
func startServerOpts(t testing.TB, pol *host.Policy, p api.Provider, opts []guestrun.RunOption, args ...string) *server {
	t.Helper()
	pol.Listen = append(pol.Listen, "127.0.0.1:*")
	ctx, cancel := context.WithCancel(context.Background())
	listening := make(chan string, 1)
	w := &lineWriter{fn: func(l string) {
		if a, ok := strings.CutPrefix(l, "listening "); ok {
			listening <- a
		}
	}}
	type outcome struct {
		r   guestrun.Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		r, err := env.Exec(serverGuest, append([]string{"127.0.0.1:0"}, args...), append([]guestrun.RunOption{guestrun.Context(ctx), guestrun.Timeout(5 * time.Minute),
			guestrun.Stdout(w), guestrun.Provider(p), guestrun.Policy(pol)}, opts...)...)
		done <- outcome{r, err}
	}()
	var last outcome
	stopped := false
	t.Cleanup(func() {
		cancel()
		if !stopped {
			last = <-done
		}
	})
	select {
	case a := <-listening:
		ap, err := netip.ParseAddrPort(a)
		if err != nil {
			t.Fatalf("the guest announced %q", a)
		}
		return &server{addr: ap, stderr: func() string { return last.r.Stderr }}
	case o := <-done:
		stopped = true
		t.Fatalf("the server guest ended before listening: %v, exit %d, stderr:\n%s", o.err, o.r.Exit, o.r.Stderr)
	case <-time.After(2 * time.Minute):
		t.Fatal("the server guest did not start listening")
	}
	return nil
}

func (s *server) port() string { return fmt.Sprint(s.addr.Port()) }

// curl runs curl against the server with args; it returns stdout, or
// fails the test.
func curl(t *testing.T, ok bool, args ...string) string {
	t.Helper()
	cmd := exec.Command(peers.Curl(t), append([]string{"-sS", "--max-time", "20"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if ok && err != nil {
		t.Fatalf("curl %q: %v\n%s", args, err, stderr.String())
	}
	if !ok && err == nil {
		t.Fatalf("curl %q succeeded, want a failure:\n%s", args, out)
	}
	return string(out)
}

// curl serves HTTP/1.1 and HTTP/2; SNI chooses the certificate (curl
// verifies each name against the root: a.test's certificate for a.test,
// the default for localhost); the guest reads the name and the ALPN.
func TestCurl(t *testing.T) {
	s := newSite(t)
	srv := startServer(t, &host.Policy{Serve: s.serve(false)}, stdtls.Provider{})
	resolve := "a.test:" + srv.port() + ":127.0.0.1"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--http1.1", "--resolve", resolve, "https://a.test:" + srv.port() + "/"}, `proto=HTTP/1.1 sni="a.test" alpn="http/1.1"`},
		{[]string{"--http2", "--resolve", resolve, "https://a.test:" + srv.port() + "/"}, `proto=HTTP/2.0 sni="a.test" alpn="h2"`},
		{[]string{"--http1.1", "https://localhost:" + srv.port() + "/"}, `sni="localhost" alpn="http/1.1"`},
		{[]string{"--http2", "--tlsv1.2", "--tls-max", "1.2", "https://localhost:" + srv.port() + "/"}, `proto=HTTP/2.0 sni="localhost" alpn="h2"`},
	} {
		out := curl(t, true, append([]string{"--cacert", s.rootFile}, tc.args...)...)
		if !strings.Contains(out, tc.want) {
			t.Errorf("curl %q: %q, want %q", tc.args, out, tc.want)
		}
	}
	// A 1 MiB body both ways.
	body := strings.Repeat("0123456789abcdef", 1<<16)
	bodyFile := filepath.Join(s.dir, "body")
	if err := os.WriteFile(bodyFile, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	out := curl(t, true, "--cacert", s.rootFile, "--data-binary", "@"+bodyFile, "https://localhost:"+srv.port()+"/echo")
	if out != body {
		t.Fatalf("echo returned %d bytes, want %d", len(out), len(body))
	}
}

// OpenSSL s_client over TLS 1.2 and 1.3 verifies the chain for the name
// it sends, and gets the guest's answer.
func TestOpenSSLClient(t *testing.T) {
	s := newSite(t)
	srv := startServer(t, &host.Policy{Serve: s.serve(false)}, stdtls.Provider{})
	for _, v := range []string{"-tls1_2", "-tls1_3"} {
		out := sClient(t, srv, v, "-servername", "a.test", "-verify_hostname", "a.test", "-CAfile", s.rootFile)
		for _, want := range []string{"Verify return code: 0 (ok)", `sni="a.test"`, "CN = a.test", map[string]string{"-tls1_2": "TLSv1.2", "-tls1_3": "TLSv1.3"}[v]} {
			if !strings.Contains(out, want) {
				t.Errorf("s_client %s: no %q in\n%s", v, want, out)
			}
		}
	}
}

// sClient sends one HTTP/1.0 request through openssl s_client and returns
// everything it printed.
func sClient(t *testing.T, srv *server, args ...string) string {
	t.Helper()
	cmd := exec.Command(peers.OpenSSL(t), append([]string{"s_client", "-connect", srv.addr.String(), "-ign_eof", "-verify_return_error"}, args...)...)
	cmd.Stdin = strings.NewReader("GET / HTTP/1.0\r\nHost: x\r\n\r\n")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("s_client %q did not finish:\n%s", args, out.String())
	}
	return out.String()
}

// With -client-ca (ServePolicy.ClientCAs): curl and s_client without a
// certificate are refused; with one, the guest reads its subject. The
// guest never holds a key (host tests scan its memory).
func TestMutualTLS(t *testing.T) {
	s := newSite(t)
	srv := startServer(t, &host.Policy{Serve: s.serve(true)}, stdtls.Provider{})
	url := "https://localhost:" + srv.port() + "/"
	curl(t, false, "--cacert", s.rootFile, url)
	if out := curl(t, true, "--cacert", s.rootFile, "--cert", s.aliceCert, "--key", s.aliceKey, url); !strings.Contains(out, `client="alice"`) {
		t.Fatalf("with a client certificate: %q", out)
	}
	out := sClient(t, srv, "-tls1_3", "-CAfile", s.rootFile, "-cert", s.aliceCert, "-key", s.aliceKey, "-cert_chain", s.aliceCert)
	if !strings.Contains(out, `client="alice"`) {
		t.Fatalf("s_client with a certificate:\n%s", out)
	}
	if out := sClient(t, srv, "-tls1_2", "-CAfile", s.rootFile); strings.Contains(out, "hello from a wasm guest") {
		t.Fatalf("s_client without a certificate was served:\n%s", out)
	}
}

// Node.js 26's https client.
func TestNodeClient(t *testing.T) {
	node := peers.Node26(t)
	s := newSite(t)
	srv := startServer(t, &host.Policy{Serve: s.serve(false)}, stdtls.Provider{})
	script := `
const https = require("https"), fs = require("fs");
https.get({host: "127.0.0.1", port: +process.argv[1], servername: "a.test", path: "/", ca: fs.readFileSync(process.argv[2])}, res => {
  const proto = res.socket.getProtocol(); let body = ""; res.on("data", d => body += d);
  res.on("end", () => { console.log(proto + " " + body.trim()); });
}).on("error", e => { console.error(e.message); process.exit(1); });`
	cmd := exec.Command(node, "-e", script, srv.port(), s.rootFile)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "TLSv1.3") || !strings.Contains(string(out), `sni="a.test"`) {
		t.Fatalf("node: %s", out)
	}
}

// Go clients, many at once with keep-alive: every request is served,
// while connections that never start their handshake and one that stalls
// mid-handshake sit idle (the guest serves each connection on its own
// goroutine; the single-threaded guest runs the others meanwhile).
func TestConcurrentClientsAndIdleConnections(t *testing.T) {
	s := newSite(t)
	srv := startServer(t, &host.Policy{Serve: s.serve(false), HandshakeTimeout: 3 * time.Second, Limits: host.Limits{Connections: 256}}, stdtls.Provider{})
	// Idle and half-done connections first.
	var idle []net.Conn
	for range 20 {
		c, err := net.Dial("tcp", srv.addr.String())
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	half, err := net.Dial("tcp", srv.addr.String())
	if err != nil {
		t.Fatal(err)
	}
	_, _ = half.Write([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01}) // a ClientHello header, then nothing
	idle = append(idle, half)
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.pki.Roots}, MaxIdleConnsPerHost: 100}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 5 {
				resp, err := client.Get(fmt.Sprintf("https://localhost:%s/bytes?n=%d", srv.port(), 1000*i+j))
				if err != nil {
					errs <- err
					return
				}
				n, err := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || n != int64(1000*i+j) {
					errs <- fmt.Errorf("got %d bytes (%v), want %d", n, err, 1000*i+j)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// The half-done handshake ends at the host's handshake timeout: the
	// client sees the connection closed.
	_ = half.SetReadDeadline(time.Now().Add(15 * time.Second))
	if _, err := io.Copy(io.Discard, half); err != nil && strings.Contains(err.Error(), "timeout") {
		t.Fatalf("a stalled handshake was not ended by the handshake timeout: %v", err)
	}
}

// More clients than the guest's connection quota: the ones past it are
// reset at accept (the in-quota ones wait for their handshake), the guest
// keeps serving, and once the idle clients leave, new ones are served.
func TestConnectionQuota(t *testing.T) {
	s := newSite(t)
	srv := startServer(t, &host.Policy{Serve: s.serve(false), HandshakeTimeout: time.Minute, Limits: host.Limits{Connections: 8}}, stdtls.Provider{})
	const n, accepted = 12, 7 // the listener holds one of the 8 slots
	var conns []net.Conn
	resets, waiting := 0, 0
	for range n {
		c, err := net.Dial("tcp", srv.addr.String())
		if errors.Is(err, syscall.ECONNRESET) {
			// The guest accepted and the host reset it before the
			// dial saw its connect complete (loopback is that fast).
			resets++
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err := c.Read(make([]byte, 1))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, syscall.ECONNRESET):
				resets++
			case errors.Is(err, os.ErrDeadlineExceeded):
				waiting++
			default:
				t.Errorf("a client read %v", err)
			}
		}()
	}
	wg.Wait()
	if resets != n-accepted || waiting != accepted {
		t.Fatalf("%d clients reset and %d waiting, want %d and %d", resets, waiting, n-accepted, accepted)
	}
	for _, c := range conns {
		c.Close()
	}
	// Served again once the slots came back: the host ends a handshake
	// whose client left, and the guest drops that connection.
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := exec.Command(peers.Curl(t), "-sS", "--max-time", "5", "--cacert", s.rootFile, "https://localhost:"+srv.port()+"/").Output()
		if err == nil && strings.Contains(string(out), "hello from a wasm guest") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not served after the idle clients left: %v %s", err, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Plain HTTP from wasinet.Listen, for a guest that serves without TLS.
func TestPlainHTTP(t *testing.T) {
	srv := startServer(t, &host.Policy{}, stdtls.Provider{}, "plain")
	resp, err := http.Get("http://" + srv.addr.String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if !strings.HasPrefix(string(b), "hello from a wasm guest; proto=HTTP/1.1") {
		t.Fatalf("plain GET: %q", b)
	}
}

// The pq backend serves Node.js 26 (OpenSSL 3.5) over each hybrid ML-KEM
// group, and refuses a Node client that offers only classical groups (the
// guest's handshake fails, the client gets an alert).
func TestNodeHybridGroupsAgainstPQ(t *testing.T) {
	node := peers.Node26(t)
	s := newSite(t)
	p, err := pq.New()
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, &host.Policy{Serve: s.serve(false)}, p)
	script := `
const tls = require("tls"), fs = require("fs");
const c = tls.connect({host: "127.0.0.1", port: +process.argv[1], servername: "localhost", ca: fs.readFileSync(process.argv[2]), ecdhCurve: process.argv[3]}, () => {
  c.write("GET / HTTP/1.0\r\nHost: localhost\r\n\r\n");
});
let body = ""; c.on("data", d => body += d);
c.on("end", () => { console.log(body.split("\r\n\r\n")[1].trim()); });
c.on("error", e => { console.error(e.message); process.exit(1); });`
	for _, group := range []string{"X25519MLKEM768", "SecP256r1MLKEM768", "SecP384r1MLKEM1024"} {
		out, err := exec.Command(node, "-e", script, srv.port(), s.rootFile, group).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "hello from a wasm guest") {
			t.Errorf("node with %s: %v\n%s", group, err, out)
		}
	}
	if out, err := exec.Command(node, "-e", script, srv.port(), s.rootFile, "X25519:P-256").CombinedOutput(); err == nil {
		t.Errorf("a classical-only node client was served by the pq backend:\n%s", out)
	}
}

// Clients that reset mid-handshake, send a huge record or plain garbage
// leave the guest serving: each ends its own connection only.
func TestHostileClientsLeaveTheServerServing(t *testing.T) {
	s := newSite(t)
	srv := startServer(t, &host.Policy{Serve: s.serve(false), Limits: host.Limits{Connections: 256}}, stdtls.Provider{})
	hostile := map[string]func(net.Conn){
		"reset mid-handshake": func(c net.Conn) {
			_, _ = c.Write([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00})
			_ = c.(*net.TCPConn).SetLinger(0)
			_ = c.Close() // a reset
		},
		"oversized record": func(c net.Conn) {
			n := 1<<14 + 257
			_, _ = c.Write(append([]byte{0x16, 0x03, 0x01, byte(n >> 8), byte(n)}, make([]byte, n)...))
		},
		"plaintext HTTP": func(c net.Conn) { _, _ = c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")) },
		"16 MiB handshake": func(c net.Conn) {
			_, _ = c.Write([]byte{0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0xff, 0xff, 0xff})
		},
	}
	var wg sync.WaitGroup
	for name, do := range hostile {
		for range 25 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := net.Dial("tcp", srv.addr.String())
				if err != nil {
					t.Errorf("%s: %v", name, err)
					return
				}
				do(c)
				start := time.Now()
				_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
				_, err = io.Copy(io.Discard, c)
				if d := time.Since(start); d > 5*time.Second {
					t.Logf("%s: ended after %v (%v)", name, d, err)
				}
				c.Close()
			}()
		}
	}
	wg.Wait()
	out := curl(t, true, "--cacert", s.rootFile, "https://localhost:"+srv.port()+"/")
	if !strings.Contains(out, "hello from a wasm guest") {
		t.Fatalf("after 100 hostile clients: %q", out)
	}
}

// A thousand idle TCP clients against the default quota (64): the guest
// holds what its quota allows, the host holds no more descriptors than
// that (the kernel's backlog keeps the rest, and clients past it wait for
// the kernel), and once they leave, the guest serves again.
func TestThousandIdleClients(t *testing.T) {
	s := newSite(t)
	srv := startServer(t, &host.Policy{Serve: s.serve(false)}, stdtls.Provider{})
	fds := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			peers.Unavailable(t, "no /proc/self/fd to count descriptors: %v", err)
		}
		return len(ents)
	}
	before, beforeFDs := runtime.NumGoroutine(), fds()
	var mu sync.Mutex
	var conns []net.Conn
	var wg sync.WaitGroup
	for range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", srv.addr.String(), 3*time.Second)
			if err != nil {
				return // the kernel's backlog is full: the client waits, as for any server
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}()
	}
	wg.Wait()
	time.Sleep(time.Second)
	// The host's goroutines for the guest: a pump and a handshake per
	// accepted connection at most, so bounded by the quota.
	if grown := runtime.NumGoroutine() - before; grown > 4*host.DefaultMaxConnections {
		t.Errorf("%d more goroutines with %d idle clients", grown, len(conns))
	}
	// Descriptors: the clients' own, plus what the host accepted, which
	// the quota bounds (and one accepted ahead of the guest).
	if held := fds() - beforeFDs - len(conns); held > host.DefaultMaxConnections+8 {
		t.Errorf("the host holds %d descriptors for %d idle clients, over the quota of %d", held, len(conns), host.DefaultMaxConnections)
	}
	t.Logf("%d of 1000 clients connected", len(conns))
	for _, c := range conns {
		c.Close()
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := exec.Command(peers.Curl(t), "-sS", "--max-time", "5", "--cacert", s.rootFile, "https://localhost:"+srv.port()+"/").Output()
		if err == nil && strings.Contains(string(out), "hello from a wasm guest") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not served 30s after the idle clients left: %v %s", err, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
