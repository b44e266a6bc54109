// Package e2e runs the test guests (internal/testguests) through the wasitls
// host end to end: real sockets on loopback, real TLS peers (crypto/tls and
// OpenSSL's s_server), and the conformance suite driven through a guest.
// It has no non-test code; run it with
//
//	go test ./internal/e2e/
package e2e
