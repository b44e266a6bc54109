package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/internal/testkit/guestbuild"
	"github.com/wasitls/wasitls/internal/testkit/peers"
)

// TestBenchAB runs scripts/bench-ab.sh on two builds of the CLI (two
// files, the same code) with miniature figures: a throughput row, a
// backend's row by a column other than the ratio, the serve section's rows,
// and a row name that
// matches two rows, which must be refused rather than guessed.
func TestBenchAB(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI and runs the bench")
	}
	goBin, err := goTool()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	a, b := filepath.Join(dir, "wasitls-a"), filepath.Join(dir, "wasitls-b")
	build := exec.Command(goBin, "build", "-o", a, "./cmd/wasitls")
	build.Dir = peers.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	bin, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	wasm := filepath.Join(dir, "benchguest.wasm")
	if err := os.WriteFile(wasm, guestbuild.Build(t, "./internal/guests/bench"), 0o644); err != nil {
		t.Fatal(err)
	}
	small := "-guest " + wasm + " -reps 1 -size 1MiB -handshakes 3 -conns 20 -guests 2 -requests 4 -at-once 2"
	script := filepath.Join(peers.RepoRoot(), "scripts", "bench-ab.sh")
	ab := func(env ...string) (string, string, error) {
		cmd := exec.Command("bash", script, "2", a, b)
		cmd.Env = append(os.Environ(), append([]string{"BENCH_ARGS=" + small}, env...)...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		return out.String(), errb.String(), err
	}
	// BINARY: v1 v2 median m, one line per build, in the order given.
	num := `[0-9]+(\.[0-9]+)?`
	line := func(bin string) *regexp.Regexp {
		return regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(bin) + `: (` + num + ` ){2}median ` + num + `$`)
	}
	for _, env := range [][]string{
		{"ROW=download"},
		{"ROW=stdtls per request", "COL=GUEST p99 ms"},
		{"ROW=component stdtls sequential"},
		{"ROW=serve keep-alive"},
		{"ROW=serve p99", "COL=GUEST"},
	} {
		out, errb, err := ab(env...)
		if err != nil {
			t.Errorf("%v: %v\nstdout: %s\nstderr: %s", env, err, out, errb)
			continue
		}
		for _, bin := range []string{a, b} {
			if !line(bin).MatchString(out) {
				t.Errorf("%v: no line for %s with two values and their median:\n%s", env, bin, out)
			}
		}
		if strings.Index(out, a+":") > strings.Index(out, b+":") {
			t.Errorf("%v: builds out of order:\n%s", env, out)
		}
	}
	out, errb, err := ab("ROW=stdtls", "ONLY=sequential,concurrent")
	if err == nil || !strings.Contains(errb, "no single row 'stdtls'") || !strings.Contains(errb, "ambiguous: [stdtls sequential] [stdtls 20 concurrent / 2 guests]") {
		t.Errorf("a row name that matches two rows: %v\nstdout: %s\nstderr: %s", err, out, errb)
	}
}
