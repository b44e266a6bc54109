package api

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
)

// ConnectionState is a snapshot of what a connection negotiated.
type ConnectionState struct {
	Version            uint16      // tls.VersionTLS12 or tls.VersionTLS13
	CipherSuite        uint16      // IANA cipher suite ID
	Group              tls.CurveID // key-exchange group; 0 if the backend cannot tell
	HelloRetryRequest  bool        // the server asked for another key share
	NegotiatedProtocol string      // ALPN result, "" if none
	ServerName         string      // the name that was verified
	PeerCertificates   []*x509.Certificate
	VerifiedChains     [][]*x509.Certificate
	DidResume          bool   // the session was resumed from a ticket
	Backend            string // Provider name
	Fingerprint        string // ClientHello shape name, "" for a backend without fingerprints
}

// VersionName returns e.g. "TLS 1.3".
func (s ConnectionState) VersionName() string { return tls.VersionName(s.Version) }

// CipherSuiteName returns the IANA name of the cipher suite.
func (s ConnectionState) CipherSuiteName() string { return tls.CipherSuiteName(s.CipherSuite) }

// GroupName returns the name of the key-exchange group, e.g. "X25519MLKEM768".
func (s ConnectionState) GroupName() string {
	if s.Group == 0 {
		return ""
	}
	return GroupName(s.Group)
}

// GroupName names a TLS named group, including the hybrid ML-KEM groups.
func GroupName(g tls.CurveID) string {
	switch g {
	case tls.X25519MLKEM768:
		return "X25519MLKEM768"
	case tls.SecP256r1MLKEM768:
		return "SecP256r1MLKEM768"
	case tls.SecP384r1MLKEM1024:
		return "SecP384r1MLKEM1024"
	case tls.X25519:
		return "X25519"
	case tls.CurveP256:
		return "P-256"
	case tls.CurveP384:
		return "P-384"
	case tls.CurveP521:
		return "P-521"
	}
	return fmt.Sprintf("0x%04x", uint16(g))
}

// IsHybridPQ reports whether g is one of the hybrid ML-KEM groups.
func IsHybridPQ(g tls.CurveID) bool {
	return g == tls.X25519MLKEM768 || g == tls.SecP256r1MLKEM768 || g == tls.SecP384r1MLKEM1024
}
