// Package pinning is an example of a library consumer's own TLS backend: an
// api.Provider that wraps another one and accepts a server only if its
// certificate's public key is pinned. It is the third way to choose a
// backend, after build tags (backends/builtin) and the per-guest
// host.WithProvider option; the host treats it like any built-in backend.
//
//	p := pinning.Wrap(stdtls.Provider{}, pinning.Pin(serverCert))
//	h := host.New(r, host.WithProvider(p))    // every guest of h, or
//	g, err := h.Instantiate(ctx, compiled, mc, host.WithProvider(p), ...) // one guest
//
// A refused server reaches the guest as a handshake error whose debug
// string starts with "tls: policy denied [pinned-stdtls]: ...". The check runs
// after the wrapped backend verified the chain and before the guest sees a
// single byte of application data.
package pinning

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"

	"github.com/wasitls/wasitls/api"
)

// SPKIHash is the SHA-256 of a certificate's SubjectPublicKeyInfo, the
// value HPKP and most pinning schemes use: it survives certificate renewal
// with the same key.
type SPKIHash [sha256.Size]byte

func (h SPKIHash) String() string { return hex.EncodeToString(h[:]) }

// Pin returns the SPKIHash of cert.
func Pin(cert *x509.Certificate) SPKIHash {
	return sha256.Sum256(cert.RawSubjectPublicKeyInfo)
}

// Provider wraps another Provider and pins the server's public key.
type Provider struct {
	next api.Provider
	pins map[SPKIHash]bool
}

// Wrap returns a Provider that runs next's handshake and then requires the
// server's leaf key to be one of pins.
func Wrap(next api.Provider, pins ...SPKIHash) *Provider {
	p := &Provider{next: next, pins: map[SPKIHash]bool{}}
	for _, pin := range pins {
		p.pins[pin] = true
	}
	return p
}

// Name is "pinned-" and the wrapped backend's name.
func (p *Provider) Name() string { return "pinned-" + p.next.Name() }

// Capabilities are the wrapped backend's: pinning removes none.
func (p *Provider) Capabilities() api.Capabilities { return api.CapabilitiesOf(p.next) }

// Validate is the wrapped backend's: pinning adds no settings.
func (p *Provider) Validate(cfg *api.Config) error { return api.ValidateConfig(p.next, cfg) }

// ErrNotPinned is wrapped by the error for a server whose key is not pinned.
var ErrNotPinned = errors.New("server public key is not pinned")

// Client runs the wrapped handshake, then checks the pin.
func (p *Provider) Client(ctx context.Context, transport net.Conn, cfg *api.Config) (api.Conn, error) {
	c, err := p.next.Client(ctx, transport, cfg)
	if err != nil {
		return nil, err
	}
	certs := c.State().PeerCertificates
	if len(certs) == 0 {
		_ = c.Close()
		return nil, &api.Error{Kind: api.KindPolicyDenied, Backend: p.Name(), Err: ErrNotPinned}
	}
	if got := Pin(certs[0]); !p.pins[got] {
		// Close sends close_notify and closes the transport; the host
		// closing the transport again after the error is harmless.
		_ = c.Close()
		return nil, &api.Error{Kind: api.KindPolicyDenied, Backend: p.Name(),
			Err: fmt.Errorf("%w: %s has key %s", ErrNotPinned, cfg.ServerName, got)}
	}
	return c, nil
}
