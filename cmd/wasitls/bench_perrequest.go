package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/host"
)

// The per-request section: what platforms that embed wazero (serverless
// hosts, plugin systems) do, a fresh guest for each request. A precompiled
// guest is instantiated, makes one HTTPS request through wasi-tls and is
// closed, o.requests times with o.atOnce at once; natively, a goroutine
// makes the same request on a fresh connection. Both speak the same
// HTTP/1.1 (GET /bytes/N, Connection: close) to the bench server.

// perRequestBody is the response body of each request.
const perRequestBody = 4 << 10

// perRequest is the per-request row of one backend.
type perRequest struct {
	Requests  int     `json:"requests"`
	AtOnce    int     `json:"at_once"`
	BodyBytes int     `json:"body_bytes"`
	Guest     float64 `json:"guest_per_s"`
	Native    float64 `json:"native_per_s"`
	Ratio     float64 `json:"ratio"`
	// Latency of one request: for the guest from the start of its
	// instantiation to its close, for native from the dial to the close.
	percentiles
	// Each round's rate (requests per second), in the order run.
	GuestRuns  []float64 `json:"guest_runs"`
	NativeRuns []float64 `json:"native_runs"`
	// Memory while AtOnce guests (goroutines) have made their request and
	// hold their connection: Go heap and stacks, which hold the guests'
	// linear memories, and the resident set, per guest; of the heap, the
	// guest's linear memory alone.
	BytesPerLiveGuest    float64 `json:"bytes_per_live_guest"`
	RSSPerLiveGuest      float64 `json:"rss_per_live_guest"`
	LinearMemoryPerGuest float64 `json:"linear_memory_per_guest"`
	BytesPerLiveNative   float64 `json:"bytes_per_live_native"`
	RSSPerLiveNative     float64 `json:"rss_per_live_native"`
	LiveMemoryRatio      float64 `json:"live_memory_ratio"`

	glat, nlat []time.Duration
}

// perRequestFlags registers the section's flags.
func (o *benchOptions) perRequestFlags(fs *flag.FlagSet) {
	fs.IntVar(&o.requests, "requests", 0, "per-request section: guests instantiated, one HTTPS request each (default 300, -quick 100)")
	fs.IntVar(&o.atOnce, "at-once", 20, "per-request section: guests (and native goroutines) at once")
	fs.StringVar(&o.html, "html", "", "also write the report as a self-contained HTML page with charts to `FILE`")
}

// perRequestDefaults fills in the section's defaults and checks its flags.
func (o *benchOptions) perRequestDefaults() error {
	if o.requests == 0 {
		o.requests = 300
		if o.quick {
			o.requests = 100
		}
	}
	if o.requests < 1 || o.atOnce < 1 || o.atOnce > o.requests {
		return usagef("bench: -requests and -at-once must be positive, and -at-once at most -requests")
	}
	return nil
}

