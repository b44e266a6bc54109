package main

// The start-up of `wasitls run` with the 10 MB fetch guest
// (internal/guests/demo: net/http over guest/wasinet), which issue 21
// measured at 0.34-0.43 s with a warm cache: the same first steps as the
// bench guest's start-up (runtime, cache load, wasitls's setup,
// instantiation), then its run split by the host's observer: from _start
// to the start of its connect (Go's runtime and package initialisation,
// net/http's set-up, the name lookup), the connect and handshake, and the
// request to its exit. It runs `demoguest https://localhost:PORT/bytes/4096` against the
// bench server, as `wasitls run` would.

import (
	"context"
	"crypto/rand"
	"fmt"
	"strconv"
	"time"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/host"
)

// fetchStartupSteps are the fetch guest's steps, in order.
var fetchStartupSteps = []string{
	"runtime, cache opened",
	"compiled guest loaded",
	"wasitls guest setup",
	"instantiation",
	"guest init to connect",
	"connect + handshake",
	"request and exit",
	"close",
}

// startupFetch measures the fetch guest's start-up o.reps times; a guest
// that cannot be built is reported as Skipped, not as a failure of the
// bench.
func (b *bench) startupFetch(ctx context.Context, name string) (*startupReport, error) {
	rep := &startupReport{Guest: "fetch guest (internal/guests/demo)", Backend: name}
	var wasm []byte
	if _, err := announce(b.o.progressWriter(b.log), "building internal/guests/demo with GOOS=wasip1 go build", func() error {
		var err error
		wasm, err = buildGuest(ctx, "demo")
		return err
	}); err != nil {
		rep.Skipped = err.Error()
		b.progress("fetch guest start-up left out: %v", err)
		return rep, nil
	}
	rep.WasmBytes = len(wasm)
	dir, derr := b.o.cache.path()
	rep.Cached = derr == nil && dir != ""
	// The first compilation (seconds, once per guest) is not start-up.
	cm, _, err := compileGuest(ctx, b.rt, wasm, "demoguest.wasm", b.o.cache, b.o.progressWriter(b.log))
	if err != nil {
		return nil, err
	}
	_ = cm.Close(ctx) // it was compiled to fill the disk cache, not to run
	p, err := api.Lookup(name)
	if err != nil {
		return nil, err
	}
	b.progress("start-up of the fetch guest, step by step, %d runs", b.o.reps)
	runs := make([][]float64, len(fetchStartupSteps))
	var hconnect, hhandshake []float64
	for range b.o.reps {
		d, obs, err := b.startupFetchOnce(ctx, wasm, p)
		if err != nil {
			return nil, err
		}
		hconnect, hhandshake = append(hconnect, float64(obs[0])/1e6), append(hhandshake, float64(obs[1])/1e6)
		for i, v := range d {
			runs[i] = append(runs[i], float64(v)/1e6)
		}
	}
	for i, s := range fetchStartupSteps {
		st := startupStep{Name: s, Ms: median(runs[i]), Runs: runs[i]}
		rep.Steps = append(rep.Steps, st)
		rep.TotalMs += st.Ms
	}
	rep.HostConnectMs, rep.HostHandshakeMs = median(hconnect), median(hhandshake)
	return rep, nil
}

// startupFetchOnce runs the fetch guest once in a runtime of its own, as
// `wasitls run` does, and returns each step's time, and the host's connect
// and handshake times.
func (b *bench) startupFetchOnce(ctx context.Context, wasm []byte, p api.Provider) (d []time.Duration, obs [2]time.Duration, err error) {
	var out, errb stampWriter
	url := "https://localhost:" + strconv.Itoa(b.port) + "/bytes/" + strconv.Itoa(perRequestBody)
	mc := host.NewModuleConfig().WithName("").WithArgs("demoguest", url).WithStdout(&out).WithStderr(&errb).
		WithSysNanosleep().WithSysNanotime().WithSysWalltime().WithRandSource(rand.Reader).
		WithStartFunctions() // _start is called below
	pol := b.policy()
	pol.Allow = append(pol.Allow, "localhost:"+strconv.Itoa(b.port))
	pol.NameLookup = true
	r, err := b.startupRun(ctx, wasm, mc, host.WithProvider(p), host.WithPolicy(pol))
	if err != nil {
		return nil, obs, err
	}
	defer r.close(ctx)
	start := time.Now()
	err = r.start()
	end := time.Now()
	if err != nil {
		return nil, obs, fmt.Errorf("fetch guest: %w: %s", err, errb.part)
	}
	obs, cs, he := r.observed()
	if cs.IsZero() || he.IsZero() {
		return nil, obs, fmt.Errorf("fetch guest made no connection: %s", errb.part)
	}
	r.d = append(r.d, cs.Sub(start), he.Sub(cs), end.Sub(he))
	r.t = end
	if err := r.close(ctx); err != nil {
		return nil, obs, err
	}
	r.lap()
	return r.d, obs, nil
}
