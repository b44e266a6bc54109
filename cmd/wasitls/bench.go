package main

import (
	"cmp"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasitls/wasitls/component"
	"github.com/wasitls/wasitls/host"
)

// `wasitls bench` measures a wasm guest doing TLS through wasitls next to a
// native crypto/tls client, in one process, against the same loopback
// server. The server runs in a child process (this executable again, see
// benchServerEnv) so that the client side's memory is measured alone and
// the server's CPU does not count against either client.

type benchOptions struct {
	json       bool
	benchfmt   bool
	quick      bool
	backends   []string
	size       int64
	reps       int
	conns      int
	guests     int
	handshakes int
	guestFile  string
	only       map[string]bool // sections to run; nil: all
	cpuProfile string
	memProfile string
	quiet      bool
	cache      cacheOptions
	requests   int    // per-request section: guests, one request each
	atOnce     int    // per-request section: guests at once
	html       string // -html: the report as a page too
	// startupSkip, if set, is why the start-up section is not measured.
	startupSkip string
	comp        componentOptions
}

// benchSections are the parts of a run, for -only.
var benchSections = []string{"throughput", "sequential", "concurrent", "idle", "perrequest", "startup", "component", "serve"}

func (o *benchOptions) runs(section string) bool { return o.only == nil || o.only[section] }

// needsBenchGuest: a section other than serve (which runs its own guest)
// runs the bench guest.
func (o *benchOptions) needsBenchGuest() bool {
	return slices.ContainsFunc(benchSections, func(s string) bool { return s != "serve" && o.runs(s) })
}

// parseBenchFlags reads the flags into options; a bad one is a usage error.
func parseBenchFlags(args []string, stdout io.Writer) (benchOptions, error) {
	var o benchOptions
	var backends listFlag
	size := "256MiB"
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.BoolVar(&o.json, "json", false, "print the results as JSON")
	fs.BoolVar(&o.benchfmt, "benchfmt", false, "print every repetition in Go benchmark format, for benchstat (benchstat -col /impl FILE compares guest and native)")
	fs.BoolVar(&o.quick, "quick", false, "smaller and fewer runs (under a minute on 2 cores)")
	fs.Var(&backends, "backends", "backends for the handshake figures, `LIST` comma-separated (default: every compiled-in one)")
	fs.StringVar(&size, "size", "", "bytes per download and upload, e.g. 256MiB (default 256MiB, -quick 64MiB)")
	fs.IntVar(&o.reps, "reps", 0, "repetitions of each measurement; medians are reported (default 7, -quick 5)")
	fs.IntVar(&o.conns, "conns", 1000, "connections for the concurrency and idle-memory figures")
	fs.IntVar(&o.guests, "guests", 50, "guests sharing the concurrent connections")
	fs.IntVar(&o.handshakes, "handshakes", 0, "sequential handshakes per repetition (default 500, -quick 200)")
	var only listFlag
	fs.Var(&only, "only", "run only these sections, `LIST` of "+strings.Join(benchSections, ",")+" (figures of the others are 0)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to `FILE`")
	fs.StringVar(&o.memProfile, "memprofile", "", "write a heap profile to `FILE` while the guest's idle connections are open")
	fs.BoolVar(&o.quiet, "q", false, "say nothing on stderr about the steps")
	o.cache.flags(fs)
	o.perRequestFlags(fs)
	o.componentFlags(fs)
	fs.StringVar(&o.guestFile, "guest", "", "use this bench guest `FILE.wasm` (a core module or a WASI 0.2 component) instead of building internal/guests/bench")
	if err := parseFlags(fs, args, stdout, "wasitls bench [flags]"); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, usagef("bench: unexpected argument %q", fs.Arg(0))
	}
	o.size = 256 << 20
	o.reps, o.handshakes = cmp.Or(o.reps, 7), cmp.Or(o.handshakes, 500)
	if o.quick {
		o.size = 64 << 20
		if !flagSet(fs, "reps") {
			o.reps = 5
		}
		if !flagSet(fs, "handshakes") {
			o.handshakes = 200
		}
	}
	if size != "" {
		n, err := parseSize(size)
		if err != nil {
			return o, usagef("-size %s: %v", size, err)
		}
		o.size = n
	}
	if err := o.perRequestDefaults(); err != nil {
		return o, err
	}
	if o.json && o.benchfmt {
		return o, usagef("bench: -json and -benchfmt are two outputs; pick one")
	}
	if o.reps < 1 || o.conns < 1 || o.guests < 1 || o.handshakes < 1 || o.guests > o.conns {
		return o, usagef("bench: -reps, -conns, -guests and -handshakes must be positive, and -guests at most -conns")
	}
	for _, b := range backends {
		for _, n := range strings.Split(b, ",") {
			if _, err := pickProvider(n); err != nil {
				return o, err
			}
			o.backends = append(o.backends, n)
		}
	}
	if len(o.backends) == 0 {
		o.backends = demoOrder()
	}
	for _, l := range only {
		for _, n := range strings.Split(l, ",") {
			if !slices.Contains(benchSections, n) {
				return o, usagef("-only %s: want some of %s", n, strings.Join(benchSections, ","))
			}
			if o.only == nil {
				o.only = map[string]bool{}
			}
			o.only[n] = true
		}
	}
	if err := o.componentDefaults(context.Background()); err != nil {
		return o, err
	}
	return o, nil
}

