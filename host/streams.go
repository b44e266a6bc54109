package host

import (
	"context"
	"errors"
	"io"
	"net"

	wapi "github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/internal/cabi"
	"github.com/wasitls/wasitls/internal/witnames"
)

// inStream is the input-stream resource.
type inStream struct {
	p    *pump
	tcp  *tcpConn // set when the stream reads a host TCP socket
	tls  *tlsConn // set when it is a TLS connection's plaintext
	keep bool     // a shared stream (stdin): dropping one handle keeps it
	done func()   // releases the source (a file) when the stream closes
}

func (s *inStream) close() {
	if s.keep {
		return
	}
	s.p.stop()
	if s.tcp != nil {
		s.tcp.release()
	}
	if s.tls != nil {
		s.tls.close()
	}
	if s.done != nil {
		s.done()
	}
}

// outStream is the output-stream resource.
type outStream struct {
	s    *sink
	tcp  *tcpConn
	tls  *tlsConn
	keep bool   // a shared stream (stdout, stderr): a drop flushes, and the stream stays
	done func() // releases the destination (a file) once what was written is out
}

func (s *outStream) close() {
	if s.keep {
		_ = s.s.startFlush() // an error was reported to the guest already
		return
	}
	s.s.detach()
	if s.tcp != nil {
		// The connection stays until the bytes written before the drop
		// are out (or the guest closes).
		s.s.g.afterDrain(s.s, s.tcp.closeNow, s.tcp.release)
	}
	if s.tls != nil {
		s.tls.close()
	}
	if s.done != nil {
		s.s.g.afterDrain(s.s, s.done, s.done)
	}
}

// maxRead bounds one read: the ring holds no more anyway.
const maxRead = pumpSize

var ioStreams = register(&iface{name: witnames.IOStreams, fns: []fnDef{
	listDef(witnames.InputStreamRead, readList, p(i32, i64, i32)),
	listDef(witnames.InputStreamBlockingRead, blockingReadList, p(i32, i64, i32)),
	def(witnames.InputStreamSkip, func(c *call, s []uint64) { inRead(c, s, false, true) }, p(i32, i64, i32)),
	def(witnames.InputStreamBlockingSkip, func(c *call, s []uint64) { inRead(c, s, true, true) }, p(i32, i64, i32)),
	def(witnames.InputStreamSubscribe, inSubscribe, p(i32), i32),
	def(witnames.DropInputStream, dropOf(rInput), p(i32)),

	def(witnames.OutputStreamCheckWrite, outCheckWrite, p(i32, i32)),
	def(witnames.OutputStreamWrite, func(c *call, s []uint64) { outWrite(c, s, false) }, p(i32, i32, i32, i32)),
	def(witnames.OutputStreamBlockingWriteAndFlush, func(c *call, s []uint64) { outWrite(c, s, true) }, p(i32, i32, i32, i32)),
	def(witnames.OutputStreamFlush, func(c *call, s []uint64) { outFlush(c, s, false) }, p(i32, i32)),
	def(witnames.OutputStreamBlockingFlush, func(c *call, s []uint64) { outFlush(c, s, true) }, p(i32, i32)),
	def(witnames.OutputStreamSubscribe, outSubscribe, p(i32), i32),
	def(witnames.OutputStreamWriteZeroes, func(c *call, s []uint64) { outZeroes(c, s, false) }, p(i32, i64, i32)),
	def(witnames.OutputStreamBlockingWriteZeroesAndFlush, func(c *call, s []uint64) { outZeroes(c, s, true) }, p(i32, i64, i32)),
	def(witnames.OutputStreamSplice, func(c *call, s []uint64) { outSplice(c, s, false) }, p(i32, i32, i64, i32)),
	def(witnames.OutputStreamBlockingSplice, func(c *call, s []uint64) { outSplice(c, s, true) }, p(i32, i32, i64, i32)),
	def(witnames.DropOutputStream, dropOf(rOutput), p(i32)),
}})

// streamErr writes the err case of result<T, stream-error>: closed for the
// end of the stream, last-operation-failed(error) otherwise.
func streamErr(c *call, a cabi.StreamArea, ret uint32, err error) {
	closed := isClosedErr(err)
	var h uint32
	if !closed {
		h = c.push(rError, &ioError{err: err}, 0)
	}
	b := c.Area(ret, a.Size, a.Align)
	b[a.Tag] = 1
	if closed {
		b[a.ErrTag] = 1
		return
	}
	b[a.ErrTag] = 0
	cabi.PutU32(b, a.ErrHandle, h)
}

// isClosedErr reports whether err is the end of a stream rather than a
// failure.
func isClosedErr(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, errSinkClosed) || errors.Is(err, io.ErrClosedPipe) || errors.Is(err, net.ErrClosed)
}

