package guestmem

import (
	"github.com/wasitls/wasitls/internal/cabi"
)

// ListBounds checks that a list of n elements of size bytes at ptr lies in
// guest memory, trapping if not.
func (m *Mem) ListBounds(ptr, n, size uint32) {
	if uint64(n)*uint64(size) >= 1<<32 {
		cabi.Trapf(m.Fn, "list at %#x has %d elements of %d bytes: out of bounds", ptr, n, size)
	}
	m.Bytes(ptr, n*size)
}

// ByteLists reads a list<list<u8>> of n elements at ptr, copying each
// element out of guest memory. Every range is checked; an element longer
// than maxElem bytes is reported by its index (the caller decides whether
// that is an error value or a trap) and not read. The caller bounds n: the
// host allocates for each element.
func (m *Mem) ByteLists(ptr, n, maxElem uint32) (lists [][]byte, tooLong int) {
	pair := cabi.ListPair
	m.ListBounds(ptr, n, pair.Size)
	outer := append([]byte(nil), m.Bytes(ptr, n*pair.Size)...)
	elem := func(i uint32) (p, l uint32) {
		return cabi.GetU32(outer, i*pair.Size+pair.Ptr), cabi.GetU32(outer, i*pair.Size+pair.Len)
	}
	tooLong = -1
	for i := range n {
		p, l := elem(i)
		m.Bytes(p, l) // every element is checked: a bad one is a trap
		if l > maxElem && tooLong < 0 {
			tooLong = int(i)
		}
	}
	if tooLong >= 0 {
		return nil, tooLong
	}
	lists = make([][]byte, n)
	for i := range lists {
		p, l := elem(uint32(i))
		lists[i] = append([]byte(nil), m.Bytes(p, l)...)
	}
	return lists, -1
}

// PutByteLists allocates a list<list<u8>> in the guest, each element and
// then the list of (ptr, len) pairs, and returns the list's (ptr, len).
func (m *Mem) PutByteLists(lists [][]byte) (ptr, n uint32) {
	pairs := make([]uint32, 0, 2*len(lists))
	for _, b := range lists {
		p, l := m.PutBytes(b)
		pairs = append(pairs, p, l)
	}
	ptr, _ = m.PutU32s(pairs) // a (ptr, len) pair is two u32s (cabi.ListPair)
	return ptr, uint32(len(lists))
}
