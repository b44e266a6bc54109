package host

import (
	"reflect"
	"sync"
	"time"

	wapi "github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/internal/cabi"
)

// waitable is something a pollable can wait for.
type waitable interface {
	ready() bool
	// readyCh returns a channel that is closed when ready() may have become
	// true. Callers re-check ready() after it fires.
	readyCh() <-chan struct{}
}

// signal is a level-triggered readiness flag with a channel to wait on.
type signal struct {
	mu  sync.Mutex
	set bool
	ch  chan struct{}
}

func (s *signal) isSet() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.set
}

func (s *signal) readyCh() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
		if s.set {
			close(s.ch)
		}
	}
	return s.ch
}

// update sets or clears the flag.
func (s *signal) update(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if on == s.set {
		return
	}
	s.set = on
	if on {
		if s.ch != nil {
			close(s.ch)
		}
	} else {
		s.ch = nil
	}
}

// always is a waitable that is ready.
type always struct{}

var closedCh = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (always) ready() bool              { return true }
func (always) readyCh() <-chan struct{} { return closedCh }

// deadline is a clock pollable.
type deadline struct {
	at    time.Time
	once  sync.Once
	ch    chan struct{}
	timer *time.Timer
	mu    sync.Mutex
}

func (d *deadline) ready() bool { return !time.Now().Before(d.at) }

func (d *deadline) readyCh() <-chan struct{} {
	d.once.Do(func() {
		d.ch = make(chan struct{})
		d.mu.Lock()
		d.timer = time.AfterFunc(time.Until(d.at), func() { close(d.ch) })
		d.mu.Unlock()
	})
	return d.ch
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

var ioPoll = register(&iface{name: "wasi:io/poll", fns: []fnDef{
	def("[method]pollable.ready", pollableReady, p(i32), i32),
	def("[method]pollable.block", pollableBlock, p(i32)),
	def("poll", pollList, p(i32, i32, i32)),
	def("[resource-drop]pollable", dropOf(rPollable), p(i32)),
}})

// pollableReady: (self) -> bool. Never blocks.
func pollableReady(c *call, stack []uint64) {
	pl := c.get(wapi.DecodeU32(stack[0]), rPollable).(*pollable)
	stack[0] = b2u(pl.w.ready())
}

// pollableBlock: (self). Blocks until ready.
func pollableBlock(c *call, stack []uint64) {
	pl := c.get(wapi.DecodeU32(stack[0]), rPollable).(*pollable)
	c.wait(pl.w)
}

// pollList: (list_ptr, list_len, retptr). Blocks until at least one of the
// pollables is ready and returns the indexes of the ready ones.
//
//	in:  list_ptr -> [borrow<pollable> u32] x list_len
//	out: retptr   -> +0 ptr, +4 len of list<u32> (allocated with cabi_realloc)
func pollList(c *call, stack []uint64) {
	ptr, n, ret := wapi.DecodeU32(stack[0]), wapi.DecodeU32(stack[1]), wapi.DecodeU32(stack[2])
	c.Area(ret, 8, 4)
	if n == 0 {
		c.trap("poll needs at least one pollable")
	}
	hs := c.U32s(ptr, n)
	ws := make([]waitable, len(hs))
	for i, h := range hs {
		ws[i] = c.get(h, rPollable).(*pollable).w
	}
	var readyIdx []uint32
	for {
		readyIdx = readyIdx[:0]
		for i, w := range ws {
			if w.ready() {
				readyIdx = append(readyIdx, uint32(i))
			}
		}
		if len(readyIdx) > 0 {
			break
		}
		waitAny(c, ws)
	}
	lp, ln := c.PutU32s(readyIdx)
	b := c.Area(ret, 8, 4)
	cabi.PutU32(b, 0, lp)
	cabi.PutU32(b, 4, ln)
}

// waitAny blocks until one of ws may be ready.
func waitAny(c *call, ws []waitable) {
	if len(ws) == 1 {
		c.wait(ws[0])
		return
	}
	cases := make([]reflect.SelectCase, 0, len(ws)+2)
	cases = append(cases,
		reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(c.Ctx.Done())},
		reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(c.g.ctx.Done())})
	for _, w := range ws {
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(w.readyCh())})
	}
	if i, _, _ := reflect.Select(cases); i < 2 {
		c.interrupted()
	}
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}
