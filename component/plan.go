package component

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Source says where a main-module import comes from in the component.
type Source uint8

// The sources a main-module import may have.
const (
	// Lowered: a canon lower of a function of an imported instance
	// (Interface, Func); the host serves it.
	Lowered Source = iota
	// ResourceDrop: a canon resource.drop of an imported resource; the host
	// serves [resource-drop] functions.
	ResourceDrop
	// Adapter: an export of a helper module (the wasi_snapshot_preview1
	// adapter) named Func; wazero's wasi_snapshot_preview1 serves it.
	Adapter
)

// Binding is one function import of the main module and what serves it.
type Binding struct {
	CoreImport        // as the main module imports it
	Source     Source //
	Interface  string // Lowered: the imported instance, "wasi:io/streams@0.2.12"
	Func       string // the function's own name, under which it is served
}

// Plan is how to run a component's main module directly on a core runtime.
type Plan struct {
	// Module is the main core module with its imports renamed to the names
	// that serve them (wit-component's "fd_write [v2]" is "fd_write").
	Module   []byte
	Bindings []Binding
	// Realloc is the main module's export that allocates what lowered
	// imports return: "cabi_import_realloc" when it has one, else
	// "cabi_realloc".
	Realloc string
	// Run is the main module's export that implements wasi:cli/run#run,
	// with PostReturn (either may be ""); empty Run means the command's
	// entry is the main module's _start (the preview1 command adapter's run
	// only calls it).
	Run, PostReturn string
	// Modules, Lowers: counts, for messages and tests.
	Modules, Lowers int
}

// AdapterModule is the module name under which a main module imports the
// preview1 adapter.
const AdapterModule = "wasi_snapshot_preview1"

// planError is a component that was read but cannot be run.
func planError(format string, args ...any) error {
	return &Error{Section: "", Item: -1, Err: fmt.Errorf(format, args...)}
}

// renamed matches wit-component's renaming of duplicate imports.
var renamed = regexp.MustCompile(` \[v[0-9]+\]$`)

// Plan finds the main module of a single component made by wit-component
// and checks that running it directly is equivalent to running the
// component: every lowered import it uses names its memory and realloc and
// UTF-8 strings, nothing is async, and no resource is exported.
func (c *Component) Plan() (*Plan, error) {
	p := &Plan{Modules: len(c.Modules)}
	for i, cn := range c.Canons {
		switch {
		case cn.Opts.Async || cn.Opts.Callback != nil:
			return nil, planError("canon item %d: async canonical options are not supported (wasi 0.3 / async components)", i)
		case cn.Op == CanonResourceNew || cn.Op == CanonResourceRep:
			return nil, planError("canon item %d: resources exported by the guest are not supported", i)
		case cn.Op == CanonLower:
			p.Lowers++
		}
	}
	mainInst, mem, err := c.mainInstance()
	if err != nil {
		return nil, err
	}
	ci := c.CoreInstances[mainInst]
	for i, other := range c.CoreInstances {
		if i != int(mainInst) && other.Module == ci.Module {
			return nil, planError("the main module (core module %d) is instantiated twice", ci.Module)
		}
	}
	raw := c.Modules[ci.Module]
	m, err := ParseCore(raw)
	if err != nil {
		return nil, planError("main module (core module %d): %v", ci.Module, err)
	}
	p.Realloc = "cabi_realloc"
	if k, ok := m.Exports["cabi_import_realloc"]; ok && k == 0 {
		p.Realloc = "cabi_import_realloc"
	}
	args := map[string]uint32{}
	for _, a := range ci.Args {
		args[a.Name] = a.Instance
	}
	for _, im := range m.Imports {
		if im.Kind != 0 {
			return nil, planError("the main module imports a %s (%s %q): only functions can be served", kindName(im.Kind), im.Module, im.Field)
		}
		inst, ok := args[im.Module]
		if !ok {
			return nil, planError("the main module imports %s %q, which the component does not provide", im.Module, im.Field)
		}
		b, err := c.bind(im, inst, mainInst, mem, p.Realloc)
		if err != nil {
			return nil, planError("main module import %s %q: %v", im.Module, im.Field, err)
		}
		p.Bindings = append(p.Bindings, b)
	}
	if err := c.entry(p, mainInst, m); err != nil {
		return nil, err
	}
	names := map[[2]string]string{}
	for _, b := range p.Bindings {
		names[[2]string{b.Module, b.Field}] = b.Func
	}
	p.Module = m.RenameImports(raw, func(im CoreImport) string { return names[[2]string{im.Module, im.Field}] })
	return p, nil
}

