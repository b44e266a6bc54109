package api

import (
	"context"
	"net"
)

// Provider performs TLS client handshakes. Implementations must be safe for
// concurrent use: one Provider serves every connection of every guest that
// selected it.
type Provider interface {
	// Name is the backend's registry name, e.g. "stdtls".
	Name() string

	// Client runs a TLS client handshake over transport and returns the
	// established connection. It must honour ctx (cancellation and deadline)
	// and cfg.HandshakeTimeout, validate cfg.ServerName before any network
	// I/O (see [ValidateServerName]), and return failures as [*Error].
	//
	// On success the returned Conn owns transport; on failure the caller
	// still owns it and closes it.
	Client(ctx context.Context, transport net.Conn, cfg *Config) (Conn, error)
}

// Conn is an established client connection. It is a net.Conn carrying
// plaintext, plus the few TLS operations the host needs.
//
// Read and Write may be called from different goroutines at the same time,
// as with crypto/tls.Conn. Read returns exactly io.EOF only after the peer's
// close_notify; a transport that ends without one, and every other failure,
// is a classified [*Error] (deadline errors from SetDeadline stay as they
// are). The conformance suite checks this.
type Conn interface {
	net.Conn

	// Flush sends any plaintext the backend has buffered. Backends that
	// write a record per Write return nil.
	Flush() error

	// CloseWrite sends close_notify and then half-closes the transport's
	// write side where it can. Reads continue to work.
	CloseWrite() error

	// State reports what was negotiated. It is cheap and may be called at any
	// time after Client returned.
	State() ConnectionState
}

// Capabilities says which optional behaviours a backend supports. The
// conformance suite skips, with a stated reason, cases a backend declares it
// cannot do.
type Capabilities struct {
	TLS12         bool // can negotiate TLS 1.2
	Resumption    bool // can resume sessions (reports DidResume)
	ALPNOverride  bool // honours Config.NextProtos exactly (a browser parrot may not)
	ClassicalOnly bool // can complete a handshake with a peer that has no hybrid group
	ClientAuth    bool // can present Config.ClientCertificate
	ReportsGroup  bool // fills ConnectionState.Group
	RequiresPQ    bool // refuses handshakes without a hybrid ML-KEM group
	// HonorsContext: Client returns soon after its ctx is done or its
	// transport is closed (the conformance cases StalledHandshake and
	// ContextCanceled check both). The host then runs the handshake on the
	// goroutine of the guest call that waits for it. Without it, the host
	// runs Client on a goroutine of its own and leaves it behind if it never
	// returns, which costs a hand-off per connection.
	HonorsContext bool
}

// Capable is implemented by Providers that declare their [Capabilities].
// A Provider that does not implement it is assumed to have all of them
// except RequiresPQ and HonorsContext.
type Capable interface {
	Capabilities() Capabilities
}

// CapabilitiesOf returns p's declared capabilities, or the default set.
func CapabilitiesOf(p Provider) Capabilities {
	if c, ok := p.(Capable); ok {
		return c.Capabilities()
	}
	return Capabilities{TLS12: true, Resumption: true, ALPNOverride: true, ClassicalOnly: true, ClientAuth: true, ReportsGroup: true}
}

// ProviderFunc adapts a function to a Provider, for the simplest custom
// backends and for wrappers in tests.
func ProviderFunc(name string, fn func(ctx context.Context, transport net.Conn, cfg *Config) (Conn, error)) Provider {
	return funcProvider{name, fn}
}

type funcProvider struct {
	name string
	fn   func(context.Context, net.Conn, *Config) (Conn, error)
}

func (f funcProvider) Name() string { return f.name }
func (f funcProvider) Client(ctx context.Context, t net.Conn, c *Config) (Conn, error) {
	return f.fn(ctx, t, c)
}
