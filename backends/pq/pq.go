// Package pq is the wasitls backend that insists on post-quantum key exchange.
//
// It is crypto/tls (see backends/stdtls) with one policy on top: in "require"
// mode, the default, a handshake completes only if the server agrees to a
// hybrid ML-KEM group (X25519MLKEM768, SecP256r1MLKEM768 or
// SecP384r1MLKEM1024). The ClientHello offers nothing else, so a classical
// server cannot be talked into a classical group, and the negotiated group is
// checked again after the handshake. A server without a hybrid group fails
// with the classified [api.ErrPQRequired] error, wrapping the alert the server
// sent, rather than with a bare handshake_failure. In "prefer" mode the hybrid
// groups come first and classical groups are allowed; the state reports which
// one was used, for a gradual rollout.
//
// Per connection, [api.Config.Options] selects:
//
//	mode        "require" (default) or "prefer"
//	groups      comma-separated hybrid groups to offer, e.g. "SecP256r1MLKEM768"
//	            for a P-256-only (FIPS-minded) policy; default all three
//	mldsa-pins  comma-separated "sha256/<base64>" pins of ML-DSA public keys;
//	            the server must prove possession of one of them (see below)
//
// # Post-quantum server authentication with ML-DSA (circl)
//
// A hybrid key exchange protects recorded traffic from a future quantum
// computer, but the server is still authenticated with a classical (ECDSA or
// RSA) signature, and neither crypto/tls nor crypto/x509 can verify ML-DSA.
// This package closes that gap with cloudflare/circl's ML-DSA (FIPS 204): a
// server that holds an ML-DSA-44/65/87 key signs the connection's TLS
// exporter value (RFC 8446 section 7.5, label [pqproof.ProofLabel]) right
// after the handshake and sends the signature with its public key as one
// short frame (see package pqproof, which a server imports to prove its key).
// The client checks the key against its pins and the signature against the
// exporter of its own connection, before the guest sees a byte. Because the
// exporter is derived from the hybrid key exchange and the whole transcript,
// a valid proof shows that the peer holding the pinned ML-DSA key is the
// endpoint of this very connection: authentication that survives a quantum
// attacker who can forge the classical certificate. (In prefer mode with a
// classical group the proof still authenticates the server, but the key
// exchange it rests on is then classical.) The server must send the frame
// before any application data; a pinned server that does not send one fails
// with [pqproof.ErrNoProof].
//
// Why pinning over the exporter rather than ML-DSA-signed certificate chains:
// a chain whose CAs sign with ML-DSA still ends in a leaf whose classical key
// signs the handshake, so a quantum attacker who recovers that leaf key
// impersonates the server anyway; the PQ guarantee would stop one step short.
// The exporter proof binds an ML-DSA signature to the session itself, needs no
// hand-written X.509 path validation (a classic source of security bugs), and
// any server that can export keying material and sign with ML-DSA can produce
// it: the tests use a Go server ([pqproof.WriteProof]) and a Node.js 26 /
// OpenSSL 3.5 server that does it in a few lines of JavaScript. Pins are SHA-256 hashes of
// the key's SubjectPublicKeyInfo (OIDs of RFC 9881), the format OpenSSL 3.5
// and Node export, so an operator can pin a key made by either.
//
// Importing the package registers a default instance as "pq" (require mode,
// all three hybrids, no pins); [New] makes configured instances:
//
//	p, err := pq.New(pq.WithName("pq-db"), pq.WithMLDSAPins("db.internal", pin))
//	if err != nil { ... }
//	api.Register(p)
//	conn, err := p.Client(ctx, tcp, &api.Config{ServerName: "db.internal", RootCAs: roots})
//	if errors.Is(err, api.ErrPQRequired) {
//		// the server offers no hybrid ML-KEM group
//	}
package pq

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/api/backendkit"
	"github.com/wasitls/wasitls/backends/pq/pqproof"
	"github.com/wasitls/wasitls/internal/gotls"
)

// Name is the registry name of the default instance.
const Name = "pq"

func init() { api.Register(newDefault()) }

// Mode says whether a classical key exchange is acceptable.
type Mode int

