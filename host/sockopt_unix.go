//go:build unix

package host

import (
	"net"
	"net/netip"
	"os"
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

// connName returns the address the socket a dial is connecting is bound to
// (see tcpSocket.bound), through the dial's own descriptor: rc fails once
// the dial has closed it, and holds it open while the call runs.
func connName(rc syscall.RawConn) (netip.AddrPort, bool) {
	var ap netip.AddrPort
	var ok bool
	if err := rc.Control(func(fd uintptr) { ap, ok = sockName(int(fd)) }); err != nil {
		return netip.AddrPort{}, false
	}
	return ap, ok
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

// bindSocket creates a TCP socket of the family and binds it to local with
// SO_REUSEADDR (tcp.wit: a bind is not held up by TIME_WAIT). An IPv6
// socket is IPv6 only, so a bind to [::] never admits IPv4 clients the
// policy did not name. It returns the descriptor and the address bound.
func bindSocket(v6 bool, local netip.AddrPort) (int, netip.AddrPort, error) {
	domain := unix.AF_INET
	var sa unix.Sockaddr
	if v6 {
		domain = unix.AF_INET6
		sa = &unix.SockaddrInet6{Port: int(local.Port()), Addr: local.Addr().As16()}
	} else {
		sa = &unix.SockaddrInet4{Port: int(local.Port()), Addr: local.Addr().As4()}
	}
	syscall.ForkLock.RLock()
	fd, err := unix.Socket(domain, unix.SOCK_STREAM, unix.IPPROTO_TCP)
	if err == nil {
		unix.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, netip.AddrPort{}, os.NewSyscallError("socket", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		_ = unix.Close(fd)
		return -1, netip.AddrPort{}, os.NewSyscallError("setsockopt", err)
	}
	if v6 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1); err != nil {
			_ = unix.Close(fd)
			return -1, netip.AddrPort{}, os.NewSyscallError("setsockopt", err)
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		_ = unix.Close(fd)
		return -1, netip.AddrPort{}, os.NewSyscallError("bind", err)
	}
	ap, ok := sockName(fd)
	if !ok {
		_ = unix.Close(fd)
		return -1, netip.AddrPort{}, os.NewSyscallError("getsockname", unix.EINVAL)
	}
	return fd, ap, nil
}

// listenFD makes the bound socket fd listen with the backlog (0: the
// default) and hands it to Go's poller. It consumes fd on success only.
func listenFD(fd, backlog int) (*net.TCPListener, error) {
	if backlog <= 0 {
		backlog = defaultBacklog
	}
	if err := unix.Listen(fd, backlog); err != nil {
		return nil, os.NewSyscallError("listen", err)
	}
	f := os.NewFile(uintptr(fd), "wasi-tcp-listener")
	ln, err := net.FileListener(f) // a duplicate of fd
	_ = f.Close()
	if err != nil {
		return nil, err
	}
	return ln.(*net.TCPListener), nil
}

// relisten changes a listening socket's backlog (listen(2) again).
func relisten(ln *net.TCPListener, backlog int) error {
	rc, err := ln.SyscallConn()
	if err != nil {
		return err
	}
	var lerr error
	if err := rc.Control(func(fd uintptr) { lerr = unix.Listen(int(fd), backlog) }); err != nil {
		return err
	}
	return lerr
}

// reuseAddr sets SO_REUSEADDR on a socket being dialed from the address a
// bound socket held.
func reuseAddr(rc syscall.RawConn) {
	_ = rc.Control(func(fd uintptr) { _ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1) })
}
