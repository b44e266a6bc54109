package api

import (
	"crypto/tls"
	"errors"
	"fmt"
)

// Validator is implemented by Providers that can tell, before any
// connection, whether they can honour a configuration: unknown or malformed
// Options, version bounds the backend cannot meet, an unknown Fingerprint,
// ALPN protocols it cannot send. The host calls it when a guest is
// instantiated, so that a bad setting is an error for the embedder then
// instead of a failed handshake inside the guest later.
//
// cfg holds only what does not depend on the destination: ServerName and
// ClientCertificate are zero, and NextProtos is one of the protocol lists
// the policy may offer. Validate must agree with Client: a configuration it
// accepts must not fail in Client for the same reason. Wrappers forward it
// (see [ValidateConfig]).
type Validator interface {
	Validate(cfg *Config) error
}

// ValidateConfig checks cfg for p: the settings every backend must refuse
// (versions below TLS 1.2 or unknown, MinVersion above MaxVersion, a
// negative HandshakeTimeout), then p's own Validate if it has one. Errors
// are [*Error]s of KindInvalidConfig.
func ValidateConfig(p Provider, cfg *Config) error {
	if cfg == nil {
		cfg = &Config{}
	}
	name := p.Name()
	invalid := func(format string, args ...any) error {
		return &Error{Kind: KindInvalidConfig, Backend: name, Err: fmt.Errorf(format, args...)}
	}
	for _, v := range []struct {
		what string
		v    uint16
	}{{"MinVersion", cfg.MinVersion}, {"MaxVersion", cfg.MaxVersion}} {
		if v.v != 0 && v.v != tls.VersionTLS12 && v.v != tls.VersionTLS13 {
			return invalid("%s %#04x is not TLS 1.2 or TLS 1.3", v.what, v.v)
		}
	}
	if minV, maxV := cfg.Versions(); minV > maxV {
		return invalid("MinVersion %s is above MaxVersion %s", tls.VersionName(minV), tls.VersionName(maxV))
	}
	if cfg.HandshakeTimeout < 0 {
		return invalid("HandshakeTimeout %v is negative", cfg.HandshakeTimeout)
	}
	if v, ok := p.(Validator); ok {
		if err := v.Validate(cfg); err != nil {
			var ae *Error
			if !errors.As(err, &ae) {
				return &Error{Kind: KindInvalidConfig, Backend: name, Err: err}
			}
			if ae.Backend == "" {
				ae.Backend = name
			}
			return err
		}
	}
	return nil
}
