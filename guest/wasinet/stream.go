package wasinet

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/wasitls/wasitls/guest/io/poll"
	"github.com/wasitls/wasitls/guest/io/streams"
	"github.com/wasitls/wasitls/guest/sockets/network"
)

// maxRead is the most one host read is asked for (the host returns at most
// 256 KiB anyway).
const maxRead = 256 << 10

// readAhead is how much a small read asks the host for when the stream may
// be buffered ahead (TLS plaintext): it saves host calls under bufio-sized
// reads.
const readAhead = 64 << 10

// aheadBufs recycles read-ahead buffers. A connection holds one only while
// it reads: it gives it back when its reader parks with nothing buffered, so
// an idle kept-alive connection holds none (it was 64 KiB of the guest's
// memory per idle connection of a server).
var aheadBufs = sync.Pool{New: func() any { return new([readAhead]byte) }}

// releaseAheadLocked gives the read-ahead buffer back when nothing in it is
// still to be returned. Called with mu held.
func (d *duplex) releaseAheadLocked() {
	if d.abuf != nil && len(d.rbuf) == 0 {
		aheadBufs.Put(d.abuf)
		d.abuf, d.rbuf = nil, nil
	}
}

// closeFlushTimeout bounds how long Close waits for written data to leave.
const closeFlushTimeout = 5 * time.Second

// duplex is the part a TCP and a TLS connection share: a pair of wasi:io
// streams with deadlines.
//
// Locking: mu guards the handles and closed; every host call on them is made
// with mu held, after checking closed, so Close can drop them safely. rmu and
// wmu serialize readers and writers (a Write is atomic, as for net.TCPConn)
// and are held while parked.
type duplex struct {
	mu, rmu, wmu sync.Mutex
	in           streams.InputStream
	out          streams.OutputStream
	inP, outP    poll.Pollable // subscribed on first need
	rdl, wdl     deadline
	closed       bool
	ahead        bool             // reads may be buffered ahead
	rbuf         []byte           // read ahead, not yet returned (a part of abuf)
	abuf         *[readAhead]byte // read-ahead buffer, from aheadBufs while in use
	laddr, raddr net.Addr
	netw         string
}

func (d *duplex) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: d.netw, Source: d.laddr, Addr: d.raddr, Err: err}
}

// streamErr converts a binding's stream error, releasing its handle.
func streamErr(err error) error {
	var se *streams.StreamError
	if !errors.As(err, &se) {
		return err
	}
	if se.Closed {
		return io.EOF
	}
	out := &StreamError{Debug: se.Debug}
	if se.Err != 0 {
		if code, ok := network.NetworkErrorCode(se.Err); ok {
			out.Code = &SocketError{Code: code}
		}
	}
	se.Release()
	return out
}

func (d *duplex) read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	d.rmu.Lock()
	defer d.rmu.Unlock()
	for {
		d.mu.Lock()
		if d.closed {
			d.mu.Unlock()
			return 0, d.opError("read", net.ErrClosed)
		}
		if len(d.rbuf) > 0 {
			n := copy(b, d.rbuf)
			d.rbuf = d.rbuf[n:]
			d.mu.Unlock()
			return n, nil
		}
		if d.rdl.expired() {
			d.mu.Unlock()
			return 0, d.opError("read", os.ErrDeadlineExceeded)
		}
		// The host writes straight into the destination: b itself, or for
		// a small read of a stream that may be buffered ahead, the
		// connection's own read-ahead buffer (reused, never reallocated).
		dst := b[:min(len(b), maxRead)]
		small := d.ahead && len(dst) < readAhead
		if small {
			if d.abuf == nil {
				d.abuf = aheadBufs.Get().(*[readAhead]byte)
			}
			dst = d.abuf[:]
		}
		k, err := d.in.ReadInto(dst)
		if err != nil {
			d.mu.Unlock()
			err = streamErr(err)
			if err == io.EOF {
				return 0, io.EOF
			}
			return 0, d.opError("read", err)
		}
		if k > 0 {
			n := k
			if small {
				n = copy(b, dst[:k])
				d.rbuf = dst[n:k]
			}
			d.mu.Unlock()
			return n, nil
		}
		d.releaseAheadLocked()
		if d.inP == 0 {
			d.inP = d.in.Subscribe()
		}
		w := enqueue(nil, d.inP, &d.rdl, d)
		d.mu.Unlock()
		if err := w.wait(nil); err != nil {
			return 0, d.opError("read", err)
		}
	}
}

