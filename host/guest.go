package host

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero"
	wapi "github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/api"
)

// Guest is one guest module instance with its own handle table, provider and
// policy. Close it (or the module) to release everything it owned.
type Guest struct {
	h     *Host
	id    uint64
	s     settings
	pol   *policy
	table *table
	cli   cliState // the command world: configuration and stdio

	// ctx is canceled when the guest shuts down; background work (dials,
	// lookups, handshakes, stream pumps) runs under it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// direct: the provider honours its context (Capabilities.
	// HonorsContext), so handshakes call it on the goroutine that runs
	// them, inline in the guest's wait where possible (see pending).
	direct   bool
	sessions tls.ClientSessionCache
	reallocs reallocCache // the module's cabi_realloc, reused across calls

	quota      *quota                 // buffered bytes (Limits.BufferedBytes)
	conns      atomic.Int32           // TCP sockets and connections (Limits.Connections)
	handshakes atomic.Int32           // handshakes in flight
	npending   atomic.Int32           // len(pending)
	deferred   atomic.Bool            // deferred work since the sweeper last looked
	swept      atomic.Bool            // the sweeper looks at this guest
	workq      chan func()            // idle workers receive here (see work)
	idle       atomic.Int32           // idle workers
	hasMod     atomic.Bool            // mod is known
	name       atomic.Pointer[string] // Name, once mod is known
	// sharedMods: the guest's host modules are instances of the Host's
	// shared compiled ones (see shared.go); set before instantiation.
	sharedMods bool
	// imports: the functions of each interface the guest imports, the
	// ones its host modules are compiled with (see imports.go); set
	// before instantiation.
	imports importSet
	// useShims: the guest's list-returning imports go through shims (see
	// shim.go); set before instantiation.
	useShims bool
	held     heldResults            // results between a shim's halves
	shimErr  atomic.Pointer[string] // why the allocator is not bound

	mu        sync.Mutex
	mod       wapi.Module
	mods      map[*iface]wapi.Module
	shims     map[*iface]*shimRef // the shims, by interface
	fixups    []wapi.Module       // the modules that bound them
	compiled  []wazero.CompiledModule
	resolved  map[netip.Addr][]string // canonical names this guest looked up, by answer (see recordName)
	nresolved int                     // names in resolved
	pending   map[*pending]struct{}   // connects and handshakes not started (see pending)
	closed    bool
	released  chan struct{} // closed when release has finished; made by the first release
	lingerID  uint64
	linger    map[uint64]func() // forced closes of connections still draining
}

func newGuest(h *Host, id uint64, s settings, pol *policy) *Guest {
	ctx, cancel := context.WithCancel(context.Background())
	return &Guest{
		h: h, id: id, s: s, pol: pol,
		direct:   api.CapabilitiesOf(s.provider).HonorsContext,
		table:    newTable(pol.limits.Handles),
		quota:    newQuota(pol.limits.BufferedBytes),
		ctx:      ctx,
		cancel:   cancel,
		workq:    make(chan func()),
		sessions: tls.NewLRUClientSessionCache(64),
		mods:     map[*iface]wapi.Module{},
		resolved: map[netip.Addr][]string{},
	}
}

// reallocCache lends call engines for the guest's cabi_realloc: one per
// concurrent host call, reused, so a returned list costs no allocation.
type reallocCache struct {
	pool sync.Pool
	// name is the export to allocate with when not cabi_realloc: a
	// component's main module may name cabi_import_realloc (see
	// InstantiateComponent). Set before the guest runs.
	name string
}

func (r *reallocCache) Get(mod wapi.Module) wapi.Function {
	if f, ok := r.pool.Get().(wapi.Function); ok {
		return f
	}
	return mod.ExportedFunction(r.export())
}

// export is the name of the guest's allocator.
func (r *reallocCache) export() string {
	if r.name != "" {
		return r.name
	}
	return "cabi_realloc"
}

func (r *reallocCache) Put(f wapi.Function) { r.pool.Put(f) }

