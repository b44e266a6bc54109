package main

import (
	"bytes"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/conformance"
	"github.com/wasitls/wasitls/conformance/pki"
	"github.com/wasitls/wasitls/internal/testkit/peers"
)

// TestRunForeignGuests runs the Rust and C guests (their own canonical-ABI
// code; requests written with check-write + write, no flush) with
// `wasitls run` against OpenSSL's s_server.
func TestRunForeignGuests(t *testing.T) {
	p := pki.New(t)
	dir := t.TempDir()
	certFile, keyFile := p.Server().WriteFiles(t, dir, "server")
	caFile := p.WriteRoot(t, dir, "ca.pem")
	peers.OpenSSL(t) // fails under CI=true when missing; StartOpenSSL only skips
	port := conformance.StartOpenSSL(t, "-cert", certFile, "-cert_chain", certFile, "-key", keyFile, "-www")
	for _, pkg := range []string{"./internal/guests/rusttls", "./internal/guests/ctls"} {
		t.Run(filepath.Base(pkg), func(t *testing.T) {
			guest := guestFile(t, pkg)
			r := runCLI(t, "run", "-backend", "stdtls", "-ca", caFile, "-allow", "127.0.0.1:"+port, "-timeout", "30s",
				guest, "get", "localhost", port, "/", "localhost")
			if r.code != 0 || !strings.HasPrefix(r.stdout, "HTTP/1.0 200 ok\r\n") || !strings.Contains(r.stdout, "TLSv1.3") {
				t.Errorf("exit code %d; want 0 and s_server's status page over TLS 1.3", r.code)
			}
		})
	}
}

// TestRunCommandWorldGuest runs a C guest that uses the WASI 0.2 command
// world directly (wasi:cli environment, arguments, stdout, stderr, exit;
// wasi:filesystem preopens and descriptors) and then fetches a page over
// TLS, configured only by `wasitls run` flags.
func TestRunCommandWorldGuest(t *testing.T) {
	guest := guestFile(t, "./internal/guests/cworld")
	p := pki.New(t)
	dir := t.TempDir()
	certFile, keyFile := p.Server().WriteFiles(t, dir, "server")
	caFile := p.WriteRoot(t, dir, "ca.pem")
	peers.OpenSSL(t) // fails under CI=true when missing; StartOpenSSL only skips
	port := conformance.StartOpenSSL(t, "-cert", certFile, "-cert_chain", certFile, "-key", keyFile, "-www")
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "hello.txt"), []byte("from the mount"), 0o644); err != nil {
		t.Fatal(err)
	}
	url := "https://localhost:" + port + "/"

	r := runCLI(t, "run", "-backend", "stdtls", "-env", "GREETING=hi there", "-mount", data+":/data:ro", "-ca", caFile,
		"-allow", "127.0.0.1:"+port, "-timeout", "30s", guest, url)
	want := "hello from cworld\nGREETING=hi there\n/data/hello.txt: from the mount\nHTTP/1.0 200 ok\r\n"
	if r.code != 0 || !strings.HasPrefix(r.stdout, want) || !strings.Contains(r.stdout, "TLSv1.3") {
		t.Errorf("exit code %d; want 0 and stdout starting %q, then s_server's page over TLS 1.3", r.code, want)
	}

	// A 4 MiB body through the copy loop (TLS input -> stdout) arrives whole.
	body := bytes.Repeat([]byte("0123456789abcdef"), 256<<10)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body))) // not chunked
		w.Write(body)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{p.Server().TLS}}
	srv.StartTLS()
	defer srv.Close()
	big := "https://localhost:" + strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port) + "/big"
	r = runCLI(t, "run", "-backend", "stdtls", "-env", "GREETING=x", "-mount", data+":/data", "-ca", caFile,
		"-allow", "127.0.0.1:*", "-timeout", "30s", guest, big)
	if r.code != 0 || !strings.HasSuffix(r.stdout, "\r\n\r\n"+string(body)) {
		t.Errorf("4 MiB body: exit code %d, %d bytes of stdout", r.code, len(r.stdout))
	}

	// Each input missing in turn: the guest says which on its stderr
	// (wasi:cli/stderr) and exits 1 (wasi:cli/exit).
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no env", []string{"-mount", data + ":/data", "-allow", "127.0.0.1:" + port, guest, url}, "error: GREETING: not set"},
		{"no mount", []string{"-env", "GREETING=x", "-allow", "127.0.0.1:" + port, guest, url}, "error: /data/hello.txt: no preopened directory"},
		{"not allowed", []string{"-env", "GREETING=x", "-mount", data + ":/data", "-allow", "127.0.0.1:1", guest, url}, "error: " + url + ": tcp: access-denied"},
		{"untrusted", []string{"-env", "GREETING=x", "-mount", data + ":/data", "-allow", "127.0.0.1:" + port, guest, url}, "error: " + url + ": tls: unknown authority"},
	} {
		r := runCLI(t, append([]string{"run", "-backend", "stdtls", "-timeout", "30s"}, tc.args...)...)
		if r.code != 1 || !strings.HasPrefix(r.stderr, tc.want) {
			t.Errorf("%s: exit code %d, stderr %q; want 1 and %q", tc.name, r.code, r.stderr, tc.want)
		}
	}
}
