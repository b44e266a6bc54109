package cabi

import "encoding/binary"

// ByteLists reads a list<list<u8>> of n elements at ptr, copying each
// element out of guest memory. Every range is checked; an element longer
// than maxElem bytes is reported by its index (the caller decides whether
// that is an error value or a trap) and not read.
func (m *Mem) ByteLists(ptr, n, maxElem uint32) (lists [][]byte, tooLong int) {
	if uint64(n)*8 > 1<<32 {
		Trapf(m.Fn, "list<list<u8>> at %#x has %d elements: out of bounds", ptr, n)
	}
	outer := append([]byte(nil), m.Bytes(ptr, n*8)...)
	lists = make([][]byte, n)
	for i := range lists {
		p, l := binary.LittleEndian.Uint32(outer[8*i:]), binary.LittleEndian.Uint32(outer[8*i+4:])
		b := m.Bytes(p, l) // checked even when too long: a bad list is a trap
		if l > maxElem {
			return nil, i
		}
		lists[i] = append([]byte(nil), b...)
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
	ptr = m.Alloc(4, uint32(4*len(pairs)))
	if len(pairs) > 0 {
		out := m.Bytes(ptr, uint32(4*len(pairs)))
		for i, v := range pairs {
			binary.LittleEndian.PutUint32(out[4*i:], v)
		}
	}
	return ptr, uint32(len(lists))
}
