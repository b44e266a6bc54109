// Package stdtls is the wasitls backend built on Go's crypto/tls.
//
// It is the default backend: the reference behaviour the other backends are
// measured against. Importing the package registers it as "stdtls":
//
//	import _ "github.com/wasitls/wasitls/backends/stdtls"
//	p, _ := api.Lookup("stdtls")
package stdtls

import (
	"context"
	"net"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/api/backendkit"
	"github.com/wasitls/wasitls/internal/gotls"
)

// Name is the registry name of this backend.
const Name = "stdtls"

func init() { api.Register(Provider{}) }

// Provider implements api.Provider with crypto/tls. The zero value is ready to use.
type Provider struct{}

// Name returns "stdtls".
func (Provider) Name() string { return Name }

// Capabilities: crypto/tls does everything the suite asks for.
func (Provider) Capabilities() api.Capabilities {
	return api.Capabilities{TLS12: true, Resumption: true, ALPNOverride: true, ClassicalOnly: true, ClientAuth: true, ReportsGroup: true, HonorsContext: true}
}

// Validate refuses what this backend cannot honour whatever the
// destination: any Options (it has none), and version bounds that leave no
// version.
func (Provider) Validate(cfg *api.Config) error { return gotls.Validate(cfg, Name) }

// Server runs a crypto/tls server handshake over transport.
func (Provider) Server(ctx context.Context, transport net.Conn, cfg *api.ServerConfig) (api.Conn, error) {
	tc, err := gotls.ServerConfig(cfg, Name)
	if err != nil {
		return nil, err
	}
	c, err := gotls.Server(ctx, transport, tc, cfg.Timeout(), Name)
	if err != nil {
		return nil, backendkit.Classify(err, Name)
	}
	return c, nil
}

// Client runs a crypto/tls client handshake over transport.
func (Provider) Client(ctx context.Context, transport net.Conn, cfg *api.Config) (api.Conn, error) {
	tc, err := gotls.ClientConfig(cfg, Name)
	if err != nil {
		return nil, err
	}
	c, err := gotls.Client(ctx, transport, tc, cfg.Timeout(), Name, "")
	if err != nil {
		return nil, backendkit.Classify(err, Name)
	}
	return c, nil
}
