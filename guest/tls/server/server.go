package server

import (
	"fmt"

	"github.com/wasitls/wasitls/guest/cabi"
	"github.com/wasitls/wasitls/guest/io/poll"
	"github.com/wasitls/wasitls/guest/io/streams"
	"github.com/wasitls/wasitls/guest/tls"
)

// Handshake is an owned server-handshake handle.
type Handshake uint32

// Connection is an owned server-connection handle; the plaintext streams
// are its children.
type Connection uint32

// FutureStreams is an owned future-server-streams handle.
type FutureStreams uint32

// NewHandshake prepares a server handshake over the transport streams of
// an accepted connection, which it takes ownership of (they must have no
// live pollables).
func NewHandshake(in streams.InputStream, out streams.OutputStream) Handshake {
	return Handshake(newHandshake(uint32(in), uint32(out)))
}

// Finish consumes hs and starts the handshake.
func Finish(hs Handshake) FutureStreams { return FutureStreams(finish(uint32(hs))) }

// Drop releases an unfinished handshake (and the streams it holds).
func (hs Handshake) Drop() { dropHandshake(uint32(hs)) }

// ServerName is the name the client asked for (SNI), "" if it sent none.
func (c Connection) ServerName() string {
	ret := cabi.NewArea()
	defer ret.Free()
	serverName(uint32(c), ret.Ptr())
	// option<string>: +0 tag, +4 ptr, +8 len.
	if ret.U8(0) == 0 {
		return ""
	}
	return cabi.TakeString(ret.U32(4), ret.U32(8))
}

// ALPN is the negotiated ALPN protocol, "" if none.
func (c Connection) ALPN() string {
	ret := cabi.NewArea()
	defer ret.Free()
	alpnID(uint32(c), ret.Ptr())
	// option<list<u8>>: +0 tag, +4 ptr, +8 len.
	if ret.U8(0) == 0 {
		return ""
	}
	return string(cabi.TakeBytes(ret.U32(4), ret.U32(8)))
}

// ClientCertificates returns the client's certificate chain (DER, leaf
// first), nil if it sent none.
func (c Connection) ClientCertificates() [][]byte {
	ret := cabi.NewArea()
	defer ret.Free()
	clientChain(uint32(c), ret.Ptr())
	// list<list<u8>>: +0 ptr, +4 len; each element (ptr, len).
	n := ret.U32(4)
	if n == 0 {
		_ = cabi.TakeBytes(ret.U32(0), 0)
		return nil
	}
	pairs := cabi.TakeU32s(ret.U32(0), 2*n)
	out := make([][]byte, n)
	for i := range out {
		out[i] = cabi.TakeBytes(pairs[2*i], pairs[2*i+1])
	}
	return out
}

// CloseOutput sends close_notify once pending writes are out. Reading goes on.
func (c Connection) CloseOutput() { closeOutput(uint32(c)) }

// Drop releases the connection. Its streams must be dropped first.
func (c Connection) Drop() { dropConnection(uint32(c)) }

// String names the handle, for logs.
func (c Connection) String() string { return fmt.Sprintf("server-connection#%d", uint32(c)) }

// Subscribe returns a pollable that is ready once the handshake finished.
func (f FutureStreams) Subscribe() poll.Pollable { return poll.Pollable(subscribe(uint32(f))) }

// Drop releases the future.
func (f FutureStreams) Drop() { dropFuture(uint32(f)) }

// Get returns the outcome without blocking: tls.ErrPending while the
// handshake runs, then the connection and its plaintext streams or a
// *tls.HandshakeError exactly once, then tls.ErrAlreadyTaken.
func (f FutureStreams) Get() (Connection, streams.InputStream, streams.OutputStream, error) {
	ret := cabi.NewArea()
	defer ret.Free()
	get(uint32(f), ret.Ptr())
	c, in, out, err := tls.DecodeFutureGet(ret) // the same layout as future-client-streams.get
	return Connection(c), in, out, err
}