const (
	// Require refuses any handshake without a hybrid ML-KEM group.
	Require Mode = iota
	// Prefer offers the hybrid groups first and accepts a classical one.
	Prefer
)

func (m Mode) String() string {
	if m == Prefer {
		return "prefer"
	}
	return "require"
}

// Option keys accepted in api.Config.Options.
const (
	OptionMode      = "mode"
	OptionGroups    = "groups"
	OptionMLDSAPins = "mldsa-pins"
)

// hybridGroups are the hybrid ML-KEM groups this backend can offer.
var hybridGroups = []tls.CurveID{tls.X25519MLKEM768, tls.SecP256r1MLKEM768, tls.SecP384r1MLKEM1024}

// classicalGroups are added in prefer mode: Go's default classical set.
var classicalGroups = []tls.CurveID{tls.X25519, tls.CurveP256, tls.CurveP384, tls.CurveP521}

// Provider is a crypto/tls client that requires (or prefers) a hybrid
// post-quantum key exchange. It is safe for concurrent use; create it with New.
type Provider struct {
	name   string
	mode   Mode
	groups []tls.CurveID
	pins   map[string][]pqproof.Pin // server name -> pins the server must prove
}

// An Option configures a Provider made by New; a bad one is New's error.
type Option func(*Provider) error

// WithName sets the registry name (default "pq"), so that several configured
// instances can be registered side by side.
func WithName(name string) Option {
	return func(p *Provider) error {
		if name == "" {
			return errors.New("pq: empty name")
		}
		p.name = name
		return nil
	}
}

// WithMode sets the default mode; Config.Options["mode"] overrides it.
func WithMode(m Mode) Option {
	return func(p *Provider) error {
		if m != Require && m != Prefer {
			return fmt.Errorf("pq: unknown mode %d", int(m))
		}
		p.mode = m
		return nil
	}
}

// WithGroups restricts the hybrid groups offered by default;
// Config.Options["groups"] overrides it. Non-hybrid groups are ignored.
func WithGroups(groups ...tls.CurveID) Option {
	return func(p *Provider) error {
		p.groups = nil
		for _, g := range groups {
			if api.IsHybridPQ(g) && !slices.Contains(p.groups, g) {
				p.groups = append(p.groups, g)
			}
		}
		return nil
	}
}

// WithMLDSAPins requires the server called serverName to prove possession of
// an ML-DSA key matching one of pins (see package pqproof). Config.Options
// ["mldsa-pins"] replaces them for one connection. A pin that is not of the
// form "sha256/<base64>" is an error.
func WithMLDSAPins(serverName string, pins ...pqproof.Pin) Option {
	return func(p *Provider) error {
		if p.pins == nil {
			p.pins = map[string][]pqproof.Pin{}
		}
		key := strings.ToLower(strings.TrimSuffix(serverName, "."))
		for _, pin := range pins {
			parsed, err := pqproof.ParsePin(string(pin))
			if err != nil {
				return fmt.Errorf("pq: ML-DSA pin for %s: %w", serverName, err)
			}
			p.pins[key] = append(p.pins[key], parsed)
		}
		return nil
	}
}

// New returns a Provider in require mode offering all three hybrid groups,
// changed by opts.
func New(opts ...Option) (*Provider, error) {
	p := newDefault()
	for _, o := range opts {
		if err := o(p); err != nil {
			return nil, err
		}
	}
	if len(p.groups) == 0 {
		p.groups = slices.Clone(hybridGroups)
	}
	return p, nil
}

func newDefault() *Provider { return &Provider{name: Name, groups: slices.Clone(hybridGroups)} }

// Name returns the registry name.
func (p *Provider) Name() string { return p.name }

// Capabilities depend on the default mode: require mode speaks TLS 1.3 only
// (the hybrid groups do not exist in TLS 1.2) and never completes a classical
// handshake.
func (p *Provider) Capabilities() api.Capabilities {
	c := api.Capabilities{Resumption: true, ALPNOverride: true, ClientAuth: true, ReportsGroup: true, RequiresPQ: true, HonorsContext: true}
	if p.mode == Prefer {
		c.TLS12, c.ClassicalOnly, c.RequiresPQ = true, true, false
	}
	return c
}

