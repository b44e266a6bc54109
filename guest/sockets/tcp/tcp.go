package tcp

import (
	"fmt"
	"time"

	"github.com/wasitls/wasitls/guest/cabi"
	"github.com/wasitls/wasitls/guest/io/poll"
	"github.com/wasitls/wasitls/guest/io/streams"
	"github.com/wasitls/wasitls/guest/sockets/network"
	abi "github.com/wasitls/wasitls/internal/cabi"
)

// TCPSocket is an owned wasi:sockets tcp-socket handle.
type TCPSocket uint32

// ShutdownType is the shutdown-type enum.
type ShutdownType uint8

// The shutdown types.
const (
	ShutdownReceive ShutdownType = 0
	ShutdownSend    ShutdownType = 1
	ShutdownBoth    ShutdownType = 2
)

func (t ShutdownType) String() string {
	switch t {
	case ShutdownReceive:
		return "receive"
	case ShutdownSend:
		return "send"
	case ShutdownBoth:
		return "both"
	}
	return fmt.Sprintf("shutdown-type(%d)", uint8(t))
}

// Result decoders of result<T, error-code>, at internal/cabi's offsets.

func unitResult(ret *cabi.Area) error {
	if a := &abi.UnitCodeArea; ret.U8(a.Tag) != 0 {
		return network.ErrorCode(ret.U8(a.Code))
	}
	return nil
}

func u64Result(ret *cabi.Area) (uint64, error) {
	a := &abi.U64CodeArea
	if ret.U8(a.Tag) != 0 {
		return 0, network.ErrorCode(ret.U8(a.Code))
	}
	return ret.U64(a.OK), nil
}

// CreateTCPSocket creates an unbound, unconnected socket of the family.
func CreateTCPSocket(family network.IPAddressFamily) (TCPSocket, error) {
	ret := cabi.NewArea()
	defer ret.Free()
	createTCPSocket(uint32(family), ret.Ptr())
	a := &abi.HandleArea
	if ret.U8(a.Tag) != 0 {
		return 0, network.ErrorCode(ret.U8(a.Code))
	}
	return TCPSocket(ret.U32(a.OK)), nil
}

// StartBind begins binding s to a local address.
func (s TCPSocket) StartBind(n network.Network, local network.IPSocketAddress) error {
	ret := cabi.NewArea()
	defer ret.Free()
	f := local.Flatten()
	startBind(uint32(s), uint32(n), f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10], f[11], ret.Ptr())
	return unitResult(ret)
}

// FinishBind completes StartBind.
func (s TCPSocket) FinishBind() error {
	ret := cabi.NewArea()
	defer ret.Free()
	finishBind(uint32(s), ret.Ptr())
	return unitResult(ret)
}

// StartConnect begins connecting s to remote.
func (s TCPSocket) StartConnect(n network.Network, remote network.IPSocketAddress) error {
	ret := cabi.NewArea()
	defer ret.Free()
	f := remote.Flatten()
	startConnect(uint32(s), uint32(n), f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10], f[11], ret.Ptr())
	return unitResult(ret)
}

// FinishConnect completes StartConnect and returns the connection's streams
// (children of s: drop them before s). network.WouldBlock means not yet.
func (s TCPSocket) FinishConnect() (streams.InputStream, streams.OutputStream, error) {
	ret := cabi.NewArea()
	defer ret.Free()
	finishConnect(uint32(s), ret.Ptr())
	if a := &abi.FinishArea; ret.U8(a.Tag) != 0 {
		return 0, 0, network.ErrorCode(ret.U8(a.Code))
	}
	return streams.InputStream(ret.U32(abi.FinishInput)), streams.OutputStream(ret.U32(abi.FinishOutput)), nil
}

// StartListen begins listening.
func (s TCPSocket) StartListen() error {
	ret := cabi.NewArea()
	defer ret.Free()
	startListen(uint32(s), ret.Ptr())
	return unitResult(ret)
}

