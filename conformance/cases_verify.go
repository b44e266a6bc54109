package conformance

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"testing"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/conformance/pki"
)

// verifyCases cover certificate verification, ALPN and client certificates.
var verifyCases = []testCase{
	{name: "ChainThroughIntermediate", expect: "VerifiesToRoot", run: caseChain},
	{name: "NameMismatch", expect: "IsNameMismatchError", run: caseNameMismatch},
	{name: "UnknownAuthority", expect: "IsUnknownAuthorityError", run: caseUnknownAuthority},
	{name: "Expired", expect: "IsExpiredError", run: caseExpired},
	{name: "NotYetValid", expect: "IsNotYetValidError", run: caseNotYetValid},
	{name: "MissingIntermediate", expect: "IsUnknownAuthorityError", run: caseMissingIntermediate},
	{name: "IPAddressServerName", expect: "VerifiesIPSAN", run: caseIPAddress},
	{name: "Ed25519Leaf", expect: "Verifies", run: caseEd25519},
	{name: "RSALeaf", expect: "Verifies", run: caseRSA},
	{name: "ALPN", expect: "NegotiatesServersChoice", run: caseALPN},
	{name: "ALPNServerWithoutALPN", expect: "NegotiatesNone", run: caseALPNServerWithout},
	{name: "ClientCertificate", expect: "ServerSeesClientCN", run: caseClientCert},
	// Pinned: in TLS 1.3 the client's handshake completes before the server
	// has read its (empty) Certificate, so the refusal is the first Read's
	// error, classified as the peer's certificate_required alert (116).
	{name: "ClientCertificateMissing", expect: "HandshakeOKFirstReadIsCertificateRequiredAlert", run: caseClientCertMissing},
	// In TLS 1.2 the server's Finished never comes: the handshake itself
	// fails with the server's handshake_failure alert (40).
	{name: "ClientCertificateMissingTLS12", expect: "HandshakeIsHandshakeFailureAlert", pqExpect: "IsPQRequiredError", run: caseClientCertMissingTLS12},
}

// leafServer is an echo server presenting cert.
func leafServer(t *testing.T, cert *pki.Cert) *tlsServer {
	return startTLSServer(t, "tcp4", serverConfig(cert.TLS), echo)
}

func caseChain(t *testing.T, e *env) {
	srv := leafServer(t, e.leaves.ecdsa)
	c := e.dial(t, srv.Addr(), e.config(e.leaves.serverName))
	roundTrip(t, c, "chain")
	st := c.State()
	if len(st.PeerCertificates) != 2 {
		t.Errorf("server sent %d certificates, want leaf and intermediate", len(st.PeerCertificates))
	}
	if len(st.VerifiedChains) == 0 {
		t.Log("backend does not report verified chains")
		return
	}
	chain := st.VerifiedChains[0]
	if len(chain) != 3 || !chain[2].Equal(e.pki.Root.Cert) || !chain[1].Equal(e.pki.Intermediate.Cert) {
		t.Errorf("verified chain has %d certificates, want leaf, intermediate, root", len(chain))
	}
}

func (e *env) wantLeafErr(t *testing.T, cert *pki.Cert, want error) {
	t.Helper()
	srv := leafServer(t, cert)
	wantErr(t, e.dialErr(t, srv.Addr(), e.config(e.leaves.serverName)), want)
}

func caseNameMismatch(t *testing.T, e *env) {
	e.wantLeafErr(t, e.leaves.wrongName, api.ErrNameMismatch)
}
func caseUnknownAuthority(t *testing.T, e *env) {
	e.wantLeafErr(t, e.leaves.untrusted, api.ErrUnknownAuthority)
}
func caseExpired(t *testing.T, e *env) { e.wantLeafErr(t, e.leaves.expired, api.ErrExpired) }
func caseNotYetValid(t *testing.T, e *env) {
	e.wantLeafErr(t, e.leaves.notYetValid, api.ErrNotYetValid)
}
func caseMissingIntermediate(t *testing.T, e *env) {
	e.wantLeafErr(t, e.leaves.noChain, api.ErrUnknownAuthority)
}

func caseIPAddress(t *testing.T, e *env) {
	for _, tc := range []struct {
		name, network string
		ip            net.IP
	}{
		{"IPv4Loopback", "tcp4", e.leaves.loopbackV4},
		{"IPv6Loopback", "tcp6", e.leaves.loopbackV6IP},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startTLSServer(t, tc.network, serverConfig(e.leaves.ecdsa.TLS), echo)
			c := e.dial(t, srv.Addr(), e.config(tc.ip.String()))
			roundTrip(t, c, "hello "+tc.ip.String())
		})
	}
	// The same server, asked for a name its certificate lacks by IP.
	t.Run("IPNotInCertificate", func(t *testing.T) {
		srv := leafServer(t, e.leaves.wrongName)
		wantErr(t, e.dialErr(t, srv.Addr(), e.config("127.0.0.1")), api.ErrNameMismatch)
	})
}

