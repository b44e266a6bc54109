package host

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
)

// pumpSize is the read-ahead ring of an input stream. Reads from the source
// go into its free part, so a TLS connection that returns one record per Read
// still fills it, and one guest read can collect many records.
const pumpSize = 256 << 10

// headSize is the small buffer a pump reads into when nobody is waiting and
// nothing is buffered: an idle connection parks its read there instead of
// in a ring.
const headSize = 1 << 10

// bulkRead is the size from which a read counts as part of a bulk transfer
// (so does a read that filled its buffer): after such a read the pump keeps
// reading ahead into the ring; after a smaller one (a short message, most
// likely) it parks the next read in the head.
const bulkRead = 4 << 10

// rings recycles read-ahead rings: an idle stream holds none.
var rings = sync.Pool{New: func() any { return new([pumpSize]byte) }}

// pump reads from src in a background goroutine and hands the bytes to the
// guest. The goroutine starts on first use, so an unused TCP input stream
// can still give its connection to TLS untouched.
//
// Memory follows the traffic: during a transfer the goroutine reads ahead
// into a ring (from a pool); once the guest has drained it and nobody waits,
// the ring goes back to the pool and the goroutine parks its Read in a small
// head buffer, as a native program parks a goroutine in Read.
type pump struct {
	g   *Guest
	src io.Reader

	mu        sync.Mutex
	space     sync.Cond // the goroutine waits here for free space
	ring      *[pumpSize]byte
	r, w      uint64 // ring: consumed and produced byte counts
	head      []byte // head[hr:hw] is buffered, ahead of the ring's bytes
	hr, hw    int
	reading   int8 // readNone, readHead, readRing
	bulk      bool // the last read was large: keep reading ahead
	err       error
	reported  bool        // err was reported once (see peek)
	discarded bool        // shutdown(receive): buffered bytes are dropped
	queued    func() int  // bytes waiting in src's socket (gatherLocked); nil: never read inline
	gatherMin int         // queued bytes that let a Read of src return without waiting
	used      bool        // src was read from (by either reader)
	started   atomic.Bool // the goroutine was started; read by ready without the lock
	stopped   bool
	held      int64  // bytes counted against the guest's quota
	pending   int64  // of held: reserved for the read in progress
	sig       signal // ready: data or error

	total atomic.Uint64 // bytes read from src (ConnEvent.BytesIn)
}

const (
	readNone int8 = iota
	readHead
	readRing
)

func newPump(g *Guest, src io.Reader) *pump {
	p := &pump{g: g, src: src}
	p.space.L = &p.mu
	return p
}

// newConnPump is newPump for a connection's plaintext or bytes: closing
// the connection (as releasing the guest does) ends a Read in progress, so
// the guest's call may read inline (see blockInline). queued reports the
// bytes waiting in the connection's socket, and a Read of src returns
// without waiting for the network when at least min are (see
// gatherLocked). Without queued (no socket of the host's, or a platform
// without SIOCINQ) the stream reads on its goroutine only: one Read per
// guest read would cost a bulk transfer more than the read-ahead's
// hand-offs.
func newConnPump(g *Guest, src io.Reader, queued func() int, min int) *pump {
	p := newPump(g, src)
	p.queued, p.gatherMin = queued, min
	return p
}

// startLocked starts the goroutine once.
func (p *pump) startLocked() {
	if p.started.Load() || p.stopped {
		return
	}
	p.started.Store(true)
	p.g.quota.pumpStarted()
	p.g.goroutine(p.run)
}

// buffered is the number of bytes the guest can read now.
func (p *pump) bufferedLocked() uint64 { return uint64(p.hw-p.hr) + p.w - p.r }

// step results.
const (
	stepRead = iota // one Read from src was made
	stepWait        // no room (ring, head or quota), or another read in progress
	stepEnd         // stopped, or src failed
)

