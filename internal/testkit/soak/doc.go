// Package soak is the host's soak test: many short-lived guests, each with
// several connections, for a fixed time, against servers of which some
// answer, some reset, some stall and some truncate, while guests are also
// closed in the middle of their handshakes. At the end the file
// descriptors, goroutines and heap of the process must be back where they
// started; the test prints the before and after figures.
//
// The duration is WASITLS_SOAK (a Go duration), or 60 s when CI=true and
// 5 s otherwise:
//
//	WASITLS_SOAK=60s go test -run TestSoak -v ./internal/testkit/soak
//
// With WASITLS_SOAK_REPORT=<file> the before/after line is also written to
// that file (go test ./... prints a passing package's output only with -v).
package soak
