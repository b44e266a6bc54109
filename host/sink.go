package host

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
)

// sinkBudget is the most check-write grants at a time.
const sinkBudget = 64 << 10

// sinkCap is the output buffer's size. Writes collect in it while the
// previous batch is being written to the connection, so a guest that is
// faster than the connection is written in large batches (full-sized TLS
// records).
const sinkCap = 256 << 10

// maxBlockingWrite bounds one blocking-write-and-flush (WASI promises only
// 4096 bytes; a larger write is accepted here and written in one go).
const maxBlockingWrite = 16 << 20

// sinkBufs recycles output buffers: an idle stream holds none.
var sinkBufs = sync.Pool{New: func() any { return new([sinkCap]byte) }}

// sink buffers guest writes and writes them to dst from a background
// goroutine, as streams.wit has it: write starts the write (bytes go out
// without a flush, as a socket's do), and flush only waits. After flush,
// check-write grants nothing until everything written before it is out.
//
// It is double-buffered: while one batch is being written, check-write
// grants room in the next, so a guest that writes in a loop keeps the
// connection busy. The goroutine exits when it has nothing to do, and
// buffers go back to a pool, so an idle stream holds neither.
type sink struct {
	g     *Guest
	dst   io.Writer
	flush func() error // pushes a TLS layer's buffered records; may be nil
	// closeWrite ends the write side (close_notify, FIN); may be nil.
	closeWrite func() error

	mu       sync.Mutex
	buf      []byte // collecting; nil when empty
	flushReq bool   // a flush is pending: check-write grants nothing
	sending  bool   // the goroutine (or writeNow) is writing
	closing  bool   // closeWrite after the pending writes
	closed   bool   // no more writes (closed, shut down, or moved)
	err      error  // a write failed
	reported bool   // err was reported once; the stream is closed since
	permit   int64  // what is left of check-write's permit
	grant    int64  // of permit: what is reserved from the quota (see idleLocked)
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

// failLocked is what an operation reports instead of running, if anything:
// a failure once (last-operation-failed), and closed from then on, as
// streams.wit says ("After this, the stream will be closed").
func (s *sink) failLocked() error {
	if s.err != nil {
		if s.reported {
			return errSinkClosed
		}
		s.reported = true
		return s.err
	}
	if s.closed {
		return errSinkClosed
	}
	return nil
}

// setErrLocked records the first failure.
func (s *sink) setErrLocked(err error) {
	if err != nil && s.err == nil {
		s.err = err
	}
}

// checkWrite returns the permit, or the failure. (0, nil) while the
// buffer is full, the guest's buffered-bytes quota is used up, a flush is
// pending, or close_notify is. The permit is reserved from the quota, so
// the writes it allows cannot fail for want of quota.
func (s *sink) checkWrite() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.failLocked(); err != nil {
		return 0, err
	}
	if s.closing || s.flushReq {
		return 0, nil
	}
	want := s.roomLocked()
	if s.grant < want {
		s.grant += s.g.quota.reserve(want-s.grant, s, false)
		s.updateLocked()
	}
	s.permit = s.grant
	return uint64(min(s.grant, want)), nil
}

// failure returns what the next operation would report as an error (and
// counts as reporting it), without reserving a permit.
func (s *sink) failure() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failLocked()
}

// roomLocked is the most check-write may grant, quota aside.
func (s *sink) roomLocked() int64 { return int64(max(min(sinkBudget, sinkCap-len(s.buf)), 0)) }

// budget is what is left of check-write's permit (for messages).
func (s *sink) budget() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return uint64(s.permit)
}

