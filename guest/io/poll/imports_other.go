//go:build !wasip1

package poll

import (
	"unsafe"

	"github.com/wasitls/wasitls/guest/cabi"
)

// Outside a wasip1 guest there is no host to call: these stand in for the
// imports so that the package builds, documents and vets everywhere, and
// panic with cabi.ErrUnsupportedPlatform if called.

func ready(self uint32) uint32 { panic(cabi.Unsupported("wasi:io/poll@0.2.6 [method]pollable.ready")) }
func block(self uint32)        { panic(cabi.Unsupported("wasi:io/poll@0.2.6 [method]pollable.block")) }
func drop(self uint32)         { panic(cabi.Unsupported("wasi:io/poll@0.2.6 [resource-drop]pollable")) }
func poll(listPtr unsafe.Pointer, listLen uint32, ret unsafe.Pointer) {
	panic(cabi.Unsupported("wasi:io/poll@0.2.6 poll"))
}
