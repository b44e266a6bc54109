//go:build unix

package main

import (
	"fmt"
	"syscall"
)

// ensureFiles makes sure this process may open n more files: Go raises the
// soft limit to the hard one at start-up; beyond that, say so clearly
// instead of failing halfway with EMFILE.
func ensureFiles(n int) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return nil // unknown: try anyway
	}
	want := uint64(n)
	if lim.Cur >= want {
		return nil
	}
	if lim.Max >= want {
		lim.Cur = want
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil {
			return nil
		}
	}
	return fmt.Errorf("bench: needs about %d open files, the limit is %d (raise it with ulimit -n, or use a smaller -conns)", want, lim.Max)
}
