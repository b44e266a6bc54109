// Package ext is where package tlsext puts wasinet's way to the project's
// extension wasitls:tls/connection. Until tlsext is imported these are
// nil and wasinet never refers to the extension's functions, so Go's
// linker leaves their imports out of the guest.
package ext

import (
	ctls "crypto/tls"

	"github.com/wasitls/wasitls/guest/tls"
)

var (
	// SetALPNIDs asks the host for ALPN ids on a handshake.
	SetALPNIDs func(hs tls.ClientHandshake, ids []string) ([]string, error)
	// State is what an established client connection negotiated (all but
	// ServerName, which the guest knows).
	State func(c tls.ClientConnection) ctls.ConnectionState
)
