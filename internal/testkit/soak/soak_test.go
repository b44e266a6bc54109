package soak

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"go.uber.org/goleak"

	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/conformance/pki"
	"github.com/wasitls/wasitls/host"
	"github.com/wasitls/wasitls/internal/testkit/hostile"
	"github.com/wasitls/wasitls/internal/testkit/peers"
	"github.com/wasitls/wasitls/internal/testkit/rawguest"
)

const (
	guests      = 200 // per round, all at once
	connsPerGst = 5
	hsTimeout   = 10 * time.Second // every round has 1000 handshakes in flight at once
	heapSlack   = 8 << 20          // bytes the heap may grow (caches, pools)
)

func duration(t *testing.T) time.Duration {
	if s := os.Getenv("WASITLS_SOAK"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("WASITLS_SOAK=%q: %v", s, err)
		}
		return d
	}
	if os.Getenv("CI") == "true" {
		return 60 * time.Second
	}
	return 5 * time.Second
}

func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// kinds of servers a connection goes to.
type kind int

const (
	good     kind = iota // answers the request, close_notify
	truncate             // answers, then closes without close_notify
	reset                // resets after the ClientHello
	stall                // never answers: the handshake times out
	abort                // good server, but the guest is closed mid-handshake
	nKinds
)

var kindNames = [...]string{"good", "truncate", "reset", "stall", "abort"}

// pickKind chooses a server kind: mostly good ones.
func pickKind(r *rand.Rand) kind {
	switch n := r.IntN(100); {
	case n < 55:
		return good
	case n < 70:
		return truncate
	case n < 82:
		return reset
	case n < 92:
		return stall
	default:
		return abort
	}
}

type stats struct {
	conns [nKinds]atomic.Int64
	bad   atomic.Int64
	first sync.Once
	msg   string
}

func (s *stats) fail(format string, args ...any) {
	s.bad.Add(1)
	s.first.Do(func() { s.msg = fmt.Sprintf(format, args...) })
}

const request = "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"

// soakGuest is one guest of a round with its connections' handshakes in
// flight.
type soakGuest struct {
	x    *rawguest.Guest
	ks   [connsPerGst]kind
	futs [connsPerGst]uint32
}

// start instantiates a guest, connects connsPerGst times and starts every
// handshake.
func start(ctx context.Context, h *host.Host, cm wazero.CompiledModule, pol *host.Policy, addrs [nKinds]netip.AddrPort, pick func() kind, st *stats) *soakGuest {
	x, err := rawguest.New(ctx, h, cm, host.WithPolicy(pol))
	if err != nil {
		st.fail("instantiate: %v", err)
		return nil
	}
	g := &soakGuest{x: x}
	for i := range g.ks {
		g.ks[i] = pick()
		_, in, out, err := x.Connect(addrs[g.ks[i]])
		if err != nil {
			st.fail("connect %s: %v", kindNames[g.ks[i]], err)
			return g
		}
		if g.futs[i], err = x.StartHandshake("localhost", in, out); err != nil {
			st.fail("start handshake: %v", err)
			return g
		}
		st.conns[g.ks[i]].Add(1)
	}
	return g
}

// finish completes and uses the connections in turn (a guest with an abort
// connection is closed with every handshake in flight instead), then closes
// the guest.
func (g *soakGuest) finish(st *stats) {
	if g == nil {
		return
	}
	x := g.x
	defer x.Close(context.Background())
	for _, k := range g.ks {
		if k == abort {
			return
		}
	}
	for i, k := range g.ks {
		_, tin, tout, err := x.Finish(g.futs[i])
		var ioe *rawguest.IOError
		switch k {
		case good, truncate:
			if err != nil {
				st.fail("%s: handshake: %v", kindNames[k], err)
				return
			}
			if err := x.Write(tout, []byte(request)); err != nil {
				st.fail("%s: write: %v", kindNames[k], err)
				return
			}
			body, err := x.ReadAll(tin)
			switch {
			case k == good && (err != nil || !strings.HasSuffix(string(body), "\r\n\r\nok")):
				st.fail("good: %q %v", body, err)
			case k == truncate && (!errors.As(err, &ioe) || !strings.Contains(ioe.Debug, "tls: transport failure")):
				st.fail("truncate: %q %v, want a transport failure", body, err)
			}
		case reset:
			if !errors.As(err, &ioe) || !strings.HasPrefix(ioe.Debug, "tls: transport failure") {
				st.fail("reset: %v", err)
			}
		case stall:
			if !errors.As(err, &ioe) || !strings.HasPrefix(ioe.Debug, "tls: handshake timeout") {
				st.fail("stall: %v", err)
			}
		}
	}
}

// round runs n guests at once: all of them connect and start their
// handshakes, then all finish. Seed 0 is a warm-up: good servers only.
func round(ctx context.Context, n int, seed uint64, h *host.Host, cm wazero.CompiledModule, pol *host.Policy, addrs [nKinds]netip.AddrPort, st *stats) {
	var started, done sync.WaitGroup
	release := make(chan struct{})
	started.Add(n)
	done.Add(n)
	for i := 0; i < n; i++ {
		go func(i int) {
			defer done.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(i)))
			choose := func() kind { return pickKind(rng) }
			if seed == 0 {
				choose = func() kind { return good }
			}
			g := start(ctx, h, cm, pol, addrs, choose, st)
			started.Done()
			<-release
			g.finish(st)
		}(i)
	}
	started.Wait()
	close(release)
	done.Wait()
}

