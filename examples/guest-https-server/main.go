//go:build wasip1

// Command guest-https-server is an example guest that serves HTTPS: an
// ordinary net/http server whose listener (package wasinet) accepts
// connections through wasi-sockets and has the host run each TLS server
// handshake (wasitls:tls/server). The certificates and keys stay in the
// host, chosen per server name by its policy; the guest sees the name the
// client asked for, the ALPN protocol and the client's certificate.
//
//	GOOS=wasip1 GOARCH=wasm go build -o server.wasm ./examples/guest-https-server
//	wasitls run -listen 127.0.0.1:8443 -server-cert cert.pem -server-key key.pem \
//	    -server-alpn h2,http/1.1 server.wasm 127.0.0.1:8443
//	curl --cacert ca.pem https://localhost:8443/
//
// Arguments: ADDR (host:port to listen on) and, optionally, "plain" to
// serve HTTP without TLS. It prints "listening ADDR" once it listens, then
// serves until the host stops it. HTTP/2 is served when the host's ALPN
// list offers h2 (the guest sees a plaintext stream either way).
//
// The routes are package site's.
package main

import (
	"fmt"
	"os"

	"github.com/wasitls/wasitls/examples/guest-https-server/site"
	"github.com/wasitls/wasitls/guest/wasinet"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: guest-https-server ADDR [plain]")
		os.Exit(2)
	}
	addr, plain := os.Args[1], len(os.Args) > 2 && os.Args[2] == "plain"
	listen := wasinet.ListenTLS
	if plain {
		listen = wasinet.Listen
	}
	l, err := listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
	fmt.Println("listening", l.Addr())
	srv := site.Server()
	err = srv.Serve(l)
	fmt.Fprintln(os.Stderr, "error:", err)
	os.Exit(1)
}
