package utls

import (
	"slices"

	tls "github.com/refraction-networking/utls"

	"github.com/wasitls/wasitls/api"
)

var _ api.ALPNReporter = (*Provider)(nil)

// OfferedALPN reports the ALPN list a handshake with cfg offers:
// cfg.NextProtos, or with the fingerprint's list pinned (ALPNFingerprint)
// that list (nil for a parrot without ALPN). A pinned randomized hello
// picks its list per connection: false.
func (p *Provider) OfferedALPN(cfg *api.Config) ([]string, bool) {
	fp, alpn, err := p.check(cfg)
	if err != nil || alpn != ALPNFingerprint || fp.kind == kindGolang {
		return slices.Clone(cfg.NextProtos), true
	}
	if fp.kind == kindRandomized {
		return nil, false
	}
	spec, err := fp.spec()
	if err != nil {
		return nil, false
	}
	for _, e := range spec.Extensions {
		if a, ok := e.(*tls.ALPNExtension); ok {
			return slices.Clone(a.AlpnProtocols), true
		}
	}
	return nil, true
}
