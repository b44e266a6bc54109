package tls

import (
	"errors"
	"fmt"

	"github.com/wasitls/wasitls/guest/cabi"
	"github.com/wasitls/wasitls/guest/io/ioerror"
	"github.com/wasitls/wasitls/guest/io/poll"
	"github.com/wasitls/wasitls/guest/io/streams"
	abi "github.com/wasitls/wasitls/internal/cabi"
)

// ClientHandshake is an owned client-handshake handle.
type ClientHandshake uint32

// ClientConnection is an owned client-connection handle; the plaintext
// streams are its children.
type ClientConnection uint32

// FutureClientStreams is an owned future-client-streams handle.
type FutureClientStreams uint32

// NewClientHandshake prepares a handshake for serverName over the given
// transport streams, which it takes ownership of (they must have no live
// pollables).
func NewClientHandshake(serverName string, in streams.InputStream, out streams.OutputStream) ClientHandshake {
	return ClientHandshake(newClientHandshake(serverName, uint32(in), uint32(out)))
}

// Finish consumes hs and starts the handshake.
func Finish(hs ClientHandshake) FutureClientStreams { return FutureClientStreams(finish(uint32(hs))) }

// Drop releases an unfinished handshake (and the streams it holds).
func (hs ClientHandshake) Drop() { dropHandshake(uint32(hs)) }

// CloseOutput sends close_notify once pending writes are out. Reading goes on.
func (c ClientConnection) CloseOutput() { closeOutput(uint32(c)) }

// Drop releases the connection. Its streams must be dropped first.
func (c ClientConnection) Drop() { dropConnection(uint32(c)) }

// Subscribe returns a pollable that is ready once the handshake finished.
func (f FutureClientStreams) Subscribe() poll.Pollable { return poll.Pollable(subscribe(uint32(f))) }

// Drop releases the future.
func (f FutureClientStreams) Drop() { dropFuture(uint32(f)) }

// ErrPending is returned by Get while the handshake is still running.
var ErrPending = errors.New("tls: handshake pending")

// ErrAlreadyTaken is returned by Get after the outcome was taken.
var ErrAlreadyTaken = errors.New("tls: handshake result already taken")

// HandshakeError is a failed handshake: the host's io-error and its debug
// string, which names the classified cause.
type HandshakeError struct {
	// Err is the io-error handle; the HandshakeError owns it (Release drops it).
	Err ioerror.Error
	// Debug is Err's debug string.
	Debug string
}

func (e *HandshakeError) Error() string { return e.Debug }

// Release drops the io-error handle.
func (e *HandshakeError) Release() {
	if e.Err != 0 {
		e.Err.Drop()
		e.Err = 0
	}
}

// Get returns the outcome of the handshake without blocking: ErrPending
// while it runs, then the connection and its plaintext streams or a
// *HandshakeError exactly once, then ErrAlreadyTaken.
func (f FutureClientStreams) Get() (ClientConnection, streams.InputStream, streams.OutputStream, error) {
	ret := cabi.NewArea()
	defer ret.Free()
	get(uint32(f), ret.Ptr())
	c, in, out, err := DecodeFutureGet(ret)
	return ClientConnection(c), in, out, err
}

// DecodeFutureGet reads the return area of a future's get (client or
// server): the connection handle and its streams, or ErrPending,
// ErrAlreadyTaken or a *HandshakeError.
func DecodeFutureGet(ret *cabi.Area) (uint32, streams.InputStream, streams.OutputStream, error) {
	// option<result<result<tuple<conn, in, out>, io-error>>>
	a := &abi.FutureGet
	switch {
	case ret.U8(a.OptionTag) == 0:
		return 0, 0, 0, ErrPending
	case ret.U8(a.OuterTag) != 0:
		return 0, 0, 0, ErrAlreadyTaken
	case ret.U8(a.InnerTag) != 0:
		h := ioerror.Error(ret.U32(a.Error))
		return 0, 0, 0, &HandshakeError{Err: h, Debug: h.DebugString()}
	}
	return ret.U32(a.Conn), streams.InputStream(ret.U32(a.Input)), streams.OutputStream(ret.U32(a.Output)), nil
}

// String names the handle, for logs.
func (c ClientConnection) String() string { return fmt.Sprintf("client-connection#%d", uint32(c)) }
