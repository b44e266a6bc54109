//go:build !unix

package host

import (
	"net"
	"net/netip"
	"syscall"
)

// setHopLimit is not available here: the system default applies.
func setHopLimit(*net.TCPConn, bool, uint8) error { return nil }

// dupFD is not available here: local-address reports invalid-state until
// the connect has finished.
func dupFD(syscall.RawConn) int { return -1 }

func sockName(int) (netip.AddrPort, bool) { return netip.AddrPort{}, false }

func closeFD(int) {}
