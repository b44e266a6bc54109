package cabi

import (
	"net/netip"
	"testing"
)

// The sizes, alignments and offsets the host relies on, as the canonical
// ABI defines them (and as the notes list them).
func TestLayouts(t *testing.T) {
	cases := []struct {
		name        string
		typ         Type
		size, align uint32
		payload     uint32
	}{
		{"result<list<u8>, stream-error>", ResultListU8, 12, 4, 4},
		{"result<u64, stream-error>", ResultU64Stream, 16, 8, 8},
		{"result<_, stream-error>", ResultUnitStream, 12, 4, 4},
		{"result<tuple<in, out>, error-code>", ResultStreamsCode, 12, 4, 4},
		{"result<own, error-code>", ResultHandleCode, 8, 4, 4},
		{"result<_, error-code>", ResultUnitCode, 2, 1, 1},
		{"result<option<ip-address>, error-code>", ResultOptAddrCode, 22, 2, 2},
		{"result<ip-socket-address, error-code>", ResultSockAddrCode, 36, 4, 4},
		{"result<bool, error-code>", ResultBoolCode, 2, 1, 1},
		{"result<u64, error-code>", ResultU64Code, 16, 8, 8},
		{"result<u32, error-code>", ResultU32Code, 8, 4, 4},
		{"result<u8, error-code>", ResultU8Code, 2, 1, 1},
		{"option<error-code>", OptionErrorCode, 2, 1, 1},
		{"future-client-streams.get", FutureGetResult, 24, 4, 4},
		{"ip-socket-address", IPSocketAddress, 32, 4, 4},
		{"ip-address", IPAddress, 18, 2, 2},
		{"stream-error", StreamError, 8, 4, 4},
	}
	for _, c := range cases {
		if c.typ.Size() != c.size || c.typ.Align() != c.align || c.typ.PayloadOffset() != c.payload {
			t.Errorf("%s: size %d align %d payload %d, want %d %d %d", c.name,
				c.typ.Size(), c.typ.Align(), c.typ.PayloadOffset(), c.size, c.align, c.payload)
		}
	}
	if d := Datetime; d.Size() != 16 || d.FieldOffset(1) != 8 {
		t.Errorf("datetime: size %d nanos@%d", d.Size(), d.FieldOffset(1))
	}
	if ErrorCode.Size() != 1 || Enum(300).Size() != 2 {
		t.Errorf("enum sizes %d %d", ErrorCode.Size(), Enum(300).Size())
	}
}

func TestAreas(t *testing.T) {
	f := FutureGet
	if f.OptionTag != 0 || f.OuterTag != 4 || f.InnerTag != 8 || f.Conn != 12 || f.Input != 16 || f.Output != 20 || f.Error != 12 {
		t.Errorf("future get area %+v", f)
	}
	if ReadArea.OK != 4 || ReadArea.ErrTag != 4 || ReadArea.ErrHandle != 8 {
		t.Errorf("read area %+v", ReadArea)
	}
	if U64Area.OK != 8 || U64Area.ErrTag != 8 || U64Area.ErrHandle != 12 || U64Area.Size != 16 {
		t.Errorf("u64 area %+v", U64Area)
	}
	if n := NextAddrArea; n.Code != 2 || n.OptTag != 2 || n.AddrTag != 4 || n.Addr != 6 || n.Size != 22 {
		t.Errorf("next-address area %+v", n)
	}
	if FinishArea.OK != 4 || UnitCodeArea.Code != 1 || HandleArea.OK != 4 {
		t.Errorf("finish %+v unit %+v handle %+v", FinishArea, UnitCodeArea, HandleArea)
	}
	if V4Port != 4 || V4Addr != 6 || V6Port != 4 || V6Flow != 8 || V6Addr != 12 || V6Scope != 28 {
		t.Errorf("socket address offsets %d %d %d %d %d %d", V4Port, V4Addr, V6Port, V6Flow, V6Addr, V6Scope)
	}
	// The names the guest bindings read (written out by hand, from the
	// canonical ABI, as an oracle).
	if ListPair != (ListArea{Size: 8, Align: 4, Ptr: 0, Len: 4}) {
		t.Errorf("list pair %+v", ListPair)
	}
	if FinishInput != 4 || FinishOutput != 8 || AcceptSocket != 4 || AcceptInput != 8 || AcceptOutput != 12 {
		t.Errorf("tuple handles %d %d | %d %d %d", FinishInput, FinishOutput, AcceptSocket, AcceptInput, AcceptOutput)
	}
	if IPAddrPayload != 2 || SockAddrArea.OK != 4 || SockAddrArea.Size != 36 {
		t.Errorf("ip-address payload %d, socket address area %+v", IPAddrPayload, SockAddrArea)
	}
	for _, c := range []struct {
		name string
		a    OptionArea
		some uint32
		size uint32
	}{
		{"option<error-code>", OptionCodeArea, 1, 2},
		{"option<string>", OptionStringArea, 4, 12},
		{"option<own<terminal>>", OptionHandleArea, 4, 8},
		{"option<list<u8>>", OptionBytesArea, 4, 12},
		{"option<u16>", GroupArea, 2, 4},
		{"option<fs error-code>", OptFSCodeArea, 1, 2},
	} {
		if c.a.Tag != 0 || c.a.Some != c.some || c.a.Size != c.size {
			t.Errorf("%s: %+v, want some at %d, size %d", c.name, c.a, c.some, c.size)
		}
	}
	for _, a := range []CodeArea{UnitCodeArea, BoolCodeArea, U8CodeArea, U32CodeArea, U64CodeArea, HandleArea, FinishArea, AcceptArea, SockAddrArea, ALPNIDsArea} {
		if a.Tag != 0 || a.Code != a.OK {
			t.Errorf("result<T, error-code> area %+v: tag not at 0 or code not at the payload", a)
		}
	}
	if BoolCodeArea.OK != 1 || U8CodeArea.OK != 1 || U32CodeArea.OK != 4 || U64CodeArea.OK != 8 || ALPNIDsArea.OK != 4 {
		t.Errorf("payloads: bool %d u8 %d u32 %d u64 %d alpn %d", BoolCodeArea.OK, U8CodeArea.OK, U32CodeArea.OK, U64CodeArea.OK, ALPNIDsArea.OK)
	}
	if IPSocketAddress.FlatCount() != FlatSockAddrLen {
		t.Errorf("ip-socket-address flattens to %d values", IPSocketAddress.FlatCount())
	}
}

