package host

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	wapi "github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/wasitls/wasitls/internal/cabi"
	"github.com/wasitls/wasitls/internal/wasmbin"
	"github.com/wasitls/wasitls/internal/witnames"
)

// The shims (shim.go) are driven here by hand-written guests whose
// cabi_realloc misbehaves on request: it can read the stream again, trap,
// be missing or have another type, and the guest can read from its start
// section.

// Modes of the test guest's cabi_realloc (its global "mode").
const (
	reallocPlain   = 0
	reallocRereads = 1 // reads the stream once more, from inside the allocation
	reallocTraps   = 2
)

type shimGuestOpts struct {
	realloc   string // the allocator's export name ("" = cabi_realloc)
	wrongType bool   // the allocator is (i32) -> i32
	start     bool   // a start section reads stdin
}

// shimGuest returns a guest that exports run(mode i32, n i64): it sets the
// allocator's mode, gets stdin and blocking-reads up to n bytes of it into
// the return area at retArea.
func shimGuest(o shimGuestOpts) []byte {
	var b wasmbin.Builder
	getStdin := b.ImportFunc(witnames.CLIStdin+"@0.2.0", witnames.GetStdin, nil, p(i32))
	read := b.ImportFunc(witnames.IOStreams+"@0.2.0", witnames.InputStreamBlockingRead, p(i32, i64, i32), nil)
	heap := b.GlobalI32(true, 8192)
	mode := b.GlobalI32(true, 0)
	stream := b.GlobalI32(true, 0)
	g := func(op byte, idx uint32) []byte { return wasmbin.Cat([]byte{op}, wasmbin.Leb(idx)) }
	const (
		globalGet, globalSet  = 0x23, 0x24
		i32Eq, i32Add, i32And = 0x46, 0x6a, 0x71
		unreachable           = 0x00
	)
	i32c := func(v int64) []byte { return wasmbin.Cat([]byte{wasmbin.OpI32Const}, wasmbin.Sleb(v)) }
	// if mode == 1 { mode = 0; blocking-read(stream, 100, retArea+64) }
	// if mode == 2 { unreachable }
	// p = (heap + 7) &^ 7; heap = p + size; return p
	body := wasmbin.Cat([]byte{0x01, 0x01, byte(i32)},
		g(globalGet, mode), i32c(reallocRereads), []byte{i32Eq, wasmbin.OpIf, wasmbin.BlockEmpty},
		i32c(0), g(globalSet, mode),
		g(globalGet, stream), []byte{wasmbin.OpI64Const, 100}, i32c(retArea+64), g(wasmbin.OpCall, read),
		[]byte{wasmbin.OpEnd},
		g(globalGet, mode), i32c(reallocTraps), []byte{i32Eq, wasmbin.OpIf, wasmbin.BlockEmpty, unreachable, wasmbin.OpEnd},
		g(globalGet, heap), i32c(7), []byte{i32Add}, i32c(-8), []byte{i32And}, g(wasmbin.OpLocalTee, 4),
		g(wasmbin.OpLocalGet, 3), []byte{i32Add}, g(globalSet, heap),
		g(wasmbin.OpLocalGet, 4), []byte{wasmbin.OpEnd})
	realloc := b.Func(p(i32, i32, i32, i32), p(i32), body)
	if o.wrongType {
		realloc = b.Func(p(i32), p(i32), wasmbin.Cat([]byte{0x00}, i32c(0), []byte{wasmbin.OpEnd}))
	}
	run := b.Func(p(i32, i64), nil, wasmbin.Cat([]byte{0x00},
		g(wasmbin.OpLocalGet, 0), g(globalSet, mode),
		g(wasmbin.OpCall, getStdin), g(globalSet, stream),
		g(globalGet, stream), g(wasmbin.OpLocalGet, 1), i32c(retArea), g(wasmbin.OpCall, read),
		[]byte{wasmbin.OpEnd}))
	b.Memory(1)
	name := o.realloc
	if name == "" {
		name = "cabi_realloc"
	}
	b.Export("memory", wasmbin.KindMemory, 0)
	b.Export(name, wasmbin.KindFunc, realloc)
	b.Export("run", wasmbin.KindFunc, run)
	if o.start {
		b.Start(b.Func(nil, nil, wasmbin.Cat([]byte{0x00}, i32c(0), []byte{wasmbin.OpI64Const, 5}, g(wasmbin.OpCall, run), []byte{wasmbin.OpEnd})))
	}
	return b.Bytes()
}

