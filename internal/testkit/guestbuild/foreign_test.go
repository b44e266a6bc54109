package guestbuild

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
)

// TestForeignGuests builds the Rust and C guests from source and checks
// what they import: WASI 0.2 at the version each chose, wasi:tls, and
// wasi_snapshot_preview1 only for what their standard library does. A
// second build comes from the on-disk cache, keyed by source.
func TestForeignGuests(t *testing.T) {
	for _, tc := range []struct {
		pkg, sockets string
	}{
		{"./internal/guests/rusttls", "wasi:sockets/tcp@0.2.0"},
		{"./internal/guests/ctls", "wasi:sockets/tcp@0.2.6"},
	} {
		t.Run(filepath.Base(tc.pkg), func(t *testing.T) {
			wasm := Build(t, tc.pkg)
			ctx := context.Background()
			r := wazero.NewRuntime(ctx)
			defer r.Close(ctx)
			cm, err := r.CompileModule(ctx, wasm)
			if err != nil {
				t.Fatal(err)
			}
			mods := map[string]bool{}
			for _, f := range cm.ImportedFunctions() {
				mod, _, _ := f.Import()
				mods[mod] = true
			}
			for _, want := range []string{"wasi:tls/types@0.2.0-draft", tc.sockets, "wasi_snapshot_preview1"} {
				if !mods[want] {
					t.Errorf("does not import %s; imports %v", want, mods)
				}
			}
			if _, ok := cm.ExportedFunctions()["cabi_realloc"]; !ok {
				t.Error("does not export cabi_realloc")
			}

			l := foreignLang(tc.pkg)
			cached, err := filepath.Glob(filepath.Join(ForeignDir(), filepath.Base(tc.pkg)+"-*.wasm"))
			if err != nil || !slices.ContainsFunc(cached, func(p string) bool {
				b, _ := os.ReadFile(p)
				return bytes.Equal(b, wasm)
			}) {
				t.Errorf("no cached module in %s equals the build (%v)", ForeignDir(), err)
			}
			again, err := buildForeign(l, tc.pkg)
			if err != nil || !bytes.Equal(again, wasm) {
				t.Errorf("second build: %v, equal %v", err, bytes.Equal(again, wasm))
			}
		})
	}
}

// TestForeignBuildError: a compile error comes back with the compiler's
// message, not as a missing compiler.
func TestForeignBuildError(t *testing.T) {
	for _, l := range langs {
		t.Run(l.name, func(t *testing.T) {
			if err := l.check(); err != nil {
				SkipIfNoCompiler(t, err)
			}
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, l.main), []byte("this is not "+l.name+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := buildForeign(l, dir)
			if err == nil || strings.Contains(err.Error(), ErrNoCompiler.Error()) || !strings.Contains(err.Error(), "error") {
				t.Fatalf("build of a broken %s guest: %v", l.name, err)
			}
			t.Logf("%v", err)
		})
	}
}

// recordTB records the first Skipf or Fatalf instead of ending the test.
type recordTB struct {
	testing.TB
	first string
}

func (r *recordTB) Helper() {}
func (r *recordTB) Skipf(format string, args ...any) {
	if r.first == "" {
		r.first = "skip: " + fmt.Sprintf(format, args...)
	}
}
func (r *recordTB) Fatalf(format string, args ...any) {
	if r.first == "" {
		r.first = "fatal: " + fmt.Sprintf(format, args...)
	}
}

// TestMissingCompiler: a build without its compiler skips on a developer's
// machine and fails under CI=true, naming the install script either way;
// any other build error is left to the caller.
func TestMissingCompiler(t *testing.T) {
	l := &lang{name: "nothing", check: func() error {
		return fmt.Errorf("%w: /nonexistent/cc", ErrNoCompiler)
	}}
	_, err := buildForeign(l, t.TempDir())
	for _, tc := range []struct{ ci, want string }{{"", "skip: "}, {"true", "fatal: "}} {
		t.Setenv("CI", tc.ci)
		r := &recordTB{TB: t}
		SkipIfNoCompiler(r, err)
		if !strings.HasPrefix(r.first, tc.want) || !strings.Contains(r.first, "/nonexistent/cc") || !strings.Contains(r.first, "scripts/install-peers.sh") {
			t.Errorf("CI=%q: %q; want %q naming the compiler and scripts/install-peers.sh", tc.ci, r.first, tc.want)
		}
	}
	r := &recordTB{TB: t}
	SkipIfNoCompiler(r, errors.New("guestbuild: a compile error"))
	if r.first != "" {
		t.Errorf("a compile error: %q; want nothing", r.first)
	}
}

// TestForeignCacheKey: an edited source is rebuilt, not served from the
// cache; the unedited one is.
func TestForeignCacheKey(t *testing.T) {
	l := foreignLang("./internal/guests/ctls")
	if err := l.check(); err != nil {
		SkipIfNoCompiler(t, err)
	}
	// A name no other build uses, so the cache files below are this test's.
	dir := filepath.Join(t.TempDir(), fmt.Sprintf("cachekey%d", time.Now().UnixNano()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	build := func(code int) []byte {
		t.Helper()
		src := fmt.Sprintf("int main(void) { return %d; }\n", code)
		if err := os.WriteFile(filepath.Join(dir, "main.c"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		b, err := buildForeign(l, dir)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, b, a2 := build(3), build(4), build(3)
	if bytes.Equal(a, b) {
		t.Error("the edited source gave the same module")
	}
	if !bytes.Equal(a, a2) {
		t.Error("the same source gave another module")
	}
	cached, _ := filepath.Glob(filepath.Join(ForeignDir(), filepath.Base(dir)+"-*.wasm"))
	if len(cached) != 2 {
		t.Errorf("cache holds %d modules for %s, want 2: %v", len(cached), dir, cached)
	}
	for _, p := range cached {
		os.Remove(p)
	}
}
