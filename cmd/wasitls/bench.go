package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/host"
)

// `wasitls bench` measures a wasm guest doing TLS through wasitls next to a
// native crypto/tls client, in one process, against the same loopback
// server. The server runs in a child process (this executable again, see
// benchServerEnv) so that the client side's memory is measured alone and
// the server's CPU does not count against either client.

// benchServerEnv makes this executable the bench server (set by the parent).
const benchServerEnv = "WASITLS_BENCH_SERVER"

func init() {
	// The bench's child process: serve, then exit; never reaches main (or,
	// in the test binary, the tests).
	if os.Getenv(benchServerEnv) == "1" {
		if err := benchServerMain(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "wasitls bench server:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
}

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
}

// benchSections are the parts of a run, for -only.
var benchSections = []string{"throughput", "sequential", "concurrent", "idle", "perrequest", "startup"}

func (o *benchOptions) runs(section string) bool { return o.only == nil || o.only[section] }

// benchReport is the -json output.
type benchReport struct {
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	CPUs      int    `json:"cpus"`
	Quick     bool   `json:"quick"`
	Reps      int    `json:"reps"`
	SizeBytes int64  `json:"size_bytes"`
	Cipher    string `json:"cipher_suite"`

	Download throughput `json:"download"`
	Upload   throughput `json:"upload"`

	ThroughputRatioDownload float64 `json:"throughput_ratio_download"`
	ThroughputRatioUpload   float64 `json:"throughput_ratio_upload"`
	// HandshakeRatio is guest/native sequential handshakes per second with
	// the first backend (stdtls unless -backends says otherwise).
	HandshakeRatio float64 `json:"handshake_ratio"`

	IdleConns              int     `json:"idle_conns"`
	BytesPerIdleConnHost   float64 `json:"bytes_per_idle_conn_host"`
	BytesPerIdleConnNative float64 `json:"bytes_per_idle_conn_native"`
	RSSPerIdleConnHost     float64 `json:"rss_per_idle_conn_host"`
	RSSPerIdleConnNative   float64 `json:"rss_per_idle_conn_native"`
	IdleMemoryRatio        float64 `json:"idle_memory_ratio"`
	// GuestMemGrowth is how much the guest's linear memory grew while it
	// opened the idle connections (not counted as host memory).
	GuestMemGrowth uint64 `json:"guest_memory_growth_bytes"`

	Backends []backendReport `json:"backends"`

	// Startup is where a run's time goes, with the first backend.
	Startup *startupReport `json:"startup,omitempty"`
}

type throughput struct {
	GuestMBps  float64   `json:"guest_mbps"`
	NativeMBps float64   `json:"native_mbps"`
	Ratio      float64   `json:"ratio"`
	GuestRuns  []float64 `json:"guest_runs"`
	NativeRuns []float64 `json:"native_runs"`
}

type rate struct {
	Guest  float64 `json:"guest_per_s"`
	Native float64 `json:"native_per_s"`
	Ratio  float64 `json:"ratio"`
	// Each repetition's rate, in the order run.
	GuestRuns  []float64 `json:"guest_runs"`
	NativeRuns []float64 `json:"native_runs"`
	// Where a sequential handshake's time goes, in µs per connection
	// (means over every run): the host's TCP connect and provider
	// handshake as its observer saw them, and native's two steps.
	GuestConnectUs    float64 `json:"guest_connect_us,omitempty"`
	GuestHandshakeUs  float64 `json:"guest_handshake_us,omitempty"`
	NativeConnectUs   float64 `json:"native_connect_us,omitempty"`
	NativeHandshakeUs float64 `json:"native_handshake_us,omitempty"`
}

type concurrency struct {
	Conns        int     `json:"conns"`
	Guests       int     `json:"guests"`
	Guest        float64 `json:"guest_per_s"`
	Native       float64 `json:"native_per_s"`
	Ratio        float64 `json:"ratio"`
	GuestP50ms   float64 `json:"guest_p50_ms"`
	GuestP99ms   float64 `json:"guest_p99_ms"`
	NativeP50ms  float64 `json:"native_p50_ms"`
	NativeP99ms  float64 `json:"native_p99_ms"`
	GuestWallMs  float64 `json:"guest_wall_ms"`
	NativeWallMs float64 `json:"native_wall_ms"`
	// Each round's rate (connections per second), in the order run.
	GuestRuns  []float64 `json:"guest_runs"`
	NativeRuns []float64 `json:"native_runs"`
}

type backendReport struct {
	Name string `json:"name"`
	// NativeClient is what the guest's handshakes are compared with (see
	// nativeClient).
	NativeClient   string      `json:"native_client"`
	Sequential     rate        `json:"sequential"`
	SequentialOpen rate        `json:"sequential_with_open_conns"`
	Concurrent     concurrency `json:"concurrent"`
	PerRequest     perRequest  `json:"per_request"`
}

func benchCommand(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
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
	fs.StringVar(&o.guestFile, "guest", "", "use this bench guest `FILE.wasm` (a core module or a WASI 0.2 component) instead of building cmd/wasitls/benchguest")
	if err := parseFlags(fs, args, stdout, "wasitls bench [flags]"); err != nil {
		return exitUsage, err
	}
	if fs.NArg() > 0 {
		return exitUsage, usagef("bench: unexpected argument %q", fs.Arg(0))
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
			return exitUsage, usagef("-size %s: %v", size, err)
		}
		o.size = n
	}
	if err := o.perRequestDefaults(); err != nil {
		return exitUsage, err
	}
	if o.json && o.benchfmt {
		return exitUsage, usagef("bench: -json and -benchfmt are two outputs; pick one")
	}
	if o.reps < 1 || o.conns < 1 || o.guests < 1 || o.handshakes < 1 || o.guests > o.conns {
		return exitUsage, usagef("bench: -reps, -conns, -guests and -handshakes must be positive, and -guests at most -conns")
	}
	for _, b := range backends {
		for _, n := range strings.Split(b, ",") {
			if _, err := pickProvider(n); err != nil {
				return exitUsage, err
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
				return exitUsage, usagef("-only %s: want some of %s", n, strings.Join(benchSections, ","))
			}
			if o.only == nil {
				o.only = map[string]bool{}
			}
			o.only[n] = true
		}
	}

	// Each idle or concurrent connection is a socket here (and one in the
	// server process); the guest's and native idle connections are open
	// together while handshakes are measured beside them.
	if err := ensureFiles(3*o.conns + 256); err != nil {
		return exitFailure, err
	}
	var wasm []byte
	var err error
	if o.guestFile != "" {
		if err := fileExists("-guest", o.guestFile); err != nil {
			return exitUsage, err
		}
		if wasm, err = os.ReadFile(o.guestFile); err != nil {
			return exitUsage, usagef("-guest %s: %v", o.guestFile, err)
		}
	} else {
		if _, err = announce(o.progressWriter(stderr), "building cmd/wasitls/benchguest with GOOS=wasip1 go build", func() error {
			wasm, err = buildGuest(ctx, "benchguest")
			return err
		}); err != nil {
			return exitFailure, err
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
	printBenchPerGuest(stdout, rep)
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

// startServer runs this executable as the server, handing it the
// certificate and key on stdin; it answers with its port.
func (b *bench) startServer(cert tls.Certificate) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("bench server: %w", err)
	}
	key, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		return err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), benchServerEnv+"=1")
	cmd.Stderr = b.log
	in, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("bench server: %w", err)
	}
	b.srv, b.srvIn = cmd, in
	var msg bytes.Buffer
	for _, der := range cert.Certificate {
		_ = pem.Encode(&msg, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	_ = pem.Encode(&msg, &pem.Block{Type: "PRIVATE KEY", Bytes: key})
	msg.WriteString(".\n")
	if _, err := in.Write(msg.Bytes()); err != nil {
		b.close()
		return fmt.Errorf("bench server: %w", err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	port, perr := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(line), "port "))
	if err != nil || perr != nil {
		b.close()
		return fmt.Errorf("bench server did not start (%q, %v)", line, err)
	}
	b.port = port
	return nil
}

// benchServerMain is the server process: TLS 1.3 only, no session tickets
// (every handshake is a full one), one goroutine per connection.
func benchServerMain(stdin io.Reader, stdout io.Writer) error {
	r := bufio.NewReader(stdin)
	var pemData bytes.Buffer
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return fmt.Errorf("reading the certificate: %w", err)
		}
		if line == ".\n" {
			break
		}
		pemData.WriteString(line)
	}
	cert, err := tls.X509KeyPair(pemData.Bytes(), pemData.Bytes())
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13, SessionTicketsDisabled: true}
	go func() {
		_, _ = io.Copy(io.Discard, r) // the parent closes stdin (or dies): stop
		os.Exit(0)
	}()
	fmt.Fprintf(stdout, "port %d\n", ln.Addr().(*net.TCPAddr).Port)
	payload := make([]byte, 256<<10)
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go serveBench(tls.Server(c, cfg), payload)
	}
}

