//go:build !unix

package host

import "net"

// setHopLimit is not available here: the system default applies.
func setHopLimit(*net.TCPConn, bool, uint8) error { return nil }
