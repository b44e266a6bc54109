package utls

import (
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/conformance/pki"
)

func TestRegistered(t *testing.T) {
	p, err := api.Lookup(Name)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.(api.Fingerprinter); !ok {
		t.Error("the registered provider is not an api.Fingerprinter")
	}
	if caps := api.CapabilitiesOf(p); caps.Resumption || !caps.ALPNOverride || !caps.TLS12 || !caps.ClientAuth {
		t.Errorf("default (Chrome 133) capabilities %+v: want no resumption, ALPN override", caps)
	}
	if caps := newProvider(t, WithALPN(ALPNFingerprint)).Capabilities(); caps.ALPNOverride {
		t.Error("with the fingerprint's ALPN list pinned, the provider declares ALPNOverride")
	}
	if caps := newProvider(t, WithFingerprint("chrome-100-psk")).Capabilities(); !caps.Resumption {
		t.Error("chrome-100-psk carries a pre_shared_key extension but does not declare Resumption")
	}
}

// TestALPNModes: by default (and with "override") NextProtos is sent in the
// place of the parrot's ALPN list, or no ALPN; "fingerprint" sends the
// parrot's list whatever NextProtos says (Client; Validate refuses that).
func TestALPNModes(t *testing.T) {
	pk := pki.New(t)
	s := startServer(t, pk, func(c *tls.Config) { c.NextProtos = []string{"h2", "postgresql"} })
	p := newProvider(t)
	cases := []struct {
		mode, fp  string
		protos    []string
		wantSent  []string
		wantNeg   string
		wantJA4Al string // the JA4's ALPN characters
	}{
		{"", "chrome", []string{"postgresql"}, []string{"postgresql"}, "postgresql", "pl"},
		{"", "chrome", nil, nil, "", "00"},
		{"", "firefox", []string{"h2", "http/1.1"}, []string{"h2", "http/1.1"}, "h2", "h2"},
		{ALPNFingerprint, "chrome", []string{"postgresql"}, []string{"h2", "http/1.1"}, "h2", "h2"},
		{ALPNFingerprint, "firefox", nil, []string{"h2", "http/1.1"}, "h2", "h2"},
		{ALPNOverride, "chrome", []string{"postgresql"}, []string{"postgresql"}, "postgresql", "pl"},
		{ALPNOverride, "chrome", nil, nil, "", "00"},
		{ALPNOverride, "android-okhttp", []string{"postgresql"}, []string{"postgresql"}, "postgresql", "pl"},
		{"", "golang", []string{"postgresql"}, []string{"postgresql"}, "postgresql", "pl"},
	}
	for _, c := range cases {
		t.Run(c.fp+"/"+c.mode, func(t *testing.T) {
			cfg := &api.Config{ServerName: "localhost", RootCAs: pk.Roots, Fingerprint: c.fp, NextProtos: c.protos}
			if c.mode != "" {
				cfg.Options = map[string]string{OptionALPN: c.mode}
			}
			conn, local, err := dial(t, p, s.addr, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			h := s.hello(t, local)
			if !slices.Equal(h.ALPN, c.wantSent) {
				t.Errorf("server saw ALPN %q, want %q", h.ALPN, c.wantSent)
			}
			if got := conn.State().NegotiatedProtocol; got != c.wantNeg {
				t.Errorf("negotiated %q, want %q", got, c.wantNeg)
			}
			if al := strings.Split(h.JA4, "_")[0][8:]; al != c.wantJA4Al {
				t.Errorf("JA4 %s has ALPN part %q, want %q", h.JA4, al, c.wantJA4Al)
			}
			if c.mode != ALPNFingerprint && c.fp == "chrome" && len(c.protos) > 0 {
				// Only the ALPN characters change.
				base := fingerprintTable["chrome"].ja4
				if h.JA4[:8] != base[:8] || h.JA4[10:] != base[10:] {
					t.Errorf("override JA4 %s differs from %s beyond ALPN", h.JA4, base)
				}
			}
			roundTrip(t, conn)
		})
	}
}

// TestVersionBounds: MaxVersion TLS 1.2 makes a TLS 1.2 hello; MinVersion
// TLS 1.3 keeps the parrot's hello (JA4 unchanged) and gets TLS 1.3.
func TestVersionBounds(t *testing.T) {
	pk := pki.New(t)
	s := startServer(t, pk, nil)
	p := newProvider(t, WithALPN(ALPNFingerprint)) // the JA4s of the browsers' own lists
	for _, c := range []struct {
		fp         string
		minV, maxV uint16
		want       uint16
		ja4        string // JA4 prefix
	}{
		{"chrome", 0, tls.VersionTLS12, tls.VersionTLS12, "t12d1516h2_"},
		{"firefox", 0, tls.VersionTLS12, tls.VersionTLS12, "t12d1715h2_"},
		{"chrome", tls.VersionTLS13, 0, tls.VersionTLS13, fingerprintTable["chrome"].ja4},
		{"randomized", 0, tls.VersionTLS12, tls.VersionTLS12, "t12"},
		{"golang", 0, tls.VersionTLS12, tls.VersionTLS12, "t12"},
	} {
		conn, local, err := dial(t, p, s.addr, &api.Config{ServerName: "localhost", RootCAs: pk.Roots, Fingerprint: c.fp, MinVersion: c.minV, MaxVersion: c.maxV})
		if err != nil {
			t.Fatalf("%s %x-%x: %v", c.fp, c.minV, c.maxV, err)
		}
		h := s.hello(t, local)
		if v := conn.State().Version; v != c.want {
			t.Errorf("%s: negotiated %s, want %s", c.fp, tls.VersionName(v), tls.VersionName(c.want))
		}
		if !strings.HasPrefix(h.JA4, c.ja4) {
			t.Errorf("%s %x-%x: JA4 %s, want prefix %s", c.fp, c.minV, c.maxV, h.JA4, c.ja4)
		}
		roundTrip(t, conn)
		conn.Close()
	}
	// A TLS 1.2-only parrot cannot meet MinVersion TLS 1.3: refused before
	// any I/O.
	conn := &noIO{t: t}
	_, err := p.Client(t.Context(), conn, &api.Config{ServerName: "localhost", Fingerprint: "android-okhttp", MinVersion: tls.VersionTLS13})
	if api.KindOf(err) != api.KindProtocolVersion || conn.used.Load() {
		t.Errorf("android-okhttp with MinVersion 1.3: %v (I/O done: %v), want a protocol version error before I/O", err, conn.used.Load())
	}
}

// TestResumption: PSK parrots and the Go hello resume TLS 1.3 sessions from
// the per-guest cache; current Chrome (no pre_shared_key) does not; guests
// with different caches never share.
func TestResumption(t *testing.T) {
	pk := pki.New(t)
	s := startServer(t, pk, nil)
	p := newProvider(t, WithALPN(ALPNFingerprint)) // the table's JA4s: the browsers' own lists
	for _, c := range []struct {
		fp        string
		resume    bool
		resumeJA4 string // the resumed hello's JA4 (measured), with the PSK
	}{
		{"chrome-100-psk", true, "t13d1516h2_8daaf6152771_9b887d9acb53"},
		{"chrome-112-psk", true, "t13d1516h2_8daaf6152771_9b887d9acb53"},
		{"golang", true, "t13d131300_f57a46bbacb6_7e55ffd90fc1"},
		{"chrome", false, fingerprintTable["chrome"].ja4},
		{"firefox", false, fingerprintTable["firefox"].ja4},
	} {
		t.Run(c.fp, func(t *testing.T) {
			cache := tls.NewLRUClientSessionCache(8)
			cfg := &api.Config{ServerName: "localhost", RootCAs: pk.Roots, Fingerprint: c.fp, ClientSessionCache: cache}
			var resumed, hadPSK []bool
			var ja4s []string
			for i := range 2 {
				conn, local, err := dial(t, p, s.addr, cfg)
				if err != nil {
					t.Fatalf("connection %d: %v", i, err)
				}
				h := s.hello(t, local)
				// The ticket arrives after the handshake: read the echo.
				roundTrip(t, conn)
				conn.Close()
				resumed = append(resumed, conn.State().DidResume)
				hadPSK = append(hadPSK, slices.Contains(h.Exts, 41))
				ja4s = append(ja4s, h.JA4)
			}
			if resumed[0] || hadPSK[0] {
				t.Errorf("first connection resumed=%v, sent pre_shared_key=%v", resumed[0], hadPSK[0])
			}
			if resumed[1] != c.resume || hadPSK[1] != c.resume {
				t.Errorf("second connection resumed=%v, sent pre_shared_key=%v; want %v", resumed[1], hadPSK[1], c.resume)
			}
			if ja4s[1] != c.resumeJA4 {
				t.Errorf("second connection JA4 %s, want %s", ja4s[1], c.resumeJA4)
			}
			if !c.resume {
				return
			}
			// Another guest (another cache) has no ticket.
			other := *cfg
			other.ClientSessionCache = tls.NewLRUClientSessionCache(8)
			conn, _, err := dial(t, p, s.addr, &other)
			if err != nil {
				t.Fatal(err)
			}
			roundTrip(t, conn)
			conn.Close()
			if conn.State().DidResume {
				t.Error("a guest with its own cache resumed another guest's session")
			}
		})
	}
}

// TestResumptionTLS12: every parrot with a session_ticket extension resumes
// a TLS 1.2 session, PSK or not.
func TestResumptionTLS12(t *testing.T) {
	pk := pki.New(t)
	s := startServer(t, pk, func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 })
	p := newProvider(t)
	for _, fp := range []string{"chrome", "firefox", "edge", "golang"} {
		cfg := &api.Config{ServerName: "localhost", RootCAs: pk.Roots, Fingerprint: fp, ClientSessionCache: tls.NewLRUClientSessionCache(8)}
		var resumed []bool
		for i := range 2 {
			conn, _, err := dial(t, p, s.addr, cfg)
			if err != nil {
				t.Fatalf("%s connection %d: %v", fp, i, err)
			}
			roundTrip(t, conn)
			conn.Close()
			resumed = append(resumed, conn.State().DidResume)
		}
		if resumed[0] || !resumed[1] {
			t.Errorf("%s: resumed %v, want [false true]", fp, resumed)
		}
	}
}