// write appends b and starts sending it. Non-blocking, b must fit what is
// left of the permit check-write gave (else errBudget: the caller traps,
// as streams.wit says); a stream that closed since the permit reports
// closed. Blocking (the handshake adapter), b is taken whole, even past the
// quota: such writes are few and small, and the caller waits for them.
func (s *sink) write(b []byte, blocking bool) error {
	s.mu.Lock()
	if err := s.failLocked(); err != nil {
		s.mu.Unlock()
		return err
	}
	n := int64(len(b))
	switch {
	case !blocking && n > s.permit:
		s.mu.Unlock()
		return errBudget
	case !blocking && s.closing:
		s.mu.Unlock()
		return errSinkClosed
	case n == 0:
		s.mu.Unlock()
		return nil
	}
	if n > s.grant {
		// A blocking write, or the part of a permit an idle stream gave
		// back: counted now, even past the quota (at most a permit, 64 KiB,
		// per stream; the guest asked for it before).
		s.g.quota.force(n - s.grant)
		s.grant = n
	}
	s.grant -= n
	s.permit = max(s.permit-n, 0)
	if s.buf == nil {
		s.buf = sinkBufs.Get().(*[sinkCap]byte)[:0]
	}
	s.buf = append(s.buf, b...)
	s.kickLocked()
	s.mu.Unlock()
	return nil
}

// wake is called when the guest's quota has room again.
func (s *sink) wake() {
	s.mu.Lock()
	s.updateLocked()
	s.mu.Unlock()
}

var errBudget = errors.New("write exceeds the permit check-write gave")

// putBuf returns a buffer to the pool (a grown one is left to the GC).
func putBuf(b []byte) {
	if cap(b) == sinkCap {
		sinkBufs.Put((*[sinkCap]byte)(b[:sinkCap]))
	}
}

// updateLocked sets both signals from the state. Writable needs no flush
// pending, room in the buffer and in the quota (else the quota wakes the
// sink later).
func (s *sink) updateLocked() {
	s.sig.update(s.err != nil || s.closed || (!s.closing && !s.flushReq && len(s.buf) < sinkCap &&
		(s.grant > 0 || s.g.quota.available(s) > 0)))
	s.done.update(s.err != nil || (!s.sending && !s.closing && !s.flushReq))
}

// startFlush asks for what was written to be flushed: check-write grants
// nothing until it is (the permit ends here). On an idle stream with no
// TLS layer to push there is nothing to wait for.
func (s *sink) startFlush() error {
	s.mu.Lock()
	if err := s.failLocked(); err != nil {
		s.mu.Unlock()
		return err
	}
	drop := s.grant
	s.grant, s.permit = 0, 0
	if s.sending || s.closing || s.flush != nil {
		s.flushReq = true
		s.kickLocked()
	} else {
		s.updateLocked()
	}
	s.mu.Unlock()
	s.g.quota.release(drop)
	return nil
}

// kickLocked starts the goroutine unless it runs; it picks up what is asked.
func (s *sink) kickLocked() {
	if !s.sending {
		s.sending = true
		s.g.goroutine(s.run)
	}
	s.updateLocked()
}

