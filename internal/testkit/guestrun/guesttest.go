// Package guestrun is the shared harness for tests that run Go test guests
// (GOOS=wasip1 programs built by internal/testkit/guestbuild) through a wasitls
// host: a runtime with the shared compilation cache and
// wasi_snapshot_preview1, a host.Host, each guest package compiled once,
// guest commands run to completion with their stdout, stderr, exit code and
// the host's connection events captured, and a TestMain that fails the
// package if goroutines or file descriptors leak.
//
//	var env *guestrun.Env
//
//	func TestMain(m *testing.M) {
//		env = guestrun.MustNew(host.WithProvider(stdtls.Provider{}))
//		guestrun.Main(m, guestrun.Build(httpsget), guestrun.Cleanup(env.Close))
//	}
//
//	func TestGet(t *testing.T) {
//		r := env.Run(t, httpsget, []string{"localhost", port, "/", "localhost"},
//			guestrun.Policy(guestrun.Loopback(host.Policy{RootCAs: p.Roots})))
//		if r.Exit != 0 {
//			t.Fatalf("exit %d, stderr:\n%s", r.Exit, r.Stderr)
//		}
//	}
package guestrun

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/component"
	"github.com/wasitls/wasitls/host"
	"github.com/wasitls/wasitls/internal/testkit/guestbuild"
	"github.com/wasitls/wasitls/internal/testkit/loopback"
	"github.com/wasitls/wasitls/internal/testkit/syncbuf"
)

// DefaultTimeout bounds one guest run unless Timeout says otherwise.
const DefaultTimeout = 60 * time.Second

// Env is a runtime with wasi_snapshot_preview1 and one host for many guests:
// the host isolates guests from each other (each has its own handle table,
// provider and policy), so one Env serves a whole test package. It is safe
// for concurrent use.
type Env struct {
	Runtime wazero.Runtime
	Host    *host.Host

	mu         sync.Mutex
	compiled   map[string]wazero.CompiledModule
	components map[string]*host.Component // guests built as components
}

// New makes an Env; opts are the host's defaults for every guest.
func New(ctx context.Context, opts ...host.Option) (*Env, error) {
	r := wazero.NewRuntimeWithConfig(ctx, guestbuild.RuntimeConfig())
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, r); err != nil {
		r.Close(ctx)
		return nil, fmt.Errorf("guesttest: wasi_snapshot_preview1: %w", err)
	}
	return &Env{Runtime: r, Host: host.New(r, opts...), compiled: map[string]wazero.CompiledModule{},
		components: map[string]*host.Component{}}, nil
}

// MustNew is New for TestMain; it panics on error.
func MustNew(opts ...host.Option) *Env {
	e, err := New(context.Background(), opts...)
	if err != nil {
		panic(err)
	}
	return e
}

