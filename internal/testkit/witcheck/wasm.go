package witcheck

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/internal/wasmbin"
)

// Just enough of the WebAssembly binary format to list a module's function
// imports; small modules (stub adapters and deliberately wrong guests) are
// written with internal/testkit/wasmbin.

// ValType is a core value type.
type ValType byte

// The value types the canonical ABI uses.
const (
	I32 ValType = 0x7f
	I64 ValType = 0x7e
	F32 ValType = 0x7d
	F64 ValType = 0x7c
)

// FuncType is a core function type.
type FuncType struct {
	Params, Results []ValType
}

func (t FuncType) String() string { return fmt.Sprintf("%v -> %v", t.Params, t.Results) }

// Import is a function import.
type Import struct {
	Module, Name string
	Type         FuncType
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.fail()
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) fail() {
	if r.err == nil {
		r.err = errors.New("wasm: truncated module")
	}
}

func (r *reader) u32() uint32 {
	var v uint32
	for shift := 0; shift < 35; shift += 7 {
		c := r.byte()
		v |= uint32(c&0x7f) << shift
		if c&0x80 == 0 {
			return v
		}
	}
	r.fail()
	return 0
}

func (r *reader) bytes(n uint32) []byte {
	if r.err != nil || uint64(len(r.b)) < uint64(n) {
		r.fail()
		return nil
	}
	b := r.b[:n]
	r.b = r.b[n:]
	return b
}

func (r *reader) name() string { return string(r.bytes(r.u32())) }

func (r *reader) limits() {
	if r.byte()&1 != 0 {
		r.u32()
	}
	r.u32()
}

// FuncImports lists the function imports of a core module.
func FuncImports(wasm []byte) ([]Import, error) {
	if len(wasm) < 8 || !bytes.Equal(wasm[:8], wasmbin.CoreHeader) {
		return nil, errors.New("wasm: not a core module")
	}
	r := &reader{b: wasm[8:]}
	var types []FuncType
	var imports []Import
	for len(r.b) > 0 && r.err == nil {
		id := r.byte()
		sec := &reader{b: r.bytes(r.u32())}
		switch id {
		case 1: // type
			for n := sec.u32(); n > 0 && sec.err == nil; n-- {
				if sec.byte() != 0x60 {
					return nil, errors.New("wasm: unsupported type form")
				}
				var t FuncType
				for k := sec.u32(); k > 0 && sec.err == nil; k-- {
					t.Params = append(t.Params, ValType(sec.byte()))
				}
				for k := sec.u32(); k > 0 && sec.err == nil; k-- {
					t.Results = append(t.Results, ValType(sec.byte()))
				}
				types = append(types, t)
			}
		case 2: // import
			for n := sec.u32(); n > 0 && sec.err == nil; n-- {
				mod, name := sec.name(), sec.name()
				switch kind := sec.byte(); kind {
				case 0:
					ti := sec.u32()
					if int(ti) >= len(types) {
						return nil, fmt.Errorf("wasm: import %s.%s: bad type index %d", mod, name, ti)
					}
					imports = append(imports, Import{mod, name, types[ti]})
				case 1: // table
					sec.byte()
					sec.limits()
				case 2: // memory
					sec.limits()
				case 3: // global
					sec.byte()
					sec.byte()
				default:
					return nil, fmt.Errorf("wasm: unknown import kind %d", kind)
				}
			}
			if sec.err != nil {
				return nil, sec.err
			}
			return imports, nil
		}
		if sec.err != nil {
			return nil, sec.err
		}
	}
	return imports, r.err
}

// Export is a function the written module defines and exports; its body
// traps.
type Export struct {
	Name string
	Type FuncType
}

// Module writes a core module with the given function imports, exported
// trapping functions and, if memory is set, an exported one-page memory
// named "memory".
func Module(imports []Import, exports []Export, memory bool) []byte {
	var b wasmbin.Builder
	for _, im := range imports {
		b.ImportFunc(im.Module, im.Name, valueTypes(im.Type.Params), valueTypes(im.Type.Results))
	}
	for _, e := range exports {
		fn := b.Func(valueTypes(e.Type.Params), valueTypes(e.Type.Results), []byte{0x00, 0x00, 0x0b}) // no locals, unreachable, end
		b.Export(e.Name, wasmbin.KindFunc, fn)
	}
	if memory {
		b.Memory(1)
		b.Export("memory", wasmbin.KindMemory, 0)
	}
	return b.Bytes()
}

func valueTypes(ts []ValType) []api.ValueType {
	out := make([]api.ValueType, len(ts))
	for i, t := range ts {
		out[i] = api.ValueType(t)
	}
	return out
}

// StubAdapter returns a wasi_snapshot_preview1 "adapter" for wasm: a module
// without imports that exports a trapping function for each of wasm's
// wasi_snapshot_preview1 imports, with the same signature. It lets
// componentNew finish without bringing in the real adapter's own world.
func StubAdapter(wasm []byte) ([]byte, error) {
	imports, err := FuncImports(wasm)
	if err != nil {
		return nil, err
	}
	var exports []Export
	seen := map[string]bool{}
	for _, im := range imports {
		// Go imports some functions more than once (e.g. fd_write).
		if im.Module == "wasi_snapshot_preview1" && !seen[im.Name] {
			seen[im.Name] = true
			exports = append(exports, Export{im.Name, im.Type})
		}
	}
	return Module(nil, exports, false), nil
}
