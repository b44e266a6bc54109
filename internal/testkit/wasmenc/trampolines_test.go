package wasmenc

import (
	"context"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

func TestModule(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	i32, i64 := api.ValueTypeI32, api.ValueTypeI64
	var got []uint64
	_, err := r.NewHostModuleBuilder("env:x/y@1.0").
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, m api.Module, s []uint64) {
		got = append([]uint64(nil), s[:3]...)
		s[0] = s[0] + s[2]
	}), []api.ValueType{i32, i64, i32}, []api.ValueType{i32}).Export("[method]a.b").
		Instantiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mod, err := r.Instantiate(ctx, Module([]Import{{Module: "env:x/y@1.0", Name: "[method]a.b", Params: []api.ValueType{i32, i64, i32}, Results: []api.ValueType{i32}}}))
	if err != nil {
		t.Fatal(err)
	}
	res, err := mod.ExportedFunction(Export("env:x/y@1.0", "[method]a.b")).Call(ctx, 5, 1<<40, 7)
	if err != nil || res[0] != 12 || got[1] != 1<<40 {
		t.Fatalf("trampoline: %v %v %v", res, got, err)
	}
	// cabi_realloc: aligned bump allocation from HeapStart, growing memory.
	realloc := mod.ExportedFunction("cabi_realloc")
	a, _ := realloc.Call(ctx, 0, 0, 1, 3)
	b, _ := realloc.Call(ctx, 0, 0, 8, 16)
	if a[0] != HeapStart || b[0] != HeapStart+8 {
		t.Fatalf("allocations at %#x, %#x", a[0], b[0])
	}
	c, _ := realloc.Call(ctx, 0, 0, 4, 1<<20)
	if end := uint32(c[0]) + 1<<20; mod.Memory().Size() < end {
		t.Fatalf("memory %d does not cover an allocation ending at %d", mod.Memory().Size(), end)
	}
	if _, err := mod.ExportedFunction("set_heap").Call(ctx, 100); err != nil {
		t.Fatal(err)
	}
	if d, _ := realloc.Call(ctx, 0, 0, 4, 4); d[0] != 100 {
		t.Fatalf("after set_heap: %#x", d[0])
	}
}
