package host

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/conformance/pki"
	"github.com/wasitls/wasitls/internal/testkit/peers"
)

// relay is a TCP relay on loopback in front of target that keeps what the
// client sent (to look for a certificate sent in clear over TLS 1.2).
type relay struct {
	addr netip.AddrPort
	mu   sync.Mutex
	sent bytes.Buffer
}

func startRelay(t *testing.T, laddr string, target netip.AddrPort) *relay {
	t.Helper()
	ln, err := net.Listen("tcp4", laddr)
	if err != nil {
		peers.Unavailable(t, "cannot listen on %s: %v", laddr, err)
	}
	r := &relay{addr: ln.Addr().(*net.TCPAddr).AddrPort()}
	var wg sync.WaitGroup
	var cmu sync.Mutex
	var conns []net.Conn
	track := func(c net.Conn) { cmu.Lock(); conns = append(conns, c); cmu.Unlock() }
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			track(c)
			s, err := net.Dial("tcp", target.String())
			if err != nil {
				c.Close()
				continue
			}
			track(s)
			wg.Add(2)
			go func() {
				defer wg.Done()
				_, _ = io.Copy(s, io.TeeReader(c, r))
				s.Close()
			}()
			go func() {
				defer wg.Done()
				_, _ = io.Copy(c, s)
				c.Close()
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		cmu.Lock()
		for _, c := range conns {
			c.Close()
		}
		cmu.Unlock()
		wg.Wait()
	})
	return r
}

func (r *relay) Write(b []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sent.Write(b)
}

func (r *relay) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent.Reset()
}

func (r *relay) saw(b []byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Contains(r.sent.Bytes(), b)
}

// peers returns the client certificate names the server saw, one entry
// per connection ("" for none).
func (s *echoServer) peers() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, st := range s.states {
		name := ""
		if len(st.PeerCertificates) > 0 {
			name = st.PeerCertificates[0].Subject.CommonName
		}
		out = append(out, name)
	}
	return out
}

// exchange writes a line on a TLS connection and reads it back, so that
// the server has finished its side of the handshake (and the client has
// read the session tickets that came before the echo).
func (x *tg) exchange(tin, tout uint32) {
	x.t.Helper()
	x.writeAll(tout, []byte("ping\n"))
	if got := x.readN(tin, 5); string(got) != "ping\n" {
		x.t.Fatalf("echo %q", got)
	}
}

