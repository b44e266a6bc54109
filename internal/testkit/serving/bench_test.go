package serving

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/examples/guest-https-server/site"
	"github.com/wasitls/wasitls/host"
	"github.com/wasitls/wasitls/internal/testkit/guestrun"
)

// BenchmarkServe compares the example server guest with the same handler
// (package site) served natively by net/http over crypto/tls, driven by
// the same Go client:
//
//	handshake  a new TLS connection per request (GET /, a few bytes)
//	keepalive  8 clients on kept-alive connections (GET /)
//	latency    1 client on a kept-alive connection (GET /): ns/op is the latency
//	bulk       GET /bytes?n=1MiB on a kept-alive connection
//
// go test ./internal/testkit/serving -run '^$' -bench Serve -benchtime 3s
func BenchmarkServe(b *testing.B) {
	s := newSite(b)
	guest := startServer(b, &host.Policy{Serve: s.serve(false)}, stdtls.Provider{}).addr.String()
	native := startNative(b, s)
	for _, side := range []struct{ name, addr string }{{"guest", guest}, {"native", native}} {
		base := "https://localhost:" + portOf(side.addr)
		b.Run("handshake/"+side.name, func(b *testing.B) {
			tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.pki.Roots}, DisableKeepAlives: true}
			defer tr.CloseIdleConnections()
			get(b, tr, base+"/", b.N, 1)
		})
		b.Run("keepalive/"+side.name, func(b *testing.B) {
			tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.pki.Roots}, MaxIdleConnsPerHost: 8}
			defer tr.CloseIdleConnections()
			get(b, tr, base+"/", b.N, 8)
		})
		b.Run("latency/"+side.name, func(b *testing.B) {
			tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.pki.Roots}}
			defer tr.CloseIdleConnections()
			get(b, tr, base+"/", b.N, 1)
		})
		b.Run("bulk/"+side.name, func(b *testing.B) {
			tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.pki.Roots}}
			defer tr.CloseIdleConnections()
			b.SetBytes(1 << 20)
			get(b, tr, base+"/bytes?n=1048576", b.N, 1)
		})
	}
}

// get makes n GETs of url from par goroutines.
func get(b *testing.B, tr *http.Transport, url string, n, par int) {
	client := &http.Client{Transport: tr, Timeout: time.Minute}
	work := make(chan struct{}, n)
	for range n {
		work <- struct{}{}
	}
	close(work)
	errs := make(chan error, par)
	b.ResetTimer()
	for range par {
		go func() {
			for range work {
				resp, err := client.Get(url)
				if err != nil {
					errs <- err
					return
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range par {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// startNative serves site.Handler over crypto/tls with the same
// certificates, HTTP/1.1.
func startNative(b *testing.B, s *testSite) string {
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{s.def.TLS}, NextProtos: []string{"http/1.1"}})
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: site.Handler(), ConnContext: site.ConnContext}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	return ln.Addr().String()
}

// BenchmarkServeIdleMemory measures the memory each idle client connection
// (TLS established, one request served, kept alive) costs with the guest
// server (the host's heap, which holds the guest's linear memory) and with the native
// server, per connection, over 200 connections. The Go clients live in
// this process and count on both sides alike.
//
// go test ./internal/testkit/serving -run '^$' -bench ServeIdleMemory -benchtime 1x
func BenchmarkServeIdleMemory(b *testing.B) {
	const conns = 200
	s := newSite(b)
	guest := startServerOpts(b, &host.Policy{Serve: s.serve(false), Limits: host.Limits{Connections: 1024}}, stdtls.Provider{},
		[]guestrun.RunOption{guestrun.Name("idle-memory-server")}).addr.String()
	native := startNative(b, s)
	guestMem := func() uint64 {
		if m := env.Runtime.Module("idle-memory-server"); m != nil {
			return uint64(m.Memory().Size())
		}
		return 0
	}
	for _, side := range []struct {
		name, addr string
		extra      func() uint64
	}{{"guest", guest, guestMem}, {"native", native, func() uint64 { return 0 }}} {
		b.Run(side.name, func(b *testing.B) {
			for range b.N {
				before, beforeX := heap(), side.extra()
				var cs []*tls.Conn
				for range conns {
					cs = append(cs, keptAlive(b, side.addr, s))
				}
				time.Sleep(200 * time.Millisecond)
				after, afterX := heap(), side.extra()
				// The clients are in this process too, the same for both
				// sides: the difference between the sides is the guest's.
				// wazero keeps a guest's linear memory on the Go heap, so
				// the heap's growth includes the guest's (guest-B/conn,
				// the part of it that is linear memory).
				b.ReportMetric(float64(int64(after)-int64(before))/conns, "B/conn")
				b.ReportMetric(float64(int64(afterX)-int64(beforeX))/conns, "guest-B/conn")
				for _, c := range cs {
					c.Close()
				}
			}
		})
	}
}

// keptAlive connects to addr, has GET / served and returns the connection,
// kept alive and idle.
func keptAlive(b *testing.B, addr string, s *testSite) *tls.Conn {
	c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "localhost", RootCAs: s.pki.Roots})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")); err != nil {
		b.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return c
}

// heap is the live heap after a collection.
func heap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkServeConcurrent starts 1,000 clients at one instant, each with
// a new TLS connection and one GET /, against the guest server and the
// native one, and reports the p50 and p99 of their times.
//
// go test ./internal/testkit/serving -run '^$' -bench ServeConcurrent -benchtime 1x
func BenchmarkServeConcurrent(b *testing.B) {
	const clients = 1000
	s := newSite(b)
	guest := startServer(b, &host.Policy{Serve: s.serve(false), Limits: host.Limits{Connections: 2 * clients, Handles: 16 * clients}}, stdtls.Provider{}).addr.String()
	native := startNative(b, s)
	for _, side := range []struct{ name, addr string }{{"guest", guest}, {"native", native}} {
		b.Run(side.name, func(b *testing.B) {
			for range b.N {
				tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.pki.Roots}, DisableKeepAlives: true, MaxConnsPerHost: 0}
				client := &http.Client{Transport: tr, Timeout: 2 * time.Minute}
				start := make(chan struct{})
				times := make([]time.Duration, clients)
				errs := make(chan error, clients)
				var wg sync.WaitGroup
				for i := range clients {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						t0 := time.Now()
						resp, err := client.Get("https://localhost:" + portOf(side.addr) + "/")
						if err != nil {
							errs <- err
							return
						}
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						times[i] = time.Since(t0)
					}()
				}
				close(start)
				wg.Wait()
				close(errs)
				for err := range errs {
					b.Fatal(err)
				}
				slices.Sort(times)
				b.ReportMetric(float64(times[clients/2])/1e6, "p50-ms")
				b.ReportMetric(float64(times[clients*99/100])/1e6, "p99-ms")
				tr.CloseIdleConnections()
			}
		})
	}
}
