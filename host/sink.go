package host

import (
	"errors"
	"io"
	"sync"
)

// sinkBudget is what check-write grants: the output buffer's size. Writes
// collect up to it, then one flush hands them to the connection in one
// Write, so TLS records are full-sized.
const sinkBudget = 64 << 10

// maxBlockingWrite bounds one blocking-write-and-flush (WASI promises only
// 4096 bytes; a larger write is accepted here and written in one go).
const maxBlockingWrite = 16 << 20

// sink buffers guest writes and writes them to dst from a background
// goroutine on flush.
type sink struct {
	g     *Guest
	dst   io.Writer
	flush func() error // pushes a TLS layer's buffered records; may be nil
	// closeWrite ends the write side (close_notify, FIN); may be nil.
	closeWrite func() error

	mu       sync.Mutex
	buf      []byte // collecting
	spare    []byte // the previous buffer, reused
	flushing bool   // the goroutine is writing
	closing  bool   // closeWrite after the current flush
	closed   bool   // no more writes (closed, shut down, or moved)
	err      error  // the last write failed
	started  bool
	kick     chan []byte
	sig      signal // ready: can write (budget > 0), failed or closed
	drained  func() // run once the goroutine has nothing left to do
}

func newSink(g *Guest, dst io.Writer, flush, closeWrite func() error) *sink {
	s := &sink{g: g, dst: dst, flush: flush, closeWrite: closeWrite}
	s.sig.update(true)
	return s
}

var errSinkClosed = errors.New("output stream closed")

// checkWrite returns the budget, or the failure. (0, nil) while flushing.
func (s *sink) checkWrite() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.err != nil:
		return 0, s.err
	case s.closed:
		return 0, errSinkClosed
	case s.flushing || s.closing:
		return 0, nil
	}
	return uint64(sinkBudget - len(s.buf)), nil
}

// write appends b. It returns errBudget when b exceeds check-write's budget
// (the caller traps), unless blocking.
func (s *sink) write(b []byte, blocking bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.err != nil:
		return s.err
	case s.closed:
		return errSinkClosed
	case !blocking && (s.flushing || s.closing || len(b) > sinkBudget-len(s.buf)):
		return errBudget
	}
	if s.buf == nil {
		s.buf = s.spare[:0]
		s.spare = nil
		if cap(s.buf) < sinkBudget {
			s.buf = make([]byte, 0, sinkBudget)
		}
	}
	s.buf = append(s.buf, b...)
	if len(s.buf) >= sinkBudget {
		s.sig.update(false)
	}
	return nil
}

var errBudget = errors.New("write exceeds the budget check-write granted")

// startFlush hands the buffer to the goroutine. With nothing buffered it
// still flushes the TLS layer.
func (s *sink) startFlush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if s.closed {
		return errSinkClosed
	}
	if s.flushing {
		return nil
	}
	return s.startLocked()
}

func (s *sink) startLocked() error {
	if !s.started {
		s.started = true
		s.kick = make(chan []byte, 1)
		s.g.goroutine(s.run)
	}
	s.flushing = true
	s.sig.update(false)
	b := s.buf
	s.buf = nil
	s.kick <- b
	return nil
}

func (s *sink) run() {
	for {
		var b []byte
		select {
		case b = <-s.kick:
		case <-s.g.ctx.Done():
			return
		}
		var err error
		if len(b) > 0 {
			err = safeCall(func() error { _, err := s.dst.Write(b); return err })
		}
		if err == nil && s.flush != nil {
			err = safeCall(s.flush)
		}
		s.mu.Lock()
		if b != nil {
			s.spare = b[:0]
		}
		if err != nil && s.err == nil {
			s.err = err
		}
		if s.closing && s.err == nil {
			s.mu.Unlock()
			var cerr error
			if s.closeWrite != nil {
				cerr = safeCall(s.closeWrite)
			}
			s.mu.Lock()
			s.closing = false
			s.closed = true
			if cerr != nil && s.err == nil {
				s.err = cerr
			}
		}
		s.flushing = false
		if len(s.buf) > 0 && s.err == nil && !s.closed {
			// Writes that arrived in blocking mode during the flush.
			s.flushing = true
			next := s.buf
			s.buf = nil
			s.kick <- next
		}
		s.sig.update(!s.flushing)
		var drained func()
		if !s.flushing && !s.closing && s.drained != nil {
			drained, s.drained = s.drained, nil
		}
		s.mu.Unlock()
		if drained != nil {
			drained()
		}
	}
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
	if !s.flushing {
		_ = s.startLocked()
	}
	return true
}

// detach stops accepting writes (the stream was moved or dropped). Bytes
// already written are still sent, as a socket sends what was written before
// close; see Guest.afterDrain.
func (s *sink) detach() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.buf) > 0 && !s.flushing && !s.closed && s.err == nil {
		_ = s.startLocked()
	}
	s.closed = true
	s.sig.update(true)
}
