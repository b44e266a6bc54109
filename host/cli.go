package host

import (
	"context"
	"io"
	"sync"

	wapi "github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasitls/wasitls/internal/cabi"
	"github.com/wasitls/wasitls/internal/witnames"
)

// cliState is a guest's view of the command world: its configuration (nil
// when the ModuleConfig was not from NewModuleConfig) and its stdio streams,
// made on first use and shared by every handle to them, so that bytes
// written through two stdout handles keep their order.
type cliState struct {
	cfg *cliConfig

	once           sync.Once
	stdin          *pump
	stdout, stderr *sink

	randOnce sync.Once
	insecure io.Reader // wazero's default when no source is configured
	wallOnce sync.Once
	wall     func() (int64, int32)
}

// streams makes the stdio streams of g.
func (s *cliState) streams(g *Guest) {
	s.once.Do(func() {
		var in io.Reader = eofReader{}
		out, errw := io.Writer(io.Discard), io.Writer(io.Discard)
		if s.cfg.stdin != nil {
			in = &detachedReader{ctx: g.ctx, r: s.cfg.stdin}
		}
		if s.cfg.stdout != nil {
			out = s.cfg.stdout
		}
		if s.cfg.stderr != nil {
			errw = s.cfg.stderr
		}
		s.stdin = newPump(g, in)
		s.stdout = newSink(g, out, nil, nil)
		s.stderr = newSink(g, errw, nil, nil)
	})
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// detachedReader reads r on a goroutine of its own that the guest does not
// wait for: a stdin that never returns (a terminal, a pipe nobody closes)
// must not hold up closing the guest, and an io.Reader cannot be
// interrupted. Such a goroutine ends when its Read returns.
type detachedReader struct {
	ctx  context.Context
	r    io.Reader
	mu   sync.Mutex
	res  chan readResult // the read in flight, if any
	left []byte          // bytes read but not yet handed out
}

type readResult struct {
	b   []byte
	err error
}

func (d *detachedReader) Read(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.left) > 0 {
		n := copy(p, d.left)
		d.left = d.left[n:]
		return n, nil
	}
	if d.res == nil {
		ch := make(chan readResult, 1)
		d.res = ch
		size := len(p)
		go func() {
			buf := make([]byte, size) // never p: the pump may reuse it
			n, err := d.r.Read(buf)
			ch <- readResult{buf[:n], err}
		}()
	}
	select {
	case r := <-d.res:
		d.res = nil
		n := copy(p, r.b)
		d.left = r.b[n:]
		return n, r.err
	case <-d.ctx.Done():
		return 0, io.ErrClosedPipe
	}
}

// needCLI traps when the guest's config is unreadable. Instantiate refuses
// such guests before they run, so only a Prepare'd guest gets here.
func (c *call) needCLI() *cliConfig {
	if c.g.cli.cfg == nil {
		c.trap("the guest's ModuleConfig was not made by host.NewModuleConfig, so the host cannot read it")
	}
	return c.g.cli.cfg
}

var cliEnvironment = register(&iface{name: witnames.CLIEnvironment, fns: []fnDef{
	def(witnames.GetEnvironment, cliGetEnvironment, p(i32)),
	def(witnames.GetArguments, cliGetArguments, p(i32)),
	def(witnames.InitialCwd, cliInitialCwd, p(i32)),
}})

// cliGetEnvironment: (retptr) -> +0 ptr, +4 len of list<tuple<string, string>>.
func cliGetEnvironment(c *call, stack []uint64) {
	cfg := c.needCLI()
	ret := wapi.DecodeU32(stack[0])
	c.Area(ret, cabi.String.Size(), cabi.String.Align())
	strs := make([]string, 0, 2*len(cfg.env))
	for _, kv := range cfg.env {
		strs = append(strs, kv[0], kv[1])
	}
	putList(c, ret, cabi.EnvVar, c.putStrings(strs))
}

// cliGetArguments: (retptr) -> +0 ptr, +4 len of list<string>.
func cliGetArguments(c *call, stack []uint64) {
	cfg := c.needCLI()
	ret := wapi.DecodeU32(stack[0])
	c.Area(ret, cabi.String.Size(), cabi.String.Align())
	putList(c, ret, cabi.Tuple(cabi.String), c.putStrings(cfg.args))
}

// cliInitialCwd: (retptr) -> option<string>: none. wazero has no working
// directory either; paths are relative to the preopens.
func cliInitialCwd(c *call, stack []uint64) {
	c.needCLI()
	a := cabi.OptionStringArea
	c.Area(wapi.DecodeU32(stack[0]), a.Size, a.Align)[a.Tag] = 0
}