// TestIdentityNotForRelay is the relay attack: with the real server's
// address denied and a relay's address allowed, a guest that connects to
// the relay with the real server's name must not get the identity for that
// name sent through the relay (in clear over TLS 1.2). The identity still
// goes where it is bound: to the server the guest looked the name up for,
// and through the relay when the embedder bound it to the relay's address
// (which also shows that the relay would see a certificate).
func TestIdentityNotForRelay(t *testing.T) {
	p := pki.New(t)
	client := p.Client("embedder-identity")
	serverCert := p.Issue(pki.Leaf{CommonName: "api.internal", DNSNames: []string{"api.internal"}, IPs: []net.IP{net.IPv4(127, 0, 0, 2)}})
	srv := startEcho(t, &tls.Config{Certificates: []tls.Certificate{serverCert.TLS}, ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: p.Roots}, "tcp4", "127.0.0.1:0")
	rel := startRelay(t, "127.0.0.2:0", srv.addr)
	fakeLookup(t, map[string]netip.Addr{"api.internal": srv.addr.Addr()})
	ctx, r := newRuntime(t)
	h := New(r, WithProvider(stdtls.Provider{}))

	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		name := map[uint16]string{tls.VersionTLS12: "TLS 1.2", tls.VersionTLS13: "TLS 1.3"}[version]
		t.Run(name, func(t *testing.T) {
			before := len(srv.peers())
			rel.reset()
			run := func(pol *Policy, lookup, serverName string, dest netip.AddrPort) {
				t.Helper()
				pol.RootCAs, pol.MaxVersion, pol.NameLookup = p.Roots, version, true
				pol.Identities = append(pol.Identities, Identity{Dest: "api.internal:*", Certificate: &client.TLS})
				x := newTG(t, ctx, h, "0.2.6", WithPolicy(pol))
				if lookup != "" {
					x.resolve(lookup)
				}
				sock, in, out, code := x.connect(dest)
				if code >= 0 {
					t.Fatalf("connect %s: code %d", dest, code)
				}
				conn, tin, tout, errStr := x.handshake(serverName, in, out)
				if errStr != "" {
					t.Fatalf("handshake %s via %s: %s", serverName, dest, errStr)
				}
				x.exchange(tin, tout)
				x.closeTLS(sock, conn, tin, tout)
			}
			// The attack: the lookup of api.internal is refused (its
			// answer is denied), the relay is allowed.
			run(&Policy{Allow: []string{"127.0.0.2:*", "api.internal:*"}, Deny: []string{"127.0.0.1:*"}}, "api.internal", "api.internal", rel.addr)
			if got := srv.peers()[before:]; len(got) != 1 || got[0] != "" {
				t.Errorf("through the relay the server saw client certificates %q, want none", got)
			}
			if rel.saw(client.Cert.Raw) {
				t.Errorf("the relay saw the client certificate")
			}
			// Bound to the real server: it gets the identity.
			run(&Policy{Allow: []string{"api.internal:*"}}, "api.internal", "api.internal", srv.addr)
			// Bound to the relay's address by the embedder: it goes through.
			run(&Policy{Allow: []string{"127.0.0.2:*"}, Identities: []Identity{{Dest: "127.0.0.2:*", Certificate: &client.TLS}}}, "", "127.0.0.2", rel.addr)
			if got := srv.peers()[before:]; strings.Join(got, ",") != ",embedder-identity,embedder-identity" {
				t.Errorf("server saw client certificates %q, want none, then the identity twice", got)
			}
			if version == tls.VersionTLS12 && !rel.saw(client.Cert.Raw) {
				t.Errorf("the relay did not see the certificate sent in clear over TLS 1.2 (the check cannot work)")
			}
		})
	}
}

// tlsInTLSServer is a TLS server whose connections carry a second TLS
// server inside (an HTTPS proxy's tunnel, in one process): the inner
// server echoes lines.
func tlsInTLSServer(t *testing.T, outer, inner *tls.Config) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &echoServer{ln: ln, addr: ln.Addr().(*net.TCPAddr).AddrPort()}
	serveConns(t, ln, func(c net.Conn) {
		tc := tls.Server(tls.Server(c, outer), inner)
		if err := tc.Handshake(); err != nil {
			return
		}
		s.mu.Lock()
		s.states = append(s.states, tc.ConnectionState())
		s.mu.Unlock()
		_, _ = io.Copy(tc, tc)
	})
	return s
}

