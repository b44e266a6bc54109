package host

import (
	"io"
	"io/fs"
	"os"
	"reflect"
	"strings"
	"sync"

	"github.com/tetratelabs/wazero"
	expsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/experimental/sysfs"
	"github.com/tetratelabs/wazero/sys"
)

// wazero's ModuleConfig and FSConfig are opaque: their settings reach only
// wazero's own wasi_snapshot_preview1 (through an internal context), and
// wazero accepts no ModuleConfig it did not make. So the host wraps the
// builders: NewModuleConfig and NewFSConfig return configs that forward
// every setting to wazero's own (which the wasip1 functions read) and keep a
// copy for the WASI 0.2 interfaces. Instantiate hands wazero the inner
// config. One configuration, read by both.

// NewModuleConfig returns a wazero.ModuleConfig whose settings the host can
// read: pass it (and any config derived from it with its With methods) to
// [Host.Instantiate]. The guest's WASI 0.2 imports then see what its wasip1
// imports see: args and environment (wasi:cli/environment), stdin, stdout
// and stderr (wasi:cli/stdin, stdout, stderr), the random source
// (wasi:random), the wall clock and the monotonic clock (wasi:clocks), and
// the mounts of a config from [NewFSConfig] (wasi:filesystem). Unset
// settings mean what they mean to wazero: no args or environment, empty
// stdin, stdout and stderr discarded, a deterministic random source and a
// fake wall clock; an unset monotonic clock is the host's real one (its
// pollables are real timers).
//
// A config from wazero.NewModuleConfig still works for guests that import
// none of wasi:cli, wasi:filesystem and wasi:random; for one that does,
// Instantiate fails before the guest runs, naming the import.
func NewModuleConfig() wazero.ModuleConfig {
	return &moduleConfig{inner: wazero.NewModuleConfig()}
}

// NewFSConfig returns a wazero.FSConfig whose mounts the host can read; give
// it to WithFSConfig of a config from [NewModuleConfig]. Mounts made with
// WithReadOnlyDirMount or WithFSMount, or a sysfs.ReadFS given to
// WithSysFSMount, are read-only to WASI 0.2 as to wasip1.
func NewFSConfig() wazero.FSConfig { return &fsConfig{inner: wazero.NewFSConfig()} }

// cliConfig is what the WASI 0.2 command interfaces read.
type cliConfig struct {
	args     []string
	env      [][2]string
	stdin    io.Reader
	stdout   io.Writer
	stderr   io.Writer
	rand     io.Reader
	walltime sys.Walltime
	wallRes  sys.ClockResolution
	nanotime sys.Nanotime
	nanoRes  sys.ClockResolution
	mounts   []*mount
	// unknownFS: WithFSConfig was given a config not made by NewFSConfig.
	unknownFS bool
}

// moduleConfig is the readable wazero.ModuleConfig. Like wazero's, it is
// immutable: every With returns a copy.
type moduleConfig struct {
	inner wazero.ModuleConfig
	cli   cliConfig
	// starts are the start functions; nil: wazero's default, _start.
	starts []string
}

func (c *moduleConfig) with(inner wazero.ModuleConfig, set func(*cliConfig)) wazero.ModuleConfig {
	n := &moduleConfig{inner: inner, cli: c.cli, starts: c.starts}
	n.cli.args = append([]string(nil), c.cli.args...)
	n.cli.env = append([][2]string(nil), c.cli.env...)
	n.cli.mounts = append([]*mount(nil), c.cli.mounts...)
	if set != nil {
		set(&n.cli)
	}
	return n
}

func (c *moduleConfig) WithArgs(args ...string) wazero.ModuleConfig {
	return c.with(c.inner.WithArgs(args...), func(s *cliConfig) { s.args = append([]string(nil), args...) })
}

// WithEnv replaces an earlier value of key in place, as wazero does.
func (c *moduleConfig) WithEnv(key, value string) wazero.ModuleConfig {
	return c.with(c.inner.WithEnv(key, value), func(s *cliConfig) {
		for i := range s.env {
			if s.env[i][0] == key {
				s.env[i][1] = value
				return
			}
		}
		s.env = append(s.env, [2]string{key, value})
	})
}

