package utls

import (
	"context"
	stdtls "crypto/tls"
	"errors"
	"fmt"
	"net"
	"reflect"
	"slices"
	"strings"

	tls "github.com/refraction-networking/utls"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/api/backendkit"
)

// Name is the registry name of this backend.
const Name = "utls"

// Config.Options keys and values this backend understands.
const (
	// OptionALPN selects how Config.NextProtos meets the fingerprint's own
	// ALPN extension: ALPNOverride (the default) or ALPNFingerprint.
	OptionALPN = "alpn"

	// ALPNFingerprint pins the fingerprint's ALPN list (Chrome: h2,
	// http/1.1): it is sent unchanged, so the ClientHello stays exactly the
	// parrot's, and the state reports what the server chose from it. A
	// Config that also names NextProtos is refused by Validate (the two
	// conflict); Client ignores them, for a host whose guest asked for
	// protocols of its own (it learns the outcome from the state).
	ALPNFingerprint = "fingerprint"

	// ALPNOverride, the default, sends exactly Config.NextProtos in the
	// place of the fingerprint's ALPN list (removing ALPN and ALPS when
	// NextProtos is empty): a peer is never offered a protocol, such as h2,
	// that the caller did not ask for. It changes only the JA4's ALPN
	// characters, and none when NextProtos equals the fingerprint's list.
	ALPNOverride = "override"
)

func init() { api.Register(must(New())) }

func must(p *Provider, err error) *Provider {
	if err != nil {
		panic(err)
	}
	return p
}

// Provider implements api.Provider with uTLS. Build one with New; it is safe
// for concurrent use.
type Provider struct {
	defaultFP string
	alpn      string
	specs     map[string][]byte // named custom specs (WithSpec)
	caches    *cacheMap
}

// Option configures a Provider.
type Option func(*Provider) error

// WithFingerprint sets the fingerprint used when Config.Fingerprint is empty.
func WithFingerprint(name string) Option {
	return func(p *Provider) error { p.defaultFP = name; return nil }
}

// WithALPN sets the default ALPN mode (ALPNOverride or ALPNFingerprint);
// Config.Options["alpn"] overrides it per connection.
func WithALPN(mode string) Option {
	return func(p *Provider) error {
		if mode != ALPNFingerprint && mode != ALPNOverride {
			return invalid("unknown ALPN mode %q (valid: %s, %s)", mode, ALPNFingerprint, ALPNOverride)
		}
		p.alpn = mode
		return nil
	}
}

// WithSpec registers a fingerprint called name whose ClientHello is the
// ClientHelloSpec in specJSON (uTLS's JSON format, e.g. from a capture).
func WithSpec(name string, specJSON []byte) Option {
	return func(p *Provider) error {
		if name == "" || strings.HasPrefix(name, CustomPrefix) || name == Golang || name == Randomized || builtin[name] != (tls.ClientHelloID{}) {
			return invalid("cannot register a custom fingerprint called %q", name)
		}
		if _, err := parseSpec(specJSON); err != nil {
			return invalid("fingerprint %q: %w", name, err)
		}
		p.specs[name] = slices.Clone(specJSON)
		return nil
	}
}

// New returns a Provider. Without options it parrots current Chrome and
// offers Config.NextProtos in the place of the fingerprint's ALPN list
// (ALPNOverride).
func New(opts ...Option) (*Provider, error) {
	p := &Provider{defaultFP: DefaultFingerprint, alpn: ALPNOverride, specs: map[string][]byte{}, caches: newCacheMap(maxCaches)}
	for _, o := range opts {
		if err := o(p); err != nil {
			return nil, err
		}
	}
	if _, err := p.lookup(p.defaultFP); err != nil {
		return nil, err
	}
	return p, nil
}

// Name returns "utls".
func (*Provider) Name() string { return Name }

