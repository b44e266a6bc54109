package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/exaring/ja4plus"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/host"
	"github.com/wasitls/wasitls/observe"
)

// demoResult is what one backend's run of the demo guest produced.
type demoResult struct {
	Backend   string
	FirstLine string              // the first line of the page the guest printed
	State     api.ConnectionState // as the host's backend reported it
	Handshake time.Duration
	ServerJA4 string // computed by the server from the ClientHello it received
	ClientJA4 string // computed by the CLI from the ClientHello the backend sent
	Err       error
}

func demoCommand(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	var backends listFlag
	fs.Var(&backends, "backend", "run only backend `NAME` (repeatable; default: every compiled-in backend)")
	guestFile := fs.String("guest", "", "use this demo guest `FILE.wasm` (a core module or a WASI 0.2 component) instead of building internal/guests/demo")
	verbose := fs.Bool("v", false, "log every connection to stderr, as wasitls run -v does")
	quiet := fs.Bool("q", false, "say nothing on stderr about slow steps (building and compiling the guest)")
	serve := fs.Bool("serve", false, "also run the example HTTPS server as a guest (host-held certificate, mTLS) and fetch a page from it with Go's client over HTTP/2")
	var cache cacheOptions
	cache.flags(fs)
	if err := parseFlags(fs, args, stdout, "wasitls demo [flags]"); err != nil {
		return exitUsage, err
	}
	if fs.NArg() > 0 {
		return exitUsage, usagef("demo: unexpected argument %q", fs.Arg(0))
	}
	names := demoOrder()
	if len(backends) > 0 {
		names = nil
		for _, b := range backends {
			for _, n := range strings.Split(b, ",") {
				if _, err := pickProvider(n); err != nil {
					return exitUsage, err
				}
				names = append(names, n)
			}
		}
	}

	var progress io.Writer
	if !*quiet {
		progress = stderr
	}
	start := time.Now()
	var wasm []byte
	var err error
	how := "built from internal/guests/demo"
	if *guestFile != "" {
		if err := fileExists("-guest", *guestFile); err != nil {
			return exitUsage, err
		}
		if wasm, err = os.ReadFile(*guestFile); err != nil {
			return exitUsage, usagef("-guest %s: %v", *guestFile, err)
		}
		how = "from " + *guestFile
	} else {
		// The first build compiles Go's standard library for wasip1 (a
		// minute or more on a small machine); later ones come from the go
		// build cache in a second.
		if _, err = announce(progress, "building internal/guests/demo with GOOS=wasip1 go build (the first time compiles Go's standard library for wasm: a minute or more; then it is in the go build cache)", func() error {
			wasm, err = buildGuest(ctx, "demo")
			return err
		}); err != nil {
			return exitFailure, err
		}
	}
	built := time.Since(start)

	var logger *slog.Logger
	if *verbose {
		logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	d, err := newDemo(ctx, wasm, logger, cache, progress)
	if err != nil {
		return exitFailure, err
	}
	defer d.Close()
	fmt.Fprintf(stdout, "wasitls demo: HTTPS server on %s (loopback; certificate from a fresh in-memory CA)\n", d.url)
	fmt.Fprintf(stdout, "guest: demoguest.wasm, %.1f MB, %s in %v, compiled in %v\n\n",
		float64(len(wasm))/1e6, how, built.Round(time.Millisecond), d.compileTime.Round(time.Millisecond))

	results := d.runAll(ctx, names)
	failed := printDemo(stdout, results)
	if failed > 0 {
		return exitFailure, fmt.Errorf("demo: %d of %d backends failed", failed, len(results))
	}
	if *serve {
		page, state, err := d.serve(ctx, progress)
		if err != nil {
			return exitFailure, fmt.Errorf("demo -serve: %w", err)
		}
		printDemoServe(stdout, page, state)
	}
	return 0, nil
}

// demoOrder lists the compiled-in backends, the default first.
func demoOrder() []string {
	names := api.Names()
	if p, err := api.Default(); err == nil {
		if i := slices.Index(names, p.Name()); i > 0 {
			names = append(append([]string{p.Name()}, names[:i]...), names[i+1:]...)
		}
	}
	return names
}

// printDemo prints each page's first line and the table; it returns how
// many backends failed.
func printDemo(w io.Writer, results []demoResult) (failed int) {
	def := ""
	if p, err := api.Default(); err == nil {
		def = p.Name()
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range results {
		if r.Err != nil {
			fmt.Fprintf(tw, "%s:\terror: %v\n", r.Backend, r.Err)
			continue
		}
		fmt.Fprintf(tw, "%s:\t%s\n", r.Backend, r.FirstLine)
	}
	tw.Flush()
	fmt.Fprintln(w)
	fmt.Fprintln(tw, "BACKEND\tVERSION\tCIPHER\tGROUP\tALPN\tJA4\tHANDSHAKE")
	for _, r := range results {
		name := r.Backend
		if name == def {
			name += " *"
		}
		if r.Err != nil {
			failed++
			fmt.Fprintf(tw, "%s\tfailed\t\t\t\t\t\n", name)
			continue
		}
		s := r.State
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%v\n", name, s.VersionName(), s.CipherSuiteName(),
			orNA(s.GroupName()), orNA(s.NegotiatedProtocol), orNA(r.ServerJA4), r.Handshake.Round(10*time.Microsecond))
	}
	tw.Flush()
	fmt.Fprintln(w, "\n* the default backend of this build. JA4: computed by the demo server (exaring/ja4plus) from the ClientHello it received.")
	return failed
}

// demo is the loopback server and the runtime the demo guest runs in.
type demo struct {
	srv         *demoServer
	url         string
	rt          wazero.Runtime
	h           *host.Host
	guest       guestModule
	compileTime time.Duration
	log         *slog.Logger
	cache       cacheOptions
}

// newDemo starts the server and compiles the guest (with cache; telling
// progress, unless nil, when that is slow).
func newDemo(ctx context.Context, wasm []byte, logger *slog.Logger, cache cacheOptions, progress io.Writer) (*demo, error) {
	srv, err := startDemoServer()
	if err != nil {
		return nil, err
	}
	d := &demo{srv: srv, url: "https://localhost:" + strconv.Itoa(srv.port) + "/", log: logger, cache: cache}
	d.rt = wazero.NewRuntimeWithConfig(ctx, runtimeConfig(cache, progress))
	wasi_snapshot_preview1.MustInstantiate(ctx, d.rt)
	d.h = host.New(d.rt)
	if d.guest, d.compileTime, err = compileAny(ctx, d.h, d.rt, wasm, "demoguest.wasm", cache, progress); err != nil {
		d.Close()
		return nil, fmt.Errorf("compiling the demo guest: %w", err)
	}
	return d, nil
}

func (d *demo) Close() {
	if d.h != nil {
		d.h.Close(context.Background())
	}
	d.rt.Close(context.Background())
	d.srv.Close()
}

// runAll runs the guest once per backend, one after the other so that the
// table is in a stable order and the handshake times do not compete.
func (d *demo) runAll(ctx context.Context, names []string) []demoResult {
	results := make([]demoResult, 0, len(names))
	for _, n := range names {
		results = append(results, d.run(ctx, n))
	}
	return results
}

// run fetches the page once with backend name.
func (d *demo) run(ctx context.Context, name string) demoResult {
	res := demoResult{Backend: name}
	p, err := api.Lookup(name)
	if err != nil {
		res.Err = err
		return res
	}
	var (
		mu  sync.Mutex
		hsr []observe.Handshake
	)
	insp := observe.Inspect(p, func(r observe.Handshake) {
		if d.log != nil {
			observe.LogHandshakes(d.log)(r)
		}
		mu.Lock()
		hsr = append(hsr, r)
		mu.Unlock()
	})
	policy := &host.Policy{
		// Only the demo server: "localhost" resolves to 127.0.0.1 and ::1,
		// and the name-lookup answers are cut down to what is allowed.
		Allow:      []string{"127.0.0.1:" + strconv.Itoa(d.srv.port)},
		NameLookup: true,
		RootCAs:    d.srv.roots,
		// No ALPN rule: the guest asks for h2 and http/1.1 itself
		// (wasitls:tls/connection), and gets what it asks for.
	}
	opts := []host.Option{host.WithProvider(insp), host.WithPolicy(policy)}
	if d.log != nil {
		opts = append(opts, host.WithObserver(func(e host.ConnEvent) { logEvent(d.log, e) }))
	}
	var stdout, stderr bytes.Buffer
	mc := host.NewModuleConfig().WithName("demoguest-"+name).WithArgs("demoguest", d.url).
		WithStdout(&stdout).WithStderr(&stderr).
		WithSysNanosleep().WithSysNanotime().WithSysWalltime().WithRandSource(rand.Reader)
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	g, err := d.guest.instantiate(rctx, d.h, mc, opts...)
	if g != nil {
		g.Close(context.Background())
	}
	if code, gerr := guestExit(rctx, "demoguest", err); code != 0 || gerr != nil {
		msg := strings.TrimSpace(stderr.String())
		if gerr != nil {
			msg = strings.TrimSpace(gerr.Error() + " " + msg)
		}
		res.Err = fmt.Errorf("guest exit code %d: %s", code, msg)
		return res
	}
	mu.Lock()
	defer mu.Unlock()
	if len(hsr) != 1 {
		res.Err = fmt.Errorf("guest made %d handshakes, want 1", len(hsr))
		return res
	}
	h := hsr[0]
	res.State, res.Handshake, res.ClientJA4 = h.State, h.Duration, h.JA4
	res.ServerJA4 = d.srv.ja4(h.Local.String())
	res.FirstLine, _, _ = strings.Cut(stdout.String(), "\n")
	return res
}

// demoServer is an HTTPS server on 127.0.0.1 with a certificate from a CA
// made at start. It computes the JA4 of every ClientHello it receives and
// keys it by the client's address.
type demoServer struct {
	ln    net.Listener
	srv   *http.Server
	port  int
	roots *x509.CertPool
	done  chan struct{}

	mu   sync.Mutex
	seen map[string]string // client address -> JA4
}

func startDemoServer() (*demoServer, error) {
	cert, roots, err := demoCertificate()
	if err != nil {
		return nil, fmt.Errorf("demo CA: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo server: %w", err)
	}
	s := &demoServer{ln: ln, port: ln.Addr().(*net.TCPAddr).Port, roots: roots, seen: map[string]string{}, done: make(chan struct{})}
	s.srv = &http.Server{
		Handler: http.HandlerFunc(s.page),
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{cert},
			NextProtos:   []string{"h2", "http/1.1"},
			GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
				fp := ja4plus.JA4(hello)
				s.mu.Lock()
				s.seen[hello.Conn.RemoteAddr().String()] = fp
				s.mu.Unlock()
				return nil, nil
			},
		},
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	go func() {
		defer close(s.done)
		_ = s.srv.ServeTLS(ln, "", "")
	}()
	return s, nil
}

