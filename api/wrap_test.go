package api_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"testing"

	"github.com/wasitls/wasitls/api"
)

type fpProvider struct{ api.Provider }

func (fpProvider) Fingerprints() []string { return []string{"a", "b"} }
func (fpProvider) Validate(cfg *api.Config) error {
	if cfg.Options["bad"] != "" {
		return errors.New("bad option")
	}
	return nil
}
func (fpProvider) Capabilities() api.Capabilities {
	return api.Capabilities{HonorsContext: true, RequiresPQ: true}
}

// TestWrapForwardsOptionalInterfaces: a wrapper keeps what the host and the
// CLI look for, and adds nothing the wrapped provider lacks.
func TestWrapForwardsOptionalInterfaces(t *testing.T) {
	called := false
	client := func(ctx context.Context, tr net.Conn, cfg *api.Config) (api.Conn, error) {
		called = true
		return nil, nil
	}
	base := api.ProviderFunc("base", func(context.Context, net.Conn, *api.Config) (api.Conn, error) { return nil, nil })

	w := api.Wrap(fpProvider{base}, "w", client)
	if w.Name() != "w" {
		t.Errorf("Name = %q", w.Name())
	}
	if got := api.CapabilitiesOf(w); got != (api.Capabilities{HonorsContext: true, RequiresPQ: true}) {
		t.Errorf("capabilities not forwarded: %+v", got)
	}
	if err := api.ValidateConfig(w, &api.Config{Options: map[string]string{"bad": "1"}}); err == nil {
		t.Error("Validate not forwarded")
	}
	fp, ok := w.(api.Fingerprinter)
	if !ok || !slices.Equal(fp.Fingerprints(), []string{"a", "b"}) {
		t.Errorf("fingerprints not forwarded (ok=%v)", ok)
	}
	if _, _ = w.Client(context.Background(), nil, &api.Config{}); !called {
		t.Error("client not called")
	}

	plain := api.Wrap(base, "p", client)
	if _, ok := plain.(api.Fingerprinter); ok {
		t.Error("wrapper of a provider without fingerprints claims some")
	}
	if api.CapabilitiesOf(plain) != api.CapabilitiesOf(base) {
		t.Error("wrapper of a provider without declared capabilities changes the defaults")
	}
}

type srvProvider struct {
	api.Provider
	served *bool
}

func (s srvProvider) Server(context.Context, net.Conn, *api.ServerConfig) (api.Conn, error) {
	*s.served = true
	return nil, nil
}

type fpSrvProvider struct {
	fpProvider
	srvProvider
}

func (p fpSrvProvider) Name() string { return p.fpProvider.Name() }
func (p fpSrvProvider) Client(ctx context.Context, t net.Conn, c *api.Config) (api.Conn, error) {
	return p.fpProvider.Client(ctx, t, c)
}

// TestWrapForwardsServer: a wrapper of a backend that serves serves
// through it (with and without fingerprints); one of a client-only backend
// does not claim to serve.
func TestWrapForwardsServer(t *testing.T) {
	base := api.ProviderFunc("base", func(context.Context, net.Conn, *api.Config) (api.Conn, error) { return nil, nil })
	client := func(context.Context, net.Conn, *api.Config) (api.Conn, error) { return nil, nil }
	for _, tc := range []struct {
		name string
		mk   func(served *bool) api.Provider
		fp   bool
	}{
		{"plain", func(s *bool) api.Provider { return srvProvider{base, s} }, false},
		{"fingerprints", func(s *bool) api.Provider { return fpSrvProvider{fpProvider{base}, srvProvider{base, s}} }, true},
	} {
		served := false
		w := api.Wrap(tc.mk(&served), "w", client)
		sp, ok := w.(api.ServerProvider)
		if !ok {
			t.Fatalf("%s: the wrapper of a server provider does not serve", tc.name)
		}
		if _, fp := w.(api.Fingerprinter); fp != tc.fp {
			t.Errorf("%s: Fingerprinter = %v, want %v", tc.name, fp, tc.fp)
		}
		_, _ = sp.Server(context.Background(), nil, &api.ServerConfig{})
		if !served {
			t.Errorf("%s: Server not forwarded", tc.name)
		}
	}
	if _, ok := api.Wrap(base, "p", client).(api.ServerProvider); ok {
		t.Error("the wrapper of a client-only provider claims to serve")
	}
	if _, ok := api.Wrap(fpProvider{base}, "p", client).(api.ServerProvider); ok {
		t.Error("the wrapper of a client-only provider with fingerprints claims to serve")
	}
}