// stepLocked makes one Read from src into the free part of the ring (or the
// head), with p.mu held on entry and return (it is released during the
// Read). The goroutine (run) and an inline read (blockInline) both read
// through it, so quota, total and error rules are the same for both.
func (p *pump) stepLocked() int {
	if p.hr == p.hw && p.hr != 0 {
		p.hr, p.hw = 0, 0
	}
	if p.stopped || p.err != nil {
		return stepEnd
	}
	if p.reading != readNone {
		return stepWait // the other reader's turn; it signals space when done
	}
	// Into the ring while a transfer is under way; into the head when
	// the ring is empty otherwise, so an idle stream holds no ring; or
	// wait for the guest to make room.
	toRing := p.bulk && p.w-p.r < pumpSize
	toHead := !p.bulk && p.w == p.r && p.hw < headSize
	if !toRing && !toHead {
		return stepWait
	}
	n := headSize - p.hw
	start := int(p.w % pumpSize)
	if toRing {
		n = min(pumpSize-start, pumpSize-int(p.w-p.r))
	}
	// The guest's buffered-bytes quota: read only what it still
	// allows, or wait (wake) until the guest reads something. A
	// stream with nothing buffered may always read into its head.
	got := p.g.quota.reserve(int64(n), p, !toRing)
	if got == 0 && toRing && p.bufferedLocked() == 0 && p.held == 0 {
		toRing = false
		got = p.g.quota.reserve(headSize, p, true)
	}
	if got == 0 {
		return stepWait
	}
	p.held += got
	p.pending = got
	var seg []byte
	if toRing {
		if p.ring == nil {
			p.ring = rings.Get().(*[pumpSize]byte)
		}
		seg = p.ring[start : start+int(got)]
		p.reading = readRing
	} else {
		if p.head == nil {
			p.head = make([]byte, headSize)
		}
		seg = p.head[p.hw : p.hw+int(got)]
		p.reading = readHead
	}
	p.used = true
	p.mu.Unlock()

	// seg is free: the guest never reads it until w (hw) moves past it.
	k, err := safeRead(p.src, seg)
	p.total.Add(uint64(max(k, 0)))
	p.g.quota.release(got - int64(k))

	p.mu.Lock()
	p.held -= got - int64(k)
	p.pending = 0
	if p.reading == readRing {
		p.w += uint64(k)
	} else {
		p.hw += k
	}
	p.reading = readNone
	p.bulk = k >= bulkRead || (k == len(seg) && k > 0)
	if err != nil && p.err == nil {
		p.err = err
	}
	// stop gave back everything but this read's reservation.
	var drop int64
	if p.stopped {
		drop, p.held = p.held, 0
	}
	p.releaseLocked()
	p.space.Broadcast() // a reader that waited for this one's turn
	p.sig.update(p.bufferedLocked() > 0 || p.err != nil || p.stopped)
	if drop > 0 {
		p.mu.Unlock()
		p.g.quota.release(drop)
		p.mu.Lock()
	}
	return stepRead
}

func (p *pump) run() {
	p.mu.Lock()
	for {
		switch p.stepLocked() {
		case stepWait:
			p.space.Wait()
		case stepEnd:
			var drop int64
			if p.stopped { // an inline read in progress gives its own back
				drop, p.held = p.held-p.pending, p.pending
			}
			p.mu.Unlock()
			p.g.quota.pumpStopped()
			p.g.quota.release(drop)
			return
		}
	}
}

// blockInline reads from src on the calling goroutine until the stream is
// ready, for a guest that blocks on this stream alone while the goroutine
// has not started: the bytes are decrypted on the thread that copies them
// into guest memory, as a native program's Read does, instead of being
// handed across threads one record at a time. It reports whether the
// stream is ready; when not (the goroutine runs, the quota has no room, the
// stream is not a connection's with a socket to ask, see newConnPump) the
// caller waits as usual.
//
// The call's context ending releases the guest, and a guest being released
// closes its streams' sources, which ends the Read; the call traps then.
func (p *pump) blockInline(c *call) bool { return p.readInline(c, 0) }

// readInline is blockInline for a blocking read of up to want bytes: once
// it has bytes, it gathers the records already queued (gatherLocked).
func (p *pump) readInline(c *call, want uint64) bool {
	if p.queued == nil { // not a connection's, or its socket cannot be asked
		return false
	}
	p.mu.Lock()
	if p.bufferedLocked() > 0 || p.err != nil {
		p.mu.Unlock()
		return true
	}
	if p.started.Load() || p.stopped || p.discarded {
		p.mu.Unlock()
		return false
	}
	p.mu.Unlock()
	g := c.g
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return false
	}
	g.wg.Add(1) // release waits for the read, as for a pump's goroutine
	g.mu.Unlock()
	g.kickAll() // others keep going meanwhile
	stop := context.AfterFunc(c.Ctx, g.release)
	p.mu.Lock()
	ready := false
	for !p.started.Load() {
		// Into the ring, as much as one Read gives: the guest is here to
		// take it (the head is for a goroutine parked on an idle stream;
		// a guest blocked here holds a ring, but blocks on one call at a
		// time).
		p.bulk = true
		if p.stepLocked() != stepRead {
			break
		}
		if ready = p.bufferedLocked() > 0 || p.err != nil; ready {
			break
		}
	}
	if ready && want > 0 {
		p.gatherLocked(want)
	}
	p.mu.Unlock()
	stop()
	g.wg.Done()
	if c.Ctx.Err() != nil || g.ctx.Err() != nil {
		c.interrupted()
	}
	return ready
}