func (c *moduleConfig) WithFS(fsys fs.FS) wazero.ModuleConfig {
	var fc wazero.FSConfig
	if fsys != nil {
		fc = NewFSConfig().WithFSMount(fsys, "")
	}
	return c.WithFSConfig(fc)
}

func (c *moduleConfig) WithFSConfig(fc wazero.FSConfig) wazero.ModuleConfig {
	mine, ok := fc.(*fsConfig)
	if !ok {
		return c.with(c.inner.WithFSConfig(fc), func(s *cliConfig) { s.mounts, s.unknownFS = nil, fc != nil })
	}
	return c.with(c.inner.WithFSConfig(mine.inner), func(s *cliConfig) {
		s.mounts, s.unknownFS = append([]*mount(nil), mine.mounts...), false
	})
}

func (c *moduleConfig) WithName(name string) wazero.ModuleConfig {
	return c.with(c.inner.WithName(name), nil)
}

func (c *moduleConfig) WithStartFunctions(fns ...string) wazero.ModuleConfig {
	n := c.with(c.inner.WithStartFunctions(fns...), nil).(*moduleConfig)
	n.starts = append([]string{}, fns...)
	return n
}

// startFunctions returns the start functions of a config from
// NewModuleConfig, or nil for another config (whose list the host cannot
// read).
func startFunctions(mc wazero.ModuleConfig) []string {
	c, ok := mc.(*moduleConfig)
	if !ok {
		return nil
	}
	if c.starts == nil {
		return []string{"_start"} // wazero's default
	}
	return c.starts
}

func (c *moduleConfig) WithStderr(w io.Writer) wazero.ModuleConfig {
	w = c.locked(w, c.cli.stdout)
	return c.with(c.inner.WithStderr(w), func(s *cliConfig) { s.stderr = w })
}

func (c *moduleConfig) WithStdin(r io.Reader) wazero.ModuleConfig {
	return c.with(c.inner.WithStdin(r), func(s *cliConfig) { s.stdin = r })
}

func (c *moduleConfig) WithStdout(w io.Writer) wazero.ModuleConfig {
	w = c.locked(w, c.cli.stderr)
	return c.with(c.inner.WithStdout(w), func(s *cliConfig) { s.stdout = w })
}

// locked returns w behind a mutex that wasip1 (which writes from the guest's
// call) and WASI 0.2 (whose streams may write from a host goroutine) both
// take, so a writer that is not safe for concurrent use (a bytes.Buffer) is
// written by one at a time. other is the other output: the same writer
// shares its lock. An *os.File is safe already, and wazero treats it
// specially (a terminal, a pipe): it is left as it is.
func (c *moduleConfig) locked(w io.Writer, other io.Writer) io.Writer {
	if w == nil {
		return nil
	}
	if _, ok := w.(*os.File); ok {
		return w
	}
	if lw, ok := w.(*stdioWriter); ok {
		return lw
	}
	if o, ok := other.(*stdioWriter); ok && reflect.TypeOf(w).Comparable() && reflect.TypeOf(o.w) == reflect.TypeOf(w) && o.w == w {
		return o
	}
	return &stdioWriter{w: w}
}

// stdioWriter serializes writes to w.
type stdioWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *stdioWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (c *moduleConfig) WithWalltime(fn sys.Walltime, res sys.ClockResolution) wazero.ModuleConfig {
	return c.with(c.inner.WithWalltime(fn, res), func(s *cliConfig) { s.walltime, s.wallRes = fn, res })
}

func (c *moduleConfig) WithSysWalltime() wazero.ModuleConfig {
	return c.with(c.inner.WithSysWalltime(), func(s *cliConfig) { s.walltime, s.wallRes = sysWalltime, sys.ClockResolution(1000) })
}

func (c *moduleConfig) WithNanotime(fn sys.Nanotime, res sys.ClockResolution) wazero.ModuleConfig {
	return c.with(c.inner.WithNanotime(fn, res), func(s *cliConfig) { s.nanotime, s.nanoRes = fn, res })
}