func (s *sink) run() {
	s.mu.Lock()
	dirty := false // bytes went out since the TLS layer was last flushed
	for s.err == nil {
		if len(s.buf) > 0 {
			b := s.buf
			s.buf = nil
			s.updateLocked() // the next buffer is free for the guest
			s.mu.Unlock()
			err := safeCall(func() error { n, err := s.dst.Write(b); s.total.Add(uint64(max(n, 0))); return err })
			putBuf(b)
			s.g.quota.release(int64(len(b)))
			s.mu.Lock()
			s.setErrLocked(err)
			dirty = true
			continue
		}
		if dirty || s.flushReq {
			// Nothing more to write: a TLS layer that buffers sends
			// now too, flush or not.
			req := s.flushReq
			dirty = false
			if s.flush != nil {
				s.mu.Unlock()
				err := safeCall(s.flush)
				s.mu.Lock()
				s.setErrLocked(err)
			}
			if req && len(s.buf) == 0 {
				s.flushReq = false
			}
			continue
		}
		if s.closing {
			s.mu.Unlock()
			var cerr error
			if s.closeWrite != nil {
				cerr = safeCall(s.closeWrite)
			}
			s.mu.Lock()
			s.closing, s.closed = false, true
			s.setErrLocked(cerr)
			continue
		}
		break
	}
	// Done (or failed: what is left is never sent).
	s.closing, s.flushReq, s.sending = false, false, false
	drop := s.idleLocked()
	if s.err != nil || s.closed {
		drop += s.dropLocked()
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
// when the sink is busy; the caller waits for it instead. Closing the guest
// (or the stream's connection) ends a Write that blocks.
func (s *sink) writeNow(b []byte) (bool, error) {
	s.mu.Lock()
	if err := s.failLocked(); err != nil {
		s.mu.Unlock()
		return true, err
	}
	if s.sending || s.closing || s.flushReq || len(s.buf) > 0 {
		s.mu.Unlock()
		return false, nil
	}
	s.sending = true
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
	s.setErrLocked(err)
	if s.err == nil && (s.flushReq || s.closing || len(s.buf) > 0) {
		// Asked for meanwhile (a shutdown from the host side): the
		// goroutine takes over, still sending.
		s.g.goroutine(s.run)
		s.mu.Unlock()
		return true, s.failure0()
	}
	s.sending = false
	if s.err != nil {
		s.closing = false
	}
	drop := s.idleLocked()
	s.updateLocked()
	drained := s.drained
	if !s.closing {
		s.drained = nil
	} else {
		drained = nil
	}
	ferr := s.failure0()
	s.mu.Unlock()
	s.g.quota.release(drop)
	if drained != nil {
		drained()
	}
	return true, ferr
}

// idleLocked gives back the quota the unused rest of a permit holds once
// everything written is out, and returns how much to release. The permit
// stays (writes within it are still accepted, counted then): streams.wit
// promises a permit only for the next write, and an idle kept-alive
// connection that keeps a 64 KiB reservation would make 512 of them use up
// the default quota, after which every connection's check-write grants 0.
func (s *sink) idleLocked() int64 {
	drop := s.grant
	s.grant = 0
	return drop
}

// failure0 reports the error this call caused (once), under s.mu.
func (s *sink) failure0() error {
	if s.err != nil {
		return s.failLocked()
	}
	return nil
}

// dropLocked discards the buffer and the grant of a sink that writes no
// more, and returns the quota they held.
func (s *sink) dropLocked() int64 {
	n := int64(len(s.buf)) + s.grant
	s.permit = 0
	putBuf(s.buf)
	s.buf, s.grant = nil, 0
	return n
}

// whenDrained runs fn once nothing is buffered or being written: now, or
// from the goroutine when its current work is done.
func (s *sink) whenDrained(fn func()) {
	s.mu.Lock()
	if !s.sending && !s.closing {
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

// flushed is a waitable that is ready when everything written has been
// sent and no flush is pending (or the stream failed).
func (s *sink) flushed() waitable { return sinkFlushed{s} }

type sinkFlushed struct{ s *sink }

func (f sinkFlushed) ready() bool              { return f.s.done.isSet() }
func (f sinkFlushed) readyCh() <-chan struct{} { return f.s.done.readyCh() }
func (f sinkFlushed) watchSignal() *signal     { return &f.s.done }

// idle reports whether nothing is buffered or in flight.
func (s *sink) idle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.sending && len(s.buf) == 0 && !s.closing && !s.flushReq
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
	s.kickLocked()
	return true
}

// detach stops accepting writes (the stream was moved or dropped). Bytes
// already written are still sent, as a socket sends what was written before
// close; see Guest.afterDrain.
func (s *sink) detach() {
	s.mu.Lock()
	drop := s.grant
	s.grant, s.permit = 0, 0
	if !s.sending {
		drop += s.dropLocked()
	}
	s.closed = true
	s.updateLocked()
	s.mu.Unlock()
	s.g.quota.release(drop)
	s.g.quota.forget(s)
}