func serveBench(c *tls.Conn, payload []byte) {
	defer c.Close()
	var h [9]byte
	if _, err := io.ReadFull(c, h[:]); err != nil {
		return // a handshake-only client
	}
	n := int64(binary.BigEndian.Uint64(h[1:]))
	switch h[0] {
	case 'D':
		for n > 0 {
			k, err := c.Write(payload[:min(n, int64(len(payload)))])
			if err != nil {
				return
			}
			n -= int64(k)
		}
		return
	case 'U':
		got, _ := io.CopyBuffer(io.Discard, io.LimitReader(c, n), make([]byte, 256<<10))
		var ack [8]byte
		binary.BigEndian.PutUint64(ack[:], uint64(got))
		if _, err := c.Write(ack[:]); err != nil {
			return
		}
	case 'I':
		if _, err := c.Write([]byte("idle-greeting-16")); err != nil {
			return
		}
	case 'G': // GET /bytes/N: the per-request section's HTTPS request
		serveHTTP(c, h[:], payload)
		return
	}
	_, _ = io.Copy(io.Discard, c)
}

// ---- guests -------------------------------------------------------------

// guestRun is one bench guest running in the background.
type guestRun struct {
	lines chan string
	stdin *io.PipeWriter
	errb  bytes.Buffer
	done  chan error
}

