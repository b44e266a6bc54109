package main

// The serve section: the example HTTPS server as a guest
// (internal/guests/serve, examples/guest-https-server's site.Server)
// next to the same site.Server served natively over crypto/tls, both in
// this process and driven by the same native Go clients, alternating.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/examples/guest-https-server/site"
	"github.com/wasitls/wasitls/host"
)

// serveClients is how many clients at once drive the rate figures.
const serveClients = 8

// serveReport is the serve section of the -json report.
type serveReport struct {
	Backend string `json:"backend"`
	Clients int    `json:"clients"`
	// NewConnection is requests per second with a new TLS connection each
	// (GET /, a few bytes), KeepAlive on kept-alive connections.
	NewConnection rate       `json:"new_connection"`
	KeepAlive     rate       `json:"keepalive"`
	Bulk          throughput `json:"bulk"` // GET of 1 MiB bodies, one client
	// The p50 and p99 of Concurrent clients starting a new connection and
	// a request at one instant (medians over the runs).
	Concurrent int `json:"concurrent_clients"`
	percentiles
	GuestP99s  []float64 `json:"guest_p99_runs"`
	NativeP99s []float64 `json:"native_p99_runs"`
	guestP50s  []float64
	nativeP50s []float64
	// Memory per idle client connection (one request served, kept alive):
	// the Go heap's growth, which holds the guest's linear memory
	// (GuestMemPerIdleConn of it), the clients' own memory included on
	// both sides.
	IdleConns           int     `json:"idle_conns"`
	BytesPerIdleConn    float64 `json:"bytes_per_idle_conn_guest"`
	BytesPerIdleConnNat float64 `json:"bytes_per_idle_conn_native"`
	IdleMemoryRatio     float64 `json:"idle_memory_ratio"`
	GuestMemPerIdleConn float64 `json:"guest_memory_per_idle_conn"`
	// NativeGOMAXPROCS is the native server's (and the clients') threads;
	// the guest runs on one.
	NativeGOMAXPROCS int `json:"native_gomaxprocs"`
}

// serveSide is one server under test.
type serveSide struct {
	impl string
	addr string
}

