package host

import (
	"context"
	"testing"

	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasitls/wasitls/internal/testkit/componentenc"
	"github.com/wasitls/wasitls/internal/witnames"
)

// TestNetworkNoop: jco's extra [method]network.noop does nothing with a
// network handle and traps on anything else.
func TestNetworkNoop(t *testing.T) {
	ctx, r := newRuntime(t)
	x := newTG(t, ctx, New(r), "0.2.12")
	n := x.call1(witnames.SocketsInstanceNetwork, witnames.InstanceNetwork)
	x.call(witnames.SocketsNetwork, witnames.NetworkNoop, uint64(n))
	x.wantTrap([]string{"[method]network.noop"}, witnames.SocketsNetwork, witnames.NetworkNoop, uint64(n+1000))
	x.call(witnames.SocketsNetwork, witnames.DropNetwork, uint64(n))
	x.wantTrap([]string{"[method]network.noop"}, witnames.SocketsNetwork, witnames.NetworkNoop, uint64(n))
	for _, f := range functions("wasi:sockets/network@0.2.12") {
		if f == "[method]network.noop" {
			t.Fatal("Functions lists the noop, which the WIT does not have")
		}
	}
}

// mainModule is a real main module for componenttest's shape: it imports
// wasi:cli/environment#get-arguments (as "get-arguments [v2]") and
// wasi_snapshot_preview1#fd_write, exports memory, a cabi_realloc that traps
// and a cabi_import_realloc that returns 1024, a run that calls
// get-arguments with its return area at 16 and returns 0, and a
// post-return that stores 77 at address 0.
func mainModule() []byte {
	ct := componentenc.Cat
	vec, str, section := componentenc.Vec, componentenc.Str, componentenc.Section
	const i32 = 0x7f
	functype := func(params, results []byte) []byte {
		return ct([]byte{0x60}, vec(bytesOf(params)...), vec(bytesOf(results)...))
	}
	body := func(code ...byte) []byte {
		return ct(componentenc.Leb(uint32(len(code)+2)), []byte{0x00}, code, []byte{0x0b})
	}
	export := func(name string, kind, idx byte) []byte { return ct(str(name), []byte{kind, idx}) }
	return ct(componentenc.CoreHeader,
		section(1, vec(
			functype([]byte{i32}, nil),                        // 0: get-arguments, post-return
			functype([]byte{i32, i32, i32, i32}, []byte{i32}), // 1: realloc, fd_write
			functype(nil, []byte{i32}),                        // 2: run
		)),
		section(2, vec(
			ct(str("wasi:cli/environment@0.2.6"), str("get-arguments [v2]"), []byte{0x00, 0}),
			ct(str(componentenc.Adapter), str("fd_write"), []byte{0x00, 1}),
		)),
		section(3, vec([]byte{1}, []byte{1}, []byte{2}, []byte{0})), // funcs 2..5
		section(5, vec([]byte{0x00, 1})),                            // memory: 1 page
		section(7, vec(
			export("memory", 2, 0),
			export("cabi_realloc", 0, 2),
			export("cabi_import_realloc", 0, 3),
			export("wasi:cli/run@0.2.6#run", 0, 4),
			export("cabi_post_wasi:cli/run@0.2.6#run", 0, 5),
		)),
		section(10, vec(
			body(0x00),                               // cabi_realloc: unreachable
			body(0x41, 0x80, 0x08),                   // cabi_import_realloc: i32.const 1024
			body(0x41, 0x10, 0x10, 0x00, 0x41, 0x00), // run: get-arguments(16); 0
			body(0x41, 0x00, 0x41, 0xcd, 0x00, 0x36, 0x02, 0x00), // post-return: mem[0] = 77
		)),
	)
}

func bytesOf(b []byte) [][]byte {
	out := make([][]byte, len(b))
	for i := range b {
		out[i] = b[i : i+1]
	}
	return out
}

// TestComponentUsesImportRealloc runs a component whose main module exports
// cabi_import_realloc and whose lowered import names it: the host must
// allocate the argument list with it (cabi_realloc traps), call run, then
// post-return.
func TestComponentUsesImportRealloc(t *testing.T) {
	ctx, h, s, c := argumentsComponent(t)
	g, err := h.InstantiateComponent(ctx, c, NewModuleConfig().WithArgs("prog", "arg"))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close(ctx)
	mem := g.Module().Memory()
	ptr, _ := mem.ReadUint32Le(16)
	n, _ := mem.ReadUint32Le(20)
	post, _ := mem.ReadByte(0)
	if ptr != 1024 || n != 2 || post != 77 {
		t.Fatalf("list at %d (want 1024, from cabi_import_realloc), %d arguments (want 2), post-return mark %d (want 77)", ptr, n, post)
	}

	// The same component naming cabi_realloc for the lower is refused: the
	// module exports cabi_import_realloc, which the lowered import must use.
	s.Realloc = "cabi_realloc"
	if _, err := h.CompileComponent(ctx, s.Build()); err == nil {
		t.Fatal("a lower with cabi_realloc next to an exported cabi_import_realloc was accepted")
	}
}

// A component's guests share the Host's compiled host modules, as
// Instantiate's do: a second guest of the same component compiles none,
// and each is served as itself (its own arguments, in its own memory).
func TestComponentGuestsShareHostModules(t *testing.T) {
	ctx, h, _, c := argumentsComponent(t)
	var shared int
	for i, args := range [][]string{{"prog", "a"}, {"prog", "b", "c"}} {
		g, err := h.InstantiateComponent(ctx, c, NewModuleConfig().WithArgs(args...))
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close(ctx)
		g.mu.Lock()
		own := len(g.compiled)
		g.mu.Unlock()
		if own != 0 {
			t.Errorf("guest %d compiled %d host modules of its own", i, own)
		}
		if i == 0 {
			shared = len(h.shared.compiled)
		} else if len(h.shared.compiled) != shared || shared == 0 {
			t.Errorf("shared compiled modules: %d after the first guest, %d after the second", shared, len(h.shared.compiled))
		}
		if n, _ := g.Module().Memory().ReadUint32Le(20); int(n) != len(args) {
			t.Errorf("guest %d saw %d arguments, want %d", i, n, len(args))
		}
	}
}

// argumentsComponent compiles a component whose main module reads its
// arguments through a renamed lowered import, allocating with
// cabi_import_realloc, and stores them at 16 (pointer) and 20 (count).
func argumentsComponent(t *testing.T) (context.Context, *Host, *componentenc.Shape, *Component) {
	t.Helper()
	ctx, r := newRuntime(t)
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	h := New(r)
	s := componentenc.Default()
	s.Main = mainModule()
	s.Interface, s.Func, s.Field = "wasi:cli/environment@0.2.6", "get-arguments", "get-arguments [v2]"
	s.Realloc = "cabi_import_realloc"
	c, err := h.CompileComponent(ctx, s.Build())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(ctx) })
	return ctx, h, &s, c
}
