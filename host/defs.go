package host

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/tetratelabs/wazero"
	wapi "github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasitls/wasitls/internal/cabi"
	"github.com/wasitls/wasitls/internal/guestmem"
	"github.com/wasitls/wasitls/internal/witnames"
)

const (
	i32 = wapi.ValueTypeI32
	i64 = wapi.ValueTypeI64
)

// iface is one WIT interface as a core host module: its name without the
// version and one definition per function.
type iface struct {
	name string // "wasi:io/streams"
	// exact is the only accepted full name (wasi:tls); empty means any
	// 0.2.x patch version.
	exact string
	fns   []fnDef
	// needsConfig: the interface reads the guest's ModuleConfig (see
	// NewModuleConfig).
	needsConfig bool
}

// The WASI 0.2.x interfaces only ever add items from one patch version to
// the next, so one implementation serves every 0.2.x version, including
// those newer than the host (a guest built for one imports only what that
// version has, and the host answers each function it knows by name).
// maxPatch is the newest patch version published when this was written:
// importNames lists versions up to it.
const maxPatch = 12

// fnDef is one host function: its import field name, core signature and
// implementation. fn reads its parameters from stack and writes its result
// (at most one) to stack[0], as api.GoModuleFunc does.
type fnDef struct {
	name    string
	params  []wapi.ValueType
	results []wapi.ValueType
	fn      func(c *call, stack []uint64)
	full    string // module/field for messages, set by register
	// paramNames are the WIT parameter names, flattened (internal/witnames),
	// set by register: wazero's definitions and the trap log carry them.
	paramNames []string
	// retName names the return-pointer parameter in trap messages ("" when
	// the function has none).
	retName string
	// extra: served but not part of the WIT, so left out of Functions.
	extra bool
	// list: the result holds a list the guest allocates; prep and fin are
	// the halves its shim calls (see listresult.go), set by register.
	list      *listResult
	prep, fin *fnDef
}

// offWIT marks d as served for a toolchain's sake though the WIT lacks it.
func offWIT(d fnDef) fnDef {
	d.extra = true
	return d
}

func def(name string, fn func(c *call, stack []uint64), params []wapi.ValueType, results ...wapi.ValueType) fnDef {
	return fnDef{name: name, params: params, results: results, fn: fn}
}

func p(ts ...wapi.ValueType) []wapi.ValueType { return ts }

// call is the context of one host-function call.
type call struct {
	guestmem.Mem
	g *Guest
}

// bind returns the wazero function of d for guest g alone (see shared for
// the function every guest of a Host shares).
func (d *fnDef) bind(g *Guest) wapi.GoModuleFunc {
	return func(ctx context.Context, mod wapi.Module, stack []uint64) {
		d.invoke(g, ctx, mod, stack)
	}
}

// invoke runs d for g, called by mod. With a logger, traps are logged (and
// still raised).
func (d *fnDef) invoke(g *Guest, ctx context.Context, mod wapi.Module, stack []uint64) {
	if !g.hasMod.Load() {
		g.setModule(mod)
	}
	if l := g.s.logger; l != nil {
		defer func() {
			if r := recover(); r != nil {
				if t, ok := r.(*cabi.Trap); ok {
					l.Warn("wasitls: guest trapped", "guest", g.Name(), "func", t.Func, "params", d.paramNames, "problem", t.Msg)
				}
				panic(r)
			}
		}()
	}
	c := call{Mem: guestmem.Mem{Ctx: ctx, Mod: mod, Fn: d.full, Ret: d.retName, Funcs: &g.reallocs}, g: g}
	d.fn(&c, stack)
}

// trap rejects bad guest input.
func (c *call) trap(format string, args ...any) { cabi.Trapf(c.Fn, format, args...) }

// get returns the resource behind h, trapping on a bad handle.
func (c *call) get(h uint32, k rkind) any {
	v, err := c.g.table.get(h, k)
	if err != nil {
		c.trap("%v", err)
	}
	return v
}

// take removes h from the table (a drop or a move), trapping on a bad handle
// or live children.
func (c *call) take(h uint32, k rkind, fate string) any {
	v, err := c.g.table.take(h, k, fate)
	if err != nil {
		c.trap("%v", err)
	}
	return v
}

// push adds a resource, trapping when the handle limit is reached.
func (c *call) push(k rkind, v any, parent uint32) uint32 {
	h, err := c.g.table.push(k, v, parent)
	if err != nil {
		if cl, ok := v.(closer); ok {
			cl.close()
		}
		c.trap("%v", err)
	}
	return h
}

// drop is the body of every [resource-drop]: take the handle and close it.
func dropOf(k rkind) func(c *call, stack []uint64) {
	return func(c *call, stack []uint64) {
		v := c.take(wapi.DecodeU32(stack[0]), k, "dropped")
		if cl, ok := v.(closer); ok {
			cl.close()
		}
	}
}

