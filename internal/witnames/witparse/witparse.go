// Package witparse reads the function signatures of a wit/ tree, as far as
// naming goes: interfaces, functions and their parameters flattened to core
// values, and writes them as Go source for package witnames. It knows the
// WIT that wit/ uses (interfaces, resources, records, variants, enums,
// flags, type aliases, use), not the whole language.
package witparse

import (
	"bytes"
	"fmt"
	"go/format"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Func is one function as a core import.
type Func struct {
	Iface  string   // "wasi:io/streams" (no version)
	Name   string   // "[method]input-stream.read"
	Params []string // "self", "len", "ret-ptr"
}

// tdef is a named type: its kind and what it is made of.
type tdef struct {
	kind  string   // record, variant, enum, flags, alias, resource
	elems []string // field or case types ("" for a case without payload)
}

type parser struct {
	toks  []string
	i     int
	types map[string]tdef
	funcs bool // the second pass: the types are all known
}

var (
	lineComment = regexp.MustCompile(`//[^\n]*`)
	gate        = regexp.MustCompile(`@(since|unstable|deprecated)\([^)]*\)`)
	tokenRE     = regexp.MustCompile(`->|[A-Za-z_%][A-Za-z0-9_\-]*|[0-9]+(\.[0-9]+)*(-[A-Za-z0-9.]+)?|[{}()<>,;:=./@*]`)
)

// Load reads every .wit file under root (root itself, deps/*, ext).
func Load(root string) (fns []Func, err error) {
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(error)
			if !ok {
				panic(r)
			}
			fns, err = nil, e
		}
	}()
	dirs := []string{root}
	for _, g := range []string{"deps/*", "ext"} {
		m, _ := filepath.Glob(filepath.Join(root, g))
		sort.Strings(m)
		dirs = append(dirs, m...)
	}
	type file struct{ pkg, text string }
	var files []file
	types := map[string]tdef{}
	for _, d := range dirs {
		names, _ := filepath.Glob(filepath.Join(d, "*.wit"))
		sort.Strings(names)
		var pkg string
		var texts []string
		for _, n := range names {
			b, err := os.ReadFile(n)
			if err != nil {
				return nil, fmt.Errorf("witparse: %w", err)
			}
			t := gate.ReplaceAllString(lineComment.ReplaceAllString(string(b), ""), "")
			if m := regexp.MustCompile(`package\s+([a-z0-9-]+:[a-z0-9-]+)@`).FindStringSubmatch(t); m != nil {
				pkg = m[1]
			}
			texts = append(texts, t)
		}
		for _, t := range texts {
			files = append(files, file{pkg, t})
		}
	}
	// Two passes: the types first (a function may use a type of another
	// interface), then the functions.
	var out []Func
	for pass := 0; pass < 2; pass++ {
		for _, f := range files {
			p := &parser{toks: tokenRE.FindAllString(f.text, -1), types: types, funcs: pass == 1}
			fns, err := p.file(f.pkg, pass == 1)
			if err != nil {
				return nil, err
			}
			out = append(out, fns...)
		}
	}
	return out, nil
}

func (p *parser) peek() string {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return ""
}

// next consumes a token; reading well past the end (a truncated file in a
// loop that waits for its closing token) panics with errEOF, which Load
// returns.
func (p *parser) next() string {
	if p.i > len(p.toks)+8 {
		panic(errEOF)
	}
	t := p.peek()
	p.i++
	return t
}

var errEOF = fmt.Errorf("witparse: unexpected end of file")

func (p *parser) expect(t string) error {
	if got := p.next(); got != t {
		return fmt.Errorf("witparse: want %q, got %q near token %d", t, got, p.i)
	}
	return nil
}

// skipTo skips past the next t at the current nesting depth.
func (p *parser) skipTo(t string) {
	depth := 0
	for p.i < len(p.toks) {
		x := p.next()
		switch {
		case x == t && depth == 0:
			return
		case x == "{" || x == "(" || x == "<":
			depth++
		case x == "}" || x == ")" || x == ">":
			depth--
		}
	}
}

func (p *parser) file(pkg string, funcs bool) ([]Func, error) {
	var out []Func
	for p.i < len(p.toks) {
		switch p.next() {
		case "package":
			p.skipTo(";")
		case "world":
			p.next()
			p.expect("{")
			p.skipTo("}")
		case "interface":
			name := p.next()
			fns, err := p.iface(pkg+"/"+name, funcs)
			if err != nil {
				return nil, err
			}
			out = append(out, fns...)
		}
	}
	return out, nil
}

