package cabi

import "unsafe"

// realloc implements the canonical ABI's cabi_realloc. Blocks are backed by
// []uint64 so they are 8-byte aligned, the largest alignment these
// interfaces use.
//
//go:wasmexport cabi_realloc
func realloc(oldPtr, oldSize, align, newSize uint32) uint32 {
	if align > 8 {
		// No type in the implemented interfaces needs more; trapping beats
		// returning a misaligned block the host would write past.
		panic("cabi_realloc: alignment above 8 is not supported")
	}
	if p, ok := takeLent(oldPtr, align, newSize); ok {
		return p
	}
	words := (uint64(newSize) + 7) / 8
	if words == 0 {
		words = 1 // a distinct, non-zero address even for empty blocks
	}
	block := make([]uint64, words)
	ptr := uint32(uintptr(unsafe.Pointer(unsafe.SliceData(block))))
	if oldPtr != 0 {
		if old, ok := live[oldPtr]; ok {
			n := min(oldSize, newSize)
			copy(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(block))), n),
				unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(old))), n))
			delete(live, oldPtr)
		}
	}
	live[ptr] = block
	return ptr
}
