package host

import (
	"crypto/rand"
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/backends/pq"
	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/internal/testkit/wasmenc"
)

// Settings no guest could run with are Instantiate's (and Prepare's) error,
// before the guest runs: negative limits and timeouts, version bounds no
// backend or not this backend can honour, backend options it does not know.
func TestInstantiateRefusesBadSettings(t *testing.T) {
	ctx, r := newRuntime(t)
	h := New(r, WithProvider(stdtls.Provider{}))
	cm, err := r.CompileModule(ctx, wasmenc.Module(allImports("0.2.6")))
	if err != nil {
		t.Fatal(err)
	}
	pqRequire, err := pq.New()
	if err != nil {
		t.Fatal(err)
	}
	pqPrefer, err := pq.New(pq.WithMode(pq.Prefer))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		prov api.Provider
		pol  Policy
		want string
	}{
		{"negative connections", nil, Policy{Limits: Limits{Connections: -1}}, "Limits.Connections is -1"},
		{"negative sockets", nil, Policy{Limits: Limits{Sockets: -1}}, "Limits.Sockets is -1"},
		{"negative handles", nil, Policy{Limits: Limits{Handles: -1}}, "Limits.Handles is -1"},
		{"too few handles to serve", nil, Policy{Listen: []string{"127.0.0.1:*"}, Limits: Limits{Handles: 10}}, "Limits.Handles is 10: a guest that may listen needs at least 19"},
		{"negative handshakes", nil, Policy{Limits: Limits{Handshakes: -1}}, "Limits.Handshakes is -1"},
		{"negative buffered bytes", nil, Policy{Limits: Limits{BufferedBytes: -1}}, "Limits.BufferedBytes is -1"},
		{"negative handshake timeout", nil, Policy{HandshakeTimeout: -time.Second}, "HandshakeTimeout is -1s"},
		{"min above max", nil, Policy{MinVersion: tls.VersionTLS13, MaxVersion: tls.VersionTLS12}, "MinVersion TLS 1.3 is above MaxVersion TLS 1.2"},
		{"unknown max version", nil, Policy{MaxVersion: 0x0305}, "MaxVersion 0x0305 is not TLS 1.2 or TLS 1.3"},
		{"old max version", nil, Policy{MaxVersion: tls.VersionTLS11}, "MaxVersion 0x0302 is not TLS 1.2 or TLS 1.3"},
		{"stdtls option", nil, Policy{Options: map[string]string{"nosuch": "1"}}, `backend stdtls cannot run this policy: tls: invalid configuration [stdtls]: unknown option "nosuch"`},
		{"pq option", pqRequire, Policy{Options: map[string]string{"mode": "sometimes"}}, `unknown mode "sometimes"`},
		{"pq require with TLS 1.2", pqRequire, Policy{MaxVersion: tls.VersionTLS12}, "require mode needs TLS 1.3"},
		{"pq option requires TLS 1.3", pqPrefer, Policy{MaxVersion: tls.VersionTLS12, Options: map[string]string{"mode": "require"}}, "require mode needs TLS 1.3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := []Option{WithPolicy(&tc.pol)}
			if tc.prov != nil {
				opts = append(opts, WithProvider(tc.prov))
			}
			g, err := h.Instantiate(ctx, cm, NewModuleConfig().WithName("").WithRandSource(rand.Reader), opts...)
			if g != nil {
				_ = g.Close(ctx)
				t.Fatal("Instantiate made a guest")
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Instantiate: %v, want %q", err, tc.want)
			}
			if _, _, _, err := h.Prepare(ctx, cm, NewModuleConfig().WithRandSource(rand.Reader), opts...); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Prepare: %v, want %q", err, tc.want)
			}
			if n := h.Guests(); n != 0 {
				t.Fatalf("%d guests", n)
			}
		})
	}

	// What the backends can honour passes.
	for _, tc := range []struct {
		name string
		prov api.Provider
		pol  Policy
	}{
		{"stdtls TLS 1.2 only", stdtls.Provider{}, Policy{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12}},
		{"pq prefer with TLS 1.2", pqRequire, Policy{MaxVersion: tls.VersionTLS12, Options: map[string]string{"mode": "prefer"}}},
		{"pq groups", pqRequire, Policy{Options: map[string]string{"groups": "X25519MLKEM768"}}},
		{"deprecated Sockets", stdtls.Provider{}, Policy{Limits: Limits{Sockets: 3}}},
	} {
		g, err := h.Instantiate(ctx, cm, NewModuleConfig().WithName("").WithRandSource(rand.Reader), WithProvider(tc.prov), WithPolicy(&tc.pol))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if tc.pol.Limits.Sockets != 0 && g.pol.limits.Connections != tc.pol.Limits.Sockets {
			t.Errorf("%s: Connections %d, want Sockets %d", tc.name, g.pol.limits.Connections, tc.pol.Limits.Sockets)
		}
		_ = g.Close(ctx)
	}
}
