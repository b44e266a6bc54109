package conformance

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/conformance/pki"
)

// RunServer runs the server-side cases against p's Server: a crypto/tls
// client connects to it over loopback. Each case's name states what is
// expected; a backend that requires hybrid ML-KEM groups
// (Capabilities.RequiresPQ) is expected to refuse classical clients with
// api.ErrPQRequired.
func RunServer(t *testing.T, p api.ServerProvider) {
	t.Helper()
	caps := api.CapabilitiesOf(p)
	pk := pki.New(t)
	other := pki.New(t)
	s := &serverEnv{p: p, pki: pk,
		a:     pk.Issue(pki.Leaf{CommonName: "a.test", DNSNames: []string{"a.test"}}),
		def:   pk.Server(),
		alice: pk.Client("alice"),
		eve:   other.Client("eve"),
	}
	t.Run("TLS13/Handshake", func(t *testing.T) {
		conn, cs := s.pair(t, &api.ServerConfig{}, &tls.Config{ServerName: "localhost"})
		defer conn.Close()
		st := conn.State()
		if st.Version != tls.VersionTLS13 || cs.Version != tls.VersionTLS13 {
			t.Fatalf("version %s", tls.VersionName(st.Version))
		}
		if st.ServerName != "localhost" || st.Backend != p.Name() {
			t.Fatalf("state: server name %q, backend %q", st.ServerName, st.Backend)
		}
		if caps.RequiresPQ && !api.IsHybridPQ(st.Group) {
			t.Fatalf("group %s is not hybrid", st.GroupName())
		}
	})
	for _, g := range []tls.CurveID{tls.X25519MLKEM768, tls.SecP256r1MLKEM768, tls.SecP384r1MLKEM1024} {
		t.Run("HybridGroup/"+api.GroupName(g)+"/Negotiated", func(t *testing.T) {
			conn, _ := s.pair(t, &api.ServerConfig{}, &tls.Config{ServerName: "localhost", CurvePreferences: []tls.CurveID{g}})
			defer conn.Close()
			if got := conn.State().Group; got != g {
				t.Fatalf("group %s, want %s", api.GroupName(got), api.GroupName(g))
			}
		})
	}
	classical := func(t *testing.T, ccfg *tls.Config) {
		if caps.RequiresPQ {
			if err := s.fail(t, &api.ServerConfig{}, ccfg); !errors.Is(err, api.ErrPQRequired) {
				t.Fatalf("%v, want ErrPQRequired", err)
			}
			return
		}
		conn, _ := s.pair(t, &api.ServerConfig{}, ccfg)
		conn.Close()
	}
	name := "Handshake"
	if caps.RequiresPQ {
		name = "IsPQRequiredError"
	}
	t.Run("ClassicalClient/"+name, func(t *testing.T) {
		classical(t, &tls.Config{ServerName: "localhost", CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256}})
	})
	if caps.TLS12 || caps.RequiresPQ {
		t.Run("TLS12Client/"+name, func(t *testing.T) {
			classical(t, &tls.Config{ServerName: "localhost", MaxVersion: tls.VersionTLS12})
		})
	}
	t.Run("SNI/ChoosesCertificate", func(t *testing.T) {
		for sni, want := range map[string]*pki.Cert{"a.test": s.a, "localhost": s.def} {
			conn, cs := s.pair(t, &api.ServerConfig{}, &tls.Config{ServerName: sni})
			conn.Close()
			if !cs.PeerCertificates[0].Equal(want.Cert) {
				t.Fatalf("for %s the client got %s", sni, cs.PeerCertificates[0].Subject.CommonName)
			}
		}
	})
	t.Run("SNI/NoCertificate/Fails", func(t *testing.T) {
		cfg := &api.ServerConfig{Certificate: func(string) (*tls.Certificate, error) { return nil, errors.New("no certificate here") }}
		if err := s.fail(t, cfg, &tls.Config{ServerName: "nobody.test"}); err == nil {
			t.Fatal("handshake without a certificate succeeded")
		}
	})
	t.Run("ALPN/ServerPreference", func(t *testing.T) {
		conn, cs := s.pair(t, &api.ServerConfig{NextProtos: []string{"h2", "http/1.1"}}, &tls.Config{ServerName: "localhost", NextProtos: []string{"http/1.1", "h2"}})
		conn.Close()
		if conn.State().NegotiatedProtocol != "h2" || cs.NegotiatedProtocol != "h2" {
			t.Fatalf("ALPN %q, want the server's first choice h2", conn.State().NegotiatedProtocol)
		}
	})
	t.Run("ClientAuth/ChainReported", func(t *testing.T) {
		conn, _ := s.pair(t, &api.ServerConfig{ClientCAs: pk.Roots}, &tls.Config{ServerName: "localhost", Certificates: []tls.Certificate{s.alice.TLS}})
		defer conn.Close()
		if pc := conn.State().PeerCertificates; len(pc) == 0 || pc[0].Subject.CommonName != "alice" {
			t.Fatalf("client chain %v", pc)
		}
	})
	t.Run("ClientAuth/NoCertificate/Fails", func(t *testing.T) {
		if err := s.fail(t, &api.ServerConfig{ClientCAs: pk.Roots}, &tls.Config{ServerName: "localhost"}); err == nil {
			t.Fatal("a client without a certificate was accepted")
		}
	})
	t.Run("ClientAuth/UntrustedCertificate/IsUnknownAuthorityError", func(t *testing.T) {
		err := s.fail(t, &api.ServerConfig{ClientCAs: pk.Roots}, &tls.Config{ServerName: "localhost", Certificates: []tls.Certificate{s.eve.TLS}})
		if !errors.Is(err, api.ErrUnknownAuthority) {
			t.Fatalf("%v, want ErrUnknownAuthority", err)
		}
	})
	t.Run("SilentClient/IsHandshakeTimeoutError", func(t *testing.T) {
		start := time.Now()
		err := s.serveRaw(t, context.Background(), &api.ServerConfig{HandshakeTimeout: 300 * time.Millisecond}, func(net.Conn) {})
		if !errors.Is(err, api.ErrHandshakeTimeout) {
			t.Fatalf("%v, want ErrHandshakeTimeout", err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("took %v with a 300ms timeout", d)
		}
	})
	t.Run("ContextCanceled/ReturnsSoon", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(200*time.Millisecond, cancel)
		start := time.Now()
		if err := s.serveRaw(t, ctx, &api.ServerConfig{}, func(net.Conn) {}); err == nil {
			t.Fatal("handshake with a silent client succeeded")
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("returned %v after the cancel", d)
		}
	})
	t.Run("OversizedRecord/IsProtocolError", func(t *testing.T) {
		// A handshake record of 2^14+257 bytes, over the TLS limit.
		err := s.serveRaw(t, context.Background(), &api.ServerConfig{}, func(c net.Conn) {
			n := 1<<14 + 257
			_, _ = c.Write(append([]byte{0x16, 0x03, 0x01, byte(n >> 8), byte(n)}, make([]byte, n)...))
		})
		if !errors.Is(err, api.ErrProtocol) {
			t.Fatalf("%v, want a protocol error", err)
		}
	})
	t.Run("HugeHandshakeMessage/IsProtocolError", func(t *testing.T) {
		// A ClientHello whose length field says 16 MiB.
		err := s.serveRaw(t, context.Background(), &api.ServerConfig{}, func(c net.Conn) {
			_, _ = c.Write([]byte{0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0xff, 0xff, 0xff})
		})
		if !errors.Is(err, api.ErrProtocol) {
			t.Fatalf("%v, want a protocol error", err)
		}
	})
	t.Run("ResetMidHandshake/IsTransportError", func(t *testing.T) {
		err := s.serveRaw(t, context.Background(), &api.ServerConfig{}, func(c net.Conn) {
			_, _ = c.Write([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01}) // the start of a ClientHello
			_ = c.(*net.TCPConn).SetLinger(0)
			_ = c.Close()
		})
		if !errors.Is(err, api.ErrTransport) {
			t.Fatalf("%v, want a transport error", err)
		}
	})
	t.Run("Garbage/IsProtocolError", func(t *testing.T) {
		err := s.serveRaw(t, context.Background(), &api.ServerConfig{}, func(c net.Conn) {
			_, _ = c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		})
		if !errors.Is(err, api.ErrProtocol) && !errors.Is(err, api.ErrProtocolVersion) {
			t.Fatalf("%v, want a protocol error", err)
		}
	})
}

