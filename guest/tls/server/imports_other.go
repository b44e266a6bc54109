//go:build !wasip1

package server

import (
	"unsafe"

	"github.com/wasitls/wasitls/guest/cabi"
)

// Outside a wasip1 guest there is no host to call: these stand in for the
// imports so that the package builds, documents and vets everywhere, and
// panic with cabi.ErrUnsupportedPlatform if called.

func newHandshake(in, out uint32) uint32 {
	panic(cabi.Unsupported("wasitls:tls/server@0.1.0 [constructor]server-handshake"))
}
func finish(this uint32) uint32 {
	panic(cabi.Unsupported("wasitls:tls/server@0.1.0 [static]server-handshake.finish"))
}
func dropHandshake(self uint32) {
	panic(cabi.Unsupported("wasitls:tls/server@0.1.0 [resource-drop]server-handshake"))
}
func serverName(self uint32, ret unsafe.Pointer) {
	panic(cabi.Unsupported("wasitls:tls/server@0.1.0 [method]server-connection.server-name"))
}
func alpnID(self uint32, ret unsafe.Pointer) {
	panic(cabi.Unsupported("wasitls:tls/server@0.1.0 [method]server-connection.alpn-id"))
}
func clientChain(self uint32, ret unsafe.Pointer) {
	panic(cabi.Unsupported("wasitls:tls/server@0.1.0 [method]server-connection.client-certificate-chain"))
}
func closeOutput(self uint32) {
	panic(cabi.Unsupported("wasitls:tls/server@0.1.0 [method]server-connection.close-output"))
}
func dropConnection(self uint32) {
	panic(cabi.Unsupported("wasitls:tls/server@0.1.0 [resource-drop]server-connection"))
}
func subscribe(self uint32) uint32 {
	panic(cabi.Unsupported("wasitls:tls/server@0.1.0 [method]future-server-streams.subscribe"))
}
func get(self uint32, ret unsafe.Pointer) {
	panic(cabi.Unsupported("wasitls:tls/server@0.1.0 [method]future-server-streams.get"))
}
func dropFuture(self uint32) {
	panic(cabi.Unsupported("wasitls:tls/server@0.1.0 [resource-drop]future-server-streams"))
}