// lineWriter turns the guest's stdout into lines on a channel.
type lineWriter struct {
	mu    sync.Mutex
	part  []byte
	lines chan string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.part = append(w.part, p...)
	for {
		i := bytes.IndexByte(w.part, '\n')
		if i < 0 {
			return len(p), nil
		}
		w.lines <- string(w.part[:i])
		w.part = w.part[i+1:]
	}
}

func (b *bench) policy() *host.Policy {
	// TLS 1.3 only, as nativeConfig: both clients send the same hello.
	return &host.Policy{
		Allow:      []string{"127.0.0.1:" + strconv.Itoa(b.port)},
		RootCAs:    b.roots,
		MinVersion: tls.VersionTLS13,
		Limits:     host.Limits{Handles: 1 << 20, Connections: 1 << 16, Handshakes: 1 << 16},
	}
}

func (b *bench) startGuest(ctx context.Context, backend, mode string, n int64) (*guestRun, error) {
	return b.startNamedGuest(ctx, "", backend, mode, n)
}

func (b *bench) startNamedGuest(ctx context.Context, modName, backend, mode string, n int64) (*guestRun, error) {
	p, err := api.Lookup(backend)
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	gr := &guestRun{lines: make(chan string, 16), stdin: pw, done: make(chan error, 1)}
	mc := host.NewModuleConfig().WithName(modName).
		WithArgs("benchguest", mode, "127.0.0.1", strconv.Itoa(b.port), "localhost", strconv.FormatInt(n, 10)).
		WithStdin(pr).WithStdout(&lineWriter{lines: gr.lines}).WithStderr(&gr.errb).
		WithSysNanosleep().WithSysNanotime().WithSysWalltime().WithRandSource(rand.Reader)
	go func() {
		opts := []host.Option{host.WithProvider(p), host.WithPolicy(b.policy())}
		if b.observer != nil {
			opts = append(opts, host.WithObserver(b.observer))
		}
		g, err := b.guest.instantiate(ctx, b.h, mc, opts...)
		if g != nil {
			_ = g.Close(context.Background())
		}
		_ = pr.Close()
		gr.done <- err
		close(gr.lines)
	}()
	return gr, nil
}

// next returns the guest's next line, or why it ended.
func (gr *guestRun) next() (string, error) {
	l, ok := <-gr.lines
	if !ok {
		err := <-gr.done
		gr.done <- err
		return "", fmt.Errorf("bench guest ended (%v): %s", err, strings.TrimSpace(gr.errb.String()))
	}
	return l, nil
}

// expect reads lines until one starts with prefix.
func (gr *guestRun) expect(prefix string) (string, error) {
	for {
		l, err := gr.next()
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(l, prefix) {
			return l, nil
		}
	}
}

func (gr *guestRun) step() error {
	_, err := gr.stdin.Write([]byte{'g'})
	return err
}

// wait ends stdin and waits for the guest to exit.
func (gr *guestRun) wait() error {
	_ = gr.stdin.Close()
	for range gr.lines {
	}
	err := <-gr.done
	gr.done <- err
	if err != nil {
		return fmt.Errorf("bench guest: %v: %s", err, strings.TrimSpace(gr.errb.String()))
	}
	return nil
}

// okFields runs a guest to its "ok N NS" line.
func (b *bench) okRun(ctx context.Context, backend, mode string, n int64) (count int64, d time.Duration, err error) {
	gr, err := b.startGuest(ctx, backend, mode, n)
	if err != nil {
		return 0, 0, err
	}
	l, err := gr.expect("ok ")
	if err != nil {
		return 0, 0, err
	}
	if err := gr.wait(); err != nil {
		return 0, 0, err
	}
	f := strings.Fields(l)
	count, _ = strconv.ParseInt(f[1], 10, 64)
	ns, _ := strconv.ParseInt(f[2], 10, 64)
	return count, time.Duration(ns), nil
}

// ---- native -------------------------------------------------------------

func (b *bench) nativeConfig() *tls.Config {
	return &tls.Config{RootCAs: b.roots, ServerName: "localhost", MinVersion: tls.VersionTLS13}
}

func (b *bench) nativeDial() (*tls.Conn, error) {
	return tls.Dial("tcp4", "127.0.0.1:"+strconv.Itoa(b.port), b.nativeConfig())
}