func (b *bench) runServe(ctx context.Context) (*serveReport, error) {
	o := b.o
	var wasm []byte
	if _, err := announce(o.progressWriter(b.log), "building internal/guests/serve with GOOS=wasip1 go build", func() error {
		var err error
		wasm, err = buildGuest(ctx, "serve")
		return err
	}); err != nil {
		return nil, err
	}
	gm, _, err := compileAny(ctx, b.h, b.rt, wasm, "serveguest.wasm", o.cache, o.progressWriter(b.log))
	if err != nil {
		return nil, fmt.Errorf("compiling the serve guest: %w", err)
	}
	cert, roots, err := demoCertificate()
	if err != nil {
		return nil, err
	}
	backend := "stdtls"
	guest, stopGuest, err := b.startServeGuest(ctx, gm, backend, cert)
	if err != nil {
		return nil, err
	}
	defer stopGuest()
	native, stopNative, err := startNativeServe(cert)
	if err != nil {
		return nil, err
	}
	defer stopNative()
	rep := &serveReport{Backend: backend, Clients: serveClients, Concurrent: o.conns, IdleConns: o.conns,
		NativeGOMAXPROCS: runtime.GOMAXPROCS(0)}
	sides := []serveSide{{"guest", guest}, {"native", native}}
	client := func(keepAlive bool) *http.Transport {
		return &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "localhost"},
			DisableKeepAlives: !keepAlive, MaxIdleConnsPerHost: serveClients, MaxConnsPerHost: 0}
	}
	newConns := int64(o.handshakes)
	keepAlive := 10 * newConns
	bulk := max(o.size>>20/4, 4)
	b.progress("serve: %d new-connection requests, %d kept-alive requests (%d clients), %d x 1 MiB, %d clients at once, x %d runs",
		newConns, keepAlive, serveClients, bulk, o.conns, o.reps)
	for i := range o.reps {
		order := sides
		if i%2 == 1 {
			order = []serveSide{sides[1], sides[0]}
		}
		for _, sd := range order {
			d, err := loadGet(client(false), sd.addr, "/", newConns, serveClients)
			if err != nil {
				return nil, fmt.Errorf("serve, %s, new connections: %w", sd.impl, err)
			}
			addRun(&rep.NewConnection, sd.impl, float64(newConns)/d.Seconds())
			if d, err = loadGet(client(true), sd.addr, "/", keepAlive, serveClients); err != nil {
				return nil, fmt.Errorf("serve, %s, keep-alive: %w", sd.impl, err)
			}
			addRun(&rep.KeepAlive, sd.impl, float64(keepAlive)/d.Seconds())
			if d, err = loadGet(client(true), sd.addr, "/bytes?n=1048576", bulk, 1); err != nil {
				return nil, fmt.Errorf("serve, %s, bulk: %w", sd.impl, err)
			}
			mbps := float64(bulk<<20) / 1e6 / d.Seconds()
			if sd.impl == "guest" {
				rep.Bulk.GuestRuns = append(rep.Bulk.GuestRuns, mbps)
			} else {
				rep.Bulk.NativeRuns = append(rep.Bulk.NativeRuns, mbps)
			}
			times, err := concurrentGets(client(false), sd.addr, o.conns)
			if err != nil {
				return nil, fmt.Errorf("serve, %s, %d clients at once: %w", sd.impl, o.conns, err)
			}
			if sd.impl == "guest" {
				rep.GuestP99s = append(rep.GuestP99s, percentileMs(times, 0.99))
				rep.guestP50s = append(rep.guestP50s, percentileMs(times, 0.50))
			} else {
				rep.NativeP99s = append(rep.NativeP99s, percentileMs(times, 0.99))
				rep.nativeP50s = append(rep.nativeP50s, percentileMs(times, 0.50))
			}
		}
	}
	for _, r := range []*rate{&rep.NewConnection, &rep.KeepAlive} {
		r.Guest, r.Native = median(r.GuestRuns), median(r.NativeRuns)
		r.Ratio = ratio(r.Guest, r.Native)
	}
	rep.Bulk.GuestMBps, rep.Bulk.NativeMBps = median(rep.Bulk.GuestRuns), median(rep.Bulk.NativeRuns)
	rep.Bulk.Ratio = ratio(rep.Bulk.GuestMBps, rep.Bulk.NativeMBps)
	rep.GuestP99ms, rep.NativeP99ms = median(rep.GuestP99s), median(rep.NativeP99s)
	rep.GuestP50ms, rep.NativeP50ms = median(rep.guestP50s), median(rep.nativeP50s)

	b.progress("serve: memory per idle client connection, %d of them", o.conns)
	guestMem := func() uint64 {
		if m := b.rt.Module(serveModule); m != nil {
			return uint64(m.Memory().Size())
		}
		return 0
	}
	var guestGrowth uint64
	if rep.BytesPerIdleConn, guestGrowth, err = idleClients(guest, roots, o.conns, guestMem); err != nil {
		return nil, fmt.Errorf("serve, guest, idle clients: %w", err)
	}
	rep.GuestMemPerIdleConn = float64(guestGrowth) / float64(o.conns)
	if rep.BytesPerIdleConnNat, _, err = idleClients(native, roots, o.conns, func() uint64 { return 0 }); err != nil {
		return nil, fmt.Errorf("serve, native, idle clients: %w", err)
	}
	rep.IdleMemoryRatio = ratio(rep.BytesPerIdleConn, rep.BytesPerIdleConnNat)
	return rep, nil
}

// serveModule is the serve guest's module name (to read its memory size).
const serveModule = "serveguest"

func addRun(r *rate, impl string, v float64) {
	if impl == "guest" {
		r.GuestRuns = append(r.GuestRuns, v)
	} else {
		r.NativeRuns = append(r.NativeRuns, v)
	}
}

// servePolicy is the bench's policy for the serve guest: cert for every
// name, HTTP/1.1 by ALPN, as startNativeServe.
func servePolicy(cert tls.Certificate) *host.Policy {
	return &host.Policy{
		Listen: []string{"127.0.0.1:*"},
		Serve: &host.ServePolicy{
			Certificates: []host.ServerCertificate{{Certificate: &cert}},
			NextProtos:   []string{"http/1.1"},
		},
		Limits: host.Limits{Handles: 1 << 20, Connections: 1 << 16, Handshakes: 1 << 16},
	}
}

// startServeGuest runs the serve guest on 127.0.0.1 (a port the host
// picks) under pol, with backend, until the returned stop.
func (b *bench) startServeGuest(ctx context.Context, gm guestModule, backend string, cert tls.Certificate) (string, func(), error) {
	p, err := api.Lookup(backend)
	if err != nil {
		return "", nil, err
	}
	return startServeGuest(ctx, b.h, gm, p, servePolicy(cert))
}