// serveHTTP answers GET /bytes/N with N bytes and closes: the per-request
// section's HTTPS request. first is what the bench protocol already read.
func serveHTTP(c net.Conn, first []byte, payload []byte) {
	r := bufio.NewReader(io.MultiReader(bytes.NewReader(first), c))
	line, err := r.ReadString('\n')
	if err != nil {
		return
	}
	for {
		h, err := r.ReadString('\n')
		if err != nil {
			return
		}
		if h == "\r\n" {
			break
		}
	}
	f := strings.Fields(line)
	n := -1
	if len(f) == 3 && f[0] == "GET" && strings.HasPrefix(f[1], "/bytes/") {
		n, _ = strconv.Atoi(strings.TrimPrefix(f[1], "/bytes/"))
	}
	if n < 0 || n > len(payload) {
		_, _ = io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		return
	}
	var resp bytes.Buffer
	fmt.Fprintf(&resp, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", n)
	resp.Write(payload[:n])
	_, _ = c.Write(resp.Bytes())
}

// stampWriter keeps the lines a guest printed with the time each arrived.
type stampWriter struct {
	mu    sync.Mutex
	part  []byte
	lines []stampedLine
	// hit, if not nil, is closed when a line starting with want arrives.
	want string
	hit  chan struct{}
}

type stampedLine struct {
	at   time.Time
	text string
}

func (w *stampWriter) Write(p []byte) (int, error) {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	eachLine(&w.part, p, func(l string) {
		w.lines = append(w.lines, stampedLine{now, l})
		if w.hit != nil && strings.HasPrefix(l, w.want) {
			close(w.hit)
			w.hit = nil
		}
	})
	return len(p), nil
}

// find returns the first line that starts with prefix.
func (w *stampWriter) find(prefix string) (stampedLine, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, l := range w.lines {
		if strings.HasPrefix(l.text, prefix) {
			return l, true
		}
	}
	return stampedLine{}, false
}

// requestConfig is the config of one per-request guest.
func (b *bench) requestConfig(name string, stdin io.Reader, stdout, stderr io.Writer) wazero.ModuleConfig {
	mc := host.NewModuleConfig().WithName(name).
		WithArgs("benchguest", "request", "127.0.0.1", strconv.Itoa(b.port), "localhost", strconv.Itoa(perRequestBody)).
		WithStdout(stdout).WithStderr(stderr).
		WithSysNanosleep().WithSysNanotime().WithSysWalltime().WithRandSource(rand.Reader)
	if stdin != nil {
		mc = mc.WithStdin(stdin)
	}
	return mc
}

// guestRequest is one guest's life: instantiated, one request (to the end
// of stdin, which is empty here), closed.
func (b *bench) guestRequest(ctx context.Context, p api.Provider) error {
	var out, errb stampWriter
	g, err := b.guest.instantiate(ctx, b.h, b.requestConfig("", nil, &out, &errb), host.WithProvider(p), host.WithPolicy(b.policy()))
	cerr := g.Close(ctx)
	if err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("per-request guest: %w: %s", err, errb.part)
	}
	if _, ok := out.find("ok "); !ok {
		return errors.New("per-request guest exited without its response")
	}
	return nil
}

// nativeRequest is the same request from Go on a fresh connection, which
// it returns open (the server has closed its side); hsDone is the time
// the dial and handshake took.
func (b *bench) nativeRequest(hs handshaker) (c net.Conn, hsDone time.Duration, err error) {
	t0 := time.Now()
	raw, err := net.Dial("tcp4", "127.0.0.1:"+strconv.Itoa(b.port))
	if err != nil {
		return nil, 0, err
	}
	if c, err = hs(raw); err != nil {
		raw.Close()
		return nil, 0, err
	}
	hsDone = time.Since(t0)
	if _, err := io.WriteString(c, "GET /bytes/"+strconv.Itoa(perRequestBody)+" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"); err != nil {
		c.Close()
		return nil, 0, err
	}
	resp, err := io.ReadAll(c)
	head, body, ok := bytes.Cut(resp, []byte("\r\n\r\n"))
	if err != nil || !ok || !bytes.HasPrefix(head, []byte("HTTP/1.1 200 ")) || len(body) != perRequestBody {
		c.Close()
		return nil, 0, fmt.Errorf("native request: %d bytes, %v", len(resp), err)
	}
	return c, hsDone, nil
}

// requestRound runs n requests with k at once; each one's latency.
func requestRound(n, k int, one func() error) (time.Duration, []time.Duration, error) {
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, k)
	start := time.Now()
	for w := range k {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || errs[w] != nil {
					return
				}
				t0 := time.Now()
				errs[w] = one()
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	return time.Since(start), lat, errors.Join(errs...)
}

