package network

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/wasitls/wasitls/guest/cabi"
)

func TestFlatten(t *testing.T) {
	for _, tc := range []struct {
		addr IPSocketAddress
		want Flat
	}{
		{IPSocketAddress{Addr: netip.MustParseAddr("127.0.0.1"), Port: 443},
			Flat{0, 443, 127, 0, 0, 1}},
		{IPSocketAddress{Addr: netip.MustParseAddr("::ffff:10.1.2.3"), Port: 80},
			Flat{0, 80, 10, 1, 2, 3}},
		{IPSocketAddress{Addr: netip.MustParseAddr("2001:db8::1"), Port: 8443, FlowInfo: 7, ScopeID: 3},
			Flat{1, 8443, 7, 0x2001, 0xdb8, 0, 0, 0, 0, 0, 1, 3}},
	} {
		if got := tc.addr.Flatten(); got != tc.want {
			t.Errorf("%v: Flatten = %v, want %v", tc.addr, got, tc.want)
		}
	}
}

// The layouts below are written out by hand from the canonical ABI (variant
// tag u8, payload at the maximum case alignment), not derived from the
// decoders.

func TestDecodeIPSocketAddressIPv4(t *testing.T) {
	var a cabi.Area
	b := a.Bytes()
	off := uint32(4) // inside result<ip-socket-address, error-code>
	b[off] = 0
	binary.LittleEndian.PutUint16(b[off+4:], 8443)
	copy(b[off+6:], []byte{192, 0, 2, 7})
	got, err := DecodeIPSocketAddress(&a, off)
	if err != nil || got.Addr != netip.MustParseAddr("192.0.2.7") || got.Port != 8443 {
		t.Fatalf("decoded %+v, %v", got, err)
	}
}

func TestDecodeIPSocketAddressIPv6(t *testing.T) {
	var a cabi.Area
	b := a.Bytes()
	off := uint32(4)
	b[off] = 1
	binary.LittleEndian.PutUint16(b[off+4:], 443)
	binary.LittleEndian.PutUint32(b[off+8:], 9) // flow-info
	for i, s := range []uint16{0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x42} {
		binary.LittleEndian.PutUint16(b[off+12+2*uint32(i):], s)
	}
	binary.LittleEndian.PutUint32(b[off+28:], 5) // scope-id
	got, err := DecodeIPSocketAddress(&a, off)
	want := IPSocketAddress{Addr: netip.MustParseAddr("2001:db8::42"), Port: 443, FlowInfo: 9, ScopeID: 5}
	if err != nil || got != want {
		t.Fatalf("decoded %+v, %v; want %+v", got, err, want)
	}
	if off+32 > uint32(len(b)) {
		t.Fatal("ip-socket-address at +4 does not fit the return area")
	}
}

func TestDecodeIPAddress(t *testing.T) {
	var a cabi.Area
	b := a.Bytes()
	b[4] = 1 // ipv6 at +4 (inside result<option<ip-address>>)
	for i, s := range []uint16{0, 0, 0, 0, 0, 0, 0, 1} {
		binary.LittleEndian.PutUint16(b[6+2*i:], s)
	}
	if got, err := DecodeIPAddress(&a, 4); err != nil || got != netip.IPv6Loopback() {
		t.Fatalf("decoded %v, %v", got, err)
	}
	b[4] = 0
	copy(b[6:], []byte{10, 0, 0, 1})
	if got, err := DecodeIPAddress(&a, 4); err != nil || got != netip.MustParseAddr("10.0.0.1") {
		t.Fatalf("decoded %v, %v", got, err)
	}
	b[4] = 9
	if _, err := DecodeIPAddress(&a, 4); err == nil {
		t.Fatal("bad tag decoded without error")
	}
}

func TestErrorCodeNames(t *testing.T) {
	if PermanentResolverFailure != 20 || len(codeNames) != 21 {
		t.Fatalf("error-code has %d names, last = %d; WIT has 21 cases", len(codeNames), PermanentResolverFailure)
	}
	for c, want := range map[ErrorCode]string{
		Unknown: "unknown", WouldBlock: "would-block", ConnectionRefused: "connection-refused",
		NameUnresolvable: "name-unresolvable", 200: "error-code(200)",
	} {
		if c.String() != want {
			t.Errorf("%d.String() = %q, want %q", c, c.String(), want)
		}
	}
	var err error = AccessDenied
	if err.Error() != "wasi-sockets: access-denied" {
		t.Errorf("Error() = %q", err.Error())
	}
}
