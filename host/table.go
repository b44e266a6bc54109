package host

import (
	"fmt"
	"sync"
)

// rkind is the WIT resource type of a handle.
type rkind uint8

const (
	rNone rkind = iota
	rError
	rPollable
	rInput
	rOutput
	rNetwork
	rTCPSocket
	rResolveStream
	rHandshake
	rConnection
	rFuture
	rUDPSocket
	rIncomingDatagrams
	rOutgoingDatagrams
	rDescriptor
	rDirEntryStream
	rTerminalInput
	rTerminalOutput
	rServerHandshake
	rServerConnection
	rServerFuture
)

var rkindNames = [...]string{
	rNone: "none", rError: "error", rPollable: "pollable", rInput: "input-stream", rOutput: "output-stream",
	rNetwork: "network", rTCPSocket: "tcp-socket", rResolveStream: "resolve-address-stream",
	rHandshake: "client-handshake", rConnection: "client-connection", rFuture: "future-client-streams",
	rUDPSocket: "udp-socket", rIncomingDatagrams: "incoming-datagram-stream", rOutgoingDatagrams: "outgoing-datagram-stream",
	rDescriptor: "descriptor", rDirEntryStream: "directory-entry-stream",
	rTerminalInput: "terminal-input", rTerminalOutput: "terminal-output",
	rServerHandshake: "server-handshake", rServerConnection: "server-connection", rServerFuture: "future-server-streams",
}

func (k rkind) String() string { return rkindNames[k] }

// closer is implemented by resources that hold something to release when
// their handle is dropped or their guest closes.
type closer interface{ close() }

// entry is one slot of a table.
type entry struct {
	kind     rkind
	val      any
	parent   uint32 // 0: none
	children int
	fate     string // why the slot is empty ("dropped", "moved into ...")
}

// table is one guest's resource table: typed handles, 0 never valid,
// parent/child relations, and a limit on open handles. Freed slots are
// reused only after many others, so a stale handle usually names its fate
// (double drop, use after move) instead of silently reaching a new resource.
type table struct {
	mu    sync.Mutex
	slots []entry // index 0 unused
	free  []uint32
	open  int
	limit int
}

const reuseAfter = 256 // freed slots wait in a FIFO this long before reuse

func newTable(limit int) *table {
	return &table{slots: make([]entry, 1, 64), limit: limit}
}

// tableError is why a table operation failed; the caller traps with it.
type tableError struct{ msg string }

func (e *tableError) Error() string { return e.msg }

func terr(format string, args ...any) error { return &tableError{fmt.Sprintf(format, args...)} }

// push adds a resource and returns its handle. parent (0 for none) must be
// open; it gets one more child.
func (t *table) push(k rkind, v any, parent uint32) (uint32, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.open >= t.limit {
		return 0, terr("too many open handles (limit %d)", t.limit)
	}
	if parent != 0 {
		if err := t.checkLocked(parent, rNone); err != nil {
			return 0, err
		}
		t.slots[parent].children++
	}
	var h uint32
	if len(t.free) > reuseAfter {
		h = t.free[0]
		t.free = t.free[1:]
	} else {
		t.slots = append(t.slots, entry{})
		h = uint32(len(t.slots) - 1)
	}
	t.slots[h] = entry{kind: k, val: v, parent: parent}
	t.open++
	return h, nil
}

func (t *table) checkLocked(h uint32, k rkind) error {
	if h == 0 {
		return terr("handle 0 is never valid")
	}
	if int(h) >= len(t.slots) {
		return terr("unknown handle %d", h)
	}
	e := &t.slots[h]
	if e.kind == rNone {
		if e.fate != "" {
			return terr("handle %d was already %s", h, e.fate)
		}
		return terr("unknown handle %d", h)
	}
	if k != rNone && e.kind != k {
		return terr("handle %d is a %s, not a %s", h, e.kind, k)
	}
	return nil
}

// get returns the resource behind a handle of kind k (rNone: any kind).
func (t *table) get(h uint32, k rkind) (any, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.checkLocked(h, k); err != nil {
		return nil, err
	}
	return t.slots[h].val, nil
}

// take removes a handle (a drop, or a move into another resource). It fails
// when the resource still has children.
func (t *table) take(h uint32, k rkind, fate string) (any, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.checkLocked(h, k); err != nil {
		return nil, err
	}
	e := &t.slots[h]
	if e.children > 0 {
		return nil, terr("%s handle %d still has %d child resource(s) (drop its streams/pollables first)", e.kind, h, e.children)
	}
	return t.removeLocked(h, fate), nil
}

func (t *table) removeLocked(h uint32, fate string) any {
	e := &t.slots[h]
	v := e.val
	if e.parent != 0 && int(e.parent) < len(t.slots) {
		t.slots[e.parent].children--
	}
	*e = entry{fate: fate}
	t.free = append(t.free, h)
	t.open--
	return v
}

// drain empties the table and returns every resource, children first, for a
// closing guest.
func (t *table) drain() []any {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []any
	for h := len(t.slots) - 1; h > 0; h-- {
		if t.slots[h].kind != rNone {
			out = append(out, t.slots[h].val)
			t.slots[h] = entry{fate: "closed with the guest"}
		}
	}
	t.open = 0
	return out
}

// room is how many more handles fit under the limit.
func (t *table) room() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.limit - t.open
}

// count returns the number of open handles.
func (t *table) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.open
}

// children returns how many children an open handle has.
func (t *table) children(h uint32) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.checkLocked(h, rNone); err != nil {
		return 0, err
	}
	return t.slots[h].children, nil
}