func (b *bench) perRequest(ctx context.Context, name string) (perRequest, error) {
	o := b.o
	r := perRequest{Requests: o.requests, AtOnce: o.atOnce, BodyBytes: perRequestBody}
	p, err := api.Lookup(name)
	if err != nil {
		return r, err
	}
	hs, _, err := b.nativeClient(name)
	if err != nil {
		return r, err
	}
	var g, n []float64
	for i := range o.reps {
		for k := range 2 {
			runtime.GC() // one round's garbage is not the next one's
			if (k == 0) == (i%2 == 0) {
				wall, lat, err := requestRound(o.requests, o.atOnce, func() error { return b.guestRequest(ctx, p) })
				if err != nil {
					return r, err
				}
				g, r.glat = append(g, float64(o.requests)/wall.Seconds()), append(r.glat, lat...)
				continue
			}
			wall, lat, err := requestRound(o.requests, o.atOnce, func() error {
				c, _, err := b.nativeRequest(hs)
				if c != nil {
					c.Close()
				}
				return err
			})
			if err != nil {
				return r, err
			}
			n, r.nlat = append(n, float64(o.requests)/wall.Seconds()), append(r.nlat, lat...)
		}
	}
	r.Guest, r.Native, r.GuestRuns, r.NativeRuns = median(g), median(n), g, n
	r.Ratio = ratio(r.Guest, r.Native)
	r.GuestP50ms, r.GuestP99ms = percentileMs(r.glat, 0.50), percentileMs(r.glat, 0.99)
	r.NativeP50ms, r.NativeP99ms = percentileMs(r.nlat, 0.50), percentileMs(r.nlat, 0.99)
	if err := b.liveMemory(ctx, p, hs, &r); err != nil {
		return r, err
	}
	return r, nil
}

// liveMemory measures o.atOnce guests that made their request and hold
// their connection, then as many native goroutines doing the same; each
// alone, after a first hold that warms up (as for idle connections).
func (b *bench) liveMemory(ctx context.Context, p api.Provider, hs handshaker, r *perRequest) error {
	k := b.o.atOnce
	holdNative := func() (func(), error) {
		conns := make([]net.Conn, k)
		errs := make([]error, k)
		var wg sync.WaitGroup
		for i := range k {
			wg.Add(1)
			go func() {
				defer wg.Done()
				conns[i], _, errs[i] = b.nativeRequest(hs)
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			closeAll(conns)
			return nil, err
		}
		return func() { closeAll(conns) }, nil
	}
	var linear uint64
	holdGuests := func() (func() error, error) {
		stdins := make([]*io.PipeWriter, k)
		done := make(chan error, k)
		names := make([]string, k)
		linear = 0
		for i := range k {
			pr, pw := io.Pipe()
			stdins[i] = pw
			names[i] = fmt.Sprintf("wasitls-bench-live-%d", i)
			ok := make(chan struct{})
			out := &stampWriter{want: "ok ", hit: ok}
			var errb stampWriter
			go func() {
				g, err := b.guest.instantiate(ctx, b.h, b.requestConfig(names[i], pr, out, &errb), host.WithProvider(p), host.WithPolicy(b.policy()))
				if cerr := g.Close(ctx); err == nil {
					err = cerr
				}
				_ = pr.Close()
				if err != nil {
					err = fmt.Errorf("per-request guest: %w: %s", err, errb.part)
				}
				done <- err
			}()
			select {
			case <-ok:
			case err := <-done:
				for _, w := range stdins[:i] {
					_ = w.Close()
				}
				return nil, orErr(err, errors.New("per-request guest exited before its response"))
			}
		}
		for _, name := range names {
			if m := b.rt.Module(name); m != nil && m.Memory() != nil {
				linear += uint64(m.Memory().Size())
			}
		}
		return func() error {
			for _, w := range stdins {
				_ = w.Close()
			}
			var errs []error
			for range k {
				errs = append(errs, <-done)
			}
			return errors.Join(errs...)
		}, nil
	}

	stop, err := holdNative()
	if err != nil {
		return err
	}
	stop()
	// A few native requests hold little next to what a collection may free
	// meanwhile (the heap can come out smaller while they are held): such a
	// sample says nothing, so it is taken again, a few times at most.
	for range 3 {
		before := sampleMem()
		if stop, err = holdNative(); err != nil {
			return err
		}
		after := sampleMem()
		stop()
		r.BytesPerLiveNative, r.RSSPerLiveNative = perConn(after.heap, before.heap, k), perConn(after.rss, before.rss, k)
		if r.BytesPerLiveNative > 0 {
			break
		}
	}

	release, err := holdGuests()
	if err != nil {
		return err
	}
	if err := release(); err != nil {
		return err
	}
	before := sampleMem()
	if release, err = holdGuests(); err != nil {
		return err
	}
	after := sampleMem()
	if err := release(); err != nil {
		return err
	}
	r.BytesPerLiveGuest, r.RSSPerLiveGuest = perConn(after.heap, before.heap, k), perConn(after.rss, before.rss, k)
	r.LinearMemoryPerGuest = float64(linear) / float64(k)
	r.LiveMemoryRatio = ratio(r.BytesPerLiveGuest, r.BytesPerLiveNative)
	return nil
}

// orErr returns err, or def when err is nil.
func orErr(err, def error) error {
	if err != nil {
		return err
	}
	return def
}

// printBenchPerGuest prints the per-request and start-up sections.
func printBenchPerGuest(w io.Writer, r *benchReport) {
	var rows []backendReport
	for _, b := range r.Backends {
		if b.PerRequest.Guest > 0 && b.PerRequest.Native > 0 {
			rows = append(rows, b)
		}
	}
	if len(rows) > 0 {
		q := rows[0].PerRequest
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "A GUEST PER REQUEST (%d, %d at once)\tGUEST req/s\tNATIVE req/s\tRATIO\tGUEST p50 ms\tGUEST p99 ms\tNATIVE p50 ms\tNATIVE p99 ms\t\n", q.Requests, q.AtOnce)
		for _, b := range rows {
			q := b.PerRequest
			fmt.Fprintf(tw, "%s per request\t%.0f\t%.0f\t%.2f\t%.1f\t%.1f\t%.1f\t%.1f\t\n", b.Name, q.Guest, q.Native, q.Ratio, q.GuestP50ms, q.GuestP99ms, q.NativeP50ms, q.NativeP99ms)
		}
		_ = tw.Flush()
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "MEMORY PER LIVE REQUEST (%d live)\tGUEST\tNATIVE\tGUEST/NATIVE\tGUEST LINEAR MEMORY\t\n", q.AtOnce)
		for _, b := range rows {
			q := b.PerRequest
			fmt.Fprintf(tw, "%s Go heap+stacks, bytes\t%.0f\t%.0f\t%.2f\t%.0f\t\n", b.Name, q.BytesPerLiveGuest, q.BytesPerLiveNative, q.LiveMemoryRatio, q.LinearMemoryPerGuest)
			fmt.Fprintf(tw, "%s RSS, bytes\t%.0f\t%.0f\t%.2f\t-\t\n", b.Name, q.RSSPerLiveGuest, q.RSSPerLiveNative, ratio(q.RSSPerLiveGuest, q.RSSPerLiveNative))
		}
		_ = tw.Flush()
		fmt.Fprintln(w, "  (a guest's heap includes its linear memory; native: a goroutine that made the same request, connection open)")
	}
	printStartup(w, r.Startup)
	printStartup(w, r.StartupFetch)
}

