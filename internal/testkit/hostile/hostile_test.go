package hostile

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
	"go.uber.org/goleak"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/backends/pq"
	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/backends/utls"
	"github.com/wasitls/wasitls/conformance/pki"
	"github.com/wasitls/wasitls/host"
	"github.com/wasitls/wasitls/internal/testkit/guestbuild"
)

const (
	handshakeTimeout = 2 * time.Second
	// slack covers the host's backstop (a quarter of the timeout) and a
	// loaded 2-core machine.
	slack    = 3 * time.Second
	httpsget = "./internal/guests/httpsget"
)

// foreignGuests run the same exchange as httpsget ("get" mode), written in
// Rust and C with their own canonical-ABI code.
var foreignGuests = []string{"./internal/guests/rusttls", "./internal/guests/ctls"}

var (
	rt  wazero.Runtime
	hst *host.Host
)

func TestMain(m *testing.M) {
	ctx := context.Background()
	rt = wazero.NewRuntimeWithConfig(ctx, guestbuild.RuntimeConfig())
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	hst = host.New(rt)
	if ln, err := net.Listen("tcp4", "127.0.0.1:0"); err == nil { // the poller's descriptors
		ln.Close()
	}
	for _, g := range append([]string{httpsget}, foreignGuests...) {
		guestbuild.BuildErr(g)
	}
	code := m.Run()
	hst.Close(ctx)
	rt.Close(ctx)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// backends are the Providers under test.
func backends(t testing.TB) []api.Provider {
	u, err := utls.New()
	if err != nil {
		t.Fatal(err)
	}
	p, err := pq.New()
	if err != nil {
		t.Fatal(err)
	}
	return []api.Provider{stdtls.Provider{}, u, p}
}

var (
	envOnce sync.Once
	envVal  *Env
	envPKI  *pki.PKI
)

// env makes the certificates once per test binary.
func env(t testing.TB) (*Env, *pki.PKI) {
	envOnce.Do(func() {
		p := pki.New(t)
		srv := p.Server()
		big := srv.TLS
		big.Certificate = slices.Clone(big.Certificate)
		for i := 0; i < 16; i++ { // 16 x 64 KiB of junk "intermediates"
			junk := make([]byte, 64<<10-8)
			_, _ = rand.Read(junk)
			big.Certificate = append(big.Certificate, junk)
		}
		sans := p.Issue(pki.Leaf{CommonName: "localhost", DNSNames: []string{"localhost"}, ExtraSANs: 500})
		envVal = &Env{Cert: srv.TLS, Big: big, ManySANs: sans.TLS, Drip: DefaultDrip}
		envPKI = p
	})
	return envVal, envPKI
}

// expect adjusts a behaviour's outcome for a backend: one without TLS 1.2
// fails the TLS 1.2-only servers in the handshake.
func expect(b Behaviour, p api.Provider) Want {
	if b.TLS12 && !api.CapabilitiesOf(p).TLS12 {
		return Want{Phases: []Phase{HandshakeFailed}, Kinds: []api.Kind{api.KindProtocolVersion, api.KindPQRequired, api.KindPeerAlert, api.KindProtocol}}
	}
	if w, ok := b.Backend[p.Name()]; ok {
		return w
	}
	return b.Want
}

// outcome is what happened to one exchange.
type outcome struct {
	phase   Phase
	kind    api.Kind
	err     string
	elapsed time.Duration // of the handshake
}

func (o outcome) String() string {
	if o.phase == Succeeded {
		return fmt.Sprintf("success (handshake %v)", o.elapsed.Round(time.Millisecond))
	}
	return fmt.Sprintf("%s: %s (handshake %v): %s", o.phase, o.kind, o.elapsed.Round(time.Millisecond), o.err)
}

func check(t *testing.T, w Want, o outcome) {
	t.Helper()
	if !slices.Contains(w.Phases, o.phase) {
		t.Errorf("outcome %v, want one of %v", o, w.Phases)
		return
	}
	if o.phase != Succeeded && !slices.Contains(w.Kinds, o.kind) {
		t.Errorf("outcome %v, want kind in %v", o, w.Kinds)
	}
	if o.elapsed > handshakeTimeout+slack {
		t.Errorf("handshake took %v, over the %v timeout + %v", o.elapsed, handshakeTimeout, slack)
	}
}

const request = "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"

// TestProviders runs every behaviour against each backend directly.
func TestProviders(t *testing.T) {
	e, p := env(t)
	runSuite(t, e, backends(t), func(t *testing.T, prov api.Provider, srv *Server) outcome {
		return direct(context.Background(), prov, srv.Addr().String(), p)
	})
}

// runSuite runs every behaviour in parallel against each backend with
// exchange, checks each outcome, and checks that no descriptor outlives a
// backend's suite.
func runSuite(t *testing.T, e *Env, provs []api.Provider, exchange func(*testing.T, api.Provider, *Server) outcome) {
	for _, prov := range provs {
		t.Run(prov.Name(), func(t *testing.T) {
			fds := openFDs()
			t.Run("suite", func(t *testing.T) {
				for _, b := range Behaviours() {
					t.Run(b.Name, func(t *testing.T) {
						t.Parallel()
						srv, err := Start(b, e)
						if err != nil {
							t.Fatal(err)
						}
						defer srv.Close()
						o := exchange(t, prov, srv)
						t.Logf("%s / %s: %v", prov.Name(), b.Name, o)
						check(t, expect(b, prov), o)
					})
				}
			})
			if after := openFDs(); fds >= 0 && after != fds {
				t.Errorf("file descriptors: %d before, %d after", fds, after)
			}
		})
	}
}

// direct runs the suite's exchange straight through a Provider.
func direct(ctx context.Context, prov api.Provider, addr string, p *pki.PKI) outcome {
	cfg := &api.Config{ServerName: "localhost", RootCAs: p.Roots, HandshakeTimeout: handshakeTimeout, NextProtos: []string{"http/1.1"}}
	return runDirect(ctx, prov, addr, cfg)
}

// runDirect connects to addr, runs p's handshake with cfg, sends a request
// and reads the response to the end.
func runDirect(ctx context.Context, p api.Provider, addr string, cfg *api.Config) outcome {
	tc, err := net.Dial("tcp4", addr)
	if err != nil {
		return outcome{phase: HandshakeFailed, kind: api.KindTransport, err: err.Error()}
	}
	start := time.Now()
	conn, err := p.Client(ctx, tc, cfg)
	o := outcome{elapsed: time.Since(start)}
	if err != nil {
		tc.Close()
		o.phase, o.kind, o.err = HandshakeFailed, api.KindOf(err), err.Error()
		return o
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	_, err = io.WriteString(conn, request)
	var body []byte
	if err == nil {
		body, err = io.ReadAll(conn)
	}
	switch {
	case err != nil:
		o.phase, o.kind, o.err = ExchangeFailed, api.KindOf(err), err.Error()
	case !bytes.HasSuffix(body, []byte("\r\n\r\nok")):
		o.phase, o.kind, o.err = ExchangeFailed, api.KindUnknown, fmt.Sprintf("short response %q", body)
	default:
		o.phase = Succeeded
	}
	return o
}

// TestThroughGuest runs every behaviour through the httpsget guest on the
// host, once per backend.
func TestThroughGuest(t *testing.T) {
	e, p := env(t)
	cm := guestbuild.Compile(context.Background(), t, rt, httpsget)
	runSuite(t, e, backends(t), func(t *testing.T, prov api.Provider, srv *Server) outcome {
		return viaGuest(t, cm, prov, srv.Addr().Port, p)
	})
	if n := hst.Guests(); n != 0 {
		t.Errorf("%d guests still open", n)
	}
}

// TestThroughForeignGuests runs every behaviour through the Rust and C
// guests ("get" mode: the request written with check-write + write, no
// flush, then read at once), with stdtls and pq. Not utls: it renegotiates
// on a HelloRequest, and its Write waits for that handshake, so a request
// the host is still sending when the guest starts reading queues behind a
// renegotiation that renegotiation-hellorequest-tls12's server answers only
// after the request (a guest that flushes before reading, like httpsget,
// has its request out first).
func TestThroughForeignGuests(t *testing.T) {
	e, p := env(t)
	provs := slices.DeleteFunc(backends(t), func(p api.Provider) bool { return p.Name() == utls.Name })
	for _, guest := range foreignGuests {
		t.Run(filepath.Base(guest), func(t *testing.T) {
			cm := guestbuild.Compile(context.Background(), t, rt, guest)
			runSuite(t, e, provs, func(t *testing.T, prov api.Provider, srv *Server) outcome {
				return viaGuest(t, cm, prov, srv.Addr().Port, p, "get")
			})
		})
	}
	if n := hst.Guests(); n != 0 {
		t.Errorf("%d guests still open", n)
	}
}

// viaGuest runs httpsget (or a guest taking the same arguments after mode)
// against port and reads the outcome from the observer (handshake) and the
// guest's exit and stderr (the rest).
func viaGuest(t *testing.T, cm wazero.CompiledModule, prov api.Provider, port int, p *pki.PKI, mode ...string) outcome {
	var mu sync.Mutex
	var hs *host.ConnEvent
	pol := &host.Policy{
		Allow:            []string{"127.0.0.1:*", "localhost:*"},
		NameLookup:       true,
		RootCAs:          p.Roots,
		HandshakeTimeout: handshakeTimeout,
		ALPN:             []host.ALPNRule{{Dest: "*:*", Protocols: []string{"http/1.1"}}},
	}
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args := append(append([]string{"guest"}, mode...), "127.0.0.1", strconv.Itoa(port), "/", "localhost")
	mc := host.NewModuleConfig().WithArgs(args...).
		WithStdout(&stdout).WithStderr(&stderr).
		WithSysNanosleep().WithSysNanotime().WithSysWalltime().WithRandSource(rand.Reader)
	g, err := hst.Instantiate(ctx, cm, mc, host.WithProvider(prov), host.WithPolicy(pol), host.WithObserver(func(e host.ConnEvent) {
		if e.Phase == host.PhaseHandshake {
			mu.Lock()
			hs = &e
			mu.Unlock()
		}
	}))
	if g != nil {
		g.Close(ctx)
	}
	mu.Lock()
	defer mu.Unlock()
	if hs == nil {
		return outcome{phase: HandshakeFailed, kind: api.KindUnknown, err: fmt.Sprintf("no handshake event; exit %v; stderr %s", err, stderr.String())}
	}
	o := outcome{elapsed: hs.Duration}
	msg := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(stderr.String()), "error: "))
	var ee *sys.ExitError
	switch {
	case hs.Err != nil:
		o.phase, o.kind, o.err = HandshakeFailed, api.KindOf(hs.Err), hs.Err.Error()
		if !strings.Contains(stderr.String(), hs.Err.Error()) {
			o.kind, o.err = api.KindUnknown, fmt.Sprintf("guest did not report the io-error %q: %s", hs.Err, stderr.String())
		}
	case err == nil && strings.HasSuffix(stdout.String(), "\r\n\r\nok"):
		o.phase = Succeeded
	case errors.As(err, &ee) || err != nil:
		o.phase, o.kind, o.err = ExchangeFailed, kindOfDebug(msg), msg
	default:
		o.phase, o.kind, o.err = ExchangeFailed, api.KindUnknown, "short response: "+stdout.String()
	}
	return o
}

// kindOfDebug reads the kind from an io-error debug string ("tls: <kind> ...").
func kindOfDebug(msg string) api.Kind {
	rest, ok := strings.CutPrefix(msg, "tls: ")
	if !ok {
		return api.KindUnknown
	}
	best, kind := "", api.KindUnknown
	for k := api.Kind(1); !strings.HasPrefix(k.String(), "kind("); k++ {
		if name := k.String(); strings.HasPrefix(rest, name) && len(name) > len(best) {
			best, kind = name, k
		}
	}
	return kind
}
