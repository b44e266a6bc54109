package wasmbin

import (
	"bytes"
	"encoding/binary"
)

// The primitives of the binary format, shared by core modules (Builder)
// and components (internal/testkit/componentenc).

// Instructions the host's generated modules use (see host/shim.go).
const (
	OpEnd          = 0x0b
	OpReturn       = 0x0f
	OpCall         = 0x10
	OpCallIndirect = 0x11
	OpIf           = 0x04
	OpLocalGet     = 0x20
	OpLocalTee     = 0x22
	OpI32Const     = 0x41
	OpI64Const     = 0x42
	OpI64LtS       = 0x53
	OpI32WrapI64   = 0xa7
	BlockEmpty     = 0x40
)

// Leb is v as unsigned LEB128 (Go's uvarint encoding).
func Leb(v uint32) []byte { return binary.AppendUvarint(nil, uint64(v)) }

// Sleb is v as signed LEB128, the encoding of i32.const and i64.const.
func Sleb(v int64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// Str is a length-prefixed name.
func Str(s string) []byte { return Cat(Leb(uint32(len(s))), []byte(s)) }

// Cat concatenates.
func Cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// Vec is a vector of encoded items.
func Vec(items ...[]byte) []byte { return Cat(Leb(uint32(len(items))), Cat(items...)) }

// Section is a section with its id and size.
func Section(id byte, body []byte) []byte { return Cat([]byte{id}, Leb(uint32(len(body))), body) }

// CoreHeader starts a core module (magic, version 1).
var CoreHeader = []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}
