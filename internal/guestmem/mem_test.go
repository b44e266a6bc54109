package guestmem

import (
	"context"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/internal/cabi"
	"github.com/wasitls/wasitls/internal/testkit/wasmenc"
)

func trapOf(t *testing.T, f func()) string {
	t.Helper()
	var msg string
	func() {
		defer func() {
			if r := recover(); r != nil {
				tr, ok := r.(*cabi.Trap)
				if !ok {
					t.Fatalf("panic %v is not a *Trap", r)
				}
				msg = tr.Error()
			}
		}()
		f()
	}()
	return msg
}

// testMem instantiates a generated module and returns checked access to
// its memory, as host function "test#fn".
func testMem(t *testing.T) (context.Context, api.Module, *Mem) {
	t.Helper()
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	t.Cleanup(func() { r.Close(ctx) })
	mod, err := r.Instantiate(ctx, wasmenc.Module(nil))
	if err != nil {
		t.Fatal(err)
	}
	return ctx, mod, &Mem{Ctx: ctx, Mod: mod, Fn: "test#fn"}
}

func TestMem(t *testing.T) {
	ctx, mod, m := testMem(t)
	size := mod.Memory().Size()

	if msg := trapOf(t, func() { m.Bytes(size-2, 3) }); !strings.Contains(msg, "out of bounds") || !strings.Contains(msg, "test#fn") {
		t.Errorf("out of range read: %q", msg)
	}
	if msg := trapOf(t, func() { m.Bytes(0xffffffff, 2) }); !strings.Contains(msg, "out of bounds") {
		t.Errorf("wrapping read: %q", msg)
	}
	mod.Memory().Write(100, []byte{0xff, 0xfe})
	if msg := trapOf(t, func() { m.String(100, 2) }); !strings.Contains(msg, "not valid UTF-8") {
		t.Errorf("invalid UTF-8: %q", msg)
	}
	if msg := trapOf(t, func() { m.Area(101, 8, 4) }); !strings.Contains(msg, "aligned") {
		t.Errorf("misaligned area: %q", msg)
	}
	if msg := trapOf(t, func() { m.U32s(0, 1<<29) }); !strings.Contains(msg, "out of bounds") {
		t.Errorf("huge list: %q", msg)
	}

	// Alloc grows memory when it must; a fresh view sees the new size.
	p, n := m.PutBytes(make([]byte, 3*size))
	if n != 3*size || mod.Memory().Size() < p+n {
		t.Fatalf("PutBytes: ptr %#x len %d, memory %d", p, n, mod.Memory().Size())
	}
	sp, sn := m.PutString("héllo")
	if got := m.String(sp, sn); got != "héllo" {
		t.Fatalf("PutString round trip: %q", got)
	}
	lp, ln := m.PutU32s([]uint32{1, 2, 0xffffffff})
	if got := m.U32s(lp, ln); len(got) != 3 || got[2] != 0xffffffff {
		t.Fatalf("PutU32s round trip: %v", got)
	}

	// A cabi_realloc that returns memory out of bounds traps.
	if _, err := mod.ExportedFunction("set_heap").Call(ctx, 0xfffff000); err != nil {
		t.Fatal(err)
	}
	if msg := trapOf(t, func() { m.Alloc(1, 0x2000) }); !strings.Contains(msg, "cabi_realloc returned") {
		t.Errorf("bad realloc: %q", msg)
	}
}
