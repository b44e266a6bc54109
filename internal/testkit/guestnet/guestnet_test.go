package guestnet

import (
	"bufio"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/backends/pq"
	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/backends/utls"
	"github.com/wasitls/wasitls/conformance/pki"
	"github.com/wasitls/wasitls/host"
	"github.com/wasitls/wasitls/internal/testkit/guestrun"
)

const (
	guestHTTP = "./examples/guest-http"
	rawGet    = "./internal/guests/rawget"
)

var env *guestrun.Env

func TestMain(m *testing.M) {
	env = guestrun.MustNew()
	guestrun.Main(m, guestrun.Build(guestHTTP, rawGet, connGuest), guestrun.Cleanup(env.Close))
}

func providers(tb testing.TB) map[string]api.Provider {
	u, err := utls.New()
	if err != nil {
		tb.Fatal(err)
	}
	p, err := pq.New()
	if err != nil {
		tb.Fatal(err)
	}
	return map[string]api.Provider{"stdtls": stdtls.Provider{}, "utls": u, "pq": p}
}

// run is a guest's result with its stdout as "key value" lines.
type run struct {
	guestrun.Result
	out map[string][]string
}

// runGuest runs pkg with args under provider p, allowing loopback only and
// trusting roots.
func runGuest(tb testing.TB, pkg string, p api.Provider, roots *pki.PKI, args ...string) run {
	tb.Helper()
	r := run{Result: env.Run(tb, pkg, args, guestrun.Argv0("guest"), guestrun.Timeout(90*time.Second),
		guestrun.Provider(p), guestrun.Policy(guestrun.Loopback(host.Policy{RootCAs: roots.Roots})))}
	if r.Stderr != "" {
		tb.Logf("guest stderr: %s", r.Stderr)
	}
	r.out = map[string][]string{}
	sc := bufio.NewScanner(strings.NewReader(r.Stdout))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		r.out[k] = append(r.out[k], v)
	}
	return r
}

func (r run) one(tb testing.TB, key string) string {
	tb.Helper()
	if len(r.out[key]) != 1 {
		tb.Fatalf("want one %q line in the guest's output:\n%s", key, r.Stdout)
	}
	return r.out[key][0]
}

// testServer is the HTTPS server the suite talks to.
type testServer struct {
	*httptest.Server
	conns   atomic.Int32 // connections accepted
	uploads chan string  // SHA-256 of each upload, hex
	port    string
}

func newServer(tb testing.TB, cert tls.Certificate) *testServer {
	s := &testServer{uploads: make(chan string, 4)}
	var mu sync.Mutex
	arrived, both := 0, make(chan struct{})
	zeros := make([]byte, 256<<10)
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, r.RemoteAddr) // keep-alive shows as the same address
	})
	mux.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		if _, err := io.Copy(h, r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		sum := hex.EncodeToString(h.Sum(nil))
		s.uploads <- sum
		fmt.Fprintln(w, sum)
	})
	mux.HandleFunc("/barrier", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if arrived++; arrived == 2 {
			close(both)
		}
		mu.Unlock()
		select {
		case <-both:
			fmt.Fprintln(w, "both")
		case <-time.After(20 * time.Second):
			http.Error(w, "the other request never came", http.StatusGatewayTimeout)
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/download", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Query().Get("n"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(n))
		for n > 0 {
			k, err := w.Write(zeros[:min(n, len(zeros))])
			if err != nil {
				return
			}
			n -= k
		}
	})
	s.Server = httptest.NewUnstartedServer(mux)
	// HTTP/1.1 only: utls's parrot offers h2, and the guest's transport
	// never learns the ALPN result.
	s.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}}
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.StartTLS()
	tb.Cleanup(s.Close)
	s.port = strconv.Itoa(s.Listener.Addr().(*net.TCPAddr).Port)
	return s
}

func TestHTTPSuite(t *testing.T) {
	p := pki.New(t)
	cert := p.Server().TLS
	for name, prov := range providers(t) {
		t.Run(name, func(t *testing.T) {
			srv := newServer(t, cert)
			start := time.Now()
			r := runGuest(t, guestHTTP, prov, p, "suite", "https://localhost:"+srv.port)
			t.Logf("%s: guest ran %v\n%s", name, time.Since(start).Round(time.Millisecond), r.Stdout)
			if r.Exit != 0 {
				t.Fatalf("exit %d:\n%s", r.Exit, r.Stdout)
			}
			var from []string
			for _, g := range r.out["get"] {
				from = append(from, strings.Fields(g)[0])
			}
			if len(from) != 2 || from[0] != from[1] {
				t.Fatalf("keep-alive: the two GETs came from %q", from)
			}
			// Two GETs and the POST share a connection; the concurrent pair
			// needs a second one.
			if n := srv.conns.Load(); n != 2 {
				t.Errorf("server saw %d connections, want 2", n)
			}
			post := strings.Fields(r.one(t, "post"))
			select {
			case sum := <-srv.uploads:
				if post[0] != sum || post[1] != strconv.Itoa(10<<20) {
					t.Errorf("guest posted %q, server hashed %s", post, sum)
				}
			default:
				t.Error("the server saw no upload")
			}
			if len(strings.Fields(r.one(t, "concurrent"))) != 3 {
				t.Errorf("concurrent line %q", r.out["concurrent"])
			}
			var handshakes int
			for _, e := range r.Events {
				if e.Phase == host.PhaseHandshake && e.Err == nil {
					handshakes++
					if e.Backend != name {
						t.Errorf("handshake by backend %q, want %q", e.Backend, name)
					}
				}
			}
			if handshakes != 2 {
				t.Errorf("%d successful handshakes, want 2", handshakes)
			}
		})
	}
}

