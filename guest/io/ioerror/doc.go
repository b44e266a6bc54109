// Package ioerror binds wasi:io/error@0.2.6: the opaque error resource that
// stream operations and wasi-tls handshakes report failures with.
//
//	msg := ioerror.Error(handle).DebugString()
//	ioerror.Error(handle).Drop()
package ioerror
