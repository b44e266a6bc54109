package tls

import (
	"errors"
	"runtime"
	"unsafe"

	"github.com/wasitls/wasitls/guest/cabi"
)

// The project's extension wasitls:tls/connection@0.1.0 (wit/ext): ALPN for
// a handshake and the facts of an established connection. A guest that
// calls none of these does not import the extension.

// ErrInvalidALPNID: an id is empty or longer than 255 bytes.
var ErrInvalidALPNID = errors.New("tls: ALPN id is empty or longer than 255 bytes")

// ErrTooManyALPNIDs: more than 32 ids.
var ErrTooManyALPNIDs = errors.New("tls: more than 32 ALPN ids")

// SetALPNIDs asks the host to offer ids, in preference order, before
// Finish. It returns what the host will offer: the ids its policy allows
// for this destination, possibly none, or the browser's own list where the
// embedder pinned one. NegotiatedProtocol tells the outcome.
func (hs ClientHandshake) SetALPNIDs(ids []string) ([]string, error) {
	pairs := make([]uint32, 2*len(ids))
	data := make([][]byte, len(ids))
	for i, id := range ids {
		data[i] = []byte(id)
		p, n := cabi.BytesPtr(data[i])
		pairs[2*i], pairs[2*i+1] = uint32(uintptr(p)), n
	}
	ret := cabi.NewArea()
	defer ret.Free()
	setALPNIDs(uint32(hs), unsafe.Pointer(unsafe.SliceData(pairs)), uint32(len(ids)), ret.Ptr())
	runtime.KeepAlive(data)
	runtime.KeepAlive(pairs)
	// result<list<list<u8>>, alpn-error>, 12 bytes:
	//
	//	+0 tag | ok: +4 ptr, +8 len | err: +4 alpn-error (0 invalid-id, 1 too-many-ids)
	if ret.U8(0) != 0 {
		if ret.U8(4) == 1 {
			return nil, ErrTooManyALPNIDs
		}
		return nil, ErrInvalidALPNID
	}
	lists := takeByteLists(ret.U32(4), ret.U32(8))
	out := make([]string, len(lists))
	for i, b := range lists {
		out[i] = string(b)
	}
	return out, nil
}

// takeByteLists takes a list<list<u8>> the host allocated: n (ptr, len)
// pairs at ptr, each a block of its own.
func takeByteLists(ptr, n uint32) [][]byte {
	pairs := cabi.TakeBytes(ptr, 8*n)
	out := make([][]byte, n)
	for i := range out {
		b := pairs[8*i:]
		p := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
		l := uint32(b[4]) | uint32(b[5])<<8 | uint32(b[6])<<16 | uint32(b[7])<<24
		out[i] = cabi.TakeBytes(p, l)
	}
	return out
}

// NegotiatedProtocol is the ALPN protocol the server chose; ok is false if
// none was.
func (c ClientConnection) NegotiatedProtocol() (proto string, ok bool) {
	ret := cabi.NewArea()
	defer ret.Free()
	negotiatedProtocol(uint32(c), ret.Ptr())
	// option<list<u8>>, 12 bytes: +0 tag | some: +4 ptr, +8 len
	if ret.U8(0) == 0 {
		return "", false
	}
	return cabi.TakeString(ret.U32(4), ret.U32(8)), true
}

// ProtocolVersion is the TLS version's code point (0x0304: TLS 1.3).
func (c ClientConnection) ProtocolVersion() uint16 { return uint16(protocolVersion(uint32(c))) }

// CipherSuite is the cipher suite's IANA code point.
func (c ClientConnection) CipherSuite() uint16 { return uint16(cipherSuite(uint32(c))) }

// KeyExchangeGroup is the key-exchange group's IANA code point; ok is
// false when the backend cannot tell.
func (c ClientConnection) KeyExchangeGroup() (group uint16, ok bool) {
	ret := cabi.NewArea()
	defer ret.Free()
	keyExchangeGroup(uint32(c), ret.Ptr())
	// option<u16>, 4 bytes: +0 tag | some: +2 u16
	if ret.U8(0) == 0 {
		return 0, false
	}
	return ret.U16(2), true
}

// Resumed reports whether the session was resumed.
func (c ClientConnection) Resumed() bool { return resumed(uint32(c)) != 0 }

// PeerCertificates is the server's chain as it sent it (DER, leaf first),
// which the host verified.
func (c ClientConnection) PeerCertificates() [][]byte {
	ret := cabi.NewArea()
	defer ret.Free()
	peerCertificates(uint32(c), ret.Ptr())
	// list<list<u8>>: +0 ptr, +4 len
	return takeByteLists(ret.U32(0), ret.U32(4))
}
