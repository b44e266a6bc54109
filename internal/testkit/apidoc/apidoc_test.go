package apidoc

import (
	"errors"
	"go/ast"
	"go/build"
	"go/doc"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestAPIVisibleOnEveryPlatform checks, for every public package of the
// module, that what go doc shows on linux/amd64 (as pkg.go.dev does) is
// everything a GOOS=wasip1 build declares: no exported name exists only
// behind the wasip1 build constraint, and every package has its comment.
func TestAPIVisibleOnEveryPlatform(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	var dirs []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != root && (name == "internal" || name == "testdata" || name == "cmd" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
			return filepath.SkipDir
		}
		if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil && path != root {
			return filepath.SkipDir // another module
		}
		dirs = append(dirs, path)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, dir := range dirs {
		linux, ok := exported(t, dir, "linux", "amd64")
		if !ok {
			continue
		}
		checked++
		wasip1, _ := exported(t, dir, "wasip1", "wasm")
		rel, _ := filepath.Rel(root, dir)
		if linux.name == "main" {
			continue // commands and example programs: no API
		}
		if linux.doc == "" {
			t.Errorf("%s: no package comment on linux/amd64", rel)
		}
		var missing []string
		for _, n := range wasip1.names {
			if !slices.Contains(linux.names, n) {
				missing = append(missing, n)
			}
		}
		if len(missing) > 0 {
			t.Errorf("%s: go doc on linux/amd64 does not show %s (declared for wasip1 only)", rel, strings.Join(missing, ", "))
		}
	}
	if checked < 15 {
		t.Fatalf("checked %d packages; the walk missed the module", checked)
	}
}

type api struct {
	name, doc string
	names     []string
}

// exported parses dir's non-test files for goos/goarch and lists its
// exported declarations as go doc shows them (Type.Method for methods).
func exported(t *testing.T, dir, goos, goarch string) (api, bool) {
	t.Helper()
	ctx := build.Default
	ctx.GOOS, ctx.GOARCH, ctx.CgoEnabled = goos, goarch, false
	bp, err := ctx.ImportDir(dir, 0)
	if err != nil {
		var noGo *build.NoGoError
		if errors.As(err, &noGo) {
			return api{}, false
		}
		t.Fatalf("%s (%s/%s): %v", dir, goos, goarch, err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, f := range bp.GoFiles {
		af, err := parser.ParseFile(fset, filepath.Join(dir, f), nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, af)
	}
	p, err := doc.NewFromFiles(fset, files, bp.ImportPath)
	if err != nil {
		t.Fatal(err)
	}
	a := api{name: bp.Name, doc: p.Doc}
	values := func(prefix string, vs []*doc.Value) {
		for _, v := range vs {
			for _, n := range v.Names {
				if token.IsExported(n) {
					a.names = append(a.names, prefix+n)
				}
			}
		}
	}
	funcs := func(prefix string, fs []*doc.Func) {
		for _, f := range fs {
			a.names = append(a.names, prefix+f.Name)
		}
	}
	values("", p.Consts)
	values("", p.Vars)
	funcs("", p.Funcs)
	for _, ty := range p.Types {
		a.names = append(a.names, ty.Name)
		values("", ty.Consts)
		values("", ty.Vars)
		funcs("", ty.Funcs)
		funcs(ty.Name+".", ty.Methods)
	}
	return a, true
}
