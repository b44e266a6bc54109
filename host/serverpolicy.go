package host

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"strings"

	"github.com/wasitls/wasitls/api"
)

// ServePolicy is the server side of a guest's TLS: what the host presents
// to the guest's clients and what it asks of them. The guest never sees
// the keys; it reads the name its client asked for, the negotiated ALPN
// protocol and the client's certificate chain.
type ServePolicy struct {
	// Certificates are chosen per server name the client sends (SNI): the
	// first whose ServerNames match it, else the first without
	// ServerNames (the default). No match fails the handshake.
	Certificates []ServerCertificate

	// ClientCAs, when set, require clients to present a certificate that
	// chains to one of them (mTLS); the guest can read its chain.
	ClientCAs *x509.CertPool

	// NextProtos are the ALPN protocols accepted, in preference order.
	NextProtos []string

	// Provider runs the server handshakes; nil: the guest's provider,
	// which must then implement api.ServerProvider. A guest may so use a
	// client-only backend (utls) for its connections and serve with
	// another.
	Provider api.ServerProvider
}

// ServerCertificate is a certificate and key for the server names it lists:
// exact names or "*.suffix" (one label); none means any name.
type ServerCertificate struct {
	ServerNames []string
	Certificate *tls.Certificate
}

// CheckServe reports what makes s unusable (no certificate, one without
// a key, a bad server name), as Instantiate would, for tools that check
// their input before building a policy.
func CheckServe(s *ServePolicy) error { return checkServe(s) }

// checkServe refuses a ServePolicy no handshake could use.
func checkServe(s *ServePolicy) error {
	if s == nil {
		return nil
	}
	if len(s.Certificates) == 0 {
		return fmt.Errorf("host: policy Serve has no certificate")
	}
	for i, c := range s.Certificates {
		if c.Certificate == nil || len(c.Certificate.Certificate) == 0 || c.Certificate.PrivateKey == nil {
			return fmt.Errorf("host: policy Serve.Certificates[%d] has no certificate chain and key", i)
		}
		for _, n := range c.ServerNames {
			if err := api.ValidateServerName(strings.TrimPrefix(n, "*.")); err != nil || strings.Contains(strings.TrimPrefix(n, "*."), "*") {
				return fmt.Errorf("host: policy Serve.Certificates[%d]: bad server name %q", i, n)
			}
		}
	}
	return nil
}

// certificate chooses the certificate for the server name a client sent.
func (s *ServePolicy) certificate(serverName string) (*tls.Certificate, error) {
	name := canonName(serverName)
	var def *tls.Certificate
	for _, c := range s.Certificates {
		if len(c.ServerNames) == 0 {
			if def == nil {
				def = c.Certificate
			}
			continue
		}
		for _, n := range c.ServerNames {
			if serverNameMatch(canonName(n), name) {
				return c.Certificate, nil
			}
		}
	}
	if def == nil {
		return nil, fmt.Errorf("no certificate for server name %q", serverName)
	}
	return def, nil
}

// serverNameMatch matches a name against "name" or "*.suffix" (exactly one
// label in place of the star, as in certificates).
func serverNameMatch(pattern, name string) bool {
	if suffix, ok := strings.CutPrefix(pattern, "*."); ok {
		label, rest, found := strings.Cut(name, ".")
		return found && label != "" && rest == suffix
	}
	return pattern == name
}

// serverProvider is the provider of the guest's server handshakes (see
// ServePolicy.Provider), false if there is none.
func (p *policy) serverProvider(guest api.Provider) (api.ServerProvider, bool) {
	if p.Serve != nil && p.Serve.Provider != nil {
		return p.Serve.Provider, true
	}
	sp, ok := guest.(api.ServerProvider)
	return sp, ok
}

// serverConfig is the provider configuration of the guest's server
// handshakes.
func (p *policy) serverConfig() *api.ServerConfig {
	s := p.Serve
	cfg := &api.ServerConfig{
		Certificate:      s.certificate,
		NextProtos:       s.NextProtos,
		ClientCAs:        s.ClientCAs,
		MinVersion:       p.MinVersion,
		MaxVersion:       p.MaxVersion,
		HandshakeTimeout: p.HandshakeTimeout,
	}
	if s.Provider == nil {
		// Options are the guest's backend's: they go to it alone.
		cfg.Options = p.Options
	}
	return cfg
}
