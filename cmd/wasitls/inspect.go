package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/exaring/ja4plus"

	"github.com/wasitls/wasitls/api"
)

// handshakeRecord is what the inspector saw of one handshake.
type handshakeRecord struct {
	Local, Remote net.Addr // the transport's addresses (Local is what the server sees as the client)
	ServerName    string
	Backend       string
	State         api.ConnectionState // zero on failure
	Duration      time.Duration
	JA4           string // JA4 of the ClientHello the backend sent, "" if unknown
	Err           error
}

// inspector wraps a Provider to see each handshake from the outside: it
// records the bytes the backend writes before its first read (the
// ClientHello), so the CLI can report JA4 for every backend without the
// backend's help, and reports the outcome to fn.
type inspector struct {
	api.Provider
	fn func(handshakeRecord)
}

// Capabilities and Validate are the wrapped backend's: watching changes
// neither what it can do nor what it accepts (and so not how the host runs
// it).
func (p inspector) Capabilities() api.Capabilities { return api.CapabilitiesOf(p.Provider) }
func (p inspector) Validate(cfg *api.Config) error { return api.ValidateConfig(p.Provider, cfg) }

func (p inspector) Client(ctx context.Context, transport net.Conn, cfg *api.Config) (api.Conn, error) {
	rec := &recorder{Conn: transport}
	var t net.Conn = rec
	if _, ok := transport.(interface{ CloseWrite() error }); ok {
		t = halfCloser{rec}
	}
	start := time.Now()
	c, err := p.Provider.Client(ctx, t, cfg)
	r := handshakeRecord{
		Local: transport.LocalAddr(), Remote: transport.RemoteAddr(), ServerName: cfg.ServerName,
		Backend: p.Name(), Duration: time.Since(start), Err: api.Classify(err, p.Name()),
	}
	if c != nil {
		r.State = c.State()
	}
	if ja4, jerr := JA4(rec.hello()); jerr == nil {
		r.JA4 = ja4
	}
	p.fn(r)
	return c, err
}

// maxHello bounds what the recorder keeps; a ClientHello with every
// post-quantum key share is a few KiB.
const maxHello = 64 << 10

// recorder passes everything through and keeps the bytes written before
// the first read.
type recorder struct {
	net.Conn
	mu   sync.Mutex
	buf  []byte
	read bool
}

func (r *recorder) Write(b []byte) (int, error) {
	r.mu.Lock()
	if !r.read && len(r.buf)+len(b) <= maxHello {
		r.buf = append(r.buf, b...)
	}
	r.mu.Unlock()
	return r.Conn.Write(b)
}

func (r *recorder) Read(b []byte) (int, error) {
	r.mu.Lock()
	r.read = true
	r.mu.Unlock()
	return r.Conn.Read(b)
}

func (r *recorder) hello() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.buf)
}

// halfCloser keeps the transport's CloseWrite visible to backends that
// half-close after close_notify.
type halfCloser struct{ *recorder }

func (h halfCloser) CloseWrite() error {
	return h.Conn.(interface{ CloseWrite() error }).CloseWrite()
}

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
