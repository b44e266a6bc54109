package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/internal/testkit/guestbuild"
	"github.com/wasitls/wasitls/internal/testkit/peers"
)

// TestBenchJSON runs a miniature `wasitls bench -json` (tiny sizes, few
// connections, one backend) and checks the report's shape and that every
// figure was measured. It asserts no speed: that is what the bench is for.
func TestBenchJSON(t *testing.T) {
	rep, out := benchJSON(t, "-guest", benchGuestFile(t), "-size", "2MiB", "-reps", "1", "-conns", "100",
		"-guests", "5", "-handshakes", "3", "-requests", "4", "-at-once", "2", "-backends", "stdtls")
	var raw map[string]any
	if err := json.Unmarshal(out, &raw); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	for _, k := range []string{"throughput_ratio_download", "throughput_ratio_upload", "handshake_ratio",
		"bytes_per_idle_conn_host", "bytes_per_idle_conn_native"} {
		v, ok := raw[k].(float64)
		if !ok || v <= 0 {
			t.Errorf("%s = %v, want a positive number", k, raw[k])
		}
	}
	if rep.Cipher != "TLS_AES_128_GCM_SHA256" {
		t.Errorf("cipher suite %q, want TLS_AES_128_GCM_SHA256", rep.Cipher)
	}
	if rep.IdleConns != 100 || rep.SizeBytes != 2<<20 || len(rep.Download.GuestRuns) != 1 || len(rep.Upload.NativeRuns) != 1 {
		t.Errorf("report does not reflect the flags: %+v", rep)
	}
	if len(rep.Backends) != 1 || rep.Backends[0].Name != "stdtls" {
		t.Fatalf("backends %+v, want stdtls only", rep.Backends)
	}
	b := rep.Backends[0]
	c := b.Concurrent
	for name, v := range map[string]float64{
		"sequential guest": b.Sequential.Guest, "sequential native": b.Sequential.Native,
		"sequential-open guest": b.SequentialOpen.Guest, "sequential-open native": b.SequentialOpen.Native,
		"concurrent guest": c.Guest, "concurrent native": c.Native,
		"guest p50": c.GuestP50ms, "guest p99": c.GuestP99ms, "native p50": c.NativeP50ms, "native p99": c.NativeP99ms,
		"download guest": rep.Download.GuestMBps, "upload native": rep.Upload.NativeMBps,
	} {
		if v <= 0 {
			t.Errorf("%s = %v, want > 0", name, v)
		}
	}
	if c.GuestP99ms < c.GuestP50ms || c.NativeP99ms < c.NativeP50ms {
		t.Errorf("p99 below p50: %+v", c)
	}
	// A whole run has the component row, or says why not (no jco, which
	// CI has).
	switch cr := rep.Component; {
	case cr == nil:
		t.Error("no component row in a whole run")
	case cr.Skipped != "" && peers.InCI():
		t.Errorf("component row skipped under CI=true: %s", cr.Skipped)
	case cr.Skipped == "" && (cr.Download.Ratio <= 0 || cr.Sequential.Ratio <= 0):
		t.Errorf("component row not measured: %+v", cr)
	}
}

func TestBenchFlags(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "-size", "lots"},
		{"bench", "-guests", "5", "-conns", "2"},
		{"bench", "-backends", "nosuch"},
		{"bench", "extra"},
		{"bench", "-json", "-benchfmt"},
	} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != exitUsage {
			t.Errorf("%q: exit %d, want %d (stderr %q)", args, code, exitUsage, errb.String())
		}
	}
}

// TestBenchfmt runs a miniature `wasitls bench -benchfmt`, checks that
// every repetition is a well-formed Go benchmark line with the guest and
// native sides of each figure, and has the real benchstat read it.
func TestBenchfmt(t *testing.T) {
	benchstat := peers.Benchstat(t)
	wasm := filepath.Join(t.TempDir(), "benchguest.wasm")
	if err := os.WriteFile(wasm, guestbuild.Build(t, "./internal/guests/bench"), 0o644); err != nil {
		t.Fatal(err)
	}
	const reps = 3
	var out, errb bytes.Buffer
	code := run([]string{"bench", "-benchfmt", "-guest", wasm, "-size", "1MiB", "-reps", strconv.Itoa(reps), "-conns", "20",
		"-guests", "2", "-handshakes", "3", "-requests", "4", "-at-once", "2", "-backends", "stdtls"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out.String(), errb.String())
	}
	if errb.Len() != 0 {
		t.Errorf("stderr %q: -benchfmt is for files, and says nothing", errb.String())
	}
	// BenchmarkName-P N value unit [value unit]...
	lineRE := regexp.MustCompile(`^Benchmark(\S+)-\d+ \d+( \d+(\.\d+)? \S+)+$`)
	count := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if strings.HasPrefix(l, "Benchmark") {
			m := lineRE.FindStringSubmatch(l)
			if m == nil {
				t.Errorf("not a benchmark line: %q", l)
				continue
			}
			count[m[1]]++
			continue
		}
		if !regexp.MustCompile(`^[a-z][a-z0-9-]*: \S`).MatchString(l) {
			t.Errorf("neither a benchmark nor a configuration line: %q", l)
		}
	}
	for _, name := range []string{"Download/size=1MiB", "Upload/size=1MiB", "Handshake/backend=stdtls/mode=sequential",
		"Handshake/backend=stdtls/mode=sequential-20open", "Handshake/backend=stdtls/mode=concurrent-2guests",
		"PerRequest/backend=stdtls/atonce=2"} {
		for _, impl := range []string{"guest", "native"} {
			if n := count[name+"/impl="+impl]; n != reps {
				t.Errorf("%s/impl=%s: %d lines, want one per repetition (%d)", name, impl, n, reps)
			}
		}
	}
	if count["Startup/step=guest-runtime-init/impl=guest"] != reps || count["LiveRequest/backend=stdtls/impl=native"] != 1 {
		t.Errorf("start-up and live-request lines: %v", count)
	}
	if count["Component/download/size=1MiB/impl=component"] != reps && (peers.InCI() || count["Component/download/size=1MiB/impl=native"] != 0) {
		t.Errorf("component lines: %v", count)
	}
	if count["IdleConn/impl=guest"] != 1 || count["IdleConn/impl=native"] != 1 {
		t.Errorf("idle connection lines: %v", count)
	}

	file := filepath.Join(t.TempDir(), "bench.txt")
	if err := os.WriteFile(file, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(benchstat, "-col", "/impl", file)
	var bout, berr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &bout, &berr
	if err := cmd.Run(); err != nil || berr.Len() != 0 {
		t.Fatalf("benchstat: %v\nstderr: %s", err, berr.String())
	}
	t.Logf("benchstat -col /impl:\n%s", bout.String())
	for _, want := range []string{"guest", "native", "B/s", "sec/op", "conns/s", "heap-B/conn", "rss-B/conn", "Download/size=1MiB", "Handshake/backend=stdtls/mode=sequential"} {
		if !strings.Contains(bout.String(), want) {
			t.Errorf("benchstat's summary lacks %q", want)
		}
	}
}