// TestHelloRetryRequest: a server that only accepts P-384 makes the Chrome
// parrot (shares for X25519MLKEM768 and X25519) retry; the state says so.
func TestHelloRetryRequest(t *testing.T) {
	pk := pki.New(t)
	p := newProvider(t)
	hrr := startServer(t, pk, func(c *tls.Config) { c.CurvePreferences = []tls.CurveID{tls.CurveP384} })
	plain := startServer(t, pk, nil)
	for _, c := range []struct {
		addr  string
		group tls.CurveID
		hrr   bool
	}{{hrr.addr, tls.CurveP384, true}, {plain.addr, tls.X25519MLKEM768, false}} {
		conn, _, err := dial(t, p, c.addr, &api.Config{ServerName: "localhost", RootCAs: pk.Roots})
		if err != nil {
			t.Fatal(err)
		}
		st := conn.State()
		if st.Group != c.group || st.HelloRetryRequest != c.hrr {
			t.Errorf("group %s HRR %v, want %s HRR %v", st.GroupName(), st.HelloRetryRequest, api.GroupName(c.group), c.hrr)
		}
		roundTrip(t, conn)
		conn.Close()
	}
}

// TestTLS12Group: the TLS 1.2 group comes from the ServerKeyExchange.
func TestTLS12Group(t *testing.T) {
	pk := pki.New(t)
	p := newProvider(t)
	for _, g := range []tls.CurveID{tls.X25519, tls.CurveP256, tls.CurveP384} {
		s := startServer(t, pk, func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12; c.CurvePreferences = []tls.CurveID{g} })
		for _, fp := range []string{"chrome", "android-okhttp", "golang"} {
			conn, _, err := dial(t, p, s.addr, &api.Config{ServerName: "localhost", RootCAs: pk.Roots, Fingerprint: fp})
			if err != nil {
				t.Fatalf("%s %s: %v", fp, api.GroupName(g), err)
			}
			if st := conn.State(); st.Version != tls.VersionTLS12 || st.Group != g || st.HelloRetryRequest {
				t.Errorf("%s: %s group %q HRR %v, want TLS 1.2 group %s", fp, st.VersionName(), st.GroupName(), st.HelloRetryRequest, api.GroupName(g))
			}
			roundTrip(t, conn)
			conn.Close()
		}
	}
}

