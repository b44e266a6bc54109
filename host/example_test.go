package host_test

import (
	"context"
	"fmt"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/host"
	"github.com/wasitls/wasitls/internal/testkit/wasmenc"
	"github.com/wasitls/wasitls/internal/witnames"
)

// A guest gets its own host modules, table and policy. Here the guest is a
// generated module that imports one clock function; a real guest is a Go
// (GOOS=wasip1) program using the bindings in package guest.
func ExampleHost_Instantiate() {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)

	h := host.New(r, host.WithProvider(stdtls.Provider{}))
	const mod = "wasi:clocks/monotonic-clock@0.2.6"
	wasm := wasmenc.Module([]wasmenc.Import{{
		Module: mod, Name: witnames.SubscribeDuration,
		Params: []api.ValueType{api.ValueTypeI64}, Results: []api.ValueType{api.ValueTypeI32},
	}})
	compiled, err := r.CompileModule(ctx, wasm)
	if err != nil {
		panic(err)
	}
	g, err := h.Instantiate(ctx, compiled, host.NewModuleConfig().WithName("example"),
		host.WithPolicy(&host.Policy{Allow: []string{"example.com:443"}, NameLookup: true}))
	if err != nil {
		panic(err)
	}
	res, err := g.Module().ExportedFunction(wasmenc.Export(mod, witnames.SubscribeDuration)).Call(ctx, 1000)
	if err != nil {
		panic(err)
	}
	fmt.Println("pollable handle:", res[0], "open handles:", g.OpenHandles())

	_ = g.Close(ctx)
	fmt.Println("after close:", g.OpenHandles(), "guests:", h.Guests())
	// Output:
	// pollable handle: 1 open handles: 1
	// after close: 0 guests: 0
}
