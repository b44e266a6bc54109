package wasmbin

import "github.com/tetratelabs/wazero/api"

// Export and import kinds.
const (
	KindFunc   byte = 0x00
	KindTable  byte = 0x01
	KindMemory byte = 0x02
	KindGlobal byte = 0x03
)

// funcref is the reference type of function tables.
const funcref = 0x70

// Builder assembles a core module: function types are shared by content,
// imported functions come first in the function index space (so every
// ImportFunc precedes the first Func), and sections are written in the
// order the format requires.
//
//	var b wasmbin.Builder
//	exit := b.ImportFunc("wasi_snapshot_preview1", "proc_exit", []api.ValueType{api.ValueTypeI32}, nil)
//	start := b.Func(nil, nil, wasmbin.Cat([]byte{0x00, 0x41}, wasmbin.Sleb(3), []byte{0x10}, wasmbin.Leb(exit), []byte{0x0b}))
//	b.Memory(1)
//	b.Export("_start", wasmbin.KindFunc, start)
//	wasm := b.Bytes()
type Builder struct {
	types   [][]byte
	imports [][]byte
	nfuncs  uint32   // imported functions
	ntables uint32   // imported tables
	funcs   [][]byte // type indexes
	code    [][]byte
	tables  [][]byte
	memory  []byte
	globals [][]byte
	exports [][]byte
	start   []byte
	elems   [][]byte
	modName string
	fnNames [][]byte
}

// Type returns the index of the function type params -> results.
func (b *Builder) Type(params, results []api.ValueType) uint32 {
	t := Cat([]byte{0x60}, Leb(uint32(len(params))), params, Leb(uint32(len(results))), results)
	for i, u := range b.types {
		if string(u) == string(t) {
			return uint32(i)
		}
	}
	b.types = append(b.types, t)
	return uint32(len(b.types) - 1)
}

// ImportFunc imports module#name with the given signature and returns its
// function index.
func (b *Builder) ImportFunc(module, name string, params, results []api.ValueType) uint32 {
	if len(b.funcs) > 0 {
		panic("wasmbin: ImportFunc after Func would renumber the functions")
	}
	b.imports = append(b.imports, Cat(Str(module), Str(name), []byte{KindFunc}, Leb(b.Type(params, results))))
	b.nfuncs++
	return b.nfuncs - 1
}

// ImportTable imports module#name, a funcref table of at least min
// entries, and returns its table index.
func (b *Builder) ImportTable(module, name string, min uint32) uint32 {
	if len(b.tables) > 0 {
		panic("wasmbin: ImportTable after Table would renumber the tables")
	}
	b.imports = append(b.imports, Cat(Str(module), Str(name), []byte{KindTable, funcref, 0x00}, Leb(min)))
	b.ntables++
	return b.ntables - 1
}

// Table defines a funcref table of exactly size entries, all null, and
// returns its table index.
func (b *Builder) Table(size uint32) uint32 {
	b.tables = append(b.tables, Cat([]byte{funcref, 0x01}, Leb(size), Leb(size)))
	return b.ntables + uint32(len(b.tables)) - 1
}

// Name names the module, for stack traces (a "name" custom section).
func (b *Builder) Name(module string) { b.modName = module }

// FuncName names function fn, for stack traces. Name functions in
// increasing index order.
func (b *Builder) FuncName(fn uint32, name string) {
	b.fnNames = append(b.fnNames, Cat(Leb(fn), Str(name)))
}

// Start makes fn the module's start function, run during instantiation.
func (b *Builder) Start(fn uint32) { b.start = Leb(fn) }

// Elem stores funcs in table 0 from index offset when the module is
// instantiated (an active element segment).
func (b *Builder) Elem(offset uint32, funcs ...uint32) {
	seg := Cat([]byte{0x00, 0x41}, Sleb(int64(offset)), []byte{0x0b}, Leb(uint32(len(funcs))))
	for _, f := range funcs {
		seg = Cat(seg, Leb(f))
	}
	b.elems = append(b.elems, seg)
}

// Func defines a function whose body (locals declaration, instructions,
// end) is given, and returns its function index.
func (b *Builder) Func(params, results []api.ValueType, body []byte) uint32 {
	b.funcs = append(b.funcs, Leb(b.Type(params, results)))
	b.code = append(b.code, Cat(Leb(uint32(len(body))), body))
	return b.nfuncs + uint32(len(b.funcs)) - 1
}

// Memory defines the module's one memory, of minPages 64 KiB pages.
func (b *Builder) Memory(minPages uint32) { b.memory = Cat([]byte{0x00}, Leb(minPages)) }

// GlobalI32 defines an i32 global initialised to init and returns its index.
func (b *Builder) GlobalI32(mutable bool, init int64) uint32 {
	mut := byte(0)
	if mutable {
		mut = 1
	}
	b.globals = append(b.globals, Cat([]byte{byte(api.ValueTypeI32), mut, 0x41}, Sleb(init), []byte{0x0b}))
	return uint32(len(b.globals) - 1)
}

// Export exports the item of the given kind and index as name.
func (b *Builder) Export(name string, kind byte, index uint32) {
	b.exports = append(b.exports, Cat(Str(name), []byte{kind}, Leb(index)))
}

// Bytes returns the module's binary.
func (b *Builder) Bytes() []byte {
	out := Cat(CoreHeader, Section(1, Vec(b.types...)))
	if len(b.imports) > 0 {
		out = Cat(out, Section(2, Vec(b.imports...)))
	}
	if len(b.funcs) > 0 {
		out = Cat(out, Section(3, Vec(b.funcs...)))
	}
	if len(b.tables) > 0 {
		out = Cat(out, Section(4, Vec(b.tables...)))
	}
	if b.memory != nil {
		out = Cat(out, Section(5, Vec(b.memory)))
	}
	if len(b.globals) > 0 {
		out = Cat(out, Section(6, Vec(b.globals...)))
	}
	if len(b.exports) > 0 {
		out = Cat(out, Section(7, Vec(b.exports...)))
	}
	if b.start != nil {
		out = Cat(out, Section(8, b.start))
	}
	if len(b.elems) > 0 {
		out = Cat(out, Section(9, Vec(b.elems...)))
	}
	if len(b.code) > 0 {
		out = Cat(out, Section(10, Vec(b.code...)))
	}
	if b.modName != "" || len(b.fnNames) > 0 {
		names := Str("name")
		if b.modName != "" {
			names = Cat(names, Section(0, Str(b.modName)))
		}
		if len(b.fnNames) > 0 {
			names = Cat(names, Section(1, Vec(b.fnNames...)))
		}
		out = Cat(out, Section(0, names))
	}
	return out
}
