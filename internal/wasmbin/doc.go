// Package wasmbin writes WebAssembly's binary format: the primitives (LEB128
// numbers, names, vectors, sections) and a Builder for small core modules.
// The host generates its list-result shims with it (host/shim.go); tests
// craft guests and components with it.
//
//	var b wasmbin.Builder
//	exit := b.ImportFunc("wasi_snapshot_preview1", "proc_exit", []api.ValueType{api.ValueTypeI32}, nil)
//	start := b.Func(nil, nil, wasmbin.Cat([]byte{0x00, wasmbin.OpI32Const}, wasmbin.Sleb(3), []byte{wasmbin.OpCall}, wasmbin.Leb(exit), []byte{wasmbin.OpEnd}))
//	b.Export("_start", wasmbin.KindFunc, start)
//	wasm := b.Bytes()
package wasmbin
