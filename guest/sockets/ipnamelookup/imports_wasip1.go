package ipnamelookup

import "unsafe"

// The host functions this package calls (see the exported wrappers).

//go:wasmimport wasi:sockets/ip-name-lookup@0.2.6 resolve-addresses
func resolveAddresses(network uint32, name string, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/ip-name-lookup@0.2.6 [method]resolve-address-stream.resolve-next-address
func resolveNextAddress(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/ip-name-lookup@0.2.6 [method]resolve-address-stream.subscribe
func subscribe(self uint32) uint32

//go:wasmimport wasi:sockets/ip-name-lookup@0.2.6 [resource-drop]resolve-address-stream
func drop(self uint32)
