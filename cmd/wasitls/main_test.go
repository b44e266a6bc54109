package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero/api"

	wapi "github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/backends/builtin"
	"github.com/wasitls/wasitls/conformance"
	"github.com/wasitls/wasitls/conformance/pki"
	"github.com/wasitls/wasitls/host"
	"github.com/wasitls/wasitls/internal/hostimports"
	"github.com/wasitls/wasitls/internal/testkit/guestbuild"
	"github.com/wasitls/wasitls/internal/testkit/guestrun"
	"github.com/wasitls/wasitls/internal/testkit/loopback"
	"github.com/wasitls/wasitls/internal/testkit/peers"
	"github.com/wasitls/wasitls/internal/wasmbin"
)

const (
	demoGuestSrc = "./internal/guests/demo"
	testGuestSrc = "./internal/guests/clitest"
)

func TestMain(m *testing.M) { guestrun.Main(m, guestrun.Build(demoGuestSrc, testGuestSrc)) }

// guestFile builds the guest package pkg (once per test process) and
// returns the path of a .wasm file that holds it, for the CLI to run.
func guestFile(t *testing.T, pkg string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), filepath.Base(pkg)+".wasm")
	if err := os.WriteFile(path, guestbuild.Build(t, pkg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

type result struct {
	code           int
	stdout, stderr string
}

func runCLI(t *testing.T, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	t.Logf("wasitls %s -> %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
	return result{code, stdout.String(), stderr.String()}
}

// TestDemo runs `wasitls demo` and checks the table: TLS 1.3 and h2 for
// every backend, a hybrid ML-KEM group for pq, distinct JA4s for stdtls and
// utls.
func TestDemo(t *testing.T) {
	start := time.Now()
	r := runCLI(t, "demo")
	t.Logf("demo took %v", time.Since(start))
	if r.code != 0 {
		t.Fatalf("demo exit code %d", r.code)
	}
	rows := map[string][]string{}
	inTable := false
	for _, line := range strings.Split(r.stdout, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) > 0 && f[0] == "BACKEND":
			inTable = true
		case inTable && len(f) == 0:
			inTable = false
		case inTable:
			if len(f) > 1 && f[1] == "*" {
				f = slices.Delete(f, 1, 2)
			}
			// backend, "TLS", "1.3", cipher, group, alpn, ja4, time
			if len(f) != 8 {
				t.Fatalf("table row %q has %d fields", line, len(f))
			}
			rows[f[0]] = f
		}
	}
	for _, name := range wapi.Names() {
		row, ok := rows[name]
		if !ok {
			t.Errorf("no table row for backend %s", name)
			continue
		}
		if row[1]+" "+row[2] != "TLS 1.3" {
			t.Errorf("%s negotiated %s %s, want TLS 1.3", name, row[1], row[2])
		}
		if row[5] != "h2" {
			t.Errorf("%s ALPN %s, want h2 (the guest asks for it)", name, row[5])
		}
		if !regexp.MustCompile(`^t13d\d{4}[a-z0-9]{2}_[0-9a-f]{12}_[0-9a-f]{12}$`).MatchString(row[6]) {
			t.Errorf("%s JA4 %q is not a TLS 1.3 JA4", name, row[6])
		}
		if !strings.Contains(r.stdout, name+": ") || !strings.Contains(r.stdout, "Hello from the wasitls demo server, over TLS 1.3") || !strings.Contains(r.stdout, "(HTTP/2.0).") {
			t.Errorf("no page line for %s", name)
		}
	}
	if row, ok := rows["pq"]; ok && !strings.Contains(row[4], "MLKEM") {
		t.Errorf("pq group %s is not a hybrid ML-KEM group", row[4])
	}
	if s, u := rows["stdtls"], rows["utls"]; s != nil && u != nil && s[6] == u[6] {
		t.Errorf("stdtls and utls have the same JA4 %s", s[6])
	}
	if !strings.Contains(r.stdout, builtin.DefaultName+" *") {
		t.Errorf("the default backend %s is not marked", builtin.DefaultName)
	}
}

// TestDemoJA4 checks that the JA4 the CLI computes from the ClientHello a
// backend wrote (what run -v logs) equals the one the server computed from
// what it received, for every backend.
func TestDemoJA4(t *testing.T) {
	ctx := context.Background()
	d, err := newDemo(ctx, guestbuild.Build(t, demoGuestSrc), nil, cacheOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, r := range d.runAll(ctx, wapi.Names()) {
		if r.Err != nil {
			t.Errorf("%s: %v", r.Backend, r.Err)
			continue
		}
		if r.ServerJA4 == "" || r.ClientJA4 != r.ServerJA4 {
			t.Errorf("%s: JA4 from the sent ClientHello %q, from the server %q", r.Backend, r.ClientJA4, r.ServerJA4)
		}
		if r.State.Backend != "" && r.State.Backend != r.Backend {
			t.Errorf("%s: state reports backend %s", r.Backend, r.State.Backend)
		}
	}
}

// TestRunOpenSSL runs the demo guest against OpenSSL s_server -www with
// the CA from a file, with every backend that can talk to OpenSSL 3.0
// (pq requires a hybrid group that OpenSSL 3.0 lacks), then with a
// server that requires a client certificate, with and without
// -client-cert.
func TestRunOpenSSL(t *testing.T) {
	guest := guestFile(t, demoGuestSrc)
	p := pki.New(t)
	dir := t.TempDir()
	certFile, keyFile := p.Server().WriteFiles(t, dir, "server")
	caFile := p.WriteRoot(t, dir, "ca.pem")

	peers.OpenSSL(t) // fails under CI=true when missing; StartOpenSSL only skips
	port := conformance.StartOpenSSL(t, "-cert", certFile, "-cert_chain", certFile, "-key", keyFile, "-www")
	for _, backend := range wapi.Names() {
		if backend == "pq" {
			continue
		}
		t.Run(backend, func(t *testing.T) {
			r := runCLI(t, "run", "-backend", backend, "-ca", caFile, "-allow", "127.0.0.1:"+port, "-v",
				guest, "https://localhost:"+port+"/")
			if r.code != 0 {
				t.Fatalf("exit code %d", r.code)
			}
			if !strings.Contains(r.stdout, "s_server") || !strings.Contains(r.stdout, "TLSv1.3") {
				t.Errorf("stdout is not s_server's -www page over TLS 1.3")
			}
			for _, want := range []string{`msg="tls handshake"`, "dest=127.0.0.1:" + port, "backend=" + backend, `version="TLS 1.3"`, "ja4=t13d"} {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("-v log lacks %s", want)
				}
			}
		})
	}

	t.Run("client-cert", func(t *testing.T) {
		client := p.Client("wasitls-cli")
		ccert, ckey := client.WriteFiles(t, dir, "client")
		peers.OpenSSL(t) // fails under CI=true when missing; StartOpenSSL only skips
		mport := conformance.StartOpenSSL(t, "-cert", certFile, "-cert_chain", certFile, "-key", keyFile, "-www",
			"-Verify", "2", "-verify_return_error", "-CAfile", caFile)
		url := "https://localhost:" + mport + "/"
		// stdtls explicitly: the pq default of a default_pq build cannot
		// talk to OpenSSL 3.0.
		r := runCLI(t, "run", "-backend", "stdtls", "-ca", caFile, "-allow", "127.0.0.1:"+mport,
			"-client-cert", ccert, "-client-key", ckey, "-client-for", "localhost:"+mport, guest, url)
		if r.code != 0 || !strings.Contains(r.stdout, "s_server") {
			t.Errorf("with -client-cert: exit code %d", r.code)
		}
		// The identity is for another port only: no certificate, and the
		// server refuses the guest.
		r = runCLI(t, "run", "-backend", "stdtls", "-ca", caFile, "-allow", "127.0.0.1:"+mport,
			"-client-cert", ccert, "-client-key", ckey, "-client-for", "localhost:1", guest, url)
		if r.code != 1 || !strings.Contains(r.stderr, "error: tls: peer alert certificate_required") {
			t.Errorf("without a matching -client-for: exit code %d, want 1 and the certificate_required alert", r.code)
		}
	})
}

// TestRunDenied checks that a destination outside -allow reaches the guest
// as access-denied (and is logged with -v), and that -dns=false stops
// name lookups.
func TestRunDenied(t *testing.T) {
	guest := guestFile(t, demoGuestSrc)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)

	r := runCLI(t, "run", "-allow", "127.0.0.1:1", "-v", guest, "https://127.0.0.1:"+port+"/")
	if r.code != 1 || !strings.Contains(r.stderr, "error: tcp: access-denied") {
		t.Errorf("exit code %d, want 1 with error: tcp: access-denied", r.code)
	}
	if !strings.Contains(r.stderr, `msg="denied by policy"`) {
		t.Errorf("-v did not log the denial")
	}

	r = runCLI(t, "run", "-allow", "*:*", "-dns=false", guest, "https://localhost:"+port+"/")
	if r.code != 1 || !strings.Contains(r.stderr, "error: tcp: ") {
		t.Errorf("-dns=false: exit code %d, want 1 with a tcp error", r.code)
	}
}

