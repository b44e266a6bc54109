package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	wapi "github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/conformance/pki"
)

// startHTTPS serves a page on loopback with a certificate from p that names
// the client certificate's subject when there is one; clientCAs, if set,
// makes a client certificate mandatory. It returns the port.
func startHTTPS(t *testing.T, p *pki.PKI, clientCAs *x509.CertPool) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		who := "anonymous"
		if len(r.TLS.PeerCertificates) > 0 {
			who = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		fmt.Fprintf(w, "hello %s over %s alpn=%s\n", who, tls.VersionName(r.TLS.Version), r.TLS.NegotiatedProtocol)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{p.Server().TLS}}
	if clientCAs != nil {
		srv.TLS.ClientCAs, srv.TLS.ClientAuth = clientCAs, tls.RequireAndVerifyClientCert
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port)
}

// stackWriter collects what the CLI logs and, for each handshake line,
// whether it was written from the host's direct handshake path (the
// provider called on the goroutine of the guest's call) rather than from a
// worker: observe.Inspect logs on the goroutine that ran the handshake.
type stackWriter struct {
	mu     sync.Mutex
	buf    strings.Builder
	direct []bool
}

func (w *stackWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if strings.Contains(string(b), `msg="tls handshake"`) {
		st := make([]byte, 64<<10)
		w.direct = append(w.direct, strings.Contains(string(st[:runtime.Stack(st, false)]), "host.(*Guest).callDirect"))
	}
	return w.buf.Write(b)
}

// TestVerboseKeepsHandshakePath: -v wraps the backend to see its
// ClientHello; the host must still run each backend's handshakes on the
// path its capabilities choose (direct for a backend that honours its
// context), as it does without -v.
func TestVerboseKeepsHandshakePath(t *testing.T) {
	guest := guestFile(t, demoGuestSrc)
	p := pki.New(t)
	caFile := p.WriteRoot(t, t.TempDir(), "ca.pem")
	port := startHTTPS(t, p, nil)
	for _, backend := range wapi.Names() {
		t.Run(backend, func(t *testing.T) {
			prov, err := wapi.Lookup(backend)
			if err != nil {
				t.Fatal(err)
			}
			want := wapi.CapabilitiesOf(prov).HonorsContext
			var stdout strings.Builder
			var stderr stackWriter
			code := run([]string{"run", "-backend", backend, "-ca", caFile, "-allow", "127.0.0.1:" + port, "-v",
				guest, "https://localhost:" + port + "/"}, &stdout, &stderr)
			if code != 0 || !strings.Contains(stdout.String(), "hello anonymous") {
				t.Fatalf("exit %d, stdout %q, stderr:\n%s", code, stdout.String(), stderr.buf.String())
			}
			if len(stderr.direct) != 1 || stderr.direct[0] != want {
				t.Errorf("with -v: handshakes on the direct path %v; the backend honours its context: %v", stderr.direct, want)
			}
		})
	}
}

// TestLogFormatJSON: -log-format json writes one JSON object a line, with
// each event's fields as keys.
func TestLogFormatJSON(t *testing.T) {
	guest := guestFile(t, demoGuestSrc)
	p := pki.New(t)
	caFile := p.WriteRoot(t, t.TempDir(), "ca.pem")
	port := startHTTPS(t, p, nil)
	args := []string{"run", "-backend", "stdtls", "-ca", caFile, "-allow", "127.0.0.1:" + port, "-v", "-log-format", "json", guest}
	ok := runCLI(t, append(args, "https://localhost:"+port+"/")...)
	denied := runCLI(t, append(args, "https://127.0.0.1:1/")...)
	if ok.code != 0 || denied.code != 1 {
		t.Fatalf("exit codes %d, %d; want 0, 1", ok.code, denied.code)
	}
	seen := map[string]map[string]any{}
	sc := bufio.NewScanner(strings.NewReader(ok.stderr + denied.stderr))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "{") {
			continue // the guest's own error line
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not JSON: %q: %v", line, err)
		}
		seen[m["msg"].(string)] = m
	}
	hs := seen["tls handshake"]
	for _, k := range []string{"dest", "server", "backend", "version", "cipher", "group", "alpn", "ja4", "duration"} {
		if _, ok := hs[k]; !ok {
			t.Errorf("tls handshake record lacks %q: %v", k, hs)
		}
	}
	if hs["version"] != "TLS 1.3" || hs["backend"] != "stdtls" || !strings.HasPrefix(fmt.Sprint(hs["ja4"]), "t13d") {
		t.Errorf("tls handshake record: %v", hs)
	}
	if c := seen["tcp connect"]; c["guest"] != "demo" || c["dest"] != "127.0.0.1:"+port {
		t.Errorf("tcp connect record: %v", c)
	}
	if cl := seen["tls closed"]; cl["bytes_in"] == nil || cl["bytes_in"].(float64) == 0 || cl["bytes_out"].(float64) == 0 {
		t.Errorf("tls closed record lacks the bytes: %v", cl)
	}
	if d := seen["denied by policy"]; d["level"] != "WARN" || d["dest"] != "127.0.0.1:1" {
		t.Errorf("denied record: %v", d)
	}
	if r := runCLI(t, "run", "-log-format", "xml", guest); r.code != exitUsage || !strings.Contains(r.stderr, `-log-format "xml": want text or json`) {
		t.Errorf("-log-format xml: exit %d", r.code)
	}
}
