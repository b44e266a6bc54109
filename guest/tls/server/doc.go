// Package server is the Go binding of wasitls:tls/server@0.1.0
// (wit/ext/server.wit), wasitls's server-side counterpart of
// wasi:tls/types: a guest hands the two streams of a connection it accepted
// to the host, which runs the TLS handshake with a certificate and key of
// its own choosing, and gets plaintext streams back.
//
// Most programs use guest/wasinet's ListenTLS instead, which wraps this in
// a net.Listener.
package server
