package host

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"

	wapi "github.com/tetratelabs/wazero/api"
)

// coreTypes maps a Go parameter or result type of a //go:wasmimport
// function to the core values it lowers to.
var coreTypes = map[string][]wapi.ValueType{
	"uint32": {i32}, "int32": {i32}, "bool": {i32}, "uintptr": {i32}, "unsafe.Pointer": {i32},
	"uint64": {i64}, "int64": {i64},
	"string": {i32, i32}, // a Go 1.24+ wasmimport passes (ptr, len)
}

// TestGuestImportsAreServed: every //go:wasmimport of the guest bindings
// (either build tag) names a function the host defines, with the core
// signature the host gives it. The directive must be a literal string, so
// this is what catches a typo or a drift between the two sides.
func TestGuestImportsAreServed(t *testing.T) {
	n := 0
	err := filepath.WalkDir(filepath.Join("..", "guest"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			fd, ok := decl.(*ast.FuncDecl)
			if !ok || fd.Doc == nil {
				continue
			}
			for _, c := range fd.Doc.List {
				rest, ok := strings.CutPrefix(c.Text, "//go:wasmimport ")
				if !ok {
					continue
				}
				n++
				at := fset.Position(c.Pos())
				module, field, _ := strings.Cut(strings.TrimSpace(rest), " ")
				checkImport(t, at, module, field, fd.Type)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 80 {
		t.Fatalf("only %d //go:wasmimport directives found under guest/", n)
	}
}

func checkImport(t *testing.T, at token.Position, module, field string, ft *ast.FuncType) {
	t.Helper()
	params, results, ok := signature(module, field)
	if !ok {
		t.Errorf("%s: //go:wasmimport %s %s: the host serves no such function", at, module, field)
		return
	}
	lower := func(fl *ast.FieldList) (out []wapi.ValueType) {
		if fl == nil {
			return nil
		}
		for _, f := range fl.List {
			typ := types(f.Type)
			core, known := coreTypes[typ]
			if !known {
				t.Errorf("%s: %s: parameter type %s has no core lowering here", at, field, typ)
			}
			for range max(1, len(f.Names)) {
				out = append(out, core...)
			}
		}
		return out
	}
	if got := lower(ft.Params); !sameTypes(got, params) {
		t.Errorf("%s: %s %s: the guest passes %s, the host takes %s", at, module, field, typeNames(got), typeNames(params))
	}
	if got := lower(ft.Results); !sameTypes(got, results) {
		t.Errorf("%s: %s %s: the guest expects %s, the host returns %s", at, module, field, typeNames(got), typeNames(results))
	}
}

func types(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.Ident:
		return x.Name
	case *ast.SelectorExpr:
		return types(x.X) + "." + x.Sel.Name
	case *ast.StarExpr:
		return "uintptr" // a pointer lowers to an i32 address
	}
	return "?"
}

func sameTypes(a, b []wapi.ValueType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func typeNames(ts []wapi.ValueType) string {
	names := make([]string, len(ts))
	for i, v := range ts {
		names[i] = wapi.ValueTypeName(v)
	}
	return "(" + strings.Join(names, ", ") + ")"
}
