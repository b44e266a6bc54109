package guestmem

import (
	"context"
	"encoding/binary"
	"testing"
	"unicode/utf8"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/internal/cabi"
	"github.com/wasitls/wasitls/internal/testkit/wasmenc"
)

// FuzzMem: guest memory access with arbitrary pointers and lengths is a
// *cabi.Trap or a correct view, never another panic.
func FuzzMem(f *testing.F) {
	f.Add(uint32(0), uint32(4), uint32(0))
	f.Add(uint32(0x3fffe), uint32(3), uint32(1))
	f.Add(uint32(0xffffffff), uint32(0xffffffff), uint32(1<<31))
	f.Add(uint32(101), uint32(8), uint32(2))
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	f.Cleanup(func() { _ = r.Close(ctx) })
	mod, err := r.Instantiate(ctx, wasmenc.Module(nil))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, ptr, n, flow uint32) {
		// Guest memory: Bytes/String/U32s/Area either trap or see exactly
		// the requested range.
		m := &Mem{Ctx: ctx, Mod: mod, Fn: "fuzz#mem"}
		size := mod.Memory().Size()
		inRange := uint64(ptr)+uint64(n) <= uint64(size)
		if v, trapped := memOrTrap(t, func() []byte { return m.Bytes(ptr, n) }); trapped == inRange || (!trapped && uint32(len(v)) != n) {
			t.Fatalf("Bytes(%#x, %d) in %d bytes: trapped %v", ptr, n, size, trapped)
		}
		if _, trapped := memOrTrap(t, func() []byte { return []byte(m.String(ptr, n)) }); !trapped {
			if !inRange {
				t.Fatalf("String(%#x, %d) out of range did not trap", ptr, n)
			}
			v, _ := mod.Memory().Read(ptr, n)
			if !utf8.Valid(v) {
				t.Fatalf("String(%#x, %d) accepted invalid UTF-8", ptr, n)
			}
		}
		if v, trapped := memOrTrap(t, func() []byte {
			u := m.U32s(ptr, n)
			out := make([]byte, 4*len(u))
			for i, x := range u {
				binary.LittleEndian.PutUint32(out[4*i:], x)
			}
			return out
		}); !trapped {
			want, _ := mod.Memory().Read(ptr, 4*n)
			if ptr%4 != 0 || string(v) != string(want) {
				t.Fatalf("U32s(%#x, %d) misread", ptr, n)
			}
		}
		al := uint32(1) << (flow % 4)
		if _, trapped := memOrTrap(t, func() []byte { return m.Area(ptr, n%64, al) }); !trapped && (ptr%al != 0 || uint64(ptr)+uint64(n%64) > uint64(size)) {
			t.Fatalf("Area(%#x, %d, %d) did not trap", ptr, n%64, al)
		}
	})
}

func memOrTrap(t *testing.T, fn func() []byte) (v []byte, trapped bool) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(*cabi.Trap); !ok {
				t.Fatalf("memory access panicked with %v, not a *cabi.Trap", r)
			}
			trapped = true
		}
	}()
	return fn(), false
}
