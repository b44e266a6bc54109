package host

import (
	"strings"
	"testing"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/backends/utls"
	"github.com/wasitls/wasitls/conformance/pki"
	"github.com/wasitls/wasitls/internal/testkit/wasmenc"
)

// TestALPNOutcomes drives every combination of what the guest asks for
// (set-alpn-ids, or nothing: a guest of the standard interface only), the
// embedder's ALPN rule (-alpn), the utls fingerprint's list (sent, or
// pinned by the embedder) and the server's preference, through a raw
// guest, and checks what the server was offered and what was negotiated.
// Each name states the outcome. The rule they pin: a guest that cannot
// learn the outcome is never handed a protocol it did not ask for unless
// the embedder chose it (an ALPN rule, or the pinned fingerprint list).
func TestALPNOutcomes(t *testing.T) {
	p := pki.New(t)
	h2first := []string{"h2", "http/1.1"}
	h1first := []string{"http/1.1", "h2"}
	servers := map[string]*offeredALPN{}
	addrs := map[string]*echoServer{}
	for name, protos := range map[string][]string{"h2first": h2first, "h1first": h1first, "h1only": {"http/1.1"}} {
		addrs[name], servers[name] = alpnServer(t, p.Server(), protos...)
	}
	chrome, err := utls.New()
	if err != nil {
		t.Fatal(err)
	}
	pinned, err := utls.New(utls.WithALPN(utls.ALPNFingerprint))
	if err != nil {
		t.Fatal(err)
	}
	rule := func(protos ...string) []ALPNRule { return []ALPNRule{{Dest: "*:*", Protocols: protos}} }
	ctx, r := newRuntime(t)
	h := New(r)
	for _, c := range []struct {
		name      string
		provider  api.Provider
		rules     []ALPNRule
		ask       []string // nil: the guest does not call set-alpn-ids
		server    string
		offered   []string // what the server saw, and what set-alpn-ids says
		negotiate string
	}{
		{"standard guest, no rule, chrome, h2 server: nothing offered, no ALPN (never h2)", chrome, nil, nil, "h2first", nil, ""},
		{"standard guest, rule http/1.1, chrome, h2 server: http/1.1", chrome, rule("http/1.1"), nil, "h2first", []string{"http/1.1"}, "http/1.1"},
		{"standard guest, rule h2+http/1.1, chrome, h2 server: h2 (the embedder's choice)", chrome, rule("h2", "http/1.1"), nil, "h2first", h2first, "h2"},
		{"standard guest, no rule, pinned chrome list, h2 server: h2 (the embedder's choice)", pinned, nil, nil, "h2first", h2first, "h2"},
		{"guest h2+http/1.1, no rule, chrome, h2 server: h2", chrome, nil, h2first, "h2first", h2first, "h2"},
		{"guest h2+http/1.1, no rule, chrome, server prefers http/1.1: http/1.1", chrome, nil, h2first, "h1first", h2first, "http/1.1"},
		{"guest h2+http/1.1, no rule, chrome, http/1.1-only server: http/1.1", chrome, nil, h2first, "h1only", h2first, "http/1.1"},
		{"guest http/1.1, no rule, chrome, h2 server: http/1.1", chrome, nil, []string{"http/1.1"}, "h2first", []string{"http/1.1"}, "http/1.1"},
		{"guest h2+http/1.1, rule http/1.1, chrome, h2 server: http/1.1 (the rule bounds the guest)", chrome, rule("http/1.1"), h2first, "h2first", []string{"http/1.1"}, "http/1.1"},
		{"guest h2, rule http/1.1, chrome, h2 server: nothing offered, no ALPN", chrome, rule("http/1.1"), []string{"h2"}, "h2first", nil, ""},
		{"guest http/1.1, no rule, pinned chrome list, h2 server: h2, set-alpn-ids says the chrome list, the guest reads h2", pinned, nil, []string{"http/1.1"}, "h2first", h2first, "h2"},
		{"guest h2+http/1.1, no rule, firefox, h2 server: h2", fingerprinted{chrome, "firefox"}, nil, h2first, "h2first", h2first, "h2"},
		{"guest h2+http/1.1, no rule, stdtls, h2 server: h2", stdtls.Provider{}, nil, h2first, "h2first", h2first, "h2"},
		{"standard guest, no rule, stdtls, h2 server: no ALPN", stdtls.Provider{}, nil, nil, "h2first", nil, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			pol := &Policy{Allow: []string{"127.0.0.1:*"}, RootCAs: p.Roots, ALPN: c.rules}
			prov := c.provider
			if f, ok := prov.(fingerprinted); ok {
				pol.Fingerprint, prov = f.fp, f.Provider
			}
			x := newTG(t, ctx, h, "0.2.6", WithPolicy(pol), WithProvider(prov))
			x.alpnCase(addrs[c.server], servers[c.server], c.ask, c.offered, c.offered, c.negotiate)
		})
	}

	// The pinned list and an ALPN rule conflict: refused before the guest runs.
	t.Run("rule http/1.1 with the pinned chrome list: Instantiate fails naming the conflict", func(t *testing.T) {
		cm, err := r.CompileModule(ctx, wasmenc.Module(nil))
		if err != nil {
			t.Fatal(err)
		}
		defer cm.Close(ctx)
		g, err := h.Instantiate(ctx, cm, NewModuleConfig().WithName(""), WithProvider(pinned),
			WithPolicy(&Policy{ALPN: rule("http/1.1")}))
		if err == nil {
			g.Close(ctx)
			t.Fatal("instantiated")
		}
		if !strings.Contains(err.Error(), "conflict with option alpn=fingerprint") {
			t.Fatalf("error %q does not name the conflict", err)
		}
	})
}

// fingerprinted is a case's provider with a fingerprint for the policy.
type fingerprinted struct {
	api.Provider
	fp string
}