func (c *moduleConfig) WithSysNanotime() wazero.ModuleConfig {
	return c.with(c.inner.WithSysNanotime(), func(s *cliConfig) { s.nanotime, s.nanoRes = nil, 0 })
}

func (c *moduleConfig) WithNanosleep(fn sys.Nanosleep) wazero.ModuleConfig {
	return c.with(c.inner.WithNanosleep(fn), nil)
}

func (c *moduleConfig) WithOsyield(fn sys.Osyield) wazero.ModuleConfig {
	return c.with(c.inner.WithOsyield(fn), nil)
}

func (c *moduleConfig) WithSysNanosleep() wazero.ModuleConfig {
	return c.with(c.inner.WithSysNanosleep(), nil)
}

func (c *moduleConfig) WithRandSource(r io.Reader) wazero.ModuleConfig {
	return c.with(c.inner.WithRandSource(r), func(s *cliConfig) { s.rand = r })
}

// unwrapConfig returns the config to give wazero and, when mc came from
// NewModuleConfig, what the WASI 0.2 interfaces read (else nil).
func unwrapConfig(mc wazero.ModuleConfig) (wazero.ModuleConfig, *cliConfig) {
	if c, ok := mc.(*moduleConfig); ok {
		cli := c.cli
		return c.inner, &cli
	}
	return mc, nil
}

// mount is one preopened directory.
type mount struct {
	fs        expsys.FS
	guestPath string
	readOnly  bool
}

// fsConfig is the readable wazero.FSConfig; immutable like wazero's.
type fsConfig struct {
	inner  wazero.FSConfig
	mounts []*mount
}

var _ sysfs.FSConfig = (*fsConfig)(nil)

func (c *fsConfig) WithDirMount(dir, guestPath string) wazero.FSConfig {
	return c.WithSysFSMount(sysfs.DirFS(dir), guestPath)
}

func (c *fsConfig) WithReadOnlyDirMount(dir, guestPath string) wazero.FSConfig {
	return c.WithSysFSMount(&sysfs.ReadFS{FS: sysfs.DirFS(dir)}, guestPath)
}

func (c *fsConfig) WithFSMount(fsys fs.FS, guestPath string) wazero.FSConfig {
	var adapted expsys.FS
	if fsys != nil {
		adapted = &sysfs.AdaptFS{FS: fsys}
	}
	return c.WithSysFSMount(adapted, guestPath)
}

// WithSysFSMount implements sysfs.FSConfig. As in wazero, a later mount at
// the same guest path replaces the earlier one.
func (c *fsConfig) WithSysFSMount(fsys expsys.FS, guestPath string) wazero.FSConfig {
	inner := c.inner.(sysfs.FSConfig).WithSysFSMount(fsys, guestPath)
	if _, ok := fsys.(expsys.UnimplementedFS); ok || fsys == nil {
		return &fsConfig{inner: inner, mounts: c.mounts}
	}
	m := &mount{fs: fsys, guestPath: guestPath, readOnly: readOnlyFS(fsys)}
	out := &fsConfig{inner: inner}
	replaced := false
	for _, old := range c.mounts {
		if cleanGuestPath(old.guestPath) == cleanGuestPath(guestPath) {
			out.mounts = append(out.mounts, m)
			replaced = true
			continue
		}
		out.mounts = append(out.mounts, old)
	}
	if !replaced {
		out.mounts = append(out.mounts, m)
	}
	return out
}

// readOnlyFS reports whether wazero treats fsys as read-only: a ReadFS, or an
// adapted fs.FS (which has no way to write).
func readOnlyFS(fsys expsys.FS) bool {
	switch fsys.(type) {
	case *sysfs.ReadFS, *sysfs.AdaptFS:
		return true
	}
	return false
}

// cleanGuestPath is the key wazero compares mounts by: leading "/" and "./"
// and trailing "/" removed.
func cleanGuestPath(p string) string {
	p = strings.TrimRight(p, "/")
	for {
		switch {
		case strings.HasPrefix(p, "/"):
			p = p[1:]
		case strings.HasPrefix(p, "./"):
			p = p[2:]
		case p == ".":
			p = ""
		default:
			return p
		}
	}
}