// TestIdentityNotOverStreams: a handshake over the plaintext streams of
// another TLS connection has no host TCP destination, so it gets no
// identity, even one for every port whose name pattern matches the server
// name, unless the embedder sets Policy.StreamIdentities.
func TestIdentityNotOverStreams(t *testing.T) {
	p := pki.New(t)
	client := p.Client("embedder-identity")
	innerCert := p.Issue(pki.Leaf{CommonName: "api.internal", DNSNames: []string{"api.internal"}})
	srv := tlsInTLSServer(t, &tls.Config{Certificates: []tls.Certificate{p.Server().TLS}},
		&tls.Config{Certificates: []tls.Certificate{innerCert.TLS}, ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: p.Roots})
	ctx, r := newRuntime(t)
	h := New(r, WithProvider(stdtls.Provider{}))
	for _, opt := range []bool{false, true} {
		x := newTG(t, ctx, h, "0.2.6", WithPolicy(&Policy{
			Allow: []string{"127.0.0.1:*"}, RootCAs: p.Roots, StreamIdentities: opt,
			Identities: []Identity{{Dest: "api.internal:*", Certificate: &client.TLS}},
		}))
		sock, conn, tin, tout := x.openTLS(srv.addr)
		iconn, iin, iout, errStr := x.handshake("api.internal", tin, tout)
		if errStr != "" {
			t.Fatalf("inner handshake: %s", errStr)
		}
		x.exchange(iin, iout)
		x.drop(ioStreamsName, "input-stream", iin)
		x.drop(ioStreamsName, "output-stream", iout)
		x.drop(tlsName, "client-connection", iconn)
		x.drop(tlsName, "client-connection", conn)
		x.drop(tcpName, "tcp-socket", sock)
	}
	if got := strings.Join(srv.peers(), ","); got != ",embedder-identity" {
		t.Errorf("inner server saw client certificates %q; want none, then (StreamIdentities) the identity", got)
	}
}

// TestResumptionKeepsIdentityAtItsDestination: a session made at port A
// with the identity for A is not resumed at port B (a resumed session
// carries the client authentication of the session it came from), while
// A itself resumes it.
func TestResumptionKeepsIdentityAtItsDestination(t *testing.T) {
	p := pki.New(t)
	client := p.Client("identity-for-a")
	cfg := &tls.Config{Certificates: []tls.Certificate{p.Server().TLS}, ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: p.Roots}
	a := startEcho(t, cfg, "tcp4", "127.0.0.1:0") // one config: one ticket key for both
	b := startEcho(t, cfg, "tcp4", "127.0.0.1:0")
	fakeLookup(t, map[string]netip.Addr{"localhost": a.addr.Addr()})
	ctx, r := newRuntime(t)
	h := New(r, WithProvider(stdtls.Provider{}))
	x := newTG(t, ctx, h, "0.2.6", WithPolicy(&Policy{
		Allow: []string{"127.0.0.1:*"}, RootCAs: p.Roots, NameLookup: true,
		Identities: []Identity{{Dest: "localhost:" + strconv.Itoa(int(a.addr.Port())), Certificate: &client.TLS}},
	}))
	if _, code := x.resolve("localhost"); code != -1 {
		t.Fatalf("lookup: code %d", code)
	}
	for _, s := range []*echoServer{a, a, b} {
		sock, conn, tin, tout := x.openTLS(s.addr)
		x.exchange(tin, tout)
		x.closeTLS(sock, conn, tin, tout)
	}
	a.mu.Lock()
	resumedA := len(a.states) == 2 && a.states[1].DidResume
	a.mu.Unlock()
	if !resumedA {
		t.Fatalf("the second connection to A did not resume: the check cannot work")
	}
	if got := strings.Join(a.peers(), ","); got != "identity-for-a,identity-for-a" {
		t.Errorf("A saw %q", got)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.states) != 1 || b.states[0].DidResume || len(b.states[0].PeerCertificates) != 0 {
		t.Errorf("B: %d connections, resumed %v, client certificates %d; want a full handshake without A's identity",
			len(b.states), len(b.states) > 0 && b.states[0].DidResume, len(b.states[0].PeerCertificates))
	}
}

// crossConn is a server's transport made of two accepted connections: it
// reads what arrives on in and writes to out.
type crossConn struct {
	net.Conn // out
	in       io.Reader
	closeIn  func() error
}

func (c crossConn) Read(b []byte) (int, error) { return c.in.Read(b) }
func (c crossConn) Close() error               { _ = c.closeIn(); return c.Conn.Close() }

