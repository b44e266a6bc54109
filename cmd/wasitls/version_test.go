package main

import (
	"os"
	"regexp"
	"runtime"
	"strings"
	"testing"

	wapi "github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/backends/builtin"
)

// TestVersion checks `wasitls version` against go.mod and the registry:
// the module path, the Go version running it, the wazero version go.mod
// requires, and every compiled-in backend with the default.
func TestVersion(t *testing.T) {
	gomod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*github.com/tetratelabs/wazero (v\S+)`).FindSubmatch(gomod)
	if m == nil {
		t.Fatal("go.mod does not require wazero")
	}
	r := runCLI(t, "version")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit code %d, stderr %q", r.code, r.stderr)
	}
	for _, want := range []string{
		"wasitls  " + modulePath + " ",
		"go       " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n",
		"wazero   " + string(m[1]) + "\n",
		"(default " + builtin.DefaultName + ")",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("version output lacks %q", want)
		}
	}
	for _, n := range wapi.Names() {
		if !regexp.MustCompile(`(?m)^backends .*\b` + n + `\b`).MatchString(r.stdout) {
			t.Errorf("backend %s not listed", n)
		}
	}
	if r := runCLI(t, "version", "extra"); r.code != exitUsage {
		t.Errorf("version extra: exit code %d", r.code)
	}
}