// Fingerprints returns the accepted Config.Fingerprint names, the default
// first. Files are accepted too, as "custom:<path>".
func (p *Provider) Fingerprints() []string {
	names := []string{p.defaultFP}
	for _, n := range BuiltinFingerprints() {
		if n != p.defaultFP {
			names = append(names, n)
		}
	}
	var custom []string
	for n := range p.specs {
		if n != p.defaultFP {
			custom = append(custom, n)
		}
	}
	slices.Sort(custom)
	return append(names, custom...)
}

// Capabilities describe the default fingerprint: Resumption (of TLS 1.3
// sessions) only if its hello carries a pre_shared_key extension (Chrome 133
// does not),
// ALPNOverride unless the fingerprint's list is pinned (ALPNFingerprint; the
// golang hello always honours NextProtos).
func (p *Provider) Capabilities() api.Capabilities {
	fp, err := p.lookup("")
	if err != nil {
		return api.Capabilities{}
	}
	return api.Capabilities{
		TLS12:         true,
		Resumption:    fp.hasPSK(),
		ALPNOverride:  p.alpn == ALPNOverride || fp.kind == kindGolang,
		ClassicalOnly: true,
		ClientAuth:    true,
		ReportsGroup:  true,
		HonorsContext: true,
	}
}

func invalid(format string, args ...any) error {
	return &api.Error{Kind: api.KindInvalidConfig, Backend: Name, Err: fmt.Errorf(format, args...)}
}

// Validate refuses Options this backend does not know, ALPN protocols it
// cannot send, version bounds that leave no version, an unknown
// Fingerprint, and NextProtos with the fingerprint's ALPN list pinned
// (ALPNFingerprint), which would ignore them.
func (p *Provider) Validate(cfg *api.Config) error {
	fp, alpn, err := p.check(cfg)
	if err != nil {
		return err
	}
	if alpn == ALPNFingerprint && fp.kind != kindGolang && len(cfg.NextProtos) > 0 {
		return invalid("ALPN protocols %s conflict with option %s=%s: fingerprint %q sends its own ALPN list (drop the protocols, or set %s=%s to send them in its place)",
			strings.Join(cfg.NextProtos, ","), OptionALPN, ALPNFingerprint, fp.name, OptionALPN, ALPNOverride)
	}
	return nil
}

// check resolves cfg's fingerprint and ALPN mode, refusing what no
// handshake could honour.
func (p *Provider) check(cfg *api.Config) (fp *fingerprint, alpn string, err error) {
	alpn = p.alpn
	for k, v := range cfg.Options {
		switch k {
		case OptionALPN:
			if v != ALPNFingerprint && v != ALPNOverride {
				return nil, "", invalid("option %s=%q: valid values are %s and %s", k, v, ALPNFingerprint, ALPNOverride)
			}
			alpn = v
		default:
			return nil, "", invalid("unknown option %q (valid: %s)", k, OptionALPN)
		}
	}
	for _, proto := range cfg.NextProtos {
		if proto == "" || len(proto) > 255 {
			return nil, "", invalid("ALPN protocol %q is empty or longer than 255 bytes", proto)
		}
	}
	if minV, maxV := cfg.Versions(); maxV < minV {
		return nil, "", invalid("MaxVersion %s is below MinVersion %s", versionName(maxV), versionName(minV))
	}
	fp, err = p.lookup(cfg.Fingerprint)
	if err != nil {
		return nil, "", err
	}
	return fp, alpn, nil
}

