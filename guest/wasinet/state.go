package wasinet

import (
	ctls "crypto/tls"
	"errors"

	"github.com/wasitls/wasitls/guest/tls"
	"github.com/wasitls/wasitls/guest/wasinet/internal/ext"
)

// ErrNoExtension is the error of a dial that asks for ALPN
// (Dialer.NextProtos) in a guest that did not import package tlsext.
var ErrNoExtension = errors.New(`wasinet: ALPN needs the wasitls:tls/connection extension: import _ "github.com/wasitls/wasitls/guest/wasinet/tlsext"`)

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
	if ext.SetALPNIDs == nil {
		return alpnState{}, ErrNoExtension
	}
	offered, err := ext.SetALPNIDs(hs, protos)
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
// The facts need package tlsext imported (which makes the guest import the
// extension, which only a wasitls host serves); without it the state has
// ServerName and HandshakeComplete only.
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
	if ext.State == nil {
		return ctls.ConnectionState{ServerName: t.serverName, HandshakeComplete: true}
	}
	st := ext.State(c)
	st.ServerName = t.serverName
	t.alpn.state = &st
	return st
}