// TestBadFlags checks that every bad command line gives exit code 2 and
// exactly one line naming the problem.
func TestBadFlags(t *testing.T) {
	dir, guest, notPEM, missing := badFlagFiles(t)
	type badFlag struct {
		args []string
		want string
	}
	// Settings the backend or the host cannot honour are found before the
	// guest (which would exit 0) runs.
	late := []badFlag{
		{[]string{"run", "-backend", "stdtls", "-opt", "nosuch=1", guest}, `-opt nosuch=1: tls: invalid configuration [stdtls]: unknown option "nosuch"`},
		{[]string{"run", "-backend", "stdtls", "-v", "-opt", "nosuch=1", guest}, `-opt nosuch=1`},
		{[]string{"run", "-max-sockets", "-1", guest}, "-max-sockets -1: must not be negative"},
		{[]string{"run", "-max-handshakes", "-2", guest}, "-max-handshakes -2: must not be negative"},
		{[]string{"run", "-max-handles", "-3", guest}, "-max-handles -3: must not be negative"},
		{[]string{"run", "-timeout", "-1s", guest}, "-timeout -1s: must be positive"},
		{[]string{"run", "-max-memory", "lots", guest}, "-max-memory"},
		{[]string{"run", "-max-memory", "5GiB", guest}, "-max-memory 5GiB: want 64KiB to 4GiB"},
		{[]string{"run", "-max-memory", "0", guest}, "-max-memory 0: want 64KiB to 4GiB"},
	}
	if slices.Contains(wapi.Names(), "pq") {
		late = append(late,
			badFlag{[]string{"run", "-backend", "pq", "-max-tls", "1.2", guest}, "-backend pq -max-tls 1.2: tls: invalid configuration [pq]: require mode needs TLS 1.3"},
			badFlag{[]string{"run", "-backend", "pq", "-opt", "groups=X25519", guest}, "-opt groups=X25519: tls: invalid configuration [pq]"},
		)
	}
	if slices.Contains(wapi.Names(), "utls") {
		late = append(late, badFlag{[]string{"run", "-backend", "utls", "-opt", "alpn=sometimes", guest}, "-opt alpn=sometimes: tls: invalid configuration [utls]"},
			// The fingerprint's pinned ALPN list would ignore -alpn: refused, naming both.
			badFlag{[]string{"run", "-backend", "utls", "-fingerprint", "firefox", "-opt", "alpn=fingerprint", "-alpn", "http/1.1", guest}, "-alpn http/1.1: tls: invalid configuration [utls]: ALPN protocols http/1.1 conflict with option alpn=fingerprint"})
	}
	for _, tc := range append(late, []badFlag{
		{[]string{}, ""}, // usage text, several lines: checked separately
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"run"}, "missing GUEST.wasm"},
		{[]string{"run", "-nope", guest}, "flag provided but not defined: -nope"},
		{[]string{"run", filepath.Join(dir, "nope.wasm")}, "nope.wasm: no such file"},
		{[]string{"run", notPEM}, "not a valid module"},
		{[]string{"run", "-backend", "nope", guest}, "-backend nope: not in this build"},
		{[]string{"run", "-ca", missing, guest}, "-ca " + missing + ": no such file"},
		{[]string{"run", "-ca", notPEM, guest}, "no PEM certificate"},
		{[]string{"run", "-min-tls", "1.1", guest}, `-min-tls "1.1": want 1.2 or 1.3`},
		{[]string{"run", "-min-tls", "1.3", "-max-tls", "1.2", guest}, "is above -max-tls"},
		{[]string{"run", "-handshake-timeout", "soon", guest}, "-handshake-timeout"},
		{[]string{"run", "-alpn", "h2,,http/1.1", guest}, `-alpn "h2,,http/1.1": want a comma-separated list`},
		{[]string{"run", "-client-key", notPEM, guest}, "-client-key must follow -client-cert"},
		{[]string{"run", "-client-cert", notPEM, guest}, "missing -client-key"},
		{[]string{"run", "-client-cert", notPEM, "-client-key", notPEM, guest}, "missing -client-for"},
		{[]string{"run", "-client-cert", missing, "-client-key", notPEM, "-client-for", "*:*", guest}, "-client-cert " + missing + ": no such file"},
		{[]string{"run", "-client-cert", notPEM, "-client-key", notPEM, "-client-for", "*:*", guest}, "-client-cert " + notPEM},
		{[]string{"run", "-allow", "exa mple.com", guest}, "bad destination pattern"},
		{[]string{"run", "-env", "NOEQUALS", guest}, "want KEY=VALUE"},
		{[]string{"run", "-mount", filepath.Join(dir, "nodir") + ":/x", guest}, "no such directory"},
		{[]string{"run", "-pq-mode", "prefer", "-backend", "stdtls", guest}, "-pq-mode prefer: needs -backend pq"},
		{[]string{"run", "-fingerprint", "chrome", "-backend", "stdtls", guest}, "backend stdtls has no fingerprints"},
		{[]string{"backends", "extra"}, `unexpected argument "extra"`},
		{[]string{"demo", "-backend", "nope"}, "-backend nope: not in this build"},
		{[]string{"demo", "-guest", missing}, "no such file"},
	}...) {
		r := runCLI(t, tc.args...)
		if r.code != exitUsage {
			t.Errorf("%q: exit code %d, want 2", tc.args, r.code)
		}
		if tc.want == "" {
			continue
		}
		if strings.Count(r.stderr, "\n") != 1 || !strings.HasSuffix(r.stderr, "\n") || !strings.HasPrefix(r.stderr, "wasitls: ") {
			t.Errorf("%q: stderr is not one line starting with wasitls: %q", tc.args, r.stderr)
		}
		if !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%q: stderr %q does not name the problem (%q)", tc.args, r.stderr, tc.want)
		}
		if r.stdout != "" {
			t.Errorf("%q: unexpected stdout %q", tc.args, r.stdout)
		}
	}
}

