// Package kind is the table of classified causes of a failed TLS connection.
//
// The names are a protocol between host and guest: the host starts the
// io-error debug string a guest receives with "tls: <name>" (for example
// "tls: name mismatch [stdtls]: ..."), and guest libraries parse it back. So
// the host side (api.Kind, api.Error's Kind) and the guest side
// (guest/wasinet.Kind) are aliases of this one Kind, and the package imports
// only strconv, to stay small in guests.
//
//	k, alert, ok := kind.Parse("tls: peer alert unknown_ca (48) [stdtls]: ...")
//	// k == kind.PeerAlert, alert == 48, ok == true
package kind

import "strconv"

// Kind classifies why a connection failed.
type Kind int

// The kinds. Their order is part of neither protocol; their names are.
const (
	Unknown          Kind = iota // not classified
	UnknownAuthority             // the chain does not lead to a trusted root
	NameMismatch                 // the certificate is not valid for the server name
	Expired                      // a certificate in the chain has expired
	NotYetValid                  // a certificate in the chain is not valid yet
	BadCertificate               // another certificate verification failure
	PeerAlert                    // the peer sent a fatal alert
	ProtocolVersion              // no protocol version both sides accept
	Protocol                     // the peer broke the protocol (garbage, bad record, not TLS)
	HandshakeTimeout             // the handshake did not finish in time
	Canceled                     // the handshake was canceled
	Transport                    // the transport failed (reset, closed, unreachable)
	PQRequired                   // a hybrid post-quantum group was required but not negotiated
	PolicyDenied                 // the host's policy refused the connection
	InvalidConfig                // the configuration (server name, versions, options) is invalid
)

var names = [...]string{
	Unknown:          "handshake failure",
	UnknownAuthority: "unknown authority",
	NameMismatch:     "name mismatch",
	Expired:          "certificate expired",
	NotYetValid:      "certificate not yet valid",
	BadCertificate:   "bad certificate",
	PeerAlert:        "peer alert",
	ProtocolVersion:  "protocol version",
	Protocol:         "protocol error",
	HandshakeTimeout: "handshake timeout",
	Canceled:         "canceled",
	Transport:        "transport failure",
	PQRequired:       "post-quantum key exchange required",
	PolicyDenied:     "policy denied",
	InvalidConfig:    "invalid configuration",
}

// String returns the kind's stable name, as it appears after "tls: ".
func (k Kind) String() string {
	if k >= 0 && int(k) < len(names) {
		return names[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Prefix starts every classified debug string.
const Prefix = "tls: "

// Parse reads the kind named at the start of a debug string ("tls: <name>"),
// and for PeerAlert the alert code written after it ("peer alert
// unknown_ca (48)"). ok is false when the string names no kind.
func Parse(debug string) (k Kind, alert uint8, ok bool) {
	rest := debug
	if len(rest) < len(Prefix) || rest[:len(Prefix)] != Prefix {
		return Unknown, 0, false
	}
	rest = rest[len(Prefix):]
	best := -1
	for i, name := range names {
		// The longest name that ends at a word boundary wins, so that a
		// name that prefixes another cannot.
		if len(rest) < len(name) || rest[:len(name)] != name {
			continue
		}
		if len(rest) > len(name) && !isBoundary(rest[len(name)]) {
			continue
		}
		if best < 0 || len(name) > len(names[best]) {
			best = i
		}
	}
	if best < 0 {
		return Unknown, 0, false
	}
	k = Kind(best)
	if k == PeerAlert {
		alert = parseAlert(rest[len(names[best]):])
	}
	return k, alert, true
}

func isBoundary(c byte) bool { return c == ' ' || c == ':' || c == '[' || c == '(' }

// parseAlert reads "(<code>)" from the words after "peer alert".
func parseAlert(s string) uint8 {
	for i := 0; i < len(s); i++ {
		if s[i] != '(' {
			continue
		}
		for j := i + 1; j < len(s); j++ {
			if s[j] == ')' {
				if v, err := strconv.ParseUint(s[i+1:j], 10, 8); err == nil {
					return uint8(v)
				}
				return 0
			}
		}
		return 0
	}
	return 0
}
