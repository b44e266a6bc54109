// Package cabi holds the canonical-ABI plumbing shared by the wasitls guest
// bindings: the exported cabi_realloc through which the host allocates the
// strings and lists it returns, and the explicit 32-bit return areas the
// bindings decode.
//
// Standard Go (GOOS=wasip1) lays out pointers and slices as 64-bit values, so
// no Go struct with pointer fields matches a canonical-ABI layout. Return
// areas are therefore plain byte arrays, taken from a pool (NewArea, Free)
// and read at the offsets the host writes them at: internal/cabi's named
// layouts, the one description both sides read.
//
//	a := abi.ReadArea // abi: github.com/wasitls/wasitls/internal/cabi
//	ret := cabi.NewArea()
//	defer ret.Free()
//	readImport(uint32(stream), n, ret.Ptr())
//	if ret.U8(a.Tag) == 0 { // ok
//		data := cabi.TakeBytes(ret.U32(a.OK+abi.ListPair.Ptr), ret.U32(a.OK+abi.ListPair.Len))
//	}
//
// A binding that reads into a caller's buffer lends it (Lend, EndLend): the
// next cabi_realloc that fits returns the buffer itself.
//
// Memory handed to the host is always on the Go heap: escape analysis moves
// anything whose address reaches a //go:wasmimport function there, and the
// Go collector does not move heap objects.
package cabi

import (
	"encoding/binary"
	"unsafe"

	abi "github.com/wasitls/wasitls/internal/cabi"
)

// live keeps every block handed out by cabi_realloc reachable until a binding
// takes it: the host holds only a 32-bit address, which Go's collector cannot
// see. Keys are the block addresses. The map is pre-sized so that
// cabi_realloc, which runs re-entrantly inside a host call, normally adds
// to it without growing it.
var live = make(map[uint32][]uint64, 64)

// Live reports how many host-allocated blocks have not been taken yet; a
// binding that forgets to take a result shows up here (tests check it is 0).
func Live() int { return len(live) }

// TakeBytes returns the n bytes at ptr that the host allocated through
// cabi_realloc and stops tracking the block: from now on the returned slice
// keeps it alive. No copy is made.
func TakeBytes(ptr, n uint32) []byte {
	block, ok := live[ptr]
	if !ok {
		if n == 0 {
			return []byte{}
		}
		// Not a block we handed out: the host broke the canonical ABI.
		panic("cabi: host returned a list that was not allocated through cabi_realloc")
	}
	delete(live, ptr)
	if uint64(n) > uint64(len(block))*8 {
		panic("cabi: host returned a list longer than its allocation")
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(block))), n)
}

// lent is a caller's buffer that the next cabi_realloc hands out instead of
// a fresh block (see Lend); lentPtr is its address once handed out.
var (
	lent    []byte
	lentPtr uint32
)

// Lend makes the next cabi_realloc(0, 0, align, n) with n <= len(b) return
// b's own address, so that a host returning a list<u8> writes it straight
// into b: no allocation and no copy in the guest. Call EndLend right after
// the import returns. Only one buffer is lent at a time (the guest is
// single-threaded; the host allocates a read's list once).
func Lend(b []byte) {
	lent, lentPtr = b, 0
}

// EndLend ends a Lend and returns the address cabi_realloc handed out from
// the lent buffer (0 if it did not use it).
func EndLend() uint32 {
	p := lentPtr
	lent, lentPtr = nil, 0
	return p
}

// takeLent returns the lent buffer's address for an allocation of size
// bytes at align, if it fits; the buffer is used at most once.
func takeLent(oldPtr, align, size uint32) (uint32, bool) {
	if lent == nil || oldPtr != 0 || size == 0 || uint64(size) > uint64(len(lent)) {
		return 0, false
	}
	p := uint32(uintptr(unsafe.Pointer(unsafe.SliceData(lent))))
	if align == 0 || p%align != 0 {
		return 0, false
	}
	lent, lentPtr = nil, p
	return p, true
}

