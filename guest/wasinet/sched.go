package wasinet

import (
	"context"
	"os"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasitls/wasitls/guest/clocks/monotonic"
	"github.com/wasitls/wasitls/guest/io/poll"
)

// defaultTimerSlack bounds one blocking poll, so Go timers of goroutines that
// do not wait through this package (time.Sleep, context deadlines) fire at
// most this late while the guest waits for the network.
const defaultTimerSlack = 20 * time.Millisecond

var timerSlack atomic.Int64

func init() { timerSlack.Store(int64(defaultTimerSlack)) }

// SetTimerSlack sets how long one blocking wait on the host may last at
// most (default 20 ms, at least 1 ms). While a goroutine waits for the
// network and no other goroutine can run, the guest sleeps inside
// wasi:io/poll; Go timers cannot fire during that call, so they fire up to
// this much late. A longer slack means fewer idle wake-ups.
func SetTimerSlack(d time.Duration) {
	timerSlack.Store(int64(max(d, time.Millisecond)))
}

// Stats counts what the poller did, for measurements.
type Stats struct {
	Polls         uint64 // poller rounds (each checks every waiter's pollable.ready)
	BlockingPolls uint64 // rounds that called wasi:io/poll to wait
	Wakeups       uint64 // waiters woken because their pollable was ready
	Timeouts      uint64 // waiters woken because their deadline passed
	Parks         uint64 // waits that did not find their pollable ready at once
}

var stats struct {
	polls, blocking, wakeups, timeouts, parks atomic.Uint64
}

// ReadStats returns the poller's counters since the program started.
func ReadStats() Stats {
	return Stats{
		Polls:         stats.polls.Load(),
		BlockingPolls: stats.blocking.Load(),
		Wakeups:       stats.wakeups.Load(),
		Timeouts:      stats.timeouts.Load(),
		Parks:         stats.parks.Load(),
	}
}

// deadline is a connection's read or write deadline as a monotonic-clock
// instant (0: none). The poller reads it on every round, so changing it
// while a goroutine waits takes effect at once.
type deadline struct{ at atomic.Uint64 }

func (d *deadline) set(t time.Time) { d.at.Store(instantOf(t)) }

func (d *deadline) expired() bool {
	at := d.at.Load()
	return at != 0 && uint64(monotonic.Now()) >= at
}

// instantOf converts a wall-clock deadline to the host's monotonic clock.
func instantOf(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	return max(uint64(monotonic.Now())+uint64(max(time.Until(t), 0)), 1)
}

// waiter is a goroutine parked until p is ready or a deadline passes.
type waiter struct {
	p     poll.Pollable
	dl    *deadline // the connection's deadline; may be nil
	until uint64    // a context's deadline; 0: none
	owner any       // what cancel(owner) wakes (a connection)
	done  chan error
}

func (w *waiter) due() uint64 {
	at := w.until
	if w.dl != nil {
		if d := w.dl.at.Load(); d != 0 && (at == 0 || d < at) {
			at = d
		}
	}
	return at
}

// expiry is the error a due waiter gets: a connection deadline is
// os.ErrDeadlineExceeded, a context deadline is context.DeadlineExceeded.
func (w *waiter) expiry(now uint64) error {
	if w.dl != nil {
		if d := w.dl.at.Load(); d != 0 && now >= d {
			return os.ErrDeadlineExceeded
		}
	}
	return context.DeadlineExceeded
}

var sched struct {
	mu      sync.Mutex
	ws      []*waiter
	started bool
	kick    chan struct{} // wakes the parked poller
	list    []poll.Pollable
}

// await parks the calling goroutine until p is ready (nil), dl passes
// (os.ErrDeadlineExceeded), ctx ends (its error) or cancel(owner) is called
// (that error). Other goroutines keep running meanwhile.
func await(ctx context.Context, p poll.Pollable, dl *deadline, owner any) error {
	return enqueue(ctx, p, dl, owner).wait(ctx)
}

// enqueue registers a waiter. A connection calls it with its own lock held,
// so that its Close (which cancels under that lock) either comes first and
// is seen, or finds the waiter and removes it before dropping p.
//
// There is no p.Ready() fast path: callers come here right after a
// non-blocking attempt failed, so it would almost always be a wasted call.
func enqueue(ctx context.Context, p poll.Pollable, dl *deadline, owner any) *waiter {
	stats.parks.Add(1)
	w := &waiter{p: p, dl: dl, owner: owner, done: make(chan error, 1)}
	if ctx != nil {
		if err := ctx.Err(); err != nil {
			w.done <- err
			return w
		}
		if t, ok := ctx.Deadline(); ok {
			w.until = instantOf(t)
		}
	}
	sched.mu.Lock()
	sched.ws = append(sched.ws, w)
	if !sched.started {
		sched.started = true
		sched.kick = make(chan struct{}, 1)
		go pollLoop()
	}
	sched.mu.Unlock()
	select {
	case sched.kick <- struct{}{}:
	default: // the poller is awake already
	}
	return w
}

