package serving

import (
	"crypto/tls"
	"net/http"
	"testing"

	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/host"
)

// BenchmarkServeBesideIdle is the latency benchmark of BenchmarkServe (one
// client, kept alive, GET /) with 1,000 other clients connected and idle after
// a request each, as a server usually has them: the guest must not pay per
// idle connection on every request.
//
// go test ./internal/testkit/serving -run '^$' -bench ServeBesideIdle
func BenchmarkServeBesideIdle(b *testing.B) {
	const idle = 1000
	s := newSite(b)
	guest := startServer(b, &host.Policy{Serve: s.serve(false), Limits: host.Limits{Connections: 2 * idle, Handles: 16 * idle}}, stdtls.Provider{}).addr.String()
	native := startNative(b, s)
	for _, side := range []struct{ name, addr string }{{"guest", guest}, {"native", native}} {
		b.Run(side.name, func(b *testing.B) {
			for range idle {
				defer keptAlive(b, side.addr, s).Close()
			}
			tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.pki.Roots}}
			defer tr.CloseIdleConnections()
			get(b, tr, "https://localhost:"+portOf(side.addr)+"/", b.N, 1)
		})
	}
}