func (e *env) leafVerifies(t *testing.T, cert *pki.Cert, algo x509.PublicKeyAlgorithm) {
	srv := leafServer(t, cert)
	c := e.dial(t, srv.Addr(), e.config(e.leaves.serverName))
	roundTrip(t, c, "hello "+algo.String())
	if pc := c.State().PeerCertificates; len(pc) == 0 || pc[0].PublicKeyAlgorithm != algo {
		t.Errorf("peer leaf is not %s", algo)
	}
}

func caseEd25519(t *testing.T, e *env) { e.leafVerifies(t, e.leaves.ed25519, x509.Ed25519) }
func caseRSA(t *testing.T, e *env)     { e.leafVerifies(t, e.leaves.rsa, x509.RSA) }

func caseALPN(t *testing.T, e *env) {
	if !e.caps.ALPNOverride {
		t.Skip("backend does not honour Config.NextProtos exactly (Capabilities.ALPNOverride is false)")
	}
	sc := serverConfig(e.leaves.ecdsa.TLS)
	sc.NextProtos = []string{"http/1.1"}
	srv, states := stateServer(t, sc)
	cfg := e.config(e.leaves.serverName)
	cfg.NextProtos = []string{"h2", "http/1.1"}
	c := e.dial(t, srv.Addr(), cfg)
	roundTrip(t, c, "alpn")
	ss := serverState(t, states)
	if got := c.State().NegotiatedProtocol; got != "http/1.1" || ss.NegotiatedProtocol != got {
		t.Fatalf("ALPN %q (server %q), want http/1.1", got, ss.NegotiatedProtocol)
	}
}

func caseALPNServerWithout(t *testing.T, e *env) {
	srv := leafServer(t, e.leaves.ecdsa)
	cfg := e.config(e.leaves.serverName)
	cfg.NextProtos = []string{"h2", "http/1.1"}
	c := e.dial(t, srv.Addr(), cfg)
	roundTrip(t, c, "no alpn")
	if got := c.State().NegotiatedProtocol; got != "" {
		t.Fatalf("ALPN %q from a server without ALPN, want none", got)
	}
}

// clientAuthConfig is a server configuration requiring a client certificate
// from the suite's PKI.
func (e *env) clientAuthConfig() *tls.Config {
	sc := serverConfig(e.leaves.ecdsa.TLS)
	sc.ClientAuth = tls.RequireAndVerifyClientCert
	sc.ClientCAs = e.pki.Roots
	return sc
}

func (e *env) needClientAuth(t *testing.T) {
	t.Helper()
	if !e.caps.ClientAuth {
		t.Skip("backend declares it cannot present a client certificate (Capabilities.ClientAuth is false)")
	}
}

func caseClientCert(t *testing.T, e *env) {
	e.needClientAuth(t)
	// The server answers with the verified client's CommonName.
	srv := startTLSServer(t, "tcp4", e.clientAuthConfig(), func(c *tls.Conn) {
		if pc := c.ConnectionState().PeerCertificates; len(pc) > 0 {
			c.Write([]byte(pc[0].Subject.CommonName))
		}
	})
	cfg := e.config(e.leaves.serverName)
	cfg.ClientCertificate = &e.leaves.client.TLS
	c := e.dial(t, srv.Addr(), cfg)
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if string(got) != e.leaves.clientCN {
		t.Fatalf("server saw client %q, want %q", got, e.leaves.clientCN)
	}
}

func caseClientCertMissing(t *testing.T, e *env) {
	sc := e.clientAuthConfig()
	sc.MinVersion = tls.VersionTLS13
	srv := startTLSServer(t, "tcp4", sc, echo)
	c := e.dial(t, srv.Addr(), e.config(e.leaves.serverName))
	_, err := c.Read(make([]byte, 64))
	if err == nil {
		t.Fatal("first read succeeded; the server should have refused the missing certificate")
	}
	certRequired := &api.Error{Kind: api.KindPeerAlert, Alert: api.AlertCertificateRequired}
	wantErr(t, err, certRequired)
	select {
	case herr := <-srv.handshakeErrs:
		t.Logf("server refused: %v", herr)
	case <-ctx(t).Done():
		t.Fatal("the server did not report its refusal")
	}
}

func caseClientCertMissingTLS12(t *testing.T, e *env) {
	sc := e.clientAuthConfig()
	sc.MaxVersion = tls.VersionTLS12
	srv := startTLSServer(t, "tcp4", sc, echo)
	cfg := e.config(e.leaves.serverName)
	if e.classicalOnlyPeer(t, "TLS 1.2-only server", func() error { return e.dialErr(t, srv.Addr(), cfg) }) {
		return
	}
	e.needTLS12(t)
	err := e.dialErr(t, srv.Addr(), cfg)
	wantErr(t, err, &api.Error{Kind: api.KindPeerAlert, Alert: api.AlertHandshakeFailure})
}