// inRead implements read, blocking-read, skip and blocking-skip:
// (self, len u64, retptr).
//
//	read:  retptr -> +0 tag | +4 ptr, +8 len (ok) | +4 stream-error tag, +8 error (err)
//	skip:  retptr -> +0 tag | +8 u64 (ok)         | +8 stream-error tag, +12 error (err)
//
// read and blocking-read return a list: see readList.
func inRead(c *call, stack []uint64, blocking, skip bool) (r held, ok bool) {
	h := wapi.DecodeU32(stack[0])
	in := c.get(h, rInput).(*inStream)
	n := stack[1]
	ret := wapi.DecodeU32(stack[2])
	area := cabi.ReadArea
	if skip {
		area = cabi.U64Area
	}
	c.Area(ret, area.Size, area.Align)
	n = min(n, maxRead)
	if blocking && n > 0 && !in.p.readInline(c, n) {
		c.wait(in.p)
	}
	// Even for len 0: a closed stream fails with closed.
	a, b, err := in.p.peek(n)
	total := uint64(len(a) + len(b))
	if total == 0 && err != nil {
		streamErr(c, area, ret, err)
		return held{}, false
	}
	if skip {
		in.p.consume(total)
		v := c.Area(ret, area.Size, area.Align)
		v[area.Tag] = 0
		cabi.PutU64(v, area.OK, total)
		return held{}, false
	}
	return held{h: h, ret: ret, size: uint32(total)}, true
}

// readFinish copies the bytes read prepared straight from the ring into the
// list the guest allocated.
func readFinish(c *call, r held, ptr uint32) {
	in := c.get(r.h, rInput).(*inStream)
	a, b, _ := in.p.peek(uint64(r.size))
	if uint32(len(a)+len(b)) != r.size {
		// Only another read of the stream, from inside cabi_realloc,
		// takes bytes away.
		c.trap("the stream was read while cabi_realloc allocated for this read")
	}
	if r.size > 0 {
		dst := c.Bytes(ptr, r.size)
		k := copy(dst, a)
		copy(dst[k:], b)
	}
	in.p.consume(uint64(r.size))
	area := cabi.ReadArea
	v := c.Area(r.ret, area.Size, area.Align)
	v[area.Tag] = 0
	cabi.PutU32(v, area.OK+cabi.ListPair.Ptr, ptr)
	cabi.PutU32(v, area.OK+cabi.ListPair.Len, r.size)
}

// The list results of read and blocking-read.
var (
	readList = &listResult{align: 1, finish: readFinish,
		prepare: func(c *call, s []uint64) (held, bool) { return inRead(c, s, false, false) }}
	blockingReadList = &listResult{align: 1, finish: readFinish,
		prepare: func(c *call, s []uint64) (held, bool) { return inRead(c, s, true, false) }}
)

// inSubscribe: (self) -> own pollable, ready when data or the end is there.
func inSubscribe(c *call, stack []uint64) {
	h := wapi.DecodeU32(stack[0])
	in := c.get(h, rInput).(*inStream)
	stack[0] = uint64(c.subscribe(in.p, h))
}

// outCheckWrite: (self, retptr) -> +0 tag | +8 u64 budget | +8 err tag, +12 error.
func outCheckWrite(c *call, stack []uint64) {
	out := c.get(wapi.DecodeU32(stack[0]), rOutput).(*outStream)
	ret := wapi.DecodeU32(stack[1])
	a := cabi.U64Area
	c.Area(ret, a.Size, a.Align)
	n, err := out.s.checkWrite()
	if err != nil {
		streamErr(c, a, ret, err)
		return
	}
	v := c.Area(ret, a.Size, a.Align)
	v[a.Tag] = 0
	cabi.PutU64(v, a.OK, n)
}

func unitOK(c *call, ret uint32) {
	a := cabi.UnitArea
	c.Area(ret, a.Size, a.Align)[a.Tag] = 0
}

// outWrite: write / blocking-write-and-flush (self, ptr, len, retptr).
// A non-blocking write longer than check-write's budget traps.
func outWrite(c *call, stack []uint64, blocking bool) {
	out := c.get(wapi.DecodeU32(stack[0]), rOutput).(*outStream)
	ptr, n, ret := wapi.DecodeU32(stack[1]), wapi.DecodeU32(stack[2]), wapi.DecodeU32(stack[3])
	c.Area(ret, cabi.UnitArea.Size, cabi.UnitArea.Align)
	if blocking && n > maxBlockingWrite {
		c.trap("blocking-write-and-flush of %d bytes; at most %d are accepted", n, maxBlockingWrite)
	}
	data := c.Bytes(ptr, n)
	if blocking {
		if err := blockingWrite(c, out, data); err != nil {
			streamErr(c, cabi.UnitArea, ret, err)
			return
		}
		unitOK(c, ret)
		return
	}
	writeThen(c, out, ret, data)
}