// shimRun instantiates wasm with stdin, through Instantiate (shims) or
// Prepare (no shims), and returns the guest and its run export. depths
// gets the call depth of every cabi_realloc call (1: called from Go).
func shimRun(t *testing.T, wasm []byte, stdin string, prepare bool, depths *[]int) (context.Context, *Guest, wapi.Module, error) {
	t.Helper()
	ctx, r := newRuntime(t)
	cctx := ctx
	if depths != nil {
		cctx = experimental.WithFunctionListenerFactory(ctx, experimental.FunctionListenerFactoryFunc(func(d wapi.FunctionDefinition) experimental.FunctionListener {
			if !slices.Contains(d.ExportNames(), "cabi_realloc") {
				return nil
			}
			return experimental.FunctionListenerFunc(func(_ context.Context, _ wapi.Module, _ wapi.FunctionDefinition, _ []uint64, si experimental.StackIterator) {
				n := 0
				for si.Next() {
					n++
				}
				*depths = append(*depths, n)
			})
		}))
	}
	cm, err := r.CompileModule(cctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	h := New(r)
	mc := NewModuleConfig().WithName("").WithStdin(strings.NewReader(stdin))
	if !prepare {
		g, err := h.Instantiate(ctx, cm, mc)
		if g != nil {
			t.Cleanup(func() { _ = g.Close(ctx) })
			return ctx, g, g.Module(), err
		}
		return ctx, nil, nil, err
	}
	g, gctx, cfg, err := h.Prepare(ctx, cm, mc)
	if err != nil {
		t.Fatal(err)
	}
	mod, err := r.InstantiateModule(gctx, cm, cfg)
	t.Cleanup(func() { _ = g.Close(ctx) })
	return gctx, g, mod, err
}

// readAt returns the read's result at ret: ok and its bytes.
func readAt(t *testing.T, mod wapi.Module, ret uint32) (bool, []byte) {
	t.Helper()
	a := cabi.ReadArea
	v, _ := mod.Memory().Read(ret, a.Size)
	if v[a.Tag] != 0 {
		return false, nil
	}
	ptr, n := cabi.GetU32(v, a.OK+cabi.ListPair.Ptr), cabi.GetU32(v, a.OK+cabi.ListPair.Len)
	b, ok := mod.Memory().Read(ptr, n)
	if !ok {
		t.Fatalf("list [%#x, +%d) out of bounds", ptr, n)
	}
	return true, b
}

// TestShimAllocatesFromWasm: under Instantiate, blocking-read's list is
// allocated by a wasm call (cabi_realloc below the shim's function, so no
// goroutine of wazero's per call), under Prepare by a call from Go; both
// return the same bytes.
func TestShimAllocatesFromWasm(t *testing.T) {
	for _, prepare := range []bool{false, true} {
		var depths []int
		ctx, _, mod, err := shimRun(t, shimGuest(shimGuestOpts{}), "hello world", prepare, &depths)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := mod.ExportedFunction("run").Call(ctx, reallocPlain, 5); err != nil {
			t.Fatal(err)
		}
		ok, got := readAt(t, mod, retArea)
		if !ok || string(got) != "hello" {
			t.Fatalf("prepare=%v: read %v %q, want hello", prepare, ok, got)
		}
		want := 3 // cabi_realloc, called by the shim's read, called by run
		if prepare {
			want = 1 // called from Go
		}
		if len(depths) != 1 || depths[0] != want {
			t.Fatalf("prepare=%v: cabi_realloc call depths %v, want [%d]", prepare, depths, want)
		}
	}
}

// TestShimReallocReadsAgain: an allocator that reads the stream the host
// is allocating for traps the guest, naming what happened; the host does
// not panic or hand out bytes twice.
// The same holds without a shim (Prepare), where the allocation is a call
// from Go.
func TestShimReallocReadsAgain(t *testing.T) {
	for _, prepare := range []bool{false, true} {
		ctx, _, mod, err := shimRun(t, shimGuest(shimGuestOpts{}), "hello world", prepare, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = mod.ExportedFunction("run").Call(ctx, reallocRereads, 5)
		if err == nil || !strings.Contains(err.Error(), "the stream was read while cabi_realloc allocated for this read") {
			t.Fatalf("prepare=%v: err = %v", prepare, err)
		}
		// The nested read got everything, once.
		if ok, got := readAt(t, mod, retArea+64); !ok || string(got) != "hello world" {
			t.Fatalf("prepare=%v: nested read: %v %q", prepare, ok, got)
		}
	}
}

// TestShimReallocTraps: an allocator that traps fails the call with its
// trap; the guest can go on, and each trapped call holds one result until
// maxHeld, then calls trap with a message instead of growing.
func TestShimReallocTraps(t *testing.T) {
	ctx, g, mod, err := shimRun(t, shimGuest(shimGuestOpts{}), strings.Repeat("x", 1000), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	run := mod.ExportedFunction("run")
	for i := range maxHeld {
		if _, err := run.Call(ctx, reallocTraps, 1); err == nil || !strings.Contains(err.Error(), "unreachable") {
			t.Fatalf("call %d: err = %v", i, err)
		}
	}
	if _, err := run.Call(ctx, reallocTraps, 1); err == nil || !strings.Contains(err.Error(), "calls are allocating their results at once") {
		t.Fatalf("after %d trapped allocations: err = %v", maxHeld, err)
	}
	if n := len(g.held.slots); n != maxHeld {
		t.Fatalf("%d results held", n)
	}
}

// TestShimAllocatorProblems: a guest without the allocator, or with one of
// another type, is instantiated (it may never read) and traps, naming the
// problem, when the host needs it.
func TestShimAllocatorProblems(t *testing.T) {
	for _, tc := range []struct {
		o    shimGuestOpts
		want string
	}{
		{shimGuestOpts{realloc: "my_alloc"}, "the guest exports no cabi_realloc"},
		{shimGuestOpts{wrongType: true}, "the guest's cabi_realloc is not a function (i32, i32, i32, i32) -> i32"},
	} {
		ctx, _, mod, err := shimRun(t, shimGuest(tc.o), "hello", false, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = mod.ExportedFunction("run").Call(ctx, reallocPlain, 5)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%+v: err = %v, want %q", tc.o, err, tc.want)
		}
	}
}

// TestShimStartSection: a read from the module's start section, before
// instantiation is done and the shim is bound, fails instantiation with a
// message instead of reaching memory the host does not know yet.
func TestShimStartSection(t *testing.T) {
	_, _, _, err := shimRun(t, shimGuest(shimGuestOpts{start: true}), "hello", false, nil)
	if err == nil || !strings.Contains(err.Error(), "from its start section") {
		t.Fatalf("err = %v", err)
	}
}

// TestShimStartFunctions: the host runs the start functions the config
// names, in order, after binding, and only those; wazero's default is
// _start.
func TestShimStartFunctions(t *testing.T) {
	var b wasmbin.Builder
	log := b.ImportFunc("env", "log", p(i32), nil)
	fn := func(v int64) uint32 {
		return b.Func(nil, nil, wasmbin.Cat([]byte{0x00, wasmbin.OpI32Const}, wasmbin.Sleb(v), []byte{wasmbin.OpCall}, wasmbin.Leb(log), []byte{wasmbin.OpEnd}))
	}
	b.Export("_start", wasmbin.KindFunc, fn(1))
	b.Export("_initialize", wasmbin.KindFunc, fn(2))
	b.Export("other", wasmbin.KindFunc, fn(3))
	wasm := b.Bytes()
	for _, tc := range []struct {
		mc   wazero.ModuleConfig
		want []uint32
	}{
		{NewModuleConfig(), []uint32{1}},
		{NewModuleConfig().WithStartFunctions("other", "_initialize", "missing"), []uint32{3, 2}},
		{NewModuleConfig().WithStartFunctions(), nil},
		{wazero.NewModuleConfig().WithStartFunctions("other"), []uint32{3}}, // wazero runs them
	} {
		ctx, r := newRuntime(t)
		var got []uint32
		if _, err := r.NewHostModuleBuilder("env").NewFunctionBuilder().WithFunc(func(v uint32) {
			got = append(got, v)
		}).Export("log").Instantiate(ctx); err != nil {
			t.Fatal(err)
		}
		cm, err := r.CompileModule(ctx, wasm)
		if err != nil {
			t.Fatal(err)
		}
		g, err := New(r).Instantiate(ctx, cm, tc.mc.WithName(""))
		if err != nil {
			t.Fatal(err)
		}
		_ = g.Close(ctx)
		if !slices.Equal(got, tc.want) {
			t.Fatalf("start functions ran %v, want %v", got, tc.want)
		}
	}
}
