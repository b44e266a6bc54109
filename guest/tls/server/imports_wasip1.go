package server

import "unsafe"

// The host functions this package calls (see the exported wrappers).

//go:wasmimport wasitls:tls/server@0.1.0 [constructor]server-handshake
func newHandshake(in, out uint32) uint32

//go:wasmimport wasitls:tls/server@0.1.0 [static]server-handshake.finish
func finish(this uint32) uint32

//go:wasmimport wasitls:tls/server@0.1.0 [resource-drop]server-handshake
func dropHandshake(self uint32)

//go:wasmimport wasitls:tls/server@0.1.0 [method]server-connection.server-name
func serverName(self uint32, ret unsafe.Pointer)

//go:wasmimport wasitls:tls/server@0.1.0 [method]server-connection.alpn-id
func alpnID(self uint32, ret unsafe.Pointer)

//go:wasmimport wasitls:tls/server@0.1.0 [method]server-connection.client-certificate-chain
func clientChain(self uint32, ret unsafe.Pointer)

//go:wasmimport wasitls:tls/server@0.1.0 [method]server-connection.close-output
func closeOutput(self uint32)

//go:wasmimport wasitls:tls/server@0.1.0 [resource-drop]server-connection
func dropConnection(self uint32)

//go:wasmimport wasitls:tls/server@0.1.0 [method]future-server-streams.subscribe
func subscribe(self uint32) uint32

//go:wasmimport wasitls:tls/server@0.1.0 [method]future-server-streams.get
func get(self uint32, ret unsafe.Pointer)

//go:wasmimport wasitls:tls/server@0.1.0 [resource-drop]future-server-streams
func dropFuture(self uint32)
