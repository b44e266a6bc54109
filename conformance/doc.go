// Package conformance is the shared test suite every wasitls backend must
// pass. It makes its own PKI (conformance/pki), starts its own loopback
// servers (Go crypto/tls, raw TCP misbehavers, OpenSSL 3.0 s_server) and runs
// each case as a named subtest whose name states the expectation, e.g.
// "NameMismatch/IsNameMismatchError".
//
// A backend's test calls Run with its Provider:
//
//	func TestConformance(t *testing.T) {
//		conformance.Run(t, mybackend.Provider{},
//			conformance.WithConfig(func(c *api.Config) { c.Fingerprint = "chrome" }),
//			conformance.Skip("OneByteSegments", "why this backend cannot"))
//	}
//
// The cases only use the api.Conn a Dialer returns (Read, Write, CloseWrite,
// Close, State) and classify failures with errors.Is against the api
// sentinels, so the same suite runs through other transports, e.g. a
// WebAssembly guest, with RunDialer and a Dialer of their own.
//
// The cases against OpenSSL's s_server need openssl on PATH; without it
// they are skipped, saying so, unless the suite runs with RequirePeers(true).
//
// Cases a backend cannot do according to its api.Capabilities are skipped
// with the reason printed. A backend with RequiresPQ must refuse every server
// that cannot negotiate a hybrid ML-KEM group (TLS 1.2-only servers, a TLS
// 1.3 server limited to X25519, OpenSSL 3.0) with api.ErrPQRequired; those
// cases then carry the expectation "IsPQRequiredError".
//
// Behaviours the suite pins, so that every backend agrees:
//   - A TLS 1.3 server that requires a client certificate and gets none: the
//     client's handshake succeeds, and the first Read returns a KindPeerAlert
//     error with Alert 116 (certificate_required). Under TLS 1.2 the
//     handshake itself fails with alert 40 (handshake_failure).
//   - Read returns exactly io.EOF only after the server's close_notify. A TCP
//     close without it is a classified error (stdtls: KindTransport).
//   - A reset (RST) is KindTransport; a stalled handshake ends with
//     KindHandshakeTimeout no earlier than Config.HandshakeTimeout and less
//     than 2 s after it; a canceled context gives KindCanceled.
//   - An invalid server name is KindInvalidConfig and no byte reaches the
//     server (it counts what is queued on every accepted connection).
//   - A server offering only TLS 1.0/1.1, or only 1.2 to a client asking for
//     1.3, gives KindProtocolVersion.
package conformance
