//go:build !wasip1

package monotonic

import (
	"github.com/wasitls/wasitls/guest/cabi"
)

// Outside a wasip1 guest there is no host to call: these stand in for the
// imports so that the package builds, documents and vets everywhere, and
// panic with cabi.ErrUnsupportedPlatform if called.

func now() uint64        { panic(cabi.Unsupported("wasi:clocks/monotonic-clock@0.2.6 now")) }
func resolution() uint64 { panic(cabi.Unsupported("wasi:clocks/monotonic-clock@0.2.6 resolution")) }
func subscribeInstant(when uint64) uint32 {
	panic(cabi.Unsupported("wasi:clocks/monotonic-clock@0.2.6 subscribe-instant"))
}
func subscribeDuration(d uint64) uint32 {
	panic(cabi.Unsupported("wasi:clocks/monotonic-clock@0.2.6 subscribe-duration"))
}