func TestRoundTrips(t *testing.T) {
	addrs := []string{"127.0.0.1:443", "[::1]:8443", "[2001:db8::1234:5678]:1", "255.255.255.255:65535", "[::ffff:10.0.0.1]:80"}
	for _, s := range addrs {
		ap := netip.MustParseAddrPort(s)
		b := make([]byte, IPSocketAddress.Size()+4)
		PutSockAddr(b, 4, ap, 7, 9)
		if got := GetSockAddr(b, 4); got != ap {
			t.Errorf("memory round trip %s -> %s", ap, got)
		}
		if got, flow, scope, ok := ReadSockAddr(b, 4); !ok || got != ap || (ap.Addr().Is6() && (flow != 7 || scope != 9)) {
			t.Errorf("ReadSockAddr %s -> %s %d %d %t", ap, got, flow, scope, ok)
		}
		flat := Flatten(ap, 7, 9)
		got, flow, scope := FlatSockAddr("test", flat[:])
		if got != ap || (ap.Addr().Is6() && (flow != 7 || scope != 9)) {
			t.Errorf("flat round trip %s -> %s %d %d", ap, got, flow, scope)
		}
		ab := make([]byte, NextAddrArea.Size)
		PutIPAddress(ab, NextAddrArea.AddrTag, NextAddrArea.Addr, ap.Addr())
		if got := GetIPAddress(ab, NextAddrArea.AddrTag, NextAddrArea.Addr); got != ap.Addr() {
			t.Errorf("ip-address round trip %s -> %s", ap.Addr(), got)
		}
		if got, ok := ReadIPAddress(ab, NextAddrArea.AddrTag); !ok || got != ap.Addr() {
			t.Errorf("ReadIPAddress %s -> %s %t", ap.Addr(), got, ok)
		}
		// A tag that is neither case is reported, not read as ipv6.
		b[4], ab[NextAddrArea.AddrTag] = 2, 2
		if _, _, _, ok := ReadSockAddr(b, 4); ok {
			t.Error("ReadSockAddr read an ip-socket-address with tag 2")
		}
		if _, ok := ReadIPAddress(ab, NextAddrArea.AddrTag); ok {
			t.Error("ReadIPAddress read an ip-address with tag 2")
		}
	}
}

func TestFlatSockAddrTraps(t *testing.T) {
	bad := [][]uint64{
		{2, 80, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0},       // discriminant
		{0, 70000, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0},    // port
		{0, 80, 256, 2, 3, 4, 0, 0, 0, 0, 0, 0},     // octet
		{1, 80, 0, 0x10000, 0, 0, 0, 0, 0, 0, 0, 0}, // segment
		{0, 80}, // short
	}
	for _, p := range bad {
		func() {
			defer func() {
				tr, ok := recover().(*Trap)
				if !ok || tr.Func != "f" {
					t.Errorf("%v: want a *Trap naming f, got %v", p, tr)
				}
			}()
			FlatSockAddr("f", p)
		}()
	}
}