// benchfmtPerGuest adds the per-request and start-up figures to -benchfmt.
func benchfmtPerGuest(r *benchReport, line func(name string, n int64, pairs ...any)) {
	for _, b := range r.Backends {
		q := b.PerRequest
		rateLines(line, fmt.Sprintf("PerRequest/backend=%s/atonce=%d", b.Name, q.AtOnce), int64(q.Requests), "req/s", "guest", q.GuestRuns, q.NativeRuns)
		if q.BytesPerLiveGuest > 0 || q.BytesPerLiveNative > 0 {
			line("LiveRequest/backend="+b.Name+"/impl=guest", int64(q.AtOnce), q.BytesPerLiveGuest, "heap-B/req", q.RSSPerLiveGuest, "rss-B/req")
			line("LiveRequest/backend="+b.Name+"/impl=native", int64(q.AtOnce), q.BytesPerLiveNative, "heap-B/req", q.RSSPerLiveNative, "rss-B/req")
		}
	}
	for prefix, s := range map[string]*startupReport{"Startup": r.Startup, "StartupFetch": r.StartupFetch} {
		if s == nil {
			continue
		}
		for _, st := range s.Steps {
			for _, ms := range st.Runs {
				if ms > 0 {
					line(prefix+"/step="+strings.NewReplacer(" + ", "-", ", ", "-", " ", "-").Replace(st.Name)+"/impl=guest", 1, ms*1e6, "ns/op")
				}
			}
		}
	}
}
