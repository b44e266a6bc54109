package serving

import (
	"crypto/tls"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/host"
	"github.com/wasitls/wasitls/internal/testkit/peers"
)

// Node.js 26's tls.connect with a client certificate against the guest
// with mTLS: the guest reads the client's subject; without a certificate
// the handshake is refused.
func TestNodeMutualTLS(t *testing.T) {
	node := peers.Node26(t)
	s := newSite(t)
	srv := startServer(t, &host.Policy{Serve: s.serve(true)}, stdtls.Provider{})
	script := `
const tls = require("tls"), fs = require("fs");
const [port, ca, cert, key] = process.argv.slice(1);
const opts = {host: "127.0.0.1", port: +port, servername: "localhost", ca: fs.readFileSync(ca), ALPNProtocols: ["http/1.1"]};
if (cert) { opts.cert = fs.readFileSync(cert); opts.key = fs.readFileSync(key); }
const s = tls.connect(opts, () => {
  s.write("GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
});
let out = "";
s.on("data", d => out += d);
s.on("end", () => { console.log(s.getProtocol() + " " + out.split("\r\n\r\n")[1].trim()); });
s.on("error", e => { console.log("error " + e.code + " " + e.message); process.exit(1); });`
	nodeRun := func(args ...string) (string, error) {
		cmd := exec.Command(node, append([]string{"-e", script, srv.port(), s.rootFile}, args...)...)
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	out, err := nodeRun(s.aliceCert, s.aliceKey)
	if err != nil {
		t.Fatalf("node with a client certificate: %v\n%s", err, out)
	}
	for _, want := range []string{"TLSv1.3", `sni="localhost"`, `alpn="http/1.1"`, `client="alice"`} {
		if !strings.Contains(out, want) {
			t.Errorf("node with a client certificate: no %q in %q", want, out)
		}
	}
	// TLS 1.3: the client learns of the refusal when it reads.
	if out, err := nodeRun(); err == nil || strings.Contains(out, "hello from a wasm guest") {
		t.Errorf("node without a client certificate: %v, %q; want refused", err, out)
	}
}

// Go's net/http client over HTTP/2 (ALPN h2, ForceAttemptHTTP2 with a
// custom TLS config): several requests multiplexed on one connection,
// with a client certificate the guest reads, and a body both ways.
func TestGoClientHTTP2(t *testing.T) {
	s := newSite(t)
	srv := startServer(t, &host.Policy{Serve: s.serve(true)}, stdtls.Provider{})
	var conns int
	tr := &http.Transport{ForceAttemptHTTP2: true, TLSClientConfig: &tls.Config{RootCAs: s.pki.Roots, Certificates: []tls.Certificate{s.alice.TLS},
		VerifyConnection: func(tls.ConnectionState) error { conns++; return nil }}}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	base := "https://localhost:" + srv.port()
	for i := range 5 {
		resp, err := client.Get(base + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.ProtoMajor != 2 || resp.TLS == nil || resp.TLS.NegotiatedProtocol != "h2" {
			t.Fatalf("request %d: %s, ALPN %v", i, resp.Proto, resp.TLS)
		}
		for _, want := range []string{"proto=HTTP/2.0", `sni="localhost"`, `alpn="h2"`, `client="alice"`} {
			if !strings.Contains(string(body), want) {
				t.Errorf("request %d: no %q in %q", i, want, body)
			}
		}
	}
	payload := strings.Repeat("wasitls over h2 ", 1<<14) // 256 KiB
	resp, err := client.Post(base+"/echo", "application/octet-stream", strings.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	echo, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(echo) != payload || resp.ProtoMajor != 2 {
		t.Fatalf("echo over %s: %v, %d bytes back of %d", resp.Proto, err, len(echo), len(payload))
	}
	if conns != 1 {
		t.Errorf("%d TLS connections for 6 requests, want 1 (HTTP/2 multiplexes)", conns)
	}
}
