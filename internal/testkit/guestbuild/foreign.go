package guestbuild

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/internal/testkit/peers"
)

// ErrNoCompiler is wrapped by the error of a build whose compiler (or its
// wasm target) is not installed. scripts/install-peers.sh installs them.
var ErrNoCompiler = errors.New("guestbuild: compiler not installed")

// SkipIfNoCompiler skips tb (fails it under CI=true) if err is a build
// that lacked its compiler; otherwise it does nothing.
func SkipIfNoCompiler(tb testing.TB, err error) {
	tb.Helper()
	if errors.Is(err, ErrNoCompiler) {
		peers.Missing(tb, err.Error())
	}
}

// lang is how to build a guest written in a language other than Go.
type lang struct {
	name    string
	main    string   // the file that marks a guest directory as this language
	exts    []string // source files hashed into the cache key
	shared  string   // a directory (from the repository root) of sources the guests include, hashed too
	version []string // command printing the compiler's version, part of the cache key
	check   func() error
	args    func(dir, out string) []string // the compile command
}

// Rust is Debian's rustc with libstd-rust-dev-wasm32, called by its path:
// a rustup toolchain earlier on PATH has no wasm32-wasi target. Its std for
// wasm32-wasi is wasip1 (the process, stdout, exit); the guests import WASI
// 0.2 themselves.
const rustc = "/usr/bin/rustc"

var langs = []*lang{
	{
		name:    "rust",
		main:    "main.rs",
		exts:    []string{".rs"},
		version: []string{rustc, "--version", "--verbose"},
		check: func() error {
			if _, err := os.Stat(rustc); err != nil {
				return fmt.Errorf("%w: %s (Debian rustc)", ErrNoCompiler, rustc)
			}
			if _, err := os.Stat("/usr/lib/rustlib/wasm32-wasi"); err != nil {
				return fmt.Errorf("%w: the wasm32-wasi std of %s (Debian libstd-rust-dev-wasm32)", ErrNoCompiler, rustc)
			}
			return nil
		},
		args: func(dir, out string) []string {
			return []string{rustc, "--edition", "2021", "--target", "wasm32-wasi", "-O", "-C", "strip=debuginfo",
				"-D", "warnings", "-o", out, filepath.Join(dir, "main.rs")}
		},
	},
	{
		name:    "c",
		main:    "main.c",
		exts:    []string{".c", ".h"},
		shared:  "internal/guests/internal/c",
		version: []string{"clang", "--version"},
		check: func() error {
			for _, tool := range []string{"clang", "wasm-ld"} {
				if _, err := exec.LookPath(tool); err != nil {
					return fmt.Errorf("%w: %s (Debian clang, lld, wasi-libc, libclang-rt-14-dev-wasm32)", ErrNoCompiler, tool)
				}
			}
			return nil
		},
		args: func(dir, out string) []string {
			srcs, _ := filepath.Glob(filepath.Join(dir, "*.c"))
			return append([]string{"clang", "--target=wasm32-wasi", "-O2", "-Wall", "-Wextra", "-Werror",
				"-o", out}, srcs...)
		},
	},
}

// foreignLang returns the language of the guest directory pkg, or nil for
// a Go package.
func foreignLang(pkg string) *lang {
	for _, l := range langs {
		if _, err := os.Stat(filepath.Join(guestDir(pkg), l.main)); err == nil {
			return l
		}
	}
	return nil
}

// guestDir is pkg's directory: pkg is relative to the repository root,
// or absolute.
func guestDir(pkg string) string {
	if filepath.IsAbs(pkg) {
		return pkg
	}
	return filepath.Join(peers.RepoRoot(), pkg)
}

// ForeignDir is where built Rust and C guests are cached, by key.
func ForeignDir() string { return filepath.Join(filepath.Dir(CacheDir()), "guests") }

// buildForeign compiles the guest directory pkg with l, or reads the
// module from the cache: the key hashes the sources (and the shared
// directory), the compile command and the compiler's version, so a source
// edit or a compiler upgrade rebuilds.
func buildForeign(l *lang, pkg string) ([]byte, error) {
	if err := l.check(); err != nil {
		return nil, err
	}
	dir := guestDir(pkg)
	h := sha256.New()
	ver, err := exec.Command(l.version[0], l.version[1:]...).Output()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrNoCompiler, strings.Join(l.version, " "), err)
	}
	// The command with placeholders (the sources are hashed below).
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00", l.name, ver, strings.Join(l.args("GUEST", "OUT"), "\x00"))
	srcDirs := []string{dir}
	if l.shared != "" {
		srcDirs = append(srcDirs, filepath.Join(peers.RepoRoot(), l.shared))
	}
	for _, d := range srcDirs {
		if err := hashSources(h, d, l.exts); err != nil {
			return nil, err
		}
	}
	return cachedBuild(filepath.Base(pkg)+"-"+hex.EncodeToString(h.Sum(nil)[:16])+".wasm", func(out string) error {
		args := l.args(dir, out)
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = dir
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stderr, &stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("guestbuild: %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return nil
	})
}

// cachedBuild returns ForeignDir()/name, made first by build (which writes
// the module to out) if it is not there.
func cachedBuild(name string, build func(out string) error) ([]byte, error) {
	cached := filepath.Join(ForeignDir(), name)
	if b, err := os.ReadFile(cached); err == nil {
		return b, nil
	}
	if err := os.MkdirAll(ForeignDir(), 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(ForeignDir(), ".build-*.wasm")
	if err != nil {
		return nil, err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	if err := build(tmp.Name()); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(tmp.Name())
	if err != nil {
		return nil, err
	}
	// Rename, so that a concurrent test process never reads half a file.
	if err := os.Rename(tmp.Name(), cached); err != nil {
		return nil, err
	}
	return b, nil
}

// hashFiles hashes the length and contents of each file into h.
func hashFiles(h interface{ Write([]byte) (int, error) }, files ...string) error {
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%d\x00", len(b))
		h.Write(b)
	}
	return nil
}

// runNode runs node with args, the error carrying its output.
func runNode(node, what string, args ...string) error {
	cmd := exec.Command(node, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("guestbuild: %s: %w\n%s", what, err, strings.TrimSpace(out.String()))
	}
	return nil
}

// hashSources hashes the names and contents of the files in dir (not its
// subdirectories) whose names end in one of exts, in name order.
func hashSources(h interface{ Write([]byte) (int, error) }, dir string, exts []string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	for _, e := range ents {
		if e.IsDir() || !slices.Contains(exts, filepath.Ext(e.Name())) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", e.Name(), len(b))
		h.Write(b)
	}
	return nil
}
