package tls

import (
	"errors"
	"runtime"
	"unsafe"

	"github.com/wasitls/wasitls/guest/cabi"
	abi "github.com/wasitls/wasitls/internal/cabi"
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
	// result<list<list<u8>>, alpn-error>; alpn-error: 0 invalid-id, 1 too-many-ids
	a, l := &abi.ALPNIDsArea, &abi.ListPair
	if ret.U8(a.Tag) != 0 {
		if ret.U8(a.Code) == 1 {
			return nil, ErrTooManyALPNIDs
		}
		return nil, ErrInvalidALPNID
	}
	lists := cabi.TakeByteLists(ret.U32(a.OK+l.Ptr), ret.U32(a.OK+l.Len))
	out := make([]string, len(lists))
	for i, b := range lists {
		out[i] = string(b)
	}
	return out, nil
}

// NegotiatedProtocol is the ALPN protocol the server chose; ok is false if
// none was.
func (c ClientConnection) NegotiatedProtocol() (proto string, ok bool) {
	ret := cabi.NewArea()
	defer ret.Free()
	negotiatedProtocol(uint32(c), ret.Ptr())
	a, l := &abi.OptionBytesArea, &abi.ListPair
	if ret.U8(a.Tag) == 0 {
		return "", false
	}
	return cabi.TakeString(ret.U32(a.Some+l.Ptr), ret.U32(a.Some+l.Len)), true
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
	a := &abi.GroupArea
	if ret.U8(a.Tag) == 0 {
		return 0, false
	}
	return ret.U16(a.Some), true
}

// Resumed reports whether the session was resumed.
func (c ClientConnection) Resumed() bool { return resumed(uint32(c)) != 0 }

// PeerCertificates is the server's chain as it sent it (DER, leaf first),
// which the host verified.
func (c ClientConnection) PeerCertificates() [][]byte {
	ret := cabi.NewArea()
	defer ret.Free()
	peerCertificates(uint32(c), ret.Ptr())
	l := &abi.ListPair
	return cabi.TakeByteLists(ret.U32(l.Ptr), ret.U32(l.Len))
}
