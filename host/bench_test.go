package host

import (
	"crypto/rand"
	"crypto/tls"
	"flag"
	"io"
	"net"
	"testing"

	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/conformance/pki"
	"github.com/wasitls/wasitls/internal/cabi"
	"github.com/wasitls/wasitls/internal/testkit/wasmenc"
	"github.com/wasitls/wasitls/internal/witnames"
)

var benchSize = flag.Int("download-mib", 64, "MiB per download in BenchmarkDownload")

// sourceServer sends size bytes over TLS to each client, then closes.
func sourceServer(b *testing.B, p *pki.PKI, size int) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{p.Server().TLS}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 256<<10)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tc := tls.Server(c, cfg)
			for left := size; left > 0; {
				n, err := tc.Write(buf[:min(left, len(buf))])
				if err != nil {
					break
				}
				left -= n
			}
			_ = tc.Close()
		}
	}()
	b.Cleanup(func() { ln.Close(); <-done })
	return ln
}

// BenchmarkDownload compares a download through the host's wasi-tls streams
// into guest memory (a generated guest calling blocking-read in 256 KiB
// steps) with a native crypto/tls client reading the same server.
//
//	go test ./host -run XXX -bench Download -download-mib 256
func BenchmarkDownload(b *testing.B) {
	size := *benchSize << 20
	p := pki.New(b)
	ln := sourceServer(b, p, size)
	addr := ln.Addr().(*net.TCPAddr).AddrPort()

	b.Run("native", func(b *testing.B) {
		b.SetBytes(int64(size))
		buf := make([]byte, 256<<10)
		for i := 0; i < b.N; i++ {
			c, err := tls.Dial("tcp", addr.String(), &tls.Config{ServerName: "localhost", RootCAs: p.Roots})
			if err != nil {
				b.Fatal(err)
			}
			n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{c}, buf)
			c.Close()
			if err != nil || n != int64(size) {
				b.Fatalf("read %d: %v", n, err)
			}
		}
	})
	b.Run("guest", func(b *testing.B) {
		ctx, r := newRuntime(b)
		x := newTG(b, ctx, New(r, WithProvider(stdtls.Provider{})), "0.2.6", WithPolicy(&Policy{Allow: []string{addr.String()}, RootCAs: p.Roots}))
		read := x.fn(ioStreamsName, witnames.InputStreamBlockingRead)
		setHeap := x.mod.ExportedFunction("set_heap")
		b.SetBytes(int64(size))
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			sock, conn, tin, tout := x.openTLS(addr)
			total := 0
			stack := make([]uint64, 3)
			for {
				n, closed := x.benchRead(b, read, setHeap, stack, tin, total)
				if closed {
					break
				}
				total += n
			}
			if total != size {
				b.Fatalf("read %d of %d", total, size)
			}
			x.closeTLS(sock, conn, tin, tout)
		}
	})
}

// sinkServer reads everything a TLS client sends and reports the count.
func sinkServer(b *testing.B, p *pki.PKI) (net.Listener, chan int64) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{p.Server().TLS}}
	counts := make(chan int64, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n, _ := io.Copy(io.Discard, tls.Server(c, cfg))
			c.Close()
			counts <- n
		}
	}()
	b.Cleanup(func() { ln.Close(); <-done })
	return ln, counts
}

