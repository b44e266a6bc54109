package cabi

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"unicode/utf8"

	"github.com/tetratelabs/wazero/api"
)

// Trap is the panic value of a host function that rejects guest input. wazero
// recovers it and fails the guest's call with its message.
type Trap struct {
	Func string // the host function, e.g. "wasi:io/streams.[method]output-stream.write"
	Msg  string
}

func (t *Trap) Error() string { return "wasitls: trap in " + t.Func + ": " + t.Msg }

// Trapf panics with a *Trap.
func Trapf(fn, format string, args ...any) {
	panic(&Trap{Func: fn, Msg: fmt.Sprintf(format, args...)})
}

// Mem is checked access to a guest's memory during one host call. Fn names
// the host function in trap messages.
type Mem struct {
	Ctx context.Context
	Mod api.Module
	Fn  string
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
		Trapf(m.Fn, "the guest exports no memory")
	}
	return mem
}

// Bytes returns a view of [ptr, ptr+n). The view is invalid after any call
// into the guest (cabi_realloc may grow memory).
func (m *Mem) Bytes(ptr, n uint32) []byte {
	b, ok := m.memory().Read(ptr, n)
	if !ok {
		Trapf(m.Fn, "memory range [%#x, %#x+%d) is out of bounds (memory size %d)", ptr, ptr, n, m.memory().Size())
	}
	return b
}

// String reads a UTF-8 string.
func (m *Mem) String(ptr, n uint32) string {
	b := m.Bytes(ptr, n)
	if !utf8.Valid(b) {
		Trapf(m.Fn, "string at %#x (%d bytes) is not valid UTF-8", ptr, n)
	}
	return string(b)
}

// U32s reads a list<u32> or list<borrow<...>>.
func (m *Mem) U32s(ptr, n uint32) []uint32 {
	if n > 1<<28 {
		Trapf(m.Fn, "list length %d is out of bounds", n)
	}
	if ptr%4 != 0 {
		Trapf(m.Fn, "list pointer %#x is not 4-byte aligned", ptr)
	}
	b := m.Bytes(ptr, n*4)
	out := make([]uint32, n)
	for i := range out {
		out[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return out
}

// Area checks that a return area of the given size and alignment is in bounds
// and returns a view of it.
func (m *Mem) Area(ptr, size, align uint32) []byte {
	if ptr%align != 0 {
		Trapf(m.Fn, "return pointer %#x is not %d-byte aligned", ptr, align)
	}
	return m.Bytes(ptr, size)
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
		Trapf(m.Fn, "the guest exports no cabi_realloc")
	}
	stack := [4]uint64{0, 0, uint64(align), uint64(size)}
	if err := fn.CallWithStack(m.Ctx, stack[:]); err != nil {
		panic(fmt.Errorf("wasitls: %s: %s(%d): %w", m.Fn, reallocName(fn), size, err))
	}
	if m.Funcs != nil {
		m.Funcs.Put(fn)
	}
	p := api.DecodeU32(stack[0])
	if p%align != 0 {
		Trapf(m.Fn, "%s returned %#x, not %d-byte aligned", reallocName(fn), p, align)
	}
	if _, ok := m.memory().Read(p, size); !ok {
		Trapf(m.Fn, "%s returned %#x, and %d bytes there are out of bounds", reallocName(fn), p, size)
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
	ptr = m.Alloc(4, uint32(4*len(v)))
	if len(v) > 0 {
		b := m.Bytes(ptr, uint32(4*len(v)))
		for i, x := range v {
			binary.LittleEndian.PutUint32(b[4*i:], x)
		}
	}
	return ptr, uint32(len(v))
}

// Little-endian stores into a view.
func PutU16(b []byte, off uint32, v uint16) { binary.LittleEndian.PutUint16(b[off:], v) }
func PutU32(b []byte, off uint32, v uint32) { binary.LittleEndian.PutUint32(b[off:], v) }
func PutU64(b []byte, off uint32, v uint64) { binary.LittleEndian.PutUint64(b[off:], v) }

// Little-endian loads from a view (for tests and round trips).
func GetU16(b []byte, off uint32) uint16 { return binary.LittleEndian.Uint16(b[off:]) }
func GetU32(b []byte, off uint32) uint32 { return binary.LittleEndian.Uint32(b[off:]) }
func GetU64(b []byte, off uint32) uint64 { return binary.LittleEndian.Uint64(b[off:]) }

// PutIPAddress writes an ip-address (discriminant at tagOff, payload at addrOff).
func PutIPAddress(b []byte, tagOff, addrOff uint32, a netip.Addr) {
	if a.Is4() {
		b[tagOff] = 0
		v := a.As4()
		copy(b[addrOff:addrOff+4], v[:])
		return
	}
	b[tagOff] = 1
	v := a.As16()
	for i := uint32(0); i < 8; i++ {
		PutU16(b, addrOff+2*i, uint16(v[2*i])<<8|uint16(v[2*i+1]))
	}
}

// GetIPAddress is the inverse of PutIPAddress.
func GetIPAddress(b []byte, tagOff, addrOff uint32) netip.Addr {
	if b[tagOff] == 0 {
		return netip.AddrFrom4([4]byte(b[addrOff : addrOff+4]))
	}
	var v [16]byte
	for i := uint32(0); i < 8; i++ {
		s := GetU16(b, addrOff+2*i)
		v[2*i], v[2*i+1] = byte(s>>8), byte(s)
	}
	return netip.AddrFrom16(v)
}

// PutSockAddr writes an ip-socket-address at off.
func PutSockAddr(b []byte, off uint32, ap netip.AddrPort, flow, scope uint32) {
	a := ap.Addr()
	if a.Is4() {
		b[off] = 0
		PutU16(b, off+V4Port, ap.Port())
		v := a.As4()
		copy(b[off+V4Addr:off+V4Addr+4], v[:])
		return
	}
	b[off] = 1
	PutU16(b, off+V6Port, ap.Port())
	PutU32(b, off+V6Flow, flow)
	v := a.As16()
	for i := uint32(0); i < 8; i++ {
		PutU16(b, off+V6Addr+2*i, uint16(v[2*i])<<8|uint16(v[2*i+1]))
	}
	PutU32(b, off+V6Scope, scope)
}

// GetSockAddr is the inverse of PutSockAddr (flow info and scope id dropped).
func GetSockAddr(b []byte, off uint32) netip.AddrPort {
	if b[off] == 0 {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[off+V4Addr:off+V4Addr+4])), GetU16(b, off+V4Port))
	}
	var v [16]byte
	for i := uint32(0); i < 8; i++ {
		s := GetU16(b, off+V6Addr+2*i)
		v[2*i], v[2*i+1] = byte(s>>8), byte(s)
	}
	return netip.AddrPortFrom(netip.AddrFrom16(v), GetU16(b, off+V6Port))
}