// base is an interface name without its version.
func base(name string) string {
	b, _, _ := strings.Cut(name, "@")
	return b
}

func kindName(k byte) string {
	switch k {
	case 1:
		return "table"
	case 2:
		return "memory"
	case 3:
		return "global"
	case 4:
		return "tag"
	}
	return "func"
}

// mainInstance finds the core instance whose memory the canonical options
// name: the main module's. A component whose options name two memories
// (several modules with their own memory) is refused.
func (c *Component) mainInstance() (inst uint32, mem uint32, err error) {
	found := false
	for i, cn := range c.Canons {
		if cn.Opts.Memory == nil {
			continue
		}
		if found && *cn.Opts.Memory != mem {
			return 0, 0, planError("canon item %d names core memory %d, another names core memory %d: components with two memories are not supported", i, *cn.Opts.Memory, mem)
		}
		mem, found = *cn.Opts.Memory, true
	}
	if !found {
		return 0, 0, planError("no canonical option names a memory: cannot tell the main module")
	}
	def := c.Spaces[SortCoreMemory][mem]
	if def.Origin != FromAlias {
		return 0, 0, planError("core memory %d is not an export of a core instance", mem)
	}
	a := c.Aliases[def.Item]
	if c.CoreInstances[a.Instance].Module < 0 {
		return 0, 0, planError("core memory %d is not exported by an instantiated module", mem)
	}
	return a.Instance, mem, nil
}

// exportOf finds name among the exports of a from-exports core instance.
func (c *Component) exportOf(inst uint32, name string, sort Sort) (uint32, bool) {
	for _, e := range c.CoreInstances[inst].Exports {
		if e.Name == name && e.Sort == sort {
			return e.Index, true
		}
	}
	return 0, false
}

// bind traces one main-module function import to its source.
func (c *Component) bind(im CoreImport, inst, mainInst, mem uint32, realloc string) (Binding, error) {
	b := Binding{CoreImport: im}
	if c.CoreInstances[inst].Module >= 0 {
		return b, errors.New("the argument is an instantiated module, not a set of functions")
	}
	f, ok := c.exportOf(inst, im.Field, SortCoreFunc)
	if !ok {
		return b, errors.New("the component's argument instance has no such function")
	}
	// Follow aliases through the shim (a table of trampolines) to what the
	// fixup module puts in the table. Indices only point backwards, except
	// the shim-to-fixup step, so a few steps are enough.
	for range 8 {
		def := c.Spaces[SortCoreFunc][f]
		switch def.Origin {
		case FromCanon:
			return c.bindCanon(b, c.Canons[def.Item], mainInst, mem, realloc)
		case FromAlias:
			a := c.Aliases[def.Item]
			src := c.CoreInstances[a.Instance]
			switch {
			case src.Module < 0:
				if f, ok = c.exportOf(a.Instance, a.Name, SortCoreFunc); !ok {
					return b, fmt.Errorf("core instance %d has no function %q", a.Instance, a.Name)
				}
				continue
			case a.Instance == mainInst:
				return b, errors.New("the main module would import its own export")
			}
			if g, ok := c.fixup(a.Instance, a.Name); ok {
				f = g
				continue
			}
			if im.Module != AdapterModule {
				return b, fmt.Errorf("served by function %q of core module %d, a helper the host does not replace", a.Name, src.Module)
			}
			b.Source, b.Func = Adapter, a.Name
			return b, nil
		default:
			return b, errors.New("not a lowered or aliased function")
		}
	}
	return b, errors.New("too many indirections")
}

