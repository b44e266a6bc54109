package network

import "unsafe"

// The host functions this package calls (see the exported wrappers).

//go:wasmimport wasi:sockets/instance-network@0.2.6 instance-network
func instanceNetwork() uint32

//go:wasmimport wasi:sockets/network@0.2.6 [resource-drop]network
func drop(self uint32)

//go:wasmimport wasi:sockets/network@0.2.6 network-error-code
func networkErrorCode(err uint32, ret unsafe.Pointer)