// TestSoak runs rounds of guests until the duration passes, then checks that
// descriptors, goroutines and heap are back at their starting level.
func TestSoak(t *testing.T) {
	d := duration(t)
	ctx := context.Background()
	p := pki.New(t)
	env := &hostile.Env{Cert: p.Server().TLS, Drip: time.Second}
	var addrs [nKinds]netip.AddrPort
	var servers []*hostile.Server
	names := map[kind]string{good: "control-well-behaved", truncate: "close-without-close-notify", reset: "rst-after-clienthello", stall: "silence", abort: "control-well-behaved"}
	for _, b := range hostile.Behaviours() {
		for k, n := range names {
			if b.Name == n {
				srv, err := hostile.Start(b, env)
				if err != nil {
					t.Fatal(err)
				}
				servers = append(servers, srv)
				addrs[k] = srv.Addr().AddrPort()
			}
		}
	}
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(true))
	defer r.Close(ctx)
	h := host.New(r, host.WithProvider(stdtls.Provider{}))
	cm, err := rawguest.Compile(ctx, r, "0.2.6")
	if err != nil {
		t.Fatal(err)
	}
	pol := &host.Policy{Allow: []string{"127.0.0.1:*"}, RootCAs: p.Roots, HandshakeTimeout: hsTimeout}
	st := &stats{}

	// Warm up (pools, caches, the poller), then take the baseline.
	round(ctx, 20, 0, h, cm, pol, addrs, st)
	if st.bad.Load() > 0 {
		t.Fatalf("warm-up: %s", st.msg)
	}
	st = &stats{}
	settle(t, servers)
	fds0, gor0, heap0 := openFDs(), runtime.NumGoroutine(), heap()
	if fds0 < 0 {
		peers.Unavailable(t, "no /proc/self/fd to count descriptors")
	}
	ignore := goleak.IgnoreCurrent()

	begin := time.Now()
	rounds, total := 0, 0
	for time.Since(begin) < d {
		round(ctx, guests, uint64(rounds+1), h, cm, pol, addrs, st)
		rounds++
		total += guests
		if st.bad.Load() > 0 {
			break
		}
	}
	elapsed := time.Since(begin)
	settle(t, servers)
	if n := h.Guests(); n != 0 {
		t.Errorf("%d guests open after the soak", n)
	}
	fds1, gor1, heap1 := openFDs(), runtime.NumGoroutine(), heap()
	if err := goleak.Find(ignore); err != nil {
		t.Errorf("goroutines left: %v", err)
		gor1 = runtime.NumGoroutine()
	} else {
		gor1 = runtime.NumGoroutine()
	}
	var per []string
	for k := kind(0); k < nKinds; k++ {
		per = append(per, fmt.Sprintf("%s %d", kindNames[k], st.conns[k].Load()))
	}
	t.Logf("soak: %v, %d rounds, %d guests x %d connections (%s), %d failures", elapsed.Round(time.Millisecond), rounds, total, connsPerGst, strings.Join(per, ", "), st.bad.Load())
	t.Logf("soak: file descriptors %d -> %d, goroutines %d -> %d, heap %.1f MiB -> %.1f MiB", fds0, fds1, gor0, gor1, float64(heap0)/(1<<20), float64(heap1)/(1<<20))
	line := fmt.Sprintf("soak: file descriptors %d -> %d, goroutines %d -> %d, heap %.1f MiB -> %.1f MiB (%d guests, %d connections, %s, %d failures)\n",
		fds0, fds1, gor0, gor1, float64(heap0)/(1<<20), float64(heap1)/(1<<20), total, total*connsPerGst, elapsed.Round(time.Second), st.bad.Load())
	fmt.Print(line)
	// go test ./... shows a passing package's output only with -v; CI
	// points WASITLS_SOAK_REPORT at a file and prints it.
	if path := os.Getenv("WASITLS_SOAK_REPORT"); path != "" {
		if err := os.WriteFile(path, []byte(line), 0o644); err != nil {
			t.Errorf("WASITLS_SOAK_REPORT: %v", err)
		}
	}
	if st.bad.Load() > 0 {
		t.Errorf("%d connections ended unexpectedly; first: %s", st.bad.Load(), st.msg)
	}
	if fds1 != fds0 {
		t.Errorf("file descriptors: %d before, %d after", fds0, fds1)
	}
	// Growth is a leak; fewer after is the warm-up's last goroutines (server
	// handlers, closing connections) ending after the baseline was taken:
	// the run's own goroutines are checked one by one by goleak above.
	if gor1 > gor0 {
		t.Errorf("goroutines: %d before, %d after", gor0, gor1)
	}
	if heap1 > heap0+heapSlack {
		t.Errorf("heap: %d before, %d after (more than %d MiB of growth)", heap0, heap1, heapSlack>>20)
	}
	h.Close(ctx)
	for _, s := range servers {
		s.Close()
	}
}

// settle waits until the servers have no connection left: a barrier
// connection to each, accepted after every earlier one and ended by us,
// shows that the servers have seen every guest connection.
func settle(t *testing.T, servers []*hostile.Server) {
	t.Helper()
	for _, s := range servers {
		if !s.WaitIdle(10 * time.Second) {
			t.Errorf("server %s still has connections", s.Addr())
		}
	}
}