func (p *parser) iface(iface string, funcs bool) ([]Func, error) {
	if err := p.expect("{"); err != nil {
		return nil, err
	}
	var out []Func
	for {
		t := p.next()
		switch t {
		case "}":
			return out, nil
		case "":
			return nil, fmt.Errorf("witparse: %s: unexpected end", iface)
		case "use":
			p.use()
		case "type":
			name := p.next()
			p.expect("=")
			p.types[name] = tdef{kind: "alias", elems: []string{p.typ()}}
			p.expect(";")
		case "record", "variant", "enum", "flags":
			name := p.next()
			p.types[name] = tdef{kind: t, elems: p.members(t)}
		case "resource":
			name := p.next()
			p.types[name] = tdef{kind: "resource"}
			if p.peek() == ";" {
				p.next()
			} else {
				fns, err := p.resource(iface, name)
				if err != nil {
					return nil, err
				}
				out = append(out, fns...)
			}
			if funcs {
				out = append(out, Func{Iface: iface, Name: "[resource-drop]" + name, Params: []string{"self"}})
			}
		default:
			// name: func(...) -> T;
			if err := p.expect(":"); err != nil {
				return nil, err
			}
			if err := p.expect("func"); err != nil {
				return nil, err
			}
			out = append(out, p.fn(iface, t, nil))
		}
		if !funcs {
			out = nil
		}
	}
}

// use records the renames of a use statement (x as y: y is x).
func (p *parser) use() {
	for p.peek() != "{" {
		p.next()
	}
	p.next()
	for {
		name := p.next()
		if name == "}" {
			break
		}
		if p.peek() == "as" {
			p.next()
			alias := p.next()
			p.types[alias] = tdef{kind: "alias", elems: []string{name}}
		}
		if p.peek() == "," {
			p.next()
		}
	}
	p.expect(";")
}

// members reads a record's fields, a variant's cases, or the names of an
// enum or flags, returning the types ("" where there is none).
func (p *parser) members(kind string) []string {
	p.expect("{")
	var out []string
	for {
		name := p.next()
		if name == "}" {
			return out
		}
		typ := ""
		switch {
		case kind == "record":
			p.expect(":")
			typ = p.typ()
		case kind == "variant" && p.peek() == "(":
			p.next()
			typ = p.typ()
			p.expect(")")
		}
		out = append(out, typ)
		if p.peek() == "," {
			p.next()
		}
	}
}

func (p *parser) resource(iface, res string) ([]Func, error) {
	p.expect("{")
	var out []Func
	for {
		t := p.next()
		switch t {
		case "}":
			return out, nil
		case "":
			return nil, fmt.Errorf("witparse: %s: resource %s: unexpected end", iface, res)
		case "constructor":
			out = append(out, p.fn(iface, "[constructor]"+res, nil))
		default:
			p.expect(":")
			if p.peek() == "static" {
				p.next()
				p.expect("func")
				out = append(out, p.fn(iface, "[static]"+res+"."+t, nil))
				continue
			}
			p.expect("func")
			out = append(out, p.fn(iface, "[method]"+res+"."+t, []string{"self"}))
		}
	}
}

// fn reads (params) [-> result]; and names the core parameters.
func (p *parser) fn(iface, name string, params []string) Func {
	if !p.funcs {
		p.skipTo(";")
		return Func{}
	}
	p.expect("(")
	for p.peek() != ")" {
		pn := p.next()
		p.expect(":")
		params = append(params, p.flatNames(pn, p.typ())...)
		if p.peek() == "," {
			p.next()
		}
	}
	p.next()
	if p.peek() == "->" {
		p.next()
		if p.flat(p.typ()) > 1 {
			params = append(params, "ret-ptr")
		}
	}
	p.expect(";")
	return Func{Iface: iface, Name: name, Params: params}
}

// typ reads a type and returns it as written, without spaces.
func (p *parser) typ() string {
	t := p.next()
	if p.peek() != "<" {
		return t
	}
	var b strings.Builder
	b.WriteString(t)
	depth := 0
	for {
		x := p.next()
		b.WriteString(x)
		switch x {
		case "<":
			depth++
		case ">":
			depth--
		}
		if depth == 0 {
			return b.String()
		}
	}
}

// split returns a generic type's constructor and arguments:
// "result<a,list<u8>>" -> "result", ["a", "list<u8>"].
func split(t string) (string, []string) {
	i := strings.IndexByte(t, '<')
	if i < 0 {
		return t, nil
	}
	inner := t[i+1 : len(t)-1]
	var args []string
	depth, start := 0, 0
	for j, c := range inner {
		switch c {
		case '<':
			depth++
		case '>':
			depth--
		case ',':
			if depth == 0 {
				args = append(args, inner[start:j])
				start = j + 1
			}
		}
	}
	return t[:i], append(args, inner[start:])
}

