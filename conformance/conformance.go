package conformance

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/api/backendkit"
	"github.com/wasitls/wasitls/conformance/pki"
)

// Dialer connects to addr ("127.0.0.1:port", or "[::1]:port" in the IPv6
// case) and performs a TLS client handshake with cfg. On failure it returns
// the handshake's error, classified as the api sentinels expect, and closes
// any socket it opened. Cases use only the returned Conn's Read, Write,
// CloseWrite, Close and State.
type Dialer interface {
	Dial(ctx context.Context, addr string, cfg *api.Config) (api.Conn, error)
}

// DialerFunc adapts a function to a Dialer.
type DialerFunc func(ctx context.Context, addr string, cfg *api.Config) (api.Conn, error)

// Dial calls f.
func (f DialerFunc) Dial(ctx context.Context, addr string, cfg *api.Config) (api.Conn, error) {
	return f(ctx, addr, cfg)
}

// ProviderDialer returns the Dialer Run uses: a TCP dial, then p.Client.
func ProviderDialer(p api.Provider) Dialer {
	return DialerFunc(func(ctx context.Context, addr string, cfg *api.Config) (api.Conn, error) {
		var d net.Dialer
		raw, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, backendkit.Classify(err, p.Name())
		}
		c, err := p.Client(ctx, raw, cfg)
		if err != nil {
			raw.Close()
			return nil, err
		}
		return c, nil
	})
}

// Option changes how the suite runs.
type Option func(*options)

type options struct {
	configs      []func(*api.Config)
	skips        map[string]string
	backend      string
	bulkBytes    int
	requirePeers bool
}

// WithConfig applies fn to every case's configuration after the suite has
// filled it in (server name, roots, ...), e.g. to set Fingerprint or Options.
func WithConfig(fn func(*api.Config)) Option {
	return func(o *options) { o.configs = append(o.configs, fn) }
}

// Skip skips the case called name ("NameMismatch", or with its expectation,
// "NameMismatch/IsNameMismatchError"), printing reason.
func Skip(name, reason string) Option {
	return func(o *options) { o.skips[name] = reason }
}

// WithBackendName makes the suite check that ConnectionState.Backend is name.
// Run sets it to the Provider's name; without it the suite only checks that
// Backend is not empty.
func WithBackendName(name string) Option {
	return func(o *options) { o.backend = name }
}

// WithBulkBytes sets the size of the bulk transfer each way. The default is
// 64 MiB, or 8 MiB under -short.
func WithBulkBytes(n int) Option {
	return func(o *options) { o.bulkBytes = n }
}

// RequirePeers(true) makes a missing independent peer (OpenSSL's s_server)
// fail the cases that need it; by default they are skipped, saying so, so
// that a backend's CI without OpenSSL still runs the rest. This
// repository's own tests require the peers under CI=true.
func RequirePeers(required bool) Option {
	return func(o *options) { o.requirePeers = required }
}

// Run runs every case against p, dialing plain TCP and calling p.Client.
func Run(t *testing.T, p api.Provider, opts ...Option) {
	t.Helper()
	if p == nil {
		t.Fatal("conformance: nil Provider")
	}
	opts = append([]Option{WithBackendName(p.Name())}, opts...)
	RunDialer(t, ProviderDialer(p), api.CapabilitiesOf(p), opts...)
}

// RunDialer runs every case through d, skipping those caps rule out.
func RunDialer(t *testing.T, d Dialer, caps api.Capabilities, opts ...Option) {
	t.Helper()
	o := options{skips: map[string]string{}, bulkBytes: 64 << 20}
	if testing.Short() {
		o.bulkBytes = 8 << 20
	}
	for _, opt := range opts {
		opt(&o)
	}
	e := &env{dialer: d, caps: caps, opts: o}
	cases := allCases()
	known := map[string]bool{}
	for _, c := range cases {
		known[c.name], known[c.name+"/"+c.expectFor(caps)] = true, true
	}
	for name := range o.skips {
		if !known[name] {
			t.Errorf("conformance.Skip(%q): no such case", name)
		}
	}
	e.makePKI(t)
	for _, c := range cases {
		expect := c.expectFor(caps)
		t.Run(c.name, func(t *testing.T) {
			if why, ok := o.skips[c.name]; ok {
				t.Skipf("skipped by option: %s", why)
			}
			t.Run(expect, func(t *testing.T) {
				if why, ok := o.skips[c.name+"/"+expect]; ok {
					t.Skipf("skipped by option: %s", why)
				}
				c.run(t, e)
			})
		})
	}
}

// testCase is one entry of the suite: a name, the expectation (the subtest
// name), the expectation when the backend requires PQ (if it differs), and
// the function that checks it.
type testCase struct {
	name     string
	expect   string
	pqExpect string
	run      func(t *testing.T, e *env)
}

// expectFor returns the expectation (the subtest name) for a backend.
func (c testCase) expectFor(caps api.Capabilities) string {
	if caps.RequiresPQ && c.pqExpect != "" {
		return c.pqExpect
	}
	return c.expect
}

func allCases() []testCase {
	var all []testCase
	all = append(all, handshakeCases...)
	all = append(all, verifyCases...)
	all = append(all, dataCases...)
	all = append(all, peerCases...)
	all = append(all, http2Cases...)
	return all
}

