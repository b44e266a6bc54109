// Package witnames holds the names of the WIT interfaces and functions the
// host serves, and the parameter names of each function as a core import,
// in one place: the host's definitions, the Go-side harnesses and the tests
// use these constants instead of repeating string literals.
//
// names_gen.go is generated from the project's wit/ tree (go generate; a
// test fails when it is stale). UDP, which wit/ leaves out, and jco's
// network.noop are written out in offwit.go. A //go:wasmimport directive must be a literal string, so the
// guest bindings cannot use the constants; host's TestGuestImportsAreServed
// checks each of them against the host's definitions instead.
//
//	witnames.IOStreams                         // "wasi:io/streams"
//	witnames.InputStreamRead                   // "[method]input-stream.read"
//	witnames.Params(witnames.IOStreams, witnames.InputStreamRead)
//	// ["self", "len", "ret-ptr"]
package witnames

//go:generate go run ./gen -wit ../../wit -o names_gen.go

// Params returns the flattened parameter names of fn of the interface
// iface (without the version), nil if there are none on record: a method
// starts with self, a string or list is name-ptr and name-len, a variant or
// record of n core values is name-0 to name-(n-1), and a result stored in
// memory adds ret-ptr.
func Params(iface, fn string) []string {
	if p, ok := params[iface+"#"+fn]; ok {
		return p
	}
	return offWITParams[iface+"#"+fn]
}
