package host

import (
	"context"
	"sync"
	"time"
)

// deadlines ends handshake contexts at their deadlines with one timer for
// the whole host instead of one per handshake. Arming a runtime timer on
// a P with none wakes an idle P to watch it (runtime.wakeNetPoller): with
// context.WithTimeout per handshake, every connection woke the other CPU
// for nothing, and the netpoller it left behind then moved the guest's
// goroutine between threads (cold caches) on its next read. Here the timer
// is armed for the earliest deadline and left alone while later ones come
// and go; when it fires it ends what is due and re-arms for what is left.
// A context never ends before its deadline, and at most timer latency
// after it.
type deadlines struct {
	mu    sync.Mutex
	set   map[*deadlineCtx]struct{}
	timer *time.Timer
	armed time.Time // when timer fires; zero when it is not armed
}

// deadlineCtx is a context that ends at its deadline (Err then reports
// context.DeadlineExceeded, as a context.WithTimeout one would) or with its
// parent. It reports its deadline, so that a provider using
// backendkit.WithTimeout arms no timer of its own.
type deadlineCtx struct {
	context.Context // the *cancelCtx it ends through: Done, Value, AfterFunc
	cancel          context.CancelCauseFunc
	at              time.Time
}

func (d *deadlineCtx) Deadline() (time.Time, bool) { return d.at, true }

func (d *deadlineCtx) Err() error {
	err := d.Context.Err()
	if err != nil && context.Cause(d.Context) == context.DeadlineExceeded {
		return context.DeadlineExceeded
	}
	return err
}

// withTimeout is context.WithTimeout(parent, timeout) without a timer of
// its own. cancel ends the context and forgets it.
func (w *deadlines) withTimeout(parent context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	at := time.Now().Add(timeout)
	if pd, ok := parent.Deadline(); ok && !pd.After(at) {
		return context.WithCancel(parent) // the parent ends first anyway
	}
	inner, cancel := context.WithCancelCause(parent)
	d := &deadlineCtx{Context: inner, cancel: cancel, at: at}
	w.add(d)
	return d, func() {
		w.remove(d)
		cancel(context.Canceled)
	}
}

func (w *deadlines) add(d *deadlineCtx) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.set == nil {
		w.set = map[*deadlineCtx]struct{}{}
	}
	w.set[d] = struct{}{}
	if w.armed.IsZero() || d.at.Before(w.armed) {
		w.arm(d.at)
	}
}

func (w *deadlines) remove(d *deadlineCtx) {
	w.mu.Lock()
	delete(w.set, d)
	w.mu.Unlock()
}

// arm sets the timer to fire at at; w.mu is held.
func (w *deadlines) arm(at time.Time) {
	w.armed = at
	if w.timer == nil {
		w.timer = time.AfterFunc(time.Until(at), w.fire)
		return
	}
	w.timer.Reset(time.Until(at))
}

// stop disarms the timer if nothing is watched, so that a closed Host is
// not kept (by its timer) until the last deadline it armed for.
func (w *deadlines) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.set) == 0 && w.timer != nil {
		w.timer.Stop()
		w.armed = time.Time{}
	}
}

// fire ends the contexts that are due and re-arms for the earliest left.
func (w *deadlines) fire() {
	now := time.Now()
	var due []*deadlineCtx
	w.mu.Lock()
	var next time.Time
	for d := range w.set {
		if !now.Before(d.at) {
			due = append(due, d)
			delete(w.set, d)
		} else if next.IsZero() || d.at.Before(next) {
			next = d.at
		}
	}
	w.armed = time.Time{}
	if !next.IsZero() {
		w.arm(next)
	}
	w.mu.Unlock()
	for _, d := range due {
		d.cancel(context.DeadlineExceeded)
	}
}
