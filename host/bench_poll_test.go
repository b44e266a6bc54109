package host

import (
	"encoding/binary"
	"net"
	"testing"
	"time"

	wapi "github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/conformance/pki"
	"github.com/wasitls/wasitls/internal/cabi"
	"github.com/wasitls/wasitls/internal/testkit/wasmenc"
	"github.com/wasitls/wasitls/internal/witnames"
)

// BenchmarkDownloadReadPoll is BenchmarkDownload's guest reading as
// guest/wasinet (net/http, pgx) does: read, and when that finds nothing,
// poll the stream's pollable with a timer, then read again. The first
// read that finds nothing starts the stream's goroutine, so this is the
// hand-off path that blocking reads (BenchmarkDownload/guest) avoid.
//
//	go test ./host -run XXX -bench DownloadReadPoll -download-mib 256
func BenchmarkDownloadReadPoll(b *testing.B) {
	size := *benchSize << 20
	p := pki.New(b)
	ln := sourceServer(b, p, size)
	addr := ln.Addr().(*net.TCPAddr).AddrPort()
	ctx, r := newRuntime(b)
	x := newTG(b, ctx, New(r, WithProvider(stdtls.Provider{})), "0.2.6", WithPolicy(&Policy{Allow: []string{addr.String()}, RootCAs: p.Roots}))
	read := x.fn(ioStreamsName, witnames.InputStreamRead)
	poll := x.fn(ioPollName, witnames.Poll)
	setHeap := x.mod.ExportedFunction("set_heap")
	const list = argArea // two u32 handles
	b.SetBytes(int64(size))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sock, conn, tin, tout := x.openTLS(addr)
		ps := x.call1(ioStreamsName, witnames.InputStreamSubscribe, uint64(tin))
		clock := x.call1(monoName, witnames.SubscribeDuration, uint64(time.Minute))
		var hs [8]byte
		binary.LittleEndian.PutUint32(hs[:], ps)
		binary.LittleEndian.PutUint32(hs[4:], clock)
		x.put(list, hs[:])
		total := 0
		stack := make([]uint64, 3)
		for {
			n, closed := x.benchRead(b, read, setHeap, stack, tin, total)
			if closed {
				break
			}
			total += n
			if n == 0 {
				stack[0], stack[1], stack[2] = list, 2, retArea
				if err := poll.CallWithStack(ctx, stack); err != nil {
					b.Fatal(err)
				}
			}
		}
		if total != size {
			b.Fatalf("read %d of %d", total, size)
		}
		x.drop(ioPollName, "pollable", ps)
		x.drop(ioPollName, "pollable", clock)
		x.closeTLS(sock, conn, tin, tout)
	}
}

// benchRead calls read (read or blocking-read) for up to 256 KiB of input
// stream in and reports how many bytes it returned, or that the stream is
// closed; it then frees the guest's heap (set_heap) for the next read.
// total is the bytes read so far, for the failure message.
func (x *tg) benchRead(b *testing.B, read, setHeap wapi.Function, stack []uint64, in uint32, total int) (n int, closed bool) {
	stack[0], stack[1], stack[2] = uint64(in), 256<<10, retArea
	if err := read.CallWithStack(x.ctx, stack); err != nil {
		b.Fatal(err)
	}
	r := x.ret(12)
	if r[0] != 0 {
		if r[4] != 1 {
			b.Fatalf("read failed after %d bytes", total)
		}
		return 0, true
	}
	if _, err := setHeap.Call(x.ctx, wasmenc.HeapStart); err != nil {
		b.Fatal(err)
	}
	return int(cabi.GetU32(r, 8)), false
}
