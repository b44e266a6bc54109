package host

import (
	"context"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/internal/witnames"
)

// MemoryLimit bounds a guest's memory: growing past it fails, and a host
// call that would need guest memory past it traps instead of growing it.
func TestMemoryLimit(t *testing.T) {
	ctx := context.Background()
	const limit = 1 << 20 // 16 pages; the test guest starts with 4
	cfg, err := MemoryLimit(wazero.NewRuntimeConfig().WithCloseOnContextDone(true), limit)
	if err != nil {
		t.Fatal(err)
	}
	r := wazero.NewRuntimeWithConfig(ctx, cfg)
	t.Cleanup(func() { _ = r.Close(ctx) })
	x := newTG(t, ctx, New(r), "0.2.6")
	mem := x.mod.Memory()
	if _, ok := mem.Grow(limit/pageSize - mem.Size()/pageSize); !ok {
		t.Fatalf("growing to the limit (%d bytes) failed", limit)
	}
	if _, ok := mem.Grow(1); ok {
		t.Fatalf("memory grew past the limit to %d bytes", mem.Size())
	}
	// With the guest's allocator at the end of memory, the answer to a
	// poll no longer fits: its cabi_realloc cannot grow memory, and the
	// host traps rather than write past it.
	ready := x.call1(monoName, witnames.SubscribeDuration, 0)
	if _, err := x.mod.ExportedFunction("set_heap").Call(ctx, uint64(limit-2)); err != nil {
		t.Fatal(err)
	}
	list := uint32(argArea)
	x.put(list, []byte{byte(ready), byte(ready >> 8), byte(ready >> 16), byte(ready >> 24)})
	x.wantTrap([]string{"cabi_realloc"}, ioPollName, "poll", uint64(list), 1, retArea)

	for _, bad := range []uint64{0, pageSize - 1, 1<<32 + 1} {
		if _, err := MemoryLimit(wazero.NewRuntimeConfig(), bad); err == nil {
			t.Errorf("MemoryLimit(%d) accepted", bad)
		}
	}
}
