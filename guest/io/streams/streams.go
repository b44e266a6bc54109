package streams

import (
	"fmt"
	"github.com/wasitls/wasitls/guest/cabi"
	"github.com/wasitls/wasitls/guest/io/ioerror"
	"github.com/wasitls/wasitls/guest/io/poll"
	abi "github.com/wasitls/wasitls/internal/cabi"
)

// InputStream is an owned wasi:io/streams input-stream handle.
type InputStream uint32

// OutputStream is an owned wasi:io/streams output-stream handle.
type OutputStream uint32

// StreamError is the stream-error variant: either the stream is closed, or
// the last operation failed with an io-error.
type StreamError struct {
	// Closed is true for the closed case (end of stream).
	Closed bool
	// Err is the io-error of the last-operation-failed case. The StreamError
	// owns it; Release drops it.
	Err ioerror.Error
	// Debug is Err's debug string, read when the error was decoded.
	Debug string
}

// ErrClosed matches any closed StreamError with errors.Is.
var ErrClosed = &StreamError{Closed: true}

func (e *StreamError) Error() string {
	if e.Closed {
		return "stream closed"
	}
	return "stream failed: " + e.Debug
}

// Is makes errors.Is(err, ErrClosed) work.
func (e *StreamError) Is(target error) bool {
	t, ok := target.(*StreamError)
	return ok && t == ErrClosed && e.Closed
}

// Release drops the io-error handle of a last-operation-failed error.
func (e *StreamError) Release() {
	if !e.Closed && e.Err != 0 {
		e.Err.Drop()
		e.Err = 0
	}
}

// streamError decodes the stream-error of a result<T, stream-error> laid
// out as a.
func streamError(ret *cabi.Area, a *abi.StreamArea) error {
	switch ret.U8(a.ErrTag) {
	case 0:
		h := ioerror.Error(ret.U32(a.ErrHandle))
		return &StreamError{Err: h, Debug: h.DebugString()}
	case 1:
		return &StreamError{Closed: true}
	default:
		return fmt.Errorf("streams: bad stream-error tag %d", ret.U8(a.ErrTag))
	}
}

// listResult decodes a read's result<list<u8>, stream-error>.
func listResult(ret *cabi.Area) ([]byte, error) {
	a, l := &abi.ReadArea, &abi.ListPair
	if ret.U8(a.Tag) != 0 {
		return nil, streamError(ret, a)
	}
	return cabi.TakeBytes(ret.U32(a.OK+l.Ptr), ret.U32(a.OK+l.Len)), nil
}

// u64Result decodes a result<u64, stream-error>.
func u64Result(ret *cabi.Area) (uint64, error) {
	a := &abi.U64Area
	if ret.U8(a.Tag) != 0 {
		return 0, streamError(ret, a)
	}
	return ret.U64(a.OK), nil
}

// unitResult decodes a result<_, stream-error>.
func unitResult(ret *cabi.Area) error {
	a := &abi.UnitArea
	if ret.U8(a.Tag) != 0 {
		return streamError(ret, a)
	}
	return nil
}

// Read returns up to n bytes that are available now; it may return none.
func (s InputStream) Read(n uint64) ([]byte, error) {
	ret := cabi.NewArea()
	defer ret.Free()
	read(uint32(s), n, ret.Ptr())
	return listResult(ret)
}

// BlockingRead is Read that waits for at least one byte or the end.
func (s InputStream) BlockingRead(n uint64) ([]byte, error) {
	ret := cabi.NewArea()
	defer ret.Free()
	blockingRead(uint32(s), n, ret.Ptr())
	return listResult(ret)
}

// ReadInto is Read into b: it asks for up to len(b) bytes and lends b to
// cabi_realloc, so the host writes the bytes straight into b (no allocation,
// no copy). It may return 0 bytes.
func (s InputStream) ReadInto(b []byte) (int, error) {
	ret := cabi.NewArea()
	defer ret.Free()
	cabi.Lend(b)
	read(uint32(s), uint64(len(b)), ret.Ptr())
	return intoResult(ret, b)
}

// BlockingReadInto is ReadInto that waits for at least one byte or the end.
func (s InputStream) BlockingReadInto(b []byte) (int, error) {
	ret := cabi.NewArea()
	defer ret.Free()
	cabi.Lend(b)
	blockingRead(uint32(s), uint64(len(b)), ret.Ptr())
	return intoResult(ret, b)
}