// NewT is New for one test: the Env is closed when t ends.
func NewT(t testing.TB, opts ...host.Option) *Env {
	t.Helper()
	e, err := New(context.Background(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

// Close closes every guest and the runtime.
func (e *Env) Close() {
	ctx := context.Background()
	e.Host.Close(ctx)
	e.Runtime.Close(ctx)
}

// CompileErr builds the guest pkg (relative to the repository root, e.g.
// "./internal/guests/httpsget"; a Go package, or a Rust or C guest
// directory, see guestbuild; guestbuild.Component(pkg) for its component
// form, which runs with Host.InstantiateComponent) and compiles it, once
// per Env.
func (e *Env) CompileErr(ctx context.Context, pkg string) (wazero.CompiledModule, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if cm, ok := e.compiled[pkg]; ok {
		return cm, nil
	}
	wasm, err := guestbuild.BuildErr(pkg)
	if err != nil {
		return nil, err
	}
	if component.IsComponent(wasm) {
		c, err := e.Host.CompileComponent(ctx, wasm)
		if err != nil {
			return nil, fmt.Errorf("guesttest: %s: %w", pkg, err)
		}
		e.components[pkg] = c
		e.compiled[pkg] = c.Module()
		return c.Module(), nil
	}
	cm, err := e.Runtime.CompileModule(ctx, wasm)
	if err != nil {
		return nil, fmt.Errorf("guesttest: compile %s: %w", pkg, err)
	}
	e.compiled[pkg] = cm
	return cm, nil
}

// Compile is CompileErr failing tb on error (skipping it when a Rust or C
// compiler is missing outside CI). Call it on the test's goroutine before
// starting guests from other goroutines.
func (e *Env) Compile(tb testing.TB, pkg string) wazero.CompiledModule {
	tb.Helper()
	cm, err := e.CompileErr(context.Background(), pkg)
	if err != nil {
		guestbuild.SkipIfNoCompiler(tb, err)
		tb.Fatal(err)
	}
	return cm
}

// Instantiate runs the guest pkg, compiled by CompileErr first, as
// Host.Instantiate does, or Host.InstantiateComponent for a component.
func (e *Env) Instantiate(ctx context.Context, pkg string, mc wazero.ModuleConfig, opts ...host.Option) (*host.Guest, error) {
	cm, err := e.CompileErr(ctx, pkg)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	comp := e.components[pkg]
	e.mu.Unlock()
	if comp != nil {
		return e.Host.InstantiateComponent(ctx, comp, mc, opts...)
	}
	return e.Host.Instantiate(ctx, cm, mc, opts...)
}

// ModuleConfig is the configuration every test guest gets: argv[0] name
// then args, the given stdout and stderr, real clocks and sleep, and
// crypto/rand as its randomness.
func ModuleConfig(name string, stdout, stderr io.Writer, args ...string) wazero.ModuleConfig {
	return host.NewModuleConfig().
		WithArgs(append([]string{name}, args...)...).
		WithStdout(stdout).WithStderr(stderr).
		WithSysNanosleep().WithSysNanotime().WithSysWalltime().WithRandSource(rand.Reader)
}

// Loopback returns a copy of p that also allows every port on localhost,
// 127.0.0.1 and ::1 and name lookups: the reach every test guest needs.
func Loopback(p host.Policy) *host.Policy {
	p.Allow = append(p.Allow[:len(p.Allow):len(p.Allow)], "localhost:*", "127.0.0.1:*", "[::1]:*")
	p.NameLookup = true
	return &p
}

// Result is what one guest run produced.
type Result struct {
	Stdout, Stderr string
	Exit           uint32           // the guest's exit code; 255 if it did not exit (Err)
	Err            error            // why the guest did not run to an exit (trap, timeout), or nil
	Events         []host.ConnEvent // the host's events for this guest, in order
	Elapsed        time.Duration    // instantiation to exit
}

// RunOption configures one run.
type RunOption func(*runConfig)

type runConfig struct {
	ctx      context.Context
	timeout  time.Duration
	name     string
	argv0    string
	hostOpts []host.Option
	observe  func(host.ConnEvent)
	stdin    io.Reader
	stdout   io.Writer
}

// Policy sets the guest's policy (host.WithPolicy).
func Policy(p *host.Policy) RunOption { return HostOptions(host.WithPolicy(p)) }

// Provider sets the guest's TLS backend (host.WithProvider).
func Provider(p api.Provider) RunOption { return HostOptions(host.WithProvider(p)) }

// HostOptions adds host options for this guest. Use Observe rather than
// host.WithObserver, which would replace the harness's own observer.
func HostOptions(opts ...host.Option) RunOption {
	return func(c *runConfig) { c.hostOpts = append(c.hostOpts, opts...) }
}

// Observe also passes the host's events to fn, as they happen.
func Observe(fn func(host.ConnEvent)) RunOption { return func(c *runConfig) { c.observe = fn } }

// Name sets the module name (default: anonymous), e.g. to find the running
// module with Runtime.Module.
func Name(name string) RunOption { return func(c *runConfig) { c.name = name } }

// Argv0 sets the guest's argv[0] (default: the base name of the package).
func Argv0(name string) RunOption { return func(c *runConfig) { c.argv0 = name } }

// Stdin gives the guest a standard input.
func Stdin(r io.Reader) RunOption { return func(c *runConfig) { c.stdin = r } }

// Stdout also copies the guest's stdout to w as it is written.
func Stdout(w io.Writer) RunOption { return func(c *runConfig) { c.stdout = w } }

// Timeout bounds the run (default DefaultTimeout).
func Timeout(d time.Duration) RunOption { return func(c *runConfig) { c.timeout = d } }

// Context runs the guest under ctx (default: context.Background()); the
// timeout still applies.
func Context(ctx context.Context) RunOption { return func(c *runConfig) { c.ctx = ctx } }

// Exec runs the guest command pkg with args to completion. A guest that
// exits (with any code) is a Result with Err nil; err is only for a guest
// that could not be built or compiled.
func (e *Env) Exec(pkg string, args []string, opts ...RunOption) (Result, error) {
	c := runConfig{ctx: context.Background(), timeout: DefaultTimeout, argv0: filepath.Base(pkg)}
	for _, o := range opts {
		o(&c)
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.timeout)
	defer cancel()
	if _, err := e.CompileErr(ctx, pkg); err != nil {
		return Result{}, err
	}
	var (
		mu     sync.Mutex
		events []host.ConnEvent
		out    Buffer
		errb   Buffer
	)
	var stdout io.Writer = &out
	if c.stdout != nil {
		stdout = io.MultiWriter(&out, c.stdout)
	}
	mc := ModuleConfig(c.argv0, stdout, &errb, args...).WithName(c.name)
	if c.stdin != nil {
		mc = mc.WithStdin(c.stdin)
	}
	hostOpts := append(c.hostOpts[:len(c.hostOpts):len(c.hostOpts)], host.WithObserver(func(ev host.ConnEvent) {
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
		if c.observe != nil {
			c.observe(ev)
		}
	}))
	start := time.Now()
	g, err := e.Instantiate(ctx, pkg, mc, hostOpts...)
	r := Result{Elapsed: time.Since(start)}
	if g != nil {
		g.Close(context.Background())
	}
	r.Stdout, r.Stderr = out.String(), errb.String()
	mu.Lock()
	r.Events = events
	mu.Unlock()
	var ee *sys.ExitError
	switch {
	case errors.As(err, &ee) && ee.ExitCode() != sys.ExitCodeDeadlineExceeded && ee.ExitCode() != sys.ExitCodeContextCanceled:
		r.Exit = ee.ExitCode()
	case err != nil: // a trap, or the context ended (wazero reports that as an exit)
		r.Exit, r.Err = 255, err
	}
	return r, nil
}

// Run is Exec for tests: a guest that cannot be built, or that does not run
// to an exit (trap, timeout), fails tb (with Errorf, so Run may be called
// from any goroutine) and reports exit code 255.
func (e *Env) Run(tb testing.TB, pkg string, args []string, opts ...RunOption) Result {
	tb.Helper()
	r, err := e.Exec(pkg, args, opts...)
	switch {
	case err != nil:
		tb.Errorf("%s %q: %v", pkg, args, err)
		r.Exit = 255
	case r.Err != nil:
		tb.Errorf("%s %q did not exit: %v\nstdout: %s\nstderr: %s", pkg, args, r.Err, r.Stdout, r.Stderr)
	}
	return r
}

// Buffer is a bytes.Buffer safe for a guest writing while a test reads.
type Buffer = syncbuf.Buffer

// Serve accepts TCP connections on 127.0.0.1 until tb ends and runs handle
// on each in its own goroutine, closing the connection after it; it returns
// the port. The cleanup closes the listener and waits for the handlers.
func Serve(tb testing.TB, handle func(net.Conn)) (port string) {
	tb.Helper()
	return loopback.Serve(tb, handle).Port()
}
