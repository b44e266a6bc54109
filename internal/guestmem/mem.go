// Package guestmem is checked access to a wazero guest's linear memory
// during one host call: every range is checked at the boundary, and a bad
// pointer, length or string traps (panics with a *cabi.Trap naming the host
// function). The layouts it reads and writes are internal/cabi's.
package guestmem

import (
	"context"
	"fmt"
	"unicode/utf8"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/internal/cabi"
)

// Mem is checked access to a guest's memory during one host call. Fn names
// the host function in trap messages.
type Mem struct {
	Ctx context.Context
	Mod api.Module
	Fn  string
	// Ret names the return-pointer parameter in trap messages ("ret-ptr");
	// empty: "return pointer".
	Ret string
	// Funcs lends the guest's cabi_realloc for the call; nil looks it up
	// each time (wazero makes a new call engine, with its own stack, per
	// lookup: an allocation of some 10 KiB for every returned list).
	Funcs FuncCache
}

// FuncCache keeps a module's exported cabi_realloc between calls. Get may
// return nil (the module exports none); Put takes back a function that
// completed normally.
type FuncCache interface {
	Get(mod api.Module) api.Function
	Put(f api.Function)
}

func (m *Mem) memory() api.Memory {
	mem := m.Mod.Memory()
	if mem == nil {
		cabi.Trapf(m.Fn, "the guest exports no memory")
	}
	return mem
}

// Bytes returns a view of [ptr, ptr+n). The view is invalid after any call
// into the guest (cabi_realloc may grow memory).
func (m *Mem) Bytes(ptr, n uint32) []byte {
	b, ok := m.memory().Read(ptr, n)
	if !ok {
		cabi.Trapf(m.Fn, "memory range [%#x, %#x+%d) is out of bounds (memory size %d)", ptr, ptr, n, m.memory().Size())
	}
	return b
}

// String reads a UTF-8 string.
func (m *Mem) String(ptr, n uint32) string {
	b := m.Bytes(ptr, n)
	if !utf8.Valid(b) {
		cabi.Trapf(m.Fn, "string at %#x (%d bytes) is not valid UTF-8", ptr, n)
	}
	return string(b)
}

// U32s reads a list<u32> or list<borrow<...>>.
func (m *Mem) U32s(ptr, n uint32) []uint32 {
	if n > 1<<28 {
		cabi.Trapf(m.Fn, "list length %d is out of bounds", n)
	}
	if ptr%4 != 0 {
		cabi.Trapf(m.Fn, "list pointer %#x is not 4-byte aligned", ptr)
	}
	size := cabi.U32.Size()
	b := m.Bytes(ptr, n*size)
	out := make([]uint32, n)
	for i := range out {
		out[i] = cabi.GetU32(b, size*uint32(i))
	}
	return out
}

// Area checks that a return area of the given size and alignment is in bounds
// and returns a view of it.
func (m *Mem) Area(ptr, size, align uint32) []byte {
	name := m.Ret
	if name == "" {
		name = "return pointer"
	}
	if ptr%align != 0 {
		cabi.Trapf(m.Fn, "%s %#x is not %d-byte aligned", name, ptr, align)
	}
	b, ok := m.memory().Read(ptr, size)
	if !ok {
		cabi.Trapf(m.Fn, "%s %#x: return area of %d bytes is out of bounds (memory size %d)", name, ptr, size, m.memory().Size())
	}
	return b
}

// Alloc allocates size bytes in the guest through its exported cabi_realloc
// and checks the result. Take fresh views afterwards.
func (m *Mem) Alloc(align, size uint32) uint32 {
	if size == 0 {
		// An empty list needs no memory; 0 is aligned and in bounds, and
		// guests recognise it as "nothing allocated".
		return 0
	}
	var fn api.Function
	if m.Funcs != nil {
		fn = m.Funcs.Get(m.Mod)
	} else {
		fn = m.Mod.ExportedFunction("cabi_realloc")
	}
	if fn == nil {
		cabi.Trapf(m.Fn, "the guest exports no cabi_realloc")
	}
	stack := [4]uint64{0, 0, uint64(align), uint64(size)}
	if err := fn.CallWithStack(m.Ctx, stack[:]); err != nil {
		panic(fmt.Errorf("wasitls: %s: %s(%d): %w", m.Fn, reallocName(fn), size, err))
	}
	if m.Funcs != nil {
		m.Funcs.Put(fn)
	}
	return m.Allocated(api.DecodeU32(stack[0]), align, size, reallocName(fn))
}

// Allocated checks p, returned by the guest's allocator (named realloc) for
// size bytes aligned to align, and returns it.
func (m *Mem) Allocated(p, align, size uint32, realloc string) uint32 {
	if p%align != 0 {
		cabi.Trapf(m.Fn, "%s returned %#x, not %d-byte aligned", realloc, p, align)
	}
	if _, ok := m.memory().Read(p, size); !ok {
		cabi.Trapf(m.Fn, "%s returned %#x, and %d bytes there are out of bounds", realloc, p, size)
	}
	return p
}

// reallocName is the export a trap names: cabi_realloc, or the
// cabi_import_realloc a component's main module allocates with.
func reallocName(fn api.Function) string {
	if names := fn.Definition().ExportNames(); len(names) > 0 {
		return names[0]
	}
	return "cabi_realloc"
}

// PutBytes allocates a list<u8> in the guest, copies b into it and returns
// (ptr, len).
func (m *Mem) PutBytes(b []byte) (ptr, n uint32) {
	ptr = m.Alloc(1, uint32(len(b)))
	if len(b) > 0 {
		copy(m.Bytes(ptr, uint32(len(b))), b)
	}
	return ptr, uint32(len(b))
}

// PutString is PutBytes for a string.
func (m *Mem) PutString(s string) (ptr, n uint32) {
	ptr = m.Alloc(1, uint32(len(s)))
	if len(s) > 0 {
		copy(m.Bytes(ptr, uint32(len(s))), s)
	}
	return ptr, uint32(len(s))
}

// PutU32s allocates a list<u32> and fills it.
func (m *Mem) PutU32s(v []uint32) (ptr, n uint32) {
	size := cabi.U32.Size()
	ptr = m.Alloc(cabi.U32.Align(), size*uint32(len(v)))
	if len(v) > 0 {
		b := m.Bytes(ptr, size*uint32(len(v)))
		for i, x := range v {
			cabi.PutU32(b, size*uint32(i), x)
		}
	}
	return ptr, uint32(len(v))
}
