//go:build wasip1

// Command serveguest is the guest of `wasitls bench -only serve`: the HTTPS
// server of examples/guest-https-server (package site's server and routes),
// listening where its argument says with TLS by the host. The bench runs
// the same site.Server natively beside it.
package main

import (
	"fmt"
	"os"

	"github.com/wasitls/wasitls/examples/guest-https-server/site"
	"github.com/wasitls/wasitls/guest/wasinet"
)

func main() {
	l, err := wasinet.ListenTLS("tcp", os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
	fmt.Println("listening", l.Addr())
	err = site.Server().Serve(l)
	fmt.Fprintln(os.Stderr, "error:", err)
	os.Exit(1)
}
