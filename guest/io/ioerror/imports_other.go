//go:build !wasip1

package ioerror

import (
	"unsafe"

	"github.com/wasitls/wasitls/guest/cabi"
)

// Outside a wasip1 guest there is no host to call: these stand in for the
// imports so that the package builds, documents and vets everywhere, and
// panic with cabi.ErrUnsupportedPlatform if called.

func toDebugString(self uint32, ret unsafe.Pointer) {
	panic(cabi.Unsupported("wasi:io/error@0.2.6 [method]error.to-debug-string"))
}
func drop(self uint32) { panic(cabi.Unsupported("wasi:io/error@0.2.6 [resource-drop]error")) }
