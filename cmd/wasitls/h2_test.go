package main

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	wapi "github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/conformance/pki"
	"github.com/wasitls/wasitls/internal/peers"
)

// startGoH2 serves a page over HTTP/2 (h2 preferred, http/1.1 offered) with
// Go's server; the page names the protocol and ALPN the server saw.
func startGoH2(t *testing.T, p *pki.PKI) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from go over %s alpn=%s\n", r.Proto, r.TLS.NegotiatedProtocol)
	}))
	srv.EnableHTTP2 = true
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{p.Server().TLS}, NextProtos: []string{"h2", "http/1.1"}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port)
}

// nodeH2 is a Node.js 26 HTTP/2-only server (no HTTP/1.1 fallback): it
// prints PORT n and serves a page naming the protocol and ALPN it saw.
const nodeH2 = `
const http2 = require('http2'), fs = require('fs');
const [certFile, keyFile] = process.argv.slice(2);
const srv = http2.createSecureServer({cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile)}, (req, res) => {
  res.end('hello from node over HTTP/' + req.httpVersion + ' alpn=' + req.stream.session.alpnProtocol + '\n');
});
srv.on('sessionError', () => {});
srv.listen(0, '127.0.0.1', () => console.log('PORT ' + srv.address().port));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
`

func startNodeH2(t *testing.T, p *pki.PKI) string {
	t.Helper()
	node := peers.Node26(t)
	dir := t.TempDir()
	certFile, keyFile := p.Server().WriteFiles(t, dir, "server")
	script := filepath.Join(dir, "h2.js")
	if err := os.WriteFile(script, []byte(nodeH2), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout, stderr := peers.Start(t, exec.Command(node, script, certFile, keyFile))
	sc := bufio.NewScanner(stdout)
	if sc.Scan() {
		if port, ok := strings.CutPrefix(sc.Text(), "PORT "); ok {
			return port
		}
	}
	t.Fatalf("node did not start: %q\n%s", sc.Text(), stderr)
	return ""
}

// TestFetchSpeaksHTTP2WhenNegotiated: the fetch guest (cmd/wasitls/demoguest,
// net/http over wasinet/wasihttp) gets a page over HTTP/2 from Go's and
// Node 26's h2 servers, and over HTTP/1.1 from an HTTP/1.1-only server,
// with every backend (utls as chrome and firefox); -v logs the ALPN.
func TestFetchSpeaksHTTP2WhenNegotiated(t *testing.T) {
	guest := guestFile(t, demoGuestSrc)
	p := pki.New(t)
	caFile := p.WriteRoot(t, t.TempDir(), "ca.pem")
	servers := []struct {
		name, port, page, alpn string
	}{
		{"go h2", startGoH2(t, p), "hello from go over HTTP/2.0 alpn=h2", "h2"},
		{"node26 h2", startNodeH2(t, p), "hello from node over HTTP/2.0 alpn=h2", "h2"},
		{"go http/1.1 only", startHTTPS(t, p, nil), "hello anonymous over TLS 1.3 alpn=http/1.1", "http/1.1"},
	}
	var backends [][]string
	for _, b := range wapi.Names() {
		if b == "utls" {
			backends = append(backends, []string{"-backend", "utls", "-fingerprint", "chrome"}, []string{"-backend", "utls", "-fingerprint", "firefox"})
			continue
		}
		backends = append(backends, []string{"-backend", b})
	}
	if !slices.Contains(wapi.Names(), "stdtls") {
		t.Fatal("no stdtls in this build")
	}
	for _, s := range servers {
		for _, b := range backends {
			name := s.name + " " + strings.Join(b, " ") + ": " + s.alpn
			t.Run(name, func(t *testing.T) {
				args := append([]string{"run"}, b...)
				args = append(args, "-ca", caFile, "-allow", "127.0.0.1:"+s.port, "-v", guest, "https://localhost:"+s.port+"/")
				r := runCLI(t, args...)
				if r.code != 0 || !strings.Contains(r.stdout, s.page) {
					t.Fatalf("exit %d, stdout %q; want %q", r.code, r.stdout, s.page)
				}
				if !strings.Contains(r.stderr, "alpn="+s.alpn) {
					t.Errorf("the -v log does not show alpn=%s:\n%s", s.alpn, r.stderr)
				}
			})
		}
	}
}
