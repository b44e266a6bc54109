package guestnet

import (
	"bufio"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/conformance/pki"
)

// TestConnectionState: a Go guest asks for h2 and http/1.1 with
// wasinet.Dialer.NextProtos, and TLSConn.ConnectionState reports what the
// server saw on each of two connections (the second may resume): version,
// cipher suite, group, ALPN, resumption, and the chain the server sent.
func TestConnectionState(t *testing.T) {
	p := pki.New(t)
	cert := p.Server()
	var chain []string
	for _, der := range cert.TLS.Certificate {
		sum := sha256.Sum256(der)
		chain = append(chain, fmt.Sprintf("%x", sum[:8]))
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert.TLS}, NextProtos: []string{"h2", "http/1.1"}}
	for name, prov := range providers(t) {
		t.Run(name, func(t *testing.T) {
			var (
				mu   sync.Mutex
				seen []tls.ConnectionState
			)
			port := serve(t, func(c net.Conn) {
				tc := tls.Server(c, cfg)
				if err := tc.Handshake(); err != nil {
					return
				}
				mu.Lock()
				seen = append(seen, tc.ConnectionState())
				mu.Unlock()
				line, _ := bufio.NewReader(tc).ReadString('\n')
				_, _ = tc.Write([]byte(line))
				tc.Close()
			})
			r := runGuest(t, connGuest, prov, p, "state", "127.0.0.1:"+port, "localhost", "h2,http/1.1")
			mu.Lock()
			defer mu.Unlock()
			if r.Exit != 0 || len(seen) != 2 {
				t.Fatalf("exit %d, %d connections:\n%s", r.Exit, len(seen), r.Stdout)
			}
			for i, st := range seen {
				got := map[string]string{}
				for _, l := range r.out[strconv.Itoa(i)] {
					k, v, _ := strings.Cut(l, " ")
					got[k] = v
				}
				want := map[string]string{
					"offered":  "h2,http/1.1",
					"version":  fmt.Sprintf("%#04x", st.Version),
					"cipher":   fmt.Sprintf("%#04x", st.CipherSuite),
					"group":    fmt.Sprintf("%#04x", uint16(st.CurveID)),
					"alpn":     st.NegotiatedProtocol,
					"resumed":  strconv.FormatBool(st.DidResume),
					"complete": "true",
					"server":   "localhost",
					"chain":    strings.Join(chain, ","),
				}
				if st.NegotiatedProtocol != "h2" || st.CurveID == 0 && !st.DidResume {
					t.Errorf("connection %d: the server negotiated %q with group %v", i, st.NegotiatedProtocol, st.CurveID)
				}
				for k, w := range want {
					if got[k] != w {
						t.Errorf("connection %d: %s %q, the server saw %q", i, k, got[k], w)
					}
				}
			}
			if name == "stdtls" && !seen[1].DidResume {
				t.Error("stdtls did not resume the second connection: resumption went unchecked")
			}
		})
	}
}

// TestWasiHTTPTransport: three GETs through one wasihttp.Transport go over
// HTTP/2 to a server that negotiates h2 and over HTTP/1.1 to an
// HTTP/1.1-only one, each on the one connection its first dial made (the
// server counts its handshakes).
func TestWasiHTTPTransport(t *testing.T) {
	p := pki.New(t)
	for _, c := range []struct {
		name, proto, alpn string
		h2                bool
	}{
		{"h2 server: HTTP/2.0 on one connection", "HTTP/2.0", "h2", true},
		{"http/1.1-only server: HTTP/1.1 on one connection", "HTTP/1.1", "http/1.1", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var handshakes atomic.Int32
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, "hello over %s", r.Proto)
			}))
			srv.EnableHTTP2 = c.h2
			srv.TLS = &tls.Config{Certificates: []tls.Certificate{p.Server().TLS}, NextProtos: []string{"http/1.1"},
				GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { handshakes.Add(1); return nil, nil }}
			if c.h2 {
				srv.TLS.NextProtos = []string{"h2", "http/1.1"}
			}
			srv.StartTLS()
			defer srv.Close()
			r := runGuest(t, connGuest, stdtls.Provider{}, p, "gets", srv.Listener.Addr().String(), "localhost", "3")
			want := []string{c.proto + " hello over " + c.proto, c.proto + " hello over " + c.proto, c.proto + " hello over " + c.proto}
			if r.Exit != 0 || !slices.Equal(r.out["get"], want) {
				t.Fatalf("exit %d, gets %q, want %q", r.Exit, r.out["get"], want)
			}
			if got := r.one(t, "protocol"); got != c.alpn {
				t.Errorf("Transport.Protocol %q, want %q", got, c.alpn)
			}
			if n := handshakes.Load(); n != 1 {
				t.Errorf("%d handshakes for three requests, want 1", n)
			}
		})
	}
}

// TestWasiHTTPConcurrentFirstRequests: eight GETs at once, the first
// requests of a new wasihttp.Transport to an h2 server, share one
// connection: the requests that arrive while the first dial is under way
// wait for it instead of each dialing (and handshaking) their own.
func TestWasiHTTPConcurrentFirstRequests(t *testing.T) {
	p := pki.New(t)
	var accepted atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello over %s", r.Proto)
	}))
	srv.EnableHTTP2 = true
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			accepted.Add(1)
		}
	}
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{p.Server().TLS}, NextProtos: []string{"h2", "http/1.1"}}
	srv.StartTLS()
	defer srv.Close()
	const n = 8
	r := runGuest(t, connGuest, stdtls.Provider{}, p, "pgets", srv.Listener.Addr().String(), "localhost", strconv.Itoa(n))
	want := slices.Repeat([]string{"HTTP/2.0 hello over HTTP/2.0"}, n)
	if r.Exit != 0 || !slices.Equal(r.out["get"], want) {
		t.Fatalf("exit %d, gets %q, want %q", r.Exit, r.out["get"], want)
	}
	if got := accepted.Load(); got != 1 {
		t.Errorf("the server accepted %d connections for %d concurrent first requests, want 1", got, n)
	}
}
