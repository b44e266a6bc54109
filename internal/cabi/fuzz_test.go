package cabi

import (
	"net/netip"
	"testing"
)

// typeFrom builds a WIT type from fuzz bytes (depth-limited).
func typeFrom(b []byte, depth int) (Type, []byte) {
	if len(b) == 0 {
		return U8, b
	}
	c, b := b[0], b[1:]
	prims := []Type{U8, Bool, U16, U32, U64, Handle, String, ListOf(U32)}
	if depth > 3 || c%4 == 0 {
		return prims[int(c/4)%len(prims)], b
	}
	n := 1 + int(c/4)%4
	elems := make([]Type, n)
	for i := range elems {
		if c%4 == 3 && len(b) > 0 && b[0]%5 == 0 {
			elems[i], b = Empty, b[1:]
			continue
		}
		elems[i], b = typeFrom(b, depth+1)
	}
	if c%4 == 1 {
		return Tuple(elems...), b
	}
	return VariantOf(elems...), b
}

// checkType verifies the layout invariants of the canonical ABI for t:
// power-of-two alignment up to 8, size a multiple of it, fields and payloads
// aligned, in order, non-overlapping and inside the value.
func checkType(t *testing.T, typ Type) {
	a, s := typ.Align(), typ.Size()
	if a == 0 || a > 8 || a&(a-1) != 0 {
		t.Fatalf("%s: alignment %d", typ.Name, a)
	}
	if s%a != 0 {
		t.Fatalf("%s: size %d is not a multiple of its alignment %d", typ.Name, s, a)
	}
	switch typ.Kind {
	case Record:
		end := uint32(0)
		for i, e := range typ.Elems {
			off := typ.FieldOffset(i)
			if off%e.Align() != 0 || off < end || off+e.Size() > s {
				t.Fatalf("%s: field %d at %d (size %d, align %d) after %d in %d", typ.Name, i, off, e.Size(), e.Align(), end, s)
			}
			end = off + e.Size()
			checkType(t, e)
		}
	case Variant:
		p := typ.PayloadOffset()
		if p < typ.discSize() {
			t.Fatalf("%s: payload at %d overlaps the discriminant", typ.Name, p)
		}
		for _, e := range typ.Elems {
			if p%e.Align() != 0 || p+e.Size() > s {
				t.Fatalf("%s: payload at %d (size %d, align %d) in %d", typ.Name, p, e.Size(), e.Align(), s)
			}
			if n := e.FlatCount(); 1+n > typ.FlatCount() {
				t.Fatalf("%s: a case flattens to %d values, the variant to %d", typ.Name, n, typ.FlatCount())
			}
			if e.Kind != None {
				checkType(t, e)
			}
		}
	}
}

// FuzzLayouts checks the layout invariants of arbitrary WIT types and the
// round trips of every encoder/decoder pair: ip-address and
// ip-socket-address in memory and flattened. (Its seventh argument, once a
// pointer, is unused: guestmem's FuzzMem fuzzes memory access; the
// signature stays for the seed corpus.)
func FuzzLayouts(f *testing.F) {
	f.Add([]byte{1, 8, 12}, []byte{127, 0, 0, 1}, uint16(443), uint32(0), uint32(0), uint32(0), uint32(4))
	f.Add([]byte{2, 5, 9, 3, 0}, netip.MustParseAddr("::1").AsSlice(), uint16(8443), uint32(7), uint32(9), uint32(65534), uint32(8))
	f.Add([]byte{3, 3, 0, 7, 1, 2}, netip.MustParseAddr("::ffff:10.0.0.1").AsSlice(), uint16(0), uint32(1<<31), uint32(1), uint32(0xffffffff), uint32(0xffffffff))
	f.Add([]byte{}, []byte{}, uint16(1), uint32(0), uint32(0), uint32(0x3fffe), uint32(3))
	f.Fuzz(func(t *testing.T, desc, addr []byte, port uint16, flow, scope, _, n uint32) {
		typ, _ := typeFrom(desc, 0)
		checkType(t, typ)

		var a netip.Addr
		switch len(addr) {
		case 4, 16:
			a, _ = netip.AddrFromSlice(addr)
		default:
			a = netip.AddrFrom4([4]byte{10, 0, 0, byte(len(addr))})
		}
		ap := netip.AddrPortFrom(a, port)
		b := make([]byte, IPSocketAddress.Size()+8)
		PutSockAddr(b, 8, ap, flow, scope)
		if got := GetSockAddr(b, 8); got != ap {
			t.Fatalf("memory round trip %s -> %s", ap, got)
		}
		if b[8] == 1 && (GetU32(b, 8+V6Flow) != flow || GetU32(b, 8+V6Scope) != scope) {
			t.Fatalf("flow/scope lost for %s", ap)
		}
		flat := Flatten(ap, flow, scope)
		got, gf, gs := FlatSockAddr("fuzz", flat[:])
		if got != ap || (a.Is6() && (gf != flow || gs != scope)) {
			t.Fatalf("flat round trip %s/%d/%d -> %s/%d/%d", ap, flow, scope, got, gf, gs)
		}
		ab := make([]byte, NextAddrArea.Size)
		PutIPAddress(ab, NextAddrArea.AddrTag, NextAddrArea.Addr, a)
		if g := GetIPAddress(ab, NextAddrArea.AddrTag, NextAddrArea.Addr); g != a {
			t.Fatalf("ip-address round trip %s -> %s", a, g)
		}

		// Arbitrary flattened values: a trap, or a decoded address whose
		// flattening gives back the same values.
		raw := make([]uint64, FlatSockAddrLen)
		for i := range raw {
			if len(desc) > 0 {
				raw[i] = uint64(desc[i%len(desc)]) * uint64(flow|1) >> (i % 8)
			}
		}
		raw[0] = uint64(n % 3)
		if ap2, f2, s2, trapped := flatOrTrap(t, raw); !trapped {
			back := Flatten(ap2, f2, s2)
			for i := range back {
				if uint32(back[i]) != uint32(raw[i]) && !(raw[0] == 0 && i >= 6) {
					t.Fatalf("flat %v decoded to %s, which flattens to %v", raw, ap2, back)
				}
			}
		}

	})
}

func flatOrTrap(t *testing.T, raw []uint64) (ap netip.AddrPort, flow, scope uint32, trapped bool) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(*Trap); !ok {
				t.Fatalf("FlatSockAddr(%v) panicked with %v, not a *Trap", raw, r)
			}
			trapped = true
		}
	}()
	ap, flow, scope = FlatSockAddr("fuzz", raw)
	return ap, flow, scope, false
}
