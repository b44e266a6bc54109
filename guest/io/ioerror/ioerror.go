package ioerror

import (
	"github.com/wasitls/wasitls/guest/cabi"
	abi "github.com/wasitls/wasitls/internal/cabi"
)

// Error is an owned wasi:io/error handle.
type Error uint32

// DebugString returns the host's description of the failure. For wasi-tls
// handshake failures it starts with the classified cause (e.g. "tls: unknown
// authority").
func (e Error) DebugString() string {
	ret := cabi.NewArea()
	defer ret.Free()
	toDebugString(uint32(e), ret.Ptr())
	l := &abi.ListPair
	return cabi.TakeString(ret.U32(l.Ptr), ret.U32(l.Len))
}

// Drop releases the handle.
func (e Error) Drop() { drop(uint32(e)) }
