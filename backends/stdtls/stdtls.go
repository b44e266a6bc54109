// Package stdtls is the wasitls backend built on Go's crypto/tls.
//
// It is the default backend: the reference behaviour the other backends are
// measured against. Importing the package registers it as "stdtls":
//
//	import _ "github.com/wasitls/wasitls/backends/stdtls"
//	p, _ := api.Lookup("stdtls")
//
// Like the other backends, New(opts...) returns a configured *Provider or
// the error of a bad option.
package stdtls

import (
	"context"
	"errors"
	"net"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/api/backendkit"
	"github.com/wasitls/wasitls/internal/gotls"
)

// Name is the registry name of this backend.
const Name = "stdtls"

func init() { api.Register(Provider{}) }

// Provider implements api.Provider with crypto/tls. The zero value is ready
// to use and named "stdtls"; New makes one with options.
type Provider struct {
	name string
}

// An Option configures a Provider made by New; a bad one is New's error.
type Option func(*Provider) error

// WithName sets the registry name (default "stdtls"), so that a second
// instance can be registered beside the default one.
func WithName(name string) Option {
	return func(p *Provider) error {
		if name == "" {
			return errors.New("stdtls: empty name")
		}
		p.name = name
		return nil
	}
}

// New returns a Provider changed by opts.
func New(opts ...Option) (*Provider, error) {
	p := &Provider{}
	for _, o := range opts {
		if err := o(p); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Name returns the registry name, "stdtls" unless WithName changed it.
func (p Provider) Name() string {
	if p.name == "" {
		return Name
	}
	return p.name
}

// Capabilities: crypto/tls does everything the suite asks for.
func (Provider) Capabilities() api.Capabilities {
	return api.Capabilities{TLS12: true, Resumption: true, ALPNOverride: true, ClassicalOnly: true, ClientAuth: true, ReportsGroup: true, HonorsContext: true}
}

// Validate refuses what this backend cannot honour whatever the
// destination: any Options (it has none), and version bounds that leave no
// version.
func (p Provider) Validate(cfg *api.Config) error { return gotls.Validate(cfg, p.Name()) }

// Server runs a crypto/tls server handshake over transport.
func (p Provider) Server(ctx context.Context, transport net.Conn, cfg *api.ServerConfig) (api.Conn, error) {
	name := p.Name()
	tc, err := gotls.ServerConfig(cfg, name)
	if err != nil {
		return nil, err
	}
	c, err := gotls.Server(ctx, transport, tc, cfg.Timeout(), name)
	if err != nil {
		return nil, backendkit.Classify(err, name)
	}
	return c, nil
}

// Client runs a crypto/tls client handshake over transport.
func (p Provider) Client(ctx context.Context, transport net.Conn, cfg *api.Config) (api.Conn, error) {
	name := p.Name()
	tc, err := gotls.ClientConfig(cfg, name)
	if err != nil {
		return nil, err
	}
	c, err := gotls.Client(ctx, transport, tc, cfg.Timeout(), name, "")
	if err != nil {
		return nil, backendkit.Classify(err, name)
	}
	return c, nil
}
