package host

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	wapi "github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/internal/cabi"
	"github.com/wasitls/wasitls/internal/witnames"
)

// waitable is something a pollable can wait for. Its readiness is one
// signal, so poll waits on many of them with one channel instead of a
// select over each.
type waitable interface {
	ready() bool
	// readyCh returns a channel that is closed when ready() may have become
	// true. Callers re-check ready() after it fires.
	readyCh() <-chan struct{}
	// watchSignal arms the waitable (as readyCh does) and returns its signal.
	watchSignal() *signal
}

// inliner is a waitable whose pending work (a connect, a handshake) can
// run on the guest's goroutine when the guest blocks on it alone, saving a
// hand-off to a worker. blockInline reports whether it did.
type inliner interface {
	blockInline(c *call) bool
}

// signal is a level-triggered readiness flag with a channel to wait on and
// watchers (poll calls) to notify.
type signal struct {
	mu       sync.Mutex
	on       atomic.Bool // written under mu; read without it by isSet (a poll checks every pollable)
	ch       chan struct{}
	watchers []chan struct{}
}

// watch makes the signal notify w (without blocking) when it is set; it
// reports whether it is set already.
func (s *signal) watch(w chan struct{}) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.on.Load() {
		return true
	}
	s.watchers = append(s.watchers, w)
	return false
}

// unwatch forgets w.
func (s *signal) unwatch(w chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, x := range s.watchers {
		if x == w {
			last := len(s.watchers) - 1
			s.watchers[i] = s.watchers[last]
			s.watchers[last] = nil
			s.watchers = s.watchers[:last]
			return
		}
	}
}

func (s *signal) isSet() bool { return s.on.Load() }

func (s *signal) readyCh() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
		if s.on.Load() {
			close(s.ch)
		}
	}
	return s.ch
}

// update sets or clears the flag.
func (s *signal) update(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if on == s.on.Load() {
		return
	}
	s.on.Store(on)
	if on {
		if s.ch != nil {
			close(s.ch)
		}
		for _, w := range s.watchers {
			select {
			case w <- struct{}{}:
			default:
			}
		}
	} else {
		s.ch = nil
	}
}

// deadline is a clock pollable.
type deadline struct {
	at    time.Time
	once  sync.Once
	sig   signal
	timer *time.Timer
	mu    sync.Mutex
}

func (d *deadline) ready() bool { return !time.Now().Before(d.at) }

func (d *deadline) arm() {
	d.once.Do(func() {
		d.mu.Lock()
		d.timer = time.AfterFunc(time.Until(d.at), func() { d.sig.update(true) })
		d.mu.Unlock()
	})
}

func (d *deadline) readyCh() <-chan struct{} {
	d.arm()
	return d.sig.readyCh()
}

func (d *deadline) watchSignal() *signal {
	d.arm()
	return &d.sig
}

func (d *deadline) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil {
		d.timer.Stop()
	}
}

// pollable is the pollable resource.
type pollable struct{ w waitable }

// close releases what the pollable itself holds (a clock's timer), never the
// resource it subscribes to.
func (p *pollable) close() {
	if d, ok := p.w.(*deadline); ok {
		d.close()
	}
}

// subscribe pushes a pollable for w as a child of parent.
func (c *call) subscribe(w waitable, parent uint32) uint32 {
	return c.push(rPollable, &pollable{w: w}, parent)
}

var ioPoll = register(&iface{name: witnames.IOPoll, fns: []fnDef{
	def(witnames.PollableReady, pollableReady, p(i32), i32),
	def(witnames.PollableBlock, pollableBlock, p(i32)),
	listDef(witnames.Poll, pollResult, p(i32, i32, i32)),
	def(witnames.DropPollable, dropOf(rPollable), p(i32)),
}})

// pollableReady: (self) -> bool. Never blocks.
func pollableReady(c *call, stack []uint64) {
	pl := c.get(wapi.DecodeU32(stack[0]), rPollable).(*pollable)
	stack[0] = b2u(pl.w.ready())
}

// pollableBlock: (self). Blocks until ready.
func pollableBlock(c *call, stack []uint64) {
	pl := c.get(wapi.DecodeU32(stack[0]), rPollable).(*pollable)
	if w, ok := pl.w.(inliner); ok && w.blockInline(c) {
		return
	}
	c.wait(pl.w)
}

