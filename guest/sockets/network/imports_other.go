//go:build !wasip1

package network

import (
	"unsafe"

	"github.com/wasitls/wasitls/guest/cabi"
)

// Outside a wasip1 guest there is no host to call: these stand in for the
// imports so that the package builds, documents and vets everywhere, and
// panic with cabi.ErrUnsupportedPlatform if called.

func instanceNetwork() uint32 {
	panic(cabi.Unsupported("wasi:sockets/instance-network@0.2.6 instance-network"))
}
func drop(self uint32) { panic(cabi.Unsupported("wasi:sockets/network@0.2.6 [resource-drop]network")) }
func networkErrorCode(err uint32, ret unsafe.Pointer) {
	panic(cabi.Unsupported("wasi:sockets/network@0.2.6 network-error-code"))
}
