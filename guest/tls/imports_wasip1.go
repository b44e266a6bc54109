package tls

import "unsafe"

// The host functions this package calls (see the exported wrappers).

//go:wasmimport wasi:tls/types@0.2.0-draft [constructor]client-handshake
func newClientHandshake(serverName string, in, out uint32) uint32

//go:wasmimport wasi:tls/types@0.2.0-draft [static]client-handshake.finish
func finish(this uint32) uint32

//go:wasmimport wasi:tls/types@0.2.0-draft [resource-drop]client-handshake
func dropHandshake(self uint32)

//go:wasmimport wasi:tls/types@0.2.0-draft [method]client-connection.close-output
func closeOutput(self uint32)

//go:wasmimport wasi:tls/types@0.2.0-draft [resource-drop]client-connection
func dropConnection(self uint32)

//go:wasmimport wasi:tls/types@0.2.0-draft [method]future-client-streams.subscribe
func subscribe(self uint32) uint32

//go:wasmimport wasi:tls/types@0.2.0-draft [method]future-client-streams.get
func get(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:tls/types@0.2.0-draft [resource-drop]future-client-streams
func dropFuture(self uint32)