// TestExitCode checks that the guest's exit code becomes the CLI's.
func TestExitCode(t *testing.T) {
	dir := t.TempDir()
	for _, code := range []int{0, 3, 7} {
		guest := filepath.Join(dir, "exit"+strconv.Itoa(code)+".wasm")
		if err := os.WriteFile(guest, exitModule(code), 0o644); err != nil {
			t.Fatal(err)
		}
		if r := runCLI(t, "run", guest); r.code != code || r.stderr != "" {
			t.Errorf("guest exit %d: CLI exit code %d, stderr %q", code, r.code, r.stderr)
		}
	}
}

// TestRunGuestConfig checks the flags that configure the guest itself:
// -env, -mount (read-write and read-only), guest arguments, exit codes and
// -timeout.
func TestRunGuestConfig(t *testing.T) {
	guest := guestFile(t, testGuestSrc)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte("from the host"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args   []string
		code   int
		stdout string
	}{
		{[]string{"-env", "GREETING=hello=world", "-env", "OTHER=x", guest, "env", "GREETING"}, 0, "hello=world\n"},
		{[]string{guest, "env", "GREETING"}, 1, ""},
		{[]string{"-mount", dir + ":/data", guest, "cat", "/data/a.txt"}, 0, "from the host"},
		{[]string{"-mount", dir + ":/data", guest, "write", "/data/b.txt", "from the guest"}, 0, ""},
		{[]string{"-mount", dir + ":/data:ro", guest, "write", "/data/c.txt", "refused"}, 1, ""},
		{[]string{guest, "cat", "/data/a.txt"}, 1, ""},
		{[]string{guest, "exit", "42"}, 42, ""},
	} {
		r := runCLI(t, append([]string{"run"}, tc.args...)...)
		if r.code != tc.code || r.stdout != tc.stdout {
			t.Errorf("run %q: exit code %d, stdout %q; want %d, %q", tc.args, r.code, r.stdout, tc.code, tc.stdout)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "b.txt")); err != nil || string(b) != "from the guest" {
		t.Errorf("write through a read-write mount: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "c.txt")); err == nil {
		t.Errorf("the guest wrote through a read-only mount")
	}

	r := runCLI(t, "run", "-timeout", "100ms", guest, "spin")
	if r.code != exitTimeout || !strings.Contains(r.stderr, "timed out") {
		t.Errorf("-timeout: exit code %d, stderr %q; want %d and timed out", r.code, r.stderr, exitTimeout)
	}
}

// TestRunConnectionQuota checks -max-sockets through a guest that drops
// each socket handle once its streams are in TLS: the connections still
// count, so the third is refused while the two it kept still echo.
func TestRunConnectionQuota(t *testing.T) {
	guest := guestFile(t, "./internal/guests/conns")
	p := pki.New(t)
	caFile := p.WriteRoot(t, t.TempDir(), "ca.pem")
	cfg := &tls.Config{Certificates: []tls.Certificate{p.Server().TLS}}
	srv := loopback.Serve(t, func(c net.Conn) {
		tc := tls.Server(c, cfg)
		_ = tc.SetDeadline(time.Now().Add(20 * time.Second))
		_, _ = io.Copy(tc, tc)
	})
	r := runCLI(t, "run", "-ca", caFile, "-allow", "127.0.0.1:"+srv.Port(), "-max-sockets", "2",
		guest, "localhost", srv.Port(), "localhost", "5")
	if want := "opened 2 of 5 (new-socket-limit)\n2 still echo\n"; r.code != 0 || r.stdout != want {
		t.Errorf("-max-sockets 2: exit code %d, stdout %q; want 0 and %q", r.code, r.stdout, want)
	}
}

// TestMaxMemory checks that -max-memory bounds the guest's memory (1 GiB
// by default, not wazero's 4 GiB): a guest that needs more fails.
func TestMaxMemory(t *testing.T) {
	guest := guestFile(t, testGuestSrc)
	if r := runCLI(t, "run", guest, "alloc", "64"); r.code != 0 || r.stdout != "ok 64\n" {
		t.Errorf("64 MiB under the default: exit code %d, stdout %q", r.code, r.stdout)
	}
	if r := runCLI(t, "run", "-max-memory", "96MiB", guest, "alloc", "64"); r.code != 0 || r.stdout != "ok 64\n" {
		t.Errorf("64 MiB under -max-memory 96MiB: exit code %d, stdout %q", r.code, r.stdout)
	}
	r := runCLI(t, "run", "-max-memory", "32MiB", guest, "alloc", "64")
	if r.code == 0 || r.stdout != "" || !strings.Contains(r.stderr, "out of memory") {
		t.Errorf("64 MiB under -max-memory 32MiB: exit code %d, stdout %q; want a failure and out of memory", r.code, r.stdout)
	}
	// The default (not exercised: it would take a GiB of this machine).
	if r := runCLI(t, "run", "-h"); !strings.Contains(r.stdout, "-max-memory SIZE") || !strings.Contains(r.stdout, "(default 1GiB)") {
		t.Errorf("run -h does not show -max-memory with its default 1GiB")
	}
}

// TestTrap checks that a trap, in the guest's own code or raised by the
// host on bad input, prints the trap message and exits non-zero.
func TestTrap(t *testing.T) {
	dir := t.TempDir()
	unreachable := filepath.Join(dir, "unreachable.wasm")
	if err := os.WriteFile(unreachable, module(nil, nil), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "run", unreachable)
	if r.code != exitTrap || !strings.Contains(r.stderr, "unreachable") {
		t.Errorf("unreachable: exit code %d, stderr %q", r.code, r.stderr)
	}

	// Dropping a handle the guest never had is bad input: the host traps.
	var field string
	for _, f := range hostimports.Functions(host.TLSModule) {
		params, results, _ := hostimports.Signature(host.TLSModule, f)
		if strings.HasPrefix(f, "[resource-drop]") && len(params) == 1 && params[0] == api.ValueTypeI32 && len(results) == 0 {
			field = f
			break
		}
	}
	if field == "" {
		t.Fatalf("no resource-drop among %s functions %v", host.TLSModule, hostimports.Functions(host.TLSModule))
	}
	badDrop := filepath.Join(dir, "baddrop.wasm")
	if err := os.WriteFile(badDrop, module(&wasmImport{host.TLSModule, field}, wasmbin.Cat([]byte{0x41}, wasmbin.Sleb(12345))), 0o644); err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, "run", badDrop)
	if r.code != exitTrap || !strings.Contains(r.stderr, "wasitls: trap in "+host.TLSModule+"#"+field) {
		t.Errorf("bad drop: exit code %d, stderr %q", r.code, r.stderr)
	}

	// A function the host does not have, of an interface it serves: one
	// line naming the import, before the guest runs (wazero's link error
	// named the anonymous host module, and the CLI called it a trap).
	noSuch := filepath.Join(dir, "nosuch.wasm")
	if err := os.WriteFile(noSuch, module(&wasmImport{"wasi:io/streams@0.2.0", "nosuch"}, []byte{0x41, 0x00}), 0o644); err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, "run", noSuch)
	if want := "wasitls: run: host: the guest imports wasi:io/streams@0.2.0#nosuch, which the host does not serve\n"; r.code != exitUsage || r.stderr != want {
		t.Errorf("unknown import: exit code %d, stderr %q, want %d, %q", r.code, r.stderr, exitUsage, want)
	}
}

