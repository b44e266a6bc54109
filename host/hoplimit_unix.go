//go:build unix

package host

import (
	"net"
	"syscall"
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