// fixup finds what wit-component's fixup module stores in the shim's
// table for the shim export name. The fixup module is instantiated with
// the shim instance itself and an instance that exports the functions to
// store under the shim's export names ("0", "1", ...); older versions pass
// one instance that exports the shim's "$imports" table next to them.
func (c *Component) fixup(shim uint32, name string) (uint32, bool) {
	for _, ci := range c.CoreInstances {
		if ci.Module < 0 || !slices.ContainsFunc(ci.Args, func(a Arg) bool { return a.Instance == shim }) {
			continue
		}
		for _, a := range ci.Args {
			if a.Instance == shim || c.CoreInstances[a.Instance].Module >= 0 {
				continue
			}
			if f, ok := c.exportOf(a.Instance, name, SortCoreFunc); ok {
				return f, true
			}
		}
	}
	for i, ci := range c.CoreInstances {
		if ci.Module >= 0 {
			continue
		}
		t, ok := c.exportOf(uint32(i), "$imports", SortCoreTable)
		if !ok {
			continue
		}
		def := c.Spaces[SortCoreTable][t]
		if def.Origin != FromAlias || c.Aliases[def.Item].Instance != shim {
			continue
		}
		if f, ok := c.exportOf(uint32(i), name, SortCoreFunc); ok {
			return f, true
		}
	}
	return 0, false
}

// bindCanon checks a canon definition the main module imports.
func (c *Component) bindCanon(b Binding, cn Canon, mainInst, mem uint32, realloc string) (Binding, error) {
	switch cn.Op {
	case CanonResourceDrop:
		name := renamed.ReplaceAllString(b.Field, "")
		if !strings.HasPrefix(name, "[resource-drop]") {
			return b, errors.New("a resource.drop imported under another name")
		}
		b.Source, b.Func = ResourceDrop, name
		return b, nil
	case CanonLower:
	default:
		return b, fmt.Errorf("canon 0x%02x cannot be served", cn.Op)
	}
	o := cn.Opts
	if o.Encoding != "utf8" {
		return b, fmt.Errorf("string-encoding=%s: only UTF-8 strings are supported", o.Encoding)
	}
	if o.Memory != nil && *o.Memory != mem {
		return b, fmt.Errorf("lowered with core memory %d, not the main module's", *o.Memory)
	}
	if o.Realloc != nil {
		def := c.Spaces[SortCoreFunc][*o.Realloc]
		if def.Origin != FromAlias || c.Aliases[def.Item].Instance != mainInst || c.Aliases[def.Item].Name != realloc {
			return b, fmt.Errorf("lowered with a realloc other than the main module's %s", realloc)
		}
	}
	def := c.Spaces[SortFunc][cn.Func]
	if def.Origin != FromAlias {
		return b, errors.New("lowers a function that is not an export of an imported instance")
	}
	a := c.Aliases[def.Item]
	idef := c.Spaces[SortInstance][a.Instance]
	if idef.Origin != FromImport {
		return b, errors.New("lowers a function of an instance the component does not import")
	}
	b.Source, b.Interface, b.Func = Lowered, c.Imports[idef.Item].Name, a.Name
	// wit-component merges semver-compatible versions: the main module may
	// import wasi:io/streams@0.2.6 from the component's @0.2.12.
	if base(b.Interface) != base(b.Module) {
		return b, fmt.Errorf("imported as module %q but lowered from %q", b.Module, b.Interface)
	}
	if renamed.ReplaceAllString(b.Field, "") != b.Func {
		return b, fmt.Errorf("imported as %q but lowered from %q", b.Field, b.Func)
	}
	return b, nil
}

