package conformance

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/net/http2"

	"github.com/wasitls/wasitls/internal/testkit/peers"
)

// http2Cases speak HTTP/2 over the backend's connection, asked for with
// ALPN h2 and http/1.1: to Go's server (h2 preferred) and to Node 26's
// http2 module (h2 only), an independent implementation.
var http2Cases = []testCase{
	{name: "HTTP2GoServer", expect: "NegotiatesH2AndGetsAPage", run: caseHTTP2Go},
	{name: "HTTP2Node26", expect: "NegotiatesH2AndGetsAPage", run: caseHTTP2Node},
}

func caseHTTP2Go(t *testing.T, e *env) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from go over %s alpn=%s\n", r.Proto, r.TLS.NegotiatedProtocol)
	}))
	srv.EnableHTTP2 = true
	srv.TLS = serverConfig(e.leaves.ecdsa.TLS)
	srv.TLS.NextProtos = []string{"h2", "http/1.1"}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	e.http2Get(t, srv.Listener.Addr().String(), "hello from go over HTTP/2.0 alpn=h2")
}

func caseHTTP2Node(t *testing.T, e *env) {
	cert, key := e.leaves.ecdsa.WriteFiles(t, t.TempDir(), "server")
	port := peers.NodeH2(t, cert, key)
	e.http2Get(t, net.JoinHostPort("127.0.0.1", port), "hello from node over HTTP/2.0 alpn=h2")
}

// http2Get dials addr offering h2 and http/1.1, requires h2, and GETs a
// page over HTTP/2 (golang.org/x/net/http2 on the backend's connection),
// which must contain want.
func (e *env) http2Get(t *testing.T, addr, want string) {
	t.Helper()
	if !e.caps.ALPNOverride {
		t.Skip("backend does not honour Config.NextProtos exactly (Capabilities.ALPNOverride is false)")
	}
	cfg := e.config(e.leaves.serverName)
	cfg.NextProtos = []string{"h2", "http/1.1"}
	c := e.dial(t, addr, cfg)
	if got := c.State().NegotiatedProtocol; got != "h2" {
		t.Fatalf("ALPN %q, want h2", got)
	}
	cc, err := (&http2.Transport{}).NewClientConn(c)
	if err != nil {
		t.Fatalf("HTTP/2 client connection: %v", err)
	}
	defer cc.Close()
	req, err := http.NewRequestWithContext(ctx(t), http.MethodGet, "https://"+e.leaves.serverName+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := cc.RoundTrip(req)
	if err != nil {
		t.Fatalf("GET over HTTP/2: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.ProtoMajor != 2 || !strings.Contains(string(body), want) {
		t.Fatalf("%s %s, body %q (%v); want HTTP/2 and %q", resp.Proto, resp.Status, body, err, want)
	}
}