type serverEnv struct {
	p                  api.ServerProvider
	pki                *pki.PKI
	a, def, alice, eve *pki.Cert
}

// config fills in the certificates (a.test, else the default) unless cfg
// has its own.
func (s *serverEnv) config(cfg *api.ServerConfig) *api.ServerConfig {
	c := *cfg
	if c.Certificate == nil {
		c.Certificate = func(name string) (*tls.Certificate, error) {
			if name == "a.test" {
				return &s.a.TLS, nil
			}
			return &s.def.TLS, nil
		}
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = 10 * time.Second
	}
	return &c
}

// listen returns a loopback listener closed with the test.
func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// handshakeBoth runs the provider's server handshake on an accepted
// connection and a crypto/tls client on the other end.
func (s *serverEnv) handshakeBoth(t *testing.T, cfg *api.ServerConfig, ccfg *tls.Config) (api.Conn, error, *tls.Conn, error) {
	t.Helper()
	ln := listen(t)
	ccfg = ccfg.Clone()
	if ccfg.RootCAs == nil {
		ccfg.RootCAs = s.pki.Roots
	}
	type client struct {
		c   *tls.Conn
		err error
	}
	done := make(chan client, 1)
	go func() {
		raw, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			done <- client{err: err}
			return
		}
		c := tls.Client(raw, ccfg)
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		err = c.Handshake()
		if err == nil {
			// TLS 1.3: a client certificate is judged after the client's
			// Finished; a read shows the server's verdict.
			_, err = c.Write([]byte("ping"))
		}
		done <- client{c, err}
	}()
	raw, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	conn, serr := s.p.Server(context.Background(), raw, s.config(cfg))
	if serr != nil {
		raw.Close()
	}
	cl := <-done
	if cl.c != nil {
		t.Cleanup(func() { cl.c.Close() })
	}
	return conn, serr, cl.c, cl.err
}