// startServeGuest runs the serve guest of gm in h, listening on the port
// its first stdout line names, until the returned stop.
func startServeGuest(ctx context.Context, h *host.Host, gm guestModule, p api.Provider, pol *host.Policy) (string, func(), error) {
	ctx, cancel := context.WithCancel(ctx)
	lines := make(chan string, 16)
	var errb bytes.Buffer // read only after the guest ended
	mc := host.NewModuleConfig().WithName(serveModule).WithArgs(serveModule, "127.0.0.1:0").
		WithStdout(&lineWriter{lines: lines}).WithStderr(&errb).
		WithSysNanosleep().WithSysNanotime().WithSysWalltime()
	done := make(chan error, 1)
	go func() {
		g, err := gm.instantiate(ctx, h, mc, host.WithProvider(p), host.WithPolicy(pol))
		if g != nil {
			_ = g.Close(context.Background())
		}
		done <- err
		close(lines)
	}()
	for l := range lines {
		if a, ok := strings.CutPrefix(l, "listening "); ok {
			go func() {
				for range lines { // until the guest ends
				}
			}()
			return a, func() { cancel(); <-done }, nil
		}
	}
	err := <-done
	cancel()
	return "", nil, fmt.Errorf("serve guest ended before listening (%v): %s", err, strings.TrimSpace(errb.String()))
}

// startNativeServe serves site.Server over crypto/tls with cert, as the
// guest's host does (HTTP/1.1 by ALPN).
func startNativeServe(cert tls.Certificate) (string, func(), error) {
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}})
	if err != nil {
		return "", nil, err
	}
	srv := site.Server()
	go func() { _ = srv.Serve(ln) }()
	return ln.Addr().String(), func() { _ = srv.Close() }, nil
}

