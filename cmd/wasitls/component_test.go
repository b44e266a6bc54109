package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/component"
	"github.com/wasitls/wasitls/conformance"
	"github.com/wasitls/wasitls/conformance/pki"
	"github.com/wasitls/wasitls/internal/testkit/guestbuild"
)

// componentFile builds the component form of the guest pkg (jco's
// componentNew with its real preview1 command adapter) into a file.
func componentFile(t *testing.T, pkg string) (path string, wasm []byte) {
	t.Helper()
	wasm = guestbuild.Build(t, guestbuild.Component(pkg))
	path = filepath.Join(t.TempDir(), filepath.Base(pkg)+".component.wasm")
	if err := os.WriteFile(path, wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, wasm
}

// TestRunComponent runs the demo guest as a component against OpenSSL's
// s_server: the same page as the core module gets.
func TestRunComponent(t *testing.T) {
	guest, _ := componentFile(t, demoGuestSrc)
	p := pki.New(t)
	dir := t.TempDir()
	certFile, keyFile := p.Server().WriteFiles(t, dir, "server")
	caFile := p.WriteRoot(t, dir, "ca.pem")
	port := conformance.StartOpenSSL(t, "-cert", certFile, "-cert_chain", certFile, "-key", keyFile, "-www")
	r := runCLI(t, "run", "-backend", "stdtls", "-ca", caFile, "-allow", "127.0.0.1:"+port, "-v",
		guest, "https://localhost:"+port+"/")
	if r.code != 0 {
		t.Fatalf("exit code %d", r.code)
	}
	if !strings.Contains(r.stdout, "s_server") || !strings.Contains(r.stdout, "TLSv1.3") {
		t.Errorf("stdout is not s_server's -www page over TLS 1.3")
	}
	if !strings.Contains(r.stderr, `msg="tls handshake"`) {
		t.Errorf("-v log lacks the handshake")
	}
	// A denied destination reaches the component as access-denied.
	r = runCLI(t, "run", "-allow", "127.0.0.1:1", guest, "https://127.0.0.1:"+port+"/")
	if r.code != 1 || !strings.Contains(r.stderr, "error: tcp: access-denied") {
		t.Errorf("denied: exit code %d, want 1 with error: tcp: access-denied", r.code)
	}
}

// TestDemoComponent: `wasitls demo -guest` takes the demo guest's
// component and fetches the demo page with it.
func TestDemoComponent(t *testing.T) {
	guest, _ := componentFile(t, demoGuestSrc)
	r := runCLI(t, "demo", "-backend", "stdtls", "-guest", guest)
	if r.code != 0 {
		t.Fatalf("demo exit code %d", r.code)
	}
	if !strings.Contains(r.stdout, "stdtls:  Hello from the wasitls demo server") {
		t.Errorf("stdout lacks the demo page's first line")
	}
}

// TestRunComponentRefused: broken components are refused before anything
// runs, with exit code 2 and one line that says what is wrong.
func TestRunComponentRefused(t *testing.T) {
	_, wasm := componentFile(t, demoGuestSrc)
	dir := t.TempDir()
	file := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	version := append([]byte{}, wasm...)
	version[4] = 0x0c
	nested := append(append([]byte{}, wasm...), 0x04, 0x00)
	for _, tc := range []struct {
		file, want string
	}{
		{file("truncated.wasm", wasm[:len(wasm)/2]), "component: core module section at offset"},
		{file("version.wasm", version), "component: version 0xc, want 0xd"},
		{file("nested.wasm", nested), "component: component section at offset " + strconv.Itoa(len(wasm)) + ": nested component: not a WebAssembly binary"},
	} {
		r := runCLI(t, "run", "-allow", "127.0.0.1:1", tc.file)
		if r.code != exitUsage {
			t.Errorf("%s: exit code %d, want 2", tc.file, r.code)
		}
		if strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, "wasitls: run ") || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: stderr %q, want one line naming %q", tc.file, r.stderr, tc.want)
		}
	}
}

// TestRunJSComponent runs a JavaScript guest that componentize-js built
// (StarlingMonkey's main module, wasi:cli/run exported by it, no _start):
// an HTTPS GET over raw wasi:sockets and wasi:tls against OpenSSL.
func TestRunJSComponent(t *testing.T) {
	wasm := guestbuild.Build(t, "./internal/guests/jsget")
	c, err := component.Parse(wasm)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := c.Plan()
	if err != nil {
		t.Fatal(err)
	}
	// The path this guest takes: run and post-return exported by the main
	// module itself.
	if plan.Run == "" || plan.PostReturn == "" {
		t.Fatalf("run %q, post-return %q: want the main module's own wasi:cli/run export", plan.Run, plan.PostReturn)
	}
	t.Logf("component %.1f MB: %d core modules, %d core instances, %d lowers; main %.1f MB, run %q, realloc %s",
		float64(len(wasm))/1e6, plan.Modules, len(c.CoreInstances), plan.Lowers, float64(len(plan.Module))/1e6, plan.Run, plan.Realloc)
	guest := filepath.Join(t.TempDir(), "jsguest.component.wasm")
	if err := os.WriteFile(guest, wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	p := pki.New(t)
	dir := t.TempDir()
	certFile, keyFile := p.Server().WriteFiles(t, dir, "server")
	caFile := p.WriteRoot(t, dir, "ca.pem")
	port := conformance.StartOpenSSL(t, "-cert", certFile, "-cert_chain", certFile, "-key", keyFile, "-www")
	r := runCLI(t, "run", "-backend", "stdtls", "-ca", caFile, "-allow", "127.0.0.1:"+port, guest,
		"127.0.0.1", port, "/", "localhost")
	if r.code != 0 {
		t.Fatalf("exit code %d", r.code)
	}
	if !strings.Contains(r.stdout, "s_server") || !strings.Contains(r.stdout, "TLSv1.3") {
		t.Errorf("stdout is not s_server's -www page over TLS 1.3")
	}
	// A failure is run's error result: exit code 1, the guest's reason.
	r = runCLI(t, "run", "-allow", "127.0.0.1:1", guest, "127.0.0.1", port, "/", "localhost")
	if r.code != 1 || !strings.Contains(r.stderr, "access-denied") {
		t.Errorf("denied: exit code %d, want 1 and access-denied", r.code)
	}
}
