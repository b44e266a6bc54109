// Package guestnet runs the wasinet example guests through a wasitls
// host: examples/guest-http (net/http over wasi-sockets and wasi-tls) with
// each TLS backend, read deadlines, idle behaviour, and a download benchmark
// next to a raw-binding guest (./rawget) and native Go.
//
//	go test ./internal/testkit/guestnet/
//	go test ./internal/testkit/guestnet/ -run XXX -bench Download -download-mib 256
package guestnet