// wait parks until the poller, cancel or ctx ends the wait.
func (w *waiter) wait(ctx context.Context) error {
	var ctxDone <-chan struct{}
	if ctx != nil {
		ctxDone = ctx.Done()
	}
	select {
	case err := <-w.done:
		return err
	case <-ctxDone:
		if remove(w) {
			return ctx.Err()
		}
		return <-w.done // woken meanwhile
	}
}

// remove takes w off the list; false if it was woken already.
func remove(w *waiter) bool {
	sched.mu.Lock()
	defer sched.mu.Unlock()
	for i, x := range sched.ws {
		if x == w {
			n := len(sched.ws)
			copy(sched.ws[i:], sched.ws[i+1:])
			sched.ws[n-1] = nil
			sched.ws = sched.ws[:n-1]
			return true
		}
	}
	return false
}

// cancel wakes every waiter of owner with err and forgets their pollables,
// so the caller may drop them.
func cancel(owner any, err error) {
	sched.mu.Lock()
	defer sched.mu.Unlock()
	keep := sched.ws[:0]
	for _, w := range sched.ws {
		if w.owner == owner {
			w.done <- err
			continue
		}
		keep = append(keep, w)
	}
	clear(sched.ws[len(keep):])
	sched.ws = keep
}

// pollLoop is the poller goroutine; pollOnce describes a round. A round
// may wait in the host only when no other goroutine is runnable.
//
// With nobody waiting it parks on sched.kick (no host call, no CPU); it
// lives as long as the program, so a wait never pays for starting it.
func pollLoop() {
	for {
		block := !othersRunnable()
		sched.mu.Lock()
		if len(sched.ws) == 0 {
			sched.mu.Unlock()
			<-sched.kick
			continue
		}
		pollOnce(block)
		sched.mu.Unlock()
		// Let the woken goroutines, and anyone else, run before the next
		// round: the poller itself is the lowest-priority work there is.
		runtime.Gosched()
	}
}

// pollOnce runs one round with sched.mu held and returns how many waiters
// it woke. pollable.ready is checked first: it costs a fraction of a poll
// call, whose result list the host has to allocate through cabi_realloc.
// Only when nothing is ready and block is set does it call poll, with a
// timer for the nearest deadline or the timer slack.
func pollOnce(block bool) int {
	now := uint64(monotonic.Now())
	woke := expire(now)
	for i, w := range sched.ws {
		if w.p.Ready() {
			w.done <- nil
			sched.ws[i] = nil
			woke++
			stats.wakeups.Add(1)
		}
	}
	if woke > 0 {
		compact()
		return woke
	}
	stats.polls.Add(1)
	if !block || len(sched.ws) == 0 {
		return 0
	}
	list := sched.list[:0]
	next := uint64(0)
	for _, w := range sched.ws {
		list = append(list, w.p)
		if at := w.due(); at != 0 && (next == 0 || at < next) {
			next = at
		}
	}
	d := time.Duration(timerSlack.Load())
	if next != 0 {
		d = min(d, time.Duration(next-now))
	}
	timer := monotonic.SubscribeDuration(d)
	list = append(list, timer)
	sched.list = list
	stats.blocking.Add(1)
	ready := poll.Poll(list...)
	timer.Drop()
	n := len(sched.ws)
	for _, i := range ready {
		if int(i) < n && sched.ws[i] != nil {
			sched.ws[i].done <- nil
			sched.ws[i] = nil
			woke++
			stats.wakeups.Add(1)
		}
	}
	compact()
	return woke + expire(uint64(monotonic.Now()))
}

// compact drops the woken (nil) waiters from the list.
func compact() {
	keep := sched.ws[:0]
	for _, w := range sched.ws {
		if w != nil {
			keep = append(keep, w)
		}
	}
	clear(sched.ws[len(keep):])
	sched.ws = keep
}

// expire wakes the waiters whose deadline has passed.
func expire(now uint64) int {
	n := 0
	keep := sched.ws[:0]
	for _, w := range sched.ws {
		if at := w.due(); at != 0 && now >= at {
			w.done <- w.expiry(now)
			n++
			stats.timeouts.Add(1)
			continue
		}
		keep = append(keep, w)
	}
	clear(sched.ws[len(keep):])
	sched.ws = keep
	return n
}

var runnable = []metrics.Sample{{Name: "/sched/goroutines/runnable:goroutines"}}

// othersRunnable reports whether another goroutine is waiting for the CPU.
// The poller has just yielded, so usually nobody is; the run-queue count
// catches goroutines made runnable behind it (e.g. by an expired timer).
func othersRunnable() bool {
	metrics.Read(runnable)
	v := runnable[0].Value
	return v.Kind() == metrics.KindUint64 && v.Uint64() > 0
}
