package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/internal/testkit/peers"
)

const (
	utlsModule  = "github.com/refraction-networking/utls"
	circlModule = "github.com/cloudflare/circl"
)

// TestBuildTags builds the CLI under each build-tag combination of the
// matrix and checks, in the binary itself, that a left-out backend's module
// is really absent (go version -m lists no such dependency and go tool nm
// finds no symbol from it) and that `wasitls backends` reports the default
// the tags ask for, as does `wasitls version`. The builds share the go build cache, so only
// backends/builtin and the link are redone per combination.
func TestBuildTags(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI five times")
	}
	goBin, err := goTool()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		tags     string
		def      string
		backends []string
		absent   []string
	}{
		{"", "stdtls", []string{"pq", "stdtls", "utls"}, nil},
		{"no_utls", "stdtls", []string{"pq", "stdtls"}, []string{utlsModule}},
		{"no_pq", "stdtls", []string{"stdtls", "utls"}, []string{circlModule}},
		{"default_utls", "utls", []string{"pq", "stdtls", "utls"}, nil},
		{"no_utls,no_pq", "stdtls", []string{"stdtls"}, []string{utlsModule, circlModule}},
	} {
		name := tc.tags
		if name == "" {
			name = "default"
		}
		t.Run(name, func(t *testing.T) {
			bin := filepath.Join(dir, "wasitls-"+strings.ReplaceAll(name, ",", "-"))
			build := exec.Command(goBin, "build", "-tags", tc.tags, "-o", bin, "./cmd/wasitls")
			build.Dir = peers.RepoRoot()
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("go build -tags %q: %v\n%s", tc.tags, err, out)
			}
			mods := output(t, goBin, "version", "-m", bin)
			syms := output(t, goBin, "tool", "nm", bin)
			for _, m := range []string{utlsModule, circlModule} {
				wantAbsent := strings.Contains(strings.Join(tc.absent, " "), m)
				inMods := regexp.MustCompile(`(?m)^\s+dep\s+` + regexp.QuoteMeta(m) + `\s`).MatchString(mods)
				inSyms := strings.Contains(syms, " "+m+"/") || strings.Contains(syms, " "+m+".")
				if inMods == wantAbsent || inSyms == wantAbsent {
					t.Errorf("-tags %q: %s in go version -m: %v, in symbols: %v; want %v", tc.tags, m, inMods, inSyms, !wantAbsent)
				}
			}
			list := output(t, bin, "backends")
			if !strings.Contains(list, "default: "+tc.def+"\n") {
				t.Errorf("-tags %q: wasitls backends does not report default %s:\n%s", tc.tags, tc.def, list)
			}
			var got []string
			table, _, _ := strings.Cut(list, "default:") // the fingerprint lists follow
			for _, line := range strings.Split(table, "\n")[1:] {
				if f := strings.Fields(line); len(f) > 0 {
					got = append(got, f[0])
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.backends, ",") {
				t.Errorf("-tags %q: backends %v, want %v", tc.tags, got, tc.backends)
			}
			// wasitls version reads the built binary's build info: the tags
			// the go command recorded, and the backends they left in.
			v := output(t, bin, "version")
			if tc.tags != "" && !strings.Contains(v, "\ntags     "+tc.tags+"\n") {
				t.Errorf("-tags %q: wasitls version does not show the tags:\n%s", tc.tags, v)
			}
			for _, b := range tc.backends {
				if !regexp.MustCompile(`(?m)^backends .*\b` + b + `\b.*\(default ` + tc.def + `\)$`).MatchString(v) {
					t.Errorf("-tags %q: wasitls version does not list backend %s with default %s:\n%s", tc.tags, b, tc.def, v)
				}
			}
		})
	}
}

func output(t *testing.T, name string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}
