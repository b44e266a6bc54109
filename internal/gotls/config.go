package gotls

import (
	"crypto/tls"
	"fmt"

	"github.com/wasitls/wasitls/api"
)

// Validate refuses what plain crypto/tls cannot honour whatever the
// destination: any Options (it has none; a backend with options of its own
// passes a Config without them), and version bounds that leave no version.
func Validate(cfg *api.Config, backend string) error {
	for k := range cfg.Options {
		return &api.Error{Kind: api.KindInvalidConfig, Backend: backend, Err: fmt.Errorf("unknown option %q (%s has none)", k, backend)}
	}
	if minV, maxV := cfg.Versions(); minV > maxV {
		return &api.Error{Kind: api.KindInvalidConfig, Backend: backend, Err: fmt.Errorf("MinVersion %s is above MaxVersion %s", tls.VersionName(minV), tls.VersionName(maxV))}
	}
	return nil
}

// ClientConfig converts cfg to a crypto/tls client configuration, after
// checking the server name and what Validate checks; errors name backend.
func ClientConfig(cfg *api.Config, backend string) (*tls.Config, error) {
	if err := api.ValidateServerName(cfg.ServerName); err != nil {
		return nil, err
	}
	if err := Validate(cfg, backend); err != nil {
		return nil, err
	}
	minV, maxV := cfg.Versions()
	tc := &tls.Config{
		ServerName:         cfg.ServerName,
		NextProtos:         cfg.NextProtos,
		RootCAs:            cfg.RootCAs,
		MinVersion:         minV,
		MaxVersion:         maxV,
		ClientSessionCache: cfg.ClientSessionCache,
	}
	if cert := cfg.ClientCertificate; cert != nil {
		// GetClientCertificate rather than Certificates: send the identity
		// even when the server's CA list does not name its issuer, and let the
		// server decide.
		tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	}
	return tc, nil
}

// ServerConfig converts cfg to a crypto/tls server configuration: the
// certificate chosen per client server name by cfg.Certificate, client
// certificates required and verified when cfg.ClientCAs is set, ALPN in the
// server's order of preference.
func ServerConfig(cfg *api.ServerConfig, backend string) (*tls.Config, error) {
	if cfg.Certificate == nil {
		return nil, &api.Error{Kind: api.KindInvalidConfig, Backend: backend, Err: fmt.Errorf("no server certificate")}
	}
	if err := Validate(&api.Config{MinVersion: cfg.MinVersion, MaxVersion: cfg.MaxVersion, Options: cfg.Options}, backend); err != nil {
		return nil, err
	}
	minV, maxV := cfg.Versions()
	get := cfg.Certificate
	tc := &tls.Config{
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) { return get(hello.ServerName) },
		NextProtos:     cfg.NextProtos,
		MinVersion:     minV,
		MaxVersion:     maxV,
		// Tickets would need a key shared across handshakes; each
		// handshake has its own config, so resumption is off rather than
		// keyed per connection.
		SessionTicketsDisabled: true,
	}
	if cfg.ClientCAs != nil {
		tc.ClientCAs = cfg.ClientCAs
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc, nil
}