// Module returns the guest's module instance (nil before instantiation).
func (g *Guest) Module() wapi.Module {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.mod
}

// Name returns the module's name, or "guest-N" for an anonymous one.
func (g *Guest) Name() string {
	if n := g.name.Load(); n != nil {
		return *n
	}
	g.mu.Lock()
	mod := g.mod
	g.mu.Unlock()
	n := fmt.Sprintf("guest-%d", g.id)
	if mod != nil && mod.Name() != "" {
		n = mod.Name()
	}
	if mod != nil {
		// Fixed from here on: every connection event carries it, and
		// formatting it each time was a good part of observing one.
		g.name.Store(&n)
	}
	return n
}

// Provider returns the guest's TLS backend.
func (g *Guest) Provider() api.Provider { return g.s.provider }

// BufferedBytes returns how many bytes the host holds (or has reserved)
// for the guest in stream buffers; it never exceeds Limits.BufferedBytes.
func (g *Guest) BufferedBytes() int { return int(g.quota.inUse()) }

// OpenHandles returns how many resources the guest holds.
func (g *Guest) OpenHandles() int { return g.table.count() }

// Close closes the guest module and everything it owned. It is safe to call
// more than once, after the module closed by itself, and on the nil *Guest
// of a failed Instantiate (so `defer g.Close(ctx)` may precede the error
// check).
func (g *Guest) Close(ctx context.Context) error {
	if g == nil {
		return nil
	}
	var err error
	if m := g.Module(); m != nil {
		err = m.Close(context.WithValue(ctx, ownClose{}, g)) // runs the close notifier, hence shutdown
	}
	g.shutdown(ctx)
	return err
}

// setModule records the guest's module: after instantiation, or from its
// first host call (a wasip1 command runs main during instantiation, and a
// Prepare'd guest is instantiated by the embedder). It reports whether m is
// the guest's module (false if another one was recorded first).
func (g *Guest) setModule(m wapi.Module) bool {
	g.mu.Lock()
	if g.mod == nil {
		g.mod = m
		if g.sharedMods && !g.closed {
			g.h.shared.guests.Store(m, g)
		}
	}
	same := g.mod == m
	g.mu.Unlock()
	g.hasMod.Store(true)
	return same
}

func (g *Guest) logger() *slog.Logger {
	if g.s.logger != nil {
		return g.s.logger
	}
	return slog.New(slog.DiscardHandler)
}

// goroutine runs fn in the background under the guest's wait group.
func (g *Guest) goroutine(fn func()) {
	g.wg.Add(1)
	g.work(func() {
		defer g.wg.Done()
		fn()
	})
}

// maxIdleWorkers bounds the goroutines a guest keeps waiting for work.
const maxIdleWorkers = 2

// work runs fn on an idle worker goroutine of the guest, or on a new one.
// Workers are reused because their stacks have grown: a TLS handshake
// needs tens of KiB of stack, which a fresh goroutine grows, copying it
// several times, on every connection. Idle workers end with the guest.
func (g *Guest) work(fn func()) {
	select {
	case g.workq <- fn:
	default:
		go g.worker(fn)
	}
}

func (g *Guest) worker(fn func()) {
	for {
		fn()
		if g.ctx == nil { // a bare Guest in a unit test
			return
		}
		if g.idle.Add(1) > maxIdleWorkers {
			g.idle.Add(-1)
			return
		}
		select {
		case fn = <-g.workq:
			g.idle.Add(-1)
		case <-g.ctx.Done():
			g.idle.Add(-1)
			return
		}
	}
}

// afterDrain runs fn when s has written everything it accepted. Until then
// force is kept, and release calls it if the guest closes first.
func (g *Guest) afterDrain(s *sink, force, fn func()) {
	g.mu.Lock()
	if g.closed && g.linger == nil {
		g.mu.Unlock()
		force()
		return
	}
	if g.linger == nil {
		g.linger = map[uint64]func(){}
	}
	g.lingerID++
	id := g.lingerID
	g.linger[id] = force
	g.mu.Unlock()
	s.whenDrained(func() {
		g.mu.Lock()
		_, pending := g.linger[id]
		delete(g.linger, id)
		g.mu.Unlock()
		if pending {
			fn()
		}
	})
}

