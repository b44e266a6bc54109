package poll

import (
	"unsafe"

	"github.com/wasitls/wasitls/guest/cabi"
	abi "github.com/wasitls/wasitls/internal/cabi"
)

// Pollable is an owned wasi:io/poll pollable handle.
type Pollable uint32

// Ready reports whether p is ready, without waiting.
func (p Pollable) Ready() bool { return ready(uint32(p)) != 0 }

// Block waits until p is ready. It stops every goroutine of the guest while
// it waits (the wasip1 runtime is single-threaded).
func (p Pollable) Block() { block(uint32(p)) }

// Drop releases the handle.
func (p Pollable) Drop() { drop(uint32(p)) }

// Poll waits until at least one of ps is ready and returns the indexes (into
// ps) of the ready ones. Polling an empty list traps in the host, so Poll
// panics instead of calling it.
func Poll(ps ...Pollable) []uint32 {
	if len(ps) == 0 {
		panic("poll: Poll needs at least one pollable")
	}
	// list<borrow<pollable>>: one i32 per element.
	list := make([]uint32, len(ps))
	for i, p := range ps {
		list[i] = uint32(p)
	}
	ret := cabi.NewArea()
	defer ret.Free()
	poll(unsafe.Pointer(unsafe.SliceData(list)), uint32(len(list)), ret.Ptr())
	l := &abi.ListPair
	return cabi.TakeU32s(ret.U32(l.Ptr), ret.U32(l.Len))
}
