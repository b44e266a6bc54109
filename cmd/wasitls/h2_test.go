package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	wapi "github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/conformance/pki"
	"github.com/wasitls/wasitls/internal/testkit/peers"
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

// startNodeH2 runs Node 26's HTTP/2 server with p's server certificate.
func startNodeH2(t *testing.T, p *pki.PKI) string {
	t.Helper()
	certFile, keyFile := p.Server().WriteFiles(t, t.TempDir(), "server")
	return peers.NodeH2(t, certFile, keyFile)
}

// TestFetchSpeaksHTTP2WhenNegotiated: the fetch guest (internal/guests/demo,
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