func request(c io.Writer, op byte, n int64) error {
	var h [9]byte
	h[0] = op
	binary.BigEndian.PutUint64(h[1:], uint64(n))
	_, err := c.Write(h[:])
	return err
}

func (b *bench) nativeDownload() (time.Duration, string, error) {
	c, err := b.nativeDial()
	if err != nil {
		return 0, "", err
	}
	defer c.Close()
	start := time.Now()
	if err := request(c, 'D', b.o.size); err != nil {
		return 0, "", err
	}
	n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{c}, make([]byte, 256<<10))
	d := time.Since(start)
	if err != nil || n != b.o.size {
		return 0, "", fmt.Errorf("native download: %d bytes, %v", n, err)
	}
	return d, tls.CipherSuiteName(c.ConnectionState().CipherSuite), nil
}

func (b *bench) nativeUpload() (time.Duration, error) {
	c, err := b.nativeDial()
	if err != nil {
		return 0, err
	}
	defer c.Close()
	buf := make([]byte, 256<<10)
	start := time.Now()
	if err := request(c, 'U', b.o.size); err != nil {
		return 0, err
	}
	for left := b.o.size; left > 0; {
		k, err := c.Write(buf[:min(left, int64(len(buf)))])
		if err != nil {
			return 0, err
		}
		left -= int64(k)
	}
	var ack [8]byte
	if _, err := io.ReadFull(c, ack[:]); err != nil {
		return 0, err
	}
	d := time.Since(start)
	if got := int64(binary.BigEndian.Uint64(ack[:])); got != b.o.size {
		return 0, fmt.Errorf("native upload: server got %d bytes", got)
	}
	return d, nil
}

// handshaker is a native client handshake over a connected socket.
type handshaker func(raw net.Conn) (net.Conn, error)

// nativeClient is what a guest's handshakes with backend name are compared
// with: crypto/tls itself for stdtls, the strictest baseline; for the
// others, the backend's own Provider called from Go on a net.Conn, since
// their ClientHellos (a browser's for utls, hybrid groups only for pq) cost
// the server and the client more than crypto/tls's.
func (b *bench) nativeClient(name string) (handshaker, string, error) {
	if name == stdtls.Name {
		return func(raw net.Conn) (net.Conn, error) {
			c := tls.Client(raw, b.nativeConfig())
			return c, c.Handshake()
		}, "crypto/tls", nil
	}
	p, err := api.Lookup(name)
	if err != nil {
		return nil, "", err
	}
	cfg := &api.Config{ServerName: "localhost", RootCAs: b.roots, MinVersion: tls.VersionTLS13}
	return func(raw net.Conn) (net.Conn, error) {
		c, err := p.Client(context.Background(), raw, cfg)
		if err != nil {
			return nil, err
		}
		return c, nil
	}, name + " from Go", nil
}

func (b *bench) nativeHandshakes(hs handshaker, n int) (time.Duration, error) {
	d, _, _, err := b.nativeHandshakesPhases(hs, n)
	return d, err
}

// nativeHandshakesPhases is nativeHandshakes that also sums the time spent
// connecting and handshaking (tls.Dial's two steps, taken apart).
func (b *bench) nativeHandshakesPhases(hs handshaker, n int) (total, connect, handshake time.Duration, err error) {
	addr := "127.0.0.1:" + strconv.Itoa(b.port)
	start := time.Now()
	for range n {
		t0 := time.Now()
		raw, err := net.Dial("tcp4", addr)
		if err != nil {
			return 0, 0, 0, err
		}
		t1 := time.Now()
		c, err := hs(raw)
		handshake += time.Since(t1)
		connect += t1.Sub(t0)
		if c != nil {
			c.Close()
		}
		raw.Close()
		if err != nil {
			return 0, 0, 0, err
		}
	}
	return time.Since(start), connect, handshake, nil
}

// nativeConcurrent opens n connections at once with dial; latencies per
// connection.
func nativeConcurrent(n int, dial func() (net.Conn, error)) (time.Duration, []time.Duration, []net.Conn, error) {
	lat := make([]time.Duration, n)
	conns := make([]net.Conn, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			t0 := time.Now()
			conns[i], errs[i] = dial()
			lat[i] = time.Since(t0)
		}()
	}
	start := time.Now()
	close(gate)
	wg.Wait()
	wall := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		closeAll(conns)
		return 0, nil, nil, err
	}
	return wall, lat, conns, nil
}

func closeAll(cs []net.Conn) {
	for _, c := range cs {
		if c != nil {
			c.Close()
		}
	}
}