// TestPlainHTTP covers DialContext (no TLS).
func TestPlainHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "plain %s", r.URL.Path)
	}))
	t.Cleanup(srv.Close)
	r := runGuest(t, guestHTTP, stdtls.Provider{}, pki.New(t), "get", srv.URL+"/x")
	if r.Exit != 0 || r.one(t, "status") != "200" || r.one(t, "body") != `"plain /x"` {
		t.Fatalf("exit %d:\n%s", r.Exit, r.Stdout)
	}
}

func TestHandshakeFailure(t *testing.T) {
	untrusted := pki.New(t)
	srv := newServer(t, untrusted.Server().TLS)
	r := runGuest(t, guestHTTP, stdtls.Provider{}, pki.New(t), "get", "https://localhost:"+srv.port+"/hello")
	if r.Exit != 1 {
		t.Fatalf("exit %d, want 1:\n%s", r.Exit, r.Stdout)
	}
	if got := r.one(t, "handshake_kind"); got != "unknown authority" {
		t.Errorf("kind %q", got)
	}
	if debug := r.one(t, "handshake_debug"); !strings.HasPrefix(debug, "tls: unknown authority") {
		t.Errorf("debug string %q", debug)
	}
	if r.one(t, "is") != "unknown_authority" {
		t.Errorf("errors.Is matches %q", r.out["is"])
	}
}

// silentServer accepts connections (doing the TLS handshake if cert is
// given) and never sends anything.
func silentServer(t *testing.T, cert *tls.Certificate) string {
	return "127.0.0.1:" + serve(t, func(c net.Conn) {
		if cert != nil {
			tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{*cert}})
			if tc.Handshake() != nil {
				return
			}
			c = tc
		}
		io.Copy(io.Discard, c) // until the guest closes
	})
}

func TestReadDeadline(t *testing.T) {
	p := pki.New(t)
	cert := p.Server().TLS
	const deadline = 500 * time.Millisecond
	for _, mode := range []string{"tcp", "tls", "interrupt"} {
		t.Run(mode, func(t *testing.T) {
			var addr string
			if mode == "tls" {
				_, port, _ := net.SplitHostPort(silentServer(t, &cert))
				addr = "localhost:" + port // the name the certificate is for
			} else {
				addr = silentServer(t, nil)
			}
			r := runGuest(t, guestHTTP, stdtls.Provider{}, p, "deadline", mode, addr, strconv.Itoa(int(deadline.Milliseconds())))
			if r.Exit != 0 {
				t.Fatalf("exit %d:\n%s", r.Exit, r.Stdout)
			}
			us, _ := strconv.Atoi(r.one(t, "elapsed_us"))
			elapsed := time.Duration(us) * time.Microsecond
			t.Logf("%s: read returned after %v: %s", mode, elapsed, r.one(t, "err"))
			if r.one(t, "timeout") != "true" || r.one(t, "deadline_exceeded") != "true" {
				t.Errorf("not a deadline error:\n%s", r.Stdout)
			}
			slack := time.Duration(0)
			if mode == "interrupt" {
				// The deadline is set by a goroutine woken by a Go timer,
				// which may fire up to the timer slack (20 ms) late.
				slack = 20 * time.Millisecond
			}
			if d := elapsed - deadline; d < -deadline/10 || d > deadline/10+slack {
				t.Errorf("read returned after %v, want %v ± 10%%", elapsed, deadline)
			}
		})
	}
}

// TestIdle has the guest wait 1 s on a silent server and checks that it
// slept in the host instead of spinning: a busy poller would make thousands
// of poll calls. It logs the CPU time the whole process used in the middle
// 800 ms of the wait (the host side of the guest's wake-ups included), at
// the default timer slack and at 100 ms.
func TestIdle(t *testing.T) {
	accepted := make(chan struct{}, 1)
	port := serve(t, func(c net.Conn) {
		accepted <- struct{}{}
		io.Copy(io.Discard, c)
	})
	p := pki.New(t)
	env.Compile(t, connGuest)
	for _, slack := range []string{"20ms", "100ms"} {
		t.Run(slack, func(t *testing.T) {
			done := make(chan run, 1)
			go func() { done <- runGuest(t, connGuest, stdtls.Provider{}, p, "idle", "127.0.0.1:"+port, slack) }()
			var window, cpu time.Duration
			select {
			case <-accepted:
				// The guest sets its deadline and parks right after connecting.
				time.Sleep(100 * time.Millisecond)
				before, start := cpuTime(), time.Now()
				time.Sleep(800 * time.Millisecond)
				cpu, window = cpuTime()-before, time.Since(start)
			case r := <-done:
				t.Fatalf("the guest never connected: exit %d\n%s", r.Exit, r.Stdout)
			}
			r := <-done
			if r.Exit != 0 || r.one(t, "timeout") != "true" {
				t.Fatalf("exit %d:\n%s", r.Exit, r.Stdout)
			}
			t.Logf("slack %s: process CPU %v in %v (%.2f%% of a core) while the guest waited; guest %s", slack, cpu,
				window.Round(time.Millisecond), 100*cpu.Seconds()/window.Seconds(), r.one(t, "stats"))
			var polls, blocking int
			fmt.Sscanf(r.one(t, "stats"), "polls=%d blocking=%d", &polls, &blocking)
			// 1 s at a 20 ms slack is about 50 blocking polls.
			if blocking == 0 || polls+blocking > 200 {
				t.Errorf("the guest did not sleep in the host: %s", r.one(t, "stats"))
			}
		})
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
