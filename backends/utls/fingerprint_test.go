package utls

import (
	"crypto/tls"
	"slices"
	"strings"
	"testing"

	"github.com/exaring/ja4plus"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/conformance/pki"
)

// want is the measured fingerprint of a built-in ClientHello (uTLS v1.8.2)
// at a crypto/tls server, on a first connection (no session to resume).
// JA3 is empty for hellos that shuffle their extensions (Chrome 106+); JA4
// alternatives are separated by "|".
type want struct{ ja4, ja3 string }

var fingerprintTable = map[string]want{
	"chrome":     {"t13d1516h2_8daaf6152771_d8a2da3f94cd", ""},
	"chrome-133": {"t13d1516h2_8daaf6152771_d8a2da3f94cd", ""},
	"chrome-131": {"t13d1516h2_8daaf6152771_02713d6af862", ""},
	// Chrome 120 sends a GREASE ECH extension of random length, so its
	// hello is padded (17 extensions) only some of the time.
	"chrome-120":        {"t13d1516h2_8daaf6152771_02713d6af862|t13d1517h2_8daaf6152771_b1ff8ab2d16f", ""},
	"chrome-120-pq":     {"t13d1516h2_8daaf6152771_02713d6af862", ""},
	"chrome-115-pq":     {"t13d1515h2_8daaf6152771_f37e75b10bcc", ""},
	"chrome-115-pq-psk": {"t13d1515h2_8daaf6152771_f37e75b10bcc", ""},
	"chrome-114-psk":    {"t13d1516h2_8daaf6152771_e5627efa2ab1", ""},
	"chrome-112-psk":    {"t13d1515h2_8daaf6152771_f37e75b10bcc", ""},
	"chrome-106":        {"t13d1516h2_8daaf6152771_e5627efa2ab1", ""},
	"chrome-102":        {"t13d1516h2_8daaf6152771_e5627efa2ab1", "cd08e31494f9531f560d64c695473da9"},
	"chrome-100":        {"t13d1516h2_8daaf6152771_e5627efa2ab1", "cd08e31494f9531f560d64c695473da9"},
	"chrome-100-psk":    {"t13d1515h2_8daaf6152771_f37e75b10bcc", "e1d8b04eeb8ef3954ec4f49267a783ef"},
	"chrome-96":         {"t13d1516h2_8daaf6152771_e5627efa2ab1", "cd08e31494f9531f560d64c695473da9"},
	"chrome-87":         {"t13d1515h2_8daaf6152771_de4a06bb82e3", "b32309a26951912be7dba376398abc3b"},
	"chrome-83":         {"t13d1515h2_8daaf6152771_de4a06bb82e3", "b32309a26951912be7dba376398abc3b"},
	"chrome-72":         {"t13d1615h2_46e7e9700bed_45f260be83e2", "66918128f1b9b03303d77c6f2eefd128"},
	"chrome-70":         {"t13d1616h2_46e7e9700bed_4551aecd7b38", "6a958df291c3f2ee216e80434750d4e1"},
	"chrome-62":         {"t12d1311h2_8b80da21ef18_eb7c9aabf852", "94c485bca29d5392be53f2b8cf7f4304"},
	"chrome-58":         {"t12d1311h2_8b80da21ef18_eb7c9aabf852", "94c485bca29d5392be53f2b8cf7f4304"},
	"firefox":           {"t13d1715h2_5b57614c22b0_5c2c66f702b0", "b5001237acdf006056b409cc433726b0"},
	"firefox-120":       {"t13d1715h2_5b57614c22b0_5c2c66f702b0", "b5001237acdf006056b409cc433726b0"},
	"firefox-105":       {"t13d1715h2_5b57614c22b0_3d5424432f57", "579ccef312d18482fc42e2b822ca2430"},
	"firefox-102":       {"t13d1715h2_5b57614c22b0_3d5424432f57", "579ccef312d18482fc42e2b822ca2430"},
	"firefox-99":        {"t13d1815h2_e8a523a41297_3d5424432f57", "6b5e0cfe988c723ee71faf54f8460684"},
	"firefox-65":        {"t13d1814h2_29a2cd9e9f10_d267a5f792d4", "b20b44b18b853ef29ab773e921b03422"},
	"firefox-63":        {"t13d1814h2_29a2cd9e9f10_d267a5f792d4", "b20b44b18b853ef29ab773e921b03422"},
	"firefox-56":        {"t12d1509h2_073e58a039a6_e70312a1ce2c", "0ffee3ba8e615ad22535e7f771690a28"},
	"firefox-55":        {"t12d1509h2_073e58a039a6_e70312a1ce2c", "0ffee3ba8e615ad22535e7f771690a28"},
	"safari":            {"t13d2014h2_a09f3c656075_14788d8d241b", "773906b0efdefa24a7f2b8eb6985bf37"},
	"safari-16.0":       {"t13d2014h2_a09f3c656075_14788d8d241b", "773906b0efdefa24a7f2b8eb6985bf37"},
	"ios":               {"t13d2613h2_2802a3db6c62_845d286b0d67", "656b9a2f4de6ed4909e157482860ab3d"},
	"ios-14":            {"t13d2613h2_2802a3db6c62_845d286b0d67", "656b9a2f4de6ed4909e157482860ab3d"},
	"ios-13":            {"t13d2613h2_2802a3db6c62_845d286b0d67", "6fa3244afc6bb6f9fad207b6b52af26b"},
	"ios-12.1":          {"t12d2310h2_f91c41aead95_12b7a1cb7c36", "5c118da645babe52f060d0754256a73c"},
	"ios-11.1":          {"t12d2010h2_2a284e3b0c56_f05fdf8c38a9", "a69708a64f853c3bcc214c2c5faf84f3"},
	"edge":              {"t13d1515h2_8daaf6152771_de4a06bb82e3", "b32309a26951912be7dba376398abc3b"},
	"edge-85":           {"t13d1515h2_8daaf6152771_de4a06bb82e3", "b32309a26951912be7dba376398abc3b"},
	"edge-106":          {"t13d1516h2_8daaf6152771_e5627efa2ab1", "cd08e31494f9531f560d64c695473da9"},
	"android-okhttp":    {"t12d120700_d34a8e72043a_036209cd1ead", "6c0f0a346dcd84cb4b97a0d9382c53fd"},
	"android-11-okhttp": {"t12d120700_d34a8e72043a_036209cd1ead", "6c0f0a346dcd84cb4b97a0d9382c53fd"},
	"golang":            {"t13d131000_f57a46bbacb6_e7c285222651", "8bee49baa010986785a9e74d688ed7e9"},
}

