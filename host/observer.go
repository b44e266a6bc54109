package host

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/wasitls/wasitls/api"
)

// Phase says what a ConnEvent reports.
type Phase uint8

const (
	PhaseConnect   Phase = iota + 1 // a TCP connect finished (Err set on failure)
	PhaseDenied                     // the policy refused a connect or a lookup
	PhaseHandshake                  // a TLS handshake finished (State on success, Err on failure)
	PhaseClose                      // a TLS connection was closed
	PhaseAccept                     // a listening socket accepted a connection (Addr: the client)
)

func (p Phase) String() string {
	switch p {
	case PhaseConnect:
		return "connect"
	case PhaseDenied:
		return "denied"
	case PhaseHandshake:
		return "handshake"
	case PhaseClose:
		return "close"
	case PhaseAccept:
		return "accept"
	}
	return fmt.Sprintf("phase(%d)", uint8(p))
}

// ConnEvent reports one step of one guest connection to the observer.
type ConnEvent struct {
	Phase      Phase
	Guest      string         // the guest's module name (or guest-N)
	GuestID    uint64         // unique among the Host's guests (names may repeat)
	Addr       netip.AddrPort // the remote address, if known
	ServerName string         // the TLS server name (handshake, close); the looked-up name (denied lookup)
	Backend    string         // the provider's name (handshake, close)
	State      api.ConnectionState
	Duration   time.Duration // how long the connect or handshake took; the connection's lifetime on close
	Err        error         // why it failed or was denied

	// BytesIn and BytesOut count the plaintext a TLS connection received
	// and sent (close).
	BytesIn, BytesOut uint64

	// Identity is the Dest pattern of the client identity the handshake
	// offered (Policy.Identities), "" for none; never the key.
	Identity string

	// Server: the guest was the TLS server (wasitls:tls/server); Addr is
	// the client and ServerName the name it asked for.
	Server bool
}

// Message is a short constant description of the event for a log line:
// "tcp connect", "tcp connect failed", "denied by policy", "tls handshake",
// "tls handshake failed", "tls closed".
func (e ConnEvent) Message() string {
	switch {
	case e.Phase == PhaseConnect && e.Err != nil:
		return "tcp connect failed"
	case e.Phase == PhaseConnect:
		return "tcp connect"
	case e.Phase == PhaseDenied:
		return "denied by policy"
	case e.Phase == PhaseHandshake && e.Err != nil:
		return "tls handshake failed"
	case e.Phase == PhaseHandshake:
		return "tls handshake"
	case e.Phase == PhaseClose:
		return "tls closed"
	case e.Phase == PhaseAccept:
		return "tcp accept"
	}
	return e.Phase.String()
}

// Level is the level the Host logs the event at: failures and denials at
// warn, the rest at debug.
func (e ConnEvent) Level() slog.Level {
	if e.Err != nil {
		return slog.LevelWarn
	}
	return slog.LevelDebug
}

// Attrs returns the event's fields as log attributes, so that logs can be
// searched by field: guest, dest (the address, or the looked-up name of a
// denied lookup), server, backend; for a handshake version, cipher, group,
// alpn, resumed, identity (the pattern of the client identity offered);
// duration; bytes_in and bytes_out on close; err and kind (the
// api.Kind of the failure) when it failed.
func (e ConnEvent) Attrs() []slog.Attr {
	a := make([]slog.Attr, 0, 12)
	a = append(a, slog.String("guest", e.Guest))
	if e.Addr.IsValid() {
		a = append(a, slog.String("dest", e.Addr.String()))
	} else if e.Phase == PhaseDenied {
		a = append(a, slog.String("dest", e.ServerName))
	}
	if e.ServerName != "" && e.Addr.IsValid() {
		a = append(a, slog.String("server", e.ServerName))
	}
	if e.Backend != "" {
		a = append(a, slog.String("backend", e.Backend))
	}
	if e.Phase == PhaseHandshake && e.Err == nil {
		s := &e.State
		a = append(a, slog.String("version", s.VersionName()), slog.String("cipher", s.CipherSuiteName()),
			slog.String("group", s.GroupName()), slog.String("alpn", s.NegotiatedProtocol), slog.Bool("resumed", s.DidResume))
	}
	if e.Identity != "" {
		a = append(a, slog.String("identity", e.Identity))
	}
	if e.Server {
		a = append(a, slog.Bool("tls_server", true))
	}
	if e.Duration > 0 {
		a = append(a, slog.Duration("duration", e.Duration))
	}
	if e.Phase == PhaseClose {
		a = append(a, slog.Uint64("bytes_in", e.BytesIn), slog.Uint64("bytes_out", e.BytesOut))
	}
	if e.Err != nil {
		if k, ok := errKind(e.Err); ok {
			a = append(a, slog.String("kind", k.String()))
		}
		a = append(a, slog.String("err", e.Err.Error()))
	}
	return a
}

func (e ConnEvent) String() string {
	s := fmt.Sprintf("%s %s %s", e.Guest, e.Phase, e.Addr)
	if e.ServerName != "" {
		s += " " + e.ServerName
	}
	if e.Phase == PhaseHandshake && e.Err == nil {
		s += fmt.Sprintf(" %s %s %s %s alpn=%q resumed=%v", e.Backend, e.State.VersionName(), e.State.CipherSuiteName(), e.State.GroupName(), e.State.NegotiatedProtocol, e.State.DidResume)
	}
	if e.Duration > 0 {
		s += " in " + e.Duration.Round(time.Microsecond).String()
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// errKind returns the api.Kind of a classified error.
func errKind(err error) (api.Kind, bool) {
	var e *api.Error
	if errors.As(err, &e) {
		return e.Kind, true
	}
	return 0, false
}

// observe reports an event to the observer and the logger.
func (g *Guest) observe(e ConnEvent) {
	if !g.observed() {
		return
	}
	e.Guest, e.GuestID = g.Name(), g.id
	if g.s.observer != nil {
		g.s.observer(e)
	}
	if l := g.s.logger; l != nil && l.Enabled(g.ctx, e.Level()) {
		l.LogAttrs(g.ctx, e.Level(), e.Message(), e.Attrs()...)
	}
}

// observed reports whether anyone sees events (State is costly to fill).
func (g *Guest) observed() bool { return g.s.observer != nil || g.s.logger != nil }

// allowConnect applies the guest's policy to a TCP connect.
func (g *Guest) allowConnect(dest netip.AddrPort) error {
	err := g.pol.allowConnect(dest, g.resolvedNames(dest.Addr()))
	if err != nil {
		g.observe(ConnEvent{Phase: PhaseDenied, Addr: dest, Err: &api.Error{Kind: api.KindPolicyDenied, Err: err}})
	}
	return err
}
