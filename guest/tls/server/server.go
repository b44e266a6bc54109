package server

import (
	"fmt"

	"github.com/wasitls/wasitls/guest/cabi"
	"github.com/wasitls/wasitls/guest/io/poll"
	"github.com/wasitls/wasitls/guest/io/streams"
	"github.com/wasitls/wasitls/guest/tls"
	abi "github.com/wasitls/wasitls/internal/cabi"
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
	a, l := &abi.OptionStringArea, &abi.ListPair
	if ret.U8(a.Tag) == 0 {
		return ""
	}
	return cabi.TakeString(ret.U32(a.Some+l.Ptr), ret.U32(a.Some+l.Len))
}

// ALPN is the negotiated ALPN protocol, "" if none.
func (c Connection) ALPN() string {
	ret := cabi.NewArea()
	defer ret.Free()
	alpnID(uint32(c), ret.Ptr())
	a, l := &abi.OptionBytesArea, &abi.ListPair
	if ret.U8(a.Tag) == 0 {
		return ""
	}
	return string(cabi.TakeBytes(ret.U32(a.Some+l.Ptr), ret.U32(a.Some+l.Len)))
}

// ClientCertificates returns the client's certificate chain (DER, leaf
// first), nil if it sent none.
func (c Connection) ClientCertificates() [][]byte {
	ret := cabi.NewArea()
	defer ret.Free()
	clientChain(uint32(c), ret.Ptr())
	l := &abi.ListPair
	chain := cabi.TakeByteLists(ret.U32(l.Ptr), ret.U32(l.Len))
	if len(chain) == 0 {
		return nil
	}
	return chain
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