// TestBackends checks `wasitls backends` against the registry.
func TestBackends(t *testing.T) {
	r := runCLI(t, "backends")
	if r.code != 0 {
		t.Fatalf("exit code %d", r.code)
	}
	for _, n := range wapi.Names() {
		if !regexp.MustCompile(`(?m)^` + n + `\s`).MatchString(r.stdout) {
			t.Errorf("backend %s not listed", n)
		}
	}
	if !strings.Contains(r.stdout, "default: "+builtin.DefaultName+"\n") {
		t.Errorf("default is not %s", builtin.DefaultName)
	}
	if slices.Contains(wapi.Names(), "utls") && !strings.Contains(r.stdout, "chrome") {
		t.Errorf("utls fingerprints not listed")
	}
}

type wasmImport struct{ module, field string }

// exitModule is a wasip1 command that calls proc_exit(code).
func exitModule(code int) []byte {
	return module(&wasmImport{"wasi_snapshot_preview1", "proc_exit"}, wasmbin.Cat([]byte{0x41}, wasmbin.Sleb(int64(code))))
}

// module assembles a core module whose _start calls imp with the one i32
// argument that arg (an i32.const instruction) pushes, then executes
// unreachable. With imp nil it only executes unreachable.
func module(imp *wasmImport, arg []byte) []byte {
	var b wasmbin.Builder
	body := []byte{0x00} // no locals
	if imp != nil {
		f := b.ImportFunc(imp.module, imp.field, []api.ValueType{api.ValueTypeI32}, nil)
		body = wasmbin.Cat(body, arg, []byte{0x10}, wasmbin.Leb(f)) // call imp
	}
	start := b.Func(nil, nil, append(body, 0x00, 0x0b)) // unreachable, end
	b.Memory(1)
	b.Export("_start", wasmbin.KindFunc, start)
	b.Export("memory", wasmbin.KindMemory, 0)
	return b.Bytes()
}

