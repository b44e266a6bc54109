package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/conformance/pki"
	"github.com/wasitls/wasitls/internal/testkit/guestbuild"
	"github.com/wasitls/wasitls/internal/testkit/guestrun"
)

func TestMain(m *testing.M) { guestrun.Main(m, guestrun.Build(demoguest)) }

const demoguest = "./internal/guests/demo"

// scraper keeps no idle connections (the tests check for goroutines left).
var scraper = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

func scrape(t *testing.T, addr string) string {
	t.Helper()
	resp, err := scraper.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestGuestMetricsAndLogs runs the demo guest (built from source) against
// a loopback HTTPS server through the example, scrapes /metrics while the
// guest holds its connection and after it exited, and reads the JSON logs.
func TestGuestMetricsAndLogs(t *testing.T) {
	wasm := guestbuild.Build(t, demoguest)
	dir := t.TempDir()
	guest := filepath.Join(dir, "demoguest.wasm")
	if err := os.WriteFile(guest, wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	p := pki.New(t)
	p.WriteRoot(t, dir, "ca.pem")

	addrc := make(chan string, 1)
	duringc := make(chan string, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		duringc <- scrape(t, <-addrc)
		fmt.Fprintln(w, "hello")
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{p.Server().TLS}}
	srv.StartTLS()
	defer srv.Close()
	port := fmt.Sprint(srv.Listener.Addr().(*net.TCPAddr).Port)
	policy := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(policy, []byte("backend: stdtls\nallow: [\"127.0.0.1:"+port+"\"]\nca: [ca.pem]\nsystem-roots: false\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr guestrun.Buffer
	ready := make(chan string, 1)
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		code, err := run(ctx, []string{"-policy", policy, "-listen", "127.0.0.1:0", "-linger", guest, "https://localhost:" + port + "/"}, &stdout, &stderr, ready)
		done <- result{code, err}
	}()
	addr := <-ready
	addrc <- addr

	var after string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if after = scrape(t, addr); strings.Contains(after, "wasitls_tls_sent_bytes_total") {
			break
		}
	}
	cancel()
	res := <-done
	if res.code != 0 || res.err != nil || !strings.Contains(stdout.String(), "hello") {
		t.Fatalf("exit %d, %v; stdout %q; stderr:\n%s", res.code, res.err, stdout.String(), stderr.String())
	}

	during := <-duringc
	for _, want := range []string{
		`wasitls_guest_open_tls_connections{guest="demoguest.wasm"} 1`,
		`wasitls_guest_connections{guest="demoguest.wasm"} 1`,
		`wasitls_handshakes_total{backend="stdtls",result="ok"} 1`,
	} {
		if !strings.Contains(during, want) {
			t.Errorf("while the guest was served, /metrics lacks %s:\n%s", want, during)
		}
	}
	for _, want := range []string{
		`wasitls_handshakes_total{backend="stdtls",result="ok"} 1`,
		`wasitls_tcp_connects_total{result="ok"} 1`,
		`wasitls_tls_received_bytes_total{backend="stdtls"}`,
	} {
		if !strings.Contains(after, want) {
			t.Errorf("after the guest, /metrics lacks %s:\n%s", want, after)
		}
	}
	if strings.Contains(after, "wasitls_guest_handles{") {
		t.Errorf("an exited guest is still in the gauges:\n%s", after)
	}
	for _, want := range []string{`"msg":"tls handshake"`, `"guest":"demoguest.wasm"`, `"backend":"stdtls"`, `"version":"TLS 1.3"`, `"msg":"tls closed"`} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("the JSON log lacks %s:\n%s", want, stderr.String())
		}
	}
}
