// Package streams binds wasi:io/streams@0.2.6: input and output byte
// streams with their non-blocking and blocking operations.
//
// Failures are *StreamError values; the end of a stream is a StreamError
// with Closed set, which errors.Is matches against ErrClosed:
//
//	data, err := in.BlockingRead(64 << 10)
//	if errors.Is(err, streams.ErrClosed) {
//		// end of stream
//	}
//
// ReadInto and BlockingReadInto read into the caller's buffer: the buffer is
// lent to cabi_realloc for the call, so the host writes the bytes straight
// into it (no allocation, no copy in the guest). Reuse one buffer:
//
//	buf := make([]byte, 256<<10)
//	n, err := in.BlockingReadInto(buf)
//
// Writing follows the check-write permit: check how much the stream takes,
// write at most that (the bytes start going out). Writing more than the
// permit traps. Flush only waits: after it, CheckWrite reports 0 until
// everything written before it is out, and Subscribe's pollable is ready
// when it is.
package streams