// TestIdentityNotAcrossSockets: a handshake whose input stream is one
// socket's and output stream another's has no single destination: the
// client's flight (its certificate, in clear over TLS 1.2) goes to the
// output stream's peer. Here the identity is bound to 127.0.0.1 and the
// output stream leads to 127.0.0.2, where a server reads the client's
// flight and answers through the connection to 127.0.0.1.
func TestIdentityNotAcrossSockets(t *testing.T) {
	p := pki.New(t)
	client := p.Client("embedder-identity")
	cfg := &tls.Config{Certificates: []tls.Certificate{p.Server().TLS}, ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: p.Roots, MaxVersion: tls.VersionTLS12}
	bound, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	other, err := net.Listen("tcp4", "127.0.0.2:0")
	if err != nil {
		bound.Close()
		peers.Unavailable(t, "cannot listen on 127.0.0.2: %v", err)
	}
	var (
		wg    sync.WaitGroup
		seen  = &relay{}
		peers = make(chan int, 1)
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(peers)
		out, err := bound.Accept()
		if err != nil {
			return
		}
		defer out.Close()
		in, err := other.Accept()
		if err != nil {
			return
		}
		defer in.Close()
		tc := tls.Server(crossConn{Conn: out, in: io.TeeReader(in, seen), closeIn: in.Close}, cfg)
		if tc.Handshake() != nil {
			return
		}
		peers <- len(tc.ConnectionState().PeerCertificates)
		_, _ = io.Copy(tc, tc)
	}()
	t.Cleanup(func() { bound.Close(); other.Close(); wg.Wait() })
	// Its own config: no session ticket key shared with the server above.
	control := startEcho(t, &tls.Config{Certificates: cfg.Certificates, ClientAuth: cfg.ClientAuth, ClientCAs: cfg.ClientCAs, MaxVersion: cfg.MaxVersion}, "tcp4", "127.0.0.1:0")

	ctx, r := newRuntime(t)
	h := New(r, WithProvider(stdtls.Provider{}))
	x := newTG(t, ctx, h, "0.2.6", WithPolicy(&Policy{
		Allow: []string{"127.0.0.1:*", "127.0.0.2:*"}, RootCAs: p.Roots, MaxVersion: tls.VersionTLS12,
		Identities: []Identity{{Dest: "127.0.0.1:*", Certificate: &client.TLS}},
	}))
	// The control: one socket to 127.0.0.1 gets the identity.
	sock, cin, cout, _ := x.connect(control.addr)
	conn, tin, tout, errStr := x.handshake("127.0.0.1", cin, cout)
	if errStr != "" {
		t.Fatalf("control handshake: %s", errStr)
	}
	x.exchange(tin, tout)
	x.closeTLS(sock, conn, tin, tout)
	if got := strings.Join(control.peers(), ","); got != "embedder-identity" {
		t.Fatalf("control: server saw %q", got)
	}

	s1, in1, out1, code := x.connect(bound.Addr().(*net.TCPAddr).AddrPort())
	if code >= 0 {
		t.Fatalf("connect 127.0.0.1: %d", code)
	}
	s2, in2, out2, code := x.connect(other.Addr().(*net.TCPAddr).AddrPort())
	if code >= 0 {
		t.Fatalf("connect 127.0.0.2: %d", code)
	}
	conn, tin, tout, errStr = x.handshake("127.0.0.1", in1, out2)
	if errStr != "" {
		t.Fatalf("handshake across sockets: %s", errStr)
	}
	x.exchange(tin, tout)
	if n := <-peers; n != 0 {
		t.Errorf("the server across two sockets got %d client certificates, want none", n)
	}
	if seen.saw(client.Cert.Raw) {
		t.Errorf("127.0.0.2 read the client certificate")
	}
	x.drop(ioStreamsName, "input-stream", tin)
	x.drop(ioStreamsName, "output-stream", tout)
	x.drop(tlsName, "client-connection", conn)
	x.drop(ioStreamsName, "input-stream", in2)
	x.drop(ioStreamsName, "output-stream", out1)
	x.drop(tcpName, "tcp-socket", s1)
	x.drop(tcpName, "tcp-socket", s2)
}
