package conformance

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasitls/wasitls/api"
)

// handshakeCases cover version and group negotiation, what State reports,
// resumption, concurrency, and handshakes that must fail before or during
// the exchange.
var handshakeCases = []testCase{
	{name: "TLS13Echo", expect: "EchoesOverTLS13", run: caseTLS13Echo},
	{name: "TLS12ServerECDSA", expect: "NegotiatesECDHEECDSA", pqExpect: "IsPQRequiredError", run: caseTLS12ECDSA},
	{name: "TLS12ServerRSA", expect: "NegotiatesECDHERSA", pqExpect: "IsPQRequiredError", run: caseTLS12RSA},
	{name: "ClassicalGroupsServer", expect: "NegotiatesX25519", pqExpect: "IsPQRequiredError", run: caseClassicalGroups},
	{name: "TLS10And11Server", expect: "IsProtocolVersionError", run: caseTLS10And11},
	{name: "MinVersion13Against12Server", expect: "IsProtocolVersionError", run: caseMin13Against12},
	{name: "NegotiatedGroup", expect: "ReportedAndMatchesServer", run: caseNegotiatedGroup},
	{name: "ConnectionState", expect: "ReportsVersionCipherALPNCertsBackend", run: caseConnectionState},
	{name: "SessionResumption", expect: "SecondConnectionResumes", run: caseResumption},
	{name: "ConcurrentHandshakes", expect: "HundredSucceed", run: caseConcurrent},
	{name: "StalledHandshake", expect: "IsHandshakeTimeoutWithinDeadline", run: caseStalled},
	{name: "ContextCanceled", expect: "IsCanceledError", run: caseCanceled},
	{name: "GarbageServerHello", expect: "IsProtocolError", run: caseGarbage},
	{name: "PlaintextHTTPServer", expect: "IsProtocolError", run: casePlaintextHTTP},
	{name: "ServerClosesDuringHandshake", expect: "IsTransportError", run: caseClosedDuringHandshake},
	{name: "InvalidServerName", expect: "RejectedBeforeIO", run: caseInvalidServerName},
}

// roundTrip writes msg and reads the echo back.
func roundTrip(t *testing.T, c api.Conn, msg string) {
	t.Helper()
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatalf("write: %v", err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read echo: %v", err)
	}
	if string(got) != msg {
		t.Fatalf("echo = %q, want %q", got, msg)
	}
}

func caseTLS13Echo(t *testing.T, e *env) {
	sc := serverConfig(e.leaves.ecdsa.TLS)
	sc.MinVersion = tls.VersionTLS13
	srv := startTLSServer(t, "tcp4", sc, echo)
	c := e.dial(t, srv.Addr(), e.config(e.leaves.serverName))
	roundTrip(t, c, "hello over TLS 1.3")
	roundTrip(t, c, strings.Repeat("a second message ", 1000))
	if v := c.State().Version; v != tls.VersionTLS13 {
		t.Errorf("version %s, want TLS 1.3", tls.VersionName(v))
	}
}

// tls12Case dials a TLS 1.2-only crypto/tls server limited to suites and
// checks the echo and the negotiated suite.
func tls12Case(t *testing.T, e *env, cert tls.Certificate, suites []uint16) {
	sc := serverConfig(cert)
	sc.MaxVersion = tls.VersionTLS12
	sc.CipherSuites = suites
	srv := startTLSServer(t, "tcp4", sc, echo)
	cfg := e.config(e.leaves.serverName)
	if e.classicalOnlyPeer(t, "TLS 1.2-only server", func() error { return e.dialErr(t, srv.Addr(), cfg) }) {
		return
	}
	e.needTLS12(t)
	c := e.dial(t, srv.Addr(), cfg)
	roundTrip(t, c, "hello over TLS 1.2")
	st := c.State()
	if st.Version != tls.VersionTLS12 {
		t.Errorf("version %s, want TLS 1.2", tls.VersionName(st.Version))
	}
	if !slices.Contains(suites, st.CipherSuite) {
		t.Errorf("cipher suite %s, want one of the server's %v", st.CipherSuiteName(), suiteNames(suites))
	}
	t.Logf("negotiated %s %s", st.VersionName(), st.CipherSuiteName())
}

