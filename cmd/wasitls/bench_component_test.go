package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/internal/testkit/guestbuild"
	"github.com/wasitls/wasitls/internal/testkit/peers"
)

// TestBenchComponent runs the component row small: the bench guest's core
// module made into a component by jco as the bench makes it (and cached by
// content in the cache directory), and a prebuilt component (-component),
// each next to native Go. It asserts no speed, only that every figure was
// measured with the component.
func TestBenchComponent(t *testing.T) {
	peers.Node(t)
	peers.JCO(t)
	dir := t.TempDir()
	core := filepath.Join(dir, "benchguest.wasm")
	if err := os.WriteFile(core, guestbuild.Build(t, "./internal/guests/bench"), 0o644); err != nil {
		t.Fatal(err)
	}
	prebuilt := filepath.Join(dir, "benchguest.component.wasm")
	if err := os.WriteFile(prebuilt, guestbuild.Build(t, guestbuild.Component("./internal/guests/bench")), 0o644); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(dir, "cache")
	bench := func(t *testing.T, args ...string) componentReport {
		t.Helper()
		var out, errb bytes.Buffer
		args = append([]string{"bench", "-only", "component", "-json", "-cache-dir", cache, "-size", "2MiB", "-reps", "2",
			"-handshakes", "5", "-backends", "stdtls"}, args...)
		if code := run(args, &out, &errb); code != 0 {
			t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out.String(), errb.String())
		}
		var rep benchReport
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, out.String())
		}
		if rep.Component == nil || rep.Component.Skipped != "" {
			t.Fatalf("component row: %+v", rep.Component)
		}
		c := *rep.Component
		for name, runs := range map[string][]float64{
			"download component": c.Download.GuestRuns, "download native": c.Download.NativeRuns,
			"upload component": c.Upload.GuestRuns, "upload native": c.Upload.NativeRuns,
			"sequential component": c.Sequential.GuestRuns, "sequential native": c.Sequential.NativeRuns,
		} {
			if len(runs) != 2 || runs[0] <= 0 || runs[1] <= 0 {
				t.Errorf("%s: runs %v, want two measured ones", name, runs)
			}
		}
		if c.Download.Ratio <= 0 || c.Upload.Ratio <= 0 || c.Sequential.Ratio <= 0 || c.Backend != "stdtls" {
			t.Errorf("ratios or backend not reported: %+v", c)
		}
		return c
	}
	t.Run("made-with-jco", func(t *testing.T) {
		c := bench(t, "-guest", core)
		if !strings.HasPrefix(c.MadeWith, "jco ") || !strings.Contains(c.MadeWith, "command adapter") {
			t.Errorf("made_with %q, want jco's version and its command adapter", c.MadeWith)
		}
		cached, _ := filepath.Glob(filepath.Join(cache, "components", "benchguest-*.component.wasm"))
		if len(cached) != 1 {
			t.Fatalf("cached components %v, want one", cached)
		}
		b, err := os.ReadFile(cached[0])
		if err != nil || len(b) != c.Bytes {
			t.Errorf("cached component: %d bytes (%v), the row measured %d", len(b), err, c.Bytes)
		}
	})
	// A component -guest: asking only for sections that need a core module
	// is a usage error up front; beside other sections they are reported
	// as not measured, and the rest runs.
	t.Run("component-guest", func(t *testing.T) {
		for _, only := range []string{"startup", "component"} {
			var out, errb bytes.Buffer
			code := run([]string{"bench", "-only", only, "-guest", prebuilt, "-backends", "stdtls"}, &out, &errb)
			if code != exitUsage || !strings.Contains(errb.String(), "is a component") {
				t.Errorf("-only %s with a component -guest: exit %d, stderr %q", only, code, errb.String())
			}
		}
		var out, errb bytes.Buffer
		args := []string{"bench", "-only", "throughput,startup", "-json", "-cache-dir", cache, "-size", "2MiB", "-reps", "1",
			"-backends", "stdtls", "-guest", prebuilt}
		if code := run(args, &out, &errb); code != 0 {
			t.Fatalf("exit %d\nstderr: %s", code, errb.String())
		}
		var rep benchReport
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Startup == nil || rep.Startup.Skipped == "" || len(rep.Download.GuestRuns) != 1 {
			t.Errorf("startup %+v, download runs %v: want start-up skipped and the throughput measured", rep.Startup, rep.Download.GuestRuns)
		}
	})
	t.Run("prebuilt", func(t *testing.T) {
		c := bench(t, "-guest", core, "-component", prebuilt)
		if c.MadeWith != "-component "+prebuilt {
			t.Errorf("made_with %q, want the -component file", c.MadeWith)
		}
	})
}

// TestBenchComponentMissing: without jco the component row is one line
// saying why, and -only component is a usage error naming what is missing;
// bad -component, -jco and -node values are usage errors before anything
// runs.
func TestBenchComponentMissing(t *testing.T) {
	t.Setenv("WASITLS_JCO", filepath.Join(t.TempDir(), "nojco"))
	o, err := parseBenchFlags([]string{"-backends", "stdtls"}, new(bytes.Buffer))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(o.comp.missing, "jco") || !strings.Contains(o.comp.missing, "install-peers.sh") {
		t.Errorf("missing jco: reason %q, want it named with how to install it", o.comp.missing)
	}
	var out bytes.Buffer
	printBenchComponent(&out, &benchReport{Component: &componentReport{Skipped: o.comp.missing}})
	if s := strings.TrimSpace(out.String()); strings.Count(s, "\n") != 0 || !strings.HasPrefix(s, "COMPONENT: not measured: jco") {
		t.Errorf("skipped row printed as %q, want one line", s)
	}
	notComponent := filepath.Join(t.TempDir(), "core.wasm")
	if err := os.WriteFile(notComponent, []byte("\x00asm\x01\x00\x00\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	for args, want := range map[string]string{
		"-only component":                         "-only component: jco (@bytecodealliance/jco) not installed",
		"-only component -component /nonexistent": "-component /nonexistent: no such file",
		"-component " + notComponent:              "not a WASI 0.2 component",
		"-jco /nonexistent":                       "-jco /nonexistent: jco (@bytecodealliance/jco) not installed",
		"-node /etc/passwd":                       "-node /etc/passwd: Node.js not installed",
	} {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"bench"}, strings.Fields(args)...), &stdout, &stderr)
		if s := strings.TrimSpace(stderr.String()); code != exitUsage || strings.Count(s, "\n") != 0 || !strings.Contains(s, want) {
			t.Errorf("bench %s: exit %d, stderr %q; want %d and one line with %q", args, code, s, exitUsage, want)
		}
	}
}
