package witcheck

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// upstream regenerates testdata/upstream.sig from a directory holding the
// upstream checkouts named in wit/UPSTREAM (wasi-sockets-0.2.6/, wasi-tls/, and
// wasi-0.2.6/wit/deps/{cli,filesystem,random} from WebAssembly/WASI's wasip2/):
//
//	go test ./internal/testkit/witcheck -run TestWITSignaturesMatchUpstream -upstream DIR
var upstream = flag.String("upstream", "", "regenerate testdata/upstream.sig from the upstream WIT checkouts in `DIR`")

const upstreamSig = "testdata/upstream.sig"

// parseSignatures reads FormatSignatures' output back.
func parseSignatures(t *testing.T, text string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, block := range strings.Split(strings.TrimSpace(text), "\n\n") {
		if strings.HasPrefix(block, "#") {
			continue // the header
		}
		head, body, _ := strings.Cut(block, "\n")
		name, ok := strings.CutPrefix(head, "interface ")
		if !ok {
			t.Fatalf("%s: bad block %q", upstreamSig, head)
		}
		out[name] = body
	}
	return out
}

const sigHeader = `# The signatures of the upstream WIT interfaces that wit/ implements
# (see wit/UPSTREAM), normalized by witcheck.Signatures: declarations only,
# no comments or feature gates. Regenerate with -upstream DIR.

`

// The project's WIT (wit/) rewrites the upstream doc comments, but every
// interface it has must declare exactly what upstream declares.
func TestWITSignaturesMatchUpstream(t *testing.T) {
	if *upstream != "" {
		all := map[string]string{}
		for _, dir := range []string{"wasi-sockets-0.2.6/wit", "wasi-tls/wit", "wasi-0.2.6/wit"} {
			sigs, err := Signatures(filepath.Join(*upstream, dir))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range sigs {
				if old, ok := all[k]; ok && old != v {
					t.Fatalf("%s differs between the upstream checkouts", k)
				}
				all[k] = v
			}
		}
		if err := os.WriteFile(upstreamSig, []byte(sigHeader+FormatSignatures(all)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(upstreamSig)
	if err != nil {
		t.Fatal(err)
	}
	want := parseSignatures(t, string(b))
	got, err := Signatures(filepath.Join("..", "..", "..", "wit"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) < 9 {
		t.Fatalf("found only %d interfaces in wit/", len(got))
	}
	for name, body := range got {
		w, ok := want[name]
		if !ok {
			t.Errorf("wit/ has interface %s, which upstream does not", name)
			continue
		}
		if body != w {
			t.Errorf("interface %s differs from upstream:\n%s", name, lineDiff(w, body))
		}
	}
}

// lineDiff lists the lines only in want (-) and only in got (+).
func lineDiff(want, got string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	w, g := in(want), in(got)
	var b strings.Builder
	for _, l := range strings.Split(want, "\n") {
		if !g[l] {
			b.WriteString("- " + l + "\n")
		}
	}
	for _, l := range strings.Split(got, "\n") {
		if !w[l] {
			b.WriteString("+ " + l + "\n")
		}
	}
	return b.String()
}

// Doc comments and layout do not change a signature; a changed type does.
func TestSignaturesIgnoreOnlyComments(t *testing.T) {
	dir := t.TempDir()
	write := func(text string) map[string]string {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "a.wit"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := Signatures(dir)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a := write("package x:y@1.0.0;\n/// Doc.\n@since(version = 1.0.0)\ninterface i {\n  /// Reads.\n  read: func(len: u64) -> result<list<u8>, e>;\n}\n")
	b := write("package x:y@1.0.0;\ninterface i { read: func(\n    len: u64,\n) -> result<list<u8>, e>; // a comment\n}\n")
	c := write("package x:y@1.0.0;\ninterface i { read: func(len: u32) -> result<list<u8>, e>; }\n")
	if a["x:y@1.0.0/i"] == "" || a["x:y@1.0.0/i"] != b["x:y@1.0.0/i"] {
		t.Fatalf("comments or layout changed the signature: %q vs %q", a, b)
	}
	if a["x:y@1.0.0/i"] == c["x:y@1.0.0/i"] {
		t.Fatal("a changed parameter type left the signature equal")
	}
}
