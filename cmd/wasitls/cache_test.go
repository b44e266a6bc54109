package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestCache runs guests with -cache-dir and -no-cache and checks what
// lands in the directory, `wasitls cache size` and `wasitls cache clean`
// (all, and down to -max), and the automatic bound.
func TestCache(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "cache")
	var guests []string
	for _, code := range []int{0, 3, 5} {
		g := filepath.Join(tmp, "exit"+string(rune('0'+code))+".wasm")
		if err := os.WriteFile(g, exitModule(code), 0o644); err != nil {
			t.Fatal(err)
		}
		guests = append(guests, g)
	}
	size := func() (n int, total int64) {
		t.Helper()
		r := runCLI(t, "cache", "size", "-cache-dir", dir)
		if r.code != 0 {
			t.Fatalf("cache size: exit code %d", r.code)
		}
		m := regexp.MustCompile(`^` + regexp.QuoteMeta(dir) + `: (\d+) compiled guests, `).FindStringSubmatch(r.stdout)
		if m == nil {
			t.Fatalf("cache size printed %q", r.stdout)
		}
		es, err := cacheEntries(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			total += e.size
		}
		if m[1] != strconv.Itoa(len(es)) {
			t.Errorf("cache size says %s entries, the directory holds %d", m[1], len(es))
		}
		return len(es), total
	}

	if n, _ := size(); n != 0 {
		t.Fatalf("%d entries before any run", n)
	}
	r := runCLI(t, "run", "-no-cache", "-cache-dir", dir, guests[0])
	if r.code != 0 {
		t.Fatalf("-no-cache: exit code %d", r.code)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("-no-cache wrote %s", dir)
	}
	for i, g := range guests {
		if r := runCLI(t, "run", "-cache-dir", dir, g); r.code != []int{0, 3, 5}[i] {
			t.Fatalf("%s: exit code %d", g, r.code)
		}
		if n, _ := size(); n != i+1 {
			t.Fatalf("after running %d guests the cache holds %d", i+1, n)
		}
		// Distinct modification times, oldest first, for the trimming below.
		es, _ := cacheEntries(dir)
		for _, e := range es {
			if time.Since(e.mod) < time.Minute {
				old := time.Now().Add(time.Duration(-10+i) * time.Hour)
				if err := os.Chtimes(e.path, old, old); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	_, all := size()

	// The bound applies when a run opens the cache: the oldest goes.
	defer func(l int64) { cacheLimit = l }(cacheLimit)
	cacheLimit = all - 1
	if r := runCLI(t, "run", "-cache-dir", dir, guests[2]); r.code != 5 {
		t.Fatalf("exit code %d", r.code)
	}
	if n, total := size(); n != 2 || total > all {
		t.Errorf("over the bound: %d entries, %d bytes (bound %d)", n, total, cacheLimit)
	}
	cacheLimit = 1 << 30

	es, _ := cacheEntries(dir)
	r = runCLI(t, "cache", "clean", "-cache-dir", dir, "-max", strconv.Itoa(int(es[0].size)))
	if r.code != 0 || !strings.Contains(r.stdout, "freed") {
		t.Fatalf("cache clean -max: exit code %d, %q", r.code, r.stdout)
	}
	if n, _ := size(); n != 1 {
		t.Errorf("cache clean -max kept %d entries, want 1", n)
	}
	if r := runCLI(t, "cache", "clean", "-cache-dir", dir); r.code != 0 {
		t.Fatalf("cache clean: exit code %d", r.code)
	}
	if n, _ := size(); n != 0 {
		t.Errorf("cache clean left %d entries", n)
	}
	for _, args := range [][]string{{"cache"}, {"cache", "grow"}, {"cache", "clean", "-max", "lots"}, {"cache", "size", "extra"}} {
		if r := runCLI(t, args...); r.code != exitUsage || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%q: exit code %d, stderr %q; want 2 and one line", args, r.code, r.stderr)
		}
	}
}

// TestSlowSteps checks that a slow compilation is announced on stderr with
// its time, and that -q keeps quiet.
func TestSlowSteps(t *testing.T) {
	guest := guestFile(t, testGuestSrc)
	defer func(d time.Duration) { slowStep = d }(slowStep)
	slowStep = time.Millisecond // any real compilation is slower than this
	r := runCLI(t, "run", "-no-cache", guest, "exit", "0")
	if r.code != 0 || !regexp.MustCompile(`^wasitls: compiling clitest.wasm \(\d+\.\d MB\) to native code \(the compilation cache is off\) \.\.\.\nwasitls: done after \d`).MatchString(r.stderr) {
		t.Errorf("exit code %d, stderr %q; want the compilation announced and timed", r.code, r.stderr)
	}
	r = runCLI(t, "run", "-q", "-no-cache", guest, "exit", "0")
	if r.code != 0 || r.stderr != "" {
		t.Errorf("-q: exit code %d, stderr %q; want nothing", r.code, r.stderr)
	}
	// Fast steps say nothing.
	slowStep = time.Minute
	if r := runCLI(t, "run", "-no-cache", guest, "exit", "0"); r.stderr != "" {
		t.Errorf("a fast compilation printed %q", r.stderr)
	}
}
