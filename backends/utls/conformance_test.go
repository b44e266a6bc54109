package utls

import (
	"testing"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/conformance"
	"github.com/wasitls/wasitls/internal/testkit/peers"
)

// TestConformance runs the shared suite once per fingerprint family (the
// whole suite takes well under a second per run here, so every family gets
// all of it). The Provider's default fingerprint is the family, so that its
// Capabilities describe it (e.g. Resumption only for hellos with a PSK),
// and WithConfig sets Config.Fingerprint explicitly as a host would.
func TestConformance(t *testing.T) {
	type family struct {
		fp    string
		alpn  string
		skips map[string]string
	}
	noEd25519 := func(who string) map[string]string {
		return map[string]string{"Ed25519Leaf": who + " does not offer ed25519 in signature_algorithms, so an Ed25519-only server refuses it"}
	}
	families := []family{
		{fp: "chrome", skips: noEd25519("the Chrome parrot, like Chrome,")},
		{fp: "chrome", alpn: ALPNOverride, skips: noEd25519("the Chrome parrot, like Chrome,")},
		{fp: "chrome-100-psk", skips: noEd25519("the Chrome parrot, like Chrome,")},
		{fp: "firefox", skips: noEd25519("the Firefox 120 parrot, like Firefox 120,")},
		{fp: "safari", skips: noEd25519("the Safari parrot, like Safari,")},
		{fp: "ios", skips: noEd25519("the iOS parrot, like iOS,")},
		{fp: "edge", skips: noEd25519("the Edge parrot, like Edge,")},
		{fp: "android-okhttp", skips: android()},
		{fp: "golang"},
		{fp: "randomized", skips: noEd25519("uTLS's randomized generator")},
	}
	for _, f := range families {
		name := f.fp
		opts := []Option{WithFingerprint(f.fp)}
		if f.alpn != "" {
			name += "/alpn=" + f.alpn
			opts = append(opts, WithALPN(f.alpn))
		}
		t.Run(name, func(t *testing.T) {
			p := newProvider(t, opts...)
			copts := []conformance.Option{
				conformance.WithBulkBytes(1 << 20),
				conformance.RequirePeers(peers.InCI()),
				conformance.WithConfig(func(c *api.Config) { c.Fingerprint = f.fp }),
			}
			for k, why := range f.skips {
				copts = append(copts, conformance.Skip(k, why))
			}
			conformance.Run(t, p, copts...)
		})
	}
}

// android skips what a TLS 1.2-only ClientHello (OkHttp on Android 11, no
// supported_versions extension) cannot do.
func android() map[string]string {
	tls13 := "the Android OkHttp parrot offers TLS 1.2 only (no supported_versions extension), and this case needs TLS 1.3"
	return map[string]string{
		"TLS13Echo":                tls13,
		"ClassicalGroupsServer":    tls13,
		"ClientCertificateMissing": tls13 + " (in TLS 1.2 the missing certificate fails the handshake itself)",
		"OpenSSLTLS13":             tls13,
		"OpenSSLClientAuth":        tls13 + " (the OpenSSL server runs with -tls1_3)",
		"OpenSSLClientAuthMissing": tls13 + " (the OpenSSL server runs with -tls1_3)",
		"TLS10And11Server":         "without supported_versions the parrot cannot say it refuses TLS 1.1, so the TLS 1.1 server fails on the cipher suites (handshake_failure) before any version check",
		"Ed25519Leaf":              "the Android OkHttp parrot does not offer ed25519 in signature_algorithms",
	}
}
