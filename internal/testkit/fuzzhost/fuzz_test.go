package fuzzhost

import (
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	wapi "github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
	"go.uber.org/goleak"

	"github.com/wasitls/wasitls/host"
	"github.com/wasitls/wasitls/internal/testkit/rawguest"
	"github.com/wasitls/wasitls/internal/testkit/wasmenc"
)

// interp turns fuzz bytes into host calls.
type interp struct {
	t     *testing.T
	f     *fixture
	x     *rawguest.Guest
	fns   []rawguest.Func
	b     []byte
	pool  []uint32 // every handle-like value seen
	calls int
}

func (p *interp) byte() byte {
	if len(p.b) == 0 {
		return 0
	}
	v := p.b[0]
	p.b = p.b[1:]
	return v
}

func (p *interp) u16() uint16 { return uint16(p.byte())<<8 | uint16(p.byte()) }
func (p *interp) u32() uint32 { return uint32(p.u16())<<16 | uint32(p.u16()) }

func (p *interp) handle() uint32 {
	if len(p.pool) == 0 {
		return uint32(p.byte() % 8)
	}
	return p.pool[int(p.byte())%len(p.pool)]
}

// arg makes one argument: handles (live, stale, never valid), small
// numbers, the scratch areas, pointers at and past the end of memory, and
// huge values.
func (p *interp) arg(typ wapi.ValueType) uint64 {
	if typ == wapi.ValueTypeI64 {
		switch p.byte() % 7 {
		case 0:
			return uint64(p.byte())
		case 1:
			return 1 << 62
		case 2:
			return ^uint64(0)
		case 3:
			return uint64(p.u32())<<32 | uint64(p.u32())
		case 4:
			return 4096
		case 5:
			return uint64(p.handle())
		default:
			return uint64(p.u16())
		}
	}
	size := p.x.Mod.Memory().Size()
	switch p.byte() % 11 {
	case 0, 1:
		return uint64(p.handle())
	case 2:
		return uint64(p.handle() + uint32(p.byte()%4))
	case 3:
		return 0
	case 4:
		return uint64(p.byte() % 16)
	case 5:
		return rawguest.RetArea + uint64(p.byte()%4)*4
	case 6:
		return rawguest.ArgArea
	case 7:
		return uint64(size - uint32(p.byte()%16))
	case 8:
		return uint64(0xffffffff - uint32(p.byte()%4))
	case 9:
		return uint64(p.u32())
	default:
		return wasmenc.HeapStart + uint64(p.u16())
	}
}

// ok reports whether err is an acceptable outcome of a call: none, a trap,
// or the end of the module (its context ended during a blocking call).
func (p *interp) ok(err error) bool {
	var exit *sys.ExitError
	switch {
	case err == nil, rawguest.IsTrap(err), errors.As(err, &exit):
		return true
	case p.x.Mod.IsClosed() && strings.Contains(err.Error(), "closed"):
		return true
	}
	return false
}

func (p *interp) collect(res []uint64) {
	for _, v := range res {
		if v < 1<<16 {
			p.pool = append(p.pool, uint32(v))
		}
	}
	if b, err := p.x.Bytes(rawguest.RetArea, 24); err == nil {
		for i := 0; i+4 <= len(b); i += 4 {
			if v := binary.LittleEndian.Uint32(b[i:]); v != 0 && v < 1<<16 {
				p.pool = append(p.pool, v)
			}
		}
	}
	if len(p.pool) > 64 {
		p.pool = p.pool[len(p.pool)-64:]
	}
}