// MaxPollList is the most entries one poll list may have; a longer list
// traps. wasi:io lets a list repeat a pollable, and the guest cannot hold
// more distinct pollables than Limits.Handles, so this bounds only
// repetition: what the host spends on a poll is per distinct pollable,
// plus 4 bytes per entry.
const MaxPollList = 1 << 16

// poll: (list_ptr, list_len, retptr). Blocks until at least one of the
// pollables is ready and returns the indexes of the ready ones (every entry
// of a pollable listed more than once).
//
//	in:  list_ptr -> [borrow<pollable> u32] x list_len
//	out: retptr   -> +0 ptr, +4 len of list<u32> (allocated with cabi_realloc)
//
// The list is allocated between pollWait and pollFinish (see listResult).
var pollResult = &listResult{align: cabi.ListU32.Elems[0].Align(), prepare: pollWait, finish: pollFinish}

// pollWait waits and finds the indexes to return.
func pollWait(c *call, stack []uint64) (held, bool) {
	ptr, n, ret := wapi.DecodeU32(stack[0]), wapi.DecodeU32(stack[1]), wapi.DecodeU32(stack[2])
	c.Area(ret, cabi.ListPair.Size, cabi.ListPair.Align)
	if n == 0 {
		c.trap("poll needs at least one pollable")
	}
	if n > MaxPollList {
		c.trap("poll of %d pollables; at most %d are accepted", n, MaxPollList)
	}
	// entries[i] becomes the index in ws of entry i's pollable: each
	// distinct pollable is looked up, waited on and checked once.
	entries := c.U32s(ptr, n)
	var ws []waitable
	seen := map[uint32]uint32{}
	for i, h := range entries {
		if i%4096 == 4095 && (c.Ctx.Err() != nil || c.g.ctx.Err() != nil) {
			c.interrupted()
		}
		k, ok := seen[h]
		if !ok {
			k = uint32(len(ws))
			seen[h] = k
			ws = append(ws, c.get(h, rPollable).(*pollable).w)
		}
		entries[i] = k
	}
	c.g.kickAll()
	ready := make([]bool, len(ws))
	for {
		some := false
		for i, w := range ws {
			ready[i] = w.ready()
			some = some || ready[i]
		}
		if some {
			break
		}
		waitAny(c, ws)
		// Let the goroutines that are about to make more of ws ready (a
		// loaded host's other handshakes, reads) run first: one poll then
		// returns them together, saving the guest a wake-up and a poll,
		// and each poll a cabi_realloc, per event. Nothing runs when
		// nothing is runnable.
		runtime.Gosched()
	}
	// entries becomes the list to return.
	out := entries[:0]
	for i, k := range entries {
		if ready[k] {
			out = append(out, uint32(i))
		}
	}
	n = uint32(len(out))
	return held{ret: ret, size: cabi.ListU32.Elems[0].Size() * n, list: out}, true
}

// pollFinish writes the indexes into the list the guest allocated.
func pollFinish(c *call, r held, ptr uint32) {
	size := cabi.ListU32.Elems[0].Size()
	b := c.Bytes(ptr, r.size)
	for j, i := range r.list {
		cabi.PutU32(b, size*uint32(j), i)
	}
	putListArea(c, r.ret, ptr, uint32(len(r.list)))
}

// waitAny blocks until one of ws may be ready. Their signals share one
// channel (no per-pollable goroutine or select case).
func waitAny(c *call, ws []waitable) {
	if len(ws) == 1 {
		c.wait(ws[0])
		return
	}
	sigs := make([]*signal, 0, len(ws))
	for _, w := range ws {
		sigs = append(sigs, w.watchSignal())
	}
	note := make(chan struct{}, 1)
	n := 0
	for _, s := range sigs {
		n++
		if s.watch(note) {
			select {
			case note <- struct{}{}:
			default:
			}
			break
		}
	}
	select {
	case <-note:
	case <-c.Ctx.Done():
	case <-c.g.ctx.Done():
	}
	for _, s := range sigs[:n] {
		s.unwatch(note)
	}
	if c.Ctx.Err() != nil || c.g.ctx.Err() != nil {
		c.interrupted()
	}
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}
