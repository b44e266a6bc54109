package monotonic

// The host functions this package calls (see the exported wrappers).

//go:wasmimport wasi:clocks/monotonic-clock@0.2.6 now
func now() uint64

//go:wasmimport wasi:clocks/monotonic-clock@0.2.6 resolution
func resolution() uint64

//go:wasmimport wasi:clocks/monotonic-clock@0.2.6 subscribe-instant
func subscribeInstant(when uint64) uint32

//go:wasmimport wasi:clocks/monotonic-clock@0.2.6 subscribe-duration
func subscribeDuration(d uint64) uint32