// nativeHold opens n connections, reads the greeting on each, and parks a
// goroutine in Read on each (4 KiB buffer), as a client waiting for the
// next message does. stop closes them and waits for the goroutines.
func (b *bench) nativeHold(n int) (stop func(), err error) {
	_, _, conns, err := nativeConcurrent(n, func() (net.Conn, error) {
		c, err := b.nativeDial()
		if err != nil {
			return nil, err
		}
		return c, nil
	})
	if err != nil {
		return nil, err
	}
	var wg sync.WaitGroup
	for _, c := range conns {
		var g [16]byte
		if err := request(c, 'I', 0); err != nil {
			closeAll(conns)
			return nil, err
		}
		if _, err := io.ReadFull(c, g[:]); err != nil {
			closeAll(conns)
			return nil, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 4<<10)
			for {
				if _, err := c.Read(buf); err != nil {
					return
				}
			}
		}()
	}
	return func() { closeAll(conns); wg.Wait() }, nil
}

// ---- measurements -------------------------------------------------------

// memSample is the Go memory in use (heap objects and goroutine stacks:
// a parked reader's buffer may live on either) and the resident set.
type memSample struct{ heap, rss uint64 }

// sampleMem collects (twice, so that finalizers' garbage goes too), returns
// free memory to the OS, and reads both figures.
func sampleMem() memSample {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memSample{heap: ms.HeapAlloc + ms.StackInuse, rss: rss()}
}

// rss is the resident set size from /proc (0 where there is none).
func rss() uint64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}

