package conformance

import (
	"crypto/tls"
	"regexp"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/api"
)

// peerCases run against an independent implementation: OpenSSL 3.0's
// s_server, which has no hybrid ML-KEM groups. With -www it answers an HTTP
// GET with a status page describing the session, which the cases read to
// learn the server's view.
var peerCases = []testCase{
	{name: "OpenSSLTLS13", expect: "ServesStatusPage", pqExpect: "IsPQRequiredError", run: caseOpenSSLTLS13},
	{name: "OpenSSLTLS12", expect: "ServesStatusPage", pqExpect: "IsPQRequiredError", run: caseOpenSSLTLS12},
	{name: "OpenSSLClientAuth", expect: "ServerVerifiesClientCertificate", pqExpect: "IsPQRequiredError", run: caseOpenSSLClientAuth},
	{name: "OpenSSLClientAuthMissing", expect: "HandshakeOKFirstReadIsCertificateRequiredAlert", pqExpect: "IsPQRequiredError", run: caseOpenSSLClientAuthMissing},
}

// startOpenSSLWWW starts s_server -www with the suite's ECDSA leaf and extra
// arguments.
func (e *env) startOpenSSLWWW(t *testing.T, extra ...string) *opensslServer {
	t.Helper()
	dir := t.TempDir()
	cert, key := e.leaves.ecdsa.WriteFiles(t, dir, "server")
	args := append([]string{"-cert", cert, "-cert_chain", cert, "-key", key, "-www"}, extra...)
	return e.startOpenSSL(t, args...)
}

// getStatusPage sends GET / and reads s_server's page up to its end.
func getStatusPage(t *testing.T, c api.Conn) string {
	t.Helper()
	if _, err := c.Write([]byte("GET / HTTP/1.0\r\n\r\n")); err != nil {
		t.Fatalf("write request: %v", err)
	}
	page, err := readAll(c)
	if !strings.Contains(string(page), "</HTML>") {
		t.Fatalf("status page incomplete (%d bytes, ended by %v):\n%s", len(page), err, page)
	}
	if !strings.HasPrefix(string(page), "HTTP/1.0 200 ok") {
		t.Fatalf("status page does not start with HTTP/1.0 200 ok:\n%.200s", page)
	}
	return string(page)
}

// wantOnPage fails t unless page contains each of want.
func wantOnPage(t *testing.T, page string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(page, w) {
			t.Errorf("s_server's page lacks %q", w)
		}
	}
}

func (e *env) opensslVersionCase(t *testing.T, flag, pageProto string, version uint16) {
	srv := e.startOpenSSLWWW(t, flag)
	cfg := e.config(e.leaves.serverName)
	if e.classicalOnlyPeer(t, "OpenSSL 3.0 has no hybrid ML-KEM group", func() error { return e.dialErr(t, srv.Addr(), cfg) }) {
		return
	}
	if version == tls.VersionTLS12 {
		e.needTLS12(t)
	}
	c := e.dial(t, srv.Addr(), cfg)
	page := getStatusPage(t, c)
	st := c.State()
	wantOnPage(t, page, "Protocol  : "+pageProto)
	if version == tls.VersionTLS13 {
		// TLS 1.3 suites have the same names in OpenSSL and IANA.
		wantOnPage(t, page, "Cipher    : "+st.CipherSuiteName())
	}
	if st.Version != version {
		t.Errorf("version %s, want %s", st.VersionName(), tls.VersionName(version))
	}
	t.Logf("%s %s group %s", st.VersionName(), st.CipherSuiteName(), st.GroupName())
}

func caseOpenSSLTLS13(t *testing.T, e *env) {
	e.opensslVersionCase(t, "-tls1_3", "TLSv1.3", tls.VersionTLS13)
}

func caseOpenSSLTLS12(t *testing.T, e *env) {
	e.opensslVersionCase(t, "-tls1_2", "TLSv1.2", tls.VersionTLS12)
}

// startOpenSSLClientAuth starts s_server requiring a client certificate
// from the suite's root.
func (e *env) startOpenSSLClientAuth(t *testing.T) *opensslServer {
	t.Helper()
	root := e.pki.WriteRoot(t, t.TempDir(), "root.pem")
	return e.startOpenSSLWWW(t, "-tls1_3", "-Verify", "1", "-CAfile", root)
}

func caseOpenSSLClientAuth(t *testing.T, e *env) {
	srv := e.startOpenSSLClientAuth(t)
	cfg := e.config(e.leaves.serverName)
	cfg.ClientCertificate = &e.leaves.client.TLS
	if e.classicalOnlyPeer(t, "OpenSSL 3.0 has no hybrid ML-KEM group", func() error { return e.dialErr(t, srv.Addr(), cfg) }) {
		return
	}
	e.needClientAuth(t)
	c := e.dial(t, srv.Addr(), cfg)
	page := getStatusPage(t, c)
	wantOnPage(t, page, "Client certificate", "Verify return code: 0 (ok)")
	subject := regexp.MustCompile(`Subject:.*CN ?= ?` + regexp.QuoteMeta(e.leaves.clientCN) + `\b`)
	if !subject.MatchString(page) {
		t.Errorf("s_server's page shows no client certificate with CN %q", e.leaves.clientCN)
	}
}

func caseOpenSSLClientAuthMissing(t *testing.T, e *env) {
	srv := e.startOpenSSLClientAuth(t)
	cfg := e.config(e.leaves.serverName)
	if e.classicalOnlyPeer(t, "OpenSSL 3.0 has no hybrid ML-KEM group", func() error { return e.dialErr(t, srv.Addr(), cfg) }) {
		return
	}
	c := e.dial(t, srv.Addr(), cfg)
	// The request may or may not be written before the alert arrives; the
	// read is where the refusal must show.
	c.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
	_, err := readAll(c)
	wantErr(t, err, &api.Error{Kind: api.KindPeerAlert, Alert: api.AlertCertificateRequired})
}
