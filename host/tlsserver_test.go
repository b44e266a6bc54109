package host

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/backends/utls"
	"github.com/wasitls/wasitls/conformance/pki"
	"github.com/wasitls/wasitls/internal/cabi"
	"github.com/wasitls/wasitls/internal/testkit/wasmenc"
	"github.com/wasitls/wasitls/internal/witnames"
)

const serverTLSName = "wasitls:tls/server"

// serverHandshake runs a server handshake over an accepted connection's
// streams and returns the server-connection and its streams, or the
// io-error's debug string.
func (x *tg) serverHandshake(in, out uint32) (conn, tin, tout uint32, errStr string) {
	x.t.Helper()
	hs := x.call1(serverTLSName, witnames.NewServerHandshake, uint64(in), uint64(out))
	fut := x.call1(serverTLSName, witnames.ServerHandshakeFinish, uint64(hs))
	return x.awaitFuture(serverTLSName, "future-server-streams", fut)
}

// optionBytes calls a server-connection method returning option<string>
// or option<list<u8>>; ok false for none.
func (x *tg) optionBytes(conn uint32, method string) (string, bool) {
	x.t.Helper()
	t := cabi.OptionBytes
	x.clearRet()
	x.call(serverTLSName, "[method]server-connection."+method, uint64(conn), retArea)
	r := x.ret(t.Size())
	if r[0] == 0 {
		return "", false
	}
	return string(x.bytes(cabi.GetU32(r, t.PayloadOffset()), cabi.GetU32(r, t.PayloadOffset()+4))), true
}

// clientChain reads client-certificate-chain.
func (x *tg) clientChain(conn uint32) [][]byte {
	x.t.Helper()
	x.clearRet()
	x.call(serverTLSName, witnames.ServerConnectionClientCertificateChain, uint64(conn), retArea)
	r := x.ret(8)
	ptr, n := cabi.GetU32(r, 0), cabi.GetU32(r, 4)
	elem := cabi.CertChain.Case(0)
	var out [][]byte
	for i := uint32(0); i < n; i++ {
		e := x.bytes(ptr+i*elem.Size(), elem.Size())
		out = append(out, append([]byte(nil), x.bytes(cabi.GetU32(e, 0), cabi.GetU32(e, 4))...))
	}
	return out
}

// serveTLSOnce listens, lets dial connect a client, accepts it and runs
// the server handshake; it returns what the handshake gave.
func (x *tg) serveTLSOnce(dial func(addr string)) (conn, tin, tout uint32, errStr string) {
	x.t.Helper()
	sock, bound := x.listenOn(loop4)
	go dial(bound.String())
	_, in, out, code := x.acceptWait(sock)
	if code >= 0 {
		x.t.Fatalf("accept: %d", code)
	}
	return x.serverHandshake(in, out)
}

// servePolicy has two certificates: one for a.test, the default for
// everything else.
func servePolicy(p *pki.PKI) (*ServePolicy, *pki.Cert, *pki.Cert) {
	a := p.Issue(pki.Leaf{CommonName: "a.test", DNSNames: []string{"a.test"}})
	def := p.Server()
	return &ServePolicy{
		Certificates: []ServerCertificate{
			{ServerNames: []string{"a.test"}, Certificate: &a.TLS},
			{Certificate: &def.TLS},
		},
		NextProtos: []string{"h2", "http/1.1"},
	}, a, def
}

