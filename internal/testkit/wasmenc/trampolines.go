// Package wasmenc generates tiny modules for testing host
// functions with crafted arguments: the module imports the given functions
// and exports one trampoline per import that forwards its parameters, plus
// "memory", a bump-allocating "cabi_realloc" and "set_heap" to move the
// allocator.
//
//	wasm := wasmenc.Module([]wasmenc.Import{{Module: "wasi:io/poll@0.2.0", Name: "poll", Params: ...}})
//	mod, _ := r.Instantiate(ctx, wasm)
//	mod.ExportedFunction(wasmenc.Export("wasi:io/poll@0.2.0", "poll")).Call(ctx, ptr, n, ret)
package wasmenc

import (
	"github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/internal/wasmbin"
)

// Import is one function the module imports.
type Import struct {
	Module, Name    string
	Params, Results []api.ValueType
}

// Export is the name of the trampoline for module#name.
func Export(module, name string) string { return "call " + module + "#" + name }

// HeapStart is where cabi_realloc starts allocating; memory below it is free
// for tests to use as arguments and return areas.
const HeapStart = 64 << 10

// InitialPages is the memory's initial size in 64 KiB pages.
const InitialPages = 4

// Module returns the binary of a module importing imports.
func Module(imports []Import) []byte {
	var b wasmbin.Builder
	i32 := api.ValueTypeI32
	for _, im := range imports {
		b.ImportFunc(im.Module, im.Name, im.Params, im.Results)
	}
	heap := b.GlobalI32(true, HeapStart)
	realloc := b.Func([]api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}, reallocBody())
	setHeap := b.Func([]api.ValueType{i32}, nil, wasmbin.Cat([]byte{0x00, 0x20, 0x00, 0x24}, wasmbin.Leb(heap), []byte{0x0b})) // global.set heap (local 0)
	b.Memory(InitialPages)
	b.Export("memory", wasmbin.KindMemory, 0)
	b.Export("cabi_realloc", wasmbin.KindFunc, realloc)
	b.Export("set_heap", wasmbin.KindFunc, setHeap)
	for k, im := range imports {
		body := []byte{0x00} // no locals
		for p := range im.Params {
			body = wasmbin.Cat(body, []byte{0x20}, wasmbin.Leb(uint32(p))) // local.get p
		}
		body = wasmbin.Cat(body, []byte{0x10}, wasmbin.Leb(uint32(k)), []byte{0x0b}) // call k, end
		b.Export(Export(im.Module, im.Name), wasmbin.KindFunc, b.Func(im.Params, im.Results, body))
	}
	return b.Bytes()
}

// reallocBody: ptr = (heap + align - 1) & -align; heap = ptr + size; grow
// memory when heap passes its end; return ptr.
func reallocBody() []byte {
	b := []byte{0x01, 0x01, 0x7f} // one local i32 (index 4)
	b = append(b,
		0x23, 0x00, 0x20, 0x02, 0x6a, 0x41, 0x01, 0x6b, // heap + align - 1
		0x41, 0x00, 0x20, 0x02, 0x6b, 0x71, // & -align
		0x21, 0x04,
		0x20, 0x04, 0x20, 0x03, 0x6a, 0x24, 0x00, // heap = ptr + size
		0x23, 0x00, 0x3f, 0x00, 0x41, 0x10, 0x74, 0x4b, // heap > memory.size << 16
		0x04, 0x40,
		0x23, 0x00, 0x41, 0x10, 0x76, 0x3f, 0x00, 0x6b, 0x41, 0x01, 0x6a, 0x40, 0x00, 0x1a, // grow
		0x0b,
		0x20, 0x04, 0x0b)
	return b
}