// FinishListen completes StartListen.
func (s TCPSocket) FinishListen() error {
	ret := cabi.NewArea()
	defer ret.Free()
	finishListen(uint32(s), ret.Ptr())
	return unitResult(ret)
}

// Accept takes one pending connection from a listening socket.
func (s TCPSocket) Accept() (TCPSocket, streams.InputStream, streams.OutputStream, error) {
	ret := cabi.NewArea()
	defer ret.Free()
	accept(uint32(s), ret.Ptr())
	if a := &abi.AcceptArea; ret.U8(a.Tag) != 0 {
		return 0, 0, 0, network.ErrorCode(ret.U8(a.Code))
	}
	return TCPSocket(ret.U32(abi.AcceptSocket)), streams.InputStream(ret.U32(abi.AcceptInput)), streams.OutputStream(ret.U32(abi.AcceptOutput)), nil
}

func addressResult(ret *cabi.Area) (network.IPSocketAddress, error) {
	a := &abi.SockAddrArea
	if ret.U8(a.Tag) != 0 {
		return network.IPSocketAddress{}, network.ErrorCode(ret.U8(a.Code))
	}
	return network.DecodeIPSocketAddress(ret, a.OK)
}

// LocalAddress returns the bound local address.
func (s TCPSocket) LocalAddress() (network.IPSocketAddress, error) {
	ret := cabi.NewArea()
	defer ret.Free()
	localAddress(uint32(s), ret.Ptr())
	return addressResult(ret)
}

// RemoteAddress returns the connected peer's address.
func (s TCPSocket) RemoteAddress() (network.IPSocketAddress, error) {
	ret := cabi.NewArea()
	defer ret.Free()
	remoteAddress(uint32(s), ret.Ptr())
	return addressResult(ret)
}

// IsListening reports whether s listens.
func (s TCPSocket) IsListening() bool { return isListening(uint32(s)) != 0 }

// AddressFamily returns the family s was created with.
func (s TCPSocket) AddressFamily() network.IPAddressFamily {
	return network.IPAddressFamily(addressFamily(uint32(s)))
}

// SetListenBacklogSize hints the accept queue length.
func (s TCPSocket) SetListenBacklogSize(n uint64) error {
	ret := cabi.NewArea()
	defer ret.Free()
	setListenBacklogSize(uint32(s), n, ret.Ptr())
	return unitResult(ret)
}

// KeepAliveEnabled reports whether TCP keep-alive is on.
func (s TCPSocket) KeepAliveEnabled() (bool, error) {
	ret := cabi.NewArea()
	defer ret.Free()
	keepAliveEnabled(uint32(s), ret.Ptr())
	a := &abi.BoolCodeArea
	if ret.U8(a.Tag) != 0 {
		return false, network.ErrorCode(ret.U8(a.Code))
	}
	return ret.U8(a.OK) != 0, nil
}

// SetKeepAliveEnabled turns TCP keep-alive on or off.
func (s TCPSocket) SetKeepAliveEnabled(on bool) error {
	ret := cabi.NewArea()
	defer ret.Free()
	setKeepAliveEnabled(uint32(s), cabi.Bool(on), ret.Ptr())
	return unitResult(ret)
}

// KeepAliveIdleTime returns the idle time before the first probe.
func (s TCPSocket) KeepAliveIdleTime() (time.Duration, error) {
	ret := cabi.NewArea()
	defer ret.Free()
	keepAliveIdleTime(uint32(s), ret.Ptr())
	v, err := u64Result(ret)
	return time.Duration(v), err
}

// SetKeepAliveIdleTime sets the idle time before the first probe.
func (s TCPSocket) SetKeepAliveIdleTime(d time.Duration) error {
	ret := cabi.NewArea()
	defer ret.Free()
	setKeepAliveIdleTime(uint32(s), uint64(d), ret.Ptr())
	return unitResult(ret)
}

