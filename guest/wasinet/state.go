package wasinet

import (
	ctls "crypto/tls"
	"crypto/x509"

	"github.com/wasitls/wasitls/guest/tls"
)

// alpnState is what a TLSConn asked for through wasitls:tls/connection.
type alpnState struct {
	offered []string // what the host said it would offer (set-alpn-ids)
	state   *ctls.ConnectionState
}

// askALPN asks the host for protos (nil: not at all; the host's policy
// decides).
func askALPN(hs tls.ClientHandshake, protos []string) (alpnState, error) {
	if protos == nil {
		return alpnState{}, nil
	}
	offered, err := hs.SetALPNIDs(protos)
	if err != nil {
		return alpnState{}, err
	}
	return alpnState{offered: offered}, nil
}

// OfferedProtocols is the ALPN list the host said it would offer for the
// protocols the Dialer asked for (see Dialer.NextProtos): those its policy
// allows; nil if none were asked for.
func (t *TLSConn) OfferedProtocols() []string { return t.alpn.offered }

// ConnectionState reports what the connection negotiated, as the host
// tells it through the project's extension wasitls:tls/connection: Version,
// CipherSuite, CurveID (0 if the backend cannot tell), NegotiatedProtocol,
// DidResume, ServerName and PeerCertificates (the chain the server sent,
// which the host verified against its own policy; VerifiedChains stays
// nil: the guest does not see the host's roots). HandshakeComplete is
// true. The first call asks the host; after Close, a state not asked for
// before is the zero state with ServerName only.
//
// Calling it makes the guest import the extension, which only a wasitls
// host serves.
func (t *TLSConn) ConnectionState() ctls.ConnectionState {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.alpn.state != nil {
		return *t.alpn.state
	}
	if t.closed {
		return ctls.ConnectionState{ServerName: t.serverName}
	}
	c, ok := t.conn.(tls.ClientConnection)
	if !ok {
		// The server side of a ServerConn: see its accessors.
		return ctls.ConnectionState{ServerName: t.serverName}
	}
	st := &ctls.ConnectionState{
		Version:           c.ProtocolVersion(),
		HandshakeComplete: true,
		DidResume:         c.Resumed(),
		CipherSuite:       c.CipherSuite(),
		ServerName:        t.serverName,
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
	t.alpn.state = st
	return *st
}