func (s *demoServer) page(w http.ResponseWriter, r *http.Request) {
	st := r.TLS
	group := "an unknown group"
	if st.CurveID != 0 {
		group = api.GroupName(st.CurveID)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "Hello from the wasitls demo server, over %s with %s (%s).\n", tls.VersionName(st.Version), group, r.Proto)
	fmt.Fprintf(w, "Your ClientHello's JA4 was %s.\n", s.ja4(r.RemoteAddr))
}

func (s *demoServer) ja4(client string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[client]
}

func (s *demoServer) Close() {
	_ = s.srv.Close()
	<-s.done
}

// demoCertificate makes a root CA and a leaf for localhost, 127.0.0.1 and
// ::1, in memory.
func demoCertificate() (tls.Certificate, *x509.CertPool, error) {
	return demoIssue("wasitls demo CA", &x509.Certificate{
		Subject:  pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
}

// demoIssue makes a root CA named caName and a leaf from tmpl (its
// serial, validity and key usage set here) signed by it, in memory; it
// returns the leaf with its key and a pool with the root.
func demoIssue(caName string, tmpl *x509.Certificate) (tls.Certificate, *x509.CertPool, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: caName},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl.SerialNumber = big.NewInt(2)
	tmpl.NotBefore, tmpl.NotAfter = now.Add(-time.Hour), now.Add(24*time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	leafDER, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	return tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: key}, roots, nil
}
