package main

import (
	"context"
	"io"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/component"
	"github.com/wasitls/wasitls/host"
)

// guestModule is a compiled guest: a core module, or a WASI 0.2
// component (its main module; see host.CompileComponent). run, demo -guest
// and bench -guest take either.
type guestModule struct {
	core wazero.CompiledModule
	comp *host.Component
}

// compileAny compiles wasm, a core module or a component, with announce
// (and the runtime's compilation cache).
func compileAny(ctx context.Context, h *host.Host, r wazero.Runtime, wasm []byte, name string, c cacheOptions, progress io.Writer) (guestModule, time.Duration, error) {
	var m guestModule
	var d time.Duration
	var err error
	if component.IsComponent(wasm) {
		d, err = announce(progress, compiling(name, wasm, c), func() error {
			var err error
			m.comp, err = h.CompileComponent(ctx, wasm)
			return err
		})
	} else {
		m.core, d, err = compileGuest(ctx, r, wasm, name, c, progress)
	}
	return m, d, err
}

// instantiate runs the guest as host.Instantiate or host.InstantiateComponent.
func (m guestModule) instantiate(ctx context.Context, h *host.Host, mc wazero.ModuleConfig, opts ...host.Option) (*host.Guest, error) {
	if m.comp != nil {
		return h.InstantiateComponent(ctx, m.comp, mc, opts...)
	}
	return h.Instantiate(ctx, m.core, mc, opts...)
}
