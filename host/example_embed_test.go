package host_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"io"
	"log"
	"os"
	"path/filepath"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/host"
)

// runGuest runs a GOOS=wasip1 guest (wasm, e.g. from GOOS=wasip1 GOARCH=wasm
// go build ./internal/guests/demo) with wasi-tls and wasi-sockets. The guest
// may connect to dest only ("host:port"), and its TLS connections trust roots
// (nil: the system's). A non-zero exit is a *sys.ExitError.
func runGuest(ctx context.Context, wasm []byte, dest string, roots *x509.CertPool, stdout, stderr io.Writer, args ...string) error {
	// Compiling a large guest to native code takes seconds: keep the result
	// on disk for the next process (about 40 MB per guest).
	cache, err := wazero.NewCompilationCacheWithDir(filepath.Join(os.TempDir(), "wasitls-example-cache"))
	if err != nil {
		return err
	}
	defer cache.Close(ctx)
	// Bound each guest's memory to 1 GiB (wazero's own bound is 4 GiB).
	cfg, err := host.MemoryLimit(wazero.NewRuntimeConfig().WithCompilationCache(cache), host.DefaultMaxMemory)
	if err != nil {
		return err
	}
	r := wazero.NewRuntimeWithConfig(ctx, cfg)
	defer r.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, r)         // the guest's wasip1 imports
	h := host.New(r, host.WithProvider(stdtls.Provider{})) // the default backend for every guest
	compiled, err := r.CompileModule(ctx, wasm)
	if err != nil {
		return err
	}
	// host.NewModuleConfig: the one config reaches wasip1 and WASI 0.2 imports.
	mc := host.NewModuleConfig().WithArgs(args...).WithStdout(stdout).WithStderr(stderr).
		WithSysNanotime().WithSysWalltime().WithRandSource(rand.Reader)
	policy := &host.Policy{Allow: []string{dest}, NameLookup: true, RootCAs: roots} // deny-all otherwise
	// Instantiate runs the guest's main. Close releases every socket and TLS
	// connection the guest owned, and is a no-op on the nil of a failure.
	g, err := h.Instantiate(ctx, compiled, mc, host.WithPolicy(policy))
	defer g.Close(ctx)
	return err
}

// A guest that fetches a page over wasi-sockets and wasi-tls. The file
// fetch.wasm is the demo guest: GOOS=wasip1 GOARCH=wasm go build -o
// fetch.wasm ./internal/guests/demo (TestEmbeddingSnippet runs runGuest
// against a loopback server).
func Example_embedding() {
	wasm, err := os.ReadFile("fetch.wasm")
	if err != nil {
		log.Fatal(err)
	}
	err = runGuest(context.Background(), wasm, "example.com:443", nil, os.Stdout, os.Stderr,
		"fetch", "https://example.com/")
	if err != nil {
		log.Fatal(err)
	}
}
