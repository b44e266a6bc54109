package witcheck

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	wapi "github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/host"
	"github.com/wasitls/wasitls/internal/hostimports"
	"github.com/wasitls/wasitls/internal/testkit/guestbuild"
	"github.com/wasitls/wasitls/internal/testkit/peers"
	"github.com/wasitls/wasitls/internal/witsrc"
)

// witSource is Source for a test.
func witSource(t *testing.T, root string) string {
	t.Helper()
	src, err := witsrc.Source(root)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

type result struct {
	Module string `json:"module"`
	OK     bool   `json:"ok"`
	Error  string `json:"error"`
}

// check runs jco over modules (path -> adapter path, "" for jco's real
// command adapter) and returns each module's outcome.
func check(t *testing.T, modules map[string]string) map[string]result {
	t.Helper()
	return checkWorld(t, "wasitls:check/guest", modules)
}

// checkWorld is check against another world of the check package.
func checkWorld(t *testing.T, world string, modules map[string]string) map[string]result {
	t.Helper()
	node, jco := peers.Node(t), peers.JCO(t)
	dir := t.TempDir()
	witFile := filepath.Join(dir, "all.wit")
	if err := os.WriteFile(witFile, []byte(witSource(t, filepath.Join(peers.RepoRoot(), "wit"))), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"testdata/check.mjs", jco, witFile, world}
	for m, a := range modules {
		if a != "" {
			m += "=" + a
		}
		args = append(args, m)
	}
	cmd := exec.Command(node, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node check.mjs: %v\n%s", err, stderr.String())
	}
	results := map[string]result{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("bad line from check.mjs %q: %v", sc.Text(), err)
		}
		results[r.Module] = r
	}
	if len(results) != len(modules) {
		t.Fatalf("check.mjs reported %d modules, want %d\n%s", len(results), len(modules), out)
	}
	return results
}

// guests lists the core-module guest programs under internal/guests (jsget
// is a component already: componentize-js checks its imports itself).
func guests(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(peers.RepoRoot(), "internal", "guests"))
	if err != nil {
		t.Fatal(err)
	}
	var pkgs []string
	for _, e := range entries {
		if e.IsDir() && e.Name() != "internal" && e.Name() != "jsget" {
			pkgs = append(pkgs, "./internal/guests/"+e.Name())
		}
	}
	if len(pkgs) < 3 {
		t.Fatalf("found only %v test guests", pkgs)
	}
	return pkgs
}

