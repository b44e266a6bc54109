package host

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
)

// sinkBudget is the most check-write grants at a time.
const sinkBudget = 64 << 10

// sinkCap is the output buffer's size. Writes collect in it; a flush hands
// it to the connection in one Write (so TLS records are full-sized), and
// while one is being written the next collects up to sinkCap: a guest that
// is faster than the connection is written in large batches.
const sinkCap = 256 << 10

// maxBlockingWrite bounds one blocking-write-and-flush (WASI promises only
// 4096 bytes; a larger write is accepted here and written in one go).
const maxBlockingWrite = 16 << 20

// sinkBufs recycles output buffers: an idle stream holds none.
var sinkBufs = sync.Pool{New: func() any { return new([sinkCap]byte) }}

// sink buffers guest writes and writes them to dst from a background
// goroutine on flush.
//
// It is double-buffered: while one buffer is being written, check-write
// grants the next one, so a guest that writes and flushes in a loop keeps
// the connection busy. The goroutine exits when it has nothing to do, and
// buffers go back to a pool, so an idle stream holds neither.
type sink struct {
	g     *Guest
	dst   io.Writer
	flush func() error // pushes a TLS layer's buffered records; may be nil
	// closeWrite ends the write side (close_notify, FIN); may be nil.
	closeWrite func() error

	mu       sync.Mutex
	buf      []byte // collecting; nil when empty
	flushReq bool   // the guest asked to flush buf
	flushing bool   // the goroutine is running
	closing  bool   // closeWrite after the pending writes
	closed   bool   // no more writes (closed, shut down, or moved)
	err      error  // the last write failed
	grant    int64  // quota reserved for writes check-write allowed
	sig      signal // ready: can write (budget > 0), failed or closed
	done     signal // flushed: nothing asked for is in flight
	drained  func() // run once the goroutine has nothing left to do

	total atomic.Uint64 // bytes written to dst (ConnEvent.BytesOut)
}

func newSink(g *Guest, dst io.Writer, flush, closeWrite func() error) *sink {
	s := &sink{g: g, dst: dst, flush: flush, closeWrite: closeWrite}
	s.sig.update(true)
	s.done.update(true)
	return s
}

var errSinkClosed = errors.New("output stream closed")

// checkWrite returns the budget, or the failure. (0, nil) while the
// buffer is full, the guest's buffered-bytes quota is used up, or
// close_notify is pending. The budget is reserved from the quota, so the
// write it allows cannot fail for want of quota.
func (s *sink) checkWrite() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.err != nil:
		return 0, s.err
	case s.closed:
		return 0, errSinkClosed
	case s.closing:
		return 0, nil
	}
	want := s.roomLocked()
	if s.grant < want {
		s.grant += s.g.quota.reserve(want-s.grant, s, false)
		s.updateLocked()
	}
	return uint64(min(s.grant, want)), nil
}

// failure returns what check-write would report as an error, without
// reserving a budget.
func (s *sink) failure() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if s.closed {
		return errSinkClosed
	}
	return nil
}

// roomLocked is the most check-write may grant, quota aside.
func (s *sink) roomLocked() int64 { return int64(max(min(sinkBudget, sinkCap-len(s.buf)), 0)) }

// budget is check-write's budget without reserving (for messages).
func (s *sink) budget() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return uint64(min(s.grant, s.roomLocked()))
}

