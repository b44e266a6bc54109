//go:build wasip1

// Command demoguest is the guest `wasitls demo` runs: an ordinary net/http
// client whose connections go through guest/wasinet, so that the host runs
// the TLS handshake through wasi-tls under its own policy (trusted roots,
// ALPN, client certificate, backend). The only wasitls-specific line is
// the transport, which speaks HTTP/2 to servers that negotiate h2 and
// HTTP/1.1 to the others (it asks the host for ALPN h2 and http/1.1
// through the wasitls:tls/connection extension):
//
//	client := &http.Client{Transport: wasihttp.NewTransport()}
//
// It is also a small curl for trying `wasitls run`:
//
//	GOOS=wasip1 GOARCH=wasm go build -o fetch.wasm ./internal/guests/demo
//	wasitls run -allow 'example.com:443' fetch.wasm https://example.com/
//
// Usage: demoguest [-i] https://HOST[:PORT]/PATH
//
// It GETs the URL with Connection: close and prints the response body (with
// -i, the status line and headers too). It exits 0 for a 2xx status, 1 for
// any failure (printing "error: <reason>" to stderr: the host's io-error
// debug string, or "tcp: <error-code>" such as access-denied), and 2 for
// bad usage.
package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"

	"github.com/wasitls/wasitls/guest/wasinet"
	"github.com/wasitls/wasitls/guest/wasinet/wasihttp"
)

func main() {
	args := os.Args[1:]
	headers := false
	if len(args) > 0 && args[0] == "-i" {
		headers, args = true, args[1:]
	}
	if len(args) != 1 {
		usage("want one URL")
	}
	u, err := url.Parse(args[0])
	if err != nil || u.Scheme != "https" || u.Hostname() == "" {
		usage(fmt.Sprintf("%q is not an https:// URL", args[0]))
	}

	// TCP through wasi-sockets, TLS through wasi-tls; HTTP/2 or HTTP/1.1
	// as the server negotiates.
	tr := wasihttp.NewTransport(wasihttp.WithHTTP1(func(h *http.Transport) {
		h.DisableKeepAlives = true // one request: Connection: close
	}))
	defer tr.CloseIdleConnections()
	req, err := http.NewRequest(http.MethodGet, u.String(), nil)
	if err != nil {
		usage(err.Error())
	}
	req.Header.Set("User-Agent", "wasitls-demoguest")
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		fail(err)
	}
	if headers {
		fmt.Printf("%s %s\r\n", resp.Proto, resp.Status)
		resp.Header.Write(os.Stdout)
		fmt.Print("\r\n")
	}
	_, err = io.Copy(os.Stdout, resp.Body)
	resp.Body.Close() // sends close_notify and shuts the socket down
	if err != nil {
		fail(err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		fmt.Fprintf(os.Stderr, "error: HTTP status %d\n", resp.StatusCode)
		os.Exit(1)
	}
}

func usage(msg string) {
	fmt.Fprintln(os.Stderr, "usage: demoguest [-i] https://HOST[:PORT]/PATH:", msg)
	os.Exit(2)
}

// fail prints what the host said, as the test guests do, and exits 1.
// net/http wraps the errors; wasinet's types are found underneath.
func fail(err error) {
	var (
		he   *wasinet.HandshakeError
		se   *wasinet.StreamError
		sock *wasinet.SocketError
	)
	msg := err.Error()
	switch {
	case errors.As(err, &he):
		msg = he.Debug
	case errors.As(err, &se):
		msg = se.Debug
	case errors.As(err, &sock):
		msg = "tcp: " + sock.Code.String()
	}
	fmt.Fprintln(os.Stderr, "error: "+msg)
	os.Exit(1)
}
