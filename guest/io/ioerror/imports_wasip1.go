package ioerror

import "unsafe"

// The host functions this package calls (see the exported wrappers).

//go:wasmimport wasi:io/error@0.2.6 [method]error.to-debug-string
func toDebugString(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:io/error@0.2.6 [resource-drop]error
func drop(self uint32)
