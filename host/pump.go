package host

import (
	"fmt"
	"io"
	"sync"
)

// pumpSize is the read-ahead ring of an input stream. Reads from the source
// go into its free part, so a TLS connection that returns one record per Read
// still fills it, and one guest read can collect many records.
const pumpSize = 256 << 10

// pump reads from src in a background goroutine into a ring buffer and hands
// the bytes to the guest. The goroutine starts on first use, so an unused
// TCP input stream can still give its connection to TLS untouched.
type pump struct {
	g   *Guest
	src io.Reader

	mu      sync.Mutex
	space   sync.Cond // the goroutine waits here for free space
	buf     []byte
	r, w    uint64 // consumed and produced byte counts
	err     error  // the source's error (io.EOF at the end)
	started bool
	stopped bool
	sig     signal // ready: data or error
}

func newPump(g *Guest, src io.Reader) *pump {
	p := &pump{g: g, src: src}
	p.space.L = &p.mu
	return p
}

// startLocked starts the goroutine once.
func (p *pump) startLocked() {
	if p.started || p.stopped {
		return
	}
	p.started = true
	p.buf = make([]byte, pumpSize)
	p.g.goroutine(p.run)
}

func (p *pump) run() {
	for {
		p.mu.Lock()
		for !p.stopped && p.w-p.r == uint64(len(p.buf)) {
			p.space.Wait()
		}
		if p.stopped {
			p.mu.Unlock()
			return
		}
		start := int(p.w % uint64(len(p.buf)))
		n := min(len(p.buf)-start, len(p.buf)-int(p.w-p.r))
		seg := p.buf[start : start+n]
		p.mu.Unlock()

		// The ring segment [start, start+n) is free: the guest never reads it
		// until w moves past it.
		k, err := safeRead(p.src, seg)

		p.mu.Lock()
		p.w += uint64(k)
		if err != nil && p.err == nil {
			p.err = err
		}
		stop := p.err != nil || p.stopped
		p.sig.update(p.w > p.r || p.err != nil)
		p.mu.Unlock()
		if stop {
			return
		}
	}
}

func (p *pump) ready() bool {
	p.mu.Lock()
	p.startLocked()
	p.mu.Unlock()
	return p.sig.isSet()
}

func (p *pump) readyCh() <-chan struct{} {
	p.mu.Lock()
	p.startLocked()
	p.mu.Unlock()
	return p.sig.readyCh()
}

// peek returns up to max buffered bytes as at most two views of the ring
// (valid until consume), or the source's error when nothing is buffered.
func (p *pump) peek(max uint64) (a, b []byte, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.startLocked()
	avail := p.w - p.r
	if avail == 0 {
		if p.stopped && p.err == nil {
			return nil, nil, io.ErrClosedPipe
		}
		return nil, nil, p.err
	}
	n := min(avail, max)
	size := uint64(len(p.buf))
	start := p.r % size
	if start+n <= size {
		return p.buf[start : start+n], nil, nil
	}
	return p.buf[start:], p.buf[:n-(size-start)], nil
}

// consume marks n peeked bytes as read.
func (p *pump) consume(n uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	full := p.w-p.r == uint64(len(p.buf))
	p.r += n
	if full && n > 0 {
		p.space.Signal()
	}
	p.sig.update(p.w > p.r || p.err != nil)
}

// stop ends the goroutine at its next wake-up; the owner closes src to
// unblock a Read in progress.
func (p *pump) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = true
	p.space.Broadcast()
	p.sig.update(true)
}

// untouched reports whether the goroutine never started (the source has not
// been read).
func (p *pump) untouched() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.started
}

// detachIfUntouched stops the pump before it ever read, so that its source
// can be handed on whole. It reports whether that was possible.
func (p *pump) detachIfUntouched() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started {
		return false
	}
	p.stopped = true
	return true
}

// safeRead calls r.Read, turning a panic (a broken provider) into an error
// so that it fails the stream instead of the process.
func safeRead(r io.Reader, p []byte) (n int, err error) {
	defer func() {
		if v := recover(); v != nil {
			n, err = 0, fmt.Errorf("wasitls: read panicked: %v", v)
		}
	}()
	n, err = r.Read(p)
	if n < 0 || n > len(p) {
		return 0, fmt.Errorf("wasitls: read returned %d for a %d-byte buffer", n, len(p))
	}
	return n, err
}

// safeCall is safeRead for writes, flushes and closes.
func safeCall(fn func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("wasitls: stream operation panicked: %v", v)
		}
	}()
	return fn()
}