// intoResult decodes a read's result<list<u8>, stream-error> for ReadInto:
// the list is in b already, or (a host that allocated elsewhere) is copied.
func intoResult(ret *cabi.Area, b []byte) (int, error) {
	lentAt := cabi.EndLend()
	a, l := &abi.ReadArea, &abi.ListPair
	if ret.U8(a.Tag) != 0 {
		return 0, streamError(ret, a)
	}
	ptr, n := ret.U32(a.OK+l.Ptr), ret.U32(a.OK+l.Len)
	if ptr != 0 && ptr == lentAt {
		return int(n), nil
	}
	return copy(b, cabi.TakeBytes(ptr, n)), nil
}

// Skip discards up to n available bytes and returns how many it discarded.
func (s InputStream) Skip(n uint64) (uint64, error) {
	ret := cabi.NewArea()
	defer ret.Free()
	skip(uint32(s), n, ret.Ptr())
	return u64Result(ret)
}

// BlockingSkip is Skip that waits for data first.
func (s InputStream) BlockingSkip(n uint64) (uint64, error) {
	ret := cabi.NewArea()
	defer ret.Free()
	blockingSkip(uint32(s), n, ret.Ptr())
	return u64Result(ret)
}

// Subscribe returns a pollable that is ready when data or the end can be
// read. It is a child of s: drop it before s.
func (s InputStream) Subscribe() poll.Pollable { return poll.Pollable(inputSubscribe(uint32(s))) }

// Drop releases the handle.
func (s InputStream) Drop() { inputDrop(uint32(s)) }

// MaxBlockingWrite is the most BlockingWriteAndFlush and
// BlockingWriteZeroesAndFlush accept in one call.
const MaxBlockingWrite = 4096

// CheckWrite returns how many bytes the next Write may take (0: wait on the
// pollable).
func (s OutputStream) CheckWrite() (uint64, error) {
	ret := cabi.NewArea()
	defer ret.Free()
	checkWrite(uint32(s), ret.Ptr())
	return u64Result(ret)
}

// Write starts writing b. len(b) must not exceed what is left of the last
// CheckWrite permit.
func (s OutputStream) Write(b []byte) error {
	ret := cabi.NewArea()
	defer ret.Free()
	p, n := cabi.BytesPtr(b)
	write(uint32(s), p, n, ret.Ptr())
	return unitResult(ret)
}

// BlockingWriteAndFlush writes b (at most MaxBlockingWrite bytes) and waits
// until it is flushed.
func (s OutputStream) BlockingWriteAndFlush(b []byte) error {
	ret := cabi.NewArea()
	defer ret.Free()
	p, n := cabi.BytesPtr(b)
	blockingWriteAndFlush(uint32(s), p, n, ret.Ptr())
	return unitResult(ret)
}

// Flush asks for what was written to be flushed; CheckWrite reports 0
// until it is, and Subscribe's pollable is ready then.
func (s OutputStream) Flush() error {
	ret := cabi.NewArea()
	defer ret.Free()
	flush(uint32(s), ret.Ptr())
	return unitResult(ret)
}

// BlockingFlush waits until what was written is out.
func (s OutputStream) BlockingFlush() error {
	ret := cabi.NewArea()
	defer ret.Free()
	blockingFlush(uint32(s), ret.Ptr())
	return unitResult(ret)
}

// Subscribe returns a pollable that is ready when CheckWrite would report
// space or an error. It is a child of s: drop it before s.
func (s OutputStream) Subscribe() poll.Pollable { return poll.Pollable(outputSubscribe(uint32(s))) }

// WriteZeroes queues n zero bytes, within the CheckWrite budget.
func (s OutputStream) WriteZeroes(n uint64) error {
	ret := cabi.NewArea()
	defer ret.Free()
	writeZeroes(uint32(s), n, ret.Ptr())
	return unitResult(ret)
}

// BlockingWriteZeroesAndFlush writes n (at most MaxBlockingWrite) zero bytes
// and waits until they are flushed.
func (s OutputStream) BlockingWriteZeroesAndFlush(n uint64) error {
	ret := cabi.NewArea()
	defer ret.Free()
	blockingWriteZeroesAndFlush(uint32(s), n, ret.Ptr())
	return unitResult(ret)
}

// Splice moves up to n bytes that src has available to s and returns how
// many it moved.
func (s OutputStream) Splice(src InputStream, n uint64) (uint64, error) {
	ret := cabi.NewArea()
	defer ret.Free()
	splice(uint32(s), uint32(src), n, ret.Ptr())
	return u64Result(ret)
}

// BlockingSplice is Splice that waits for data and space.
func (s OutputStream) BlockingSplice(src InputStream, n uint64) (uint64, error) {
	ret := cabi.NewArea()
	defer ret.Free()
	blockingSplice(uint32(s), uint32(src), n, ret.Ptr())
	return u64Result(ret)
}

// Drop releases the handle.
func (s OutputStream) Drop() { outputDrop(uint32(s)) }