// noIO is a transport that records any use: configuration errors must be
// found before the first byte.
type noIO struct {
	net.Conn
	t    *testing.T
	used atomic.Bool
}

func (c *noIO) Read([]byte) (int, error)  { c.used.Store(true); return 0, net.ErrClosed }
func (c *noIO) Write([]byte) (int, error) { c.used.Store(true); return 0, net.ErrClosed }
func (c *noIO) Close() error              { return nil }

func TestInvalidConfig(t *testing.T) {
	p := newProvider(t)
	for _, c := range []struct {
		name string
		cfg  *api.Config
		want []string // in the message
	}{
		{"nil", nil, []string{"nil Config"}},
		{"unknown fingerprint", &api.Config{ServerName: "a.test", Fingerprint: "netscape"}, []string{`"netscape"`, "chrome", "firefox", "android-okhttp", "golang", CustomPrefix}},
		{"unknown option", &api.Config{ServerName: "a.test", Options: map[string]string{"colour": "red"}}, []string{`"colour"`, OptionALPN}},
		{"bad alpn mode", &api.Config{ServerName: "a.test", Options: map[string]string{OptionALPN: "merge"}}, []string{"merge", ALPNOverride}},
		{"bad server name", &api.Config{ServerName: "a b"}, []string{"server name"}},
		{"empty ALPN protocol", &api.Config{ServerName: "a.test", NextProtos: []string{""}}, []string{"ALPN"}},
		{"inverted versions", &api.Config{ServerName: "a.test", MinVersion: tls.VersionTLS13, MaxVersion: tls.VersionTLS12}, []string{"MaxVersion"}},
		{"missing spec file", &api.Config{ServerName: "a.test", Fingerprint: CustomPrefix + "/nonexistent/spec.json"}, []string{"nonexistent"}},
		{"empty custom", &api.Config{ServerName: "a.test", Fingerprint: CustomPrefix}, []string{"no file"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn := &noIO{t: t}
			_, err := p.Client(t.Context(), conn, c.cfg)
			if api.KindOf(err) != api.KindInvalidConfig {
				t.Fatalf("got %v, want an invalid configuration error", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if conn.used.Load() {
				t.Error("the transport was used before the configuration was checked")
			}
		})
	}
	if _, err := New(WithFingerprint("netscape")); api.KindOf(err) != api.KindInvalidConfig {
		t.Errorf("New with an unknown default: %v", err)
	}
	if _, err := New(WithALPN("sometimes")); api.KindOf(err) != api.KindInvalidConfig {
		t.Errorf("New with an unknown ALPN mode: %v", err)
	}
	if _, err := New(WithSpec("chrome", []byte(customSpec))); api.KindOf(err) != api.KindInvalidConfig {
		t.Errorf("WithSpec shadowing a built-in: %v", err)
	}
}

// customSpec is a small hand-written ClientHello in uTLS's JSON format: a
// TLS 1.3 client with three suites, X25519 only and ALPN http/1.1.
const customSpec = `{
  "cipher_suites": ["TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"],
  "compression_methods": ["NULL"],
  "extensions": [
    {"name": "server_name"},
    {"name": "supported_groups", "named_group_list": ["x25519", "secp256r1"]},
    {"name": "ec_point_formats", "ec_point_format_list": ["uncompressed"]},
    {"name": "signature_algorithms", "supported_signature_algorithms": ["ecdsa_secp256r1_sha256", "rsa_pss_rsae_sha256", "rsa_pkcs1_sha256"]},
    {"name": "application_layer_protocol_negotiation", "protocol_name_list": ["http/1.1"]},
    {"name": "key_share", "client_shares": [{"group": "x25519"}]},
    {"name": "psk_key_exchange_modes", "ke_modes": ["psk_dhe_ke"]},
    {"name": "supported_versions", "versions": ["TLS 1.3", "TLS 1.2"]}
  ]
}`

// customJA4 is the JA4 of customSpec: t13, SNI, 3 suites, 8 extensions,
// ALPN "h1"; the hashes were measured at the test server.
const customJA4 = "t13d0308h1_d77c3591e601_8b8b673a840a"

func TestCustomSpec(t *testing.T) {
	pk := pki.New(t)
	s := startServer(t, pk, nil)
	path := filepath.Join(t.TempDir(), "capture.json")
	if err := os.WriteFile(path, []byte(customSpec), 0o600); err != nil {
		t.Fatal(err)
	}
	p := newProvider(t, WithSpec("mycapture", []byte(customSpec)), WithALPN(ALPNFingerprint)) // the capture's own ALPN list
	if !slices.Contains(p.Fingerprints(), "mycapture") {
		t.Errorf("Fingerprints() lacks the registered spec: %v", p.Fingerprints())
	}
	var ja4s []string
	for _, fp := range []string{CustomPrefix + path, "mycapture"} {
		conn, local, err := dial(t, p, s.addr, &api.Config{ServerName: "localhost", RootCAs: pk.Roots, Fingerprint: fp})
		if err != nil {
			t.Fatalf("%s: %v", fp, err)
		}
		h := s.hello(t, local)
		if h.JA4 != customJA4 {
			t.Errorf("%s: JA4 %s, want %s", fp, h.JA4, customJA4)
		}
		if st := conn.State(); st.Fingerprint != fp || st.Version != tls.VersionTLS13 || st.Group != tls.X25519 || st.NegotiatedProtocol != "" {
			t.Errorf("%s: state %+v", fp, st)
		}
		ja4s = append(ja4s, h.JA4)
		roundTrip(t, conn)
		conn.Close()
	}
	if ja4s[0] != ja4s[1] {
		t.Errorf("file and registered spec differ: %s vs %s", ja4s[0], ja4s[1])
	}

	for name, bad := range map[string]string{
		"not JSON":          "{",
		"no cipher suites":  `{"compression_methods": ["NULL"], "extensions": [{"name": "server_name"}]}`,
		"no compression":    `{"cipher_suites": ["TLS_AES_128_GCM_SHA256"], "extensions": [{"name": "server_name"}]}`,
		"unknown suite":     `{"cipher_suites": ["TLS_NOPE"], "compression_methods": ["NULL"], "extensions": [{"name": "server_name"}]}`,
		"unknown extension": `{"cipher_suites": ["TLS_AES_128_GCM_SHA256"], "compression_methods": ["NULL"], "extensions": [{"name": "no_such_extension"}]}`,
		"no extensions":     `{"cipher_suites": ["TLS_AES_128_GCM_SHA256"], "compression_methods": ["NULL"]}`,
		// uTLS panics on this one (its session checks); the backend recovers.
		"pre_shared_key not last": spec(`{"name": "pre_shared_key"}, {"name": "server_name"}, {"name": "supported_versions", "versions": ["TLS 1.3"]}, {"name": "key_share", "client_shares": [{"group": "x25519"}]}`),
		"unsupported key share":   spec(`{"name": "server_name"}, {"name": "supported_versions", "versions": ["TLS 1.3"]}, {"name": "key_share", "client_shares": [{"group": "x448"}]}`),
		"two paddings":            spec(`{"name": "server_name"}, {"name": "padding", "len": 0}, {"name": "padding", "len": 0}`),
		"three GREASEs":           spec(`{"name": "GREASE"}, {"name": "GREASE"}, {"name": "GREASE"}`),
		"two supported_versions":  spec(`{"name": "supported_versions", "versions": ["TLS 1.3"]}, {"name": "supported_versions", "versions": ["TLS 1.2"]}`),
	} {
		badPath := filepath.Join(t.TempDir(), "bad.json")
		if err := os.WriteFile(badPath, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		conn := &noIO{t: t}
		_, err := p.Client(t.Context(), conn, &api.Config{ServerName: "localhost", Fingerprint: CustomPrefix + badPath})
		if api.KindOf(err) != api.KindInvalidConfig || conn.used.Load() {
			t.Errorf("%s: %v (I/O: %v), want an invalid configuration error before I/O", name, err, conn.used.Load())
		}
	}
}

// spec makes a one-suite spec with the given extensions.
func spec(exts string) string {
	return `{"cipher_suites": ["TLS_AES_128_GCM_SHA256"], "compression_methods": ["NULL"], "extensions": [` + exts + `]}`
}

// TestIPServerName: an IP is verified against IP SANs and not sent as SNI.
func TestIPServerName(t *testing.T) {
	pk := pki.New(t)
	s := startServer(t, pk, nil)
	p := newProvider(t)
	for _, fp := range []string{"chrome", "firefox", "golang"} {
		conn, local, err := dial(t, p, s.addr, &api.Config{ServerName: "127.0.0.1", RootCAs: pk.Roots, Fingerprint: fp})
		if err != nil {
			t.Fatalf("%s: %v", fp, err)
		}
		if h := s.hello(t, local); h.JA4[3] != 'i' {
			t.Errorf("%s: JA4 %s says SNI was sent for an IP", fp, h.JA4)
		}
		if st := conn.State(); st.ServerName != "127.0.0.1" {
			t.Errorf("state server name %q", st.ServerName)
		}
		roundTrip(t, conn)
		conn.Close()
	}
}

func TestCacheMapBound(t *testing.T) {
	m := newCacheMap(2)
	a, b, c := tls.NewLRUClientSessionCache(1), tls.NewLRUClientSessionCache(1), tls.NewLRUClientSessionCache(1)
	ua := m.get(a)
	if m.get(a) != ua {
		t.Fatal("the same host cache got two uTLS caches")
	}
	m.get(b)
	m.get(c) // evicts a, the least recently used
	if m.len() != 2 {
		t.Fatalf("%d caches kept, want 2", m.len())
	}
	if m.get(a) == ua {
		t.Error("a was not evicted")
	}
	if m.get(nil) != nil || m.get(funcCache{}) != nil {
		t.Error("nil or non-comparable caches should disable resumption")
	}
}

// funcCache is a ClientSessionCache whose dynamic type cannot be a map key.
type funcCache struct{ _ []int }

func (funcCache) Get(string) (*tls.ClientSessionState, bool) { return nil, false }
func (funcCache) Put(string, *tls.ClientSessionState)        {}
