package host

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// socketQueued returns a function reporting how many received bytes wait
// unread in c's socket (SIOCINQ), or nil if c has no socket of its own.
func socketQueued(c net.Conn) func() int {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	return func() int { return fdQueued(rc) }
}

func fdQueued(rc syscall.RawConn) int {
	n := 0
	if err := rc.Control(func(fd uintptr) {
		v, err := unix.IoctlGetInt(int(fd), unix.SIOCINQ)
		if err == nil {
			n = v
		}
	}); err != nil {
		return 0
	}
	return n
}