// shutdown closes everything the guest owned, waits for its goroutines,
// and closes its host-module instances. It runs from the module's close
// notifier or from Close; later calls do nothing.
func (g *Guest) shutdown(ctx context.Context) {
	g.release()
	g.mu.Lock()
	mods := g.mods
	g.mods = nil
	extra := g.fixups
	for _, ref := range g.shims {
		extra = append(extra, ref.shim)
	}
	g.shims, g.fixups = nil, nil
	compiled := g.compiled
	g.compiled = nil
	g.mu.Unlock()
	for _, m := range extra {
		_ = m.Close(ctx)
	}
	for _, m := range mods {
		_ = m.Close(ctx)
	}
	for _, c := range compiled {
		_ = c.Close(ctx)
	}
}

// release closes every resource the guest owned and waits for its
// goroutines, once; a second call waits until the first has finished, so
// Close never returns while a release begun elsewhere (a blocked call's
// context ending) is still under way. It is safe inside a host call of the
// guest (the host-module instances stay until shutdown).
func (g *Guest) release() {
	g.mu.Lock()
	if g.closed {
		done := g.released
		g.mu.Unlock()
		if done != nil {
			<-done
		}
		return
	}
	g.closed = true
	g.released = make(chan struct{})
	defer close(g.released)
	if g.sharedMods && g.mod != nil {
		g.h.shared.guests.Delete(g.mod)
	}
	for _, ref := range g.shims {
		g.h.shared.guests.Delete(ref.shim)
	}
	g.mu.Unlock()
	g.h.sweep.forget(g)

	g.cancel()
	for _, v := range g.table.drain() {
		if c, ok := v.(closer); ok {
			c.close()
		}
	}
	g.mu.Lock()
	forced := g.linger
	g.linger = nil
	g.mu.Unlock()
	for _, force := range forced {
		force()
	}
	g.wg.Wait()
	g.h.forget(g)
}

// hostModuleConfig instantiates host modules. Its random source is never
// read; set, it spares wazero seeding a math/rand source for every instance
// (some 20 µs, a dozen times per guest).
var hostModuleConfig = wazero.NewModuleConfig().WithName("").WithRandSource(rand.Reader)

// instance returns the guest's own instance of a host module, creating it on
// first use.
func (g *Guest) instance(f *iface) (wapi.Module, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed || g.mods == nil {
		return nil, fmt.Errorf("guest is closed")
	}
	ctx := context.Background()
	m, ok := g.mods[f]
	if !g.sharedMods {
		if ok {
			return m, nil
		}
		return g.ownInstance(ctx, f)
	}
	shim := g.useShims && g.imports.hasList(f)
	if !ok {
		cm, err := g.h.compiledFor(ctx, f, g.imports, shim)
		if err != nil {
			return nil, err
		}
		if m, err = g.h.r.InstantiateModule(ctx, cm, hostModuleConfig); err != nil {
			return nil, err
		}
		g.mods[f] = m
	}
	if shim {
		return g.shim(ctx, f, m) // the guest links to the shim, the shim to m
	}
	return m, nil
}

// ownInstance compiles and instantiates a host module of f for this guest
// alone (a guest of Prepare). g.mu is held.
func (g *Guest) ownInstance(ctx context.Context, f *iface) (wapi.Module, error) {
	b := g.h.r.NewHostModuleBuilder(f.name)
	for _, d := range g.imports.fns(f) {
		d.build(b, d.bind(g))
	}
	cm, err := b.Compile(ctx)
	if err != nil {
		return nil, err
	}
	m, err := g.h.r.InstantiateModule(ctx, cm, hostModuleConfig)
	if err != nil {
		_ = cm.Close(ctx)
		return nil, err
	}
	g.compiled = append(g.compiled, cm)
	g.mods[f] = m
	return m, nil
}
