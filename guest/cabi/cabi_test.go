package cabi

import (
	"encoding/binary"
	"testing"
	"unsafe"

	abi "github.com/wasitls/wasitls/internal/cabi"
)

// hostAlloc stands in for the host calling cabi_realloc: a tracked block
// filled with data.
func hostAlloc(data []byte) uint32 {
	block := make([]uint64, (len(data)+7)/8+1)
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&block[0])), len(block)*8), data)
	ptr := uint32(uintptr(unsafe.Pointer(&block[0])))
	live[ptr] = block
	return ptr
}

func TestTakeBytesReleasesTheBlock(t *testing.T) {
	ptr := hostAlloc([]byte("hello, host"))
	if Live() != 1 {
		t.Fatalf("Live() = %d, want 1", Live())
	}
	if got := string(TakeBytes(ptr, 5)); got != "hello" {
		t.Fatalf("TakeBytes = %q", got)
	}
	if Live() != 0 {
		t.Fatalf("Live() = %d after TakeBytes, want 0", Live())
	}
	if got := TakeString(0, 0); got != "" {
		t.Fatalf("empty TakeString = %q", got)
	}
}

func TestTakeBytesRejectsForeignMemory(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("TakeBytes of a block cabi_realloc did not hand out did not panic")
		}
	}()
	TakeBytes(12345, 4)
}

func TestTakeBytesRejectsOverlongList(t *testing.T) {
	ptr := hostAlloc(make([]byte, 8))
	defer func() {
		if recover() == nil {
			t.Fatal("a list longer than its block did not panic")
		}
	}()
	TakeBytes(ptr, 1000)
}

func TestTakeU32s(t *testing.T) {
	var b []byte
	for _, v := range []uint32{0, 7, 1 << 31} {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	got := TakeU32s(hostAlloc(b), 3)
	if len(got) != 3 || got[0] != 0 || got[1] != 7 || got[2] != 1<<31 {
		t.Fatalf("TakeU32s = %v", got)
	}
}

func TestAreaReadsLittleEndian(t *testing.T) {
	var a Area
	b := a.Bytes()
	// Every return area a binding decodes fits, at the alignment it needs.
	for _, l := range []struct{ size, align uint32 }{
		{abi.ReadArea.Size, abi.ReadArea.Align}, {abi.U64Area.Size, abi.U64Area.Align},
		{abi.SockAddrArea.Size, abi.SockAddrArea.Align}, {abi.NextAddrArea.Size, abi.NextAddrArea.Align},
		{abi.FutureGet.Size, abi.FutureGet.Align}, {abi.AcceptArea.Size, abi.AcceptArea.Align},
		{abi.U64CodeArea.Size, abi.U64CodeArea.Align}, {abi.ALPNIDsArea.Size, abi.ALPNIDsArea.Align},
	} {
		if uint32(len(b)) < l.size || 8%l.align != 0 {
			t.Fatalf("Area is %d bytes, 8-byte aligned; a result needs %d, %d-aligned", len(b), l.size, l.align)
		}
	}
	if uintptr(a.Ptr())%8 != 0 {
		t.Fatal("Area is not 8-byte aligned")
	}
	copy(b, []byte{1, 0x34, 0x12, 0, 0x78, 0x56, 0x34, 0x12, 8, 7, 6, 5, 4, 3, 2, 1})
	if a.U8(0) != 1 || a.U16(1) != 0x1234 || a.U32(4) != 0x12345678 || a.U64(8) != 0x0102030405060708 {
		t.Fatalf("decoded %x %x %x %x", a.U8(0), a.U16(1), a.U32(4), a.U64(8))
	}
}

// TakeByteLists reads each (ptr, len) pair at the offsets the host writes
// (two little-endian u32s, written out here by hand) and releases every block.
func TestTakeByteLists(t *testing.T) {
	a, b := hostAlloc([]byte("h2")), hostAlloc([]byte("http/1.1"))
	var pairs []byte
	for _, v := range []uint32{a, 2, b, 8} {
		pairs = binary.LittleEndian.AppendUint32(pairs, v)
	}
	got := TakeByteLists(hostAlloc(pairs), 2)
	if len(got) != 2 || string(got[0]) != "h2" || string(got[1]) != "http/1.1" {
		t.Fatalf("TakeByteLists = %q", got)
	}
	if Live() != 0 {
		t.Fatalf("Live() = %d after TakeByteLists, want 0", Live())
	}
}

func TestLendHandsOutTheBufferOnce(t *testing.T) {
	buf := make([]byte, 64)
	Lend(buf)
	if _, ok := takeLent(0, 1, 65); ok {
		t.Fatal("a 65-byte allocation used a 64-byte lent buffer")
	}
	p, ok := takeLent(0, 1, 10)
	if !ok || p != uint32(uintptr(unsafe.Pointer(&buf[0]))) {
		t.Fatalf("takeLent = %#x, %v; want the buffer's address", p, ok)
	}
	if _, ok := takeLent(0, 1, 10); ok {
		t.Fatal("the lent buffer was handed out twice")
	}
	if got := EndLend(); got != p {
		t.Fatalf("EndLend = %#x, want %#x", got, p)
	}
	Lend(buf)
	if got := EndLend(); got != 0 {
		t.Fatalf("EndLend after an unused Lend = %#x, want 0", got)
	}
	if _, ok := takeLent(0, 1, 1); ok {
		t.Fatal("takeLent used a buffer after EndLend")
	}
}

// Areas come back zeroed and are reused; the pool never holds more than
// its capacity.
func TestAreaPool(t *testing.T) {
	a := NewArea()
	a.Bytes()[3] = 7
	a.Free()
	b := NewArea()
	if b != a {
		t.Fatal("a freed area was not reused")
	}
	if b.U8(3) != 0 {
		t.Fatal("a reused area was not zeroed")
	}
	b.Free()
	many := make([]*Area, 3*cap(areaPool))
	for i := range many {
		many[i] = NewArea()
	}
	for _, x := range many {
		x.Free()
	}
	if len(areaPool) != cap(areaPool) {
		t.Fatalf("pool holds %d areas, capacity %d", len(areaPool), cap(areaPool))
	}
	if n := testing.AllocsPerRun(100, func() { NewArea().Free() }); n != 0 {
		t.Fatalf("%v allocations per area taken and freed, want 0", n)
	}
}