// BenchmarkUpload: the guest writes with blocking-write-and-flush in 64 KiB
// steps; native writes the same through crypto/tls.
func BenchmarkUpload(b *testing.B) {
	size := *benchSize << 20
	p := pki.New(b)
	ln, counts := sinkServer(b, p)
	addr := ln.Addr().(*net.TCPAddr).AddrPort()
	chunk := make([]byte, 64<<10)

	b.Run("native", func(b *testing.B) {
		b.SetBytes(int64(size))
		for i := 0; i < b.N; i++ {
			c, err := tls.Dial("tcp", addr.String(), &tls.Config{ServerName: "localhost", RootCAs: p.Roots})
			if err != nil {
				b.Fatal(err)
			}
			for left := size; left > 0; left -= len(chunk) {
				if _, err := c.Write(chunk); err != nil {
					b.Fatal(err)
				}
			}
			c.Close()
			if n := <-counts; n != int64(size) {
				b.Fatalf("server got %d", n)
			}
		}
	})
	b.Run("guest", func(b *testing.B) {
		ctx, r := newRuntime(b)
		x := newTG(b, ctx, New(r, WithProvider(stdtls.Provider{})), "0.2.6", WithPolicy(&Policy{Allow: []string{addr.String()}, RootCAs: p.Roots}))
		write := x.fn(ioStreamsName, witnames.OutputStreamBlockingWriteAndFlush)
		b.SetBytes(int64(size))
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			sock, conn, tin, tout := x.openTLS(addr)
			stack := make([]uint64, 4)
			for left := size; left > 0; left -= len(chunk) {
				stack[0], stack[1], stack[2], stack[3] = uint64(tout), wasmenc.HeapStart, uint64(len(chunk)), retArea
				if err := write.CallWithStack(ctx, stack); err != nil {
					b.Fatal(err)
				}
			}
			x.finishUpload(sock, conn, tin, tout, counts, size)
		}
	})
	// check-write, write (and flush after each write, as guests written
	// for an earlier host did), waiting on the pollable when check-write
	// is 0: the way wasi-libc's send() and guest/wasinet write.
	for _, flush := range []bool{false, true} {
		name := "guest-check-write"
		if flush {
			name += "-flush"
		}
		b.Run(name, func(b *testing.B) {
			ctx, r := newRuntime(b)
			x := newTG(b, ctx, New(r, WithProvider(stdtls.Provider{})), "0.2.6", WithPolicy(&Policy{Allow: []string{addr.String()}, RootCAs: p.Roots}))
			cw := x.fn(ioStreamsName, witnames.OutputStreamCheckWrite)
			write := x.fn(ioStreamsName, witnames.OutputStreamWrite)
			fl := x.fn(ioStreamsName, witnames.OutputStreamFlush)
			block := x.fn(ioPollName, witnames.PollableBlock)
			b.SetBytes(int64(size))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				sock, conn, tin, tout := x.openTLS(addr)
				pl := x.call1(ioStreamsName, witnames.OutputStreamSubscribe, uint64(tout))
				stack := make([]uint64, 4)
				for left := uint64(size); left > 0; {
					stack[0], stack[1] = uint64(tout), retArea
					if err := cw.CallWithStack(ctx, stack); err != nil {
						b.Fatal(err)
					}
					n := min(cabi.GetU64(x.ret(16), 8), left, uint64(len(chunk)))
					if n == 0 {
						stack[0] = uint64(pl)
						if err := block.CallWithStack(ctx, stack); err != nil {
							b.Fatal(err)
						}
						continue
					}
					stack[0], stack[1], stack[2], stack[3] = uint64(tout), wasmenc.HeapStart, n, retArea
					if err := write.CallWithStack(ctx, stack); err != nil {
						b.Fatal(err)
					}
					if flush {
						stack[0], stack[1] = uint64(tout), retArea
						if err := fl.CallWithStack(ctx, stack); err != nil {
							b.Fatal(err)
						}
					}
					left -= n
				}
				x.drop(ioPollName, "pollable", pl)
				x.finishUpload(sock, conn, tin, tout, counts, size)
			}
		})
	}
}

// finishUpload closes an upload's connection and checks what the server got.
func (x *tg) finishUpload(sock, conn, tin, tout uint32, counts chan int64, size int) {
	x.t.Helper()
	x.call(tlsName, witnames.ClientConnectionCloseOutput, uint64(conn))
	x.closeTLS(sock, conn, tin, tout)
	if n := <-counts; n != int64(size) {
		x.t.Fatalf("server got %d", n)
	}
}

// BenchmarkInstantiate measures a guest's set-up: resolving and
// instantiating its own host modules (every interface) and tearing down.
func BenchmarkInstantiate(b *testing.B) {
	ctx, r := newRuntime(b)
	h := New(r)
	cm := mustCompile(b, r, "0.2.6")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		g, err := h.Instantiate(ctx, cm, NewModuleConfig().WithName("").WithRandSource(rand.Reader))
		if err != nil {
			b.Fatal(err)
		}
		_ = g.Close(ctx)
	}
}
