package cabi

import (
	"errors"
	"fmt"
)

// ErrUnsupportedPlatform is what the guest bindings give outside a
// GOOS=wasip1 guest, where there is no host to call. The packages build on
// every platform so that their documentation, and code that refers to
// them, compile there; only calling into the host needs a wasip1 guest
// run by a host that provides the interfaces (wasitls).
var ErrUnsupportedPlatform = errors.New("wasitls guest bindings: only available in a GOOS=wasip1 guest")

// Unsupported is the error a host function's stand-in panics with outside
// wasip1; function is "module name", as in its //go:wasmimport.
func Unsupported(function string) error {
	return fmt.Errorf("%s: %w", function, ErrUnsupportedPlatform)
}