// env is what every case shares: the dialer, the backend's capabilities, the
// options and the PKI with its leaves.
type env struct {
	dialer Dialer
	caps   api.Capabilities
	opts   options

	pki       *pki.PKI
	untrusted *pki.PKI
	leaves    leaves
}

type leaves struct {
	ecdsa, rsa, ed25519      *pki.Cert // localhost, 127.0.0.1, ::1, via the intermediate
	wrongName                *pki.Cert
	untrusted                *pki.Cert
	expired, notYetValid     *pki.Cert
	noChain                  *pki.Cert
	client                   *pki.Cert
	clientCN, serverName     string
	loopbackV4, loopbackV6IP net.IP
}

func (e *env) makePKI(t *testing.T) {
	t.Helper()
	e.pki = pki.New(t)
	e.untrusted = pki.New(t)
	l := &e.leaves
	l.serverName = "localhost"
	l.clientCN = "conformance-client"
	l.loopbackV4, l.loopbackV6IP = net.IPv4(127, 0, 0, 1), net.IPv6loopback
	names := []string{l.serverName}
	ips := []net.IP{l.loopbackV4, l.loopbackV6IP}
	now := time.Now()
	l.ecdsa = e.pki.Issue(pki.Leaf{CommonName: l.serverName, DNSNames: names, IPs: ips, Key: pki.ECDSA})
	l.rsa = e.pki.Issue(pki.Leaf{CommonName: l.serverName, DNSNames: names, IPs: ips, Key: pki.RSA})
	l.ed25519 = e.pki.Issue(pki.Leaf{CommonName: l.serverName, DNSNames: names, IPs: ips, Key: pki.Ed25519})
	l.wrongName = e.pki.Issue(pki.Leaf{CommonName: "other.example.test", DNSNames: []string{"other.example.test"}})
	l.untrusted = e.pki.Issue(pki.Leaf{CommonName: l.serverName, DNSNames: names, Issuer: e.untrusted})
	l.expired = e.pki.Issue(pki.Leaf{CommonName: l.serverName, DNSNames: names,
		NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-24 * time.Hour)})
	l.notYetValid = e.pki.Issue(pki.Leaf{CommonName: l.serverName, DNSNames: names,
		NotBefore: now.Add(24 * time.Hour), NotAfter: now.Add(48 * time.Hour)})
	l.noChain = e.pki.Issue(pki.Leaf{CommonName: l.serverName, DNSNames: names, NoChain: true})
	l.client = e.pki.Client(l.clientCN)
}

// config returns a case's configuration: the suite's roots and serverName,
// a short-ish handshake timeout, then the WithConfig options.
func (e *env) config(serverName string) *api.Config {
	cfg := &api.Config{
		ServerName:       serverName,
		RootCAs:          e.pki.Roots,
		HandshakeTimeout: 20 * time.Second,
	}
	for _, fn := range e.opts.configs {
		fn(cfg)
	}
	return cfg
}

// ctx returns a context that ends with the test, bounding a case that hangs.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// dial dials addr with cfg and fails t on error. The connection is closed
// when t ends.
func (e *env) dial(t *testing.T, addr string, cfg *api.Config) api.Conn {
	t.Helper()
	c, err := e.dialer.Dial(ctx(t), addr, cfg)
	if err != nil {
		t.Fatalf("handshake with %s (server name %q): %v", addr, cfg.ServerName, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// dialErr dials addr with cfg, expecting failure; it returns the error and
// fails t if the handshake succeeded.
func (e *env) dialErr(t *testing.T, addr string, cfg *api.Config) error {
	t.Helper()
	c, err := e.dialer.Dial(ctx(t), addr, cfg)
	if err == nil {
		st := c.State()
		c.Close()
		t.Fatalf("handshake with %s succeeded (%s, %s, group %s), want an error", addr, st.VersionName(), st.CipherSuiteName(), st.GroupName())
	}
	return err
}

// wantErr fails t unless errors.Is(err, want).
func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got error %v (kind %q), want kind %q", err, api.KindOf(err), api.KindOf(want))
	}
	t.Logf("got the expected error: %v", err)
}

// classicalOnlyPeer handles a case whose server cannot negotiate a hybrid
// ML-KEM group. It returns true when the case is finished: the backend
// requires PQ and refused as it must, or it cannot talk to such a peer at
// all (skipped). Otherwise the case goes on expecting success.
func (e *env) classicalOnlyPeer(t *testing.T, why string, dial func() error) bool {
	t.Helper()
	switch {
	case e.caps.RequiresPQ:
		wantErr(t, dial(), api.ErrPQRequired)
		return true
	case !e.caps.ClassicalOnly:
		t.Skipf("backend cannot complete a handshake with a classical-only peer (%s)", why)
	}
	return false
}

// needTLS12 skips t if the backend cannot negotiate TLS 1.2.
func (e *env) needTLS12(t *testing.T) {
	t.Helper()
	if !e.caps.TLS12 {
		t.Skip("backend declares it cannot negotiate TLS 1.2 (Capabilities.TLS12 is false)")
	}
}

// checkBackend checks the Backend field of a state.
func (e *env) checkBackend(t *testing.T, st api.ConnectionState) {
	t.Helper()
	switch {
	case e.opts.backend != "" && st.Backend != e.opts.backend:
		t.Errorf("State().Backend = %q, want %q", st.Backend, e.opts.backend)
	case strings.TrimSpace(st.Backend) == "":
		t.Error("State().Backend is empty")
	}
}