// FlatSockAddr decodes a flattened ip-socket-address (12 core values:
// tag, then ipv4: port, 4 octets; ipv6: port, flow-info, 8 segments,
// scope-id). Out-of-range values trap: the canonical ABI rejects them.
func FlatSockAddr(fn string, p []uint64) (ap netip.AddrPort, flow, scope uint32) {
	if len(p) < FlatSockAddrLen {
		Trapf(fn, "ip-socket-address needs %d values, got %d", FlatSockAddrLen, len(p))
	}
	u16 := func(v uint64, what string) uint16 {
		if uint32(v) > 0xffff {
			Trapf(fn, "%s %d does not fit in u16", what, uint32(v))
		}
		return uint16(v)
	}
	switch uint32(p[0]) {
	case 0:
		var o [4]byte
		for i := range o {
			x := uint32(p[2+i])
			if x > 0xff {
				Trapf(fn, "ipv4 octet %d does not fit in u8", x)
			}
			o[i] = byte(x)
		}
		return netip.AddrPortFrom(netip.AddrFrom4(o), u16(p[1], "port")), 0, 0
	case 1:
		var v [16]byte
		for i := 0; i < 8; i++ {
			s := u16(p[3+i], "ipv6 segment")
			v[2*i], v[2*i+1] = byte(s>>8), byte(s)
		}
		return netip.AddrPortFrom(netip.AddrFrom16(v), u16(p[1], "port")), uint32(p[2]), uint32(p[11])
	default:
		Trapf(fn, "ip-socket-address discriminant %d is not 0 (ipv4) or 1 (ipv6)", uint32(p[0]))
	}
	panic("unreachable")
}

// Flatten is the inverse of FlatSockAddr, for tests and guests written in Go.
func Flatten(ap netip.AddrPort, flow, scope uint32) [FlatSockAddrLen]uint64 {
	var p [FlatSockAddrLen]uint64
	a := ap.Addr()
	p[1] = uint64(ap.Port())
	if a.Is4() {
		v := a.As4()
		for i := range v {
			p[2+i] = uint64(v[i])
		}
		return p
	}
	p[0] = 1
	p[2] = uint64(flow)
	v := a.As16()
	for i := 0; i < 8; i++ {
		p[3+i] = uint64(v[2*i])<<8 | uint64(v[2*i+1])
	}
	p[11] = uint64(scope)
	return p
}
