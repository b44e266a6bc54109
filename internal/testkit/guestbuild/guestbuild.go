// Package guestbuild compiles test guests from source and shares the
// result: Go programs for GOOS=wasip1, and guests written in Rust (a
// directory with main.rs, built by Debian's rustc for wasm32-wasi) or C (a
// directory with main.c, built by clang --target=wasm32-wasi with
// wasi-libc). Each guest is built once per test process; the go build cache
// makes Go rebuilds cheap across processes, and Rust and C modules are
// cached on disk by source and compiler version (see foreign.go). wazero's
// compilation cache makes the native compilation of an unchanged module a
// file read.
//
//	wasm := guestbuild.Build(t, "./internal/guests/httpsget")
//	wasm = guestbuild.Build(t, "./internal/guests/rusttls") // main.rs
//	r := guestbuild.Runtime(ctx, t)
//	compiled := guestbuild.Compile(ctx, t, r, "./internal/guests/httpsget")
package guestbuild

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/internal/guestsrc"
	"github.com/wasitls/wasitls/internal/testkit/peers"
)

type result struct {
	once sync.Once
	wasm []byte
	err  error
}

var (
	mu     sync.Mutex
	builds = map[string]*result{}
)

// Build compiles the guest pkg (a path relative to the repository root,
// e.g. "./internal/guests/httpsget": a Go package, or a directory with
// main.rs or main.c; a JavaScript guest directory with main.js, built into a
// component, see js.go) and returns the module bytes. Concurrent and repeated
// calls for the same guest build once. A missing Rust or C toolchain skips
// t on a developer's machine and fails it under CI=true (peers.Missing).
func Build(t testing.TB, pkg string) []byte {
	t.Helper()
	wasm, err := BuildErr(pkg)
	if err != nil {
		SkipIfNoCompiler(t, err)
		t.Fatal(err)
	}
	return wasm
}

// BuildErr is Build without a testing.TB, for benchmarks, commands and examples.
func BuildErr(pkg string) ([]byte, error) {
	mu.Lock()
	r, ok := builds[pkg]
	if !ok {
		r = &result{}
		builds[pkg] = r
	}
	mu.Unlock()
	r.once.Do(func() { r.wasm, r.err = build(pkg) })
	return r.wasm, r.err
}

func build(pkg string) ([]byte, error) {
	if core, ok := strings.CutPrefix(pkg, ComponentPrefix); ok {
		return buildComponent(core)
	}
	if isJS(pkg) {
		return buildJS(pkg)
	}
	if lang := foreignLang(pkg); lang != nil {
		return buildForeign(lang, pkg)
	}
	gt, err := guestsrc.GoTool()
	if err != nil {
		return nil, err
	}
	return guestsrc.BuildPackage(context.Background(), gt, peers.RepoRoot(), pkg)
}

// CacheDir is where wazero's compilation cache lives, shared by every test
// process of this checkout's user.
func CacheDir() string {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	return filepath.Join(base, "wasitls", "wazero")
}

var (
	cacheOnce sync.Once
	cache     wazero.CompilationCache
)

// Cache returns the process-wide wazero compilation cache backed by CacheDir.
func Cache() wazero.CompilationCache {
	cacheOnce.Do(func() {
		c, err := wazero.NewCompilationCacheWithDir(CacheDir())
		if err != nil {
			c = wazero.NewCompilationCache()
		}
		cache = c
	})
	return cache
}

// RuntimeConfig returns a runtime configuration that uses the shared
// compilation cache and closes modules when their context is done.
func RuntimeConfig() wazero.RuntimeConfig {
	return wazero.NewRuntimeConfig().WithCompilationCache(Cache()).WithCloseOnContextDone(true)
}

// Compile builds pkg and compiles it in r. The module is cached on disk by
// content, so a second test binary pays only for a file read.
func Compile(ctx context.Context, t testing.TB, r wazero.Runtime, pkg string) wazero.CompiledModule {
	t.Helper()
	cm, err := r.CompileModule(ctx, Build(t, pkg))
	if err != nil {
		t.Fatalf("guestbuild: compile %s: %v", pkg, err)
	}
	return cm
}

// Hash returns a short content hash of a module, for logs.
func Hash(wasm []byte) string {
	h := sha256.Sum256(wasm)
	return hex.EncodeToString(h[:6])
}
