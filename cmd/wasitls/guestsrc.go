package main

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
const modulePath = "github.com/wasitls/wasitls"

// guestsDir is where every guest program of the module lives.
const guestsDir = "internal/guests"

// guestDir finds the source of the guest in internal/guests/<name>: beside
// this file's directory (go run, go build in a clone), in the module the
// current directory belongs to, or in the module cache (go install
// ...@version put it there).
func guestDir(ctx context.Context, goTool, name string) (string, error) {
	pkg := modulePath + "/" + guestsDir + "/" + name
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		dir := filepath.Join(filepath.Dir(file), "..", "..", filepath.FromSlash(guestsDir), name)
		if _, err := os.Stat(filepath.Join(dir, "main.go")); err == nil {
			return dir, nil
		}
	}
	cmd := exec.CommandContext(ctx, goTool, "list", "-f", "{{.Dir}}", pkg)
	cmd.Env = guestEnv()
	if out, err := cmd.Output(); err == nil {
		if dir := strings.TrimSpace(string(out)); dir != "" {
			return dir, nil
		}
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Path == modulePath && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		out, err := exec.CommandContext(ctx, goTool, "env", "GOMODCACHE").Output()
		if err == nil {
			dir := filepath.Join(strings.TrimSpace(string(out)), modulePath+"@"+bi.Main.Version, filepath.FromSlash(guestsDir), name)
			if _, err := os.Stat(filepath.Join(dir, "main.go")); err == nil {
				return dir, nil
			}
		}
	}
	return "", fmt.Errorf("cannot find the source of %s: run from a clone (go run ./cmd/wasitls ...) or pass -guest FILE.wasm", pkg)
}

func guestEnv() []string {
	return append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
}

func goTool() (string, error) {
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

// buildGuest compiles the guest internal/guests/<name> for wasip1 and returns the module.
func buildGuest(ctx context.Context, name string) ([]byte, error) {
	gt, err := goTool()
	if err != nil {
		return nil, err
	}
	dir, err := guestDir(ctx, gt, name)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "wasitls-"+name+"-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, name+".wasm")
	cmd := exec.CommandContext(ctx, gt, "build", "-trimpath", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = guestEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("building the %s guest (GOOS=wasip1 go build in %s): %w\n%s", name, dir, err, strings.TrimSpace(stderr.String()))
	}
	return os.ReadFile(out)
}
