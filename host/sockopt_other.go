//go:build !unix

package host

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// setHopLimit is not available here: the system default applies.
func setHopLimit(*net.TCPConn, bool, uint8) error { return nil }

// connName is not available here: local-address reports invalid-state
// until the connect has finished.
func connName(syscall.RawConn) (netip.AddrPort, bool) { return netip.AddrPort{}, false }

func closeFD(int) {}

// errNoListen: binding and listening need the unix socket calls.
var errNoListen = fmt.Errorf("binding TCP sockets on this platform: %w", errors.ErrUnsupported)

func bindSocket(bool, netip.AddrPort) (int, netip.AddrPort, error) {
	return -1, netip.AddrPort{}, errNoListen
}

func listenFD(int, int) (*net.TCPListener, error) { return nil, errNoListen }

func relisten(*net.TCPListener, int) error { return errNoListen }

func reuseAddr(syscall.RawConn) {}
