package poll

import "unsafe"

// The host functions this package calls (see the exported wrappers).

//go:wasmimport wasi:io/poll@0.2.6 [method]pollable.ready
func ready(self uint32) uint32

//go:wasmimport wasi:io/poll@0.2.6 [method]pollable.block
func block(self uint32)

//go:wasmimport wasi:io/poll@0.2.6 [resource-drop]pollable
func drop(self uint32)

//go:wasmimport wasi:io/poll@0.2.6 poll
func poll(listPtr unsafe.Pointer, listLen uint32, ret unsafe.Pointer)