// settings are the effective per-connection choices.
type settings struct {
	mode   Mode
	groups []tls.CurveID
	pins   []pqproof.Pin
}

func (p *Provider) invalid(format string, args ...any) error {
	return &api.Error{Kind: api.KindInvalidConfig, Backend: p.name, Err: fmt.Errorf(format, args...)}
}

// Validate refuses Options this backend does not know or cannot parse, and
// version bounds its mode cannot meet (require mode needs TLS 1.3).
func (p *Provider) Validate(cfg *api.Config) error {
	_, err := p.check(cfg)
	return err
}

// check resolves cfg's settings and refuses what no handshake could honour.
func (p *Provider) check(cfg *api.Config) (settings, error) {
	s, err := p.resolve(cfg)
	if err != nil {
		return s, err
	}
	if minV, maxV := cfg.Versions(); minV > maxV {
		return s, p.invalid("MinVersion %s is above MaxVersion %s", tls.VersionName(minV), tls.VersionName(maxV))
	}
	if _, maxV := cfg.Versions(); s.mode == Require && maxV < tls.VersionTLS13 {
		return s, p.invalid("require mode needs TLS 1.3, but MaxVersion is %s", tls.VersionName(maxV))
	}
	return s, nil
}

// resolve merges the provider's defaults with cfg.Options.
func (p *Provider) resolve(cfg *api.Config) (settings, error) {
	s := settings{mode: p.mode, groups: p.groups, pins: p.pins[strings.ToLower(strings.TrimSuffix(cfg.ServerName, "."))]}
	keys := make([]string, 0, len(cfg.Options))
	for k := range cfg.Options {
		keys = append(keys, k)
	}
	slices.Sort(keys) // report the same unknown key every time
	for _, k := range keys {
		v := cfg.Options[k]
		switch k {
		case OptionMode:
			switch strings.ToLower(strings.TrimSpace(v)) {
			case "require":
				s.mode = Require
			case "prefer":
				s.mode = Prefer
			default:
				return s, p.invalid("option %q: unknown mode %q (want \"require\" or \"prefer\")", k, v)
			}
		case OptionGroups:
			gs, err := ParseGroups(v)
			if err != nil {
				return s, p.invalid("option %q: %w", k, err)
			}
			s.groups = gs
		case OptionMLDSAPins:
			pins, err := pqproof.ParsePins(v)
			if err != nil {
				return s, p.invalid("option %q: %w", k, err)
			}
			s.pins = pins
		default:
			return s, p.invalid("unknown option %q (known: %s, %s, %s)", k, OptionMode, OptionGroups, OptionMLDSAPins)
		}
	}
	return s, nil
}

// ParseGroups parses a comma-separated list of hybrid group names
// (case-insensitive). Classical or unknown names are an error.
func ParseGroups(list string) ([]tls.CurveID, error) {
	var out []tls.CurveID
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		var found tls.CurveID
		for _, g := range append(slices.Clone(hybridGroups), classicalGroups...) {
			if strings.EqualFold(f, api.GroupName(g)) || strings.EqualFold(f, g.String()) {
				found = g
				break
			}
		}
		switch {
		case found == 0:
			return nil, fmt.Errorf("unknown group %q (hybrid groups: X25519MLKEM768, SecP256r1MLKEM768, SecP384r1MLKEM1024)", f)
		case !api.IsHybridPQ(found):
			return nil, fmt.Errorf("group %q is not a hybrid ML-KEM group", f)
		case !slices.Contains(out, found):
			out = append(out, found)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no groups given")
	}
	return out, nil
}

