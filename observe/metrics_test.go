package observe_test

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/conformance/pki"
	"github.com/wasitls/wasitls/host"
	"github.com/wasitls/wasitls/internal/testkit/guestrun"
	"github.com/wasitls/wasitls/observe"
)

const httpsget = "./internal/guests/httpsget"

func TestMain(m *testing.M) { guestrun.Main(m, guestrun.Build(httpsget)) }

// serveHTTPS answers one HTTP request per connection over TLS with cert;
// during each request it calls during (if set), while the guest holds the
// connection open.
func serveHTTPS(t *testing.T, cert tls.Certificate, during func()) string {
	return guestrun.Serve(t, func(c net.Conn) {
		tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}})
		if err := tc.Handshake(); err != nil {
			return
		}
		req, err := bufio.NewReader(tc).ReadString('\n')
		if err != nil || !strings.HasPrefix(req, "GET ") {
			return
		}
		if during != nil {
			during()
		}
		io.WriteString(tc, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
		tc.Close()
	})
}

// TestMetricsAndLogsFromRealGuests: an embedder passes Metrics.Observe and a
// slog.Logger to the host and gets counters, per-guest gauges and searchable
// log records for real guests: one fetch, one denial, one handshake that
// fails verification.
func TestMetricsAndLogsFromRealGuests(t *testing.T) {
	var logs guestrun.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	env := guestrun.NewT(t, host.WithLogger(logger), host.WithProvider(stdtls.Provider{}))
	m := observe.NewMetrics()
	m.Watch(env.Host)

	p := pki.New(t)
	var during observe.Snapshot
	port := serveHTTPS(t, p.Server().TLS, func() { during = m.Snapshot() })
	policy := &host.Policy{Allow: []string{"127.0.0.1:" + port}, NameLookup: true, RootCAs: p.Roots}

	r := env.Run(t, httpsget, []string{"127.0.0.1", port, "/", "localhost"}, guestrun.Policy(policy), guestrun.Observe(m.Observe), guestrun.Name("fetch"))
	if r.Exit != 0 || !strings.HasSuffix(r.Stdout, "hello") {
		t.Fatalf("fetch: exit %d, stdout %q, stderr %q", r.Exit, r.Stdout, r.Stderr)
	}
	r = env.Run(t, httpsget, []string{"127.0.0.1", "1", "/", "localhost"}, guestrun.Policy(policy), guestrun.Observe(m.Observe))
	if r.Exit != 1 || !strings.Contains(r.Stderr, "access-denied") {
		t.Fatalf("denied: exit %d, stderr %q", r.Exit, r.Stderr)
	}
	// A server name that Deny covers: the connect (by address) is allowed,
	// the handshake is refused.
	denyName := &host.Policy{Allow: []string{"127.0.0.1:" + port}, Deny: []string{"localhost:*"}, NameLookup: true, RootCAs: p.Roots}
	r = env.Run(t, httpsget, []string{"127.0.0.1", port, "/", "localhost"}, guestrun.Policy(denyName), guestrun.Observe(m.Observe))
	if r.Exit != 1 || !strings.Contains(r.Stderr, "policy denied") {
		t.Fatalf("denied server name: exit %d, stderr %q", r.Exit, r.Stderr)
	}
	untrusted := pki.New(t).Server().TLS
	badPort := serveHTTPS(t, untrusted, nil)
	bad := &host.Policy{Allow: []string{"127.0.0.1:" + badPort}, NameLookup: true, RootCAs: p.Roots}
	r = env.Run(t, httpsget, []string{"127.0.0.1", badPort, "/", "localhost"}, guestrun.Policy(bad), guestrun.Observe(m.Observe))
	if r.Exit != 1 || !strings.Contains(r.Stderr, "unknown authority") {
		t.Fatalf("untrusted: exit %d, stderr %q", r.Exit, r.Stderr)
	}

	// While the fetch's request was served, its guest held one connection.
	if len(during.Guests) != 1 {
		t.Fatalf("gauges during the fetch: %+v", during.Guests)
	}
	g := during.Guests[0]
	if g.Name != "fetch" || g.OpenConns != 1 || g.Connections != 1 || g.Handles < 3 {
		t.Errorf("gauges during the fetch: %+v", g)
	}

	s := m.Snapshot()
	want := []observe.HandshakeCount{
		{Backend: "stdtls", Result: observe.ResultOK, N: 1},
		{Backend: "stdtls", Result: api.KindUnknownAuthority.String(), N: 1},
	}
	if len(s.Handshakes) != 2 || s.Handshakes[0] != want[0] || s.Handshakes[1] != want[1] {
		t.Errorf("handshakes %+v, want %+v", s.Handshakes, want)
	}
	if len(s.Denials) != 2 || s.Denials[0] != (observe.Count{Key: "connect", N: 1}) || s.Denials[1] != (observe.Count{Key: "handshake", N: 1}) {
		t.Errorf("denials %+v", s.Denials)
	}
	if len(s.Connects) != 1 || s.Connects[0] != (observe.Count{Key: observe.ResultOK, N: 3}) {
		t.Errorf("connects %+v", s.Connects)
	}
	// The request the guest sent and the 5-byte body with headers.
	if len(s.Bytes) != 1 || s.Bytes[0].Backend != "stdtls" || s.Bytes[0].Out < uint64(len("GET / HTTP/1.1\r\n")) || s.Bytes[0].In < 5 {
		t.Errorf("bytes %+v", s.Bytes)
	}
	if len(s.Guests) != 0 {
		t.Errorf("closed guests still in the gauges: %+v", s.Guests)
	}

	// The host's log: one JSON record per event, fields as keys.
	recs := map[string]map[string]any{}
	for line := range strings.Lines(logs.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if _, seen := recs[rec["msg"].(string)]; !seen { // the first of each
			recs[rec["msg"].(string)] = rec
		}
	}
	if h := recs["tls handshake"]; h["guest"] != "fetch" || h["version"] != "TLS 1.3" || h["backend"] != "stdtls" || h["server"] != "localhost" {
		t.Errorf("handshake record %v", h)
	}
	if h := recs["tls handshake failed"]; h["level"] != "WARN" || h["kind"] != api.KindUnknownAuthority.String() {
		t.Errorf("failed handshake record %v", h)
	}
	if d := recs["denied by policy"]; d["level"] != "WARN" || d["dest"] != "127.0.0.1:1" || d["kind"] != api.KindPolicyDenied.String() {
		t.Errorf("denial record %v", d)
	}
	if c := recs["tls closed"]; c["bytes_in"] == nil || c["bytes_out"] == nil {
		t.Errorf("close record %v", c)
	}
}
