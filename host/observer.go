package host

import (
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
	}
	return fmt.Sprintf("phase(%d)", uint8(p))
}

// ConnEvent reports one step of one guest connection to the observer.
type ConnEvent struct {
	Phase      Phase
	Guest      string         // the guest's module name (or guest-N)
	Addr       netip.AddrPort // the remote address, if known
	ServerName string         // the TLS server name (handshake, close); the looked-up name (denied lookup)
	Backend    string         // the provider's name (handshake, close)
	State      api.ConnectionState
	Duration   time.Duration // how long the connect or handshake took; the connection's lifetime on close
	Err        error         // why it failed or was denied
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

// observe reports an event to the observer and the logger.
func (g *Guest) observe(e ConnEvent) {
	if !g.observed() {
		return
	}
	e.Guest = g.Name()
	if g.s.observer != nil {
		g.s.observer(e)
	}
	if g.s.logger != nil {
		g.s.logger.Debug("wasitls connection", slog.String("event", e.String()))
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
