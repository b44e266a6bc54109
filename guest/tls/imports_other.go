//go:build !wasip1

package tls

import (
	"unsafe"

	"github.com/wasitls/wasitls/guest/cabi"
)

// Outside a wasip1 guest there is no host to call: these stand in for the
// imports so that the package builds, documents and vets everywhere, and
// panic with cabi.ErrUnsupportedPlatform if called.

func newClientHandshake(serverName string, in, out uint32) uint32 {
	panic(cabi.Unsupported("wasi:tls/types@0.2.0-draft [constructor]client-handshake"))
}
func finish(this uint32) uint32 {
	panic(cabi.Unsupported("wasi:tls/types@0.2.0-draft [static]client-handshake.finish"))
}
func dropHandshake(self uint32) {
	panic(cabi.Unsupported("wasi:tls/types@0.2.0-draft [resource-drop]client-handshake"))
}
func closeOutput(self uint32) {
	panic(cabi.Unsupported("wasi:tls/types@0.2.0-draft [method]client-connection.close-output"))
}
func dropConnection(self uint32) {
	panic(cabi.Unsupported("wasi:tls/types@0.2.0-draft [resource-drop]client-connection"))
}
func subscribe(self uint32) uint32 {
	panic(cabi.Unsupported("wasi:tls/types@0.2.0-draft [method]future-client-streams.subscribe"))
}
func get(self uint32, ret unsafe.Pointer) {
	panic(cabi.Unsupported("wasi:tls/types@0.2.0-draft [method]future-client-streams.get"))
}
func dropFuture(self uint32) {
	panic(cabi.Unsupported("wasi:tls/types@0.2.0-draft [resource-drop]future-client-streams"))
}
