// Package hostimports lists what the host's modules answer to, for the tests
// and checks that compare it with the WIT (internal/testkit/witcheck), build guests
// importing all of it (internal/testkit/rawguest) or look for one function
// (cmd/wasitls): module names, function names and core signatures. It is not
// part of host's public API; package host fills it in when it is linked.
package hostimports

import (
	"sync/atomic"

	"github.com/tetratelabs/wazero/api"
)

// Table is what package host publishes.
type Table struct {
	// ImportNames returns the module names the host answers to: each
	// interface at each version from 0.2.0 to the newest published when the
	// host was written; later 0.2.x versions are answered too.
	ImportNames func() []string
	// Functions returns the WIT function names of a module (nil if the
	// host does not answer to it); functions served only for a toolchain's
	// sake are left out.
	Functions func(module string) []string
	// Signature returns the core signature of module#field.
	Signature func(module, field string) (params, results []api.ValueType, ok bool)
}

var table atomic.Pointer[Table]

// Publish is called by package host when it is initialized.
func Publish(t Table) { table.Store(&t) }

func get() *Table {
	t := table.Load()
	if t == nil {
		panic("hostimports: package host is not linked into this program (import it)")
	}
	return t
}

// ImportNames returns the module names the host answers to.
func ImportNames() []string { return get().ImportNames() }

// Functions returns the WIT function names of module.
func Functions(module string) []string { return get().Functions(module) }

// Signature returns the core signature of module#field.
func Signature(module, field string) (params, results []api.ValueType, ok bool) {
	return get().Signature(module, field)
}
