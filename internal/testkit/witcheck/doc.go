// Package witcheck checks, independently of the host, that the test guests'
// imports match the project's WIT (wit/): its test turns every guest into a
// component with jco's componentEmbed + componentNew, which reject any
// import whose name or core signature differs from the canonical ABI
// lowering of the WIT.
//
// The package also holds the small WebAssembly reader and writer the test
// uses:
//
//	imports, err := witcheck.FuncImports(wasm)
//	adapter, err := witcheck.StubAdapter(wasm) // wasi_snapshot_preview1 stubs
package witcheck