// pair expects a handshake that succeeds on both sides and data that
// crosses both ways.
func (s *serverEnv) pair(t *testing.T, cfg *api.ServerConfig, ccfg *tls.Config) (api.Conn, tls.ConnectionState) {
	t.Helper()
	conn, serr, c, cerr := s.handshakeBoth(t, cfg, ccfg)
	if serr != nil || cerr != nil {
		if conn != nil {
			conn.Close()
		}
		t.Fatalf("server: %v; client: %v", serr, cerr)
	}
	b := make([]byte, 4)
	if _, err := io.ReadFull(conn, b); err != nil || string(b) != "ping" {
		conn.Close()
		t.Fatalf("server read %q, %v", b, err)
	}
	if _, err := conn.Write([]byte("pong")); err != nil {
		conn.Close()
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, b); err != nil || string(b) != "pong" {
		conn.Close()
		t.Fatalf("client read %q, %v", b, err)
	}
	return conn, c.ConnectionState()
}

// fail expects the server handshake to fail and returns its error.
func (s *serverEnv) fail(t *testing.T, cfg *api.ServerConfig, ccfg *tls.Config) error {
	t.Helper()
	conn, serr, _, _ := s.handshakeBoth(t, cfg, ccfg)
	if serr == nil {
		conn.Close()
		return nil
	}
	var ae *api.Error
	if !errors.As(serr, &ae) {
		t.Errorf("server error %v is not an *api.Error", serr)
	}
	return serr
}

// serveRaw runs the server handshake against a raw client that does what
// client does and then holds the connection open until the handshake ends.
func (s *serverEnv) serveRaw(t *testing.T, ctx context.Context, cfg *api.ServerConfig, client func(net.Conn)) error {
	t.Helper()
	ln := listen(t)
	ended := make(chan struct{})
	go func() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return
		}
		defer c.Close()
		client(c)
		<-ended
	}()
	defer close(ended)
	raw, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := s.p.Server(ctx, raw, s.config(cfg))
	if err == nil {
		conn.Close()
		return nil
	}
	raw.Close()
	return err
}
