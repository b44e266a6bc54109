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
// Writing follows the check-write budget: check how much the stream takes,
// write at most that, flush. Writing more than the budget traps.
package streams
