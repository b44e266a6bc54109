package main

// The sections of a run, each alternating guest and native.

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wasitls/wasitls/host"
)

// run runs the sections -only asks for, in a fixed order: throughput, the
// per-backend handshake sections, start-up, then idle memory (whose open
// connections the last sequential figures are measured beside).
func (b *bench) run(ctx context.Context) (*benchReport, error) {
	o := b.o
	rep := &benchReport{GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(),
		Quick: o.quick, Reps: o.reps, SizeBytes: o.size, IdleConns: o.conns}
	if o.runs("throughput") {
		if err := b.runThroughput(ctx, rep); err != nil {
			return nil, err
		}
	}
	if o.runs("component") {
		if err := b.runComponent(ctx, rep); err != nil {
			return nil, err
		}
	}
	for _, name := range o.backends {
		br, err := b.runBackend(ctx, name)
		if err != nil {
			return nil, err
		}
		rep.Backends = append(rep.Backends, br)
	}
	if o.runs("startup") {
		b.progress("start-up of the guest, step by step, %d runs", o.reps)
		var err error
		if rep.Startup, err = b.startup(ctx, o.backends[0]); err != nil {
			return nil, err
		}
		if rep.StartupFetch, err = b.startupFetch(ctx, o.backends[0]); err != nil {
			return nil, err
		}
	}
	if o.runs("serve") {
		var err error
		if rep.Serve, err = b.runServe(ctx); err != nil {
			return nil, err
		}
	}
	rep.HandshakeRatio = rep.Backends[0].Sequential.Ratio
	if !o.runs("idle") {
		return rep, nil
	}
	stop, err := b.runIdle(ctx, rep)
	if err != nil {
		return nil, err
	}
	defer stop()
	if o.runs("sequential") {
		if err := b.runSequentialOpen(ctx, rep); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// runThroughput alternates guest and native downloads and uploads with the
// first backend.
func (b *bench) runThroughput(ctx context.Context, rep *benchReport) error {
	o := b.o
	first := o.backends[0]
	b.progress("download and upload, %d MiB, %d runs each", o.size>>20, o.reps)
	if err := b.alternate(b.transfers(ctx, b.guest, first, &rep.Download, &rep.Upload, &rep.Cipher)...); err != nil {
		return err
	}
	rep.Download.summarize()
	rep.Upload.summarize()
	rep.ThroughputRatioDownload, rep.ThroughputRatioUpload = rep.Download.Ratio, rep.Upload.Ratio
	return nil
}

// runBackend runs one backend's handshake sections.
func (b *bench) runBackend(ctx context.Context, name string) (backendReport, error) {
	o := b.o
	br := backendReport{Name: name}
	var err error
	if _, br.NativeClient, err = b.nativeClient(name); err != nil {
		return br, err
	}
	if o.runs("sequential") {
		b.progress("%s: %d sequential handshakes x %d", name, o.handshakes, o.reps)
		if br.Sequential, err = b.sequential(ctx, name); err != nil {
			return br, err
		}
	}
	if o.runs("concurrent") {
		b.progress("%s: %d concurrent connections from %d guests", name, o.conns, o.guests)
		if br.Concurrent, err = b.concurrent(ctx, name); err != nil {
			return br, err
		}
	}
	if o.runs("perrequest") {
		b.progress("%s: %d guests, one HTTPS request each, %d at once", name, o.requests, o.atOnce)
		if br.PerRequest, err = b.perRequest(ctx, name); err != nil {
			return br, err
		}
	}
	return br, nil
}

// runIdle measures memory per idle connection, native then guest, each
// alone (a set held meanwhile would lend the other its resident pages). It
// returns with both sets open; stop closes them.
func (b *bench) runIdle(ctx context.Context, rep *benchReport) (stop func(), err error) {
	o := b.o
	// Native: a first hold warms up; the delta is over the second.
	b.progress("%d idle connections: native", o.conns)
	stopNative, err := b.nativeHold(o.conns)
	if err != nil {
		return nil, err
	}
	stopNative()
	before := sampleMem()
	if stopNative, err = b.nativeHold(o.conns); err != nil {
		return nil, err
	}
	after := sampleMem()
	if o.memProfile != "" {
		if err := writeHeapProfile(o.memProfile + ".native"); err != nil {
			stopNative()
			return nil, err
		}
	}
	stopNative()
	rep.BytesPerIdleConnNative = perConn(after.heap, before.heap, o.conns)
	rep.RSSPerIdleConnNative = perConn(after.rss, before.rss, o.conns)

	b.progress("%d idle connections: guest", o.conns)
	const holdName = "wasitls-bench-hold"
	gr, err := b.startNamedGuest(ctx, holdName, o.backends[0], "hold", int64(o.conns))
	if err != nil {
		return nil, err
	}
	fail := func(err error) (func(), error) { _ = gr.wait(); return nil, err }
	// Round one grows the guest's own memory; the delta is taken over round
	// two, between released and held, so it is the host's per connection.
	if _, err := gr.expect("held"); err != nil {
		return fail(err)
	}
	if err := gr.step(); err != nil {
		return fail(err)
	}
	if _, err := gr.expect("released"); err != nil {
		return fail(err)
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
		return fail(err)
	}
	if _, err := gr.expect("held"); err != nil {
		return fail(err)
	}
	after = sampleMem()
	rep.GuestMemGrowth = guestMem() - gm0
	after.heap -= min(after.heap, rep.GuestMemGrowth)
	if o.memProfile != "" {
		if err := writeHeapProfile(o.memProfile); err != nil {
			return fail(err)
		}
	}
	rep.BytesPerIdleConnHost = perConn(after.heap, before.heap, o.conns)
	rep.RSSPerIdleConnHost = perConn(after.rss, before.rss, o.conns)
	rep.IdleMemoryRatio = ratio(rep.BytesPerIdleConnHost, rep.BytesPerIdleConnNative)

	// Both sets open for the handshakes measured beside them.
	if stopNative, err = b.nativeHold(o.conns); err != nil {
		return fail(err)
	}
	return func() { stopNative(); _ = gr.wait() }, nil
}

// runSequentialOpen measures sequential handshakes again, alternating as
// before, with the idle sets of both sides open.
func (b *bench) runSequentialOpen(ctx context.Context, rep *benchReport) error {
	o := b.o
	for i := range rep.Backends {
		name := rep.Backends[i].Name
		b.progress("%s: sequential handshakes with %d guest and %d native connections open", name, o.conns, o.conns)
		hs, _, err := b.nativeClient(name)
		if err != nil {
			return err
		}
		var g, n []float64
		for r := range o.reps {
			for k := range 2 {
				if (k == 0) == (r%2 == 0) {
					_, d, err := b.okRun(ctx, name, "handshakes", int64(o.handshakes))
					if err != nil {
						return err
					}
					g = append(g, float64(o.handshakes)/d.Seconds())
					continue
				}
				d, err := b.nativeHandshakes(hs, o.handshakes)
				if err != nil {
					return err
				}
				n = append(n, float64(o.handshakes)/d.Seconds())
			}
		}
		r := &rep.Backends[i].SequentialOpen
		r.Guest, r.Native = median(g), median(n)
		r.GuestRuns, r.NativeRuns = g, n
		r.Ratio = ratio(r.Guest, r.Native)
	}
	return nil
}

// sequentialWarmup is the handshakes of the untimed run of each side that
// precedes the measured ones.
const sequentialWarmup = 100

// sequential alternates guest and native runs of o.handshakes handshakes,
// after one untimed run of each side (as the concurrent section does: the
// first run in the process pays for what later ones reuse, and it was
// always the guest's).
func (b *bench) sequential(ctx context.Context, name string) (rate, error) {
	hs, _, err := b.nativeClient(name)
	if err != nil {
		return rate{}, err
	}
	warm := int64(min(b.o.handshakes, sequentialWarmup))
	if _, _, _, err := b.nativeHandshakesPhases(hs, int(warm)); err != nil {
		return rate{}, err
	}
	if _, _, err := b.okRun(ctx, name, "handshakes", warm); err != nil {
		return rate{}, err
	}
	var g, n []float64
	var mu sync.Mutex
	var gConn, gHS, nConn, nHS time.Duration
	var gCount, nCount int
	// Set after the warm-up: the host times below are of measured runs.
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
	r := rate{Guest: median(g), Native: median(n), GuestRuns: g, NativeRuns: n, WarmupHandshakes: int(warm)}
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
// natively from as many goroutines, alternating, o.reps times, after one
// untimed round of each. The guests are instantiated once; each round
// starts them all at one instant.
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
	guestRound := func() (time.Duration, []time.Duration, error) {
		runtime.GC() // one round's garbage is not the next one's
		return b.concurrentRound(grs)
	}
	nativeRound := func() (time.Duration, []time.Duration, error) {
		runtime.GC()
		wall, lat, conns, err := nativeConcurrent(o.conns, dial)
		closeAll(conns)
		return wall, lat, err
	}
	// One untimed round of each side first. The first round in the process
	// pays for what later rounds reuse (the Go heap and goroutine stacks
	// growing, their pages faulted in, the guests' linear memory and
	// workers): measured, it fell on the guest alone, whose round always
	// came first, and with -reps 2 it was half the guest's figure.
	nw, _, err := nativeRound()
	if err != nil {
		return c, err
	}
	gw, _, err := guestRound()
	if err != nil {
		return c, err
	}
	c.WarmupGuestMs, c.WarmupNativeMs = float64(gw)/1e6, float64(nw)/1e6
	var g, n []float64
	var glat, nlat []time.Duration
	var gwall, nwall time.Duration
	for i := range o.reps {
		for k := range 2 {
			if (k == 0) == (i%2 == 0) {
				wall, lat, err := guestRound()
				if err != nil {
					return c, err
				}
				g, glat, gwall = append(g, float64(o.conns)/wall.Seconds()), append(glat, lat...), gwall+wall
				continue
			}
			wall, lat, err := nativeRound()
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
