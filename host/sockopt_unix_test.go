//go:build unix

package host

import "syscall"

// getsockoptInt and setsockoptInt take a RawConn's descriptor, whose type
// the syscall package spells per platform.
func getsockoptInt(fd uintptr, level, opt int) (int, error) {
	return syscall.GetsockoptInt(int(fd), level, opt)
}

func setsockoptInt(fd uintptr, level, opt, v int) error {
	return syscall.SetsockoptInt(int(fd), level, opt, v)
}
