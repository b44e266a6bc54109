// Package hostile is a suite of TLS servers that misbehave on purpose: resets
// at every handshake stage, silence, a byte per second, endless or oversized
// records, a 1 MiB certificate chain, bad MACs, alert floods, renegotiation,
// HelloRetryRequest abuse, downgrade sentinels, wrong ALPN, truncation and
// more (see [Behaviours]). Where crypto/tls cannot be made to misbehave, a
// [Proxy] sits in front of a real crypto/tls server and rewrites its records;
// for TLS 1.2 it reads the server's key log so that it can inject encrypted
// records (a HelloRequest, a ChangeCipherSpec) the client will decrypt.
//
// The tests run every behaviour against each backend's Provider directly and
// through real guests (internal/guests/httpsget in Go; rusttls and ctls,
// in Rust and C, which write without flushing) on the host, and check
// that each ends in the expected classified outcome within the handshake
// timeout, with no goroutine or file descriptor left behind.
//
//	for _, b := range hostile.Behaviours() {
//		srv, _ := hostile.Start(b, env)
//		// dial srv.Addr() with a client, expect b.Want
//		srv.Close()
//	}
package hostile
