package component

import (
	"errors"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/internal/testkit/componentenc"
)

// The tests build components byte by byte in wit-component's shape: a main
// module whose lowered imports reach it through a shim's trampolines that
// a fixup instance fills, a preview1 adapter, and a wasi:cli/run export
// lifted from the main module. Real components (jco's) are run by the
// host's and the CLI's tests.

var (
	leb        = componentenc.Leb
	str        = componentenc.Str
	cat        = componentenc.Cat
	vec        = componentenc.Vec
	section    = componentenc.Section
	preamble   = componentenc.Preamble
	coreModule = componentenc.CoreModule
)

type shape = componentenc.Shape

func defaultShape() shape { return componentenc.Default() }

const streams = "wasi:io/streams@0.2.6"

func TestPlanOfWitComponentShape(t *testing.T) {
	b := defaultShape().Build()
	if !IsComponent(b) {
		t.Fatal("IsComponent = false")
	}
	c, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Modules) != 4 || len(c.CoreInstances) != 7 || len(c.Canons) != 2 {
		t.Fatalf("%d modules, %d core instances, %d canons; want 4, 7, 2", len(c.Modules), len(c.CoreInstances), len(c.Canons))
	}
	p, err := c.Plan()
	if err != nil {
		t.Fatal(err)
	}
	want := []Binding{
		{CoreImport: CoreImport{Module: streams, Field: "[method]output-stream.write [v2]"}, Source: Lowered, Interface: streams, Func: "[method]output-stream.write"},
		{CoreImport: CoreImport{Module: AdapterModule, Field: "fd_write"}, Source: Adapter, Func: "fd_write"},
	}
	if len(p.Bindings) != len(want) {
		t.Fatalf("bindings %+v, want %+v", p.Bindings, want)
	}
	for i := range want {
		if p.Bindings[i] != want[i] {
			t.Errorf("binding %d: %+v, want %+v", i, p.Bindings[i], want[i])
		}
	}
	if p.Realloc != "cabi_realloc" || p.Run != "wasi:cli/run@0.2.6#run" || p.PostReturn != "cabi_post_wasi:cli/run@0.2.6#run" {
		t.Errorf("realloc %q run %q post-return %q", p.Realloc, p.Run, p.PostReturn)
	}
	m, err := ParseCore(p.Module)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Imports[0].Field; got != "[method]output-stream.write" {
		t.Errorf("renamed import %q, want the [v2] suffix gone", got)
	}
	if got := m.Imports[1].Field; got != "fd_write" {
		t.Errorf("second import %q", got)
	}
	if _, ok := m.Exports["cabi_realloc"]; !ok {
		t.Error("the renamed module lost its exports")
	}
}

// TestPlanRunThroughWrapper: wit-component exports wasi:cli/run from an
// instance of a nested component that only re-exports its import.
func TestPlanRunThroughWrapper(t *testing.T) {
	s := defaultShape()
	s.WrapRun = true
	c, err := Parse(s.Build())
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Plan()
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Wrappers) != 1 || p.Run != "wasi:cli/run@0.2.6#run" {
		t.Fatalf("%d wrappers, run %q", len(c.Wrappers), p.Run)
	}
}

func TestPlanRunFromAdapterUsesStart(t *testing.T) {
	s := defaultShape()
	s.RunFromMain = false
	if _, err := Parse(s.Build()); err != nil {
		t.Fatal(err)
	}
	c, _ := Parse(s.Build())
	if _, err := c.Plan(); err == nil || !strings.Contains(err.Error(), "no _start") {
		t.Fatalf("run from the adapter without _start: %v", err)
	}
	s.MainExports["_start"] = 0
	c, _ = Parse(s.Build())
	p, err := c.Plan()
	if err != nil {
		t.Fatal(err)
	}
	if p.Run != "" {
		t.Fatalf("run %q, want _start (empty)", p.Run)
	}
}