// KeepAliveInterval returns the time between probes.
func (s TCPSocket) KeepAliveInterval() (time.Duration, error) {
	ret := cabi.NewArea()
	defer ret.Free()
	keepAliveInterval(uint32(s), ret.Ptr())
	v, err := u64Result(ret)
	return time.Duration(v), err
}

// SetKeepAliveInterval sets the time between probes.
func (s TCPSocket) SetKeepAliveInterval(d time.Duration) error {
	ret := cabi.NewArea()
	defer ret.Free()
	setKeepAliveInterval(uint32(s), uint64(d), ret.Ptr())
	return unitResult(ret)
}

// KeepAliveCount returns how many unanswered probes drop the connection.
func (s TCPSocket) KeepAliveCount() (uint32, error) {
	ret := cabi.NewArea()
	defer ret.Free()
	keepAliveCount(uint32(s), ret.Ptr())
	a := &abi.U32CodeArea
	if ret.U8(a.Tag) != 0 {
		return 0, network.ErrorCode(ret.U8(a.Code))
	}
	return ret.U32(a.OK), nil
}

// SetKeepAliveCount sets how many unanswered probes drop the connection.
func (s TCPSocket) SetKeepAliveCount(n uint32) error {
	ret := cabi.NewArea()
	defer ret.Free()
	setKeepAliveCount(uint32(s), n, ret.Ptr())
	return unitResult(ret)
}

// HopLimit returns the TTL / hop limit of outgoing packets.
func (s TCPSocket) HopLimit() (uint8, error) {
	ret := cabi.NewArea()
	defer ret.Free()
	hopLimit(uint32(s), ret.Ptr())
	a := &abi.U8CodeArea
	if ret.U8(a.Tag) != 0 {
		return 0, network.ErrorCode(ret.U8(a.Code))
	}
	return ret.U8(a.OK), nil
}

// SetHopLimit sets the TTL / hop limit of outgoing packets.
func (s TCPSocket) SetHopLimit(n uint8) error {
	ret := cabi.NewArea()
	defer ret.Free()
	setHopLimit(uint32(s), uint32(n), ret.Ptr())
	return unitResult(ret)
}

// ReceiveBufferSize returns the kernel receive buffer size.
func (s TCPSocket) ReceiveBufferSize() (uint64, error) {
	ret := cabi.NewArea()
	defer ret.Free()
	receiveBufferSize(uint32(s), ret.Ptr())
	return u64Result(ret)
}

// SetReceiveBufferSize hints the kernel receive buffer size.
func (s TCPSocket) SetReceiveBufferSize(n uint64) error {
	ret := cabi.NewArea()
	defer ret.Free()
	setReceiveBufferSize(uint32(s), n, ret.Ptr())
	return unitResult(ret)
}

// SendBufferSize returns the kernel send buffer size.
func (s TCPSocket) SendBufferSize() (uint64, error) {
	ret := cabi.NewArea()
	defer ret.Free()
	sendBufferSize(uint32(s), ret.Ptr())
	return u64Result(ret)
}

// SetSendBufferSize hints the kernel send buffer size.
func (s TCPSocket) SetSendBufferSize(n uint64) error {
	ret := cabi.NewArea()
	defer ret.Free()
	setSendBufferSize(uint32(s), n, ret.Ptr())
	return unitResult(ret)
}

// Subscribe returns a pollable that is ready when a pending start/finish
// step can progress. It is a child of s: drop it before s.
func (s TCPSocket) Subscribe() poll.Pollable { return poll.Pollable(subscribe(uint32(s))) }

// Shutdown closes one or both directions of a connected socket.
func (s TCPSocket) Shutdown(how ShutdownType) error {
	ret := cabi.NewArea()
	defer ret.Free()
	shutdown(uint32(s), uint32(how), ret.Ptr())
	return unitResult(ret)
}

// Drop releases the handle (closing the socket).
func (s TCPSocket) Drop() { drop(uint32(s)) }
