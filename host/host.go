package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/tetratelabs/wazero"
	wapi "github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/internal/witnames"
)

// Host adds wasi-tls and its dependencies to one wazero.Runtime. Create it
// with [New]; instantiate guests with [Host.Instantiate]. A Host is safe for
// concurrent use.
type Host struct {
	r        wazero.Runtime
	defaults settings

	sweep     sweeper       // starts guests' pending work (see pending)
	deadlines deadlines     // ends handshakes at their timeout, one timer for all
	shared    sharedModules // host modules compiled once for all guests

	mu     sync.Mutex
	guests map[*Guest]struct{}
	seq    uint64
}

// Option configures a Host (as its default for every guest) or one guest
// (overriding the Host's default).
type Option func(*settings)

type settings struct {
	provider api.Provider
	policy   *Policy
	observer func(ConnEvent)
	logger   *slog.Logger
}

// WithProvider selects the TLS backend. Without it the registry's default
// ([api.Default]) is used.
func WithProvider(p api.Provider) Option { return func(s *settings) { s.provider = p } }

// WithPolicy sets the destination policy and TLS settings. Without it the
// guest may not connect anywhere. The Policy is copied at instantiation.
func WithPolicy(p *Policy) Option { return func(s *settings) { s.policy = p } }

// WithObserver reports every connection attempt, denial, handshake and close.
// fn is called synchronously from host goroutines and must return quickly.
func WithObserver(fn func(ConnEvent)) Option { return func(s *settings) { s.observer = fn } }

// WithLogger logs connection events with their fields as attributes
// ([ConnEvent.Attrs]): failures and denials at warn, the rest at debug.
// Failures of the host itself (a host module that cannot be made, a provider
// that ignored its deadline) are logged too.
func WithLogger(l *slog.Logger) Option { return func(s *settings) { s.logger = l } }

// New returns a Host for r. The options are defaults for every guest.
func New(r wazero.Runtime, opts ...Option) *Host {
	h := &Host{r: r, guests: map[*Guest]struct{}{}}
	for _, o := range opts {
		o(&h.defaults)
	}
	return h
}

// Instantiate instantiates compiled as a guest with its own handle table,
// provider and policy, then runs its start functions (a wasip1 command runs
// main here, as with wazero.Runtime.InstantiateModule). wasi_snapshot_preview1
// must already be in the runtime if the guest imports it.
//
// The guest's WASI 0.2 imports (wasi:tls, io, sockets, clocks, cli, random,
// filesystem) are bound to host-module instances made for this guest only.
// The command-world ones read mc, which should come from
// [NewModuleConfig]: then a guest sees one configuration whether it uses
// wasip1 or WASI 0.2. A guest that imports wasi:cli, wasi:filesystem or
// wasi:random with a config the host cannot read fails here, before it
// runs. When the module closes (explicitly, by proc_exit or
// wasi:cli/exit, or because its context ended under
// wazero.RuntimeConfig.WithCloseOnContextDone) everything it owned is closed.
//
// Settings no guest could run with are an error here, before the module is
// instantiated (and from Prepare likewise): negative Limits or
// HandshakeTimeout, TLS versions other than 1.2 and 1.3 or MinVersion above
// MaxVersion, and whatever the provider's [api.Validator] refuses (unknown
// Options, version bounds it cannot honour, an unknown Fingerprint).
//
// If the start function fails, the returned Guest is non-nil when the module
// was instantiated (inspect it, then Close it) and err says why.
func (h *Host) Instantiate(ctx context.Context, compiled wazero.CompiledModule, mc wazero.ModuleConfig, opts ...Option) (*Guest, error) {
	starts := startFunctions(mc)
	g, ctx, mc, err := h.prepare(ctx, compiled, mc, true, opts...)
	if err != nil {
		return nil, err
	}
	ctx = context.WithValue(ctx, instantiatingKey{}, g)
	g.useShims = starts != nil
	return h.start(ctx, g, compiled, mc, starts)
}

// start instantiates a prepared guest and runs its start functions. A guest
// with shims is instantiated without them, and they run once the shims are
// bound (see shim.go); starts are then the start functions mc has.
func (h *Host) start(ctx context.Context, g *Guest, compiled wazero.CompiledModule, mc wazero.ModuleConfig, starts []string) (*Guest, error) {
	if g.useShims {
		mc = mc.WithStartFunctions()
	}
	mod, err := h.r.InstantiateModule(ctx, compiled, mc)
	if mod == nil {
		g.shutdown(ctx)
		return nil, err
	}
	g.setModule(mod)
	if g.useShims && err == nil {
		g.bindShims(mod)
		err = runStarts(ctx, mod, starts)
	}
	if mod.IsClosed() {
		// wasip1 commands exit from main; the close notifier has run.
		g.shutdown(ctx)
	}
	return g, err
}

// Prepare makes a guest without instantiating it, for embedders that call
// r.InstantiateModule themselves. Its reads and polls allocate their results
// by calls into the guest from Go, a little slower than Instantiate's (see
// the package documentation). Pass it the returned context and config
// (the one wazero accepts, unwrapped from a [NewModuleConfig] config). Use
// one Prepare per module instance, and instantiate the compiled module
// given to Prepare: the guest's host modules hold the functions it imports
// and no others. It fails as Instantiate does when the guest needs a config
// the host cannot read.
//
//	g, ctx, cfg, err := h.Prepare(ctx, compiled, host.NewModuleConfig(), host.WithPolicy(p))
//	mod, err := r.InstantiateModule(ctx, compiled, cfg)
func (h *Host) Prepare(ctx context.Context, compiled wazero.CompiledModule, mc wazero.ModuleConfig, opts ...Option) (*Guest, context.Context, wazero.ModuleConfig, error) {
	return h.prepare(ctx, compiled, mc, false, opts...)
}