// entry finds how the command runs: the main module's own
// wasi:cli/run#run export, or its _start behind the adapter's run.
func (c *Component) entry(p *Plan, mainInst uint32, m *CoreModule) error {
	_, hasStart := m.Exports["_start"]
	var run *Export
	for i, e := range c.Exports {
		if strings.HasPrefix(e.Name, "wasi:cli/run@0.2.") && e.Sort == SortInstance {
			run = &c.Exports[i]
		}
	}
	if run == nil {
		if hasStart {
			return nil
		}
		return planError("the component exports no wasi:cli/run@0.2.x and its main module has no _start: only commands can run")
	}
	f, err := c.instanceFunc(run.Index, "run")
	if err != nil {
		return planError("export %q: %v", run.Name, err)
	}
	lift, err := c.liftOf(f)
	if err != nil {
		return planError("export %q: %v", run.Name, err)
	}
	if lift.Opts.Async {
		return planError("export %q: async lift is not supported", run.Name)
	}
	def := c.Spaces[SortCoreFunc][lift.Func]
	if def.Origin != FromAlias {
		return planError("export %q: lifted from a function that is not a core export", run.Name)
	}
	a := c.Aliases[def.Item]
	if a.Instance != mainInst {
		if !hasStart {
			return planError("export %q: run comes from a helper module and the main module has no _start", run.Name)
		}
		return nil // the command adapter's run calls _start
	}
	p.Run = a.Name
	if lift.Opts.PostReturn != nil {
		pdef := c.Spaces[SortCoreFunc][*lift.Opts.PostReturn]
		if pdef.Origin != FromAlias || c.Aliases[pdef.Item].Instance != mainInst {
			return planError("export %q: post-return is not the main module's", run.Name)
		}
		p.PostReturn = c.Aliases[pdef.Item].Name
	}
	return nil
}

// instanceFunc returns the func an instance exports under name.
func (c *Component) instanceFunc(inst uint32, name string) (uint32, error) {
	for range 8 {
		def := c.Spaces[SortInstance][inst]
		switch def.Origin {
		case FromExport:
			inst = c.Exports[def.Item].Index
			continue
		case FromDef:
			in := c.Instances[def.Item]
			if in.Component >= 0 {
				return c.wrapped(in, name)
			}
			for _, e := range in.Exports {
				if e.Name == name && e.Sort == SortFunc {
					return e.Index, nil
				}
			}
			return 0, fmt.Errorf("instance %d exports no func %q", inst, name)
		}
		return 0, fmt.Errorf("instance %d is not defined by the component", inst)
	}
	return 0, errors.New("too many indirections")
}

// liftOf follows exports to the canon lift that defines func f.
func (c *Component) liftOf(f uint32) (Canon, error) {
	for range 8 {
		def := c.Spaces[SortFunc][f]
		switch def.Origin {
		case FromExport:
			f = c.Exports[def.Item].Index
			continue
		case FromCanon:
			return c.Canons[def.Item], nil
		}
		return Canon{}, fmt.Errorf("func %d is not lifted by the component", f)
	}
	return Canon{}, errors.New("too many indirections")
}

// wrapped follows an export of an instance of a wrapper component to the
// argument it re-exports.
func (c *Component) wrapped(in InstanceDef, name string) (uint32, error) {
	w := c.Wrappers[in.Component]
	for _, e := range w.Exports {
		if e.Name != name || e.Sort != SortFunc {
			continue
		}
		def := w.Spaces[SortFunc][e.Index]
		if def.Origin != FromImport {
			return 0, fmt.Errorf("nested component %d re-exports %q from something other than an import", in.Component, name)
		}
		imp := w.Imports[def.Item].Name
		for _, a := range in.Args {
			if a.Name == imp && a.Sort == SortFunc {
				return a.Index, nil
			}
		}
		return 0, fmt.Errorf("nested component %d: no func argument %q", in.Component, imp)
	}
	return 0, fmt.Errorf("nested component %d exports no func %q", in.Component, name)
}
