//go:build !linux

package conformance

import (
	"errors"
	"net"
	"os"
	"time"
)

// bytesQueued reports whether any received bytes wait on c. Without SIOCINQ
// it reads with a short deadline; it returns 0 or the bytes read.
func bytesQueued(c net.Conn) (int, error) {
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	var b [1]byte
	n, err := c.Read(b[:])
	if n > 0 || errors.Is(err, os.ErrDeadlineExceeded) {
		return n, nil
	}
	return 0, nil
}
