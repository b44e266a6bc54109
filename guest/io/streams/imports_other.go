//go:build !wasip1

package streams

import (
	"unsafe"

	"github.com/wasitls/wasitls/guest/cabi"
)

// Outside a wasip1 guest there is no host to call: these stand in for the
// imports so that the package builds, documents and vets everywhere, and
// panic with cabi.ErrUnsupportedPlatform if called.

func read(self uint32, n uint64, ret unsafe.Pointer) {
	panic(cabi.Unsupported("wasi:io/streams@0.2.6 [method]input-stream.read"))
}
func blockingRead(self uint32, n uint64, ret unsafe.Pointer) {
	panic(cabi.Unsupported("wasi:io/streams@0.2.6 [method]input-stream.blocking-read"))
}
func skip(self uint32, n uint64, ret unsafe.Pointer) {
	panic(cabi.Unsupported("wasi:io/streams@0.2.6 [method]input-stream.skip"))
}
func blockingSkip(self uint32, n uint64, ret unsafe.Pointer) {
	panic(cabi.Unsupported("wasi:io/streams@0.2.6 [method]input-stream.blocking-skip"))
}
func inputSubscribe(self uint32) uint32 {
	panic(cabi.Unsupported("wasi:io/streams@0.2.6 [method]input-stream.subscribe"))
}
func inputDrop(self uint32) {
	panic(cabi.Unsupported("wasi:io/streams@0.2.6 [resource-drop]input-stream"))
}
func checkWrite(self uint32, ret unsafe.Pointer) {
	panic(cabi.Unsupported("wasi:io/streams@0.2.6 [method]output-stream.check-write"))
}
func write(self uint32, ptr unsafe.Pointer, n uint32, ret unsafe.Pointer) {
	panic(cabi.Unsupported("wasi:io/streams@0.2.6 [method]output-stream.write"))
}
func blockingWriteAndFlush(self uint32, ptr unsafe.Pointer, n uint32, ret unsafe.Pointer) {
	panic(cabi.Unsupported("wasi:io/streams@0.2.6 [method]output-stream.blocking-write-and-flush"))
}
func flush(self uint32, ret unsafe.Pointer) {
	panic(cabi.Unsupported("wasi:io/streams@0.2.6 [method]output-stream.flush"))
}
func blockingFlush(self uint32, ret unsafe.Pointer) {
	panic(cabi.Unsupported("wasi:io/streams@0.2.6 [method]output-stream.blocking-flush"))
}
func outputSubscribe(self uint32) uint32 {
	panic(cabi.Unsupported("wasi:io/streams@0.2.6 [method]output-stream.subscribe"))
}
func writeZeroes(self uint32, n uint64, ret unsafe.Pointer) {
	panic(cabi.Unsupported("wasi:io/streams@0.2.6 [method]output-stream.write-zeroes"))
}
func blockingWriteZeroesAndFlush(self uint32, n uint64, ret unsafe.Pointer) {
	panic(cabi.Unsupported("wasi:io/streams@0.2.6 [method]output-stream.blocking-write-zeroes-and-flush"))
}
func splice(self, src uint32, n uint64, ret unsafe.Pointer) {
	panic(cabi.Unsupported("wasi:io/streams@0.2.6 [method]output-stream.splice"))
}
func blockingSplice(self, src uint32, n uint64, ret unsafe.Pointer) {
	panic(cabi.Unsupported("wasi:io/streams@0.2.6 [method]output-stream.blocking-splice"))
}
func outputDrop(self uint32) {
	panic(cabi.Unsupported("wasi:io/streams@0.2.6 [resource-drop]output-stream"))
}