func (d *duplex) write(b []byte) (int, error) {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	written := 0
	for {
		d.mu.Lock()
		if d.closed {
			d.mu.Unlock()
			return written, d.opError("write", net.ErrClosed)
		}
		if d.wdl.expired() {
			d.mu.Unlock()
			return written, d.opError("write", os.ErrDeadlineExceeded)
		}
		if written == len(b) {
			d.mu.Unlock()
			return written, nil
		}
		budget, err := d.out.CheckWrite()
		if err != nil {
			d.mu.Unlock()
			return written, d.opError("write", writeErr(err))
		}
		if budget == 0 {
			if d.outP == 0 {
				d.outP = d.out.Subscribe()
			}
			w := enqueue(nil, d.outP, &d.wdl, d)
			d.mu.Unlock()
			if err := w.wait(nil); err != nil {
				return written, d.opError("write", err)
			}
			continue
		}
		chunk := b[written:][:min(uint64(len(b)-written), budget)]
		// The host sends what is written (no flush: after one, check-write
		// grants nothing until it completes); it reports 0 once it holds
		// as much as it buffers, which paces the writes.
		err = d.out.Write(chunk)
		d.mu.Unlock()
		if err != nil {
			return written, d.opError("write", writeErr(err))
		}
		written += len(chunk)
	}
}

// writeErr maps a closed output stream to EPIPE, as a write to a socket
// the peer shut down fails natively.
func writeErr(err error) error {
	err = streamErr(err)
	if err == io.EOF {
		return &os.SyscallError{Syscall: "write", Err: syscall.EPIPE}
	}
	return err
}

// drain waits (bounded) until what was written is out: it flushes, and
// check-write grants bytes again once the flush has completed (or the
// stream failed or closed); after close-output, once close_notify is out.
// Called with mu not held, by the one goroutine that owns the handles
// (closed is set or the streams are being handed on).
func (d *duplex) drain(limit time.Duration) {
	var dl deadline
	dl.set(time.Now().Add(limit))
	if err := d.out.Flush(); err != nil {
		streamErr(err)
		return
	}
	for {
		n, err := d.out.CheckWrite()
		if err != nil {
			streamErr(err)
			return
		}
		if n > 0 {
			return
		}
		if d.outP == 0 {
			d.outP = d.out.Subscribe()
		}
		if await(nil, d.outP, &dl, nil) != nil {
			return
		}
	}
}

// dropPollables drops the stream pollables (they must go before the streams).
func (d *duplex) dropPollables() {
	if d.inP != 0 {
		d.inP.Drop()
		d.inP = 0
	}
	if d.outP != 0 {
		d.outP.Drop()
		d.outP = 0
	}
}

// markClosed flips closed and wakes parked readers and writers; false if it
// was closed already.
func (d *duplex) markClosed() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return false
	}
	d.closed = true
	cancel(d, net.ErrClosed)
	d.rbuf = nil
	d.releaseAheadLocked()
	return true
}

// LocalAddr returns the local address.
func (d *duplex) LocalAddr() net.Addr { return d.laddr }

// RemoteAddr returns the peer's address.
func (d *duplex) RemoteAddr() net.Addr { return d.raddr }

// SetDeadline sets both deadlines (zero: none). Parked reads and writes
// see the change at once; a deadline in the past interrupts them.
func (d *duplex) SetDeadline(t time.Time) error {
	if err := d.setDeadline(&d.rdl, t); err != nil {
		return err
	}
	return d.setDeadline(&d.wdl, t)
}

// SetReadDeadline sets the read deadline (zero: none).
func (d *duplex) SetReadDeadline(t time.Time) error { return d.setDeadline(&d.rdl, t) }

// SetWriteDeadline sets the write deadline (zero: none).
func (d *duplex) SetWriteDeadline(t time.Time) error { return d.setDeadline(&d.wdl, t) }

func (d *duplex) setDeadline(dl *deadline, t time.Time) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return d.opError("set deadline", net.ErrClosed)
	}
	dl.set(t)
	return nil
}
