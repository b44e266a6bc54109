package host

import (
	"fmt"

	"github.com/wasitls/wasitls/api"
)

// checkPolicy refuses settings no guest could run with, before any guest
// runs: negative limits or timeouts, or too few handles to serve.
func checkPolicy(p *Policy) error {
	for _, f := range []struct {
		name string
		v    int
	}{
		{"Limits.Handles", p.Limits.Handles},
		{"Limits.Connections", p.Limits.Connections},
		{"Limits.Sockets", p.Limits.Sockets},
		{"Limits.Handshakes", p.Limits.Handshakes},
		{"Limits.BufferedBytes", p.Limits.BufferedBytes},
	} {
		if f.v < 0 {
			return fmt.Errorf("host: policy %s is %d: must not be negative (zero takes the default)", f.name, f.v)
		}
	}
	// A guest that may listen needs room to accept one connection and
	// serve it (see acceptReserve): with fewer handles every accept
	// would answer new-socket-limit.
	if len(p.Listen) > 0 && p.Limits.Handles > 0 && p.Limits.Handles < acceptReserve+3 {
		return fmt.Errorf("host: policy Limits.Handles is %d: a guest that may listen needs at least %d", p.Limits.Handles, acceptReserve+3)
	}
	if p.HandshakeTimeout < 0 {
		return fmt.Errorf("host: policy HandshakeTimeout is %v: must not be negative (zero takes the default)", p.HandshakeTimeout)
	}
	return nil
}

// baseConfig is the provider configuration every handshake of the guest
// starts from: everything but what depends on the destination.
func (p *policy) baseConfig() *api.Config {
	return &api.Config{
		RootCAs:          p.RootCAs,
		MinVersion:       p.MinVersion,
		MaxVersion:       p.MaxVersion,
		HandshakeTimeout: p.HandshakeTimeout,
		Fingerprint:      p.Fingerprint,
		Options:          p.Options,
	}
}

// checkProvider asks prov whether it can honour the policy (see
// api.ValidateConfig): once with no ALPN, once per ALPN rule.
func checkProvider(prov api.Provider, p *policy) error {
	cfgs := []*api.Config{p.baseConfig()}
	for _, r := range p.ALPN {
		cfg := p.baseConfig()
		cfg.NextProtos = r.Protocols
		cfgs = append(cfgs, cfg)
	}
	for _, cfg := range cfgs {
		if err := api.ValidateConfig(prov, cfg); err != nil {
			return fmt.Errorf("host: backend %s cannot run this policy: %w", prov.Name(), err)
		}
	}
	if p.Serve != nil {
		sp, ok := p.serverProvider(prov)
		if !ok {
			return fmt.Errorf("host: backend %s cannot run this policy: it has no server side (Policy.Serve; set Serve.Provider)", prov.Name())
		}
		sc := p.serverConfig()
		if err := api.ValidateConfig(sp, &api.Config{MinVersion: sc.MinVersion, MaxVersion: sc.MaxVersion, HandshakeTimeout: sc.HandshakeTimeout, Options: sc.Options}); err != nil {
			return fmt.Errorf("host: backend %s cannot serve with this policy: %w", sp.Name(), err)
		}
	}
	return nil
}
