// Package cabi is the one description of the component model's canonical
// ABI as wasitls uses it: how WIT types are laid out in linear memory (size,
// alignment, field and payload offsets), how variants flatten to
// parameters, and the named layouts of every return area the host writes.
// It is a leaf package (standard library only, no wazero), so that the host,
// the GOOS=wasip1 guest bindings in guest/ and the test harnesses read the
// same values by name; internal/abicheck fails the build's tests on an
// offset written as a number anywhere else.
//
// Layouts are computed from type descriptions, once, into package-level
// values. The host writes an area (with internal/guestmem's checked view):
//
//	a := cabi.HandleArea              // result<own<T>, error-code>
//	b := m.Area(ret, a.Size, a.Align) // traps on a bad pointer
//	b[a.Tag] = 0
//	cabi.PutU32(b, a.OK, handle)
//
// and a guest binding reads it back:
//
//	a := &abi.HandleArea // abi: this package, beside guest/cabi
//	if ret.U8(a.Tag) != 0 {
//		return network.ErrorCode(ret.U8(a.Code))
//	}
//	return TCPSocket(ret.U32(a.OK))
//
// Trap is the panic value of a host function that rejects guest input;
// wazero turns it into an error returned to the caller of the guest.
package cabi

import (
	"fmt"
)

// Type is a WIT type as far as its memory layout goes.
type Type struct {
	Name  string
	Kind  Kind
	Elems []Type // tuple/record fields, variant cases (a case without payload is the zero Type with Kind None)
	size  uint32 // primitives only
}

// Kind is the shape of a Type.
type Kind uint8

const (
	None    Kind = iota // no payload (a variant case without a type)
	Prim                // fixed-size primitive (bool, u8..u64, handle, enum)
	Record              // record or tuple
	Variant             // variant, option, result, enum with payloads
	List                // list<T> or string: (ptr, len), 8 bytes
)

// Primitive types.
var (
	U8     = Type{Name: "u8", Kind: Prim, size: 1}
	Bool   = Type{Name: "bool", Kind: Prim, size: 1}
	U16    = Type{Name: "u16", Kind: Prim, size: 2}
	U32    = Type{Name: "u32", Kind: Prim, size: 4}
	U64    = Type{Name: "u64", Kind: Prim, size: 8}
	Handle = Type{Name: "handle", Kind: Prim, size: 4}
	String = Type{Name: "string", Kind: List}
	Empty  = Type{Kind: None}
)

// Tuple returns tuple<elems...> (a record has the same layout).
func Tuple(elems ...Type) Type { return Type{Name: "tuple", Kind: Record, Elems: elems} }

// ListOf returns list<t>.
func ListOf(t Type) Type { return Type{Name: "list<" + t.Name + ">", Kind: List, Elems: []Type{t}} }

// VariantOf returns a variant with the given cases (Empty for no payload).
func VariantOf(cases ...Type) Type { return Type{Name: "variant", Kind: Variant, Elems: cases} }

// Option returns option<t>: case 0 none, case 1 some(t).
func Option(t Type) Type { return VariantOf(Empty, t) }

// Result returns result<ok, err>: case 0 ok, case 1 err. Use Empty for _.
func Result(ok, err Type) Type { return VariantOf(ok, err) }

// Enum returns an enum with n cases (a variant without payloads).
func Enum(n int) Type {
	cases := make([]Type, n)
	return VariantOf(cases...)
}

// Align returns the type's alignment in bytes.
func (t Type) Align() uint32 {
	switch t.Kind {
	case None:
		return 1
	case Prim:
		return t.size
	case List:
		return 4
	case Record:
		a := uint32(1)
		for _, e := range t.Elems {
			a = max(a, e.Align())
		}
		return a
	case Variant:
		a := t.discSize()
		for _, e := range t.Elems {
			a = max(a, e.Align())
		}
		return a
	}
	panic("cabi: bad kind")
}

// Size returns the type's size in bytes, padded to its alignment.
func (t Type) Size() uint32 {
	switch t.Kind {
	case None:
		return 0
	case Prim:
		return t.size
	case List:
		return 8
	case Record:
		var off uint32
		for _, e := range t.Elems {
			off = alignTo(off, e.Align()) + e.Size()
		}
		return alignTo(off, t.Align())
	case Variant:
		var payload uint32
		for _, e := range t.Elems {
			payload = max(payload, e.Size())
		}
		return alignTo(t.PayloadOffset()+payload, t.Align())
	}
	panic("cabi: bad kind")
}

// FieldOffset returns the offset of field i of a record or tuple.
func (t Type) FieldOffset(i int) uint32 {
	if t.Kind != Record || i >= len(t.Elems) {
		panic(fmt.Sprintf("cabi: FieldOffset(%d) of %s", i, t.Name))
	}
	var off uint32
	for j, e := range t.Elems {
		off = alignTo(off, e.Align())
		if j == i {
			return off
		}
		off += e.Size()
	}
	panic("unreachable")
}

// PayloadOffset returns the offset of a variant's payload.
func (t Type) PayloadOffset() uint32 {
	if t.Kind != Variant {
		panic("cabi: PayloadOffset of " + t.Name)
	}
	var a uint32 = 1
	for _, e := range t.Elems {
		a = max(a, e.Align())
	}
	return alignTo(t.discSize(), a)
}

// Case returns the payload type of case i of a variant.
func (t Type) Case(i int) Type { return t.Elems[i] }

func (t Type) discSize() uint32 {
	switch n := len(t.Elems); {
	case n <= 1<<8:
		return 1
	case n <= 1<<16:
		return 2
	}
	return 4
}

// FlatCount returns how many core values the type flattens to.
func (t Type) FlatCount() int {
	switch t.Kind {
	case None:
		return 0
	case Prim:
		return 1
	case List:
		return 2
	case Record:
		n := 0
		for _, e := range t.Elems {
			n += e.FlatCount()
		}
		return n
	case Variant:
		n := 0
		for _, e := range t.Elems {
			n = max(n, e.FlatCount())
		}
		return 1 + n
	}
	panic("cabi: bad kind")
}

func alignTo(off, a uint32) uint32 { return (off + a - 1) &^ (a - 1) }