// gatherLocked keeps reading inline, up to want buffered bytes, while the
// socket holds enough for a Read to return without waiting, so that one
// guest read carries many records of a bulk transfer, as the goroutine's
// read-ahead would, without a hand-off per record (nor a timer: arming
// one wakes another thread, which is what inline reads avoid).
func (p *pump) gatherLocked(want uint64) {
	if p.queued == nil {
		return
	}
	for !p.started.Load() && p.err == nil && p.bufferedLocked() < want && p.queued() >= p.gatherMin {
		if p.stepLocked() != stepRead {
			return
		}
	}
}

// wake is called when the guest's quota has room again.
func (p *pump) wake() {
	p.mu.Lock()
	p.space.Broadcast()
	p.mu.Unlock()
}

// releaseLocked gives an empty ring back to the pool when no read uses it.
func (p *pump) releaseLocked() {
	if p.ring != nil && p.r == p.w && p.reading != readRing {
		rings.Put(p.ring)
		p.ring = nil
		p.r, p.w = 0, 0
	}
}

// demandLocked notes that the guest wants data: the reader runs from now.
func (p *pump) demandLocked() { p.startLocked() }

// ready takes no lock once the reader runs: a poll checks every pollable
// of a guest's list, a server's idle connections included, on every call.
func (p *pump) ready() bool {
	if !p.started.Load() {
		p.mu.Lock()
		p.demandLocked()
		p.mu.Unlock()
	}
	return p.sig.isSet()
}

func (p *pump) readyCh() <-chan struct{} {
	p.mu.Lock()
	p.demandLocked()
	p.mu.Unlock()
	return p.sig.readyCh()
}

func (p *pump) watchSignal() *signal {
	p.mu.Lock()
	p.demandLocked()
	p.mu.Unlock()
	return &p.sig
}

// peek returns up to max buffered bytes as at most two views (valid until
// consume), or the source's error when nothing is buffered. The head's
// bytes come alone (a short read): they precede the ring's.
func (p *pump) peek(max uint64) (a, b []byte, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.discarded {
		return nil, nil, io.EOF
	}
	if p.hw > p.hr {
		n := min(uint64(p.hw-p.hr), max)
		return p.head[p.hr : p.hr+int(n)], nil, nil
	}
	avail := p.w - p.r
	if avail == 0 {
		// A read that finds nothing starts the goroutine: the guest will
		// look again without blocking.
		p.demandLocked()
		if p.stopped && p.err == nil {
			return nil, nil, io.ErrClosedPipe
		}
		// A failure is reported once; the stream is closed after it
		// (streams.wit, stream-error::last-operation-failed).
		if p.err != nil && !isClosedErr(p.err) {
			if p.reported {
				return nil, nil, io.EOF
			}
			p.reported = true
		}
		return nil, nil, p.err
	}
	n := min(avail, max)
	start := p.r % pumpSize
	if start+n <= pumpSize {
		return p.ring[start : start+n], nil, nil
	}
	return p.ring[start:], p.ring[:n-(pumpSize-start)], nil
}

// consume marks n peeked bytes as read.
func (p *pump) consume(n uint64) {
	if n == 0 {
		return
	}
	p.mu.Lock()
	if p.discarded {
		p.mu.Unlock()
		return
	}
	var give int64
	if !p.stopped { // stop gave back everything already
		give = int64(n)
		p.held -= give
	}
	defer p.g.quota.release(give) // after Unlock: it may wake other pumps
	defer p.mu.Unlock()
	if p.hw > p.hr {
		p.hr += int(n)
		if p.hr == p.hw && p.reading != readHead {
			p.hr, p.hw = 0, 0
		}
	} else {
		p.r += n
		p.releaseLocked()
	}
	// The goroutine may wait for room, or for the ring to empty.
	p.space.Signal()
	p.sig.update(p.bufferedLocked() > 0 || p.err != nil || p.stopped)
}

// stop ends the goroutine at its next wake-up; the owner closes src to
// unblock a Read in progress.
func (p *pump) stop() {
	p.mu.Lock()
	p.stopped = true
	p.space.Broadcast()
	p.sig.update(true)
	if p.reading == readNone {
		p.releaseLocked()
	}
	// A read in progress keeps its reservation; run gives it back.
	drop := p.held - p.pending
	p.held = p.pending
	p.mu.Unlock()
	p.g.quota.release(drop)
	p.g.quota.forget(p)
}

// discard ends the stream for the guest, dropping what is buffered
// (shutdown(receive)): reads report closed from now on.
func (p *pump) discard() {
	p.mu.Lock()
	p.discarded = true
	p.mu.Unlock()
	p.stop()
}

// detachIfUntouched stops the pump before it ever read, so that its source
// can be handed on whole. It reports whether that was possible.
func (p *pump) detachIfUntouched() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started.Load() || p.used {
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