func perConn(after, before uint64, n int) float64 {
	if after < before {
		return 0
	}
	return float64(after-before) / float64(n)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func percentileMs(v []time.Duration, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	i := min(int(p*float64(len(s))), len(s)-1)
	return float64(s[i]) / 1e6
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
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

func (b *bench) run(ctx context.Context) (*benchReport, error) {
	o := b.o
	rep := &benchReport{GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(),
		Quick: o.quick, Reps: o.reps, SizeBytes: o.size, IdleConns: o.conns}
	first := o.backends[0]
	mbps := func(d time.Duration) float64 { return float64(o.size) / 1e6 / d.Seconds() }

	// Throughput: alternate guest and native, repeated.
	if o.runs("throughput") {
		b.progress("download and upload, %d MiB, %d runs each", o.size>>20, o.reps)
	}
	for i := range o.reps {
		if !o.runs("throughput") {
			break
		}
		guestFirst := i%2 == 0
		for k := range 2 {
			if (k == 0) == guestFirst {
				_, d, err := b.okRun(ctx, first, "download", o.size)
				if err != nil {
					return nil, err
				}
				rep.Download.GuestRuns = append(rep.Download.GuestRuns, mbps(d))
				if _, d, err = b.okRun(ctx, first, "upload", o.size); err != nil {
					return nil, err
				}
				rep.Upload.GuestRuns = append(rep.Upload.GuestRuns, mbps(d))
				continue
			}
			d, suite, err := b.nativeDownload()
			if err != nil {
				return nil, err
			}
			rep.Cipher = suite
			rep.Download.NativeRuns = append(rep.Download.NativeRuns, mbps(d))
			if d, err = b.nativeUpload(); err != nil {
				return nil, err
			}
			rep.Upload.NativeRuns = append(rep.Upload.NativeRuns, mbps(d))
		}
	}
	for _, t := range []*throughput{&rep.Download, &rep.Upload} {
		t.GuestMBps, t.NativeMBps = median(t.GuestRuns), median(t.NativeRuns)
		t.Ratio = ratio(t.GuestMBps, t.NativeMBps)
	}
	rep.ThroughputRatioDownload, rep.ThroughputRatioUpload = rep.Download.Ratio, rep.Upload.Ratio

	for _, name := range o.backends {
		br := backendReport{Name: name}
		var err error
		if _, br.NativeClient, err = b.nativeClient(name); err != nil {
			return nil, err
		}
		if o.runs("sequential") {
			b.progress("%s: %d sequential handshakes x %d", name, o.handshakes, o.reps)
			if br.Sequential, err = b.sequential(ctx, name); err != nil {
				return nil, err
			}
		}
		if o.runs("concurrent") {
			b.progress("%s: %d concurrent connections from %d guests", name, o.conns, o.guests)
			if br.Concurrent, err = b.concurrent(ctx, name); err != nil {
				return nil, err
			}
		}
		if o.runs("perrequest") {
			b.progress("%s: %d guests, one HTTPS request each, %d at once", name, o.requests, o.atOnce)
			if br.PerRequest, err = b.perRequest(ctx, name); err != nil {
				return nil, err
			}
		}
		rep.Backends = append(rep.Backends, br)
	}
	if o.runs("startup") {
		b.progress("start-up of the guest, step by step, %d runs", o.reps)
		var err error
		if rep.Startup, err = b.startup(ctx, first); err != nil {
			return nil, err
		}
	}
	rep.HandshakeRatio = rep.Backends[0].Sequential.Ratio
	if !o.runs("idle") {
		return rep, nil
	}

	// Idle memory, each measured alone (a set held meanwhile would lend the
	// other its resident pages), then sequential handshakes with both open.
	// Native: a first hold warms up; the delta is over the second.
	b.progress("%d idle connections: native", o.conns)
	stop, err := b.nativeHold(o.conns)
	if err != nil {
		return nil, err
	}
	stop()
	before := sampleMem()
	if stop, err = b.nativeHold(o.conns); err != nil {
		return nil, err
	}
	after := sampleMem()
	if o.memProfile != "" {
		if err := writeHeapProfile(o.memProfile + ".native"); err != nil {
			stop()
			return nil, err
		}
	}
	stop()
	rep.BytesPerIdleConnNative = perConn(after.heap, before.heap, o.conns)
	rep.RSSPerIdleConnNative = perConn(after.rss, before.rss, o.conns)

	b.progress("%d idle connections: guest", o.conns)
	const holdName = "wasitls-bench-hold"
	gr, err := b.startNamedGuest(ctx, holdName, first, "hold", int64(o.conns))
	if err != nil {
		return nil, err
	}
	defer gr.wait()
	// Round one grows the guest's own memory; the delta is taken over round
	// two, between released and held, so it is the host's per connection.
	if _, err := gr.expect("held"); err != nil {
		return nil, err
	}
	if err := gr.step(); err != nil {
		return nil, err
	}
	if _, err := gr.expect("released"); err != nil {
		return nil, err
	}
	// The guest's linear memory is on the Go heap too; its growth is the
	// guest's, not the host's, and is taken out.
	guestMem := func() uint64 {
		if m := b.rt.Module(holdName); m != nil && m.Memory() != nil {
			return uint64(m.Memory().Size())
		}
		return 0
	}
	before = sampleMem()
	gm0 := guestMem()
	if err := gr.step(); err != nil {
		return nil, err
	}
	if _, err := gr.expect("held"); err != nil {
		return nil, err
	}
	after = sampleMem()
	rep.GuestMemGrowth = guestMem() - gm0
	after.heap -= min(after.heap, rep.GuestMemGrowth)
	if o.memProfile != "" {
		if err := writeHeapProfile(o.memProfile); err != nil {
			return nil, err
		}
	}
	rep.BytesPerIdleConnHost = perConn(after.heap, before.heap, o.conns)
	rep.RSSPerIdleConnHost = perConn(after.rss, before.rss, o.conns)

	// Both sets open for the handshakes measured beside them.
	if stop, err = b.nativeHold(o.conns); err != nil {
		return nil, err
	}
	defer stop()
	rep.IdleMemoryRatio = ratio(rep.BytesPerIdleConnHost, rep.BytesPerIdleConnNative)

	// Sequential handshakes with both sets open, alternating as before.
	for i := range rep.Backends {
		if !o.runs("sequential") {
			break
		}
		name := rep.Backends[i].Name
		b.progress("%s: sequential handshakes with %d guest and %d native connections open", name, o.conns, o.conns)
		hs, _, err := b.nativeClient(name)
		if err != nil {
			return nil, err
		}
		var g, n []float64
		for r := range o.reps {
			for k := range 2 {
				if (k == 0) == (r%2 == 0) {
					_, d, err := b.okRun(ctx, name, "handshakes", int64(o.handshakes))
					if err != nil {
						return nil, err
					}
					g = append(g, float64(o.handshakes)/d.Seconds())
					continue
				}
				d, err := b.nativeHandshakes(hs, o.handshakes)
				if err != nil {
					return nil, err
				}
				n = append(n, float64(o.handshakes)/d.Seconds())
			}
		}
		r := &rep.Backends[i].SequentialOpen
		r.Guest, r.Native = median(g), median(n)
		r.GuestRuns, r.NativeRuns = g, n
		r.Ratio = ratio(r.Guest, r.Native)
	}
	return rep, nil
}

// sequential alternates guest and native runs of o.handshakes handshakes.
func (b *bench) sequential(ctx context.Context, name string) (rate, error) {
	hs, _, err := b.nativeClient(name)
	if err != nil {
		return rate{}, err
	}
	var g, n []float64
	var mu sync.Mutex
	var gConn, gHS, nConn, nHS time.Duration
	var gCount, nCount int
	b.observer = func(e host.ConnEvent) {
		mu.Lock()
		defer mu.Unlock()
		switch e.Phase {
		case host.PhaseConnect:
			gConn += e.Duration
		case host.PhaseHandshake:
			gHS += e.Duration
			gCount++
		}
	}
	defer func() { b.observer = nil }()
	for i := range b.o.reps {
		for k := range 2 {
			if (k == 0) == (i%2 == 0) {
				_, d, err := b.okRun(ctx, name, "handshakes", int64(b.o.handshakes))
				if err != nil {
					return rate{}, err
				}
				g = append(g, float64(b.o.handshakes)/d.Seconds())
				continue
			}
			d, dc, dh, err := b.nativeHandshakesPhases(hs, b.o.handshakes)
			if err != nil {
				return rate{}, err
			}
			nConn, nHS, nCount = nConn+dc, nHS+dh, nCount+b.o.handshakes
			n = append(n, float64(b.o.handshakes)/d.Seconds())
		}
	}
	r := rate{Guest: median(g), Native: median(n), GuestRuns: g, NativeRuns: n}
	r.Ratio = ratio(r.Guest, r.Native)
	mu.Lock()
	defer mu.Unlock()
	us := func(d time.Duration, n int) float64 { return ratio(float64(d)/1e3, float64(n)) }
	r.GuestConnectUs, r.GuestHandshakeUs = us(gConn, gCount), us(gHS, gCount)
	r.NativeConnectUs, r.NativeHandshakeUs = us(nConn, nCount), us(nHS, nCount)
	return r, nil
}

// concurrentLead is how far ahead of a concurrent round its start time is
// set: long enough to hand the time to every guest.
const concurrentLead = 50 * time.Millisecond

// concurrent: o.conns connections at once from o.guests guests, then
// natively from as many goroutines, alternating, o.reps times. The guests
// are instantiated once; each round starts them all at one instant.
func (b *bench) concurrent(ctx context.Context, name string) (concurrency, error) {
	o := b.o
	c := concurrency{Conns: o.conns, Guests: o.guests}
	hs, _, err := b.nativeClient(name)
	if err != nil {
		return c, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(b.port)
	dial := func() (net.Conn, error) {
		raw, err := net.Dial("tcp4", addr)
		if err != nil {
			return nil, err
		}
		conn, err := hs(raw)
		if err != nil {
			raw.Close()
			return nil, err
		}
		return conn, nil
	}
	grs := make([]*guestRun, 0, o.guests)
	defer func() {
		for _, gr := range grs {
			_ = gr.wait()
		}
	}()
	for i := range o.guests {
		n := o.conns / o.guests
		if i < o.conns%o.guests {
			n++
		}
		gr, err := b.startGuest(ctx, name, "concurrent", int64(n))
		if err != nil {
			return c, err
		}
		grs = append(grs, gr)
	}
	for _, gr := range grs {
		if _, err := gr.expect("ready"); err != nil {
			return c, err
		}
	}
	var g, n []float64
	var glat, nlat []time.Duration
	var gwall, nwall time.Duration
	for i := range o.reps {
		for k := range 2 {
			runtime.GC() // one round's garbage is not the next one's
			if (k == 0) == (i%2 == 0) {
				wall, lat, err := b.concurrentRound(grs)
				if err != nil {
					return c, err
				}
				g, glat, gwall = append(g, float64(o.conns)/wall.Seconds()), append(glat, lat...), gwall+wall
				continue
			}
			wall, lat, conns, err := nativeConcurrent(o.conns, dial)
			closeAll(conns)
			if err != nil {
				return c, err
			}
			n, nlat, nwall = append(n, float64(o.conns)/wall.Seconds()), append(nlat, lat...), nwall+wall
		}
	}
	c.Guest, c.Native = median(g), median(n)
	c.GuestRuns, c.NativeRuns = g, n
	c.Ratio = ratio(c.Guest, c.Native)
	c.GuestWallMs = float64(gwall) / 1e6 / float64(o.reps)
	c.NativeWallMs = float64(nwall) / 1e6 / float64(o.reps)
	c.GuestP50ms, c.GuestP99ms = percentileMs(glat, 0.50), percentileMs(glat, 0.99)
	c.NativeP50ms, c.NativeP99ms = percentileMs(nlat, 0.50), percentileMs(nlat, 0.99)
	return c, nil
}

// concurrentRound gives every guest the same start time and collects the
// round: its wall time (the start to the last connection established, as
// the guests timed it) and each connection's latency.
func (b *bench) concurrentRound(grs []*guestRun) (time.Duration, []time.Duration, error) {
	at := time.Now().Add(concurrentLead)
	line := []byte(strconv.FormatInt(at.UnixNano(), 10) + "\n")
	for _, gr := range grs {
		if _, err := gr.stdin.Write(line); err != nil {
			return 0, nil, err
		}
	}
	if late := time.Since(at); late > 0 {
		return 0, nil, fmt.Errorf("handing the start time to %d guests took %v more than %v", len(grs), late, concurrentLead)
	}
	var wall time.Duration
	var lat []time.Duration
	for _, gr := range grs {
		l, err := gr.expect("lat ")
		if err != nil {
			return 0, nil, err
		}
		for _, f := range strings.Fields(l)[1:] {
			ns, _ := strconv.ParseInt(f, 10, 64)
			lat = append(lat, time.Duration(ns))
		}
		l, err = gr.expect("ok ")
		if err != nil {
			return 0, nil, err
		}
		if f := strings.Fields(l); len(f) == 3 {
			ns, _ := strconv.ParseInt(f[2], 10, 64)
			wall = max(wall, time.Duration(ns))
		}
	}
	for _, gr := range grs {
		if _, err := gr.stdin.Write([]byte("close\n")); err != nil {
			return 0, nil, err
		}
	}
	for _, gr := range grs {
		if _, err := gr.expect("closed"); err != nil {
			return 0, nil, err
		}
	}
	return wall, lat, nil
}

func writeHeapProfile(name string) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.Lookup("heap").WriteTo(f, 0)
}

func printBench(w io.Writer, r *benchReport) {
	fmt.Fprintf(w, "wasitls bench: %s %s/%s, %d CPUs, %s, medians of %d runs\n\n", r.GoVersion, r.OS, r.Arch, r.CPUs, orNA(r.Cipher), r.Reps)
	if r.Download.GuestMBps > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "THROUGHPUT (%d MiB)\tGUEST MB/s\tNATIVE MB/s\tGUEST/NATIVE\t\n", r.SizeBytes>>20)
		fmt.Fprintf(tw, "download\t%.0f\t%.0f\t%.2f\t\n", r.Download.GuestMBps, r.Download.NativeMBps, r.Download.Ratio)
		fmt.Fprintf(tw, "upload\t%.0f\t%.0f\t%.2f\t\n", r.Upload.GuestMBps, r.Upload.NativeMBps, r.Upload.Ratio)
		_ = tw.Flush()
		fmt.Fprintln(w)
	}
	var hasSeq, hasConc bool
	for _, b := range r.Backends {
		hasSeq = hasSeq || b.Sequential.Guest > 0 || b.SequentialOpen.Guest > 0
		hasConc = hasConc || b.Concurrent.Guest > 0
	}
	if !hasSeq && !hasConc {
		printMemory(w, r)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "HANDSHAKES/s\tGUEST\tNATIVE\tRATIO\t\n")
	for _, b := range r.Backends {
		row := func(what string, g, n, ratio float64) {
			if g > 0 && n > 0 { // sections left out by -only are not shown
				fmt.Fprintf(tw, "%s %s\t%.0f\t%.0f\t%.2f\t\n", b.Name, what, g, n, ratio)
			}
		}
		row("sequential", b.Sequential.Guest, b.Sequential.Native, b.Sequential.Ratio)
		row(fmt.Sprintf("sequential, %d open", r.IdleConns), b.SequentialOpen.Guest, b.SequentialOpen.Native, b.SequentialOpen.Ratio)
		row(fmt.Sprintf("%d concurrent / %d guests", b.Concurrent.Conns, b.Concurrent.Guests), b.Concurrent.Guest, b.Concurrent.Native, b.Concurrent.Ratio)
	}
	_ = tw.Flush()
	var natives []string
	for _, b := range r.Backends {
		natives = append(natives, b.Name+": "+b.NativeClient)
	}
	fmt.Fprintf(w, "  (native: %s)\n\n", strings.Join(natives, ", "))
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	if hasSeq {
		fmt.Fprintf(tw, "SEQUENTIAL, µs PER CONNECTION\tGUEST\tHOST CONNECT\tHOST HANDSHAKE\tNATIVE\tCONNECT\tHANDSHAKE\t\n")
		for _, b := range r.Backends {
			if q := b.Sequential; q.Guest > 0 && q.Native > 0 {
				fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t\n", b.Name, 1e6/q.Guest, q.GuestConnectUs, q.GuestHandshakeUs, 1e6/q.Native, q.NativeConnectUs, q.NativeHandshakeUs)
			}
		}
		_ = tw.Flush()
		fmt.Fprintln(w)
	}
	if hasConc {
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "HANDSHAKE LATENCY (concurrent)\tGUEST p50 ms\tGUEST p99 ms\tNATIVE p50 ms\tNATIVE p99 ms\t\n")
		for _, b := range r.Backends {
			fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%.1f\t%.1f\t\n", b.Name, b.Concurrent.GuestP50ms, b.Concurrent.GuestP99ms, b.Concurrent.NativeP50ms, b.Concurrent.NativeP99ms)
		}
		_ = tw.Flush()
		fmt.Fprintln(w)
	}
	printMemory(w, r)
}

func printMemory(w io.Writer, r *benchReport) {
	if r.BytesPerIdleConnHost == 0 && r.BytesPerIdleConnNative == 0 {
		return // -only without idle
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "MEMORY PER IDLE CONNECTION (%d)\tHOST\tNATIVE\tHOST/NATIVE\t\n", r.IdleConns)
	fmt.Fprintf(tw, "Go heap+stacks, bytes\t%.0f\t%.0f\t%.2f\t\n", r.BytesPerIdleConnHost, r.BytesPerIdleConnNative, r.IdleMemoryRatio)
	fmt.Fprintf(tw, "RSS, bytes\t%.0f\t%.0f\t%.2f\t\n", r.RSSPerIdleConnHost, r.RSSPerIdleConnNative, ratio(r.RSSPerIdleConnHost, r.RSSPerIdleConnNative))
	_ = tw.Flush()
}
