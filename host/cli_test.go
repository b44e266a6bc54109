package host

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasitls/wasitls/conformance/pki"
	"github.com/wasitls/wasitls/internal/cabi"
	"github.com/wasitls/wasitls/internal/testkit/syncbuf"
	"github.com/wasitls/wasitls/internal/testkit/wasmenc"
	"github.com/wasitls/wasitls/internal/witnames"
)

const (
	envName       = "wasi:cli/environment"
	exitName      = "wasi:cli/exit"
	stdinName     = "wasi:cli/stdin"
	stdoutName    = "wasi:cli/stdout"
	stderrName    = "wasi:cli/stderr"
	randomName    = "wasi:random/random"
	insecureName  = "wasi:random/insecure"
	seedName      = "wasi:random/insecure-seed"
	termStdinName = "wasi:cli/terminal-stdin"
)

// cfg is a readable config with a random source (the generated guests
// import wasi:random/random).
func cfg() wazero.ModuleConfig { return NewModuleConfig().WithName("").WithRandSource(rand.Reader) }

// stringTuples reads a list of tuples of strings (n strings each) at retArea.
func (x *tg) stringTuples(elem cabi.Type) [][]string {
	x.t.Helper()
	r := x.ret(8)
	ptr, n := cabi.GetU32(r, 0), cabi.GetU32(r, 4)
	var out [][]string
	for i := uint32(0); i < n; i++ {
		e := x.bytes(ptr+i*elem.Size(), elem.Size())
		var row []string
		for j := range elem.Elems {
			off := elem.FieldOffset(j)
			row = append(row, string(x.bytes(cabi.GetU32(e, off), cabi.GetU32(e, off+4))))
		}
		out = append(out, row)
	}
	return out
}

// environment.wit: get-environment and get-arguments return what the
// ModuleConfig set, the same each call; initial-cwd is none.
func TestCLIEnvironment(t *testing.T) {
	ctx, r := newRuntime(t)
	h := New(r)
	mc := cfg().WithArgs("prog", "a b", "ü").
		WithEnv("K", "V").WithEnv("EMPTY", "").WithEnv("K", "V2").WithEnv("Z", "=x=")
	x := newTGConfig(t, ctx, h, "0.2.0", mc)
	for range 2 {
		x.clearRet()
		x.call(envName, witnames.GetArguments, retArea)
		if got := x.stringTuples(cabi.Tuple(cabi.String)); len(got) != 3 || got[0][0] != "prog" || got[1][0] != "a b" || got[2][0] != "ü" {
			t.Fatalf("arguments %q", got)
		}
		x.clearRet()
		x.call(envName, witnames.GetEnvironment, retArea)
		got := x.stringTuples(cabi.EnvVar)
		want := [][]string{{"K", "V2"}, {"EMPTY", ""}, {"Z", "=x="}}
		if len(got) != len(want) {
			t.Fatalf("environment %q, want %q", got, want)
		}
		for i := range want {
			if got[i][0] != want[i][0] || got[i][1] != want[i][1] {
				t.Fatalf("environment %q, want %q", got, want)
			}
		}
	}
	x.put(retArea, bytes.Repeat([]byte{0xff}, 16))
	x.call(envName, witnames.InitialCwd, retArea)
	if x.ret(1)[0] != 0 {
		t.Fatal("initial-cwd is not none")
	}
	// Nothing configured: empty lists.
	y := newTGConfig(t, ctx, h, "0.2.0", cfg())
	y.put(retArea, bytes.Repeat([]byte{0xff}, 16))
	y.call(envName, witnames.GetEnvironment, retArea)
	if r := y.ret(8); cabi.GetU32(r, 4) != 0 {
		t.Fatalf("unconfigured environment has %d entries", cabi.GetU32(r, 4))
	}
}

