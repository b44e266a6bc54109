//go:build wasip1

package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"

	"github.com/wasitls/wasitls/guest/clocks/monotonic"
)

// request is the per-request mode: the life of a guest that a platform
// instantiates for one HTTPS request. It prints "main" as main starts (the
// host times the runtime's start-up by it), connects and handshakes
// ("connected"), sends GET /bytes/N over HTTP/1.1, reads the response to
// the end, checks it, and prints "ok N NS" (N body bytes, NS from the start
// of the connect). Then it keeps the connection open until the end of
// stdin, so that the host can measure a live guest's memory, and exits.
func request(t target, n uint64) {
	fmt.Println("main")
	start := monotonic.Now()
	c := t.open(1)[0]
	fmt.Println("connected")
	req := "GET /bytes/" + strconv.FormatUint(n, 10) + " HTTP/1.1\r\nHost: " + t.name + "\r\nConnection: close\r\n\r\n"
	if err := c.out.BlockingWriteAndFlush([]byte(req)); err != nil {
		fail(err)
	}
	var resp []byte
	c.readToEnd(make([]byte, 16<<10), func(b []byte) { resp = append(resp, b...) })
	end := monotonic.Now()
	head, body, ok := bytes.Cut(resp, []byte("\r\n\r\n"))
	if !ok || !bytes.HasPrefix(head, []byte("HTTP/1.1 200 ")) || uint64(len(body)) != n {
		fail(fmt.Errorf("bad response: %d bytes of body, head %q", len(body), head))
	}
	fmt.Printf("ok %d %d\n", len(body), end.Sub(start))
	var b [1]byte
	for {
		if k, _ := os.Stdin.Read(b[:]); k == 0 {
			break
		}
	}
	c.close()
}
