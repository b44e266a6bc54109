package api

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"time"
)

// ServerProvider is implemented by Providers that can also run TLS server
// handshakes: a guest that serves (wasitls:tls/server) gets its
// connections from it. The stdtls and pq backends implement it; utls is a
// client only (its ClientHello shapes have no server counterpart).
type ServerProvider interface {
	Provider

	// Server runs a TLS server handshake over transport (a connection a
	// client opened) and returns the established connection, whose State
	// reports the client's server name (SNI) in ServerName and its
	// certificate chain in PeerCertificates. The same rules as for Client
	// apply: honour ctx and cfg.HandshakeTimeout, return failures as
	// [*Error], own transport only on success.
	Server(ctx context.Context, transport net.Conn, cfg *ServerConfig) (Conn, error)
}

// ServerConfig is the configuration of one server connection. The host
// builds it from the embedder's policy; the guest chooses none of it, and
// never sees the keys.
type ServerConfig struct {
	// Certificate returns the certificate chain and key to present for the
	// server name the client asked for (SNI; "" when it sent none). An
	// error fails the handshake.
	Certificate func(serverName string) (*tls.Certificate, error)

	// NextProtos are the ALPN protocols accepted, in the server's order of
	// preference. Empty: no ALPN.
	NextProtos []string

	// ClientCAs, when set, require every client to present a certificate
	// that chains to one of them (mTLS).
	ClientCAs *x509.CertPool

	// MinVersion, MaxVersion and HandshakeTimeout are as in Config.
	MinVersion       uint16
	MaxVersion       uint16
	HandshakeTimeout time.Duration

	// Options are backend-specific settings, as in Config.
	Options map[string]string
}

// Timeout returns the effective handshake timeout.
func (c *ServerConfig) Timeout() time.Duration {
	return (&Config{HandshakeTimeout: c.HandshakeTimeout}).Timeout()
}

// Versions returns the effective minimum and maximum protocol versions.
func (c *ServerConfig) Versions() (minV, maxV uint16) {
	return (&Config{MinVersion: c.MinVersion, MaxVersion: c.MaxVersion}).Versions()
}
