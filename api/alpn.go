package api

import "slices"

// ALPNReporter is implemented by Providers whose ClientHello may carry an
// ALPN list other than Config.NextProtos: a browser's own list, pinned by the
// embedder (the utls backend's alpn=fingerprint). The host uses it to tell a
// guest that asked for protocols what is really offered.
type ALPNReporter interface {
	// OfferedALPN returns the ALPN list a handshake with cfg offers, and
	// false if the backend cannot tell before the handshake (then the
	// negotiated protocol is the only answer).
	OfferedALPN(cfg *Config) ([]string, bool)
}

// OfferedALPN is what p offers for cfg: its own report if it is an
// ALPNReporter that can tell, cfg.NextProtos otherwise.
func OfferedALPN(p Provider, cfg *Config) []string {
	if r, ok := p.(ALPNReporter); ok {
		if protos, ok := r.OfferedALPN(cfg); ok {
			return protos
		}
	}
	return slices.Clone(cfg.NextProtos)
}
