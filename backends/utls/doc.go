// Package utls is the wasitls backend built on uTLS
// (github.com/refraction-networking/utls): a TLS client whose ClientHello
// parrots a browser or another client, so that servers that fingerprint
// ClientHellos (JA3, JA4) see that client rather than Go.
//
// It is a client only: it does not implement api.ServerProvider (a
// browser parrot has no server side), so a guest that serves TLS
// (host.Policy.Serve, the CLI's -server-cert) needs stdtls or pq, and the
// host refuses that policy with utls before the guest runs.
//
// Importing the package registers it as "utls":
//
//	import _ "github.com/wasitls/wasitls/backends/utls"
//
//	p, _ := api.Lookup("utls")
//	conn, err := p.Client(ctx, tcp, &api.Config{
//		ServerName:  "example.com",
//		Fingerprint: "firefox",
//	})
//
// # Fingerprints
//
// api.Config.Fingerprint names the ClientHello; empty means the Provider's
// default, current Chrome ("chrome", uTLS's HelloChrome_Auto, i.e. Chrome
// 133). The names are listed by [Provider.Fingerprints] and
// [BuiltinFingerprints]: "chrome", "firefox", "safari", "ios", "edge" and
// "android-okhttp" follow uTLS's current parrot of that client, pinned
// versions are spelled like "chrome-120", "chrome-100-psk", "firefox-105",
// "ios-13"; "golang" is uTLS's copy of the crypto/tls ClientHello and
// "randomized" a fresh random ClientHello per connection (uTLS's
// HelloRandomized, except that it always offers TLS 1.3 unless MaxVersion
// forbids it, so randomizing never downgrades, and always sends key shares
// for X25519MLKEM768, X25519 and P-256, because uTLS cannot answer a
// HelloRetryRequest for a hybrid group).
// Chrome 106 and later shuffle their extensions per connection, as Chrome
// does: their JA4 is stable, their JA3 is not (and Chrome 120's GREASE ECH
// extension makes its padding, hence its JA4, vary between two values).
// The tests pin the measured JA4 and JA3 of every built-in name.
//
// A Provider with other defaults is built with [New]:
//
//	p, err := utls.New(utls.WithFingerprint("firefox"), utls.WithALPN(utls.ALPNFingerprint))
//
// A capture can be parroted from uTLS's ClientHelloSpec JSON format, either
// per connection as Fingerprint "custom:/path/to/spec.json" (read at each
// handshake) or registered under a name with [WithSpec]. An unknown name is
// a KindInvalidConfig error that lists the valid ones.
//
// # Version bounds
//
// MinVersion and MaxVersion trim the parrot's supported_versions list, and
// the server's choice is checked against them. A bound the parrot already
// meets (the default TLS 1.2 to 1.3) leaves the ClientHello untouched;
// MaxVersion TLS 1.2 turns a "t13" JA4 into "t12", as it must.
//
// # ALPN
//
// Browsers send their own ALPN list (Chrome: h2, http/1.1). By default the
// caller's list wins: Config.NextProtos is put into the parrot's ALPN
// extension in place (one is added to a parrot without one), and ALPN and
// ALPS are removed when NextProtos is empty. So a peer is never offered a
// protocol the caller did not ask for: a host's guest that speaks only
// HTTP/1.1 is never handed an h2 connection. Only the JA4's ALPN characters
// change, and not at all when NextProtos is the browser's own list (h2,
// http/1.1 for Chrome and Firefox).
//
// Config.Options["alpn"] = "fingerprint" (or [WithALPN](ALPNFingerprint) for
// every connection) pins the parrot's own list, the embedder's explicit
// choice of the exact ClientHello: it is sent unchanged, Validate refuses a
// Config that also names NextProtos (so a CLI's -alpn is a startup error,
// not silently ignored), and Client ignores them; OfferedALPN
// (api.ALPNReporter) reports the pinned list, so a host can tell its guest
// what is offered. Either way
// ConnectionState.NegotiatedProtocol reports what the server chose, which
// with the list pinned may be "h2" although the caller asked for nothing.
// The "golang" fingerprint always honours NextProtos.
//
// # Resumption
//
// Config.ClientSessionCache enables resumption. uTLS keeps sessions in its
// own cache type, so the Provider pairs each host cache (one per guest) with
// a uTLS cache of its own; guests never share tickets. TLS 1.3 resumption
// needs a pre_shared_key extension in the ClientHello: "chrome-100-psk",
// "chrome-112-psk", "chrome-114-psk", "chrome-115-pq-psk" and "golang" have
// one (the resumed hello carries the PSK, as Chrome's does). Current Chrome,
// Firefox, Safari, iOS and Edge parrots have none and never resume a TLS 1.3
// session; Capabilities reports this for the default fingerprint. TLS 1.2
// sessions resume with the session_ticket extension, which every current
// parrot carries.
//
// # State and errors
//
// uTLS's ConnectionState has no group and no HelloRetryRequest flag: the
// backend takes the group from the ServerHello's key share (TLS 1.3) or
// reads the server's ServerKeyExchange as it passes (TLS 1.2; 0 for a
// resumed TLS 1.2 session), and spots a HelloRetryRequest by its
// ServerHello.random. Received alerts, uTLS's AlertError and
// RecordHeaderError are mapped to api Kinds; certificate, network and
// context errors go through
// backendkit.Classify. uTLS panics on some malformed custom specs; the backend
// recovers and returns KindInvalidConfig.
package utls