// flat is how many core values t flattens to.
func (p *parser) flat(t string) int {
	c, args := split(t)
	switch c {
	case "", "_":
		return 0
	case "string", "list":
		return 2
	case "option":
		return 1 + p.flat(args[0])
	case "result":
		n := 0
		for _, a := range args {
			n = max(n, p.flat(a))
		}
		return 1 + n
	case "tuple":
		n := 0
		for _, a := range args {
			n += p.flat(a)
		}
		return n
	case "borrow", "own", "bool", "u8", "u16", "u32", "u64", "s8", "s16", "s32", "s64", "f32", "f64", "char":
		return 1
	}
	d, ok := p.types[c]
	if !ok {
		panic(fmt.Errorf("witparse: unknown type %s", t))
	}
	switch d.kind {
	case "alias":
		return p.flat(d.elems[0])
	case "record":
		n := 0
		for _, e := range d.elems {
			n += p.flat(e)
		}
		return n
	case "variant":
		n := 0
		for _, e := range d.elems {
			n = max(n, p.flat(e))
		}
		return 1 + n
	case "flags":
		return (len(d.elems) + 31) / 32
	}
	return 1 // enum, resource
}

// flatNames names the core values of parameter name of type t.
func (p *parser) flatNames(name, t string) []string {
	c, _ := split(t)
	if c == "string" || c == "list" {
		return []string{name + "-ptr", name + "-len"}
	}
	n := p.flat(t)
	if n == 1 {
		return []string{name}
	}
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", name, i)
	}
	return out
}

// Generate returns names_gen.go for the WIT under root.
func Generate(root string) ([]byte, error) {
	fns, err := Load(root)
	if err != nil {
		return nil, err
	}
	var ifaces []string
	seen := map[string]bool{}
	short := map[string][]string{} // Go name of a function -> the interfaces with it
	for _, f := range fns {
		if !seen[f.Iface] {
			seen[f.Iface] = true
			ifaces = append(ifaces, f.Iface)
		}
		g := funcIdent(f.Name)
		short[g] = append(short[g], f.Iface)
	}
	var b bytes.Buffer
	b.WriteString("// Code generated by go run ./internal/witnames/gen; DO NOT EDIT.\n\npackage witnames\n\n")
	b.WriteString("// Interfaces, by name without the version.\nconst (\n")
	for _, i := range ifaces {
		fmt.Fprintf(&b, "\t%s = %q\n", ifaceIdent(i), i)
	}
	b.WriteString(")\n")
	for _, i := range ifaces {
		fmt.Fprintf(&b, "\n// Functions of %s.\nconst (\n", i)
		for _, f := range fns {
			if f.Iface == i {
				fmt.Fprintf(&b, "\t%s = %q\n", identOf(f, short), f.Name)
			}
		}
		b.WriteString(")\n")
	}
	b.WriteString("\n// params: the flattened parameter names of each function, by interface#function.\nvar params = map[string][]string{\n")
	for _, f := range fns {
		fmt.Fprintf(&b, "\t%s + \"#\" + %s: {", ifaceIdent(f.Iface), identOf(f, short))
		for k, n := range f.Params {
			if k > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%q", n)
		}
		b.WriteString("},\n")
	}
	b.WriteString("}\n")
	return format.Source(b.Bytes())
}

// identOf is the Go name of f: the function's, or the interface's and the
// function's where two interfaces have a function of that name.
func identOf(f Func, short map[string][]string) string {
	g := funcIdent(f.Name)
	if len(short[g]) > 1 {
		return ifaceIdent(f.Iface) + g
	}
	return g
}

var initialisms = map[string]string{"io": "IO", "tcp": "TCP", "tls": "TLS", "ip": "IP", "udp": "UDP", "alpn": "ALPN", "cli": "CLI", "id": "ID", "ids": "IDs", "cwd": "Cwd"}

// camel turns kebab-case words into a Go name.
func camel(s string) string {
	var b strings.Builder
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return r == '-' || r == '.' || r == '/' || r == ':' }) {
		if x, ok := initialisms[w]; ok {
			b.WriteString(x)
			continue
		}
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	return b.String()
}

// ifaceIdent: "wasi:io/streams" -> IOStreams; another namespace keeps its
// name: "wasitls:tls/server" -> WasitlsTLSServer.
func ifaceIdent(i string) string {
	return camel(strings.TrimPrefix(i, "wasi:"))
}

// funcIdent: "[method]input-stream.read" -> InputStreamRead,
// "[constructor]client-handshake" -> NewClientHandshake,
// "[resource-drop]pollable" -> DropPollable.
func funcIdent(n string) string {
	switch {
	case strings.HasPrefix(n, "[constructor]"):
		return "New" + camel(strings.TrimPrefix(n, "[constructor]"))
	case strings.HasPrefix(n, "[resource-drop]"):
		return "Drop" + camel(strings.TrimPrefix(n, "[resource-drop]"))
	case strings.HasPrefix(n, "[method]"):
		return camel(strings.TrimPrefix(n, "[method]"))
	case strings.HasPrefix(n, "[static]"):
		return camel(strings.TrimPrefix(n, "[static]"))
	}
	return camel(n)
}