// stdio.wit: the streams are the ModuleConfig's stdin, stdout and stderr;
// every handle reaches the same stream, in order; the terminals are none.
func TestCLIStdio(t *testing.T) {
	ctx, r := newRuntime(t)
	h := New(r)
	var out, errOut syncbuf.Buffer
	mc := cfg().WithStdin(strings.NewReader("line one\nline two\n")).
		WithStdout(&out).WithStderr(&errOut)
	x := newTGConfig(t, ctx, h, "0.2.7", mc)

	o1 := x.call1(stdoutName, "get-stdout")
	x.writeAll(o1, []byte("hello "))
	// Written with write + flush through a second handle, then dropped.
	o2 := x.call1(stdoutName, "get-stdout")
	x.clearRet()
	x.call(ioStreamsName, witnames.OutputStreamCheckWrite, uint64(o2), retArea)
	if r := x.ret(16); r[0] != 0 || cabi.GetU64(r, cabi.U64Area.OK) < 6 {
		t.Fatalf("check-write on stdout: %v", r)
	}
	x.put(argArea, []byte("world\n"))
	x.clearRet()
	x.call(ioStreamsName, witnames.OutputStreamWrite, uint64(o2), argArea, 6, retArea)
	x.clearRet()
	x.call(ioStreamsName, witnames.OutputStreamBlockingFlush, uint64(o2), retArea)
	if r := x.ret(12); r[0] != 0 {
		t.Fatalf("blocking-flush: %v", r)
	}
	x.drop(ioStreamsName, "output-stream", o2)
	x.writeAll(o1, []byte("again\n"))
	if got := out.String(); got != "hello world\nagain\n" {
		t.Fatalf("stdout %q", got)
	}
	e := x.call1(stderrName, "get-stderr")
	x.writeAll(e, []byte("oops\n"))
	if got := errOut.String(); got != "oops\n" {
		t.Fatalf("stderr %q", got)
	}
	if got := out.String(); got != "hello world\nagain\n" {
		t.Fatalf("stderr reached stdout: %q", got)
	}

	in := x.call1(stdinName, "get-stdin")
	var got []byte
	for {
		b, closed := x.readSome(in, 5)
		if closed {
			break
		}
		got = append(got, b...)
	}
	if string(got) != "line one\nline two\n" {
		t.Fatalf("stdin %q", got)
	}
	// A second handle is the same stream: at its end too.
	in2 := x.call1(stdinName, "get-stdin")
	if _, closed := x.readSome(in2, 5); !closed {
		t.Fatal("second stdin handle is not at the end")
	}
	for _, name := range []string{"wasi:cli/terminal-stdin", witnames.CLITerminalStdout, "wasi:cli/terminal-stderr"} {
		x.put(retArea, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
		x.call(name, "get-"+strings.TrimPrefix(name, "wasi:cli/"), retArea)
		if x.ret(1)[0] != 0 {
			t.Fatalf("%s is not none", name)
		}
	}
	x.wantTrap([]string{"unknown handle"}, witnames.CLITerminalOutput, witnames.DropTerminalOutput, 12345)

	// No stdio configured: stdin is at its end, output is discarded.
	y := newTGConfig(t, ctx, h, "0.2.7", cfg())
	if _, closed := y.readSome(y.call1(stdinName, "get-stdin"), 5); !closed {
		t.Fatal("unconfigured stdin is not at its end")
	}
	y.writeAll(y.call1(stdoutName, "get-stdout"), []byte("into the void"))
}

// writeUnflushed writes s with check-write and write, and no flush.
func (x *tg) writeUnflushed(out uint32, s string) {
	x.t.Helper()
	x.clearRet()
	x.call(ioStreamsName, witnames.OutputStreamCheckWrite, uint64(out), retArea)
	if r := x.ret(16); r[0] != 0 || cabi.GetU64(r, cabi.U64Area.OK) < uint64(len(s)) {
		x.t.Fatalf("check-write: %v", r)
	}
	x.put(argArea, []byte(s))
	x.clearRet()
	x.call(ioStreamsName, witnames.OutputStreamWrite, uint64(out), argArea, uint64(len(s)), retArea)
	if r := x.ret(12); r[0] != 0 {
		x.t.Fatalf("write: %v", r)
	}
}

// Bytes the guest wrote to stdout without flushing reach the writer when the
// guest closes.
func TestCLIStdoutWrittenAtClose(t *testing.T) {
	ctx, r := newRuntime(t)
	h := New(r)
	var out syncbuf.Buffer
	x := newTGConfig(t, ctx, h, "0.2.3", cfg().WithStdout(&out))
	x.writeUnflushed(x.call1(stdoutName, "get-stdout"), "unflushed")
	if err := x.g.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "unflushed" {
		t.Fatalf("stdout %q", got)
	}
}

// exit.wit: exit ends the guest with status 0 (ok) or 1 (err), like
// proc_exit; exit-with-code reports its code.
func TestCLIExit(t *testing.T) {
	ctx, r := newRuntime(t)
	h := New(r)
	for _, c := range []struct {
		fn   string
		arg  uint64
		code uint32
	}{{"exit", 0, 0}, {"exit", 1, 1}, {"exit-with-code", 7, 7}, {"exit-with-code", 0, 0}} {
		var out syncbuf.Buffer
		x := newTGConfig(t, ctx, h, "0.2.1", cfg().WithStdout(&out))
		x.writeUnflushed(x.call1(stdoutName, "get-stdout"), "bye")
		_, err := x.callErr(exitName, c.fn, c.arg)
		// Unwrapped, as proc_exit's: wazero's InstantiateModule looks for
		// exactly that to end a command's _start quietly.
		ee, ok := err.(*sys.ExitError)
		if !ok || ee.ExitCode() != c.code {
			t.Fatalf("%s(%d): %v, want exit code %d", c.fn, c.arg, err, c.code)
		}
		if !x.mod.IsClosed() {
			t.Fatalf("%s(%d): module still open", c.fn, c.arg)
		}
		if x.g.OpenHandles() != 0 {
			t.Fatalf("%s(%d): %d handles left", c.fn, c.arg, x.g.OpenHandles())
		}
		if got := out.String(); got != "bye" {
			t.Fatalf("%s(%d): stdout %q: written before exit, never flushed", c.fn, c.arg, got)
		}
	}
	x := newTG(t, ctx, h, "0.2.1")
	x.wantTrap([]string{"discriminant 2"}, exitName, "exit", 2)
}

// random.wit: the bytes come from the ModuleConfig's random source; the
// insecure interfaces use it too; insecure-seed is a tuple<u64, u64>.
func TestRandom(t *testing.T) {
	ctx, r := newRuntime(t)
	h := New(r)
	src := bytes.NewReader(append(bytes.Repeat([]byte{0xab}, 40), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32))
	x := newTGConfig(t, ctx, h, "0.2.5", NewModuleConfig().WithRandSource(src))
	x.clearRet()
	x.call(randomName, witnames.GetRandomBytes, 40, retArea)
	rr := x.ret(8)
	if got := x.bytes(cabi.GetU32(rr, 0), cabi.GetU32(rr, 4)); !bytes.Equal(got, bytes.Repeat([]byte{0xab}, 40)) {
		t.Fatalf("random bytes %x", got)
	}
	if v := x.call(randomName, witnames.GetRandomU64)[0]; v != 0x0807060504030201 {
		t.Fatalf("random u64 %#x", v)
	}
	if v := x.call(insecureName, witnames.GetInsecureRandomU64)[0]; v != 0x100f0e0d0c0b0a09 {
		t.Fatalf("insecure u64 %#x", v)
	}
	x.clearRet()
	x.call(seedName, witnames.InsecureSeed, retArea)
	sr := x.ret(cabi.U64Pair.Size())
	if lo, hi := cabi.GetU64(sr, cabi.U64Pair.FieldOffset(0)), cabi.GetU64(sr, cabi.U64Pair.FieldOffset(1)); lo != 0x1817161514131211 || hi != 0x201f1e1d1c1b1a19 {
		t.Fatalf("seed %#x %#x", lo, hi)
	}
	x.clearRet()
	x.call(randomName, witnames.GetRandomBytes, 0, retArea)
	if n := cabi.GetU32(x.ret(8), 4); n != 0 {
		t.Fatalf("0 bytes asked, %d given", n)
	}
	x.wantTrap([]string{"random bytes asked for"}, randomName, witnames.GetRandomBytes, 1<<40, retArea)
	// The source ran dry: a trap, not made-up bytes.
	x.wantTrap([]string{"random source failed"}, randomName, witnames.GetRandomU64)
}

// Deterministic environments must omit wasi:random/random: without a random
// source a guest importing it is refused before it runs; the insecure
// interfaces are deterministic then, as wasip1's random_get is in wazero.
func TestRandomNeedsSource(t *testing.T) {
	ctx, r := newRuntime(t)
	h := New(r)
	cm, err := r.CompileModule(ctx, wasmenc.Module(allImports("0.2.0")))
	if err != nil {
		t.Fatal(err)
	}
	defer cm.Close(ctx)
	_, err = h.Instantiate(ctx, cm, NewModuleConfig())
	if err == nil || !strings.Contains(err.Error(), "wasi:random/random@0.2.0") || !strings.Contains(err.Error(), "WithRandSource") {
		t.Fatalf("instantiated without a random source: %v", err)
	}
	insecure := func() uint64 {
		cm, err := r.CompileModule(ctx, wasmenc.Module([]wasmenc.Import{{Module: insecureName + "@0.2.0", Name: witnames.GetInsecureRandomU64, Results: p(i64)}}))
		if err != nil {
			t.Fatal(err)
		}
		defer cm.Close(ctx)
		g, err := h.Instantiate(ctx, cm, NewModuleConfig())
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close(ctx)
		res, err := g.Module().ExportedFunction(wasmenc.Export(insecureName+"@0.2.0", witnames.GetInsecureRandomU64)).Call(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return res[0]
	}
	if a, b := insecure(), insecure(); a != b {
		t.Fatalf("unconfigured insecure random differs between guests: %#x %#x", a, b)
	}
}

// A config the host cannot read (wazero's own) is refused for guests that
// need it, naming the import, before the guest runs.
func TestPlainConfigRefused(t *testing.T) {
	ctx, r := newRuntime(t)
	h := New(r)
	for _, m := range []string{stdoutName + "@0.2.2", envName + "@0.2.0", "wasi:filesystem/preopens@0.2.9", randomName + "@0.2.13"} {
		var im wasmenc.Import
		for _, f := range interfaces {
			if f.name == m[:strings.IndexByte(m, '@')] {
				im = wasmenc.Import{Module: m, Name: f.fns[0].name, Params: f.fns[0].params, Results: f.fns[0].results}
			}
		}
		cm, err := r.CompileModule(ctx, wasmenc.Module([]wasmenc.Import{im}))
		if err != nil {
			t.Fatal(err)
		}
		_, err = h.Instantiate(ctx, cm, wazero.NewModuleConfig().WithName(""))
		if err == nil || !strings.Contains(err.Error(), m) || !strings.Contains(err.Error(), "host.NewModuleConfig") {
			t.Errorf("%s with wazero's config: %v", m, err)
		}
		_ = cm.Close(ctx)
	}
	if h.Guests() != 0 {
		t.Fatalf("%d guests left", h.Guests())
	}
}

// wall-clock.wit: now and resolution follow the ModuleConfig's wall clock.
func TestWallClockFromConfig(t *testing.T) {
	ctx, r := newRuntime(t)
	h := New(r)
	wall := func() (int64, int32) { return 1700000000, 123456789 }
	x := newTGConfig(t, ctx, h, "0.2.4", cfg().WithWalltime(wall, 250))
	dt := cabi.Datetime
	x.clearRet()
	x.call(wallName, "now", retArea)
	b := x.ret(dt.Size())
	if s, ns := cabi.GetU64(b, dt.FieldOffset(0)), cabi.GetU32(b, dt.FieldOffset(1)); s != 1700000000 || ns != 123456789 {
		t.Fatalf("now = %d.%09d", s, ns)
	}
	x.clearRet()
	x.call(wallName, "resolution", retArea)
	b = x.ret(dt.Size())
	if s, ns := cabi.GetU64(b, dt.FieldOffset(0)), cabi.GetU32(b, dt.FieldOffset(1)); s != 0 || ns != 250 {
		t.Fatalf("resolution = %d.%09d", s, ns)
	}
	// WithSysWalltime: the real clock.
	y := newTGConfig(t, ctx, h, "0.2.4", cfg().WithSysWalltime())
	y.clearRet()
	y.call(wallName, "now", retArea)
	if s := cabi.GetU64(y.ret(dt.Size()), dt.FieldOffset(0)); time.Since(time.Unix(int64(s), 0)).Abs() > time.Minute {
		t.Fatalf("system wall clock at %d", s)
	}
	// Unset: wazero's fake clock, 2022-01-01.
	z := newTGConfig(t, ctx, h, "0.2.4", cfg())
	z.clearRet()
	z.call(wallName, "now", retArea)
	if s := cabi.GetU64(z.ret(dt.Size()), dt.FieldOffset(0)); s != 1640995200 {
		t.Fatalf("unset wall clock at %d", s)
	}
	// The monotonic clock follows WithNanotime.
	w := newTGConfig(t, ctx, h, "0.2.4", cfg().WithNanotime(func() int64 { return 42e9 }, 7))
	if v := w.call(monoName, "now")[0]; v != 42e9 {
		t.Fatalf("monotonic now %d", v)
	}
	if v := w.call(monoName, "resolution")[0]; v != 7 {
		t.Fatalf("monotonic resolution %d", v)
	}
}

// stdout is a stream in the same table as TLS streams: one poll waits on
// both and reports each when it is ready.
func TestPollStdoutWithTLS(t *testing.T) {
	pk := pki.New(t)
	srv := startEcho(t, &tls.Config{Certificates: []tls.Certificate{pk.Server().TLS}}, "tcp", "127.0.0.1:0")
	ctx, r := newRuntime(t)
	h := New(r)
	var out syncbuf.Buffer
	x := newTGConfig(t, ctx, h, "0.2.6", cfg().WithStdout(&out),
		WithPolicy(&Policy{Allow: []string{"127.0.0.1:*"}, RootCAs: pk.Roots}))
	sock, conn, tin, tout := x.openTLS(srv.addr)
	o := x.call1(stdoutName, "get-stdout")
	po := x.call1(ioStreamsName, witnames.OutputStreamSubscribe, uint64(o))
	pi := x.call1(ioStreamsName, witnames.InputStreamSubscribe, uint64(tin))
	poll := func() []uint32 {
		b := make([]byte, 8)
		cabi.PutU32(b, 0, pi)
		cabi.PutU32(b, 4, po)
		x.put(argArea, b)
		x.clearRet()
		x.call(ioPollName, "poll", argArea, 2, retArea)
		r := x.ret(8)
		var idx []uint32
		for i := uint32(0); i < cabi.GetU32(r, 4); i++ {
			idx = append(idx, x.u32(cabi.GetU32(r, 0)+4*i))
		}
		return idx
	}
	// Nothing to read yet; stdout can be written.
	if got := poll(); len(got) != 1 || got[0] != 1 {
		t.Fatalf("poll = %v, want [1] (stdout writable)", got)
	}
	x.writeAll(tout, []byte("ping\n"))
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := poll()
		if len(got) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("poll = %v, want both ready after the echo", got)
		}
		time.Sleep(time.Millisecond)
	}
	if got := x.readN(tin, 5); string(got) != "ping\n" {
		t.Fatalf("echo %q", got)
	}
	x.writeAll(o, []byte("ok\n"))
	if out.String() != "ok\n" {
		t.Fatalf("stdout %q", out.String())
	}
	_, _ = sock, conn // closed with the guest
}