// putStrings copies strs into guest memory and returns their (ptr, len)
// pairs, in order.
func (c *call) putStrings(strs []string) []uint32 {
	out := make([]uint32, 0, 2*len(strs))
	for _, s := range strs {
		p, n := c.PutString(s)
		out = append(out, p, n)
	}
	return out
}

// putList allocates a list<elem>, elem a tuple of handles and strings,
// fills it from words (each handle one word, each string its ptr and len,
// in field order) and writes the list's (ptr, len) at ret.
func putList(c *call, ret uint32, elem cabi.Type, words []uint32) {
	per := elem.FlatCount()
	n := uint32(len(words) / per)
	size := elem.Size()
	ptr := c.Alloc(elem.Align(), n*size)
	if n > 0 {
		b := c.Bytes(ptr, n*size)
		w := words
		for i := uint32(0); i < n; i++ {
			e := b[i*size:]
			for j, f := range elem.Elems {
				off := elem.FieldOffset(j)
				for k := 0; k < f.FlatCount(); k++ {
					cabi.PutU32(e, off+cabi.U32.Size()*uint32(k), w[0])
					w = w[1:]
				}
			}
		}
	}
	putListArea(c, ret, ptr, n)
}

var cliExit = register(&iface{name: witnames.CLIExit, fns: []fnDef{
	def(witnames.Exit, func(c *call, stack []uint64) {
		switch tag := wapi.DecodeU32(stack[0]); tag {
		case 0, 1:
			c.exit(tag) // ok: 0, err: 1, as wasip1's proc_exit(1)
		default:
			c.trap("result discriminant %d is not 0 (ok) or 1 (err)", tag)
		}
	}, p(i32)),
	def(witnames.ExitWithCode, func(c *call, stack []uint64) { c.exit(wapi.DecodeU32(stack[0]) & 0xff) }, p(i32)),
}})

// exit ends the guest as wasip1's proc_exit does: the module closes (which
// releases everything it owned, stdio sinks writing out what they hold) and
// the call fails with a *sys.ExitError.
func (c *call) exit(code uint32) {
	_ = c.Mod.CloseWithExitCode(context.WithoutCancel(c.Ctx), code)
	c.g.release()
	panic(sys.NewExitError(code))
}

var (
	cliStdin = register(&iface{name: witnames.CLIStdin, fns: []fnDef{
		def(witnames.GetStdin, func(c *call, stack []uint64) {
			stack[0] = uint64(c.push(rInput, &inStream{p: c.stdio().stdin, keep: true}, 0))
		}, nil, i32),
	}})
	cliStdout = register(&iface{name: witnames.CLIStdout, fns: []fnDef{
		def(witnames.GetStdout, func(c *call, stack []uint64) {
			stack[0] = uint64(c.push(rOutput, &outStream{s: c.stdio().stdout, keep: true}, 0))
		}, nil, i32),
	}})
	cliStderr = register(&iface{name: witnames.CLIStderr, fns: []fnDef{
		def(witnames.GetStderr, func(c *call, stack []uint64) {
			stack[0] = uint64(c.push(rOutput, &outStream{s: c.stdio().stderr, keep: true}, 0))
		}, nil, i32),
	}})
)

// stdio returns the guest's stdio streams, made on first use.
func (c *call) stdio() *cliState {
	c.needCLI()
	c.g.cli.streams(c.g)
	return &c.g.cli
}

// The guest's stdio is never a terminal: the terminal-* getters return
// none, so no terminal-input or terminal-output handle can exist.
var (
	cliTerminalInput = register(&iface{name: witnames.CLITerminalInput, fns: []fnDef{
		def(witnames.DropTerminalInput, dropOf(rTerminalInput), p(i32)),
	}})
	cliTerminalOutput = register(&iface{name: witnames.CLITerminalOutput, fns: []fnDef{
		def(witnames.DropTerminalOutput, dropOf(rTerminalOutput), p(i32)),
	}})
	cliTerminalStdin  = register(&iface{name: witnames.CLITerminalStdin, fns: []fnDef{def(witnames.GetTerminalStdin, noTerminal, p(i32))}})
	cliTerminalStdout = register(&iface{name: witnames.CLITerminalStdout, fns: []fnDef{def(witnames.GetTerminalStdout, noTerminal, p(i32))}})
	cliTerminalStderr = register(&iface{name: witnames.CLITerminalStderr, fns: []fnDef{def(witnames.GetTerminalStderr, noTerminal, p(i32))}})
)

// noTerminal: (retptr) -> option<terminal-*>: none.
func noTerminal(c *call, stack []uint64) {
	a := cabi.OptionHandleArea
	c.Area(wapi.DecodeU32(stack[0]), a.Size, a.Align)[a.Tag] = 0
}
