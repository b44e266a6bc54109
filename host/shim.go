package host

import (
	"context"
	"fmt"

	"github.com/tetratelabs/wazero"
	wapi "github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasitls/wasitls/internal/wasmbin"
)

// A shim is a small wasm module that a guest imports an interface from in
// place of the host module, when the guest imports a function of it that
// returns a list (see listresult.go). It re-exports the host module's other
// functions, and for each list function exports a wasm function that calls
// the host's prepare half, the guest's allocator through a one-entry
// table, and the finish half. Its module picture:
//
//	(import "host" "[method]input-stream.read prepare" (func (i32 i64 i32) (result i64)))
//	(import "host" "[method]input-stream.read finish" (func (i32 i64)))
//	(import "host" "[method]input-stream.subscribe" (func ...))     ; re-exported as is
//	(table (export "table") 1 1 funcref)                           ; [0] = the guest's cabi_realloc
//	(func (export "[method]input-stream.read") (param i32 i64 i32) (local i64) ...)
//
// The table is filled after the guest is instantiated, before its start
// functions run, by a second module that imports the table and the guest's
// allocator and has one element segment (fixupWasm). wazero calls host
// functions the shim calls with the shim as the caller, so the shim maps to
// its guest in the Host's guests map, with the guest's module (whose memory
// the functions use) once bound.
//
// Only guests whose start functions the host runs itself get shims
// (Instantiate with a NewModuleConfig config, InstantiateComponent): before
// the start functions, the guest's allocator cannot be in the table, and
// the guest's module, which the shim's calls need, is not known.

// Names in the generated modules.
const (
	shimHostModule  = "host"
	shimTable       = "table"
	shimPrepare     = " prepare"
	shimFinish      = " finish"
	fixupShimModule = "shim"
	fixupGuest      = "guest"
)

// shimRef is a shim instance in the Host's guests map.
type shimRef struct {
	g    *Guest
	shim wapi.Module
	mod  wapi.Module // the guest's module; nil until bound
}

// halves returns the host functions d's shim calls: d's parameters ->
// i64 (size and token, or -1), and (ptr, size and token).
func (d *fnDef) halves() (prep, fin *fnDef) {
	lr := d.list
	prep = &fnDef{name: d.name + shimPrepare, params: d.params, results: p(i64), fn: lr.prepareShim,
		full: d.full, paramNames: d.paramNames, retName: d.retName}
	fin = &fnDef{name: d.name + shimFinish, params: p(i32, i64), fn: lr.finishShim,
		full: d.full, paramNames: []string{"ptr", "held"}}
	return prep, fin
}

// hasList reports whether the guest imports a function of f returning a
// list.
func (s importSet) hasList(f *iface) bool {
	for _, d := range s.fns(f) {
		if d.list != nil {
			return true
		}
	}
	return false
}

// reallocType is cabi_realloc's: (old_ptr, old_size, align, new_size) -> ptr.
var reallocType = [2][]wapi.ValueType{p(i32, i32, i32, i32), p(i32)}

// shimWasm returns the binary of f's shim exporting fns. Its functions
// have the interface's names, so a stack trace through one reads as one
// through the host module.
func shimWasm(f *iface, fns []*fnDef) []byte {
	var b wasmbin.Builder
	b.Name(f.name)
	imported := make([]uint32, len(fns))
	halves := make([][2]uint32, len(fns))
	for i, d := range fns {
		if d.list == nil {
			imported[i] = b.ImportFunc(shimHostModule, d.name, d.params, d.results)
			continue
		}
		halves[i][0] = b.ImportFunc(shimHostModule, d.prep.name, d.prep.params, d.prep.results)
		halves[i][1] = b.ImportFunc(shimHostModule, d.fin.name, d.fin.params, d.fin.results)
	}
	realloc := b.Type(reallocType[0], reallocType[1])
	table := b.Table(1)
	b.Export(shimTable, wasmbin.KindTable, table)
	for i, d := range fns {
		if d.list == nil {
			b.Export(d.name, wasmbin.KindFunc, imported[i])
			continue
		}
		fn := b.Func(d.params, d.results, shimBody(d, halves[i], realloc, table))
		b.FuncName(fn, d.name)
		b.Export(d.name, wasmbin.KindFunc, fn)
	}
	return b.Bytes()
}

// shimBody is a list function of the shim; r is the local after the
// parameters:
//
//	r = prepare(params...); if r < 0 { return }
//	finish(table[0](0, 0, align, i32(r)), r)
func shimBody(d *fnDef, half [2]uint32, realloc, table uint32) []byte {
	k := uint32(len(d.params))
	w := []byte{0x01, 0x01, byte(i64)} // one local: r i64
	for i := range k {
		w = wasmbin.Cat(w, []byte{wasmbin.OpLocalGet}, wasmbin.Leb(i))
	}
	w = wasmbin.Cat(w,
		[]byte{wasmbin.OpCall}, wasmbin.Leb(half[0]),
		[]byte{wasmbin.OpLocalTee}, wasmbin.Leb(k),
		[]byte{wasmbin.OpI64Const, 0x00, wasmbin.OpI64LtS, wasmbin.OpIf, wasmbin.BlockEmpty, wasmbin.OpReturn, wasmbin.OpEnd},
		[]byte{wasmbin.OpI32Const, 0x00, wasmbin.OpI32Const, 0x00, wasmbin.OpI32Const}, wasmbin.Sleb(int64(d.list.align)),
		[]byte{wasmbin.OpLocalGet}, wasmbin.Leb(k), []byte{wasmbin.OpI32WrapI64},
		[]byte{wasmbin.OpI32Const, 0x00, wasmbin.OpCallIndirect}, wasmbin.Leb(realloc), wasmbin.Leb(table),
		[]byte{wasmbin.OpLocalGet}, wasmbin.Leb(k),
		[]byte{wasmbin.OpCall}, wasmbin.Leb(half[1]),
		[]byte{wasmbin.OpEnd})
	return w
}

