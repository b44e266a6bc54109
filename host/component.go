package host

import (
	"context"
	"fmt"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasitls/wasitls/component"
)

// Component is a WASI 0.2 component made ready to run on wazero: its main
// core module, compiled, and how to call it. Make it with
// [Host.CompileComponent]; Close it when no more guests will be made from it.
//
// A component that wit-component made for one component (`wasm-tools
// component new`, jco's componentNew, componentize-js, cargo's
// wasm32-wasip2, TinyGo's wasip2) holds one main module that calls the WASI
// imports directly with its own memory and realloc, plus generated helpers:
// the wasi_snapshot_preview1 adapter, a shim of trampolines and a fixup
// module that fills it. The host runs the main module alone: its WASI 0.2
// imports are served as for a core module, its wasi_snapshot_preview1
// imports by wazero's implementation (the runtime must have it), which is
// what the adapter would do with them.
type Component struct {
	compiled wazero.CompiledModule
	plan     *component.Plan
}

// CompileComponent reads the component binary b, checks that the host can
// run it, and compiles its main module (through the runtime's compilation
// cache, if it has one). Errors start with "component:" and say which
// section and item is at fault, or what the component needs that is not
// supported: composed components (several components linked together),
// async canonical options and builtins (wasi 0.3), strings other than
// UTF-8, several memories, resources the guest exports, imports the host
// does not serve, and components that are not commands (no
// wasi:cli/run@0.2.x export and no _start).
func (h *Host) CompileComponent(ctx context.Context, b []byte) (*Component, error) {
	c, err := component.Parse(b)
	if err != nil {
		return nil, err
	}
	plan, err := c.Plan()
	if err != nil {
		return nil, err
	}
	for _, bd := range plan.Bindings {
		if bd.Source == component.Adapter {
			continue // wazero's wasi_snapshot_preview1
		}
		if _, _, ok := signature(bd.Module, bd.Func); !ok {
			return nil, fmt.Errorf("component: the main module imports %s#%s, which the host does not serve", bd.Module, bd.Func)
		}
	}
	compiled, err := h.r.CompileModule(ctx, plan.Module)
	if err != nil {
		return nil, fmt.Errorf("component: main module: %w", err)
	}
	return &Component{compiled: compiled, plan: plan}, nil
}

// Module returns the compiled main module.
func (c *Component) Module() wazero.CompiledModule { return c.compiled }

// Close releases the compiled main module.
func (c *Component) Close(ctx context.Context) error { return c.compiled.Close(ctx) }

// InstantiateComponent instantiates the main module of c as a guest, as
// [Host.Instantiate] does for a core module, and runs the command: the
// main module's _start, or its wasi:cli/run#run export (then its
// post-return), whichever the component's wasi:cli/run export leads to.
// An error result of run is a *sys.ExitError with code 1, as a component
// host reports it; a trap in run closes the module, as a failing start
// function does. After a successful run the module stays open: Close the
// Guest. Lowered imports that return lists and strings allocate
// through the main module's cabi_import_realloc when it exports one (as the
// component names it), else cabi_realloc.
func (h *Host) InstantiateComponent(ctx context.Context, c *Component, mc wazero.ModuleConfig, opts ...Option) (*Guest, error) {
	// The host instantiates the main module itself, so its guests share
	// the compiled host modules as Instantiate's do (see shared.go).
	g, ctx, inner, err := h.prepare(ctx, c.compiled, mc, true, opts...)
	if err != nil {
		return nil, err
	}
	ctx = context.WithValue(ctx, instantiatingKey{}, g)
	g.reallocs.name = c.plan.Realloc
	// _initialize is the reactor convention for module setup; a component
	// host calls it before run too.
	starts := []string{"_initialize"}
	if c.plan.Run == "" {
		starts = append(starts, "_start")
	}
	g.useShims = true
	g, err = h.start(ctx, g, c.compiled, inner, starts)
	if err != nil || c.plan.Run == "" {
		return g, err
	}
	mod := g.Module()
	run := mod.ExportedFunction(c.plan.Run)
	res, err := run.Call(ctx)
	if err == nil && c.plan.PostReturn != "" {
		if post := mod.ExportedFunction(c.plan.PostReturn); post != nil {
			_, err = post.Call(ctx, res...)
		}
	}
	if err != nil && !mod.IsClosed() {
		// As wazero does when a start function fails: a command that
		// trapped is over, and nothing it owned outlives it.
		_ = mod.Close(ctx)
	}
	if mod.IsClosed() {
		g.shutdown(ctx) // wasi:cli/exit, a trap, or the close above
	}
	if err != nil {
		return g, err
	}
	if len(res) == 1 && uint32(res[0]) != 0 {
		return g, sys.NewExitError(1)
	}
	return g, nil
}