// TakeString is TakeBytes for strings.
func TakeString(ptr, n uint32) string {
	b := TakeBytes(ptr, n)
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// TakeU32s returns a list<u32> the host allocated (n elements).
func TakeU32s(ptr, n uint32) []uint32 {
	size := abi.U32.Size()
	b := TakeBytes(ptr, n*size)
	out := make([]uint32, n)
	for i := range out {
		out[i] = binary.LittleEndian.Uint32(b[size*uint32(i):])
	}
	return out
}

// TakeByteLists takes a list<list<u8>> the host allocated: n (ptr, len)
// pairs at ptr, each element a block of its own.
func TakeByteLists(ptr, n uint32) [][]byte {
	l := &abi.ListPair
	pairs := TakeBytes(ptr, l.Size*n)
	out := make([][]byte, n)
	for i := range out {
		e := l.Size * uint32(i)
		out[i] = TakeBytes(binary.LittleEndian.Uint32(pairs[e+l.Ptr:]), binary.LittleEndian.Uint32(pairs[e+l.Len:]))
	}
	return out
}

// Area is a return area: 8-byte aligned and large enough for every result
// of the implemented interfaces (the largest, tcp-socket.local-address's
// result<ip-socket-address, error-code>, needs 36 bytes).
type Area [5]uint64

// areaPool holds return areas for reuse. An Area must be on the heap (its
// address goes to the host), and a heap allocation costs a wasip1 guest
// several times what a host call does. The guest is single-threaded and
// switches goroutines only where one blocks, which NewArea and Free never
// do, so a plain slice serves; it never grows (Free drops the surplus).
var areaPool = make([]*Area, 0, 16)

// NewArea returns a zeroed return area; Free it once its fields are read.
//
//	ret := cabi.NewArea()
//	defer ret.Free()
func NewArea() *Area {
	if n := len(areaPool); n > 0 {
		a := areaPool[n-1]
		areaPool = areaPool[:n-1]
		return a
	}
	return new(Area)
}

// Free returns a to the pool; neither a nor anything read through Bytes may
// be used afterwards.
func (a *Area) Free() {
	if len(areaPool) < cap(areaPool) {
		*a = Area{}
		areaPool = append(areaPool, a)
	}
}

// Ptr is the address to pass to an import as its return pointer.
func (a *Area) Ptr() unsafe.Pointer { return unsafe.Pointer(a) }

// Bytes is the area as bytes, for decoders and tests.
func (a *Area) Bytes() []byte { return a.bytes()[:] }

// bytes is the area as a byte array: a conversion, where unsafe.Slice
// costs a wasip1 guest a checked multiplication on every read.
func (a *Area) bytes() *[len(Area{}) * 8]byte { return (*[len(Area{}) * 8]byte)(unsafe.Pointer(a)) }

// U8 reads the byte at off.
func (a *Area) U8(off uint32) uint8 { return a.bytes()[off] }

// U16 reads a little-endian u16 at off.
func (a *Area) U16(off uint32) uint16 { return binary.LittleEndian.Uint16(a.bytes()[off:]) }

// U32 reads a little-endian u32 at off.
func (a *Area) U32(off uint32) uint32 { return binary.LittleEndian.Uint32(a.bytes()[off:]) }

// U64 reads a little-endian u64 at off.
func (a *Area) U64(off uint32) uint64 { return binary.LittleEndian.Uint64(a.bytes()[off:]) }

// BytesPtr returns the address and length of b for passing a list<u8> or a
// string to an import. The caller keeps b alive across the call (passing it
// on is enough: the slice escapes to the heap and stays referenced).
func BytesPtr(b []byte) (unsafe.Pointer, uint32) {
	return unsafe.Pointer(unsafe.SliceData(b)), uint32(len(b))
}

// Bool converts a Go bool to the canonical ABI's i32.
func Bool(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}
