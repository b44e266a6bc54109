// Package peers finds the independent TLS peers and tools that tests run
// against (OpenSSL, Node.js 26, tshark, PostgreSQL 15, jco).
//
// scripts/install-peers.sh installs them; .ci/run calls it. On a developer's
// machine a missing peer skips the test that needs it, naming the install
// command; under CI=true a missing peer fails the test.
package peers

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

const installHint = "run scripts/install-peers.sh"

// InCI reports whether the tests run in CI, where every peer must be present.
func InCI() bool { return os.Getenv("CI") == "true" }

// Missing skips t, or fails it in CI, because a peer is not installed.
func Missing(t testing.TB, what string) {
	t.Helper()
	if InCI() {
		t.Fatalf("%s is not installed, and CI=true requires it (%s)", what, installHint)
	}
	t.Skipf("%s is not installed (%s)", what, installHint)
}

// Unavailable skips t, or fails it in CI, because something the machine
// should have is not there (a loopback address, IPv6): a test that
// guards a guarantee must not pass in CI by skipping.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if InCI() {
		t.Fatalf("%s, and CI=true requires it", msg)
	}
	t.Skip(msg)
}

var repoRoot = sync.OnceValue(func() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return ""
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
})

// RepoRoot returns the repository's root directory.
func RepoRoot() string { return repoRoot() }

func lookPath(t testing.TB, name, what string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, what)
	}
	return p
}

func file(t testing.TB, env, rel, what string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		return p
	}
	p := rel
	if !filepath.IsAbs(p) {
		p = filepath.Join(RepoRoot(), rel)
	}
	if _, err := os.Stat(p); err != nil {
		Missing(t, what)
	}
	return p
}

// OpenSSL returns the path of the openssl command (3.0 on Debian 12).
func OpenSSL(t testing.TB) string { return lookPath(t, "openssl", "openssl") }

// Curl returns the path of curl (Debian's, with HTTP/2).
func Curl(t testing.TB) string { return lookPath(t, "curl", "curl") }

// TShark returns the path of tshark.
func TShark(t testing.TB) string { return lookPath(t, "tshark", "tshark") }

// Node26 returns the path of a Node.js 26 binary (OpenSSL 3.5, hybrid ML-KEM
// groups): $WASITLS_NODE26 or .peers/node26/bin/node.
func Node26(t testing.TB) string {
	return file(t, "WASITLS_NODE26", ".peers/node26/bin/node", "Node.js 26")
}

// Node returns a Node.js binary for running tools (jco): Node 26 if
// installed, else the system node.
func Node(t testing.TB) string {
	p := filepath.Join(RepoRoot(), ".peers/node26/bin/node")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return lookPath(t, "node", "Node.js")
}

// JCO returns the directory of the installed @bytecodealliance/jco package.
func JCO(t testing.TB) string {
	return file(t, "WASITLS_JCO", ".peers/npm/node_modules/@bytecodealliance/jco", "jco (@bytecodealliance/jco)")
}

// PostgresBin returns the directory holding PostgreSQL 15's server binaries.
func PostgresBin(t testing.TB) string {
	return file(t, "WASITLS_PGBIN", "/usr/lib/postgresql/15/bin", "PostgreSQL 15")
}

// Start runs cmd as a server for the test: its stdin stays open (a peer
// that quits at the end of stdin lives as long as the test), its stdout is
// returned to read its announcements from, and its stderr is collected for
// failure messages. The process is killed and reaped when the test ends.
func Start(t testing.TB, cmd *exec.Cmd) (stdout io.Reader, stderr *bytes.Buffer) {
	t.Helper()
	stderr = new(bytes.Buffer)
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", cmd.Path, err)
	}
	t.Cleanup(func() {
		stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return out, stderr
}

// Benchstat returns the path of benchstat (golang.org/x/perf/cmd/benchstat):
// $WASITLS_BENCHSTAT or .peers/bin/benchstat.
func Benchstat(t testing.TB) string {
	return file(t, "WASITLS_BENCHSTAT", ".peers/bin/benchstat", "benchstat (golang.org/x/perf/cmd/benchstat)")
}