// httpsServer serves, on 127.0.0.1, a page that names the client
// certificate it got ("client: CN" or "client: none"); it asks for one when
// ask is set and requires one when require is. It returns the port.
func httpsServer(t *testing.T, p *pki.PKI, ask, require bool) string {
	t.Helper()
	cfg := &tls.Config{Certificates: []tls.Certificate{p.Server().TLS}, ClientCAs: p.Roots}
	switch {
	case require:
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	case ask:
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := "none"
		if len(r.TLS.PeerCertificates) > 0 {
			name = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		_, _ = io.WriteString(w, "client: "+name+"\n")
	}))
	srv.TLS = cfg
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port)
}

// TestRunDenyByName: -deny patterns with a name, or "*" for a port, win
// over -allow through the CLI; the same commands without -deny fetch the
// page.
func TestRunDenyByName(t *testing.T) {
	guest := guestFile(t, demoGuestSrc)
	p := pki.New(t)
	caFile := p.WriteRoot(t, t.TempDir(), "ca.pem")
	port := httpsServer(t, p, false, false)
	url := "https://localhost:" + port + "/"
	for _, tc := range []struct {
		allow, deny string
	}{
		{"localhost:" + port, "localhost:*"},
		{"localhost:" + port, "LOCALHOST.:" + port},
		{"127.0.0.0/8:*", "*:" + port},
		{"127.0.0.0/8:*", "localhost:*"},
		{"*:*", "*:" + port},
	} {
		r := runCLI(t, "run", "-backend", "stdtls", "-ca", caFile, "-allow", tc.allow, guest, url)
		if r.code != 0 || r.stdout != "client: none\n" {
			t.Errorf("-allow %s: exit code %d, stdout %q; want the page", tc.allow, r.code, r.stdout)
		}
		r = runCLI(t, "run", "-backend", "stdtls", "-ca", caFile, "-allow", tc.allow, "-deny", tc.deny, "-v", guest, url)
		if r.code != 1 || !strings.Contains(r.stderr, "access-denied") || r.stdout != "" {
			t.Errorf("-allow %s -deny %s: exit code %d, stdout %q; want 1 and access-denied", tc.allow, tc.deny, r.code, r.stdout)
		}
		if !strings.Contains(r.stderr, `msg="denied by policy"`) {
			t.Errorf("-allow %s -deny %s: -v did not log the denial", tc.allow, tc.deny)
		}
	}
}