// Client runs a uTLS client handshake over transport with the ClientHello of
// cfg.Fingerprint.
func (p *Provider) Client(ctx context.Context, transport net.Conn, cfg *api.Config) (_ api.Conn, err error) {
	if cfg == nil {
		return nil, invalid("nil Config")
	}
	if err := api.ValidateServerName(cfg.ServerName); err != nil {
		return nil, backendkit.Classify(err, Name)
	}
	fp, alpn, err := p.check(cfg)
	if err != nil {
		return nil, err
	}
	minV, maxV := cfg.Versions()

	tc := &tls.Config{
		ServerName: cfg.ServerName,
		RootCAs:    cfg.RootCAs,
		MinVersion: minV,
		MaxVersion: maxV,
		NextProtos: slices.Clone(cfg.NextProtos),
		// Parrots without session extensions simply do not resume, rather
		// than making uTLS panic.
		PreferSkipResumptionOnNilExtension: true,
		// A first connection has no session: leave the pre_shared_key
		// extension out, as the browser does, instead of failing.
		OmitEmptyPsk: true,
	}
	if c := p.caches.get(cfg.ClientSessionCache); c != nil {
		tc.ClientSessionCache = c
	} else {
		tc.SessionTicketsDisabled = true
	}
	if cert := cfg.ClientCertificate; cert != nil {
		uc := convertCert(cert)
		// As stdtls: send the identity whatever CAs the server names.
		tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return uc, nil }
	}

	// uTLS asserts its invariants with panics; a bad custom spec must not
	// take the host down.
	defer func() {
		if r := recover(); r != nil {
			err = &api.Error{Kind: api.KindInvalidConfig, Backend: Name, Err: fmt.Errorf("uTLS failed on fingerprint %q: %v", fp.name, r)}
		}
	}()

	raw := &sniffConn{EOFWatch: backendkit.EOFWatch{Conn: transport}}
	uconn, err := build(raw, tc, fp, minV, maxV, alpn)
	if err != nil {
		return nil, err
	}

	if err := backendkit.RunHandshake(ctx, transport, cfg.Timeout(), uconn.Handshake); err != nil {
		return nil, classify(err)
	}
	return newConn(uconn, raw, cfg.ServerName, fp.name), nil
}

// build makes the UConn and its ClientHello (no I/O), applying the version
// bounds and the ALPN mode to the fingerprint.
func build(transport net.Conn, tc *tls.Config, fp *fingerprint, minV, maxV uint16, alpn string) (*tls.UConn, error) {
	var uconn *tls.UConn
	switch fp.kind {
	case kindGolang:
		uconn = tls.UClient(transport, tc, tls.HelloGolang)
	case kindRandomized:
		id := tls.HelloRandomized
		if alpn == ALPNOverride {
			// The randomized generator uses Config.NextProtos for its ALPN.
			id = tls.HelloRandomizedALPN
			if len(tc.NextProtos) == 0 {
				id = tls.HelloRandomizedNoALPN
			}
		}
		// uTLS picks a TLS 1.2-only hello 60% of the time by default; offer
		// TLS 1.3 whenever the bounds allow it, so that randomizing never
		// downgrades the connection.
		w := tls.DefaultWeights
		if maxV >= tls.VersionTLS13 {
			w.TLSVersMax_Set_VersionTLS13 = 1
		} else {
			w.TLSVersMax_Set_VersionTLS13 = 0
		}
		// uTLS cannot answer a HelloRetryRequest for a hybrid group, so
		// always list and share X25519MLKEM768, X25519 and P-256: a server
		// then never needs to ask for another share.
		w.CurveIDs_Append_X25519 = 1
		w.KeyShare_Append_RandomGroups = 1
		id.Weights = &w
		uconn = tls.UClient(transport, tc, id)
	default:
		spec, err := fp.spec()
		if err != nil {
			return nil, invalid("fingerprint %q: %w", fp.name, err)
		}
		if err := clampVersions(spec, minV, maxV); err != nil {
			// No version both the fingerprint and the bounds accept: the
			// same verdict a server would give, but before any I/O.
			return nil, &api.Error{Kind: api.KindProtocolVersion, Backend: Name, Err: fmt.Errorf("fingerprint %q: %w", fp.name, err)}
		}
		if alpn == ALPNOverride {
			overrideALPN(spec, tc.NextProtos)
		}
		uconn = tls.UClient(transport, tc, tls.HelloCustom)
		if err := uconn.ApplyPreset(spec); err != nil {
			return nil, invalid("fingerprint %q: %w", fp.name, err)
		}
	}
	if err := uconn.BuildHandshakeState(); err != nil {
		return nil, invalid("fingerprint %q: %w", fp.name, err)
	}
	if fp.kind == kindRandomized {
		// The generator may offer TLS 1.0 and 1.1; trim its list to the
		// bounds (it has no pre_shared_key, so re-marshalling is safe).
		for _, e := range uconn.Extensions {
			if sv, ok := e.(*tls.SupportedVersionsExtension); ok {
				sv.Versions = slices.DeleteFunc(sv.Versions, func(v uint16) bool { return !isGREASE(v) && (v < minV || v > maxV) })
			}
		}
		if err := uconn.ApplyConfig(); err != nil {
			return nil, invalid("fingerprint %q: %w", fp.name, err)
		}
		if err := uconn.MarshalClientHello(); err != nil {
			return nil, invalid("fingerprint %q: %w", fp.name, err)
		}
	}
	// The parrot's supported_versions (and its ALPN extension) rewrote the
	// Config; put the caller's bounds back, narrowed to what the hello
	// offers, so that the server's choice is checked against both and the
	// downgrade canary check uses the real maximum.
	lo, hi := uint16(0), uint16(0)
	for _, v := range uconn.HandshakeState.Hello.SupportedVersions {
		if isGREASE(v) {
			continue
		}
		if lo == 0 || v < lo {
			lo = v
		}
		hi = max(hi, v)
	}
	tc.MinVersion, tc.MaxVersion = max(lo, minV), min(hi, maxV)
	if hi == 0 || tc.MinVersion > tc.MaxVersion {
		return nil, &api.Error{Kind: api.KindProtocolVersion, Backend: Name,
			Err: fmt.Errorf("fingerprint %q offers no TLS version between %s and %s", fp.name, versionName(minV), versionName(maxV))}
	}
	return uconn, nil
}