// wasitls:tls/server: the host runs the handshake with the certificate it
// chose for the client's server name; the guest reads the server name and
// ALPN, exchanges plaintext, and sees no client certificate when none was
// asked for.
func TestServerHandshakeSNI(t *testing.T) {
	p := pki.New(t)
	sp, a, def := servePolicy(p)
	ctx, r := newRuntime(t)
	h := New(r, WithProvider(stdtls.Provider{}))
	for _, tc := range []struct {
		sni  string
		want *pki.Cert
	}{{"a.test", a}, {"localhost", def}, {"", def}} {
		t.Run("sni="+tc.sni, func(t *testing.T) {
			x := newTG(t, ctx, h, "0.2.6", WithPolicy(&Policy{Listen: []string{"127.0.0.1:*"}, Serve: sp}))
			type result struct {
				state tls.ConnectionState
				reply string
				err   error
			}
			done := make(chan result, 1)
			conn, tin, tout, errStr := x.serveTLSOnce(func(addr string) {
				c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: tc.sni, RootCAs: p.Roots, NextProtos: []string{"http/1.1"}, InsecureSkipVerify: tc.sni == ""})
				if err != nil {
					done <- result{err: err}
					return
				}
				defer c.Close()
				_, _ = c.Write([]byte("ping"))
				b := make([]byte, 4)
				_, err = io.ReadFull(c, b)
				done <- result{state: c.ConnectionState(), reply: string(b), err: err}
			})
			if errStr != "" {
				t.Fatalf("server handshake: %s", errStr)
			}
			name, ok := x.optionBytes(conn, "server-name")
			if tc.sni == "" && ok || tc.sni != "" && name != tc.sni {
				t.Fatalf("server-name = %q (some=%v), want %q", name, ok, tc.sni)
			}
			if alpn, _ := x.optionBytes(conn, "alpn-id"); alpn != "http/1.1" {
				t.Fatalf("alpn-id = %q, want http/1.1", alpn)
			}
			if chain := x.clientChain(conn); len(chain) != 0 {
				t.Fatalf("client-certificate-chain has %d certificates without mTLS", len(chain))
			}
			if got := string(x.readN(tin, 4)); got != "ping" {
				t.Fatalf("guest read %q", got)
			}
			x.writeAll(tout, []byte("pong"))
			res := <-done
			if res.err != nil || res.reply != "pong" {
				t.Fatalf("client: %q, %v", res.reply, res.err)
			}
			if got := res.state.PeerCertificates[0]; !got.Equal(tc.want.Cert) {
				t.Fatalf("the client got %s, want %s", got.Subject.CommonName, tc.want.Cert.Subject.CommonName)
			}
			x.drop(ioStreamsName, "input-stream", tin)
			x.drop(ioStreamsName, "output-stream", tout)
			x.drop(serverTLSName, "server-connection", conn)
		})
	}
}

// With ClientCAs, a client without a certificate fails the handshake (an
// io-error), and the chain of one with a certificate is readable by the
// guest, leaf first.
func TestServerHandshakeClientAuth(t *testing.T) {
	p := pki.New(t)
	sp, _, _ := servePolicy(p)
	sp.ClientCAs = p.Roots
	client := p.Client("alice")
	ctx, r := newRuntime(t)
	h := New(r, WithProvider(stdtls.Provider{}))
	x := newTG(t, ctx, h, "0.2.6", WithPolicy(&Policy{Listen: []string{"127.0.0.1:*"}, Serve: sp}))
	_, _, _, errStr := x.serveTLSOnce(func(addr string) {
		c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "localhost", RootCAs: p.Roots})
		if err == nil {
			_, _ = c.Read(make([]byte, 1)) // TLS 1.3: the server's verdict arrives after the client's Finished
			c.Close()
		}
	})
	if !strings.HasPrefix(errStr, "tls: ") {
		t.Fatalf("a client without a certificate: %q, want a tls io-error", errStr)
	}
	conn, tin, tout, errStr := x.serveTLSOnce(func(addr string) {
		c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "localhost", RootCAs: p.Roots, Certificates: []tls.Certificate{client.TLS}})
		if err == nil {
			_, _ = c.Read(make([]byte, 1))
			c.Close()
		}
	})
	if errStr != "" {
		t.Fatalf("mTLS handshake: %s", errStr)
	}
	chain := x.clientChain(conn)
	if len(chain) == 0 {
		t.Fatal("no client certificate chain")
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil || leaf.Subject.CommonName != "alice" {
		t.Fatalf("client leaf: %v, %v", leaf, err)
	}
	// The guest never holds the server's keys: neither their PKCS #8 form
	// nor the private scalar is anywhere in its memory.
	mem, _ := x.mod.Memory().Read(0, x.mod.Memory().Size())
	for _, c := range sp.Certificates {
		der, err := x509.MarshalPKCS8PrivateKey(c.Certificate.PrivateKey)
		if err != nil {
			t.Fatal(err)
		}
		ek, err := c.Certificate.PrivateKey.(*ecdsa.PrivateKey).ECDH()
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(mem, der) || bytes.Contains(mem, ek.Bytes()) {
			t.Fatal("a server private key is in guest memory")
		}
	}
	x.drop(ioStreamsName, "input-stream", tin)
	x.drop(ioStreamsName, "output-stream", tout)
	x.drop(serverTLSName, "server-connection", conn)
}

