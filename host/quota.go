package host

import "sync"

// waker is something blocked on the buffered-bytes quota (a pump or a
// sink) that must re-check once bytes are given back.
type waker interface{ wake() }

// quota counts the bytes one guest's stream buffers hold or have reserved
// (pump read-ahead, sink buffers and check-write grants), up to limit.
//
// Two classes share it so that a stream the guest waits on is never starved
// by other streams' unread data: read-ahead into rings and sink buffers
// ("bulk") may fill it only up to limit minus headSize per running pump;
// that rest (at most half the limit) is for head reads, which each pump
// does only into its small head buffer and only while the guest has read
// everything else it had. So every empty stream can take in its next bytes.
//
// Lock order: a pump's or sink's mutex, then q.mu. wake is called with no
// lock held, so release must not be called under a pump's or sink's lock.
type quota struct {
	limit int64

	mu      sync.Mutex
	used    int64
	peak    int64 // the most used ever (tests)
	pumps   int64 // running pumps, each entitled to a head read
	waiters map[waker]struct{}
}

func newQuota(limit int) *quota { return &quota{limit: int64(limit)} }

// reserve takes up to n bytes and returns how many it got: of the bulk
// class, or, with head, of the whole limit. When it gets nothing and w is
// not nil, w is woken after the next release.
func (q *quota) reserve(n int64, w waker, head bool) int64 {
	if n <= 0 {
		return 0
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	got := min(n, q.boundLocked(head)-q.used)
	if got <= 0 {
		q.watchLocked(w)
		return 0
	}
	q.used += got
	q.peak = max(q.peak, q.used)
	return got
}

func (q *quota) boundLocked(head bool) int64 {
	if head {
		return q.limit
	}
	// At most half is kept for head reads, so that writes and read-ahead
	// always have room, even with thousands of streams.
	return q.limit - min(q.pumps*headSize, q.limit/2)
}

// pumpStarted and pumpStopped count running pumps.
func (q *quota) pumpStarted() { q.mu.Lock(); q.pumps++; q.mu.Unlock() }
func (q *quota) pumpStopped() { q.mu.Lock(); q.pumps--; q.mu.Unlock() }

// force takes n bytes even past the limit (see sink.write).
func (q *quota) force(n int64) {
	q.mu.Lock()
	q.used += n
	q.peak = max(q.peak, q.used)
	q.mu.Unlock()
}

// available returns how many bulk bytes could be reserved now; at 0 it
// makes w (if not nil) be woken after the next release.
func (q *quota) available(w waker) int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	a := q.boundLocked(false) - q.used
	if a <= 0 {
		q.watchLocked(w)
		return 0
	}
	return a
}

func (q *quota) watchLocked(w waker) {
	if w == nil {
		return
	}
	if q.waiters == nil {
		q.waiters = map[waker]struct{}{}
	}
	q.waiters[w] = struct{}{}
}

// release gives n bytes back and wakes whoever waited for room.
func (q *quota) release(n int64) {
	if n <= 0 {
		return
	}
	q.mu.Lock()
	q.used -= n
	if q.used < 0 {
		panic("wasitls: buffered-bytes quota released more than reserved")
	}
	var ws map[waker]struct{}
	if len(q.waiters) > 0 {
		ws = q.waiters
		q.waiters = nil
	}
	q.mu.Unlock()
	for w := range ws {
		w.wake()
	}
}

// forget drops w from the waiters (it closed).
func (q *quota) forget(w waker) {
	q.mu.Lock()
	delete(q.waiters, w)
	q.mu.Unlock()
}

func (q *quota) inUse() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.used
}
