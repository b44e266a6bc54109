package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/wasitls/wasitls/internal/testkit/guestbuild"
)

// benchGuestFile writes the bench guest, built from source, to a file of
// the test's own and returns its path, for -guest.
func benchGuestFile(t *testing.T) string {
	t.Helper()
	wasm := filepath.Join(t.TempDir(), "benchguest.wasm")
	if err := os.WriteFile(wasm, guestbuild.Build(t, "./internal/guests/bench"), 0o644); err != nil {
		t.Fatal(err)
	}
	return wasm
}

// benchJSON runs `wasitls bench -json` with args and returns its report
// and the output it was read from; any other exit than 0, or output that
// is not a report, fails t.
func benchJSON(t *testing.T, args ...string) (benchReport, []byte) {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(append([]string{"bench", "-json"}, args...), &out, &errb); code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out.String(), errb.String())
	}
	var rep benchReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out.String())
	}
	return rep, out.Bytes()
}
