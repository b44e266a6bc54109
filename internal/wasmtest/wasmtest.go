// Package wasmtest generates tiny wasm modules for testing host functions
// with crafted arguments: the module imports the given functions and exports
// one trampoline per import that forwards its parameters, plus "memory", a
// bump-allocating "cabi_realloc" and "set_heap" to move the allocator.
//
//	wasm := wasmtest.Module([]wasmtest.Import{{Module: "wasi:io/poll@0.2.0", Name: "poll", Params: ...}})
//	mod, _ := r.Instantiate(ctx, wasm)
//	mod.ExportedFunction(wasmtest.Export("wasi:io/poll@0.2.0", "poll")).Call(ctx, ptr, n, ret)
package wasmtest

import (
	"encoding/binary"
	"github.com/tetratelabs/wazero/api"
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
	var types [][]byte
	typeIdx := func(params, results []api.ValueType) uint32 {
		var b []byte
		b = append(b, 0x60)
		b = vec(b, len(params), func(b []byte, i int) []byte { return append(b, params[i]) })
		b = vec(b, len(results), func(b []byte, i int) []byte { return append(b, results[i]) })
		for i, t := range types {
			if string(t) == string(b) {
				return uint32(i)
			}
		}
		types = append(types, b)
		return uint32(len(types) - 1)
	}
	i32 := api.ValueTypeI32
	impTypes := make([]uint32, len(imports))
	for i, im := range imports {
		impTypes[i] = typeIdx(im.Params, im.Results)
	}
	reallocT := typeIdx([]api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32})
	setHeapT := typeIdx([]api.ValueType{i32}, nil)

	out := []byte{0, 'a', 's', 'm', 1, 0, 0, 0}
	out = section(out, 1, vec(nil, len(types), func(b []byte, i int) []byte { return append(b, types[i]...) }))
	out = section(out, 2, vec(nil, len(imports), func(b []byte, i int) []byte {
		b = name(b, imports[i].Module)
		b = name(b, imports[i].Name)
		b = append(b, 0x00)
		return binary.AppendUvarint(b, uint64(impTypes[i]))
	}))
	// Local functions: realloc, set_heap, then the trampolines.
	nLocal := 2 + len(imports)
	out = section(out, 3, vec(nil, nLocal, func(b []byte, i int) []byte {
		switch i {
		case 0:
			return binary.AppendUvarint(b, uint64(reallocT))
		case 1:
			return binary.AppendUvarint(b, uint64(setHeapT))
		}
		return binary.AppendUvarint(b, uint64(impTypes[i-2]))
	}))
	out = section(out, 5, vec(nil, 1, func(b []byte, _ int) []byte { return binary.AppendUvarint(append(b, 0x00), InitialPages) }))
	out = section(out, 6, vec(nil, 1, func(b []byte, _ int) []byte {
		b = append(b, 0x7f, 0x01, 0x41) // mut i32 = i32.const
		b = sleb(b, HeapStart)
		return append(b, 0x0b)
	}))
	nImp := len(imports)
	out = section(out, 7, vec(nil, 3+len(imports), func(b []byte, i int) []byte {
		switch i {
		case 0:
			return append(name(b, "memory"), 0x02, 0x00)
		case 1:
			return binary.AppendUvarint(append(name(b, "cabi_realloc"), 0x00), uint64(nImp))
		case 2:
			return binary.AppendUvarint(append(name(b, "set_heap"), 0x00), uint64(nImp+1))
		}
		im := imports[i-3]
		return binary.AppendUvarint(append(name(b, Export(im.Module, im.Name)), 0x00), uint64(nImp+2+i-3))
	}))
	out = section(out, 10, vec(nil, nLocal, func(b []byte, i int) []byte {
		var body []byte
		switch i {
		case 0:
			body = reallocBody()
		case 1:
			body = []byte{0x00, 0x20, 0x00, 0x24, 0x00, 0x0b} // no locals; global.set 0 (local 0)
		default:
			k := i - 2
			body = []byte{0x00}
			for p := range imports[k].Params {
				body = binary.AppendUvarint(append(body, 0x20), uint64(p))
			}
			body = binary.AppendUvarint(append(body, 0x10), uint64(k))
			body = append(body, 0x0b)
		}
		b = binary.AppendUvarint(b, uint64(len(body)))
		return append(b, body...)
	}))
	return out
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

func section(out []byte, id byte, body []byte) []byte {
	out = append(out, id)
	out = binary.AppendUvarint(out, uint64(len(body)))
	return append(out, body...)
}

func vec(b []byte, n int, f func([]byte, int) []byte) []byte {
	b = binary.AppendUvarint(b, uint64(n))
	for i := 0; i < n; i++ {
		b = f(b, i)
	}
	return b
}

func name(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func sleb(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}
