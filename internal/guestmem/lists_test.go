package guestmem

import (
	"bytes"
	"strings"
	"testing"
)

// TestByteLists: list<list<u8>> round trips through guest memory; a list or
// an element out of bounds traps (a list of 2^29 elements, whose size wraps
// uint32, too); a long element is reported, not copied.
func TestByteLists(t *testing.T) {
	_, mod, m := testMem(t)
	want := [][]byte{[]byte("h2"), {}, bytes.Repeat([]byte{7}, 300)}
	p, n := m.PutByteLists(want)
	got, long := m.ByteLists(p, n, 1000)
	if long != -1 || len(got) != len(want) {
		t.Fatalf("ByteLists: %d lists, too long %d", len(got), long)
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("element %d: %q, want %q", i, got[i], want[i])
		}
	}
	if got, long := m.ByteLists(p, n, 255); got != nil || long != 2 {
		t.Errorf("with a 255-byte bound: %d lists, too long %d; want element 2", len(got), long)
	}
	if msg := trapOf(t, func() { m.ByteLists(p, 1<<29, 255) }); !strings.Contains(msg, "out of bounds") {
		t.Errorf("a list whose size wraps: %q", msg)
	}
	mod.Memory().Write(64, []byte{0xf0, 0xff, 0xff, 0xff, 4, 0, 0, 0})
	if msg := trapOf(t, func() { m.ByteLists(64, 1, 255) }); !strings.Contains(msg, "out of bounds") {
		t.Errorf("an element out of bounds: %q", msg)
	}
	if ep, en := m.PutByteLists(nil); en != 0 || ep != 0 {
		t.Errorf("empty list at %#x len %d", ep, en)
	}
}
