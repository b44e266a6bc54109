package ioerror

import (
	"unsafe"

	"github.com/wasitls/wasitls/guest/cabi"
)

// Error is an owned wasi:io/error handle.
type Error uint32

//go:wasmimport wasi:io/error@0.2.6 [method]error.to-debug-string
func toDebugString(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:io/error@0.2.6 [resource-drop]error
func drop(self uint32)

// DebugString returns the host's description of the failure. For wasi-tls
// handshake failures it starts with the classified cause (e.g. "tls: unknown
// authority").
func (e Error) DebugString() string {
	ret := cabi.NewArea()
	defer ret.Free()
	toDebugString(uint32(e), ret.Ptr())
	return cabi.TakeString(ret.U32(0), ret.U32(4))
}

// Drop releases the handle.
func (e Error) Drop() { drop(uint32(e)) }
