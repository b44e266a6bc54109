package wasinet_test

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/wasitls/wasitls/guest/wasinet"
)

// An http.Client whose connections go through the host: TCP over
// wasi-sockets, TLS over wasi-tls. It works in a GOOS=wasip1 guest run by a
// wasitls host that allows the destination.
func Example_http() {
	tr := &http.Transport{
		DialContext:    wasinet.DialContext,    // plain TCP through wasi-sockets
		DialTLSContext: wasinet.DialTLSContext, // TLS run by the host through wasi-tls
	}
	resp, err := (&http.Client{Transport: tr}).Get("https://example.com/")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
}

// STARTTLS: a plaintext exchange on a socket, then TLS on the same socket
// (PostgreSQL's SSLRequest here).
func ExampleClientContext() {
	ctx := context.Background()
	c, err := wasinet.DialContext(ctx, "tcp", "db.internal:5432")
	if err != nil {
		fmt.Println(err)
		return
	}
	sslRequest := []byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f}
	if _, err := c.Write(sslRequest); err != nil {
		fmt.Println(err)
		return
	}
	var answer [1]byte
	if _, err := io.ReadFull(c, answer[:]); err != nil || answer[0] != 'S' {
		fmt.Println("no TLS:", err)
		return
	}
	tc, err := wasinet.ClientContext(ctx, c, "db.internal")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer tc.Close()
}