// TestRunClientFor checks how -client-for matches: an address pattern is
// the address connected to, so -client-for 127.0.0.1:PORT applies to
// https://localhost:PORT/ (the guest looked localhost up and connected to
// 127.0.0.1); a name pattern is the server name, which must be a name the
// guest looked up for that address; another port gets nothing.
func TestRunClientFor(t *testing.T) {
	guest := guestFile(t, demoGuestSrc)
	p := pki.New(t)
	dir := t.TempDir()
	caFile := p.WriteRoot(t, dir, "ca.pem")
	ccert, ckey := p.Client("cli-identity").WriteFiles(t, dir, "client")
	port := httpsServer(t, p, true, false)
	other := httpsServer(t, p, true, false)
	for _, tc := range []struct {
		allow, clientFor, url, want string
	}{
		{"127.0.0.1:" + port, "127.0.0.1:" + port, "https://localhost:" + port + "/", "cli-identity"},
		{"127.0.0.1:" + port, "127.0.0.0/8:*", "https://localhost:" + port + "/", "cli-identity"},
		{"127.0.0.1:" + port, "127.0.0.1:" + port, "https://127.0.0.1:" + port + "/", "cli-identity"},
		{"127.0.0.1:" + port, "localhost:" + port, "https://localhost:" + port + "/", "cli-identity"},
		{"127.0.0.1:" + port, "localhost:" + port, "https://127.0.0.1:" + port + "/", "none"}, // no name led there
		{"127.0.0.1:*", "127.0.0.1:" + port, "https://localhost:" + other + "/", "none"},
		{"127.0.0.1:*", "localhost:" + port, "https://localhost:" + other + "/", "none"},
	} {
		r := runCLI(t, "run", "-backend", "stdtls", "-ca", caFile, "-allow", tc.allow,
			"-client-cert", ccert, "-client-key", ckey, "-client-for", tc.clientFor, guest, tc.url)
		if r.code != 0 || r.stdout != "client: "+tc.want+"\n" {
			t.Errorf("-client-for %s, %s: exit code %d, stdout %q; want client: %s", tc.clientFor, tc.url, r.code, r.stdout, tc.want)
		}
	}
}
