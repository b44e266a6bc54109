package e2e

import (
	"crypto/tls"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/conformance/pki"
	"github.com/wasitls/wasitls/host"
	"github.com/wasitls/wasitls/internal/testkit/guestrun"
)

const downloadBytes = 256 << 20

// downloadServer sends n bytes to every TLS client, then close_notify.
func downloadServer(b *testing.B, cert tls.Certificate, n int) string {
	ln, err := tls.Listen("tcp4", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	chunk := make([]byte, 256<<10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				for left := n; left > 0; left -= len(chunk) {
					if _, err := c.Write(chunk[:min(left, len(chunk))]); err != nil {
						return
					}
				}
			}()
		}
	}()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// BenchmarkDownload256MiB compares a 256 MiB TLS download by the guest
// (raw bindings, stdtls in the host) with a native crypto/tls client in
// the same run. Throughput is reported as MB/s.
func BenchmarkDownload256MiB(b *testing.B) {
	p := pki.New(b)
	port := downloadServer(b, p.Server().TLS, downloadBytes)
	b.Run("guest", func(b *testing.B) {
		env.Compile(b, probe)
		b.SetBytes(downloadBytes)
		for b.Loop() {
			r, err := env.Exec(probe, []string{"tlsread", "127.0.0.1", port, "localhost"},
				guestrun.Policy(loopback(host.Policy{RootCAs: p.Roots})))
			if err == nil {
				err = r.Err
			}
			if err != nil || strings.TrimSpace(r.Stdout) != "read "+strconv.Itoa(downloadBytes) {
				b.Fatalf("guest: %v, stdout %q, stderr %q", err, r.Stdout, r.Stderr)
			}
		}
	})
	b.Run("native", func(b *testing.B) {
		b.SetBytes(downloadBytes)
		buf := make([]byte, 256<<10)
		for b.Loop() {
			c, err := tls.Dial("tcp4", "127.0.0.1:"+port, &tls.Config{RootCAs: p.Roots, ServerName: "localhost"})
			if err != nil {
				b.Fatal(err)
			}
			n, err := io.CopyBuffer(io.Discard, c, buf)
			c.Close()
			if err != nil || n != downloadBytes {
				b.Fatalf("native: %d bytes, %v", n, err)
			}
		}
	})
}
