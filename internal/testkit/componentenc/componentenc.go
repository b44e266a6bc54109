// Package componentenc builds small components byte by byte in the shape
// wit-component gives a single component: a main module whose lowered
// import reaches it through a shim's trampoline that a fixup instance
// fills, a preview1 adapter, and a wasi:cli/run export lifted from the main
// module (or from the adapter, which then runs the main module's _start).
// The component package's tests turn its knobs to make every refusal; the
// host's tests run a real main module in it.
package componentenc

import (
	"maps"
	"slices"

	"github.com/wasitls/wasitls/internal/wasmbin"
)

// The binary format's primitives, from the tests' one encoder.
var (
	Leb     = wasmbin.Leb
	Str     = wasmbin.Str
	Cat     = wasmbin.Cat
	Vec     = wasmbin.Vec
	Section = wasmbin.Section
)

// Preamble starts a component (version 0x0d, layer 1).
var Preamble = []byte{0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00}

// CoreHeader starts a core module.
var CoreHeader = wasmbin.CoreHeader

// CoreModule is a core module with function imports and exports only (of
// the given kinds, all index 0): enough to be read, never to be compiled.
func CoreModule(imports [][2]string, exports map[string]byte) []byte {
	var ims [][]byte
	for _, im := range imports {
		ims = append(ims, Cat(Str(im[0]), Str(im[1]), []byte{0x00}, Leb(0)))
	}
	var exs [][]byte
	for _, name := range slices.Sorted(maps.Keys(exports)) {
		exs = append(exs, Cat(Str(name), []byte{exports[name]}, Leb(0)))
	}
	return Cat(CoreHeader, Section(2, Vec(ims...)), Section(7, Vec(exs...)))
}

// Adapter is the module name of the preview1 adapter's functions.
const Adapter = "wasi_snapshot_preview1"

// Shape is one component. Main imports Interface#Field (lowered from the
// imported instance's function Func) and Adapter#fd_write.
type Shape struct {
	Main            []byte // nil: a CoreModule with MainExports
	MainExports     map[string]byte
	Interface, Func string
	Field           string   // Func as main imports it (wit-component may add " [v2]")
	LowerOpts       [][]byte // canonical options of the lower
	Realloc         string   // the main export core func 2 aliases (the realloc option's usual target)
	RunFromMain     bool     // lift wasi:cli/run#run (and post-return) from main, else from the adapter
	WrapRun         bool     // export run through a nested component, as wit-component does
	Extra           [][]byte // sections appended at the end
	RunVersion      string   // the wasi:cli/run version (default 0.2.6)
}

// Default is the shape the component package's tests start from.
func Default() Shape {
	return Shape{
		LowerOpts: [][]byte{{0x03, 0x00}, {0x04, 0x02}, {0x00}}, // memory 0, realloc core func 2, utf8
		MainExports: map[string]byte{"memory": 2, "cabi_realloc": 0,
			"wasi:cli/run@0.2.6#run": 0, "cabi_post_wasi:cli/run@0.2.6#run": 0},
		Interface:   "wasi:io/streams@0.2.6",
		Func:        "[method]output-stream.write",
		Field:       "[method]output-stream.write [v2]",
		Realloc:     "cabi_realloc",
		RunFromMain: true,
	}
}