// write appends b. Non-blocking, b must fit the budget check-write granted
// (else errBudget; the caller traps); a guest that writes more than one
// chunk per check-write gets the rest from the quota when it has room.
// Blocking (the handshake adapter), b is taken whole, even past the quota:
// such writes are few and small, and the caller waits for them to be sent.
func (s *sink) write(b []byte, blocking bool) error {
	s.mu.Lock()
	switch {
	case s.err != nil:
		s.mu.Unlock()
		return s.err
	case s.closed:
		s.mu.Unlock()
		return errSinkClosed
	case !blocking && (s.closing || int64(len(b)) > s.roomLocked()):
		s.mu.Unlock()
		return errBudget
	}
	if len(b) == 0 {
		s.mu.Unlock()
		return nil
	}
	n := int64(len(b))
	if n > s.grant {
		if blocking {
			s.g.quota.force(n - s.grant)
			s.grant = n
		} else if s.grant += s.g.quota.reserve(n-s.grant, nil, false); n > s.grant {
			s.mu.Unlock()
			return errBudget
		}
	}
	// The permit was for this write; what is left of it goes back.
	rest := s.grant - n
	s.grant = 0
	if s.buf == nil {
		s.buf = sinkBufs.Get().(*[sinkCap]byte)[:0]
	}
	s.buf = append(s.buf, b...)
	s.updateLocked()
	s.mu.Unlock()
	s.g.quota.release(rest)
	return nil
}

// wake is called when the guest's quota has room again.
func (s *sink) wake() {
	s.mu.Lock()
	s.updateLocked()
	s.mu.Unlock()
}

var errBudget = errors.New("write exceeds the budget check-write granted")

// putBuf returns a buffer to the pool (a grown one is left to the GC).
func putBuf(b []byte) {
	if cap(b) == sinkCap {
		sinkBufs.Put((*[sinkCap]byte)(b[:sinkCap]))
	}
}

// updateLocked sets both signals from the state. Writable needs room in
// the buffer and in the quota (else the quota wakes the sink later).
func (s *sink) updateLocked() {
	s.sig.update(s.err != nil || s.closed || (!s.closing && len(s.buf) < sinkCap &&
		(s.grant > 0 || s.g.quota.available(s) > 0)))
	s.done.update(s.err != nil || (!s.flushing && !s.closing && !s.flushReq))
}

// startFlush asks the goroutine to write the buffer. With nothing buffered
// it still flushes the TLS layer.
func (s *sink) startFlush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if s.closed {
		return errSinkClosed
	}
	s.flushReq = true
	s.kickLocked()
	return nil
}

// kickLocked starts the goroutine unless it runs; it picks up what is asked.
func (s *sink) kickLocked() {
	if !s.flushing {
		s.flushing = true
		s.g.goroutine(s.run)
	}
	s.updateLocked()
}

func (s *sink) run() {
	s.mu.Lock()
	for {
		if s.err == nil && s.flushReq {
			b := s.buf
			s.buf, s.flushReq = nil, false
			s.updateLocked() // the next buffer is free for the guest
			s.mu.Unlock()
			var err error
			if len(b) > 0 {
				err = safeCall(func() error { n, err := s.dst.Write(b); s.total.Add(uint64(max(n, 0))); return err })
				putBuf(b)
				s.g.quota.release(int64(len(b)))
			}
			if err == nil && s.flush != nil {
				err = safeCall(s.flush)
			}
			s.mu.Lock()
			if err != nil && s.err == nil {
				s.err = err
			}
			continue
		}
		if s.closing && s.err == nil {
			s.mu.Unlock()
			var cerr error
			if s.closeWrite != nil {
				cerr = safeCall(s.closeWrite)
			}
			s.mu.Lock()
			s.closing, s.closed = false, true
			if cerr != nil && s.err == nil {
				s.err = cerr
			}
			continue
		}
		break
	}
	// Done (or failed: what is left is never sent).
	s.closing, s.flushReq, s.flushing = false, false, false
	var drop int64
	if s.err != nil || s.closed {
		drop = s.dropLocked()
	}
	s.updateLocked()
	drained := s.drained
	s.drained = nil
	s.mu.Unlock()
	s.g.quota.release(drop)
	if drained != nil {
		drained()
	}
}

