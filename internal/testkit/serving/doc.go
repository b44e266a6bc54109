// Package serving runs the example HTTPS server guest
// (examples/guest-https-server) in a wasitls host and drives it with
// clients we did not write: curl (HTTP/1.1 and HTTP/2), OpenSSL s_client
// (TLS 1.2 and 1.3, mTLS), Node.js 26's https module and Go's client, plus
// hostile ones (silent, slow and abandoned handshakes, more connections
// than the guest's quota).
package serving