// A guest that writes to stdout through wasip1's fd_write and through a WASI
// 0.2 stream (whose flush writes from a host goroutine) shares one writer
// that is not safe for concurrent use: the host serializes the two (run
// with -race).
func TestStdoutSharedWithWasip1(t *testing.T) {
	ctx, r := newRuntime(t)
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	h := New(r)
	var out bytes.Buffer // not safe for concurrent use
	const streams = ioStreamsName + "@0.2.6"
	var ims []wasmenc.Import
	for _, f := range interfaces {
		if f.name == ioStreamsName || f.name == stdoutName {
			for _, d := range f.fns {
				ims = append(ims, wasmenc.Import{Module: f.name + "@0.2.6", Name: d.name, Params: d.params, Results: d.results})
			}
		}
	}
	ims = append(ims, wasmenc.Import{Module: "wasi_snapshot_preview1", Name: "fd_write", Params: p(i32, i32, i32, i32), Results: p(i32)})
	cm, err := r.CompileModule(ctx, wasmenc.Module(ims))
	if err != nil {
		t.Fatal(err)
	}
	defer cm.Close(ctx)
	g, err := h.Instantiate(ctx, cm, NewModuleConfig().WithName("").WithStdout(&out))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close(ctx) })
	mod := g.Module()
	call := func(module, name string, args ...uint64) []uint64 {
		t.Helper()
		res, err := mod.ExportedFunction(wasmenc.Export(module, name)).Call(ctx, args...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return res
	}
	o := call(stdoutName+"@0.2.6", "get-stdout")[0]
	mem := mod.Memory()
	mem.Write(argArea, []byte("0.2|"))
	mem.Write(argArea+16, []byte("p1|"))
	// iovec {buf, len} for fd_write
	iov := make([]byte, 8)
	cabi.PutU32(iov, 0, argArea+16)
	cabi.PutU32(iov, 4, 3)
	mem.Write(argArea+32, iov)
	const n = 200
	for range n {
		call(streams, witnames.OutputStreamCheckWrite, o, retArea)
		if b, _ := mem.Read(retArea, 16); b[0] != 0 || cabi.GetU64(b, cabi.U64Area.OK) < 4 {
			// No room while a flush is under way: wait for it.
			call(streams, witnames.OutputStreamBlockingFlush, o, retArea)
			call(streams, witnames.OutputStreamCheckWrite, o, retArea)
		}
		call(streams, witnames.OutputStreamWrite, o, argArea, 4, retArea)
		call(streams, witnames.OutputStreamFlush, o, retArea)
		if errno := call("wasi_snapshot_preview1", "fd_write", 1, argArea+32, 1, argArea+48)[0]; errno != 0 {
			t.Fatalf("fd_write: errno %d", errno)
		}
	}
	call(streams, witnames.OutputStreamBlockingFlush, o, retArea)
	if err := g.Close(ctx); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if strings.Count(got, "0.2|") != n || strings.Count(got, "p1|") != n || len(got) != 7*n {
		t.Fatalf("stdout has %d bytes, %d and %d pieces", len(got), strings.Count(got, "0.2|"), strings.Count(got, "p1|"))
	}
}

// A stdin that never returns does not hold up closing the guest, even with a
// read waiting on it.
func TestCLIStdinThatNeverReturns(t *testing.T) {
	ctx, r := newRuntime(t)
	h := New(r)
	pr, pw := io.Pipe()
	defer pw.Close() // ends the read the host left behind
	x := newTGConfig(t, ctx, h, "0.2.0", cfg().WithStdin(pr))
	in := x.call1(stdinName, "get-stdin")
	x.clearRet()
	x.call(ioStreamsName, witnames.InputStreamRead, uint64(in), 10, retArea)
	if r := x.ret(12); r[0] != 0 || cabi.GetU32(r, 8) != 0 {
		t.Fatalf("read of an empty stdin: %v", r)
	}
	done := make(chan error, 1)
	go func() { done <- x.g.Close(ctx) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close waits for a stdin read that never returns")
	}
}
