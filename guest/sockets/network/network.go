// Package network binds wasi:sockets/network@0.2.6 and
// wasi:sockets/instance-network@0.2.6: the network capability, the socket
// error codes and the IP address types the other socket packages share.
//
//	n := network.InstanceNetwork()
//	defer n.Drop()
//	addr := network.IPSocketAddress{Addr: netip.MustParseAddr("127.0.0.1"), Port: 443}
package network

import (
	"fmt"
	"net/netip"

	"github.com/wasitls/wasitls/guest/cabi"
	abi "github.com/wasitls/wasitls/internal/cabi"
)

// Network is an owned wasi:sockets network handle.
type Network uint32

// ErrorCode is the wasi:sockets error-code enum. It implements error, so
// errors.Is(err, network.WouldBlock) works.
type ErrorCode uint8

// The error codes, in WIT order.
const (
	Unknown ErrorCode = iota
	AccessDenied
	NotSupported
	InvalidArgument
	OutOfMemory
	Timeout
	ConcurrencyConflict
	NotInProgress
	WouldBlock
	InvalidState
	NewSocketLimit
	AddressNotBindable
	AddressInUse
	RemoteUnreachable
	ConnectionRefused
	ConnectionReset
	ConnectionAborted
	DatagramTooLarge
	NameUnresolvable
	TemporaryResolverFailure
	PermanentResolverFailure
)

var codeNames = [...]string{
	"unknown", "access-denied", "not-supported", "invalid-argument", "out-of-memory", "timeout",
	"concurrency-conflict", "not-in-progress", "would-block", "invalid-state", "new-socket-limit",
	"address-not-bindable", "address-in-use", "remote-unreachable", "connection-refused",
	"connection-reset", "connection-aborted", "datagram-too-large", "name-unresolvable",
	"temporary-resolver-failure", "permanent-resolver-failure",
}

// String returns the WIT name of the code, e.g. "connection-refused".
func (c ErrorCode) String() string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return fmt.Sprintf("error-code(%d)", uint8(c))
}

func (c ErrorCode) Error() string { return "wasi-sockets: " + c.String() }

// IPAddressFamily is the ip-address-family enum.
type IPAddressFamily uint8

// The address families.
const (
	IPv4 IPAddressFamily = 0
	IPv6 IPAddressFamily = 1
)

func (f IPAddressFamily) String() string {
	switch f {
	case IPv4:
		return "ipv4"
	case IPv6:
		return "ipv6"
	}
	return fmt.Sprintf("ip-address-family(%d)", uint8(f))
}

// FamilyOf returns the family of addr (IPv4 for 4-in-6 mapped addresses).
func FamilyOf(addr netip.Addr) IPAddressFamily {
	if addr.Unmap().Is4() {
		return IPv4
	}
	return IPv6
}

// IPSocketAddress is the ip-socket-address variant. Addr decides the case:
// an IPv4 address is the ipv4 case; anything else is ipv6, which also
// carries FlowInfo and ScopeID.
type IPSocketAddress struct {
	Addr     netip.Addr
	Port     uint16
	FlowInfo uint32
	ScopeID  uint32
}

// Flat is the flattened ip-socket-address: a tag and 11 payload slots.
type Flat [abi.FlatSockAddrLen]uint32

// Flatten lowers a to its 12 core parameters: ipv4 is [0, port, a, b, c, d,
// 0...]; ipv6 is [1, port, flow-info, s0..s7, scope-id]. A 4-in-6 mapped
// address is the ipv4 case.
func (a IPSocketAddress) Flatten() Flat {
	addr := a.Addr
	if addr.Unmap().Is4() {
		addr = addr.Unmap()
	}
	var f Flat
	for i, v := range abi.Flatten(netip.AddrPortFrom(addr, a.Port), a.FlowInfo, a.ScopeID) {
		f[i] = uint32(v)
	}
	return f
}

// DecodeIPSocketAddress reads an ip-socket-address stored at off in ret,
// at the offsets of internal/cabi's IPSocketAddress layout.
func DecodeIPSocketAddress(ret *cabi.Area, off uint32) (IPSocketAddress, error) {
	ap, flow, scope, ok := abi.ReadSockAddr(ret.Bytes(), off)
	if !ok {
		return IPSocketAddress{}, fmt.Errorf("network: bad ip-socket-address tag %d", ret.U8(off))
	}
	return IPSocketAddress{Addr: ap.Addr(), Port: ap.Port(), FlowInfo: flow, ScopeID: scope}, nil
}

// DecodeIPAddress reads an ip-address stored at off in ret, at the offsets
// of internal/cabi's IPAddress layout.
func DecodeIPAddress(ret *cabi.Area, off uint32) (netip.Addr, error) {
	a, ok := abi.ReadIPAddress(ret.Bytes(), off)
	if !ok {
		return netip.Addr{}, fmt.Errorf("network: bad ip-address tag %d", ret.U8(off))
	}
	return a, nil
}
