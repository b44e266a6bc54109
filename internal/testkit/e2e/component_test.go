package e2e

import (
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/component"
	"github.com/wasitls/wasitls/conformance"
	"github.com/wasitls/wasitls/internal/testkit/guestbuild"
)

const componentForm = "TestComponentForm/"

// componentRuns counts the runs asComponent turned into component runs.
var componentRuns atomic.Int32

// asComponent is pkg, or under TestComponentForm its component form.
func asComponent(t *testing.T, pkg string) string {
	if strings.HasPrefix(t.Name(), componentForm) {
		componentRuns.Add(1)
		return guestbuild.Component(pkg)
	}
	return pkg
}

// TestComponentForm runs the httpsget tests again with the guest as a WASI
// 0.2 component made by a tool we did not write: jco's componentNew with
// jco's real wasi_snapshot_preview1 command adapter. The host runs its
// main module (Host.InstantiateComponent); every check is the core
// module's.
func TestComponentForm(t *testing.T) {
	wasm := guestbuild.Build(t, guestbuild.Component(httpsget))
	c, err := component.Parse(wasm)
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Plan()
	if err != nil {
		t.Fatal(err)
	}
	sources := map[component.Source]int{}
	renamed := 0
	for _, b := range p.Bindings {
		sources[b.Source]++
		if b.Field != b.Func {
			renamed++ // wit-component's "fd_write [v2]"
		}
	}
	if renamed == 0 {
		t.Error("no renamed duplicate import: the [v2] handling goes untested")
	}
	// wit-component's shape: main, adapter, shim, fixup; the guest's
	// wasi:* imports lowered, its wasi_snapshot_preview1 ones the adapter's.
	if p.Modules != 4 || sources[component.Lowered] == 0 || sources[component.Adapter] == 0 || p.Run != "" {
		t.Fatalf("not wit-component's shape: %d modules, bindings %v, run %q", p.Modules, sources, p.Run)
	}
	t.Logf("component %.1f MB: %d core modules, %d core instances, %d lowers; main %.1f MB with %d lowered and %d preview1 imports",
		float64(len(wasm))/1e6, p.Modules, len(c.CoreInstances), p.Lowers, float64(len(p.Module))/1e6,
		sources[component.Lowered], sources[component.Adapter])
	for name, test := range map[string]func(*testing.T){
		"HTTPSGetCryptoTLS":         TestHTTPSGetCryptoTLS,
		"CloseNotifyAndShutdown":    TestCloseNotifyAndShutdown,
		"HTTPSGetOpenSSL":           TestHTTPSGetOpenSSL,
		"HTTPSGetWrongName":         TestHTTPSGetWrongName,
		"HTTPSGetUnknownAuthority":  TestHTTPSGetUnknownAuthority,
		"HTTPSGetConnectionRefused": TestHTTPSGetConnectionRefused,
		"HTTPSGetDeniedByPolicy":    TestHTTPSGetDeniedByPolicy,
		"HTTPSGetUsage":             TestHTTPSGetUsage,
	} {
		t.Run(name, test)
	}
	if n := componentRuns.Load(); n < 8 {
		t.Fatalf("only %d runs were of the component", n)
	}
}

// TestConformanceThroughComponent runs the whole conformance suite through
// jco components of the relay guests, as TestConformanceThroughGuest and
// TestConformanceThroughForeignGuests do through their core modules: the Go
// relay and the raw Rust and C guests (their own canonical-ABI code, no
// guest/ bindings).
func TestConformanceThroughComponent(t *testing.T) {
	for _, g := range []struct {
		pkg  string
		mode []string
	}{{relay, nil}, {rusttls, []string{"relay"}}, {ctls, []string{"relay"}}} {
		t.Run(filepath.Base(g.pkg), func(t *testing.T) {
			guest := guestbuild.Component(g.pkg)
			env.Compile(t, guest)
			conformance.RunDialer(t, relayDialer{t: t, guest: guest, mode: g.mode}, api.CapabilitiesOf(stdtls.Provider{}),
				conformance.WithBackendName(stdtls.Name),
				conformance.WithBulkBytes(16<<20),
			)
		})
	}
}
