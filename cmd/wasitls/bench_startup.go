package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/tetratelabs/wazero"
	wapi "github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/host"
)

// The start-up section: where the time of one `wasitls run` of a guest
// goes, step by step, with a warm compilation cache: a new runtime (and
// the cache opened and trimmed, as run does), the compiled guest loaded
// from the cache, wasitls's per-guest setup (Prepare: policy, provider
// check), the module's instantiation (wazero's, with wasitls's host modules
// made for the guest through the import resolver), the guest's runtime
// start-up until main (timed by the "main" line of the request mode), the
// first connect and handshake, the request, and the exit and close. The
// first three steps are what `wasitls run` pays once per process; an
// embedder that keeps its runtime pays the rest per guest.

// startupSteps are the steps, in order.
var startupSteps = []string{
	"runtime, cache opened",
	"compiled guest loaded",
	"wasitls guest setup",
	"instantiation",
	"guest runtime init",
	"connect + handshake",
	"request",
	"exit and close",
}

// startupStep is one step's time: the median over the repetitions, in ms.
type startupStep struct {
	Name string    `json:"name"`
	Ms   float64   `json:"ms"`
	Runs []float64 `json:"runs_ms"`
	// NativeMs is native Go's time for the same network step (a fresh
	// connection, handshake and request), where there is one.
	NativeMs float64 `json:"native_ms,omitempty"`
}

type startupReport struct {
	// Guest names the guest when it is not the bench guest.
	Guest string `json:"guest,omitempty"`
	// Skipped is why the steps were not measured ("" if they were).
	Skipped   string        `json:"skipped,omitempty"`
	Backend   string        `json:"backend"`
	WasmBytes int           `json:"wasm_bytes"`
	Cached    bool          `json:"cached"` // the compiled guest came from the disk cache
	Steps     []startupStep `json:"steps"`
	TotalMs   float64       `json:"total_ms"`
	// Of "connect + handshake": the host's TCP connect and the provider's
	// handshake as the host's observer timed them (medians); the rest is
	// the guest's and the hand-offs between it and the host.
	HostConnectMs   float64 `json:"host_connect_ms"`
	HostHandshakeMs float64 `json:"host_handshake_ms"`
}

func (b *bench) startup(ctx context.Context, name string) (*startupReport, error) {
	if b.o.startupSkip != "" {
		return &startupReport{Backend: name, Skipped: b.o.startupSkip}, nil
	}
	p, err := api.Lookup(name)
	if err != nil {
		return nil, err
	}
	hs, _, err := b.nativeClient(name)
	if err != nil {
		return nil, err
	}
	dir, derr := b.o.cache.path()
	rep := &startupReport{Backend: name, WasmBytes: len(b.wasm), Cached: derr == nil && dir != ""}
	runs := make([][]float64, len(startupSteps))
	var nconnect, nrequest, hconnect, hhandshake []float64
	for range b.o.reps {
		d, obs, err := b.startupOnce(ctx, p)
		if err != nil {
			return nil, err
		}
		hconnect, hhandshake = append(hconnect, float64(obs[0])/1e6), append(hhandshake, float64(obs[1])/1e6)
		for i, v := range d {
			runs[i] = append(runs[i], float64(v)/1e6)
		}
		c, h, err := b.nativeFirst(hs)
		if err != nil {
			return nil, err
		}
		nconnect, nrequest = append(nconnect, float64(c)/1e6), append(nrequest, float64(h)/1e6)
	}
	for i, s := range startupSteps {
		st := startupStep{Name: s, Ms: median(runs[i]), Runs: runs[i]}
		switch s {
		case "connect + handshake":
			st.NativeMs = median(nconnect)
		case "request":
			st.NativeMs = median(nrequest)
		}
		rep.Steps = append(rep.Steps, st)
		rep.TotalMs += st.Ms
	}
	rep.HostConnectMs, rep.HostHandshakeMs = median(hconnect), median(hhandshake)
	return rep, nil
}

// startupOnce runs the guest once in a runtime of its own, as `wasitls run`
// does, and returns each step's time, and the host's connect and handshake
// times as its observer saw them.
func (b *bench) startupOnce(ctx context.Context, p api.Provider) (d []time.Duration, obs [2]time.Duration, err error) {
	var out, errb stampWriter
	mc := b.requestConfig("", nil, &out, &errb).WithStartFunctions() // _start is called below
	r, err := b.startupRun(ctx, b.wasm, mc, host.WithProvider(p), host.WithPolicy(b.policy()))
	if err != nil {
		return nil, obs, err
	}
	defer r.close(ctx)
	start := time.Now()
	if err := r.start(); err != nil {
		return nil, obs, fmt.Errorf("start-up guest: %w: %s", err, errb.part)
	}
	var at [3]time.Time
	for i, l := range []string{"main", "connected", "ok "} {
		s, ok := out.find(l)
		if !ok {
			return nil, obs, fmt.Errorf("start-up guest printed no %q line: %s", l, errb.part)
		}
		at[i] = s.at
	}
	r.d = append(r.d, at[0].Sub(start), at[1].Sub(at[0]), at[2].Sub(at[1]))
	r.t = at[2]
	if err := r.close(ctx); err != nil {
		return nil, obs, err
	}
	r.lap()
	obs, _, _ = r.observed()
	return r.d, obs, nil
}

