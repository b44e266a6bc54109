// Command prometheus is an embedder's program: it runs a guest with a policy
// from a file and exports the host's metrics to Prometheus, with structured
// logs, and writes no observer of its own: observe.Metrics counts, the
// collector below turns its snapshots into Prometheus metrics, and
// host.WithLogger logs every event with its fields.
//
//	prometheus -policy policy.yaml -listen 127.0.0.1:9464 guest.wasm [args]
//
// It is its own module so that the library's go.mod does not require the
// Prometheus client.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	_ "github.com/wasitls/wasitls/backends/builtin"
	"github.com/wasitls/wasitls/host"
	"github.com/wasitls/wasitls/observe"
	"github.com/wasitls/wasitls/policyfile"
)

func main() {
	code, err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "prometheus:", err)
	}
	os.Exit(code)
}

// run runs one guest; while it runs (and, with -linger, after) the metrics
// are served on -listen. ready, if set, receives the listener's address.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, ready chan<- string) (int, error) {
	fs := flag.NewFlagSet("prometheus", flag.ContinueOnError)
	policy := fs.String("policy", "", "the guest's policy `FILE` (YAML, see the wasitls examples/policy.yaml)")
	listen := fs.String("listen", "127.0.0.1:9464", "serve /metrics on `ADDR`")
	linger := fs.Bool("linger", false, "keep serving /metrics after the guest exits, until interrupted")
	if err := fs.Parse(args); err != nil || fs.NArg() == 0 {
		return 2, errors.New("usage: prometheus -policy FILE [-listen ADDR] GUEST.wasm [args]")
	}
	pf, err := policyfile.Load(*policy)
	if err != nil {
		return 2, err
	}
	opts, err := pf.Options()
	if err != nil {
		return 2, err
	}
	wasm, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return 2, err
	}

	// Metrics and logs: the library's, exported.
	metrics := observe.NewMetrics()
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(metrics))
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return 2, err
	}
	srv := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{})}
	go srv.Serve(ln)
	defer srv.Close()
	if ready != nil {
		ready <- ln.Addr().String()
	}

	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	h := host.New(r,
		host.WithObserver(metrics.Observe),
		host.WithLogger(slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	defer h.Close(ctx)
	metrics.Watch(h)

	compiled, err := r.CompileModule(ctx, wasm)
	if err != nil {
		return 2, err
	}
	name := filepath.Base(fs.Arg(0))
	mc := wazero.NewModuleConfig().WithName(name).WithArgs(append([]string{name}, fs.Args()[1:]...)...).
		WithStdout(stdout).WithStderr(stderr).WithSysNanosleep().WithSysNanotime().WithSysWalltime().WithRandSource(rand.Reader)
	g, err := h.Instantiate(ctx, compiled, mc, opts...)
	if g != nil {
		defer g.Close(ctx)
	}
	code := 0
	var exit *sys.ExitError
	switch {
	case errors.As(err, &exit):
		code = int(exit.ExitCode())
	case err != nil:
		return 1, err
	}
	if *linger {
		<-ctx.Done()
	}
	return code, nil
}
