// Package e2e runs the test guests (internal/guests) through the wasitls
// host end to end: real sockets on loopback, real TLS peers (crypto/tls and
// OpenSSL's s_server), and the conformance suite driven through a guest: the
// Go relay guest, and the Rust and C guests (rusttls, ctls) that bring their
// own canonical-ABI code and never flush.
// It has no non-test code; run it with
//
//	go test ./internal/testkit/e2e/
package e2e
