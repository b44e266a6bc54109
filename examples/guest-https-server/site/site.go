// Package site is the HTTP handler of examples/guest-https-server, kept
// apart from its main so that the same code can run natively next to the
// guest (the server benchmark compares the two).
package site

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wasitls/wasitls/guest/wasinet"
)

type connKey struct{}

// ConnContext keeps each connection in its requests' context, for
// Handler's greeting (http.Server.ConnContext).
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// Handler serves:
//
//	/           a greeting naming the HTTP version and, for a wasinet
//	            TLS connection, the server name, ALPN and the client
//	            certificate's subject (when mTLS is on)
//	/echo       the request body, back
//	/bytes?n=N  N bytes of 'x' (at most 64 MiB)
func Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", hello)
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(w, r.Body)
	})
	chunk := []byte(strings.Repeat("x", 32<<10))
	mux.HandleFunc("/bytes", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Query().Get("n"))
		if err != nil || n < 0 || n > 64<<20 {
			http.Error(w, "want n=0..67108864", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(n))
		for n > 0 {
			k := min(n, len(chunk))
			if _, err := w.Write(chunk[:k]); err != nil {
				return
			}
			n -= k
		}
	})
	return mux
}

func hello(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "hello from a wasm guest; proto=%s", r.Proto)
	if c, ok := r.Context().Value(connKey{}).(*wasinet.ServerConn); ok {
		fmt.Fprintf(&b, " sni=%q alpn=%q", c.ServerName(), c.NegotiatedProtocol())
		certs, err := c.PeerCertificates()
		switch {
		case err != nil:
			fmt.Fprintf(&b, " client-cert-error=%q", err)
		case len(certs) > 0:
			fmt.Fprintf(&b, " client=%q", certs[0].Subject.CommonName)
		}
	}
	b.WriteString("\n")
	_, _ = io.WriteString(w, b.String())
}

// Server is the example's http.Server around Handler: HTTP/1.1, and
// HTTP/2 on plaintext streams (a guest's connections carry plaintext, the
// host speaks TLS, so a client that negotiated h2 with the host sends the
// HTTP/2 preface on them), with header and idle timeouts. The benchmarks
// run the same server natively over crypto/tls (Serve with a TLS listener:
// its connections are *tls.Conn, so HTTP/2 is then negotiated as usual).
func Server() *http.Server {
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetUnencryptedHTTP2(true)
	return &http.Server{
		Handler:           Handler(),
		Protocols:         &protos,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       60 * time.Second,
		ConnContext:       ConnContext,
	}
}
