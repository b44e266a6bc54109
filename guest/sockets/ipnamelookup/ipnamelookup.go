package ipnamelookup

import (
	"net/netip"

	"github.com/wasitls/wasitls/guest/cabi"
	"github.com/wasitls/wasitls/guest/io/poll"
	"github.com/wasitls/wasitls/guest/sockets/network"
	abi "github.com/wasitls/wasitls/internal/cabi"
)

// ResolveAddressStream is an owned resolve-address-stream handle.
type ResolveAddressStream uint32

// ResolveAddresses starts resolving name (a host name or an IP literal).
func ResolveAddresses(n network.Network, name string) (ResolveAddressStream, error) {
	ret := cabi.NewArea()
	defer ret.Free()
	resolveAddresses(uint32(n), name, ret.Ptr())
	a := &abi.HandleArea
	if ret.U8(a.Tag) != 0 {
		return 0, network.ErrorCode(ret.U8(a.Code))
	}
	return ResolveAddressStream(ret.U32(a.OK)), nil
}

// ResolveNextAddress returns the next address (ok true), the end (ok false),
// or network.WouldBlock while the lookup is still running.
func (s ResolveAddressStream) ResolveNextAddress() (addr netip.Addr, ok bool, err error) {
	ret := cabi.NewArea()
	defer ret.Free()
	resolveNextAddress(uint32(s), ret.Ptr())
	a := &abi.NextAddrArea
	if ret.U8(a.Tag) != 0 {
		return netip.Addr{}, false, network.ErrorCode(ret.U8(a.Code))
	}
	if ret.U8(a.OptTag) == 0 {
		return netip.Addr{}, false, nil
	}
	addr, err = network.DecodeIPAddress(ret, a.AddrTag)
	return addr, err == nil, err
}

// Subscribe returns a pollable that is ready when ResolveNextAddress will
// not return WouldBlock. It is a child of s: drop it before s.
func (s ResolveAddressStream) Subscribe() poll.Pollable { return poll.Pollable(subscribe(uint32(s))) }

// Drop releases the handle.
func (s ResolveAddressStream) Drop() { drop(uint32(s)) }