// TestFingerprints connects with every built-in fingerprint to a crypto/tls
// server that computes JA4 (exaring/ja4plus, from ClientHelloInfo) and JA3
// (open-ch/ja3, from the raw ClientHello record), and checks both against
// the table. Each fingerprint connects twice, to show the value is stable.
func TestFingerprints(t *testing.T) {
	pk := pki.New(t)
	s := startServer(t, pk, nil)
	p := newProvider(t, WithALPN(ALPNFingerprint)) // the browsers' own ALPN lists

	for _, name := range BuiltinFingerprints() {
		if name == Randomized {
			continue
		}
		w, ok := fingerprintTable[name]
		if !ok {
			t.Errorf("fingerprint %q has no entry in the table", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			for range 2 {
				c, local, err := dial(t, p, s.addr, &api.Config{ServerName: "localhost", RootCAs: pk.Roots, Fingerprint: name})
				if err != nil {
					t.Fatalf("handshake: %v", err)
				}
				h := s.hello(t, local)
				st := c.State()
				roundTrip(t, c)
				c.Close()
				if !slices.Contains(strings.Split(w.ja4, "|"), h.JA4) {
					t.Errorf("JA4 %s, want %s", h.JA4, w.ja4)
				}
				if w.ja3 != "" && h.JA3 != w.ja3 {
					t.Errorf("JA3 %s (%s), want %s", h.JA3, h.JA3String, w.ja3)
				}
				if h.JA3 == "" {
					t.Errorf("the JA3 parser could not read the ClientHello")
				}
				if st.Fingerprint != name || st.Backend != Name {
					t.Errorf("state says fingerprint %q backend %q", st.Fingerprint, st.Backend)
				}
				wantV := uint16(tls.VersionTLS13)
				if strings.HasPrefix(w.ja4, "t12") {
					wantV = tls.VersionTLS12
				}
				if st.Version != wantV {
					t.Errorf("negotiated %s, want %s", st.VersionName(), tls.VersionName(wantV))
				}
				if wantV == tls.VersionTLS13 && st.Group == 0 {
					t.Error("no group reported for a TLS 1.3 connection")
				}
			}
		})
	}
}

// TestFamiliesDiffer checks that the default of each family, and crypto/tls
// itself, look different to a JA4 server, which is the point of the backend.
func TestFamiliesDiffer(t *testing.T) {
	pk := pki.New(t)
	s := startServer(t, pk, nil)
	p := newProvider(t, WithALPN(ALPNFingerprint))
	seenBy := map[string]string{}
	for _, name := range []string{"chrome", "firefox", "safari", "ios", "edge", "android-okhttp", "golang"} {
		c, local, err := dial(t, p, s.addr, &api.Config{ServerName: "localhost", RootCAs: pk.Roots, Fingerprint: name})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		c.Close()
		ja4 := s.hello(t, local).JA4
		if other, dup := seenBy[ja4]; dup {
			t.Errorf("%s and %s share JA4 %s", name, other, ja4)
		}
		seenBy[ja4] = name
	}
	// crypto/tls, as the stdtls backend sends it.
	var got string
	cfg := &tls.Config{Certificates: []tls.Certificate{pk.Server().TLS}, GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		got = ja4plus.JA4(h)
		return nil, nil
	}}
	cli, srv := pipe(t)
	done := make(chan error, 1)
	go func() { done <- tls.Server(srv, cfg).Handshake() }()
	if err := tls.Client(cli, &tls.Config{ServerName: "localhost", RootCAs: pk.Roots}).Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if other, dup := seenBy[got]; dup || got == "" {
		t.Errorf("crypto/tls JA4 %q equals %s's", got, other)
	}
	if !slices.Contains(p.Fingerprints(), "chrome") || p.Fingerprints()[0] != DefaultFingerprint {
		t.Errorf("Fingerprints() = %v, want the default first", p.Fingerprints())
	}
}
