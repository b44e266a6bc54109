package cabi

import "fmt"

// Trap is the panic value of a host function that rejects guest input. wazero
// recovers it and fails the guest's call with its message.
type Trap struct {
	Func string // the host function, e.g. "wasi:io/streams.[method]output-stream.write"
	Msg  string
}

func (t *Trap) Error() string { return "wasitls: trap in " + t.Func + ": " + t.Msg }

// Trapf panics with a *Trap.
func Trapf(fn, format string, args ...any) {
	panic(&Trap{Func: fn, Msg: fmt.Sprintf(format, args...)})
}
