//go:build !wasip1

package ipnamelookup

import (
	"unsafe"

	"github.com/wasitls/wasitls/guest/cabi"
)

// Outside a wasip1 guest there is no host to call: these stand in for the
// imports so that the package builds, documents and vets everywhere, and
// panic with cabi.ErrUnsupportedPlatform if called.

func resolveAddresses(network uint32, name string, ret unsafe.Pointer) {
	panic(cabi.Unsupported("wasi:sockets/ip-name-lookup@0.2.6 resolve-addresses"))
}
func resolveNextAddress(self uint32, ret unsafe.Pointer) {
	panic(cabi.Unsupported("wasi:sockets/ip-name-lookup@0.2.6 [method]resolve-address-stream.resolve-next-address"))
}
func subscribe(self uint32) uint32 {
	panic(cabi.Unsupported("wasi:sockets/ip-name-lookup@0.2.6 [method]resolve-address-stream.subscribe"))
}
func drop(self uint32) {
	panic(cabi.Unsupported("wasi:sockets/ip-name-lookup@0.2.6 [resource-drop]resolve-address-stream"))
}
