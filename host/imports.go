package host

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tetratelabs/wazero"
)

// A host module is compiled with only the functions its guest imports:
// wazero compiles a machine-code trampoline for every function of a host
// module, and the interfaces define about 250 functions of which a guest
// imports a few dozen, so compiling them all was most of wasitls's part of
// a guest's instantiation (see shared.go for guests that share them). A
// guest cannot call what it does not import, so nothing else changes: an
// import the host does not have fails to link as before.

// importSet is what a compiled guest imports of each interface: the names
// of the host functions, sorted, over every version of the interface it
// imports (a guest may import one at two 0.2.x versions; one instance of
// the host module serves both).
type importSet map[*iface][]string

// importsOf reads the imports of compiled, in one walk: the set, and the
// first module name (with its version) that imported each interface, for
// messages.
func importsOf(compiled wazero.CompiledModule) (importSet, map[*iface]string) {
	s, mods := importSet{}, map[*iface]string{}
	prev, f, ok := "", (*iface)(nil), false
	for _, d := range compiled.ImportedFunctions() {
		mod, name, _ := d.Import()
		if mod != prev {
			prev = mod
			if f, ok = parseImport(mod); ok && mods[f] == "" {
				mods[f] = mod
			}
		}
		if ok && !slices.Contains(s[f], name) {
			s[f] = append(s[f], name)
		}
	}
	for _, names := range s {
		slices.Sort(names)
	}
	return s, mods
}

// fns returns the functions of f to compile for the guest: those it
// imports that f has, or all of them when s is nil.
func (s importSet) fns(f *iface) []*fnDef {
	var out []*fnDef
	for i := range f.fns {
		if d := &f.fns[i]; s == nil || slices.Contains(s[f], d.name) {
			out = append(out, d)
		}
	}
	return out
}

// check finds a function the guest imports from an interface the host
// serves but that the host does not have (wazero's link error would name
// the anonymous host module, not the import); mods names each interface's
// module as the guest imports it.
func (s importSet) check(mods map[*iface]string) error {
	for _, f := range interfaces { // in a fixed order: the first problem is the error
		for _, name := range s[f] {
			if !slices.ContainsFunc(f.fns, func(d fnDef) bool { return d.name == name }) {
				return fmt.Errorf("host: the guest imports %s#%s, which the host does not serve", mods[f], name)
			}
		}
	}
	return nil
}

// key names f's functions for the guest, for the Host's shared compiled
// modules: guests importing the same functions share one.
func (s importSet) key(f *iface) string {
	if s == nil {
		return "\x00all"
	}
	return strings.Join(s[f], "\x00")
}
