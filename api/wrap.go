package api

import (
	"context"
	"net"
)

// ClientFunc is the signature of [Provider.Client].
type ClientFunc func(ctx context.Context, transport net.Conn, cfg *Config) (Conn, error)

// Wrap returns a Provider named name whose Client is client and which
// forwards every optional interface of next ([Capable], [Validator],
// [Fingerprinter], [ALPNReporter], [ServerProvider]):
// a wrapper that hid them would change how the host runs handshakes (inline
// or on a worker, see Capabilities.HonorsContext), which settings are
// refused before the guest runs, and which fingerprints the CLI accepts. Every wrapper of a Provider should be built with it.
// client usually calls next.Client.
func Wrap(next Provider, name string, client ClientFunc) Provider {
	w := wrapped{next: next, name: name, client: client}
	_, fp := next.(Fingerprinter)
	_, srv := next.(ServerProvider)
	switch {
	case fp && srv:
		return wrappedFPServer{wrappedFP{w}}
	case fp:
		return wrappedFP{w}
	case srv:
		return wrappedServer{w}
	}
	return w
}

type wrapped struct {
	next   Provider
	name   string
	client ClientFunc
}

func (w wrapped) Name() string { return w.name }
func (w wrapped) Client(ctx context.Context, t net.Conn, c *Config) (Conn, error) {
	return w.client(ctx, t, c)
}

// Capabilities are next's; CapabilitiesOf gives the same default set for a
// next that declares none.
func (w wrapped) Capabilities() Capabilities { return CapabilitiesOf(w.next) }

// Validate is next's verdict (with the checks every backend gets): a
// wrapper that adds settings of its own is not made with Wrap.
func (w wrapped) Validate(cfg *Config) error { return ValidateConfig(w.next, cfg) }

// OfferedALPN is next's report ([ALPNReporter]).
func (w wrapped) OfferedALPN(cfg *Config) ([]string, bool) {
	if r, ok := w.next.(ALPNReporter); ok {
		return r.OfferedALPN(cfg)
	}
	return cfg.NextProtos, true
}

// Unwrap returns the wrapped Provider.
func (w wrapped) Unwrap() Provider { return w.next }

type wrappedFP struct{ wrapped }

func (w wrappedFP) Fingerprints() []string { return w.next.(Fingerprinter).Fingerprints() }

// wrappedServer forwards server handshakes to next: client is for the
// client side only.
type wrappedServer struct{ wrapped }

func (w wrappedServer) Server(ctx context.Context, t net.Conn, c *ServerConfig) (Conn, error) {
	return w.next.(ServerProvider).Server(ctx, t, c)
}

type wrappedFPServer struct{ wrappedFP }

func (w wrappedFPServer) Server(ctx context.Context, t net.Conn, c *ServerConfig) (Conn, error) {
	return w.next.(ServerProvider).Server(ctx, t, c)
}