// Without Policy.Serve a server handshake is an io-error "tls: policy
// denied", and the transport is closed (the client sees the end).
func TestServerHandshakeDeniedWithoutServe(t *testing.T) {
	ctx, r := newRuntime(t)
	x := newTG(t, ctx, New(r, WithProvider(stdtls.Provider{})), "0.2.6", WithPolicy(&Policy{Listen: []string{"127.0.0.1:*"}}))
	ended := make(chan error, 1)
	_, _, _, errStr := x.serveTLSOnce(func(addr string) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			ended <- err
			return
		}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = c.Read(make([]byte, 1))
		ended <- err
	})
	if !strings.HasPrefix(errStr, "tls: policy denied") {
		t.Fatalf("server handshake without Serve: %q, want tls: policy denied", errStr)
	}
	if err := <-ended; err == nil || strings.Contains(err.Error(), "timeout") {
		t.Fatalf("the client read %v, want the connection closed", err)
	}
}

// A backend without a server side (utls) cannot run a policy that serves:
// Instantiate refuses it before the guest runs.
func TestServeNeedsServerBackend(t *testing.T) {
	u, err := utls.New()
	if err != nil {
		t.Fatal(err)
	}
	p := pki.New(t)
	sp, _, _ := servePolicy(p)
	ctx, r := newRuntime(t)
	h := New(r)
	cm, err := r.CompileModule(ctx, wasmenc.Module(allImports("0.2.6")))
	if err != nil {
		t.Fatal(err)
	}
	defer cm.Close(ctx)
	g, err := h.Instantiate(ctx, cm, NewModuleConfig().WithRandSource(rand.Reader), WithProvider(u), WithPolicy(&Policy{Serve: sp}))
	if g != nil {
		g.Close(ctx)
	}
	if err == nil || !strings.Contains(err.Error(), "no server side") {
		t.Fatalf("Instantiate with utls and Serve: %v, want a refusal", err)
	}
	// With a server provider of its own, a utls guest may serve.
	sp.Provider = stdtls.Provider{}
	g, err = h.Instantiate(ctx, cm, NewModuleConfig().WithRandSource(rand.Reader), WithProvider(u), WithPolicy(&Policy{Serve: sp, Options: map[string]string{"alpn": "override"}}))
	if err != nil {
		t.Fatalf("Instantiate with utls and Serve.Provider stdtls: %v", err)
	}
	g.Close(ctx)
	for _, bad := range []*ServePolicy{{}, {Certificates: []ServerCertificate{{}}}, {Certificates: []ServerCertificate{{ServerNames: []string{"a..b"}, Certificate: &p.Server().TLS}}}} {
		if _, err := compilePolicy(&Policy{Serve: bad}); err == nil {
			t.Errorf("compilePolicy accepted Serve %+v", bad)
		}
	}
}

// ServePolicy.Provider serves for a guest whose own backend is client-only
// (utls): the handshake runs with it, and the guest's options stay with
// utls.
func TestServeProviderForClientOnlyBackend(t *testing.T) {
	u, err := utls.New()
	if err != nil {
		t.Fatal(err)
	}
	p := pki.New(t)
	sp, _, _ := servePolicy(p)
	sp.Provider = stdtls.Provider{}
	ctx, r := newRuntime(t)
	var backends []string
	closed := make(chan string, 1)
	x := newTG(t, ctx, New(r, WithProvider(u)), "0.2.6", WithPolicy(&Policy{Listen: []string{"127.0.0.1:*"}, Serve: sp, Options: map[string]string{"alpn": "override"}}),
		WithObserver(func(e ConnEvent) {
			switch {
			case e.Phase == PhaseHandshake && e.Server:
				backends = append(backends, e.Backend)
			case e.Phase == PhaseClose && e.Server:
				closed <- e.Backend
			}
		}))
	conn, tin, tout, errStr := x.serveTLSOnce(func(addr string) {
		c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "localhost", RootCAs: p.Roots})
		if err == nil {
			_, _ = c.Read(make([]byte, 1))
			c.Close()
		}
	})
	if errStr != "" {
		t.Fatalf("server handshake: %s", errStr)
	}
	if len(backends) != 1 || backends[0] != stdtls.Name {
		t.Fatalf("server handshakes by %v, want stdtls", backends)
	}
	x.drop(ioStreamsName, "input-stream", tin)
	x.drop(ioStreamsName, "output-stream", tout)
	x.drop(serverTLSName, "server-connection", conn)
	// The connection's close names the backend that made it, too.
	select {
	case b := <-closed:
		if b != stdtls.Name {
			t.Fatalf("the server connection's close names %q, want stdtls", b)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no close event for the server connection")
	}
}