func suiteNames(ids []uint16) []string {
	var n []string
	for _, id := range ids {
		n = append(n, tls.CipherSuiteName(id))
	}
	return n
}

func caseTLS12ECDSA(t *testing.T, e *env) {
	tls12Case(t, e, e.leaves.ecdsa.TLS, []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	})
}

func caseTLS12RSA(t *testing.T, e *env) {
	tls12Case(t, e, e.leaves.rsa.TLS, []uint16{
		tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	})
}

func caseClassicalGroups(t *testing.T, e *env) {
	sc := serverConfig(e.leaves.ecdsa.TLS)
	sc.MinVersion = tls.VersionTLS13
	sc.CurvePreferences = []tls.CurveID{tls.X25519}
	srv := startTLSServer(t, "tcp4", sc, echo)
	cfg := e.config(e.leaves.serverName)
	if e.classicalOnlyPeer(t, "TLS 1.3 server limited to X25519", func() error { return e.dialErr(t, srv.Addr(), cfg) }) {
		return
	}
	c := e.dial(t, srv.Addr(), cfg)
	roundTrip(t, c, "hello over X25519")
	if !e.caps.ReportsGroup {
		t.Log("backend does not report the group (Capabilities.ReportsGroup is false); checked the echo only")
		return
	}
	if g := c.State().Group; g != tls.X25519 {
		t.Errorf("group %s, want X25519", api.GroupName(g))
	}
}

// versionRefused expects a protocol version error; a backend that requires
// PQ may report its own refusal instead, since it cannot offer the server's
// versions at all.
func (e *env) versionRefused(t *testing.T, err error) {
	t.Helper()
	if e.caps.RequiresPQ && errors.Is(err, api.ErrPQRequired) {
		t.Logf("backend requires PQ and refused with: %v", err)
		return
	}
	wantErr(t, err, api.ErrProtocolVersion)
}

func caseTLS10And11(t *testing.T, e *env) {
	sc := serverConfig(e.leaves.ecdsa.TLS)
	sc.MinVersion = tls.VersionTLS10
	sc.MaxVersion = tls.VersionTLS11
	srv := startTLSServer(t, "tcp4", sc, echo)
	e.versionRefused(t, e.dialErr(t, srv.Addr(), e.config(e.leaves.serverName)))
}

func caseMin13Against12(t *testing.T, e *env) {
	sc := serverConfig(e.leaves.ecdsa.TLS)
	sc.MaxVersion = tls.VersionTLS12
	srv := startTLSServer(t, "tcp4", sc, echo)
	cfg := e.config(e.leaves.serverName)
	cfg.MinVersion = tls.VersionTLS13
	e.versionRefused(t, e.dialErr(t, srv.Addr(), cfg))
}

// stateServer is an echo server that reports each connection's state.
func stateServer(t *testing.T, sc *tls.Config) (*tlsServer, chan tls.ConnectionState) {
	states := make(chan tls.ConnectionState, 8)
	srv := startTLSServer(t, "tcp4", sc, func(c *tls.Conn) {
		select {
		case states <- c.ConnectionState():
		default:
		}
		echo(c)
	})
	return srv, states
}

// serverState waits for the state a stateServer saw.
func serverState(t *testing.T, states chan tls.ConnectionState) tls.ConnectionState {
	t.Helper()
	select {
	case st := <-states:
		return st
	case <-ctx(t).Done():
		t.Fatal("the server reported no connection state")
	}
	panic("unreachable")
}

func caseNegotiatedGroup(t *testing.T, e *env) {
	if !e.caps.ReportsGroup {
		t.Skip("backend declares it cannot report the group (Capabilities.ReportsGroup is false)")
	}
	srv, states := stateServer(t, serverConfig(e.leaves.ecdsa.TLS))
	c := e.dial(t, srv.Addr(), e.config(e.leaves.serverName))
	roundTrip(t, c, "which group?")
	ss := serverState(t, states)
	g := c.State().Group
	if g == 0 {
		t.Fatal("State().Group is 0")
	}
	if g != ss.CurveID {
		t.Fatalf("client reports group %s, server negotiated %s", api.GroupName(g), api.GroupName(ss.CurveID))
	}
	if e.caps.RequiresPQ && !api.IsHybridPQ(g) {
		t.Fatalf("backend requires PQ but negotiated %s", api.GroupName(g))
	}
	t.Logf("group %s (HelloRetryRequest %v)", api.GroupName(g), c.State().HelloRetryRequest)
}