// Build returns the component's bytes.
func (s Shape) Build() []byte {
	ver := s.RunVersion
	if ver == "" {
		ver = "0.2.6"
	}
	runName := "wasi:cli/run@" + ver + "#run"
	core := func(sort byte) []byte { return []byte{0x00, sort} }
	mainMod := s.Main
	if mainMod == nil {
		mainMod = CoreModule([][2]string{{s.Interface, s.Field}, {Adapter, "fd_write"}}, s.MainExports)
	}
	adapter := CoreModule(nil, map[string]byte{"fd_write": 0, runName: 0})
	shim := CoreModule(nil, map[string]byte{"0": 0, "$imports": 1})
	fixup := CoreModule([][2]string{{"", "0"}}, nil)
	var run []byte
	if s.RunFromMain {
		run = Cat(
			Section(6, Vec(Cat(core(0x00), []byte{0x01}, Leb(4), Str(runName)), // core func 4
				Cat(core(0x00), []byte{0x01}, Leb(4), Str("cabi_post_"+runName)))), // core func 5
			Section(8, Vec(Cat([]byte{0x00, 0x00}, Leb(4), Vec([]byte{0x05, 0x05}), Leb(1)))), // lift -> func 1
		)
	} else {
		run = Cat(
			Section(6, Vec(Cat(core(0x00), []byte{0x01}, Leb(0), Str(runName)))), // core func 4
			Section(8, Vec(Cat([]byte{0x00, 0x00}, Leb(4), Vec(), Leb(1)))),
		)
	}
	runInstance := Section(5, Vec(Cat([]byte{0x01}, Vec(Cat([]byte{0x00}, Str("run"), []byte{0x01}, Leb(1)))))) // instance 1
	if s.WrapRun {
		wrapper := Cat(Preamble,
			Section(10, Vec(Cat([]byte{0x00}, Str("import-func-run"), []byte{0x01}, Leb(0)))),
			Section(11, Vec(Cat([]byte{0x00}, Str("run"), []byte{0x01}, Leb(0), []byte{0x00}))))
		runInstance = Cat(Section(4, wrapper),
			Section(5, Vec(Cat([]byte{0x00}, Leb(0), Vec(Cat(Str("import-func-run"), []byte{0x01}, Leb(1)))))))
	}
	b := Cat(Preamble,
		Section(7, Vec([]byte{0x40}, []byte{0x40})),                                 // two types, only counted
		Section(10, Vec(Cat([]byte{0x00}, Str(s.Interface), []byte{0x05}, Leb(0)))), // instance 0
		Section(1, mainMod), Section(1, adapter), Section(1, shim), Section(1, fixup),
		Section(6, Vec(Cat([]byte{0x01, 0x00}, Leb(0), Str(s.Func)))), // func 0
		Section(2, Vec(
			Cat([]byte{0x00}, Leb(1), Vec()), // core instance 0: the adapter
			Cat([]byte{0x00}, Leb(2), Vec()), // core instance 1: the shim
		)),
		Section(6, Vec(
			Cat(core(0x00), []byte{0x01}, Leb(0), Str("fd_write")), // core func 0
			Cat(core(0x00), []byte{0x01}, Leb(1), Str("0")),        // core func 1
			Cat(core(0x01), []byte{0x01}, Leb(1), Str("$imports")), // core table 0
		)),
		Section(2, Vec(
			Cat([]byte{0x01}, Vec(Cat(Str(s.Field), []byte{0x00}, Leb(1)))),                                                      // 2
			Cat([]byte{0x01}, Vec(Cat(Str("fd_write"), []byte{0x00}, Leb(0)))),                                                   // 3
			Cat([]byte{0x00}, Leb(0), Vec(Cat(Str(s.Interface), []byte{0x12}, Leb(2)), Cat(Str(Adapter), []byte{0x12}, Leb(3)))), // 4: main
		)),
		Section(6, Vec(
			Cat(core(0x02), []byte{0x01}, Leb(4), Str("memory")),  // core memory 0
			Cat(core(0x00), []byte{0x01}, Leb(4), Str(s.Realloc)), // core func 2
		)),
		Section(8, Vec(Cat([]byte{0x01, 0x00}, Leb(0), Vec(s.LowerOpts...)))), // core func 3
		Section(2, Vec(
			Cat([]byte{0x01}, Vec(Cat(Str("$imports"), []byte{0x01}, Leb(0)), Cat(Str("0"), []byte{0x00}, Leb(3)))), // 5
			Cat([]byte{0x00}, Leb(3), Vec(Cat(Str(""), []byte{0x12}, Leb(5)))),                                      // 6: fixup
		)),
		run,
		runInstance,
		Section(11, Vec(Cat([]byte{0x00}, Str("wasi:cli/run@"+ver), []byte{0x05}, Leb(1), []byte{0x00}))),
	)
	for _, e := range s.Extra {
		b = append(b, e...)
	}
	return b
}