// step runs one instruction; false ends the program.
func (p *interp) step() bool {
	if len(p.b) == 0 || p.x.Mod.IsClosed() {
		return false
	}
	p.calls++
	switch op := p.byte() % 16; op {
	case 0: // a real connection to the TLS echo server (or the silent one)
		dest := p.f.echo.AddrPort()
		if p.byte()%3 == 0 {
			dest = p.f.quiet.AddrPort()
		}
		sock, in, out, err := p.x.Connect(dest)
		var code rawguest.CodeError
		if !p.ok(err) && !errors.As(err, &code) {
			p.t.Fatalf("connect: %v", err)
		}
		p.pool = append(p.pool, sock, in, out)
	case 1: // a handshake over two handles (names: good, bad, invalid UTF-8)
		names := []string{"localhost", "wrong.example", "\xff\xfe", "", strings.Repeat("a", 300)}
		name := names[int(p.byte())%len(names)]
		fut, err := p.x.StartHandshake(name, p.handle(), p.handle())
		if !p.ok(err) {
			p.t.Fatalf("handshake: %v", err)
		}
		if err == nil {
			p.pool = append(p.pool, fut)
			if p.byte()%2 == 0 {
				conn, tin, tout, err := p.x.Finish(fut)
				var ioe *rawguest.IOError
				if !p.ok(err) && !errors.As(err, &ioe) {
					p.t.Fatalf("finish: %v", err)
				}
				p.pool = append(p.pool, conn, tin, tout)
			}
		}
	case 2: // scribble on guest memory
		n := int(p.byte())
		buf := make([]byte, n)
		for i := range buf {
			buf[i] = p.byte()
		}
		_ = p.x.Put(rawguest.ArgArea+uint32(p.byte()), buf)
	case 3: // move the allocator (cabi_realloc then hands out odd places)
		_, _ = p.x.Mod.ExportedFunction("set_heap").Call(p.x.Ctx, p.arg(wapi.ValueTypeI32))
	default: // any host function with any arguments
		fn := p.fns[int(p.u16())%len(p.fns)]
		args := make([]uint64, len(fn.Params))
		for i, typ := range fn.Params {
			args[i] = p.arg(typ)
		}
		res, err := p.x.Call(rawguest.Iface(fn.Module), fn.Name, args...)
		if !p.ok(err) {
			p.t.Fatalf("%s#%s(%v): %v", fn.Module, fn.Name, args, err)
		}
		p.collect(res)
	}
	return p.calls < 200
}

// FuzzHostCalls runs random host-call sequences. Invariants: every call
// returns, traps with "wasitls: trap", or ends because the module's context
// ended (each sequence runs under a 500 ms context); afterwards the guest
// holds no handle, the host no guest, the servers no connection, and no
// goroutine or descriptor is left.
func FuzzHostCalls(f *testing.F) {
	for _, seed := range fuzzSeeds {
		f.Add(seed)
	}
	fx := newFixture(f)
	fns := rawguest.Imports("0.2.6")
	f.Fuzz(func(t *testing.T, prog []byte) {
		if len(prog) > 4096 {
			prog = prog[:4096]
		}
		defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
		fds := openFDs()
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		x := fx.guest(t, ctx, func(p *host.Policy) {
			p.HandshakeTimeout = 200 * time.Millisecond
			p.Limits = host.Limits{Handles: 64, Connections: 4, Handshakes: 2}
		})
		ip := &interp{t: t, f: fx, x: x, fns: fns, b: prog}
		start := time.Now()
		for ip.step() {
		}
		if err := x.Close(context.Background()); err != nil && !ip.ok(err) {
			t.Errorf("close: %v", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("the sequence took %v under a 500 ms context", d)
		}
		if n := x.G.OpenHandles(); n != 0 {
			t.Errorf("%d handles open after close", n)
		}
		fx.settle(t)
		if after := openFDs(); after != fds {
			t.Errorf("file descriptors: %d before, %d after", fds, after)
		}
	})
}

// fuzzSeeds are hand-written programs: a connection and a handshake with
// reads and writes, stale and wrong-type handles, pointers at the end of
// memory.
var fuzzSeeds = [][]byte{
	{},
	{0, 1, 1, 0, 0, 1, 0}, // connect, handshake localhost, finish
	{0, 1, 1, 0, 1, 2, 0, 4, 0, 40, 0, 3, 0, 4, 5, 0}, // ... then a call with pool handles
	{0, 3, 1, 0, 1, 2, 0},                             // handshake against the silent server
	{2, 16, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0, 3, 7, 4, 0, 7, 8, 9}, // scribble, odd heap, calls
	{4, 0, 1, 7, 0, 7, 1, 8, 2, 4, 0, 2, 0, 0, 4, 0, 3, 8, 3},                              // calls with end-of-memory pointers
	{0, 1, 0, 1, 1, 2, 0, 4, 0, 50, 1, 1, 1, 1, 4, 0, 50, 1, 1, 1, 1},                      // double handshakes on the same streams
}
