package host

import (
	"crypto/rand"
	"slices"
	"testing"

	"github.com/wasitls/wasitls/internal/testkit/wasmenc"
	"github.com/wasitls/wasitls/internal/wasmbin"
	"github.com/wasitls/wasitls/internal/witnames"
)

// importOf is the wasmtest import of one host function at version ver.
func importOf(t *testing.T, iface, name, ver string) wasmenc.Import {
	t.Helper()
	f, ok := parseImport(iface + "@" + ver)
	if !ok {
		t.Fatalf("no interface %s", iface)
	}
	for _, d := range f.fns {
		if d.name == name {
			return wasmenc.Import{Module: moduleName(f, ver), Name: name, Params: d.params, Results: d.results}
		}
	}
	t.Fatalf("%s has no %s", iface, name)
	return wasmenc.Import{}
}

// A guest's host modules hold the functions it imports and no others, on
// both paths (shared compiled modules and Prepare's own), with the union
// over the versions of an interface it imports; the guest works through
// them. Guests that import the same functions share compiled modules, and
// one importing other functions gets its own.
func TestHostModulesHoldWhatTheGuestImports(t *testing.T) {
	ctx, r := newRuntime(t)
	h := New(r)
	imports := []wasmenc.Import{
		importOf(t, "wasi:clocks/monotonic-clock", "subscribe-duration", "0.2.6"),
		importOf(t, "wasi:clocks/monotonic-clock", "now", "0.2.0"),
		importOf(t, "wasi:io/poll", "[resource-drop]pollable", "0.2.6"),
	}
	want := map[string][]string{
		"wasi:clocks/monotonic-clock": {"now", "subscribe-duration"},
		"wasi:io/poll":                {"[resource-drop]pollable"},
	}
	cm, err := r.CompileModule(ctx, wasmenc.Module(imports))
	if err != nil {
		t.Fatal(err)
	}
	defer cm.Close(ctx)
	mc := NewModuleConfig().WithName("").WithRandSource(rand.Reader)
	check := func(path string, g *Guest) {
		t.Helper()
		g.mu.Lock()
		defer g.mu.Unlock()
		if len(g.mods) != len(want) {
			t.Errorf("%s: host modules for %d interfaces, want %d", path, len(g.mods), len(want))
		}
		for f, m := range g.mods {
			var got []string
			for name := range m.ExportedFunctionDefinitions() {
				got = append(got, name)
			}
			slices.Sort(got)
			if !slices.Equal(got, want[f.name]) {
				t.Errorf("%s: %s exports %q, want %q (what the guest imports)", path, f.name, got, want[f.name])
			}
		}
	}
	use := func(g *Guest) {
		t.Helper()
		x := &tg{t: t, ctx: ctx, g: g, mod: g.Module(), ver: "0.2.6"}
		p := x.call1(monoName, "subscribe-duration", 1)
		x.call(ioPollName, "[resource-drop]pollable", uint64(p))
		if n := g.OpenHandles(); n != 0 {
			t.Errorf("%d handles open after the pollable was dropped", n)
		}
	}

	a, err := h.Instantiate(ctx, cm, mc)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(ctx)
	check("Instantiate", a)
	use(a)
	shared := len(h.shared.compiled)
	if shared != len(want) {
		t.Errorf("%d shared compiled modules, want %d", shared, len(want))
	}
	b, err := h.Instantiate(ctx, cm, mc)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(ctx)
	if len(h.shared.compiled) != shared {
		t.Errorf("a guest with the same imports compiled host modules again: %d, want %d", len(h.shared.compiled), shared)
	}
	all := newTG(t, ctx, h, "0.2.6") // imports every function
	if len(h.shared.compiled) != shared+len(interfaces) {
		t.Errorf("%d shared compiled modules after a guest importing everything, want %d", len(h.shared.compiled), shared+len(interfaces))
	}
	all.call1(monoName, "subscribe-duration", 1)

	p, gctx, inner, err := h.Prepare(ctx, cm, mc)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	mod, err := r.InstantiateModule(gctx, cm, inner)
	if err != nil {
		t.Fatal(err)
	}
	p.setModule(mod)
	check("Prepare", p)
	use(p)
}

// TestUnknownFunctionOfServedInterface: a guest importing a function the
// host does not have, of an interface it serves, is refused by Instantiate
// and Prepare with the import's name (wazero's link error named the
// anonymous host module instead).
func TestUnknownFunctionOfServedInterface(t *testing.T) {
	var b wasmbin.Builder
	b.ImportFunc(witnames.IOStreams+"@0.2.3", witnames.InputStreamRead, p(i32, i64, i32), nil)
	b.ImportFunc(witnames.IOStreams+"@0.2.3", "[method]input-stream.nosuch", nil, nil)
	ctx, r := newRuntime(t)
	cm, err := r.CompileModule(ctx, b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	h := New(r)
	const want = "host: the guest imports wasi:io/streams@0.2.3#[method]input-stream.nosuch, which the host does not serve"
	if g, err := h.Instantiate(ctx, cm, NewModuleConfig()); g != nil || err == nil || err.Error() != want {
		t.Errorf("Instantiate: %v, %v; want %q", g, err, want)
	}
	if _, _, _, err := h.Prepare(ctx, cm, NewModuleConfig()); err == nil || err.Error() != want {
		t.Errorf("Prepare: %v; want %q", err, want)
	}
	if n := h.Guests(); n != 0 {
		t.Errorf("%d guests left", n)
	}
}

// TestShimHalvesNotImportable: the halves a shim calls (see shim.go) are
// exports of the host module, never of what the guest links to: a guest
// naming one is refused before it runs, so it cannot call finish with a
// pointer of its choosing or out of turn.
func TestShimHalvesNotImportable(t *testing.T) {
	d := ioStreams.fns[slices.IndexFunc(ioStreams.fns, func(d fnDef) bool { return d.name == witnames.InputStreamRead })]
	ctx, r := newRuntime(t)
	h := New(r)
	for _, half := range []*fnDef{d.prep, d.fin} {
		var b wasmbin.Builder
		b.ImportFunc(witnames.IOStreams+"@0.2.0", half.name, half.params, half.results)
		cm, err := r.CompileModule(ctx, b.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		want := "host: the guest imports wasi:io/streams@0.2.0#" + half.name + ", which the host does not serve"
		if g, err := h.Instantiate(ctx, cm, NewModuleConfig()); g != nil || err == nil || err.Error() != want {
			t.Errorf("Instantiate importing %q: %v, %v; want %q", half.name, g, err, want)
		}
	}
}