func caseConnectionState(t *testing.T, e *env) {
	const proto = "wasitls-test/1"
	sc := serverConfig(e.leaves.ecdsa.TLS)
	sc.NextProtos = []string{proto}
	if !e.caps.ALPNOverride {
		// The backend may offer its own list; a server without overlap
		// would refuse with no_application_protocol.
		sc.NextProtos = append(sc.NextProtos, "h2", "http/1.1")
	}
	srv, states := stateServer(t, sc)
	cfg := e.config(e.leaves.serverName)
	cfg.NextProtos = []string{proto}
	c := e.dial(t, srv.Addr(), cfg)
	roundTrip(t, c, "state")
	ss := serverState(t, states)
	st := c.State()
	if st.Version != ss.Version {
		t.Errorf("version %s, server says %s", tls.VersionName(st.Version), tls.VersionName(ss.Version))
	}
	if st.CipherSuite != ss.CipherSuite {
		t.Errorf("cipher suite %s, server says %s", st.CipherSuiteName(), tls.CipherSuiteName(ss.CipherSuite))
	}
	if e.caps.ALPNOverride && st.NegotiatedProtocol != proto {
		t.Errorf("ALPN %q, want %q", st.NegotiatedProtocol, proto)
	}
	if st.NegotiatedProtocol != ss.NegotiatedProtocol {
		t.Errorf("ALPN %q, server says %q", st.NegotiatedProtocol, ss.NegotiatedProtocol)
	}
	if len(st.PeerCertificates) == 0 || !st.PeerCertificates[0].Equal(e.leaves.ecdsa.Cert) {
		t.Errorf("PeerCertificates do not start with the server's leaf (%d certificates)", len(st.PeerCertificates))
	}
	e.checkBackend(t, st)
	t.Logf("%s %s group %s ALPN %q backend %q fingerprint %q, %d peer certificates",
		st.VersionName(), st.CipherSuiteName(), st.GroupName(), st.NegotiatedProtocol, st.Backend, st.Fingerprint, len(st.PeerCertificates))
}

func caseResumption(t *testing.T, e *env) {
	if !e.caps.Resumption {
		t.Skip("backend declares it cannot resume sessions (Capabilities.Resumption is false)")
	}
	srv, states := stateServer(t, serverConfig(e.leaves.ecdsa.TLS))
	cfg := e.config(e.leaves.serverName)
	cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	for i, want := range []bool{false, true} {
		c := e.dial(t, srv.Addr(), cfg)
		// TLS 1.3 tickets follow the handshake: reading the echo reads them.
		roundTrip(t, c, fmt.Sprintf("connection %d", i))
		ss := serverState(t, states)
		if got := c.State().DidResume; got != want {
			t.Fatalf("connection %d: DidResume %v, want %v (server says %v)", i, got, want, ss.DidResume)
		}
		if ss.DidResume != want {
			t.Fatalf("connection %d: server DidResume %v, want %v", i, ss.DidResume, want)
		}
		c.Close()
	}
}

