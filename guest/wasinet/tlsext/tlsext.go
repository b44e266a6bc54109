// Package tlsext, imported for its side effect, lets package wasinet use
// the project's extension to wasi:tls, wasitls:tls/connection (wit/ext):
// ALPN (wasinet.Dialer.NextProtos) and the facts of a connection
// (wasinet.TLSConn.ConnectionState).
//
//	import _ "github.com/wasitls/wasitls/guest/wasinet/tlsext"
//
// A guest that imports it needs a host that serves the extension, as
// wasitls does; one that does not imports only the standard wasi:tls
// interface and runs on any wasi-tls host. Package wasihttp imports it.
package tlsext

import (
	ctls "crypto/tls"
	"crypto/x509"

	"github.com/wasitls/wasitls/guest/tls"
	"github.com/wasitls/wasitls/guest/wasinet/internal/ext"
)

func init() {
	ext.SetALPNIDs = tls.ClientHandshake.SetALPNIDs
	ext.State = state
}

// state asks the host what c negotiated.
func state(c tls.ClientConnection) ctls.ConnectionState {
	st := ctls.ConnectionState{
		Version:           c.ProtocolVersion(),
		HandshakeComplete: true,
		DidResume:         c.Resumed(),
		CipherSuite:       c.CipherSuite(),
	}
	if g, ok := c.KeyExchangeGroup(); ok {
		st.CurveID = ctls.CurveID(g)
	}
	if p, ok := c.NegotiatedProtocol(); ok {
		st.NegotiatedProtocol = p
		st.NegotiatedProtocolIsMutual = true //nolint:staticcheck // documented as always true
	}
	for _, der := range c.PeerCertificates() {
		if cert, err := x509.ParseCertificate(der); err == nil {
			st.PeerCertificates = append(st.PeerCertificates, cert)
		}
	}
	return st
}