// prepare is Prepare; sharedMods: the guest uses the shared host modules
// (see shared.go).
func (h *Host) prepare(ctx context.Context, compiled wazero.CompiledModule, mc wazero.ModuleConfig, sharedMods bool, opts ...Option) (*Guest, context.Context, wazero.ModuleConfig, error) {
	inner, cli := unwrapConfig(mc)
	imports, mods := importsOf(compiled)
	if err := imports.check(mods); err != nil {
		return nil, nil, nil, err
	}
	if err := checkConfig(mods, cli); err != nil {
		return nil, nil, nil, err
	}
	g, err := h.newGuest(sharedMods, opts...)
	if err != nil {
		return nil, nil, nil, err
	}
	g.cli.cfg = cli
	g.imports = imports
	return g, g.bind(ctx), inner, nil
}

// checkConfig finds, before the guest runs, imports its config cannot
// serve: mods are the interfaces the guest imports, each with its module
// name (importsOf).
func checkConfig(mods map[*iface]string, cli *cliConfig) error {
	for _, f := range interfaces { // in a fixed order: the first problem is the error
		mod, ok := mods[f]
		if !ok {
			continue
		}
		switch {
		case cli == nil && f.needsConfig:
			return fmt.Errorf("host: the guest imports %s, which reads the ModuleConfig: make it with host.NewModuleConfig", mod)
		case cli != nil && f == randomRandom && cli.rand == nil:
			return fmt.Errorf("host: the guest imports %s, which must not be deterministic: set ModuleConfig.WithRandSource", mod)
		case cli != nil && f.name == witnames.FilesystemPreopens && cli.unknownFS:
			return fmt.Errorf("host: the guest imports %s, but the FSConfig was not made by host.NewFSConfig", mod)
		}
	}
	return nil
}

// Guests returns the number of guests that are open.
func (h *Host) Guests() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.guests)
}

// Close closes every guest this Host made. It does not close the runtime.
func (h *Host) Close(ctx context.Context) error {
	h.mu.Lock()
	gs := make([]*Guest, 0, len(h.guests))
	for g := range h.guests {
		gs = append(gs, g)
	}
	h.mu.Unlock()
	var errs []error
	for _, g := range gs {
		errs = append(errs, g.Close(ctx))
	}
	h.deadlines.stop()
	return errors.Join(errs...)
}

func (h *Host) newGuest(sharedMods bool, opts ...Option) (*Guest, error) {
	s := h.defaults
	for _, o := range opts {
		o(&s)
	}
	if s.provider == nil {
		p, err := api.Default()
		if err != nil {
			return nil, fmt.Errorf("host: no provider given and no default: %w", err)
		}
		s.provider = p
	}
	pol, err := compilePolicy(s.policy)
	if err != nil {
		return nil, err
	}
	if err := checkProvider(s.provider, pol); err != nil {
		return nil, err
	}
	h.mu.Lock()
	h.seq++
	id := h.seq
	h.mu.Unlock()
	g := newGuest(h, id, s, pol)
	g.sharedMods = sharedMods
	h.mu.Lock()
	h.guests[g] = struct{}{}
	h.mu.Unlock()
	return g, nil
}

func (h *Host) forget(g *Guest) {
	h.mu.Lock()
	delete(h.guests, g)
	h.mu.Unlock()
}

// bind returns ctx carrying the import resolver that hands this guest its own
// host-module instances, and the close notifier that cleans up after it.
func (g *Guest) bind(ctx context.Context) context.Context {
	ctx = experimental.WithImportResolver(ctx, g.resolve)
	// Not marked ownClose: an embedder may hand this context to
	// Runtime.Close, which calls the notifier holding the store's lock.
	return experimental.WithCloseNotifier(ctx, experimental.CloseNotifyFunc(func(ctx context.Context, _ uint32) {
		if ctx.Value(ownClose{}) == g {
			g.shutdown(ctx)
			return
		}
		// Runtime.Close calls the notifier holding the store's lock, which
		// closing the guest's host-module instances needs: release what the
		// guest owned now, and close the instances once the lock is free
		// (after Runtime.Close they are closed already, and this returns).
		g.release()
		go g.shutdown(context.WithoutCancel(ctx))
	}))
}

// ownClose marks the context of Guest.Close: the module closes with no
// wazero lock held, so the notifier can close the host-module instances at
// once. Every other close (the guest's exit, a cancelled call,
// Runtime.Close) releases at once and closes the instances afterwards.
type ownClose struct{}

// resolve is the experimental.ImportResolver of one guest.
func (g *Guest) resolve(name string) wapi.Module {
	iface, ok := parseImport(name)
	if !ok {
		return nil
	}
	m, err := g.instance(iface)
	if err != nil {
		g.logger().Error("wasitls: cannot instantiate host module", "module", name, "err", err)
		return nil
	}
	return m
}