// blockingWrite writes data and flushes, straight from guest memory (see
// sink.writeNow), once what was written before is out: no copy, and no
// buffered bytes against the guest's quota. The guest's call context
// ending releases the guest, which ends the write.
func blockingWrite(c *call, out *outStream, data []byte) error {
	for {
		stop := context.AfterFunc(c.Ctx, c.g.release)
		done, err := out.s.writeNow(data)
		stop()
		if done {
			if c.Ctx.Err() != nil || c.g.ctx.Err() != nil {
				c.interrupted()
			}
			return err
		}
		if err := out.s.startFlush(); err != nil {
			return err
		}
		c.wait(out.s.flushed())
	}
}

func writeThen(c *call, out *outStream, ret uint32, data []byte) {
	if err := out.s.write(data, false); err != nil {
		if errors.Is(err, errBudget) {
			c.trap("write of %d bytes exceeds the check-write budget of %d", len(data), out.s.budget())
		}
		streamErr(c, cabi.UnitArea, ret, err)
		return
	}
	unitOK(c, ret)
}

func finishFlush(c *call, out *outStream, ret uint32) {
	if err := out.s.startFlush(); err != nil {
		streamErr(c, cabi.UnitArea, ret, err)
		return
	}
	c.wait(out.s.flushed())
	if err := out.s.failure(); err != nil {
		streamErr(c, cabi.UnitArea, ret, err)
		return
	}
	unitOK(c, ret)
}

// outFlush: flush / blocking-flush (self, retptr).
func outFlush(c *call, stack []uint64, blocking bool) {
	out := c.get(wapi.DecodeU32(stack[0]), rOutput).(*outStream)
	ret := wapi.DecodeU32(stack[1])
	c.Area(ret, cabi.UnitArea.Size, cabi.UnitArea.Align)
	if blocking {
		finishFlush(c, out, ret)
		return
	}
	if err := out.s.startFlush(); err != nil {
		streamErr(c, cabi.UnitArea, ret, err)
		return
	}
	unitOK(c, ret)
}

// outSubscribe: (self) -> own pollable, ready when check-write would grant
// bytes (or fail).
func outSubscribe(c *call, stack []uint64) {
	h := wapi.DecodeU32(stack[0])
	out := c.get(h, rOutput).(*outStream)
	stack[0] = uint64(c.subscribe(out.s, h))
}

var zeroes [sinkBudget]byte

// outZeroes: write-zeroes / blocking-write-zeroes-and-flush (self, len u64, retptr).
func outZeroes(c *call, stack []uint64, blocking bool) {
	out := c.get(wapi.DecodeU32(stack[0]), rOutput).(*outStream)
	n, ret := stack[1], wapi.DecodeU32(stack[2])
	c.Area(ret, cabi.UnitArea.Size, cabi.UnitArea.Align)
	if blocking {
		if n > maxBlockingWrite {
			c.trap("blocking-write-zeroes-and-flush of %d bytes; at most %d are accepted", n, maxBlockingWrite)
		}
		for {
			k := min(n, sinkBudget)
			if err := blockingWrite(c, out, zeroes[:k]); err != nil {
				streamErr(c, cabi.UnitArea, ret, err)
				return
			}
			n -= k
			if n == 0 {
				break
			}
		}
		unitOK(c, ret)
		return
	}
	if n > sinkBudget {
		c.trap("write-zeroes of %d bytes exceeds the check-write budget of %d", n, out.s.budget())
	}
	writeThen(c, out, ret, zeroes[:n])
}

// outSplice: splice / blocking-splice (self, src, len u64, retptr) ->
// result<u64, stream-error>. Moves what src has (up to len and the permit):
// check-write, read, write, as streams.wit defines it.
func outSplice(c *call, stack []uint64, blocking bool) {
	out := c.get(wapi.DecodeU32(stack[0]), rOutput).(*outStream)
	in := c.get(wapi.DecodeU32(stack[1]), rInput).(*inStream)
	n, ret := stack[2], wapi.DecodeU32(stack[3])
	a := cabi.U64Area
	c.Area(ret, a.Size, a.Align)
	if blocking && n > 0 {
		c.wait(in.p)
		c.wait(out.s)
	}
	budget, err := out.s.checkWrite()
	if err != nil {
		streamErr(c, a, ret, err)
		return
	}
	n = min(n, budget)
	var total uint64
	x, y, rerr := in.p.peek(n) // even for 0: a closed src fails with closed
	if len(x) == 0 && rerr != nil {
		streamErr(c, a, ret, rerr)
		return
	}
	if n > 0 {
		if err := out.s.write(x, false); err != nil {
			streamErr(c, a, ret, err)
			return
		}
		total = uint64(len(x))
		// The permit covers both parts (n is within it).
		if err := out.s.write(y, false); err != nil {
			in.p.consume(total)
			streamErr(c, a, ret, err)
			return
		}
		total += uint64(len(y))
		in.p.consume(total)
	}
	// blocking-splice waits for both streams, and flushes nothing: the
	// bytes go out as a write's do.
	v := c.Area(ret, a.Size, a.Align)
	v[a.Tag] = 0
	cabi.PutU64(v, a.OK, total)
}
