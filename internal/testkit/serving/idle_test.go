package serving

import (
	"bufio"
	"crypto/tls"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/host"
)

// TestKeptAliveClientsDoNotStarveTheQuota keeps clients idle after one
// request each, more of them than the guest's buffered-bytes quota holds
// 64 KiB check-write permits, and then needs each of them and a new client
// served at once. An idle stream used to keep the unused rest of its permit
// reserved: 512 idle connections used up the default 32 MiB, and from then
// on every connection's check-write granted 0 until an idle one closed.
func TestKeptAliveClientsDoNotStarveTheQuota(t *testing.T) {
	const clients = 6 // 6 x 64 KiB > the 128 KiB quota
	s := newSite(t)
	srv := startServer(t, &host.Policy{Serve: s.serve(false), Limits: host.Limits{BufferedBytes: host.MinBufferedBytes}}, stdtls.Provider{})
	get := func(c *tls.Conn, r *bufio.Reader) error {
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")); err != nil {
			return err
		}
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	type client struct {
		c *tls.Conn
		r *bufio.Reader
	}
	var cs []client
	for i := range clients + 1 {
		c, err := tls.Dial("tcp", srv.addr.String(), &tls.Config{ServerName: "localhost", RootCAs: s.pki.Roots})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		cl := client{c, bufio.NewReader(c)}
		start := time.Now()
		if err := get(cl.c, cl.r); err != nil {
			t.Fatalf("client %d (with %d idle ones): %v after %v", i, i, err, time.Since(start))
		}
		cs = append(cs, cl)
		time.Sleep(20 * time.Millisecond) // its response is out: the stream is idle
	}
	for i, cl := range cs {
		if err := get(cl.c, cl.r); err != nil {
			t.Fatalf("kept-alive client %d, second request: %v", i, err)
		}
	}
}
