package cabi

import (
	"encoding/binary"
	"net/netip"
)

// Little-endian stores into a view.
func PutU16(b []byte, off uint32, v uint16) { binary.LittleEndian.PutUint16(b[off:], v) }
func PutU32(b []byte, off uint32, v uint32) { binary.LittleEndian.PutUint32(b[off:], v) }
func PutU64(b []byte, off uint32, v uint64) { binary.LittleEndian.PutUint64(b[off:], v) }

// Little-endian loads from a view (for tests and round trips).
func GetU16(b []byte, off uint32) uint16 { return binary.LittleEndian.Uint16(b[off:]) }
func GetU32(b []byte, off uint32) uint32 { return binary.LittleEndian.Uint32(b[off:]) }
func GetU64(b []byte, off uint32) uint64 { return binary.LittleEndian.Uint64(b[off:]) }

// PutIPAddress writes an ip-address (discriminant at tagOff, payload at addrOff).
func PutIPAddress(b []byte, tagOff, addrOff uint32, a netip.Addr) {
	if a.Is4() {
		b[tagOff] = 0
		v := a.As4()
		copy(b[addrOff:addrOff+4], v[:])
		return
	}
	b[tagOff] = 1
	putIPv6(b, addrOff, a)
}

// GetIPAddress is the inverse of PutIPAddress (a tag other than 0 is ipv6).
func GetIPAddress(b []byte, tagOff, addrOff uint32) netip.Addr {
	if b[tagOff] == 0 {
		return netip.AddrFrom4([4]byte(b[addrOff : addrOff+4]))
	}
	return getIPv6(b, addrOff)
}

// ReadIPAddress reads the ip-address at off; ok is false when its tag is
// neither case (what a guest's binding reports as an error).
func ReadIPAddress(b []byte, off uint32) (a netip.Addr, ok bool) {
	if b[off] > 1 {
		return netip.Addr{}, false
	}
	return GetIPAddress(b, off, off+IPAddrPayload), true
}

// PutSockAddr writes an ip-socket-address at off.
func PutSockAddr(b []byte, off uint32, ap netip.AddrPort, flow, scope uint32) {
	a := ap.Addr()
	if a.Is4() {
		b[off] = 0
		PutU16(b, off+V4Port, ap.Port())
		v := a.As4()
		copy(b[off+V4Addr:off+V4Addr+4], v[:])
		return
	}
	b[off] = 1
	PutU16(b, off+V6Port, ap.Port())
	PutU32(b, off+V6Flow, flow)
	putIPv6(b, off+V6Addr, a)
	PutU32(b, off+V6Scope, scope)
}

// GetSockAddr is the inverse of PutSockAddr (flow info and scope id dropped;
// a tag other than 0 is ipv6).
func GetSockAddr(b []byte, off uint32) netip.AddrPort {
	ap, _, _, _ := ReadSockAddr(b, off)
	return ap
}

// ReadSockAddr reads the ip-socket-address at off with its flow info and
// scope id (0 for ipv4); ok is false when its tag is neither case.
func ReadSockAddr(b []byte, off uint32) (ap netip.AddrPort, flow, scope uint32, ok bool) {
	if b[off] == 0 {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[off+V4Addr:off+V4Addr+4])), GetU16(b, off+V4Port)), 0, 0, true
	}
	ap = netip.AddrPortFrom(getIPv6(b, off+V6Addr), GetU16(b, off+V6Port))
	return ap, GetU32(b, off+V6Flow), GetU32(b, off+V6Scope), b[off] == 1
}

// putIPv6 writes an ipv6-address, eight u16 segments in network order.
func putIPv6(b []byte, off uint32, a netip.Addr) {
	v := a.As16()
	for i := uint32(0); i < 8; i++ {
		PutU16(b, off+2*i, uint16(v[2*i])<<8|uint16(v[2*i+1]))
	}
}

// getIPv6 is the inverse of putIPv6.
func getIPv6(b []byte, off uint32) netip.Addr {
	var v [16]byte
	for i := uint32(0); i < 8; i++ {
		s := GetU16(b, off+2*i)
		v[2*i], v[2*i+1] = byte(s>>8), byte(s)
	}
	return netip.AddrFrom16(v)
}

// FlatSockAddr decodes a flattened ip-socket-address (12 core values:
// tag, then ipv4: port, 4 octets; ipv6: port, flow-info, 8 segments,
// scope-id). Out-of-range values trap: the canonical ABI rejects them.
func FlatSockAddr(fn string, p []uint64) (ap netip.AddrPort, flow, scope uint32) {
	if len(p) < FlatSockAddrLen {
		Trapf(fn, "ip-socket-address needs %d values, got %d", FlatSockAddrLen, len(p))
	}
	u16 := func(v uint64, what string) uint16 {
		if uint32(v) > 0xffff {
			Trapf(fn, "%s %d does not fit in u16", what, uint32(v))
		}
		return uint16(v)
	}
	switch uint32(p[0]) {
	case 0:
		var o [4]byte
		for i := range o {
			x := uint32(p[2+i])
			if x > 0xff {
				Trapf(fn, "ipv4 octet %d does not fit in u8", x)
			}
			o[i] = byte(x)
		}
		return netip.AddrPortFrom(netip.AddrFrom4(o), u16(p[1], "port")), 0, 0
	case 1:
		var v [16]byte
		for i := 0; i < 8; i++ {
			s := u16(p[3+i], "ipv6 segment")
			v[2*i], v[2*i+1] = byte(s>>8), byte(s)
		}
		return netip.AddrPortFrom(netip.AddrFrom16(v), u16(p[1], "port")), uint32(p[2]), uint32(p[11])
	default:
		Trapf(fn, "ip-socket-address discriminant %d is not 0 (ipv4) or 1 (ipv6)", uint32(p[0]))
	}
	panic("unreachable")
}

// Flatten is the inverse of FlatSockAddr, for tests and guests written in Go.
func Flatten(ap netip.AddrPort, flow, scope uint32) [FlatSockAddrLen]uint64 {
	var p [FlatSockAddrLen]uint64
	a := ap.Addr()
	p[1] = uint64(ap.Port())
	if a.Is4() {
		v := a.As4()
		for i := range v {
			p[2+i] = uint64(v[i])
		}
		return p
	}
	p[0] = 1
	p[2] = uint64(flow)
	v := a.As16()
	for i := 0; i < 8; i++ {
		p[3+i] = uint64(v[2*i])<<8 | uint64(v[2*i+1])
	}
	p[11] = uint64(scope)
	return p
}