// startupRun is one start-up of a guest in a runtime of its own, in the
// steps of `wasitls run`'s host.Instantiate taken apart: host.Prepare
// (Instantiate's setup), then the module's instantiation with _start
// called apart (Instantiate runs it after binding the guest's list shims,
// a few small instantiations more, which Prepare's guests go without).
// d collects the steps' times.
type startupRun struct {
	rt  wazero.Runtime
	g   *host.Guest
	ctx context.Context // the guest's
	mod wapi.Module
	d   []time.Duration
	t   time.Time // the end of the last step

	mu         sync.Mutex
	obs        [2]time.Duration // connect and handshake times, summed
	connStart  time.Time        // the first connect's start
	handshaken time.Time        // the first handshake's end
}

// startupRun makes the runtime, loads the compiled wasm from the cache,
// prepares the guest and instantiates it, timing each step.
func (b *bench) startupRun(ctx context.Context, wasm []byte, mc wazero.ModuleConfig, opts ...host.Option) (*startupRun, error) {
	r := &startupRun{t: time.Now()}
	r.rt = wazero.NewRuntimeWithConfig(ctx, runtimeConfig(b.o.cache, io.Discard))
	wasi_snapshot_preview1.MustInstantiate(ctx, r.rt)
	h := host.New(r.rt)
	r.lap()
	compiled, err := r.rt.CompileModule(ctx, wasm)
	if err != nil {
		r.close(ctx)
		return nil, err
	}
	r.lap()
	var cfg wazero.ModuleConfig
	if r.g, r.ctx, cfg, err = h.Prepare(ctx, compiled, mc, append(opts, host.WithObserver(r.observe))...); err != nil {
		r.close(ctx)
		return nil, err
	}
	r.lap()
	if r.mod, err = r.rt.InstantiateModule(r.ctx, compiled, cfg); err != nil {
		r.close(ctx)
		return nil, err
	}
	r.lap()
	return r, nil
}

func (r *startupRun) lap() {
	now := time.Now()
	r.d = append(r.d, now.Sub(r.t))
	r.t = now
}

// start calls _start; an exit with code 0 is no error.
func (r *startupRun) start() error {
	_, err := r.mod.ExportedFunction("_start").Call(r.ctx)
	if exit := (*sys.ExitError)(nil); err != nil && (!errors.As(err, &exit) || exit.ExitCode() != 0) {
		return err
	}
	return nil
}

// close closes the guest and the runtime (again: no error).
func (r *startupRun) close(ctx context.Context) error {
	var err error
	if r.g != nil {
		err = r.g.Close(ctx)
	}
	return errors.Join(err, r.rt.Close(ctx))
}

func (r *startupRun) observe(e host.ConnEvent) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	switch e.Phase {
	case host.PhaseConnect:
		r.obs[0] += e.Duration
		if r.connStart.IsZero() {
			r.connStart = now.Add(-e.Duration)
		}
	case host.PhaseHandshake:
		r.obs[1] += e.Duration
		if r.handshaken.IsZero() {
			r.handshaken = now
		}
	}
}

// observed returns what the observer saw.
func (r *startupRun) observed() (obs [2]time.Duration, connStart, handshaken time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.obs, r.connStart, r.handshaken
}

// nativeFirst is native Go's first request of a process: a fresh
// tls.Config (no session cache), connect and handshake, then the request.
func (b *bench) nativeFirst(hs handshaker) (connect, request time.Duration, err error) {
	t0 := time.Now()
	c, connect, err := b.nativeRequest(hs)
	if err != nil {
		return 0, 0, err
	}
	request = time.Since(t0) - connect
	return connect, request, c.Close()
}

func printStartup(w io.Writer, s *startupReport) {
	if s == nil {
		return
	}
	guest := cmp.Or(s.Guest, "bench guest")
	if s.Skipped != "" {
		fmt.Fprintf(w, "\nSTART-UP, %s: not measured: %s\n", guest, s.Skipped)
		return
	}
	cache := "warm cache"
	if !s.Cached {
		cache = "no cache: compiled"
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "START-UP (%s %.1f MB, %s, %s)\tGUEST ms\tNATIVE ms\t\n", guest, float64(s.WasmBytes)/1e6, cache, s.Backend)
	for _, st := range s.Steps {
		n := "-"
		if st.NativeMs > 0 {
			n = fmt.Sprintf("%.2f", st.NativeMs)
		}
		fmt.Fprintf(tw, "%s\t%.2f\t%s\t\n", st.Name, st.Ms, n)
	}
	fmt.Fprintf(tw, "total\t%.2f\t-\t\n", s.TotalMs)
	_ = tw.Flush()
	fmt.Fprintf(w, "  (of connect + handshake: host TCP connect %.2f ms, host handshake %.2f ms, the rest in the guest)\n", s.HostConnectMs, s.HostHandshakeMs)
}
