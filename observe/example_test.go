package observe_test

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/observe"
)

// Inspect reports each handshake of the backend it wraps, with the JA4 of
// the ClientHello the backend sent; pass the wrapper to host.WithProvider
// (the host then calls it for every guest handshake).
func ExampleInspect() {
	srv := httptest.NewTLSServer(http.NotFoundHandler()) // its certificate is for example.com
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())

	p := observe.Inspect(stdtls.Provider{}, func(h observe.Handshake) {
		fmt.Println(h.Backend, h.ServerName, h.State.VersionName(), strings.HasPrefix(h.JA4, "t13d"), h.Err)
	})
	tcp, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		panic(err)
	}
	conn, err := p.Client(context.Background(), tcp, &api.Config{ServerName: "example.com", RootCAs: roots})
	if err == nil {
		conn.Close()
	}
	// Output:
	// stdtls example.com TLS 1.3 true <nil>
}
