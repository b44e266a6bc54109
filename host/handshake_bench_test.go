package host

import (
	"crypto/tls"
	"io"
	"net"
	"testing"

	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/conformance/pki"
)

// BenchmarkSequentialHandshake: connect, TLS 1.3 handshake and close, one
// connection at a time, through the host's raw calls (guest) and with a
// plain crypto/tls client (native), against the same loopback server.
// Compare the two ns/op figures.
func BenchmarkSequentialHandshake(b *testing.B) {
	p := pki.New(b)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{p.Server().TLS}, MinVersion: tls.VersionTLS13, SessionTicketsDisabled: true}
	serveConns(b, ln, func(c net.Conn) {
		tc := tls.Server(c, cfg)
		if tc.Handshake() == nil {
			_, _ = io.Copy(io.Discard, tc)
		}
	})
	addr := ln.Addr().(*net.TCPAddr).AddrPort()

	b.Run("guest", func(b *testing.B) {
		ctx, r := newRuntime(b)
		x := newTG(b, ctx, New(r, WithProvider(stdtls.Provider{})), "0.2.6", WithPolicy(&Policy{
			Allow: []string{"127.0.0.1:*"}, RootCAs: p.Roots, MinVersion: tls.VersionTLS13,
		}))
		for b.Loop() {
			sock, conn, tin, tout := x.openTLS(addr)
			x.closeTLS(sock, conn, tin, tout)
		}
	})
	b.Run("native", func(b *testing.B) {
		for b.Loop() {
			raw, err := net.Dial("tcp4", addr.String())
			if err != nil {
				b.Fatal(err)
			}
			c := tls.Client(raw, &tls.Config{RootCAs: p.Roots, ServerName: "localhost", MinVersion: tls.VersionTLS13})
			if err := c.Handshake(); err != nil {
				b.Fatal(err)
			}
			c.Close()
		}
	})
}