func caseConcurrent(t *testing.T, e *env) {
	const n = 100
	srv := startTLSServer(t, "tcp4", serverConfig(e.leaves.ecdsa.TLS), echo)
	cfg := e.config(e.leaves.serverName)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	dctx := ctx(t)
	start := time.Now()
	for i := range n {
		wg.Go(func() {
			c, err := e.dialer.Dial(dctx, srv.Addr(), cfg)
			if err != nil {
				errs <- fmt.Errorf("connection %d: %w", i, err)
				return
			}
			defer c.Close()
			msg := fmt.Sprintf("concurrent %d", i)
			if _, err := c.Write([]byte(msg)); err != nil {
				errs <- fmt.Errorf("connection %d: write: %w", i, err)
				return
			}
			got := make([]byte, len(msg))
			if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
				errs <- fmt.Errorf("connection %d: echo %q, %v", i, got, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		failed++
		t.Error(err)
	}
	t.Logf("%d concurrent handshakes and echoes, %d failed, in %v", n, failed, time.Since(start).Round(time.Millisecond))
}

// sink reads and discards everything, never answering.
func sink(c net.Conn) { io.Copy(io.Discard, c) }

func caseStalled(t *testing.T, e *env) {
	const timeout = 300 * time.Millisecond
	srv := startServer(t, "tcp4", sink)
	cfg := e.config(e.leaves.serverName)
	cfg.HandshakeTimeout = timeout
	start := time.Now()
	err := e.dialErr(t, srv.Addr(), cfg)
	took := time.Since(start)
	wantErr(t, err, api.ErrHandshakeTimeout)
	if took < timeout || took > timeout+2*time.Second {
		t.Fatalf("handshake gave up after %v, want between %v and %v", took, timeout, timeout+2*time.Second)
	}
	t.Logf("gave up after %v (timeout %v)", took.Round(time.Millisecond), timeout)
}

func caseCanceled(t *testing.T, e *env) {
	hello := make(chan struct{}, 1)
	srv := startServer(t, "tcp4", func(c net.Conn) {
		var b [1]byte
		if _, err := c.Read(b[:]); err == nil {
			select {
			case hello <- struct{}{}:
			default:
			}
		}
		sink(c)
	})
	dctx, cancel := context.WithCancel(ctx(t))
	defer cancel()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		select {
		case <-hello: // the ClientHello is on the wire: cancel mid-handshake
			cancel()
		case <-done:
		}
	})
	c, err := e.dialer.Dial(dctx, srv.Addr(), e.config(e.leaves.serverName))
	close(done)
	wg.Wait()
	if err == nil {
		c.Close()
		t.Fatal("handshake succeeded against a server that never answers")
	}
	wantErr(t, err, api.ErrCanceled)
}

// misbehave returns a handler that reads the ClientHello, writes reply and
// then reads until the client goes away.
func misbehave(reply []byte) func(net.Conn) {
	return func(c net.Conn) {
		buf := make([]byte, 4096)
		if _, err := c.Read(buf); err != nil {
			return
		}
		c.Write(reply)
		sink(c)
	}
}

func caseGarbage(t *testing.T, e *env) {
	garbage := bytes.Repeat([]byte{0xff, 0x00, 0x5a, 0xa5}, 64)
	srv := startServer(t, "tcp4", misbehave(garbage))
	wantErr(t, e.dialErr(t, srv.Addr(), e.config(e.leaves.serverName)), api.ErrProtocol)
}

func casePlaintextHTTP(t *testing.T, e *env) {
	resp := []byte("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 11\r\nConnection: close\r\n\r\nbad request")
	srv := startServer(t, "tcp4", misbehave(resp))
	wantErr(t, e.dialErr(t, srv.Addr(), e.config(e.leaves.serverName)), api.ErrProtocol)
}

func caseClosedDuringHandshake(t *testing.T, e *env) {
	srv := startServer(t, "tcp4", func(c net.Conn) {
		buf := make([]byte, 4096)
		c.Read(buf) // the ClientHello; then the deferred Close sends FIN
	})
	wantErr(t, e.dialErr(t, srv.Addr(), e.config(e.leaves.serverName)), api.ErrTransport)
}

func caseInvalidServerName(t *testing.T, e *env) {
	long := strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 62)
	for _, tc := range []struct{ name, serverName string }{
		{"Empty", ""},
		{"TooLong254Bytes", long},
		{"EmbeddedNUL", "local\x00host"},
		{"InvalidUTF8", "local\xffhost"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startCountingServer(t)
			cfg := e.config(tc.serverName)
			cfg.ServerName = tc.serverName // WithConfig options must not repair it
			// The counting server never answers: a backend that wrongly
			// starts the handshake gives up soon instead of in 20 s.
			cfg.HandshakeTimeout = time.Second
			err := e.dialErr(t, srv.Addr(), cfg)
			wantErr(t, err, api.ErrInvalidConfig)
			srv.assertNoBytes(t)
		})
	}
}