// fixupWasm returns the binary of the module that puts the guest's
// allocator, exported as realloc, in a shim's table.
func fixupWasm(realloc string) []byte {
	var b wasmbin.Builder
	fn := b.ImportFunc(fixupGuest, realloc, reallocType[0], reallocType[1])
	b.ImportTable(fixupShimModule, shimTable, 1)
	b.Elem(0, fn)
	return b.Bytes()
}

// compiledShim returns the Host's compiled shim of f for imports.
func (h *Host) compiledShim(ctx context.Context, f *iface, imports importSet) (wazero.CompiledModule, error) {
	return h.shared.compile(ctx, &h.shared.shims, sharedKey{f, imports.key(f), false}, func() ([]byte, error) {
		return shimWasm(f, imports.fns(f)), nil
	}, h.r)
}

// compiledFixup returns the Host's compiled fixup for an allocator name.
func (h *Host) compiledFixup(ctx context.Context, realloc string) (wazero.CompiledModule, error) {
	return h.shared.compile(ctx, &h.shared.fixups, sharedKey{nil, realloc, false}, func() ([]byte, error) {
		return fixupWasm(realloc), nil
	}, h.r)
}

// compile returns the module cached in *cache under k, compiling the
// binary wasm returns once.
func (s *sharedModules) compile(ctx context.Context, cache *map[sharedKey]wazero.CompiledModule, k sharedKey, wasm func() ([]byte, error), r wazero.Runtime) (wazero.CompiledModule, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cm, ok := (*cache)[k]; ok {
		return cm, nil
	}
	bin, err := wasm()
	if err != nil {
		return nil, err
	}
	cm, err := r.CompileModule(ctx, bin)
	if err != nil {
		return nil, err
	}
	if *cache == nil {
		*cache = map[sharedKey]wazero.CompiledModule{}
	}
	(*cache)[k] = cm
	return cm, nil
}

// resolving returns ctx resolving imports by name from mods.
func resolving(ctx context.Context, mods map[string]wapi.Module) context.Context {
	return experimental.WithImportResolver(ctx, func(name string) wapi.Module { return mods[name] })
}

// shim returns the guest's shim of f, whose host module is hm, creating it
// on first use. g.mu is held.
func (g *Guest) shim(ctx context.Context, f *iface, hm wapi.Module) (wapi.Module, error) {
	if ref, ok := g.shims[f]; ok {
		return ref.shim, nil
	}
	cm, err := g.h.compiledShim(ctx, f, g.imports)
	if err != nil {
		return nil, err
	}
	m, err := g.h.r.InstantiateModule(resolving(ctx, map[string]wapi.Module{shimHostModule: hm}), cm, hostModuleConfig)
	if err != nil {
		return nil, err
	}
	ref := &shimRef{g: g, shim: m}
	if g.shims == nil {
		g.shims = map[*iface]*shimRef{}
	}
	g.shims[f] = ref
	g.h.shared.guests.Store(m, ref)
	return m, nil
}

// bindShims puts the guest's allocator in its shims' tables and tells them
// its module. A guest whose allocator cannot be bound (none exported, or
// of another type) traps when a shim needs it, as the one-call form does.
func (g *Guest) bindShims(mod wapi.Module) {
	// Not the guest's context: that carries its close notifier, which
	// would close the guest with the binding module.
	ctx := context.Background()
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.shims) == 0 || g.closed {
		return
	}
	name := g.reallocs.export()
	problem := ""
	var cm wazero.CompiledModule
	if _, ok := mod.ExportedFunctionDefinitions()[name]; !ok {
		problem = "the guest exports no " + name
	} else if c, err := g.h.compiledFixup(ctx, name); err != nil {
		problem = fmt.Sprintf("wasitls: cannot compile the allocator binding: %v", err)
	} else {
		cm = c
	}
	for f, ref := range g.shims {
		if cm != nil && problem == "" {
			m, err := g.h.r.InstantiateModule(resolving(ctx, map[string]wapi.Module{fixupShimModule: ref.shim, fixupGuest: mod}), cm, hostModuleConfig)
			if err != nil {
				problem = fmt.Sprintf("the guest's %s is not a function (i32, i32, i32, i32) -> i32: %v", name, err)
			} else {
				g.fixups = append(g.fixups, m)
			}
		}
		bound := &shimRef{g: g, shim: ref.shim, mod: mod}
		g.shims[f] = bound
		g.h.shared.guests.Store(ref.shim, bound)
	}
	if problem != "" {
		g.shimErr.Store(&problem)
	}
}

// shimProblem is why the guest's allocator could not be bound ("" if it
// was).
func (g *Guest) shimProblem() string {
	if p := g.shimErr.Load(); p != nil {
		return *p
	}
	return ""
}

// runStarts runs the guest's start functions as wazero.Runtime.
// InstantiateModule does, for guests instantiated without them so that
// their shims could be bound first.
func runStarts(ctx context.Context, mod wapi.Module, starts []string) error {
	for _, fn := range starts {
		start := mod.ExportedFunction(fn)
		if start == nil {
			continue
		}
		if _, err := start.Call(ctx); err != nil {
			_ = mod.Close(ctx)
			if se, ok := err.(*sys.ExitError); ok {
				if se.ExitCode() == 0 {
					return nil
				}
				return err
			}
			return fmt.Errorf("module[%s] function[%s] failed: %w", mod.Name(), fn, err)
		}
	}
	return nil
}