// TestRefused: each malformed or unsupported component is refused with one
// line that starts with "component:" and says what is wrong.
func TestRefused(t *testing.T) {
	good := defaultShape().Build()
	with := func(f func(*shape)) []byte {
		s := defaultShape()
		f(&s)
		return s.Build()
	}
	cases := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "not a WebAssembly binary"},
		{"core module", coreModule(nil, nil), "a core module, not a component"},
		{"wrong version", append(append([]byte{}, good[:4]...), append([]byte{0x0c, 0x00}, good[6:]...)...), "version 0xc, want 0xd"},
		{"truncated", good[:len(good)-3], "runs past the end"},
		{"truncated in a section", append(append([]byte{}, good[:len(good)-12]...), 0x0b, 0x02, 0x01), "export section"},
		{"utf16 strings", with(func(s *shape) { s.LowerOpts = [][]byte{{0x03, 0x00}, {0x04, 0x02}, {0x01}} }), "string-encoding=utf16"},
		{"latin1 strings", with(func(s *shape) { s.LowerOpts = [][]byte{{0x03, 0x00}, {0x02}} }), "string-encoding=latin1+utf16"},
		{"async lower", with(func(s *shape) { s.LowerOpts = [][]byte{{0x03, 0x00}, {0x06}} }), "async canonical options"},
		{"foreign realloc", with(func(s *shape) { s.LowerOpts = [][]byte{{0x03, 0x00}, {0x04, 0x01}} }), "realloc other than"},
		{"cabi_import_realloc ignored", with(func(s *shape) { s.MainExports["cabi_import_realloc"] = 0 }), "cabi_import_realloc"},
		{"bad memory index", with(func(s *shape) { s.LowerOpts = [][]byte{{0x03, 0x07}} }), "core memory index 7 out of range"},
		{"nested component with code", with(func(s *shape) { s.Extra = [][]byte{section(4, cat(preamble, section(1, coreModule(nil, nil))))} }), "code of their own (a composed component)"},
		{"components nested twice", with(func(s *shape) { s.Extra = [][]byte{section(4, cat(preamble, section(4, preamble)))} }), "nested twice"},
		{"instantiating a missing component", with(func(s *shape) { s.Extra = [][]byte{section(5, vec(cat([]byte{0x00}, leb(0), vec())))} }), "component index 0 out of range"},
		{"async builtin", with(func(s *shape) { s.Extra = [][]byte{section(8, vec([]byte{0x08, 0x00}))} }), "canon 0x08"},
		{"resource.new", with(func(s *shape) { s.Extra = [][]byte{section(8, vec([]byte{0x02, 0x00}))} }), "resources exported by the guest"},
		{"unknown section", with(func(s *shape) { s.Extra = [][]byte{section(13, nil)} }), "unknown section"},
		{"start section", with(func(s *shape) { s.Extra = [][]byte{section(9, nil)} }), "start functions"},
		{"two memories", with(func(s *shape) {
			s.Extra = [][]byte{
				section(6, vec(cat([]byte{0x00, 0x02}, []byte{0x01}, leb(0), str("memory")))),
				section(8, vec(cat([]byte{0x01, 0x00}, leb(0), vec([]byte{0x03, 0x01})))),
			}
		}), "two memories"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			comp, err := Parse(c.b)
			if err == nil {
				_, err = comp.Plan()
			}
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			var ce *Error
			if !errors.As(err, &ce) || !strings.HasPrefix(msg, "component: ") || strings.Contains(msg, "\n") || !strings.Contains(msg, c.want) {
				t.Fatalf("error %q, want one line starting with \"component: \" naming %q", msg, c.want)
			}
			t.Log(msg)
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add(defaultShape().Build())
	s := defaultShape()
	s.RunFromMain = false
	f.Add(s.Build())
	s.WrapRun = true
	f.Add(s.Build())
	f.Add(preamble)
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "component: ") {
				t.Fatalf("error without the package prefix: %v", err)
			}
			return
		}
		p, err := c.Plan()
		if err != nil {
			if !strings.HasPrefix(err.Error(), "component: ") {
				t.Fatalf("error without the package prefix: %v", err)
			}
			return
		}
		if _, err := ParseCore(p.Module); err != nil {
			t.Fatalf("the renamed main module does not parse: %v", err)
		}
	})
}
