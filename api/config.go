package api

import (
	"crypto/tls"
	"crypto/x509"
	"time"
)

// DefaultHandshakeTimeout bounds a handshake when Config.HandshakeTimeout is zero.
const DefaultHandshakeTimeout = 30 * time.Second

// Config is the configuration of one client connection. The host builds it
// from the guest's server name and the embedder's per-guest policy; a Provider
// must not modify it.
type Config struct {
	// ServerName is the name to verify and to send as SNI. An IP address is
	// verified against the certificate's IP SANs and not sent as SNI.
	ServerName string

	// NextProtos are the ALPN protocols to offer, in preference order.
	NextProtos []string

	// RootCAs are the trust anchors. Nil means the system roots.
	RootCAs *x509.CertPool

	// ClientCertificate is the identity presented when the server asks for
	// one (mTLS). The host chooses it per destination; nil means none.
	ClientCertificate *tls.Certificate

	// MinVersion and MaxVersion bound the protocol version (tls.VersionTLS12,
	// tls.VersionTLS13). Zero means TLS 1.2 and TLS 1.3 respectively; no
	// backend may go below TLS 1.2.
	MinVersion uint16
	MaxVersion uint16

	// HandshakeTimeout bounds the handshake. Zero means DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration

	// Fingerprint selects a backend-specific ClientHello shape (uTLS parrots).
	// Backends without fingerprints ignore it; empty means the backend default.
	Fingerprint string

	// ClientSessionCache enables session resumption when non-nil. The host
	// keeps one per guest so that guests never share tickets.
	ClientSessionCache tls.ClientSessionCache

	// Options carries backend-specific settings by name (e.g. the pq
	// backend's "mode" and "groups"). Unknown keys are an error.
	Options map[string]string
}

// Timeout returns the effective handshake timeout.
func (c *Config) Timeout() time.Duration {
	if c == nil || c.HandshakeTimeout <= 0 {
		return DefaultHandshakeTimeout
	}
	return c.HandshakeTimeout
}

// Versions returns the effective minimum and maximum protocol versions.
func (c *Config) Versions() (minV, maxV uint16) {
	minV, maxV = tls.VersionTLS12, tls.VersionTLS13
	if c != nil && c.MinVersion > minV {
		minV = c.MinVersion
	}
	if c != nil && c.MaxVersion != 0 && c.MaxVersion < maxV {
		maxV = c.MaxVersion
	}
	return minV, maxV
}

// Clone returns a shallow copy of c whose slices and maps may be modified.
func (c *Config) Clone() *Config {
	if c == nil {
		return &Config{}
	}
	n := *c
	n.NextProtos = append([]string(nil), c.NextProtos...)
	if c.Options != nil {
		n.Options = make(map[string]string, len(c.Options))
		for k, v := range c.Options {
			n.Options[k] = v
		}
	}
	return &n
}
