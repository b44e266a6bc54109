package component

import (
	"bytes"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
)

// The tests build components byte by byte in wit-component's shape: a main
// module whose lowered imports reach it through a shim's trampolines that
// a fixup instance fills, a preview1 adapter, and a wasi:cli/run export
// lifted from the main module. Real components (jco's) are run by the
// host's and the CLI's tests.

func leb(v uint32) []byte { return appendU32(nil, v) }

func str(s string) []byte { return appendName(nil, s) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// vec is a vector of items.
func vec(items ...[]byte) []byte { return cat(leb(uint32(len(items))), cat(items...)) }

func section(id byte, body []byte) []byte { return cat([]byte{id}, leb(uint32(len(body))), body) }

var preamble = []byte{0x00, 0x61, 0x73, 0x6d, version, 0x00, layer, 0x00}

// coreModule is a core module with function imports and exports only
// (enough for ParseCore; never compiled here).
func coreModule(imports [][2]string, exports map[string]byte) []byte {
	var ims [][]byte
	for _, im := range imports {
		ims = append(ims, cat(str(im[0]), str(im[1]), []byte{0x00}, leb(0)))
	}
	var exs [][]byte
	for _, name := range slices.Sorted(maps.Keys(exports)) {
		exs = append(exs, cat(str(name), []byte{exports[name]}, leb(0)))
	}
	return cat(coreHeader, section(2, vec(ims...)), section(7, vec(exs...)))
}

// shape holds the knobs the negative tests turn.
type shape struct {
	lowerOpts   [][]byte // canonical options of the lower
	mainExports map[string]byte
	extra       [][]byte // sections appended at the end
	runFromMain bool
	wrapRun     bool // export run through a nested component, as wit-component does
}

func defaultShape() shape {
	return shape{
		lowerOpts: [][]byte{{0x03, 0x00}, {0x04, 0x02}, {0x00}}, // memory 0, realloc core func 2, utf8
		mainExports: map[string]byte{"memory": 2, "cabi_realloc": 0,
			"wasi:cli/run@0.2.6#run": 0, "cabi_post_wasi:cli/run@0.2.6#run": 0},
		runFromMain: true,
	}
}

const streams = "wasi:io/streams@0.2.6"

func (s shape) build() []byte {
	core := func(sort byte) []byte { return []byte{0x00, sort} }
	mainMod := coreModule([][2]string{{streams, "[method]output-stream.write [v2]"}, {AdapterModule, "fd_write"}}, s.mainExports)
	adapter := coreModule(nil, map[string]byte{"fd_write": 0, "wasi:cli/run@0.2.6#run": 0})
	shim := coreModule(nil, map[string]byte{"0": 0, "$imports": 1})
	fixup := coreModule([][2]string{{"", "0"}}, nil)
	run := []byte{}
	if s.runFromMain {
		run = cat(
			section(6, vec(cat(core(0x00), []byte{0x01}, leb(4), str("wasi:cli/run@0.2.6#run")), // core func 4
				cat(core(0x00), []byte{0x01}, leb(4), str("cabi_post_wasi:cli/run@0.2.6#run")))), // core func 5
			section(8, vec(cat([]byte{0x00, 0x00}, leb(4), vec([]byte{0x05, 0x05}), leb(1)))), // lift -> func 1
		)
	} else {
		run = cat(
			section(6, vec(cat(core(0x00), []byte{0x01}, leb(0), str("wasi:cli/run@0.2.6#run")))), // core func 4
			section(8, vec(cat([]byte{0x00, 0x00}, leb(4), vec(), leb(1)))),
		)
	}
	runInstance := section(5, vec(cat([]byte{0x01}, vec(cat([]byte{0x00}, str("run"), []byte{0x01}, leb(1)))))) // instance 1
	if s.wrapRun {
		wrapper := cat(preamble,
			section(10, vec(cat([]byte{0x00}, str("import-func-run"), []byte{0x01}, leb(0)))),
			section(11, vec(cat([]byte{0x00}, str("run"), []byte{0x01}, leb(0), []byte{0x00}))))
		runInstance = cat(section(4, wrapper),
			section(5, vec(cat([]byte{0x00}, leb(0), vec(cat(str("import-func-run"), []byte{0x01}, leb(1)))))))
	}
	b := cat(preamble,
		section(7, vec([]byte{0x40}, []byte{0x40})),                             // two types, skipped
		section(10, vec(cat([]byte{0x00}, str(streams), []byte{0x05}, leb(0)))), // instance 0
		section(1, mainMod), section(1, adapter), section(1, shim), section(1, fixup),
		section(6, vec(cat([]byte{0x01, 0x00}, leb(0), str("[method]output-stream.write")))), // func 0
		section(2, vec(
			cat([]byte{0x00}, leb(1), vec()), // core instance 0: the adapter
			cat([]byte{0x00}, leb(2), vec()), // core instance 1: the shim
		)),
		section(6, vec(
			cat(core(0x00), []byte{0x01}, leb(0), str("fd_write")), // core func 0
			cat(core(0x00), []byte{0x01}, leb(1), str("0")),        // core func 1
			cat(core(0x01), []byte{0x01}, leb(1), str("$imports")), // core table 0
		)),
		section(2, vec(
			cat([]byte{0x01}, vec(cat(str("[method]output-stream.write [v2]"), []byte{0x00}, leb(1)))),                             // 2
			cat([]byte{0x01}, vec(cat(str("fd_write"), []byte{0x00}, leb(0)))),                                                     // 3
			cat([]byte{0x00}, leb(0), vec(cat(str(streams), []byte{0x12}, leb(2)), cat(str(AdapterModule), []byte{0x12}, leb(3)))), // 4: main
		)),
		section(6, vec(
			cat(core(0x02), []byte{0x01}, leb(4), str("memory")),       // core memory 0
			cat(core(0x00), []byte{0x01}, leb(4), str("cabi_realloc")), // core func 2
		)),
		section(8, vec(cat([]byte{0x01, 0x00}, leb(0), vec(s.lowerOpts...)))), // core func 3
		section(2, vec(
			cat([]byte{0x01}, vec(cat(str("$imports"), []byte{0x01}, leb(0)), cat(str("0"), []byte{0x00}, leb(3)))), // 5
			cat([]byte{0x00}, leb(3), vec(cat(str(""), []byte{0x12}, leb(5)))),                                      // 6: fixup
		)),
		run,
		runInstance,
		section(11, vec(cat([]byte{0x00}, str("wasi:cli/run@0.2.6"), []byte{0x05}, leb(1), []byte{0x00}))),
	)
	for _, e := range s.extra {
		b = append(b, e...)
	}
	return b
}

func TestPlanOfWitComponentShape(t *testing.T) {
	b := defaultShape().build()
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
	s.wrapRun = true
	c, err := Parse(s.build())
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
	s.runFromMain = false
	if _, err := Parse(s.build()); err != nil {
		t.Fatal(err)
	}
	c, _ := Parse(s.build())
	if _, err := c.Plan(); err == nil || !strings.Contains(err.Error(), "no _start") {
		t.Fatalf("run from the adapter without _start: %v", err)
	}
	s.mainExports["_start"] = 0
	c, _ = Parse(s.build())
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
	good := defaultShape().build()
	with := func(f func(*shape)) []byte {
		s := defaultShape()
		f(&s)
		return s.build()
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
		{"utf16 strings", with(func(s *shape) { s.lowerOpts = [][]byte{{0x03, 0x00}, {0x04, 0x02}, {0x01}} }), "string-encoding=utf16"},
		{"latin1 strings", with(func(s *shape) { s.lowerOpts = [][]byte{{0x03, 0x00}, {0x02}} }), "string-encoding=latin1+utf16"},
		{"async lower", with(func(s *shape) { s.lowerOpts = [][]byte{{0x03, 0x00}, {0x06}} }), "async canonical options"},
		{"foreign realloc", with(func(s *shape) { s.lowerOpts = [][]byte{{0x03, 0x00}, {0x04, 0x01}} }), "realloc other than"},
		{"cabi_import_realloc ignored", with(func(s *shape) { s.mainExports["cabi_import_realloc"] = 0 }), "cabi_import_realloc"},
		{"bad memory index", with(func(s *shape) { s.lowerOpts = [][]byte{{0x03, 0x07}} }), "core memory index 7 out of range"},
		{"nested component with code", with(func(s *shape) { s.extra = [][]byte{section(4, cat(preamble, section(1, coreModule(nil, nil))))} }), "code of their own (a composed component)"},
		{"components nested twice", with(func(s *shape) { s.extra = [][]byte{section(4, cat(preamble, section(4, preamble)))} }), "nested twice"},
		{"instantiating a missing component", with(func(s *shape) { s.extra = [][]byte{section(5, vec(cat([]byte{0x00}, leb(0), vec())))} }), "component index 0 out of range"},
		{"async builtin", with(func(s *shape) { s.extra = [][]byte{section(8, vec([]byte{0x08, 0x00}))} }), "canon 0x08"},
		{"resource.new", with(func(s *shape) { s.extra = [][]byte{section(8, vec([]byte{0x02, 0x00}))} }), "resources exported by the guest"},
		{"unknown section", with(func(s *shape) { s.extra = [][]byte{section(13, nil)} }), "unknown section"},
		{"start section", with(func(s *shape) { s.extra = [][]byte{section(9, nil)} }), "start functions"},
		{"two memories", with(func(s *shape) {
			s.extra = [][]byte{
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
	f.Add(defaultShape().build())
	s := defaultShape()
	s.runFromMain = false
	f.Add(s.build())
	s.wrapRun = true
	f.Add(s.build())
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
