// Package guestsrc builds the module's guest programs (internal/guests/<name>)
// from source for GOOS=wasip1: the CLI's demo and bench guests, and the Go
// test guests (internal/testkit/guestbuild adds Rust, C, JavaScript and
// components on top). Finding the source works from a clone, from any
// directory inside the module, and from the module cache of an installed
// wasitls.
//
//	wasm, err := guestsrc.Build(ctx, "demo")
package guestsrc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
)

// The demo and bench guests are built from source when their command starts
// rather than embedded as committed binaries: `go run ./cmd/wasitls demo`
// implies a Go toolchain and the source tree, the go build cache makes every
// build after the first take a fraction of a second, and a guest can never be
// stale with respect to guest/ (which a committed .wasm could be).
// ModulePath is the path of the module the guests belong to.
const ModulePath = "github.com/wasitls/wasitls"

// guestsDir is where every guest program of the module lives.
const guestsDir = "internal/guests"

// Dir finds the source of the guest in internal/guests/<name>: beside
// this file's directory (go run, go build in a clone), in the module the
// current directory belongs to, or in the module cache (go install
// ...@version put it there).
func Dir(ctx context.Context, goTool, name string) (string, error) {
	pkg := ModulePath + "/" + guestsDir + "/" + name
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		dir := filepath.Join(filepath.Dir(file), "..", "..", filepath.FromSlash(guestsDir), name)
		if _, err := os.Stat(filepath.Join(dir, "main.go")); err == nil {
			return dir, nil
		}
	}
	cmd := exec.CommandContext(ctx, goTool, "list", "-f", "{{.Dir}}", pkg)
	cmd.Env = Env()
	if out, err := cmd.Output(); err == nil {
		if dir := strings.TrimSpace(string(out)); dir != "" {
			return dir, nil
		}
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Path == ModulePath && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		out, err := exec.CommandContext(ctx, goTool, "env", "GOMODCACHE").Output()
		if err == nil {
			dir := filepath.Join(strings.TrimSpace(string(out)), ModulePath+"@"+bi.Main.Version, filepath.FromSlash(guestsDir), name)
			if _, err := os.Stat(filepath.Join(dir, "main.go")); err == nil {
				return dir, nil
			}
		}
	}
	return "", fmt.Errorf("cannot find the source of %s: run from a clone (go run ./cmd/wasitls ...) or pass -guest FILE.wasm", pkg)
}

// Env is the environment of a go command building for GOOS=wasip1.
func Env() []string {
	return append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
}

// GoTool finds the go command: on PATH, else in $GOROOT/bin.
func GoTool() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	if root := os.Getenv("GOROOT"); root != "" {
		p := filepath.Join(root, "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("building the guest needs the go command, which is not on PATH (or pass -guest FILE.wasm)")
}

// Build compiles the guest internal/guests/<name> for wasip1 and returns the module.
func Build(ctx context.Context, name string) ([]byte, error) {
	gt, err := GoTool()
	if err != nil {
		return nil, err
	}
	dir, err := Dir(ctx, gt, name)
	if err != nil {
		return nil, err
	}
	return BuildPackage(ctx, gt, dir, ".")
}

// BuildPackage runs goTool build -trimpath for GOOS=wasip1 on pkg (a package
// path or a path relative to dir) in dir, and returns the module.
func BuildPackage(ctx context.Context, goTool, dir, pkg string) ([]byte, error) {
	tmp, err := os.MkdirTemp("", "wasitls-guest-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "guest.wasm")
	cmd := exec.CommandContext(ctx, goTool, "build", "-trimpath", "-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = Env()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("building %s for wasip1 (go build in %s): %w\n%s", pkg, dir, err, strings.TrimSpace(stderr.String()))
	}
	return os.ReadFile(out)
}
