package host

import (
	"sync"

	wapi "github.com/tetratelabs/wazero/api"
)

// A host function whose result holds a list (read's bytes, poll's indexes)
// must allocate it in the guest, through the guest's cabi_realloc. Called
// from Go, that allocation is a call into the guest, and under
// wazero.RuntimeConfig.WithCloseOnContextDone wazero starts a goroutine for
// every call into a guest (to close it if the context ends): on the bulk
// read path a goroutine per read, which woke the second core the peer
// needs and cost a quarter of the download rate. So such functions come in
// two halves, and a small wasm shim between the guest and the host (see
// shim.go) calls the realloc itself, wasm to wasm, as a component's lowered
// import does:
//
//	shim.read(self, len, ret):
//	    r := host.prepare(self, len, ret)       // waits, reads; -1: result written
//	    if r < 0 { return }
//	    ptr := table[0](0, 0, align, size(r))   // the guest's cabi_realloc
//	    host.finish(ptr, r)                     // copies, writes the result
//
// r carries the size in its low 32 bits and a token in the high ones: the
// host holds what prepare found (the stream and byte count, the ready
// indexes) under the token until finish, so finish needs nothing the guest
// could have changed in between but the memory it allocated. Guests the
// host cannot give a shim (see Guest.useShims) get the one-call form, which
// allocates from Go.
type listResult struct {
	align uint32 // of the list's elements
	// prepare does the function's work up to knowing the list's size. It
	// returns false when it has written the whole result (an error).
	prepare func(c *call, stack []uint64) (held, bool)
	// finish writes the list at ptr (allocated, size bytes, checked) and
	// the result.
	finish func(c *call, r held, ptr uint32)
}

// held is what prepare found, kept until finish.
type held struct {
	lr   *listResult
	size uint32   // bytes of the list
	h    uint32   // the resource read (read)
	ret  uint32   // the return area
	list []uint32 // the elements (poll)
}

// listDef is def for a function returning a list: its one-call form.
func listDef(name string, lr *listResult, params []wapi.ValueType) fnDef {
	d := def(name, lr.call, params)
	d.list = lr
	return d
}

// call is the one-call form: the allocation is a call from Go.
func (lr *listResult) call(c *call, stack []uint64) {
	r, ok := lr.prepare(c, stack)
	if !ok {
		return
	}
	lr.finish(c, r, c.Alloc(lr.align, r.size))
}

// notHeld is prepare's result when the result is written already.
const notHeld = ^uint64(0) // -1 as an i64

// prepareShim is the shim's first half: (params...) -> i64.
func (lr *listResult) prepareShim(c *call, stack []uint64) {
	r, ok := lr.prepare(c, stack)
	if ok && r.size == 0 {
		// Nothing to allocate: an empty list is pointer 0.
		lr.finish(c, r, 0)
		ok = false
	}
	if !ok {
		stack[0] = notHeld
		return
	}
	if msg := c.g.shimProblem(); msg != "" {
		c.trap("%s", msg)
	}
	r.lr = lr
	tok := c.g.held.put(c, r)
	stack[0] = uint64(tok)<<32 | uint64(r.size)
}

// finishShim is the second half: (ptr, r).
func (lr *listResult) finishShim(c *call, stack []uint64) {
	ptr, tok := wapi.DecodeU32(stack[0]), uint32(stack[1]>>32)
	r := c.g.held.take(c, tok, lr)
	lr.finish(c, r, c.Allocated(ptr, lr.align, r.size, c.g.reallocs.export()))
}

// maxHeld bounds the results a guest's shims hold at once: one per call
// under way, so more means calls nested in cabi_realloc (or reallocs that
// trapped and left theirs).
const maxHeld = 64

// heldResults are a guest's results between prepare and finish. A slice
// rather than a stack: the embedder may run calls into one guest
// concurrently.
type heldResults struct {
	mu    sync.Mutex
	slots []held // free when lr is nil
}

// put holds r and returns its token (>= 1).
func (hr *heldResults) put(c *call, r held) uint32 {
	hr.mu.Lock()
	for i := range hr.slots {
		if hr.slots[i].lr == nil {
			hr.slots[i] = r
			hr.mu.Unlock()
			return uint32(i) + 1
		}
	}
	if len(hr.slots) >= maxHeld {
		hr.mu.Unlock()
		c.trap("more than %d calls are allocating their results at once (calls nested in cabi_realloc?)", maxHeld)
	}
	hr.slots = append(hr.slots, r)
	tok := uint32(len(hr.slots))
	hr.mu.Unlock()
	return tok
}

// take returns and frees the result held under tok by lr's prepare.
func (hr *heldResults) take(c *call, tok uint32, lr *listResult) held {
	hr.mu.Lock()
	if tok == 0 || int(tok) > len(hr.slots) || hr.slots[tok-1].lr != lr {
		hr.mu.Unlock()
		c.trap("no result is held under token %d", tok)
	}
	r := hr.slots[tok-1]
	hr.slots[tok-1] = held{}
	hr.mu.Unlock()
	return r
}