// interrupted ends a blocking call whose context ended or whose guest
// closed. A guest cannot go on from an aborted blocking call, so, as
// proc_exit does, the module is closed (which releases everything it owned)
// and the call fails with the exit code wazero uses for an ended context.
func (c *call) interrupted() {
	if err := c.Ctx.Err(); err != nil {
		code := sys.ExitCodeContextCanceled
		if errors.Is(err, context.DeadlineExceeded) {
			code = sys.ExitCodeDeadlineExceeded
		}
		// wazero may have marked the module closed already and deferred its
		// clean-up to the module's next use: exit releases now.
		c.exit(code)
	}
	panic(errors.New("wasitls: " + c.Fn + ": guest closed"))
}

// wait blocks until w is ready, the call's context ends, or the guest closes.
func (c *call) wait(w waitable) {
	c.g.kickAll()
	for !w.ready() {
		select {
		case <-w.readyCh():
		case <-c.Ctx.Done():
			c.interrupted()
		case <-c.g.ctx.Done():
			c.interrupted()
		}
	}
}

// retPtr is the name of the parameter that points at a return area.
const retPtr = "ret-ptr"

// build adds d to a host module under construction, with its parameter
// names.
func (d *fnDef) build(b wazero.HostModuleBuilder, fn wapi.GoModuleFunc) {
	fb := b.NewFunctionBuilder().WithGoModuleFunction(fn, d.params, d.results).WithName(d.name)
	if len(d.paramNames) > 0 {
		fb = fb.WithParameterNames(d.paramNames...)
	}
	fb.Export(d.name)
}

// interfaces lists every host module the host answers to.
var interfaces []*iface

func register(f *iface) *iface {
	for i := range f.fns {
		ver := "@0.2.x"
		if f.exact != "" {
			ver = f.exact[strings.IndexByte(f.exact, '@'):]
		}
		d := &f.fns[i]
		d.full = f.name + ver + "#" + d.name
		// A function without names on record (or with a different count)
		// keeps none; TestHostFunctionsHaveParamNames fails on it.
		if names := witnames.Params(f.name, d.name); len(names) == len(d.params) {
			d.paramNames = names
			if n := len(names); n > 0 && names[n-1] == retPtr {
				d.retName = retPtr
			}
		}
		if d.list != nil {
			d.prep, d.fin = d.halves()
		}
	}
	switch f.name {
	case witnames.CLIEnvironment, witnames.CLIStdin, witnames.CLIStdout, witnames.CLIStderr,
		witnames.FilesystemTypes, witnames.FilesystemPreopens,
		witnames.RandomRandom, witnames.RandomInsecure, witnames.RandomInsecureSeed:
		f.needsConfig = true
	}
	interfaces = append(interfaces, f)
	return f
}

// parseImport maps a module name a guest imports to the interface that
// serves it: "wasi:io/streams@0.2.3" -> streams.
func parseImport(name string) (*iface, bool) {
	base, ver, ok := strings.Cut(name, "@")
	if !ok {
		return nil, false
	}
	for _, f := range interfaces {
		if f.name != base {
			continue
		}
		if f.exact != "" {
			return f, f.exact == name
		}
		rest, ok := strings.CutPrefix(ver, "0.2.")
		if !ok {
			return nil, false
		}
		n, err := strconv.Atoi(rest)
		if err != nil || n < 0 || strconv.Itoa(n) != rest {
			return nil, false
		}
		return f, true
	}
	return nil, false
}

// importNames returns the module names the host answers to, for tools and
// tests (internal/hostimports): each interface at each version from 0.2.0 to the newest published
// when the host was written (0.2.12); later 0.2.x versions are answered too.
func importNames() []string {
	var out []string
	for _, f := range interfaces {
		if f.exact != "" {
			out = append(out, f.exact)
			continue
		}
		for v := 0; v <= maxPatch; v++ {
			out = append(out, f.name+"@0.2."+strconv.Itoa(v))
		}
	}
	return out
}

// functions returns the field names of the functions a module name exports
// (nil if the host does not answer to it), for tools and tests: those of
// the WIT (jco's extra [method]network.noop is answered but not listed).
func functions(module string) []string {
	f, ok := parseImport(module)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(f.fns))
	for _, d := range f.fns {
		if !d.extra {
			out = append(out, d.name)
		}
	}
	return out
}

// signature returns the core signature of module#field.
func signature(module, field string) (params, results []wapi.ValueType, ok bool) {
	f, found := parseImport(module)
	if !found {
		return nil, nil, false
	}
	for _, d := range f.fns {
		if d.name == field {
			return d.params, d.results, true
		}
	}
	return nil, nil, false
}

// putListArea writes a returned list's (ptr, len) at ret.
func putListArea(c *call, ret, ptr, n uint32) {
	a := cabi.ListPair
	b := c.Area(ret, a.Size, a.Align)
	cabi.PutU32(b, a.Ptr, ptr)
	cabi.PutU32(b, a.Len, n)
}