// TestGuestImportsMatchWIT turns every test guest into a component against
// wit/. The guests' wasi_snapshot_preview1 imports are satisfied by a stub
// adapter (see StubAdapter): jco's real adapter brings its own world, whose
// wasi:sockets@0.2.12 (built without the unstable network-error-code) jco
// merges with ours by semver, so a correct network-error-code import would
// be reported missing. The real adapter is exercised separately below.
func TestGuestImportsMatchWIT(t *testing.T) {
	peers.Node(t)
	peers.JCO(t)
	dir := t.TempDir()
	pkgs := guests(t)
	modules := map[string]string{}
	wantImports := map[string]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, pkg := range pkgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wasm, err := guestbuild.BuildErr(pkg)
			if err != nil {
				t.Error(err)
				return
			}
			imports, err := FuncImports(wasm)
			if err != nil {
				t.Error(err)
				return
			}
			adapter, err := StubAdapter(wasm)
			if err != nil {
				t.Error(err)
				return
			}
			base := filepath.Join(dir, filepath.Base(pkg))
			if err := os.WriteFile(base+".wasm", wasm, 0o644); err != nil {
				t.Error(err)
			}
			if err := os.WriteFile(base+".adapter.wasm", adapter, 0o644); err != nil {
				t.Error(err)
			}
			mu.Lock()
			defer mu.Unlock()
			modules[base+".wasm"] = base + ".adapter.wasm"
			for _, im := range imports {
				if strings.HasPrefix(im.Module, "wasi:") || strings.HasPrefix(im.Module, "wasitls:") {
					wantImports[im.Module+" "+im.Name] = true
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for m, r := range check(t, modules) {
		if !r.OK {
			t.Errorf("%s does not match wit/: %s", filepath.Base(m), r.Error)
		}
	}
	// Every //go:wasmimport in guest/ must be linked into some guest, so
	// that no binding escapes the check.
	for _, b := range bindings(t) {
		if !wantImports[b] {
			t.Errorf("binding %q is not imported by any test guest (add it to probe's imports case)", b)
		}
	}
	t.Logf("%d guests, %d distinct wasi:* imports checked", len(modules), len(wantImports))
}

// TestGuestsWithRealAdapter runs the guests that do not use
// network-error-code through jco's real wasi_snapshot_preview1 command
// adapter, as a component toolchain would.
func TestGuestsWithRealAdapter(t *testing.T) {
	peers.Node(t)
	peers.JCO(t)
	dir := t.TempDir()
	modules := map[string]string{}
	for _, pkg := range []string{"./internal/guests/httpsget", "./internal/guests/relay"} {
		p := filepath.Join(dir, filepath.Base(pkg)+".wasm")
		if err := os.WriteFile(p, guestbuild.Build(t, pkg), 0o644); err != nil {
			t.Fatal(err)
		}
		modules[p] = ""
	}
	for m, r := range check(t, modules) {
		if !r.OK {
			t.Errorf("%s with jco's adapter: %s", filepath.Base(m), r.Error)
		}
	}
}

// TestHostFunctionsMatchWIT checks the host itself against wit/: one module
// imports every function the host serves at 0.2.6 (its name and core
// signature as the host declares them) and must become a component of a
// world that imports every interface wit/ holds. UDP, served only to answer
// not-supported, has no WIT here and is left out.
func TestHostFunctionsMatchWIT(t *testing.T) {
	peers.Node(t)
	peers.JCO(t)
	var ims []Import
	mods := map[string]bool{}
	for _, m := range hostimports.ImportNames() {
		if !strings.HasSuffix(m, "@0.2.6") && m != host.TLSModule && m != host.TLSExtModule && m != host.ServerTLSModule || strings.HasPrefix(m, "wasi:sockets/udp") {
			continue
		}
		mods[m] = true
		for _, f := range hostimports.Functions(m) {
			ps, rs, _ := hostimports.Signature(m, f)
			ims = append(ims, Import{m, f, FuncType{valTypes(ps), valTypes(rs)}})
		}
	}
	for _, want := range []string{host.ServerTLSModule, "wasi:cli/environment@0.2.6", "wasi:cli/exit@0.2.6", "wasi:cli/stdout@0.2.6",
		"wasi:cli/terminal-stderr@0.2.6", "wasi:random/insecure-seed@0.2.6", "wasi:filesystem/types@0.2.6",
		"wasi:filesystem/preopens@0.2.6", "wasi:clocks/wall-clock@0.2.6"} {
		if !mods[want] {
			t.Fatalf("the host does not serve %s", want)
		}
	}
	dir := t.TempDir()
	emptyAdapter := filepath.Join(dir, "adapter.wasm")
	if err := os.WriteFile(emptyAdapter, Module(nil, nil, false), 0o644); err != nil {
		t.Fatal(err)
	}
	realloc := Export{"cabi_realloc", FuncType{[]ValType{I32, I32, I32, I32}, []ValType{I32}}}
	p := filepath.Join(dir, "host.wasm")
	if err := os.WriteFile(p, Module(ims, []Export{realloc}, true), 0o644); err != nil {
		t.Fatal(err)
	}
	r := checkWorld(t, "wasitls:check/host", map[string]string{p: emptyAdapter})[p]
	if !r.OK {
		t.Fatalf("the host's functions do not match wit/: %s", r.Error)
	}
	t.Logf("%d host functions in %d interfaces checked", len(ims), len(mods))
}

func valTypes(ts []wapi.ValueType) []ValType {
	out := make([]ValType, len(ts))
	for i, v := range ts {
		out[i] = ValType(v)
	}
	return out
}

// TestCheckRejectsMismatches proves the check can fail: synthetic modules
// with one import each, right or wrong, must pass or fail accordingly.
func TestCheckRejectsMismatches(t *testing.T) {
	peers.Node(t)
	peers.JCO(t)
	i32, i64 := I32, I64
	fn := func(params []ValType, results ...ValType) FuncType { return FuncType{params, results} }
	const streamsMod, pollMod, tlsMod = "wasi:io/streams@0.2.6", "wasi:io/poll@0.2.6", "wasi:tls/types@0.2.0-draft"
	cases := []struct {
		name string
		im   Import
		ok   bool
	}{
		{"read-correct", Import{streamsMod, "[method]input-stream.read", fn([]ValType{i32, i64, i32})}, true},
		{"ready-correct", Import{pollMod, "[method]pollable.ready", fn([]ValType{i32}, i32)}, true},
		{"tls-constructor-correct", Import{tlsMod, "[constructor]client-handshake", fn([]ValType{i32, i32, i32, i32}, i32)}, true},
		{"start-connect-correct", Import{"wasi:sockets/tcp@0.2.6", "[method]tcp-socket.start-connect",
			fn([]ValType{i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32})}, true},
		{"read-len-as-i32", Import{streamsMod, "[method]input-stream.read", fn([]ValType{i32, i32, i32})}, false},
		{"ready-without-result", Import{pollMod, "[method]pollable.ready", fn([]ValType{i32})}, false},
		{"tls-constructor-missing-param", Import{tlsMod, "[constructor]client-handshake", fn([]ValType{i32, i32, i32}, i32)}, false},
		{"start-connect-short-address", Import{"wasi:sockets/tcp@0.2.6", "[method]tcp-socket.start-connect",
			fn([]ValType{i32, i32, i32, i32, i32, i32, i32, i32})}, false},
		{"unknown-function", Import{streamsMod, "[method]input-stream.peek", fn([]ValType{i32, i64, i32})}, false},
		{"unknown-interface", Import{"wasi:io/streamz@0.2.6", "[method]input-stream.read", fn([]ValType{i32, i64, i32})}, false},
		{"get-as-method-without-retptr", Import{tlsMod, "[method]future-client-streams.get", fn([]ValType{i32}, i32)}, false},
	}
	dir := t.TempDir()
	emptyAdapter := filepath.Join(dir, "adapter.wasm")
	if err := os.WriteFile(emptyAdapter, Module(nil, nil, false), 0o644); err != nil {
		t.Fatal(err)
	}
	realloc := Export{"cabi_realloc", fn([]ValType{i32, i32, i32, i32}, i32)}
	modules := map[string]string{}
	for _, c := range cases {
		p := filepath.Join(dir, c.name+".wasm")
		if err := os.WriteFile(p, Module([]Import{c.im}, []Export{realloc}, true), 0o644); err != nil {
			t.Fatal(err)
		}
		modules[p] = emptyAdapter
	}
	results := check(t, modules)
	for _, c := range cases {
		r := results[filepath.Join(dir, c.name+".wasm")]
		switch {
		case c.ok && !r.OK:
			t.Errorf("%s: rejected, want accepted: %s", c.name, r.Error)
		case !c.ok && r.OK:
			t.Errorf("%s: accepted, want rejected", c.name)
		case !c.ok:
			t.Logf("%s: rejected: %s", c.name, firstLine(r.Error))
		}
	}
}

func firstLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func TestFuncImportsRoundTrip(t *testing.T) {
	want := []Import{
		{"a", "f", FuncType{[]ValType{I32, I64}, []ValType{I32}}},
		{"b", "g", FuncType{nil, nil}},
	}
	got, err := FuncImports(Module(want, []Export{{"x", FuncType{}}}, true))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for _, bad := range [][]byte{nil, []byte("\x00asm\x01\x00\x00\x00\x02\x05"), []byte("not wasm at all")} {
		if _, err := FuncImports(bad); err == nil {
			t.Errorf("FuncImports(%q) = nil error", bad)
		}
	}
}

var wasmimport = regexp.MustCompile(`(?m)^//go:wasmimport (\S+) (\S+)$`)

// bindings lists "module name" for every //go:wasmimport under guest/.
func bindings(t *testing.T) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(filepath.Join(peers.RepoRoot(), "guest"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") {
			return err
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range wasmimport.FindAllStringSubmatch(string(src), -1) {
			out = append(out, m[1]+" "+m[2])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 60 {
		t.Fatalf("found only %d //go:wasmimport directives under guest/", len(out))
	}
	return out
}
