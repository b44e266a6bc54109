package observe

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/exaring/ja4plus"
)

var errGotHello = errors.New("client hello parsed")

// JA4 computes the JA4 fingerprint of a raw ClientHello (TLS records as a
// client sent them). crypto/tls parses it, as a server would, and
// exaring/ja4plus fingerprints the result, so the value matches what a
// Go server computing JA4 in GetConfigForClient reports.
func JA4(raw []byte) (fp string, err error) {
	if len(raw) == 0 {
		return "", errors.New("no ClientHello")
	}
	var hello *tls.ClientHelloInfo
	srv := tls.Server(&replayConn{r: bytes.NewReader(raw)}, &tls.Config{
		GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			hello = h
			return nil, errGotHello
		},
	})
	herr := srv.Handshake()
	if hello == nil {
		return "", fmt.Errorf("not a ClientHello: %w", herr)
	}
	defer func() {
		// ja4plus indexes the version list without checking it.
		if r := recover(); r != nil {
			fp, err = "", fmt.Errorf("ja4: %v", r)
		}
	}()
	return ja4plus.JA4(hello), nil
}

// replayConn is a net.Conn that reads recorded bytes and discards writes.
type replayConn struct{ r io.Reader }

func (c *replayConn) Read(b []byte) (int, error)       { return c.r.Read(b) }
func (c *replayConn) Write(b []byte) (int, error)      { return len(b), nil }
func (c *replayConn) Close() error                     { return nil }
func (c *replayConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *replayConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *replayConn) SetDeadline(time.Time) error      { return nil }
func (c *replayConn) SetReadDeadline(time.Time) error  { return nil }
func (c *replayConn) SetWriteDeadline(time.Time) error { return nil }
