package streams

import "unsafe"

// The host functions this package calls (see the exported wrappers).

//go:wasmimport wasi:io/streams@0.2.6 [method]input-stream.read
func read(self uint32, n uint64, ret unsafe.Pointer)

//go:wasmimport wasi:io/streams@0.2.6 [method]input-stream.blocking-read
func blockingRead(self uint32, n uint64, ret unsafe.Pointer)

//go:wasmimport wasi:io/streams@0.2.6 [method]input-stream.skip
func skip(self uint32, n uint64, ret unsafe.Pointer)

//go:wasmimport wasi:io/streams@0.2.6 [method]input-stream.blocking-skip
func blockingSkip(self uint32, n uint64, ret unsafe.Pointer)

//go:wasmimport wasi:io/streams@0.2.6 [method]input-stream.subscribe
func inputSubscribe(self uint32) uint32

//go:wasmimport wasi:io/streams@0.2.6 [resource-drop]input-stream
func inputDrop(self uint32)

//go:wasmimport wasi:io/streams@0.2.6 [method]output-stream.check-write
func checkWrite(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:io/streams@0.2.6 [method]output-stream.write
func write(self uint32, ptr unsafe.Pointer, n uint32, ret unsafe.Pointer)

//go:wasmimport wasi:io/streams@0.2.6 [method]output-stream.blocking-write-and-flush
func blockingWriteAndFlush(self uint32, ptr unsafe.Pointer, n uint32, ret unsafe.Pointer)

//go:wasmimport wasi:io/streams@0.2.6 [method]output-stream.flush
func flush(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:io/streams@0.2.6 [method]output-stream.blocking-flush
func blockingFlush(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:io/streams@0.2.6 [method]output-stream.subscribe
func outputSubscribe(self uint32) uint32

//go:wasmimport wasi:io/streams@0.2.6 [method]output-stream.write-zeroes
func writeZeroes(self uint32, n uint64, ret unsafe.Pointer)

//go:wasmimport wasi:io/streams@0.2.6 [method]output-stream.blocking-write-zeroes-and-flush
func blockingWriteZeroesAndFlush(self uint32, n uint64, ret unsafe.Pointer)

//go:wasmimport wasi:io/streams@0.2.6 [method]output-stream.splice
func splice(self, src uint32, n uint64, ret unsafe.Pointer)

//go:wasmimport wasi:io/streams@0.2.6 [method]output-stream.blocking-splice
func blockingSplice(self, src uint32, n uint64, ret unsafe.Pointer)

//go:wasmimport wasi:io/streams@0.2.6 [resource-drop]output-stream
func outputDrop(self uint32)
