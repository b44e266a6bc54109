// Package abicheck finds canonical-ABI offsets written as numbers: the
// layouts of return areas, lists and records belong to internal/cabi, and
// the host, the guest bindings and the harnesses read them by name. A test
// runs it over those packages (every file, whatever its build tags).
//
// What counts as a literal offset (an integer literal anywhere in the
// expression, 0 included: a tag at 0 is cabi's fact too):
//
//   - the offset argument of cabi's PutU8..PutU64, GetU16..GetU64,
//     PutIPAddress, GetIPAddress, ReadIPAddress, PutSockAddr, GetSockAddr and
//     ReadSockAddr;
//   - the offset argument of a guest return area's U8, U16, U32 and U64
//     (ret.U32(4));
//   - the size and alignment of Area(ptr, size, align);
//   - an index or the bounds of a slice expression into a view of guest
//     memory: a variable assigned from a call of Area, okArea, fsOKArea,
//     Bytes, TakeBytes or ret (rawguest's return area), or from a slice or index of such a variable
//     (b[4], b[8:], binary.LittleEndian.Uint32(b[8:])).
//
// Test files are not checked: a test that asserts what the host wrote may
// spell the offsets out by hand, on purpose, as an oracle independent of
// internal/cabi (which a layout computed wrongly on both sides would
// otherwise pass); internal/cabi's TestLayouts pins the numbers too. The
// shared harnesses (internal/testkit/rawguest, the host tests' connect and read
// helpers) read by name.
//
// What does not count: the position of a field or case in its WIT
// declaration (Type.FieldOffset(1), Type.Case(0): cabi computes the offset),
// lengths of Go values (make, copy), flattened
// parameter positions (stack[3]: those are wazero's core values, not
// memory), and the number of core values a function takes.
package abicheck

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// A Finding is one literal offset.
type Finding struct {
	Pos  token.Position
	Expr string // the memory access, as written
}

func (f Finding) String() string { return fmt.Sprintf("%s: literal offset in %s", f.Pos, f.Expr) }

// offsetArg: functions and methods whose argument at the index is an
// offset into memory.
var offsetArg = map[string][]int{
	"PutU8": {1}, "PutU16": {1}, "PutU32": {1}, "PutU64": {1},
	"GetU16": {1}, "GetU32": {1}, "GetU64": {1},
	"PutIPAddress": {1, 2}, "GetIPAddress": {1, 2},
	"PutSockAddr": {1}, "GetSockAddr": {1}, "ReadIPAddress": {1}, "ReadSockAddr": {1},
	"Area": {1, 2},
}

// areaMethods: a guest return area's readers, whose one argument is the
// offset.
var areaMethods = map[string]bool{"U8": true, "U16": true, "U32": true, "U64": true}

// viewSources: calls whose result is a view of guest memory.
var viewSources = map[string]bool{"Area": true, "okArea": true, "fsOKArea": true, "Bytes": true, "TakeBytes": true, "ret": true}

// fieldSelectors: cabi.Type's methods whose argument is a field's or a
// case's position in the WIT declaration, not a byte offset.
var fieldSelectors = map[string]bool{"FieldOffset": true, "Case": true}

// Dir checks the .go files of dir that are not tests.
func Dir(dir string) ([]Finding, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("abicheck: %w", err)
	}
	var out []Finding
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		src, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return nil, fmt.Errorf("abicheck: %w", err)
		}
		fs, err := Source(filepath.Join(dir, n), src)
		if err != nil {
			return nil, err
		}
		out = append(out, fs...)
	}
	return out, nil
}

// Source checks one file's source.
func Source(name string, src []byte) ([]Finding, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, 0)
	if err != nil {
		return nil, fmt.Errorf("abicheck: %w", err)
	}
	var out []Finding
	report := func(n ast.Node) {
		out = append(out, Finding{Pos: fset.Position(n.Pos()), Expr: string(src[fset.Position(n.Pos()).Offset:fset.Position(n.End()).Offset])})
	}
	ast.Inspect(f, func(n ast.Node) bool {
		fn, ok := n.(*ast.FuncDecl)
		if !ok || fn.Body == nil {
			return true
		}
		checkFunc(fn, report)
		return false
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Pos.Offset < out[j].Pos.Offset })
	return out, nil
}

// checkFunc checks one function body; views are tracked per function.
func checkFunc(fn *ast.FuncDecl, report func(ast.Node)) {
	views := map[string]bool{}
	isView := func(e ast.Expr) bool {
		for {
			switch x := e.(type) {
			case *ast.ParenExpr:
				e = x.X
			case *ast.SliceExpr:
				e = x.X
			case *ast.IndexExpr:
				e = x.X
			case *ast.Ident:
				return views[x.Name]
			case *ast.CallExpr:
				return viewSources[calleeName(x)]
			default:
				return false
			}
		}
	}
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.AssignStmt:
			for i, r := range x.Rhs {
				if i < len(x.Lhs) && isView(r) {
					if id, ok := x.Lhs[i].(*ast.Ident); ok {
						views[id.Name] = true
					}
				}
			}
		case *ast.ValueSpec:
			for i, r := range x.Values {
				if i < len(x.Names) && isView(r) {
					views[x.Names[i].Name] = true
				}
			}
		case *ast.CallExpr:
			name := calleeName(x)
			if args, ok := offsetArg[name]; ok {
				for _, i := range args {
					if i < len(x.Args) && hasIntLit(x.Args[i]) {
						report(x)
						break
					}
				}
			}
			if _, isSel := x.Fun.(*ast.SelectorExpr); isSel && areaMethods[name] && len(x.Args) == 1 && hasIntLit(x.Args[0]) {
				report(x)
			}
		case *ast.IndexExpr:
			if isView(x.X) && hasIntLit(x.Index) {
				report(x)
			}
		case *ast.SliceExpr:
			if isView(x.X) && (hasIntLit(x.Low) || hasIntLit(x.High) || hasIntLit(x.Max)) {
				report(x)
			}
		}
		return true
	})
}

// calleeName is the called function's or method's name.
func calleeName(c *ast.CallExpr) string {
	switch f := c.Fun.(type) {
	case *ast.Ident:
		return f.Name
	case *ast.SelectorExpr:
		return f.Sel.Name
	}
	return ""
}

// hasIntLit reports whether e contains an integer literal.
func hasIntLit(e ast.Expr) bool {
	if e == nil {
		return false
	}
	found := false
	ast.Inspect(e, func(n ast.Node) bool {
		if c, ok := n.(*ast.CallExpr); ok && fieldSelectors[calleeName(c)] {
			return false
		}
		if l, ok := n.(*ast.BasicLit); ok && (l.Kind == token.INT || l.Kind == token.CHAR) {
			found = true
		}
		return !found
	})
	return found
}