func benchCommand(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	o, err := parseBenchFlags(args, stdout)
	if err != nil {
		return exitUsage, err
	}
	// Each idle or concurrent connection is a socket here (and one in the
	// server process); the guest's and native idle connections are open
	// together while handshakes are measured beside them.
	if err := ensureFiles(3*o.conns + 256); err != nil {
		return exitFailure, err
	}
	var wasm []byte
	if o.guestFile != "" {
		if err := fileExists("-guest", o.guestFile); err != nil {
			return exitUsage, err
		}
		if wasm, err = os.ReadFile(o.guestFile); err != nil {
			return exitUsage, usagef("-guest %s: %v", o.guestFile, err)
		}
	} else if o.needsBenchGuest() {
		if _, err = announce(o.progressWriter(stderr), "building internal/guests/bench with GOOS=wasip1 go build", func() error {
			wasm, err = buildGuest(ctx, "bench")
			return err
		}); err != nil {
			return exitFailure, err
		}
	}
	if !o.needsBenchGuest() {
		wasm = nil // only read, for the flag's sake
	}
	if component.IsComponent(wasm) {
		// The start-up section times a core module's steps, and the
		// component row makes its component from the core module.
		needCore := func(n string) bool { return n == "startup" || (n == "component" && o.comp.file == "") }
		if o.only != nil && !slices.ContainsFunc(slices.Collect(maps.Keys(o.only)), func(n string) bool { return !needCore(n) }) {
			return exitUsage, usagef("bench: -only %s needs the core module: -guest %s is a component (give its core module, or -component FILE)",
				strings.Join(slices.Sorted(maps.Keys(o.only)), ","), o.guestFile)
		}
		o.startupSkip = "-guest is a component; the start-up steps are a core module's"
		if o.comp.file == "" && o.comp.missing == "" {
			o.comp.missing = "-guest is a component already (give its core module, or -component FILE)"
		}
	}
	if o.memProfile != "" {
		runtime.MemProfileRate = 1 // every allocation, for per-connection detail
	}
	b, err := newBench(ctx, wasm, o, stderr)
	if err != nil {
		return exitFailure, err
	}
	defer b.close()
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return exitFailure, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return exitFailure, err
		}
		defer pprof.StopCPUProfile()
	}
	rep, err := b.run(ctx)
	if err != nil {
		return exitFailure, err
	}
	if o.html != "" {
		if err := writeBenchHTML(o.html, rep); err != nil {
			return exitFailure, err
		}
	}
	switch {
	case o.json:
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return 0, enc.Encode(rep)
	case o.benchfmt:
		printBenchfmt(stdout, rep, o)
		return 0, nil
	}
	printBench(stdout, rep)
	printBenchComponent(stdout, rep)
	printBenchPerGuest(stdout, rep)
	printServe(stdout, rep)
	return 0, nil
}

func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// parseSize reads 256MiB, 64KiB, 1GiB, 1000000.
func parseSize(s string) (int64, error) {
	mult := int64(1)
	for suf, m := range map[string]int64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "KB": 1e3, "MB": 1e6, "GB": 1e9} {
		if strings.HasSuffix(s, suf) {
			s, mult = strings.TrimSuffix(s, suf), m
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, errors.New("want a positive size such as 256MiB")
	}
	return n * mult, nil
}

// bench is one run's shared state: the server, the runtime and the host.
type bench struct {
	o        benchOptions
	log      io.Writer
	srv      *exec.Cmd
	srvIn    io.WriteCloser
	port     int
	roots    *x509.CertPool
	rt       wazero.Runtime
	wasm     []byte
	guest    guestModule
	h        *host.Host
	observer func(host.ConnEvent) // for the guests started while set
}

func newBench(ctx context.Context, wasm []byte, o benchOptions, log io.Writer) (*bench, error) {
	b := &bench{o: o, log: log, wasm: wasm}
	cert, roots, err := demoCertificate()
	if err != nil {
		return nil, err
	}
	b.roots = roots
	if err := b.startServer(cert); err != nil {
		return nil, err
	}
	b.rt = wazero.NewRuntimeWithConfig(ctx, runtimeConfig(o.cache, o.progressWriter(log)))
	wasi_snapshot_preview1.MustInstantiate(ctx, b.rt)
	b.h = host.New(b.rt)
	if wasm == nil {
		return b, nil
	}
	if b.guest, _, err = compileAny(ctx, b.h, b.rt, wasm, "benchguest.wasm", o.cache, o.progressWriter(log)); err != nil {
		b.close()
		return nil, fmt.Errorf("compiling the bench guest: %w", err)
	}
	return b, nil
}

func (b *bench) close() {
	if b.h != nil {
		_ = b.h.Close(context.Background())
	}
	if b.rt != nil {
		_ = b.rt.Close(context.Background())
	}
	if b.srv != nil {
		_ = b.srvIn.Close() // the server exits at the end of its stdin
		_ = b.srv.Wait()
	}
}

func (b *bench) progress(format string, args ...any) {
	if w := b.o.progressWriter(b.log); w != nil {
		fmt.Fprintf(w, "wasitls bench: "+format+"\n", args...)
	}
}

// progressWriter is where the bench reports its steps: stderr, unless -q
// or a machine-readable output was asked for.
func (o *benchOptions) progressWriter(stderr io.Writer) io.Writer {
	if o.quiet || o.json || o.benchfmt {
		return nil
	}
	return stderr
}
