package observe

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/api/backendkit"
)

// Handshake is what Inspect saw of one handshake: the report the CLI's -v
// prints.
type Handshake struct {
	Local, Remote net.Addr // the transport's addresses (Local is what the server sees as the client)
	ServerName    string
	Backend       string
	State         api.ConnectionState // zero on failure
	Duration      time.Duration
	JA4           string // JA4 of the ClientHello the backend sent, "" if unknown
	Err           error  // classified (backendkit.Classify)
}

// Attrs returns the report as log attributes, named as the host names the
// attributes of its events (host.ConnEvent.Attrs): dest, server, backend,
// duration, ja4; version, cipher, group, alpn and resumed on success; kind
// and err on failure.
func (h Handshake) Attrs() []slog.Attr {
	a := make([]slog.Attr, 0, 12)
	if h.Remote != nil {
		a = append(a, slog.String("dest", h.Remote.String()))
	}
	a = append(a, slog.String("server", h.ServerName), slog.String("backend", h.Backend),
		slog.Duration("duration", h.Duration), slog.String("ja4", h.JA4))
	if h.Err != nil {
		return append(a, slog.String("kind", api.KindOf(h.Err).String()), slog.String("err", h.Err.Error()))
	}
	s := &h.State
	return append(a, slog.String("version", s.VersionName()), slog.String("cipher", s.CipherSuiteName()),
		slog.String("group", s.GroupName()), slog.String("alpn", s.NegotiatedProtocol), slog.Bool("resumed", s.DidResume))
}

// LogHandshakes returns a function for Inspect that logs each handshake to
// l: "tls handshake" at info, "tls handshake failed" at warn, with Attrs.
func LogHandshakes(l *slog.Logger) func(Handshake) {
	return func(h Handshake) {
		msg, level := "tls handshake", slog.LevelInfo
		if h.Err != nil {
			msg, level = "tls handshake failed", slog.LevelWarn
		}
		l.LogAttrs(context.Background(), level, msg, h.Attrs()...)
	}
}

// Inspect wraps p to see each handshake from the outside: it records the
// bytes the backend writes before its first read (the ClientHello), so that
// the JA4 of what every backend sent is known without the backend's help,
// and reports each outcome to fn, on the goroutine that ran the handshake,
// before the host sees it (fn must return quickly). The wrapper keeps p's
// name and optional interfaces (api.Wrap), so the host runs its handshakes
// exactly as it runs p's.
func Inspect(p api.Provider, fn func(Handshake)) api.Provider {
	return api.Wrap(p, p.Name(), func(ctx context.Context, transport net.Conn, cfg *api.Config) (api.Conn, error) {
		rec := &recorder{Conn: transport}
		var t net.Conn = rec
		if _, ok := transport.(interface{ CloseWrite() error }); ok {
			t = halfCloser{rec}
		}
		start := time.Now()
		c, err := p.Client(ctx, t, cfg)
		h := Handshake{
			Local: transport.LocalAddr(), Remote: transport.RemoteAddr(), ServerName: cfg.ServerName,
			Backend: p.Name(), Duration: time.Since(start), Err: backendkit.Classify(err, p.Name()),
		}
		if c != nil {
			h.State = c.State()
		}
		if ja4, jerr := JA4(rec.hello()); jerr == nil {
			h.JA4 = ja4
		}
		fn(h)
		return c, err
	})
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
