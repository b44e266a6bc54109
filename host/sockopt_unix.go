//go:build unix

package host

import (
	"net"
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"
)

// setHopLimit sets the unicast hop limit (IPv4 TTL, IPv6 hop limit) of
// conn's socket.
func setHopLimit(conn *net.TCPConn, v6 bool, hops uint8) error {
	rc, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		if v6 {
			serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IPV6, syscall.IPV6_UNICAST_HOPS, int(hops))
			return
		}
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_TTL, int(hops))
	})
	if err != nil {
		return err
	}
	return serr
}

// dupFD returns a close-on-exec duplicate of the socket a dial is
// connecting (see tcpSocket.bound), or -1.
func dupFD(rc syscall.RawConn) int {
	nfd := -1
	_ = rc.Control(func(fd uintptr) {
		if d, err := unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0); err == nil {
			nfd = d
		}
	})
	return nfd
}

// sockName returns the address fd is bound to (port 0: not yet).
func sockName(fd int) (netip.AddrPort, bool) {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return netip.AddrPort{}, false
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)), true
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port)), true
	}
	return netip.AddrPort{}, false
}

func closeFD(fd int) { _ = unix.Close(fd) }
