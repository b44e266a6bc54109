package host

import (
	"context"
	"sync"

	"github.com/tetratelabs/wazero"
	wapi "github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/internal/cabi"
)

// Compiling a host module is not free: wazero compiles a trampoline to
// machine code for every function and maps it executable, and a guest's
// imports are a dozen modules and a hundred functions. Done per guest, that
// was most of what a guest cost wasitls to instantiate. So guests made by
// Instantiate share each interface's compiled module (one per Host), and a
// host function finds its guest from the module that called it: wazero
// passes the caller, which the guest cannot choose. A guest's module is
// known from its first host call, made during instantiation with the
// context Instantiate bound to the guest, or from Instantiate's result,
// whichever comes first. Each guest still gets its own instance of each
// module, closed with it.
//
// Guests made by Prepare keep host modules compiled for them alone: the
// embedder may call the module with any context, so its first host call
// might not say which guest it is.

// sharedModules are a Host's shared compiled host modules and the guests
// they serve, by module.
type sharedModules struct {
	mu       sync.Mutex
	compiled map[sharedKey]wazero.CompiledModule
	shims    map[sharedKey]wazero.CompiledModule // see shim.go
	fixups   map[sharedKey]wazero.CompiledModule // by allocator name
	guests   sync.Map                            // wapi.Module -> *Guest, or a shim's *shimRef
}

// sharedKey is a shared compiled module: an interface and the functions it
// was compiled with (importSet.key), and whether with their shims' halves.
// A Host holds one per distinct set its guests import, usually one per
// interface.
type sharedKey struct {
	f      *iface
	names  string
	halves bool
}

// instantiatingKey is the context key of the guest Instantiate is making.
type instantiatingKey struct{}

// compiledFor returns the shared compiled module of f with the functions
// imports has of it, and with halves the halves of those a shim serves
// (see shim.go), compiling it once.
func (h *Host) compiledFor(ctx context.Context, f *iface, imports importSet, halves bool) (wazero.CompiledModule, error) {
	h.shared.mu.Lock()
	defer h.shared.mu.Unlock()
	k := sharedKey{f, imports.key(f), halves}
	if cm, ok := h.shared.compiled[k]; ok {
		return cm, nil
	}
	b := h.r.NewHostModuleBuilder(f.name)
	for _, d := range imports.fns(f) {
		d.build(b, d.shared(h))
		if halves && d.list != nil {
			d.prep.build(b, d.prep.shared(h))
			d.fin.build(b, d.fin.shared(h))
		}
	}
	cm, err := b.Compile(ctx)
	if err != nil {
		return nil, err
	}
	if h.shared.compiled == nil {
		h.shared.compiled = map[sharedKey]wazero.CompiledModule{}
	}
	h.shared.compiled[k] = cm
	return cm, nil
}

// guestOf returns the guest whose module (or shim) mod is, or nil, and the
// guest's module, whose memory the call uses (nil for a shim not yet
// bound).
func (h *Host) guestOf(ctx context.Context, mod wapi.Module) (*Guest, wapi.Module) {
	if v, ok := h.shared.guests.Load(mod); ok {
		if ref, ok := v.(*shimRef); ok {
			return ref.g, ref.mod
		}
		return v.(*Guest), mod
	}
	// The first call of a guest being instantiated: its context says which.
	g, _ := ctx.Value(instantiatingKey{}).(*Guest)
	if g == nil || g.h != h || !g.sharedMods {
		return nil, nil
	}
	if !g.setModule(mod) {
		return nil, nil // that guest's module is another one
	}
	return g, mod
}

// shared returns the wazero function of d for every guest of h made by
// Instantiate.
func (d *fnDef) shared(h *Host) wapi.GoModuleFunc {
	return func(ctx context.Context, mod wapi.Module, stack []uint64) {
		g, mod := h.guestOf(ctx, mod)
		if g == nil {
			cabi.Trapf(d.full, "the calling module is not a guest of this host (or it was closed)")
		}
		if mod == nil {
			cabi.Trapf(d.full, "called during the guest's instantiation (from its start section): the host serves it once instantiation is done")
		}
		d.invoke(g, ctx, mod, stack)
	}
}