func convertCert(c *stdtls.Certificate) *tls.Certificate {
	uc := &tls.Certificate{
		Certificate:                 c.Certificate,
		PrivateKey:                  c.PrivateKey,
		OCSPStaple:                  c.OCSPStaple,
		SignedCertificateTimestamps: c.SignedCertificateTimestamps,
		Leaf:                        c.Leaf,
	}
	for _, s := range c.SupportedSignatureAlgorithms {
		uc.SupportedSignatureAlgorithms = append(uc.SupportedSignatureAlgorithms, tls.SignatureScheme(s))
	}
	return uc
}

// classify maps uTLS's own error types (its alert and record errors are
// distinct from crypto/tls's) and passes the rest to backendkit.Classify.
func classify(err error) error {
	var (
		ae  tls.AlertError
		rh  tls.RecordHeaderError
		op  *net.OpError
		sae stdtls.AlertError
	)
	alert, isAlert := uint8(0), false
	switch {
	case errors.As(err, &ae):
		alert, isAlert = uint8(ae), true
	case errors.As(err, &sae):
		alert, isAlert = uint8(sae), true
	case errors.As(err, &op) && op.Op == "remote error":
		// A received alert is a net.OpError around uTLS's unexported alert
		// type (a uint8); its text is the alert's RFC name.
		if code, ok := alertCode(op.Err); ok {
			alert, isAlert = code, true
		}
	case errors.As(err, &rh):
		return &api.Error{Kind: api.KindProtocol, Backend: Name, Err: err}
	}
	if isAlert && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		k := api.KindPeerAlert
		if alert == api.AlertProtocolVersion {
			k = api.KindProtocolVersion
		}
		return &api.Error{Kind: k, Alert: alert, Backend: Name, Err: err}
	}
	return backendkit.Classify(err, Name)
}

// alertCode recovers the code of uTLS's unexported alert type: a uint8.
func alertCode(e error) (uint8, bool) {
	if e == nil {
		return 0, false
	}
	if v := reflect.ValueOf(e); v.Kind() == reflect.Uint8 {
		return uint8(v.Uint()), true
	}
	return 0, false
}