// Client runs the handshake and enforces the key-exchange policy and, when
// pins apply, the ML-DSA proof.
func (p *Provider) Client(ctx context.Context, transport net.Conn, cfg *api.Config) (api.Conn, error) {
	if cfg == nil {
		cfg = &api.Config{}
	}
	if err := api.ValidateServerName(cfg.ServerName); err != nil {
		return nil, err
	}
	s, err := p.check(cfg)
	if err != nil {
		return nil, err
	}
	// gotls builds the rest; it refuses Options it does not know.
	plain := *cfg
	plain.Options = nil
	tc, err := gotls.ClientConfig(&plain, p.name)
	if err != nil {
		return nil, backendkit.Classify(err, p.name)
	}
	s.applyGroups(tc)

	c, err := gotls.Client(ctx, transport, tc, cfg.Timeout(), p.name, "")
	if err != nil {
		return nil, p.classify(err, s.mode)
	}
	cs := c.ConnectionState()
	if s.mode == Require && !api.IsHybridPQ(cs.CurveID) {
		// Belt and braces: crypto/tls should never get here with a group we
		// did not offer, but the policy must not depend on that.
		_ = c.Close()
		return nil, &api.Error{Kind: api.KindPQRequired, Backend: p.name,
			Err: fmt.Errorf("negotiated group %s is not a hybrid ML-KEM group", api.GroupName(cs.CurveID))}
	}
	conn := &Conn{Conn: c}
	if len(s.pins) > 0 {
		pin, err := pqproof.ReadProof(ctx, c.Conn, s.pins)
		if err != nil {
			_ = c.Close()
			kind := api.KindBadCertificate
			if errors.Is(ctx.Err(), context.Canceled) {
				kind = api.KindCanceled
			}
			return nil, &api.Error{Kind: kind, Backend: p.name, Err: err}
		}
		conn.pin = pin
	}
	return conn, nil
}

// applyGroups sets the key-exchange groups of tc by the mode: the hybrid
// groups only, and TLS 1.3 (where they exist), in require mode; the hybrid
// groups first in prefer mode.
func (s settings) applyGroups(tc *tls.Config) {
	if s.mode == Require {
		tc.MinVersion = tls.VersionTLS13
		tc.CurvePreferences = slices.Clone(s.groups)
		return
	}
	tc.CurvePreferences = append(slices.Clone(s.groups), classicalGroups...)
}

// classify maps a handshake error. In require mode the ClientHello offered
// only hybrid groups (and TLS 1.3), so a handshake_failure or
// insufficient_security alert, or a version refusal, means the server has no
// hybrid group or no TLS 1.3: the policy's refusal, reported as such.
func (p *Provider) classify(err error, mode Mode) error {
	cerr := backendkit.Classify(err, p.name)
	if mode != Require {
		return cerr
	}
	if strings.Contains(err.Error(), "no supported elliptic curves") {
		// Nothing was sent: crypto/tls has every offered group disabled,
		// e.g. by GODEBUG=tlsmlkem=0 or tlssecpmlkem=0.
		return &api.Error{Kind: api.KindPQRequired, Backend: p.name,
			Err: fmt.Errorf("no hybrid ML-KEM group is enabled in this process (GODEBUG tlsmlkem/tlssecpmlkem?): %w", err)}
	}
	var ae *api.Error
	if !errors.As(cerr, &ae) {
		return cerr
	}
	pqRefused := ae.Kind == api.KindProtocolVersion ||
		(ae.Kind == api.KindPeerAlert && (ae.Alert == api.AlertHandshakeFailure || ae.Alert == api.AlertInsufficientSecurity))
	if !pqRefused {
		return cerr
	}
	return &api.Error{Kind: api.KindPQRequired, Backend: p.name,
		Err: fmt.Errorf("server refused a TLS 1.3 handshake offering only hybrid ML-KEM groups: %w", cerr)}
}

// Conn is the api.Conn pq returns: a crypto/tls connection (classified errors,
// truncation detection, close_notify with half-close; Read, Write, Flush,
// CloseWrite, State and NetConn, the transport) that also remembers which
// ML-DSA pin the server proved.
type Conn struct {
	*gotls.Conn
	pin pqproof.Pin
}

// ProvenPin returns the pin of the ML-DSA key the server proved, or "" if no
// pins applied to this connection.
func (c *Conn) ProvenPin() pqproof.Pin { return c.pin }

// HybridGroups returns the hybrid ML-KEM groups this backend can offer.
func HybridGroups() []tls.CurveID { return slices.Clone(hybridGroups) }