// writeNow writes b and flushes, from the calling goroutine, when nothing is
// buffered or in flight: a blocking write, whose guest waits anyway, then
// costs no copy and no goroutine. It reports false, having done nothing,
// when the sink is busy; the caller queues b instead. Closing the guest (or
// the stream's connection) ends a Write that blocks.
func (s *sink) writeNow(b []byte) (bool, error) {
	s.mu.Lock()
	switch {
	case s.err != nil:
		s.mu.Unlock()
		return true, s.err
	case s.closed:
		s.mu.Unlock()
		return true, errSinkClosed
	case s.flushing || s.closing || len(s.buf) > 0:
		s.mu.Unlock()
		return false, nil
	}
	s.flushing = true
	s.updateLocked()
	s.mu.Unlock()

	var err error
	if len(b) > 0 {
		err = safeCall(func() error { n, err := s.dst.Write(b); s.total.Add(uint64(max(n, 0))); return err })
	}
	if err == nil && s.flush != nil {
		err = safeCall(s.flush)
	}

	s.mu.Lock()
	if err != nil && s.err == nil {
		s.err = err
	}
	if s.err == nil && (s.flushReq || s.closing) {
		// Asked for meanwhile (a shutdown from the host side): the
		// goroutine takes over, still flushing.
		s.g.goroutine(s.run)
		s.mu.Unlock()
		return true, err
	}
	s.flushing = false
	if s.err != nil {
		s.closing = false
	}
	s.updateLocked()
	drained := s.drained
	if !s.closing {
		s.drained = nil
	} else {
		drained = nil
	}
	s.mu.Unlock()
	if drained != nil {
		drained()
	}
	return true, err
}

// dropLocked discards the buffer and the grant of a sink that writes no
// more, and returns the quota they held.
func (s *sink) dropLocked() int64 {
	n := int64(len(s.buf)) + s.grant
	putBuf(s.buf)
	s.buf, s.grant = nil, 0
	return n
}

// whenDrained runs fn once nothing is buffered or being written: now, or
// from the goroutine when its current work is done.
func (s *sink) whenDrained(fn func()) {
	s.mu.Lock()
	if !s.flushing && !s.closing {
		s.mu.Unlock()
		fn()
		return
	}
	s.drained = fn
	s.mu.Unlock()
}

// ready: the guest may write (or will learn of a failure).
func (s *sink) ready() bool              { return s.sig.isSet() }
func (s *sink) readyCh() <-chan struct{} { return s.sig.readyCh() }
func (s *sink) watchSignal() *signal     { return &s.sig }

// flushed is a waitable that is ready when everything the guest asked to
// flush has been written (or the stream failed or closed).
func (s *sink) flushed() waitable { return sinkFlushed{s} }

type sinkFlushed struct{ s *sink }

func (f sinkFlushed) ready() bool              { return f.s.done.isSet() }
func (f sinkFlushed) readyCh() <-chan struct{} { return f.s.done.readyCh() }
func (f sinkFlushed) watchSignal() *signal     { return &f.s.done }

// idle reports whether nothing is buffered or in flight.
func (s *sink) idle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.flushing && len(s.buf) == 0 && !s.closing
}

// finish queues closeWrite after the pending writes (close-output,
// shutdown). It reports false when the sink no longer writes (closed,
// failed, or handed on), so the caller ends the write side itself.
func (s *sink) finish() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return true
	}
	if s.closed || s.err != nil {
		return false
	}
	s.closing = true
	if len(s.buf) > 0 {
		s.flushReq = true
	}
	s.kickLocked()
	return true
}

// detach stops accepting writes (the stream was moved or dropped). Bytes
// already written are still sent, as a socket sends what was written before
// close; see Guest.afterDrain.
func (s *sink) detach() {
	s.mu.Lock()
	var drop int64
	if len(s.buf) > 0 && !s.closed && s.err == nil {
		s.flushReq = true
		s.kickLocked()
		drop, s.grant = s.grant, 0
	} else if !s.flushing {
		drop = s.dropLocked()
	} else {
		drop, s.grant = s.grant, 0
	}
	s.closed = true
	s.updateLocked()
	s.mu.Unlock()
	s.g.quota.release(drop)
	s.g.quota.forget(s)
}
