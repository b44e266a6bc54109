package host

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// pending is work the guest started (a connect, a handshake) that the host
// runs only once the guest looks for its outcome. A guest that blocks on
// that one pollable, as most do right away, runs it on its own goroutine
// (runInline): no goroutine to start and wake, no hand-off back, which is
// a good part of what a connection costs over native Go. Anything else the
// guest does to look (ready, get, finish, a poll of several pollables, a
// wait for something else) starts it on a worker, and the host's sweeper
// starts whatever has been pending for a whole sweep interval, for a guest
// that waits outside this host (a wasip1 sleep) or returns to its embedder.
type pending struct {
	fn  atomic.Pointer[func()]
	gen uint64 // the sweep generation it was deferred in
}

// sweepInterval is how often the sweeper looks while guests defer work
// and it finds some to start; pending work starts within two intervals.
// While every piece of work was claimed by its own guest before the
// sweeper looked (the guest blocked on it, as most do), the interval
// doubles up to maxSweepInterval: each look is a timer, a goroutine and a
// wake-up of an idle CPU, which at every 4 ms were a quarter of the
// wake-ups of a guest making one connection after another, and moved its
// goroutine between threads.
const (
	sweepInterval    = 4 * time.Millisecond
	maxSweepInterval = 32 * time.Millisecond
)

// sweeper is the host's one timer for pending work. It keeps ticking while
// guests keep deferring work and stops one idle interval later, so that a
// busy guest never arms a timer itself: arming one wakes the runtime's
// poller, which cost every connection measurably when each had its own.
type sweeper struct {
	gen      atomic.Uint64
	mu       sync.Mutex
	guests   map[*Guest]struct{}
	timer    *time.Timer
	running  bool
	interval time.Duration // the next look's (see sweepInterval)
}

// watch makes sure the sweeper looks at g.
func (s *sweeper) watch(g *Guest) {
	g.deferred.Store(true)
	if g.swept.Load() {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.guests == nil {
		s.guests = map[*Guest]struct{}{}
	}
	s.guests[g] = struct{}{}
	g.swept.Store(true)
	if !s.running {
		s.running = true
		s.interval = sweepInterval
		if s.timer == nil {
			s.timer = time.AfterFunc(s.interval, s.sweep)
		} else {
			s.timer.Reset(s.interval)
		}
	}
}

// forget stops looking at g.
func (s *sweeper) forget(g *Guest) {
	s.mu.Lock()
	delete(s.guests, g)
	g.swept.Store(false)
	s.mu.Unlock()
}

func (s *sweeper) sweep() {
	gen := s.gen.Add(1)
	s.mu.Lock()
	gs := make([]*Guest, 0, len(s.guests))
	for g := range s.guests {
		gs = append(gs, g)
	}
	s.mu.Unlock()
	started := 0
	for _, g := range gs {
		started += g.kickOlder(gen - 1)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range gs {
		if _, ok := s.guests[g]; !ok {
			continue // forgotten meanwhile (closed)
		}
		// Dropped after an interval without new work and nothing left.
		// swept is cleared before the second look, so that a watch that
		// saw it set has set deferred first, and is seen here.
		if g.deferred.Swap(false) {
			continue
		}
		g.swept.Store(false)
		if g.deferred.Load() || g.npending.Load() > 0 {
			g.swept.Store(true)
			continue
		}
		delete(s.guests, g)
	}
	if len(s.guests) == 0 {
		s.running = false
		return
	}
	if started > 0 {
		s.interval = sweepInterval
	} else {
		s.interval = min(2*s.interval, maxSweepInterval)
	}
	s.timer.Reset(s.interval)
}

// deferWork records fn as p's work.
func (g *Guest) deferWork(p *pending, fn func()) {
	p.gen = g.h.sweep.gen.Load()
	p.fn.Store(&fn)
	g.mu.Lock()
	if g.closed {
		// release has drained the table already or is about to: the
		// resource's close takes fn and drops it.
		g.mu.Unlock()
		return
	}
	if g.pending == nil {
		g.pending = map[*pending]struct{}{}
	}
	g.pending[p] = struct{}{}
	g.npending.Add(1)
	g.mu.Unlock()
	g.h.sweep.watch(g)
}

// take returns p's work if it has not started, and forgets it.
func (g *Guest) take(p *pending) func() {
	if p.fn.Load() == nil {
		return nil
	}
	fn := p.fn.Swap(nil)
	if fn == nil {
		return nil
	}
	g.mu.Lock()
	if _, ok := g.pending[p]; ok {
		delete(g.pending, p)
		g.npending.Add(-1)
	}
	g.mu.Unlock()
	return *fn
}

// claim takes p's work to run it now, counted in g.wg (the caller calls
// Done after running it). It is counted before it is taken, under mu, so
// that release either waits for it or finds it still pending (and the
// resource's close drops it).
func (g *Guest) claim(p *pending) func() {
	if p.fn.Load() == nil {
		return nil
	}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return nil
	}
	g.wg.Add(1)
	g.mu.Unlock()
	fn := g.take(p)
	if fn == nil {
		g.wg.Done()
	}
	return fn
}

// kick starts p's work on a worker unless it has started, and reports
// whether it did.
func (g *Guest) kick(p *pending) bool {
	fn := g.claim(p)
	if fn == nil {
		return false
	}
	g.work(func() {
		defer g.wg.Done()
		fn()
	})
	return true
}

// kickAll starts every pending piece of the guest's work: the guest is
// about to wait for something else.
func (g *Guest) kickAll() { g.kickOlder(^uint64(0)) }

// kickOlder starts the guest's pending work deferred before generation
// gen, and returns how many pieces it started.
func (g *Guest) kickOlder(gen uint64) int {
	if g.npending.Load() == 0 {
		return 0
	}
	g.mu.Lock()
	ps := make([]*pending, 0, len(g.pending))
	for p := range g.pending {
		if p.gen < gen {
			ps = append(ps, p)
		}
	}
	g.mu.Unlock()
	n := 0
	for _, p := range ps {
		if g.kick(p) {
			n++
		}
	}
	return n
}

// runInline runs p's work in the calling host call, which is about to wait
// for it alone, and reports whether there was any. The call's context
// ending runs cancel, which must make the work return soon.
func (c *call) runInline(p *pending, cancel func()) bool {
	fn := c.g.claim(p)
	if fn == nil {
		return false
	}
	c.g.kickAll() // others keep going meanwhile
	stop := context.AfterFunc(c.Ctx, cancel)
	fn()
	stop()
	c.g.wg.Done()
	if c.Ctx.Err() != nil || c.g.ctx.Err() != nil {
		c.interrupted()
	}
	return true
}