// loadGet makes n GETs of path from par clients at once and returns the
// time they took.
func loadGet(tr *http.Transport, addr, path string, n int64, par int) (time.Duration, error) {
	defer tr.CloseIdleConnections()
	url := "https://localhost:" + portOf(addr) + path
	client := &http.Client{Transport: tr, Timeout: time.Minute}
	var next sync.Mutex
	left := n
	errs := make(chan error, par)
	start := time.Now()
	for range par {
		go func() {
			for {
				next.Lock()
				if left == 0 {
					next.Unlock()
					errs <- nil
					return
				}
				left--
				next.Unlock()
				if err := getDiscard(client, url); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var first error
	for range par {
		first = cmpErr(first, <-errs)
	}
	return time.Since(start), first
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func getDiscard(client *http.Client, url string) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// concurrentGets starts n clients at one instant, each with a new
// connection and one GET /, and returns their times.
func concurrentGets(tr *http.Transport, addr string, n int) ([]time.Duration, error) {
	defer tr.CloseIdleConnections()
	url := "https://localhost:" + portOf(addr) + "/"
	client := &http.Client{Transport: tr, Timeout: 2 * time.Minute}
	start := make(chan struct{})
	times := make([]time.Duration, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			t0 := time.Now()
			errs[i] = getDiscard(client, url)
			times[i] = time.Since(t0)
		})
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	slices.Sort(times)
	return times, nil
}

// idleClients opens n client connections to addr, each with one request
// served and then idle, and returns the Go heap's growth per connection
// (which holds a guest's linear memory) and extra()'s growth in total.
func idleClients(addr string, roots *x509.CertPool, n int, extra func() uint64) (float64, uint64, error) {
	before, beforeX := sampleMem().heap, extra()
	var cs []*tls.Conn
	defer func() {
		for _, c := range cs {
			_ = c.Close()
		}
	}()
	for range n {
		c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "localhost", RootCAs: roots})
		if err != nil {
			return 0, 0, err
		}
		cs = append(cs, c)
		if _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")); err != nil {
			return 0, 0, err
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return 0, 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
	time.Sleep(200 * time.Millisecond) // the servers' goroutines settle
	after, afterX := sampleMem().heap, extra()
	return perConn(after, before, n), afterX - beforeX, nil
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// printServe prints the serve section's table.
func printServe(w io.Writer, r *benchReport) {
	s := r.Serve
	if s == nil {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "SERVING (%s, guest HTTPS server)\tGUEST\tNATIVE\tGUEST/NATIVE\t\n", s.Backend)
	fmt.Fprintf(tw, "serve new connection, req/s\t%.0f\t%.0f\t%.2f\t\n", s.NewConnection.Guest, s.NewConnection.Native, s.NewConnection.Ratio)
	fmt.Fprintf(tw, "serve keep-alive, req/s (%d clients)\t%.0f\t%.0f\t%.2f\t\n", s.Clients, s.KeepAlive.Guest, s.KeepAlive.Native, s.KeepAlive.Ratio)
	fmt.Fprintf(tw, "serve bulk, MB/s (1 MiB bodies)\t%.0f\t%.0f\t%.2f\t\n", s.Bulk.GuestMBps, s.Bulk.NativeMBps, s.Bulk.Ratio)
	fmt.Fprintf(tw, "serve p99 ms, %d clients at once\t%.0f\t%.0f\t%.2f\t\n", s.Concurrent, s.GuestP99ms, s.NativeP99ms, ratio(s.GuestP99ms, s.NativeP99ms))
	fmt.Fprintf(tw, "serve bytes per idle client conn (%d)\t%.0f\t%.0f\t%.2f\t\n", s.IdleConns, s.BytesPerIdleConn, s.BytesPerIdleConnNat, s.IdleMemoryRatio)
	_ = tw.Flush()
	fmt.Fprintf(w, "  (one process; the same Go clients drive both; the guest is one wasm thread, native net/http runs on GOMAXPROCS=%d;\n"+
		"   idle bytes: the Go heap's growth, the clients' share on both sides; of the guest's, %.0f its linear memory)\n\n",
		s.NativeGOMAXPROCS, s.GuestMemPerIdleConn)
}

// benchfmtServe writes the serve section's lines (see printBenchfmt).
func benchfmtServe(r *benchReport, line func(name string, n int64, pairs ...any)) {
	s := r.Serve
	if s == nil {
		return
	}
	for _, q := range []struct {
		name string
		r    rate
	}{{"Serve/mode=new-connection", s.NewConnection}, {"Serve/mode=keepalive-" + strconv.Itoa(s.Clients) + "clients", s.KeepAlive}} {
		rateLines(line, q.name, 1, "req/s", "guest", q.r.GuestRuns, q.r.NativeRuns)
	}
	for _, sd := range sides(s.Bulk.GuestRuns, s.Bulk.NativeRuns) {
		for _, mbps := range sd.runs {
			line("Serve/mode=bulk-1MiB/impl="+sd.impl, 1, float64(1<<20)/mbps*1e3, "ns/op", mbps, "MB/s")
		}
	}
	for _, sd := range sides(s.GuestP99s, s.NativeP99s) {
		for _, ms := range sd.runs {
			line(fmt.Sprintf("Serve/mode=concurrent-%d/impl=%s", s.Concurrent, sd.impl), int64(s.Concurrent), ms, "p99-ms")
		}
	}
	line("Serve/mode=idle/impl=guest", int64(s.IdleConns), s.BytesPerIdleConn, "heap-B/conn", s.GuestMemPerIdleConn, "linear-B/conn")
	line("Serve/mode=idle/impl=native", int64(s.IdleConns), s.BytesPerIdleConnNat, "heap-B/conn")
}

// serveCharts is the serve section's group of the -html page.
func serveCharts(r *benchReport) chartGroup {
	g := chartGroup{Title: "A guest that serves HTTPS"}
	s := r.Serve
	if s == nil {
		return g
	}
	for _, c := range []chartRow{
		{Name: "new connection per request", Unit: "req/s", Guest: s.NewConnection.Guest, Native: s.NewConnection.Native},
		{Name: fmt.Sprintf("keep-alive, %d clients", s.Clients), Unit: "req/s", Guest: s.KeepAlive.Guest, Native: s.KeepAlive.Native},
		{Name: "bulk, 1 MiB bodies", Unit: "MB/s", Guest: s.Bulk.GuestMBps, Native: s.Bulk.NativeMBps},
		{Name: fmt.Sprintf("p99, %d clients at once", s.Concurrent), Unit: "ms", Guest: s.GuestP99ms, Native: s.NativeP99ms, LowerIsBetter: true},
		{Name: fmt.Sprintf("per idle client connection (%d)", s.IdleConns), Unit: "bytes", Guest: s.BytesPerIdleConn, Native: s.BytesPerIdleConnNat, LowerIsBetter: true},
	} {
		if c.Guest > 0 && c.Native > 0 {
			g.Rows = append(g.Rows, c)
		}
	}
	return g
}
