// Package poll binds wasi:io/poll@0.2.6: pollables and waiting on several
// of them at once.
//
//	ready := poll.Poll(stdinReady, timer) // indexes of the ready ones
//	if slices.Contains(ready, 1) { /* timed out */ }
package poll
